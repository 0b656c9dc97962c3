/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every reason code of lib/ has French words in cmd/ (no English leaks as a fallback), the
 * --json text stays English, sizes for people follow the locale, and lib/'s own parser
 * diagnostics (a recipe line, a roster line, FAT damage, a policy detail) come out in
 * French with their arguments. Needs fr_FR.UTF-8 and the build tree's catalogue
 * ($CARTABLE_LOCALEDIR); skipped (77) without the locale. */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/error.h"
#include "device/device.h"
#include "fat/fat.h"
#include "flash/flash.h"
#include "i18n.h"
#include "reason.h"
#include "release/recipe.h"
#include "roster/roster.h"

#define RULE(name) __builtin_ctz(DEVICE_REFUSED_##name)

/* An error of each reason with every argument a sentence may use. */
static void fill(struct cart_error *e, enum cart_reason reason) {
        memset(e, 0, sizeof(*e));
        e->reason = reason;
        e->errnum = EIO;
        snprintf(e->subject, sizeof(e->subject), "/dev/sdz");
        snprintf(e->label, sizeof(e->label), "DETAIL-LABEL");
        snprintf(e->msg, sizeof(e->msg), "DETAIL-MSG");
        e->offset = 4096;
        e->has_offset = true;
        e->value = 1610612736;       /* 1.5 GiB */
        e->limit = 2147483648;
        e->has_values = true;
        snprintf(e->have, sizeof(e->have), "HAVE");
        snprintf(e->want, sizeof(e->want), "WANT");
        if (cart_reason_is_policy(reason))
                e->rules = 1u << (reason - CART_REASON_POLICY_NOT_USB);
}

static void test_every_reason_has_french_words(void **state) {
        for (int i = CART_REASON_NONE + 1; i < _CART_REASON_MAX; i++) {
                struct cart_error e;
                char fr[1280], en[1280];

                fill(&e, (enum cart_reason) i);
                error_sentence(&e, -EIO, fr, sizeof(fr));
                error_sentence_untranslated(&e, -EIO, en, sizeof(en));
                if (fr[0] == 0 || en[0] == 0 || streq(fr, en))
                        fail_msg("reason %s: no French sentence (\"%s\")", cart_reason_to_string(i), fr);
        }
}

/* Machine text (--json "error") is English whatever the locale, errno words included. */
static void test_untranslated_is_english(void **state) {
        struct cart_error e;
        char en[1280];

        fill(&e, CART_REASON_TOO_SMALL);
        error_sentence_untranslated(&e, -ENOSPC, en, sizeof(en));
        assert_string_equal(en, "/dev/sdz: the key holds 1.5 GiB, the release needs at least 2.0 GiB");
        fill(&e, CART_REASON_SYSTEM);
        e.msg[0] = e.label[0] = 0;
        e.errnum = ENOENT;
        error_sentence_untranslated(&e, -ENOENT, en, sizeof(en));
        assert_string_equal(en, "/dev/sdz: No such file or directory");
        error_sentence(&e, -ENOENT, en, sizeof(en));
        /* glibc's own French words for errno (libc-l10n, tools/install-deps). */
        assert_string_equal(en, "erreur système : /dev/sdz: Aucun fichier ou dossier de ce type");
}

static void test_french_sentences(void **state) {
        struct cart_error e;
        char fr[1280];

        fill(&e, CART_REASON_TOO_SMALL);
        error_sentence(&e, -ENOSPC, fr, sizeof(fr));
        assert_string_equal(fr, "/dev/sdz: la clé contient 1,5 Gio, la version publiée demande au moins 2,0 Gio");
        fill(&e, CART_REASON_POLICY_MOUNTED);
        e.rules |= 1u << (CART_REASON_POLICY_NOT_USB - CART_REASON_POLICY_NOT_USB);
        snprintf(e.msg, sizeof(e.msg), "not USB; mounted (sdz1 on /mnt)");
        cart_findings_add(&e.findings, RULE(MOUNTED), "sdz1", NULL, "/mnt", false, 0, 0);
        error_sentence(&e, -EPERM, fr, sizeof(fr));
        assert_string_equal(fr, "/dev/sdz: refusée : pas USB ; montée (sdz1 sur /mnt)");
        fill(&e, CART_REASON_POLICY_READ_ONLY);
        e.rules |= 1u << (CART_REASON_POLICY_NOT_ALLOWED - CART_REASON_POLICY_NOT_USB);
        snprintf(e.msg, sizeof(e.msg), "read-only (write-protected); not allowed (no VID:PID is not on the allow list)");
        cart_findings_add(&e.findings, RULE(NOT_ALLOWED), NULL, NULL, NULL, false, 0, 0);
        error_sentence(&e, -EPERM, fr, sizeof(fr));
        assert_string_equal(fr, "/dev/sdz: refusée : lecture seule (protégée en écriture) ; non autorisée "
                            "(sans VID:PID, donc absente de la liste autorisée)");
}

/* Both sentences of one error: French for people, English for --json. */
static void expect_words(const struct cart_error *e, int r, const char *fr, const char *en) {
        char buf[1280];

        error_sentence(e, r, buf, sizeof(buf));
        assert_string_equal(buf, fr);
        error_sentence_untranslated(e, r, buf, sizeof(buf));
        assert_string_equal(buf, en);
}

/* A text file in the current directory: main()'s own temporary directory, so that its name
 * in a message is the short one and nothing is left where the test was started. */
static const char *text_file(const char *name, const char *text) {
        FILE *f = fopen(name, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        return name;
}

static void test_recipe_line_in_french(void **state) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct cart_error e = {};
        int r;

        assert_int_equal(recipe_new(&rc), 0);
        r = recipe_load(rc, text_file("reason-fr.recipe", "[release]\nname = x\nbogus = 1\n"), &e);
        assert_int_equal(r, -EBADMSG);
        expect_words(&e, r, "entrée invalide : reason-fr.recipe:3: réglage inconnu « bogus » dans la section [release]",
                     "reason-fr.recipe:3: unknown setting \"bogus\" in section [release]");
        unlink("reason-fr.recipe");
}

static int no_pupil(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        return 0;
}

static void test_roster_line_in_french(void **state) {
        struct roster_options o = { .school_uai = "0750001A" };
        struct cart_error e = {};
        int r;

        r = roster_read(text_file("reason-fr.csv", "id;nom;prénom;classe\n1;Dupont;Jean;3A\n2;Martin\n"),
                        &o, no_pupil, NULL, NULL, &e);
        assert_true(r < 0);
        expect_words(&e, r, "entrée invalide : reason-fr.csv : ligne 3 : 2 champs là où l'en-tête (ligne 1) en a 4",
                     "reason-fr.csv: line 3: 2 fields where the header (line 1) has 4");
        /* lib/'s W_() words given as arguments (the field a column gives) are French too. */
        r = roster_read(text_file("reason-fr.csv", "id;nom;prénom;nom de famille\n"), &o, no_pupil, NULL, NULL, &e);
        assert_true(r < 0);
        expect_words(&e, r, "entrée invalide : reason-fr.csv : ligne 1 : les colonnes 2 et 4 donnent toutes deux le champ "
                     "nom de famille", "reason-fr.csv: line 1: columns 2 and 4 both give the family name");
        r = roster_read(text_file("reason-fr.csv", "id;nom;prénom;classe\n1;Dupont;Je\001an;3A\n"), &o, no_pupil, NULL, NULL, &e);
        assert_true(r < 0);
        expect_words(&e, r, "entrée invalide : reason-fr.csv : ligne 2 : caractère de contrôle 0x01 dans le champ prénom",
                     "reason-fr.csv: line 2: control character 0x01 in the first name");
        unlink("reason-fr.csv");
}

static int read_sector(void *userdata, void *buf, size_t len, uint64_t offset) {
        memset(buf, 0, len);
        if (offset < 512)
                memcpy(buf, (const uint8_t *) userdata + offset, MIN(len, 512 - offset));
        return 0;
}

static void test_fat_damage_in_french(void **state) {
        uint8_t boot[512] = { 0xEB, 0x58, 0x90 };
        struct fat_reader *fr = NULL;
        struct cart_error e = {};
        int r;

        boot[11] = 0x01;            /* 513 bytes per sector */
        boot[12] = 0x02;
        boot[510] = 0x55;
        boot[511] = 0xAA;
        r = fat_reader_open(read_sector, boot, 0, 64 * MIB, &fr, &e);
        assert_int_equal(r, -EUCLEAN);
        expect_words(&e, r, "volume FAT endommagé : secteur d'amorçage: 513 octets par secteur",
                     "boot sector: 513 bytes per sector");
        /* A caller's context is translated too, part by part. */
        cart_error_prefix(&e, r, "directory \"/%s\"", "Cours");
        expect_words(&e, r, "dossier « /Cours »: volume FAT endommagé : secteur d'amorçage: 513 octets par secteur",
                     "directory \"/Cours\": boot sector: 513 bytes per sector");
}

/* What lib/device found, as data, in words: French for people; --json keeps lib/'s English
 * (msg), and English words for people are that same text (the same msgids). */
static void test_policy_details_in_french(void **state) {
        struct cart_error e;
        char buf[1280];

        fill(&e, CART_REASON_POLICY_MOUNTED);
        e.rules |= DEVICE_REFUSED_HELD | DEVICE_REFUSED_SYSTEM;
        cart_findings_add(&e.findings, RULE(MOUNTED), "sdz1", NULL, "/mnt", false, 0, 0);
        cart_findings_add(&e.findings, RULE(MOUNTED), "dm-0", "sdz2", "/srv", false, 0, 0);
        cart_findings_add(&e.findings, RULE(HELD), "dm-0", "sdz2", NULL, false, 0, 0);
        cart_findings_add(&e.findings, RULE(SYSTEM), NULL, NULL, "/", false, 0, 0);
        cart_findings_add(&e.findings, RULE(SYSTEM), NULL, NULL, "a system file system", true, 0, 0);
        /* A mount point or a device that reads like lib/'s English is data, never parsed. */
        cart_findings_add(&e.findings, RULE(MOUNTED), "sdz3", NULL, "/a, b on c", false, 0, 0);
        snprintf(e.msg, sizeof(e.msg), "mounted (sdz1 on /mnt, dm-0 via sdz2 on /srv, sdz3 on /a, b on c); "
                 "held (dm-0 holds sdz2); system disk (holds /, holds a system file system)");
        expect_words(&e, -EPERM, "/dev/sdz: refusée : montée (sdz1 sur /mnt, dm-0 par sdz2 sur /srv, "
                     "sdz3 sur /a, b on c) ; occupée (dm-0 occupe sdz2) ; disque système (contient /, "
                     "contient un système de fichiers du système)",
                     "/dev/sdz: refused: mounted (sdz1 on /mnt, dm-0 via sdz2 on /srv, sdz3 on /a, b on c); "
                     "held (dm-0 holds sdz2); system disk (holds /, holds a system file system)");
        assert_string_equal(policy_words(e.rules, &e.findings, buf, sizeof(buf)),
                            "montée (sdz1 sur /mnt, dm-0 par sdz2 sur /srv, sdz3 sur /a, b on c) ; "
                            "occupée (dm-0 occupe sdz2) ; disque système (contient /, "
                            "contient un système de fichiers du système)");
        /* Sizes are numbers: in the locale's form for people, lib/'s for --json. */
        fill(&e, CART_REASON_POLICY_TOO_SMALL);
        snprintf(e.msg, sizeof(e.msg), "too small (1.0 GiB < 2.5 GiB)");
        cart_findings_add(&e.findings, RULE(TOO_SMALL), NULL, NULL, NULL, false, 1073741824, 2684354560);
        expect_words(&e, -EPERM, "/dev/sdz: refusée : trop petite (1,0 Gio < 2,5 Gio)",
                     "/dev/sdz: refused: too small (1.0 GiB < 2.5 GiB)");
        /* Findings that did not fit: the list says there were more. */
        e.findings.lost = DEVICE_REFUSED_TOO_SMALL;
        snprintf(e.msg, sizeof(e.msg), "too small (1.0 GiB < 2.5 GiB, ...)");
        expect_words(&e, -EPERM, "/dev/sdz: refusée : trop petite (1,0 Gio < 2,5 Gio, ...)",
                     "/dev/sdz: refused: too small (1.0 GiB < 2.5 GiB, ...)");
        /* ... and in lib/'s sentences: a size argument (lib/'s number, size_arg()), not a
         * number or a name like it, and never text that looks like a size. */
        cart_error_set(&e, -ENOSPC, "the content needs about %s but a %s key holds about %s (min-size)",
                       size_arg(UINT64_C(3) << 29), size_arg(512), size_arg(UINT64_C(2) << 40));
        expect_words(&e, -ENOSPC, "clé trop petite : le contenu demande environ 1,5 Gio mais une clé de 512 o contient environ 2,0 Tio (min-size)",
                     "the content needs about 1.5 GiB but a 512 B key holds about 2.0 TiB (min-size)");
        cart_error_set(&e, -EBADMSG, "%s: line %u: %s", "1.5 GiB.csv", 2u, "1.5 GiBs");
        expect_words(&e, -EBADMSG, "entrée invalide : 1.5 GiB.csv : ligne 2 : 1.5 GiBs", "1.5 GiB.csv: line 2: 1.5 GiBs");
        cart_error_set(&e, -ENOSPC, "the content needs about %s but a %s key holds about %s (min-size)",
                       "1.5 GiB", "512 B", "2.0 TiB");
        expect_words(&e, -ENOSPC, "clé trop petite : le contenu demande environ 1.5 GiB mais une clé de 512 B contient environ 2.0 TiB (min-size)",
                     "the content needs about 1.5 GiB but a 512 B key holds about 2.0 TiB (min-size)");
}

/* Text lib/ wrote by hand, or cut, is shown as it is: never a French sentence with other
 * arguments than the English one. */
/* A part that is only "%s" is data: a path that equals a msgid stays as it is; W_() words
 * and a flash step's name as context are translated. */
static void test_data_part_not_translated(void **state) {
        struct cart_error e = {};
        char buf[1100];

        cart_error_set(&e, -EBADMSG, "%s", "missing");
        assert_string_equal(lib_words(&e, buf, sizeof(buf)), "missing");
        cart_error_set(&e, -EBADMSG, "%s", W_("a directory"));
        assert_string_equal(lib_words(&e, buf, sizeof(buf)), gettext("a directory"));
        assert_string_not_equal(gettext("a directory"), "a directory");
        cart_error_io(&e, -EIO, "/dev/sdz", 4096, "missing");
        cart_error_prefix(&e, -EIO, "%s", flash_step_to_string(FLASH_STEP_WRITE));
        error_sentence(&e, -EIO, buf, sizeof(buf));
        assert_non_null(strstr(buf, gettext("write")));
        assert_string_not_equal(gettext("write"), "write");
        assert_null(strstr(buf, gettext("missing")));
}

static void test_untranslatable_text_stays_english(void **state) {
        struct cart_error e = {};
        char longpath[1100];

        cart_error_set(&e, -EBADMSG, "unknown recipe setting \"%s\"", "bogus");
        snprintf(e.msg, sizeof(e.msg), "edited by hand");
        expect_words(&e, -EBADMSG, "entrée invalide : edited by hand", "edited by hand");
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[sizeof(longpath) - 1] = 0;
        cart_error_set(&e, -EBADMSG, "unknown recipe setting \"%s\"", longpath);
        assert_true(e.parts_lost);
        error_sentence(&e, -EBADMSG, longpath, sizeof(longpath));
        assert_non_null(strstr(longpath, "entrée invalide : unknown recipe setting \"aaa"));
}

static void test_sizes_for_people(void **state) {
        assert_string_equal(HUMAN_SIZE(512), "512 o");
        assert_string_equal(HUMAN_SIZE(1536), "1,5 Kio");
        assert_string_equal(HUMAN_SIZE(UINT64_C(1610612736)), "1,5 Gio");
        assert_string_equal(HUMAN_DECIMAL(12.34), "12,3");
        /* Numbers machines read keep the dot: LC_NUMERIC stays "C". */
        char buf[16];
        snprintf(buf, sizeof(buf), "%.1f", 1.5);
        assert_string_equal(buf, "1.5");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_reason_has_french_words),
                cmocka_unit_test(test_untranslated_is_english),
                cmocka_unit_test(test_french_sentences),
                cmocka_unit_test(test_sizes_for_people),
                cmocka_unit_test(test_recipe_line_in_french),
                cmocka_unit_test(test_roster_line_in_french),
                cmocka_unit_test(test_fat_damage_in_french),
                cmocka_unit_test(test_policy_details_in_french),
                cmocka_unit_test(test_untranslatable_text_stays_english),
                cmocka_unit_test(test_data_part_not_translated),
        };

        if (!setlocale(LC_ALL, "fr_FR.UTF-8")) {
                if (getenv("CI") && streq(getenv("CI"), "true"))
                        return 1;
                fprintf(stderr, "SKIP: no fr_FR.UTF-8 locale (tools/install-deps generates it)\n");
                return 77;
        }
        setenv("LC_ALL", "fr_FR.UTF-8", 1);
        setenv("LANGUAGE", "fr", 1);
        i18n_init();

        char dir[] = "/tmp/cartable-reason-fr.XXXXXX";
        if (!mkdtemp(dir) || chdir(dir) < 0) {
                perror("reason-fr: a temporary directory");
                return 1;
        }
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        /* A failed test leaves its file: removed here whatever happened. */
        (void) unlink("reason-fr.recipe");
        (void) unlink("reason-fr.csv");
        if (chdir("/") < 0 || rmdir(dir) < 0) {
                perror(dir);
                return 1;
        }
        return r;
}
