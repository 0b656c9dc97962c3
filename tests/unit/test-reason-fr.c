/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every reason code of lib/ has French words in cmd/ (no English leaks as a fallback), the
 * --json text stays English, and sizes for people follow the locale. Needs fr_FR.UTF-8 and
 * the build tree's catalogue ($CARTABLE_LOCALEDIR); skipped (77) without the locale. */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "i18n.h"
#include "reason.h"

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
        error_sentence(&e, -EPERM, fr, sizeof(fr));
        assert_string_equal(fr, "/dev/sdz: refusée : pas USB; montée (sdz1 on /mnt)");
        fill(&e, CART_REASON_POLICY_READ_ONLY);
        e.rules |= 1u << (CART_REASON_POLICY_NOT_ALLOWED - CART_REASON_POLICY_NOT_USB);
        snprintf(e.msg, sizeof(e.msg), "read-only (write-protected); not allowed (no VID:PID is not on the allow list)");
        error_sentence(&e, -EPERM, fr, sizeof(fr));
        assert_string_equal(fr, "/dev/sdz: refusée : lecture seule (protégée en écriture); non autorisée "
                            "(sans VID:PID, donc absente de la liste autorisée)");
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
        return cmocka_run_group_tests(tests, NULL, NULL);
}
