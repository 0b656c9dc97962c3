/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/roster: the samples of manifests/rosters/, then damaged and hostile rosters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include "base/hash.h"
#include "roster/roster.h"

static const uint8_t secret[32] = "0123456789abcdef0123456789abcdef";
/* Leave dates are compared with this day, not the clock: the tests give the same answers in 2030. */
#define TODAY "2026-12-07"

/* Every pupil as one line of text, so a test asserts on the whole content. */
struct seen {
        char *text;
        size_t len;
        unsigned n;
        unsigned stop_after;      /* return -ECANCELED on this call (1-based), 0: never */
};

static int collect(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        struct seen *s = userdata;
        char *line = NULL;
        int n;

        s->n++;
        if (s->stop_after && s->n == s->stop_after)
                return cart_error_set(err, -ECANCELED, "stopped at %s", p->id);
        /* Never NULL, as the API promises (ine_hmac aside). */
        assert_non_null(p->id);
        assert_non_null(p->family_name);
        assert_non_null(p->first_name);
        assert_non_null(p->class_name);
        assert_non_null(p->school_uai);
        assert_non_null(p->leave_date);
        assert_non_null(p->other_class);
        assert_true(!p->is_inactive || p->has_left);
        n = asprintf(&line, "%u|%s|%s|%s|%s|%s|%s%s%s%s%s%s%s%s%s\n", p->line, p->id, p->family_name, p->first_name,
                     p->class_name, p->school_uai, p->is_inactive ? "inactive" : p->has_left ? "left" : "active",
                     *p->leave_date ? "|date:" : "", p->leave_date,
                     p->anomalies & ROSTER_ANOMALY_STRUCTURES ? "|two-blocks" : "",
                     p->anomalies & ROSTER_ANOMALY_CLASSES ? "|other:" : "", p->other_class,
                     p->has_derived_id ? "|derived" : "", p->ine_hmac ? "|ine" : "", "");
        assert_true(n > 0);
        s->text = realloc(s->text, s->len + (size_t) n + 1);
        memcpy(s->text + s->len, line, (size_t) n + 1);
        s->len += (size_t) n;
        free(line);
        return 0;
}

static char *sample(const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", ROSTER_SAMPLES, name) > 0);
        return p;
}

static char *write_temp(const void *data, size_t len) {
        char *path = strdup("/tmp/cartable-roster-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
        return path;
}
#define TEMP(s) write_temp(s, sizeof(s) - 1)

static int read_path(const char *path, const struct roster_options *o, struct seen *s, struct roster_info *info,
                     struct cart_error *err) {
        struct roster_options dated = o ? *o : (struct roster_options) {};

        dated.today = dated.today ?: TODAY;
        *s = (struct seen) { .stop_after = s->stop_after };
        *err = (struct cart_error) {};
        return roster_read(path, &dated, collect, s, info, err);
}

static char *quirk(const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", ROSTER_QUIRKS, name) > 0);
        return p;
}

/* roster_read() of a temporary file holding text, which is removed after. */
static int read_text(const char *text, size_t len, const struct roster_options *o, struct seen *s,
                     struct roster_info *info, struct cart_error *err) {
        _cleanup_free_ char *path = write_temp(text, len);
        int r = read_path(path, o, s, info, err);
        unlink(path);
        return r;
}

static void assert_contains(const char *haystack, const char *needle) {
        if (!haystack || !strstr(haystack, needle))
                fail_msg("\"%s\" does not contain \"%s\"", haystack ?: "(null)", needle);
}

static const char siecle_expected[] =
        "11|4001|MARTIN-LEFÈVRE|Jean-Baptiste|6A|0750001A|active\n"
        "21|4002|CŒURDEROY|Chloé|6A|0750001A|active\n"
        "31|4003|NGUYEN|Éloïse|6B|0750001A|active\n"
        "41|4004|BRUNET|Noël|5A|0750001A|left|date:2026-11-20\n"
        "52|4005|DA SILVA|Inès|4A|0750001A|active\n"
        "62|4006|LEFORT|Gaëlle|3A|0750001A|active\n"
        "72|4007|ŠEBESTA|Zoé||0750001A|active\n"
        "82|4008|FERRAND|François|3A|0750001A|active\n";

static void test_siecle_sample(void **state) {
        _cleanup_free_ char *path = sample("ElevesSansAdresses.xml");
        struct roster_options o = {};
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, &info, &err), 0);
        /* The class is the D structure even when a G group comes first; 4006 has the older
         * <NOM>; 4007 has no class; 4004 has a DATE_SORTIE. */
        assert_string_equal(s.text, siecle_expected);
        assert_int_equal(info.format, ROSTER_FORMAT_SIECLE);
        assert_string_equal(roster_format_to_string(info.format), "siecle");
        assert_string_equal(info.school_uai, "0750001A");
        assert_string_equal(info.year, "2026");
        assert_string_equal(info.encoding, "ISO-8859-15");
        assert_int_equal(info.n_pupils, 8);
        assert_false(info.is_zip);
        free(s.text);
}

static void test_siecle_zip_same_as_xml(void **state) {
        _cleanup_free_ char *path = sample("ElevesSansAdresses.zip");
        struct roster_options o = { .school_uai = "0750001a" };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, &info, &err), 0);
        assert_string_equal(s.text, siecle_expected);
        assert_true(info.is_zip);
        assert_int_equal(info.n_pupils, 8);
        free(s.text);
}

static int first_ine_hmac(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        char *got = userdata;

        if (!*got) {
                assert_non_null(p->ine_hmac);
                assert_int_equal(strlen(p->ine_hmac), ROSTER_INE_HMAC_LEN);
                memcpy(got, p->ine_hmac, ROSTER_INE_HMAC_LEN + 1);
        }
        return 0;
}

/* The INE only as HMAC-SHA256(secret, "cartable-ine-v1" NUL INE), computed here by OpenSSL. */
static void test_siecle_keep_ine(void **state) {
        _cleanup_free_ char *path = sample("ElevesSansAdresses.xml");
        struct roster_options o = { .keep_ine = true, .secret = secret, .secret_len = sizeof(secret) };
        static const char msg[] = "cartable-ine-v1\0" "070123456AB";
        char hex[65], *first_ine;
        uint8_t mac[32];
        unsigned mac_len;
        struct cart_error err;
        struct seen s = {};

        assert_non_null(HMAC(EVP_sha256(), secret, sizeof(secret), (const uint8_t *) msg, sizeof(msg) - 1, mac, &mac_len));
        hash_to_hex(mac, 32, hex);

        /* Without the secret, keep_ine is refused. */
        o.secret = NULL;
        assert_int_equal(read_path(path, &o, &s, NULL, &err), -EINVAL);
        assert_int_equal(s.n, 0);
        o.secret = secret;

        /* The callback sees the HMAC: check the first pupil's by hand. */
        char got[65] = "";
        assert_int_equal(roster_read(path, &o, first_ine_hmac, got, NULL, &err), 0);
        assert_string_equal(got, hex);

        assert_int_equal(read_path(path, &o, &s, NULL, &err), 0);
        first_ine = strchr(s.text, '\n');
        assert_non_null(first_ine);
        assert_memory_equal(first_ine - 4, "|ine", 4);
        free(s.text);
}

static int dump_all(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        fprintf(userdata, "%s %s %s %s %s %s\n", p->id, p->family_name, p->first_name, p->class_name,
                p->school_uai, p->ine_hmac);
        return 0;
}

/* Data minimisation: nothing of what the export carries beyond the six fields comes out. */
static void test_siecle_minimisation(void **state) {
        _cleanup_free_ char *path = sample("ElevesSansAdresses.xml");
        struct roster_options o = { .keep_ine = true, .secret = secret, .secret_len = sizeof(secret) };
        char *all = NULL;
        size_t len = 0;
        struct cart_error err = {};

        FILE *f = open_memstream(&all, &len);
        assert_int_equal(roster_read(path, &o, dump_all, f, NULL, &err), 0);
        fclose(f);
        assert_null(strstr(all, "070123456AB"));     /* INE */
        assert_null(strstr(all, "14/02/2014"));      /* DATE_NAISS */
        assert_null(strstr(all, "2014"));
        assert_null(strstr(all, "20/11/2026"));      /* DATE_SORTIE as written (its date is handed on) */
        assert_null(strstr(all, "6A_LATIN"));        /* groups */
        free(all);
}

static void test_siecle_school(void **state) {
        _cleanup_free_ char *path = sample("ElevesSansAdresses.xml");
        struct roster_options o = { .school_uai = "0750002B" };
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, "ElevesSansAdresses.xml");
        assert_contains(err.msg, "school 0750001A's, not 0750002B");
        assert_int_equal(s.n, 0);
}

#define SIECLE_HEAD(params) \
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BEE_ELEVES VERSION=\"3.1\">\n" \
        "<PARAMETRES>" params "<ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE></PARAMETRES>\n<DONNEES>\n<ELEVES>\n"
#define SIECLE_TAIL "</ELEVES>\n<STRUCTURES/>\n</DONNEES>\n</BEE_ELEVES>\n"
#define ELEVE(id, nom, prenom) \
        "<ELEVE ELEVE_ID=\"" id "\"><NOM_DE_FAMILLE>" nom "</NOM_DE_FAMILLE><PRENOM>" prenom "</PRENOM></ELEVE>\n"

static void test_siecle_without_uaj(void **state) {
        static const char xml[] = SIECLE_HEAD("") ELEVE("1", "DUPONT", "Anne") SIECLE_TAIL;
        struct roster_options o = {};
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_text(xml, sizeof(xml) - 1, &o, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, "no <PARAMETRES><UAJ>: give the school (--school)");
        assert_int_equal(s.n, 0);

        o.school_uai = "0930123x";
        assert_int_equal(read_text(xml, sizeof(xml) - 1, &o, &s, &info, &err), 0);
        assert_string_equal(s.text, "6|1|DUPONT|Anne||0930123X|active\n");
        assert_string_equal(info.school_uai, "0930123X");
        free(s.text);

        o.school_uai = "93";
        assert_int_equal(read_text(xml, sizeof(xml) - 1, &o, &s, &info, &err), -EINVAL);
        assert_contains(err.msg, "\"93\" is not a school UAI");
}

/* Names are text: markup and spreadsheet formulas come out exactly as written. */
static void test_siecle_names_are_text(void **state) {
        static const char xml[] = SIECLE_HEAD("<UAJ>0750001A</UAJ>")
                ELEVE("1", "&lt;b&gt;GRAS&lt;/b&gt;", "=cmd|' /C calc'!A0")
                ELEVE("2", "O&apos;NEIL &amp; FILS", "<![CDATA[<script>alert(1)</script>]]>")
                SIECLE_TAIL;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_text(xml, sizeof(xml) - 1, NULL, &s, NULL, &err), 0);
        assert_string_equal(s.text,
                            "6|1|<b>GRAS</b>|=cmd|' /C calc'!A0||0750001A|active\n"
                            "7|2|O'NEIL & FILS|<script>alert(1)</script>||0750001A|active\n");
        free(s.text);
}

static void test_siecle_damaged(void **state) {
        static const struct {
                const char *xml, *msg;
                int r;
        } cases[] = {
                { SIECLE_HEAD("<UAJ>0750001A</UAJ>") ELEVE("1", "A", "B") "<ELEVE ELEVE_ID=\"2\"><NOM>X</PRENOM></ELEVE>",
                  "line 7: Opening and ending tag mismatch", -EBADMSG },
                { SIECLE_HEAD("<UAJ>0750001A</UAJ>") ELEVE("1", "A", "B") "<ELEVE ELEVE_ID=\"2\"><NOM>X",
                  "line 7", -EBADMSG },
                { "<?xml version=\"1.0\"?>\n<ELEVES><ELEVE/></ELEVES>\n", "line 2: root element <ELEVES>", -EBADMSG },
                { SIECLE_HEAD("<UAJ>0750001A</UAJ>") "<ELEVE><NOM>X</NOM></ELEVE>\n" SIECLE_TAIL,
                  "line 6: <ELEVE> without ELEVE_ID", -EBADMSG },
                { SIECLE_HEAD("<UAJ>0750001A</UAJ>") "<ELEVE ELEVE_ID=\"9\"><PRENOM>X</PRENOM></ELEVE>\n" SIECLE_TAIL,
                  "line 6: <ELEVE ELEVE_ID=\"9\"> has no NOM_DE_FAMILLE", -EBADMSG },
                { SIECLE_HEAD("<UAJ>75</UAJ>") SIECLE_TAIL, "\"75\" is not a school UAI", -EBADMSG },
                /* Declared UTF-8, written in ISO-8859-1: an encoding error, with its line. */
                { SIECLE_HEAD("<UAJ>0750001A</UAJ>") ELEVE("1", "A", "B") ELEVE("2", "H\xe9l\xe8ne", "B") SIECLE_TAIL,
                  "line 7", -EILSEQ },
                { "<?xml version=\"1.0\" encoding=\"KLINGON-1\"?>\n<BEE_ELEVES/>\n", "line 1", -EILSEQ },
                /* A conversion libxml2 reports through its global handlers (and would print). */
                { "<?xml version=\"1.0\" encoding=\"ISO-10646-UCS-4\"?>\n<BEE_ELEVES/>\n", "line 1: input conversion failed", -EILSEQ },
                /* A DOCTYPE (the way to billion laughs) is refused before any entity is used. */
                { "<?xml version=\"1.0\"?>\n<!DOCTYPE BEE_ELEVES [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\n"
                  "<BEE_ELEVES><PARAMETRES><UAJ>&b;</UAJ></PARAMETRES></BEE_ELEVES>\n", "a DOCTYPE", -EBADMSG },
                { "<?xml version=\"1.0\"?>\n", "", -EBADMSG },
        };
        struct roster_options o = {};
        struct cart_error err;
        struct seen s = {};
        /* lib/ never prints: stderr goes to a file, which must stay empty. */
        char errpath[] = "/tmp/cartable-roster-stderr-XXXXXX";
        int errfd = mkstemp(errpath), saved = dup(STDERR_FILENO);
        struct stat st;

        assert_true(errfd >= 0 && saved >= 0);
        fflush(stderr);
        assert_int_equal(dup2(errfd, STDERR_FILENO), STDERR_FILENO);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = read_text(cases[i].xml, strlen(cases[i].xml), &o, &s, NULL, &err);
                if (r != cases[i].r)
                        fail_msg("case %zu: %d (%s), expected %d", i, r, err.msg, cases[i].r);
                assert_contains(err.msg, "/tmp/cartable-roster-");
                assert_contains(err.msg, cases[i].msg);
                /* Pupils before the damage were handed on (the caller's transaction undoes them)
                 * but none after it. */
                assert_true(s.n <= 1);
                free(s.text);
        }
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        assert_int_equal(fstat(errfd, &st), 0);
        close(errfd);
        unlink(errpath);
        assert_int_equal(st.st_size, 0);
}

static void test_siecle_truncated_zip(void **state) {
        _cleanup_free_ char *path = sample("ElevesSansAdresses.zip");
        _cleanup_free_ char *data = NULL, *cut = NULL;
        struct cart_error err;
        struct seen s = {};
        size_t len;
        int r;

        assert_int_equal(read_small_file(path, 1 << 20, &data, &len), 0);
        assert_true(len > 200);
        /* Cut in the middle of the deflated XML: no central directory, no end of stream. */
        cut = write_temp(data, len / 2);
        r = read_path(cut, NULL, &s, NULL, &err);
        unlink(cut);
        assert_int_equal(r, -EBADMSG);
        assert_contains(err.msg, "zip");
        assert_int_equal(s.n, 0);

        /* Four bytes of a zip's magic and nothing else. */
        _cleanup_free_ char *magic = write_temp("PK\x03\x04", 4);
        r = read_path(magic, NULL, &s, NULL, &err);
        unlink(magic);
        assert_int_equal(r, -EBADMSG);
        assert_contains(err.msg, "zip");
}

static void test_csv_ent_export(void **state) {
        _cleanup_free_ char *path = sample("ent-export.csv");
        struct roster_options o = { .school_uai = "0750001A" };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, &info, &err), 0);
        /* ISO-8859-1 into UTF-8, ="..." unwrapped, e-mail and birth date dropped. */
        assert_string_equal(s.text,
                            "2|jb.martinlefevre|MARTIN-LEFÈVRE|Jean-Baptiste|6A|0750001A|active\n"
                            "3|c.dupre|DUPRÉ|Chloé|6A|0750001A|active\n"
                            "4|e.nguyen|NGUYEN|Éloïse|6B|0750001A|active\n"
                            "5|n.brunet|BRUNET|Noël|5A|0750001A|active\n"
                            "6|i.dasilva|DA SILVA|Inès|4A|0750001A|active\n"
                            "7|f.ferrand|FERRAND|François|3A|0750001A|active\n");
        assert_int_equal(info.format, ROSTER_FORMAT_CSV);
        assert_string_equal(info.encoding, "ISO-8859-1");
        assert_int_equal(info.separator, ';');
        assert_string_equal(info.school_uai, "0750001A");
        assert_int_equal(info.n_pupils, 6);
        free(s.text);

        /* No UAI column and no --school: refused at the header. */
        o.school_uai = NULL;
        assert_int_equal(read_path(path, &o, &s, &info, &err), -EBADMSG);
        assert_contains(err.msg, "ent-export.csv: line 1: the file has no UAI column");
}

static void test_csv_bom_derived(void **state) {
        _cleanup_free_ char *path = sample("tableur-utf8-bom.csv");
        struct roster_options o = { .secret = secret, .secret_len = sizeof(secret) };
        char id[33], expected[512];
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, &info, &err), 0);
        assert_string_equal(info.encoding, "UTF-8");
        assert_int_equal(info.separator, ',');
        assert_string_equal(info.school_uai, "0750002B");
        assert_int_equal(info.n_pupils, 6);
        /* A quoted comma stays in the name; a quoted newline is one space, and the record
         * keeps its first line (4) while the next starts at 6. */
        assert_contains(s.text, "|Duval, dite Lalande|Maëlys|6C|0750002B|active|derived\n");
        assert_contains(s.text, "4|");
        assert_contains(s.text, "|Okafor|Adaeze Nkem|5B|");
        assert_contains(s.text, "\n6|");
        assert_contains(s.text, "|Åkesson|Œnone|4C|");
        assert_null(strstr(s.text, "12/04/2014"));
        assert_null(strstr(s.text, "0600000001"));

        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750002B", "Rousseau", "Léa", "12/04/2014", id, &err), 0);
        snprintf(expected, sizeof(expected), "2|%s|Rousseau|Léa|6C|0750002B|active|derived\n", id);
        assert_memory_equal(s.text, expected, strlen(expected));

        /* The twin homonyms (same names and class) stay apart through their birth dates. */
        char a[33], b[33];
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750002B", "Bernard", "Lucas", "07/03/2013", a, &err), 0);
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750002B", "Bernard", "Lucas", "08/03/2013", b, &err), 0);
        assert_string_not_equal(a, b);
        assert_contains(s.text, a);
        assert_contains(s.text, b);
        free(s.text);

        /* Without the secret, no derived id. */
        o.secret = NULL;
        assert_int_equal(read_path(path, &o, &s, &info, &err), -EINVAL);
        assert_contains(err.msg, "station secret");
}

static void test_derive_id(void **state) {
        struct cart_error err = {};
        char a[33], b[33];

        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "Martin-Lefèvre", "Éloïse", "2014-02-14", a, &err), 0);
        assert_int_equal(strlen(a), ROSTER_DERIVED_ID_LEN);
        assert_int_equal(strspn(a, "0123456789abcdef"), ROSTER_DERIVED_ID_LEN);
        /* A re-export that changes only case, accents, spaces or the date's form keeps the id. */
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001a", "  MARTIN-LEFEVRE ", "eloise", "14/02/2014", b, &err), 0);
        assert_string_equal(a, b);
        /* Decomposed accents (NFD, as macOS writes file names) fold as composed ones. */
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "Martin-Lefe\xcc\x80vre", "E\xcc\x81loi\xcc\x88se",
                                          "2014-02-14", b, &err), 0);
        assert_string_equal(a, b);
        /* The birth date, the school, the names and the secret each change it. */
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "Martin-Lefèvre", "Éloïse", "15/02/2014", b, &err), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "Martin-Lefèvre", "Éloïse", NULL, b, &err), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750002B", "Martin-Lefèvre", "Éloïse", "2014-02-14", b, &err), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "Martin", "Lefèvre Éloïse", "2014-02-14", b, &err), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(roster_derive_id(secret + 1, sizeof(secret) - 1, "0750001A", "Martin-Lefèvre", "Éloïse", "2014-02-14", b, &err), 0);
        assert_string_not_equal(a, b);

        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "A", "B", "14/02/14", b, &err), -EBADMSG);
        assert_contains(err.msg, "\"14/02/14\" is neither DD/MM/YYYY nor YYYY-MM-DD");
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "A", "B", "31/13/2014", b, &err), -EBADMSG);
        assert_int_equal(roster_derive_id(NULL, 0, "0750001A", "A", "B", NULL, b, &err), -EINVAL);
}

static void test_csv_demo_roster(void **state) {
        _cleanup_free_ char *path = sample("demo-roster.csv");
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};
        unsigned a = 0, b = 0, left = 0;

        assert_int_equal(read_path(path, NULL, &s, &info, &err), 0);
        assert_int_equal(info.n_pupils, 60);
        assert_string_equal(info.school_uai, "");     /* two schools */
        for (char *p = s.text; (p = strstr(p, "|0750001A|")); p++)
                a++;
        for (char *p = s.text; (p = strstr(p, "|0750002B|")); p++)
                b++;
        for (char *p = s.text; (p = strstr(p, "|left")); p++)
                left++;
        assert_int_equal(a, 30);
        assert_int_equal(b, 30);
        assert_int_equal(left, 1);
        assert_memory_equal(s.text, "2|D1001|", 8);
        assert_contains(s.text, "|D1005|Martin-Lefèvre|");
        assert_contains(s.text, "\n61|D2030|");
        free(s.text);
}

static void test_csv_encodings(void **state) {
        struct roster_options o = { .school_uai = "0750001A" };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        /* 0xBD is œ in ISO-8859-15 (½ in ISO-8859-1): the file is taken as ISO-8859-15. */
        static const char latin9[] = "id;nom;pr\xe9nom;classe\n1;C\xbdur;Z\xe9lie;6A\n2;\xa6imon;L\xe9o;6A\n";
        assert_int_equal(read_text(latin9, sizeof(latin9) - 1, &o, &s, &info, &err), 0);
        assert_string_equal(info.encoding, "ISO-8859-15");
        assert_string_equal(s.text, "2|1|Cœur|Zélie|6A|0750001A|active\n3|2|Šimon|Léo|6A|0750001A|active\n");
        free(s.text);

        /* Windows-1252's 0x92 (a curly apostrophe) and 0x9C (œ): Windows-1252, which ISO-8859-1
         * text is a subset of (0xE9 is é in both). */
        static const char cp1252[] = "id;nom;pr\xe9nom\n1;Dupont;Anne\n2;O\x92Neil;S\x9cur\n";
        assert_int_equal(read_text(cp1252, sizeof(cp1252) - 1, &o, &s, &info, &err), 0);
        assert_string_equal(info.encoding, "Windows-1252");
        assert_string_equal(s.text, "2|1|Dupont|Anne||0750001A|active\n3|2|O’Neil|Sœur||0750001A|active\n");
        free(s.text);

        /* 0x81 is a hole of Windows-1252 too: no text, refused with its line. */
        static const char hole[] = "id;nom;pr\xe9nom\n1;Dupont;Anne\n2;O\x92Neil;S\x81n\n";
        assert_int_equal(read_text(hole, sizeof(hole) - 1, &o, &s, &info, &err), -EILSEQ);
        assert_contains(err.msg, ": line 3: byte 0x81 is neither UTF-8, ISO-8859-1/15 nor Windows-1252 text");
        assert_int_equal(s.n, 0);

        /* A BOM promises UTF-8. */
        static const char bad_bom[] = "\xef\xbb\xbfid;nom;prenom\n1;H\xe9l\xe8ne;A\n";
        assert_int_equal(read_text(bad_bom, sizeof(bad_bom) - 1, &o, &s, &info, &err), -EILSEQ);
        assert_contains(err.msg, "line 2: invalid UTF-8 in a file that starts with a UTF-8 BOM");

        static const char utf16[] = "\xff\xfei\0d\0;\0";
        assert_int_equal(read_text(utf16, sizeof(utf16) - 1, &o, &s, &info, &err), -EILSEQ);
        assert_contains(err.msg, "UTF-16");

        static const char nul[] = "id;nom;prenom\n1;A\0;B\n";
        assert_int_equal(read_text(nul, sizeof(nul) - 1, &o, &s, &info, &err), -EILSEQ);
        assert_contains(err.msg, "line 2: a NUL byte");
}

static void test_csv_header_errors(void **state) {
        static const struct {
                const char *csv, *msg;
        } cases[] = {
                { "id;prénom;classe\n1;Anne;6A\n", ": line 1: no family name column" },
                { "id;nom;classe\n1;Dupont;6A\n", ": line 1: no first name column" },
                { "\n\nid;Nom;prénom;NOM\n1;A;B;C\n", ": line 3: columns 2 and 4 have the same name \"NOM\"" },
                { "id;nom;Nom de famille;prénom\n1;A;B;C\n", ": line 1: columns 2 and 3 both give the family name" },
                { "id;nom;prénom;Identifiant\n1;A;B;C\n", ": line 1: columns 1 and 4 both give the id" },
                { "nom prénom classe\nA B C\n", ": line 1: no ';', ',' or tab in the header" },
                { "id;nom;prénom\n1;A;B\n2;C\n", ": line 3: 2 fields where the header (line 1) has 3" },
                { "id;nom;prénom\n1;A;B\n;C;D\n", ": line 3: empty id" },
                { "id;nom;prénom\n1;;\n", ": line 2: no name" },
                { "id;nom;prénom;uai\n1;A;B;75\n", ": line 2: \"75\" is not a school UAI" },
                { "id;nom;prénom;uai\n1;A;B;0750002B\n", ": line 2: the file is school 0750002B's, not 0750001A" },
                { "id;nom;prénom\n1;A\x1b[31m;B\n", ": line 2: control character 0x1b in the family name" },
        };
        struct roster_options o = { .school_uai = "0750001A" };
        struct cart_error err;
        struct seen s = {};

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = read_text(cases[i].csv, strlen(cases[i].csv), &o, &s, NULL, &err);
                if (r != -EBADMSG)
                        fail_msg("case %zu: %d (%s)", i, r, err.msg);
                assert_contains(err.msg, "/tmp/cartable-roster-");
                assert_contains(err.msg, cases[i].msg);
                free(s.text);
        }
}

static void test_csv_long_line(void **state) {
        struct roster_options o = { .school_uai = "0750001A" };
        size_t big = 10 * 1024 * 1024;
        _cleanup_free_ char *csv = malloc(big + 64);
        struct cart_error err;
        struct seen s = {};
        size_t n;

        /* A 10 MB line after a good one: refused, naming its line, after one pupil. */
        n = (size_t) sprintf(csv, "id;nom;prénom\n1;A;B\n2;");
        memset(csv + n, 'x', big);
        n += big;
        n += (size_t) sprintf(csv + n, ";C\n");
        assert_int_equal(read_text(csv, n, &o, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, ": line 3: record longer than 65536 bytes");
        assert_int_equal(s.n, 1);
        free(s.text);

        /* The same inside quotes, spread over many lines. */
        n = (size_t) sprintf(csv, "id;nom;prénom\n1;A;B\n2;\"");
        for (size_t i = 0; i < 20000; i++)
                n += (size_t) sprintf(csv + n, "xxxxxxxxx\n");
        n += (size_t) sprintf(csv + n, "\";C\n");
        assert_int_equal(read_text(csv, n, &o, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, ": line 3: record longer than 65536 bytes");
        free(s.text);

        /* Just under the bound is a pupil (refused only for its name's length). */
        n = (size_t) sprintf(csv, "id;nom;prénom\n1;A;B\n2;");
        memset(csv + n, 'x', 60000);
        n += 60000;
        n += (size_t) sprintf(csv + n, ";C\n");
        assert_int_equal(read_text(csv, n, &o, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, ": line 3: family name longer than 256 bytes");
        free(s.text);
}

static void test_csv_quoting_and_text(void **state) {
        /* Tabs; quoted tabs and quotes; ="..." with a doubled quote; formulas and markup as text;
         * blank lines and CRLF; a "date de sortie" column. */
        static const char csv[] =
                "N\xc2\xb0 \xc3\x89l\xc3\xa8ve\tNOM\tPr\xc3\xa9nom\tDivision\tDate de sortie\r\n"
                "\r\n"
                "1\t\"Le \"\"Grand\"\"\tDuc\"\t=\"Ana\"\"\u00efs\"\t=\"03\"\t\r\n"
                "2\t=cmd|' /C calc'!A0\t<img src=x onerror=alert(1)>\t3B\t01/12/2026\r\n";
        struct roster_options o = { .school_uai = "0750001A", .secret = secret, .secret_len = 32 };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        /* "N° Élève" is no id column name: ids are derived. */
        assert_int_equal(read_text(csv, sizeof(csv) - 1, &o, &s, &info, &err), 0);
        assert_int_equal(info.separator, '\t');
        assert_contains(s.text, "3|");
        assert_contains(s.text, "|Le \"Grand\" Duc|Ana\"ïs|03|0750001A|active|derived\n");
        assert_contains(s.text, "\n4|");
        assert_contains(s.text, "|=cmd|' /C calc'!A0|<img src=x onerror=alert(1)>|3B|0750001A|left|date:2026-12-01|derived\n");
        free(s.text);
}

/* Lone CR line ends (Excel's "CSV (Macintosh)"), then CRLF: lines still counted right. */
static void test_csv_line_ends(void **state) {
        static const char mac[] = "id;nom;prenom\r1;A;B\r\r2;\"C\rD\";E\r3;F;G";
        static const char bad[] = "id;nom;prenom\r1;A;B\r2;C;D\r3;;\r";
        struct roster_options o = { .school_uai = "0750001A" };
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_text(mac, sizeof(mac) - 1, &o, &s, NULL, &err), 0);
        assert_string_equal(s.text, "2|1|A|B||0750001A|active\n"
                                    "4|2|C D|E||0750001A|active\n"
                                    "6|3|F|G||0750001A|active\n");
        free(s.text);
        assert_int_equal(read_text(bad, sizeof(bad) - 1, &o, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, ": line 4: no name");
        free(s.text);
}

static void test_callback_stops(void **state) {
        _cleanup_free_ char *csv = sample("demo-roster.csv"), *xml = sample("ElevesSansAdresses.zip");
        struct cart_error err;
        struct seen s = { .stop_after = 3 };

        assert_int_equal(read_path(csv, NULL, &s, NULL, &err), -ECANCELED);
        assert_int_equal(s.n, 3);
        assert_string_equal(err.msg, "stopped at D1003");
        free(s.text);
        s.stop_after = 2;
        assert_int_equal(read_path(xml, NULL, &s, NULL, &err), -ECANCELED);
        assert_int_equal(s.n, 2);
        assert_string_equal(err.msg, "stopped at 4002");
        free(s.text);
}

static void test_missing_and_empty(void **state) {
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path("/nonexistent/roster.csv", NULL, &s, NULL, &err), -ENOENT);
        assert_int_equal(err.reason, CART_REASON_NOT_FOUND);     /* the code, and the path it names */
        assert_string_equal(err.subject, "/nonexistent/roster.csv");
        assert_int_equal(read_text("", 0, NULL, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, "empty file");
        assert_int_equal(read_text("\n\n", 2, NULL, &s, NULL, &err), -EBADMSG);
}

static void test_secret(void **state) {
        char dir[] = "/tmp/cartable-secret-XXXXXX", *state_dir = NULL, *path = NULL;
        uint8_t a[32], b[32];
        struct cart_error err = {};
        struct stat st;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&state_dir, "%s/var/lib/cartable", dir) > 0);
        assert_true(asprintf(&path, "%s/station.secret", state_dir) > 0);

        /* Created (with its parents), 0600, 32 bytes, and the same on the next load. */
        assert_int_equal(roster_secret_load(state_dir, a, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, 32);
        assert_int_equal(roster_secret_load(state_dir, b, &err), 0);
        assert_memory_equal(a, b, 32);
        assert_memory_not_equal(a, (uint8_t[32]) {}, 32);

        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(roster_secret_load(state_dir, b, &err), -EPERM);
        assert_contains(err.msg, "readable by others (mode 0644)");
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(truncate(path, 31), 0);
        assert_int_equal(roster_secret_load(state_dir, b, &err), -EBADMSG);
        assert_contains(err.msg, "31 bytes, a station secret is 32");

        /* Never through a symbolic link (someone else's file would become the key). */
        char *elsewhere = NULL;
        assert_true(asprintf(&elsewhere, "%s/elsewhere", dir) > 0);
        assert_int_equal(rename(path, elsewhere), 0);
        assert_int_equal(symlink(elsewhere, path), 0);
        assert_int_equal(roster_secret_load(state_dir, b, &err), -ELOOP);
        assert_contains(err.msg, "station.secret: a symbolic link");
        free(elsewhere);

        free(path);
        free(state_dir);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}


/* ---- The quirks of real exports (issue 22), from make-samples.py --quirks ---- */

/* SIECLE's "Inactifs" is no class: its pupils are handed on as not active (GEPI and Pix
 * leave them out), with no class; a pupil in no structure at all stays active, classless. */
static void test_siecle_inactifs(void **state) {
        _cleanup_free_ char *path = quirk("siecle-inactifs.xml");
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, NULL, &s, &info, &err), 0);
        assert_contains(s.text, "21|4002|CŒURDEROY|Chloé||0750001A|inactive\n");
        assert_contains(s.text, "52|4005|DA SILVA|Inès||0750001A|inactive\n");
        assert_contains(s.text, "72|4007|ŠEBESTA|Zoé||0750001A|active\n");
        assert_null(strstr(s.text, "Inactifs"));
        assert_int_equal(info.n_pupils, 8);
        free(s.text);
}

/* A DATE_SORTIE still to come leaves the pupil active, with the date; from that day on
 * (GEPI's rule: the date is the first day out), the pupil has left. */
static void test_siecle_leave_dates(void **state) {
        _cleanup_free_ char *path = quirk("siecle-date-sortie.xml");
        struct roster_options o = { .today = "2026-11-19" };
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, NULL, &err), 0);
        assert_contains(s.text, "41|4004|BRUNET|Noël|5A|0750001A|active|date:2026-11-20\n");
        assert_contains(s.text, "82|4008|FERRAND|François|3A|0750001A|active|date:2099-08-31\n");
        free(s.text);
        o.today = "2026-11-20";
        assert_int_equal(read_path(path, &o, &s, NULL, &err), 0);
        assert_contains(s.text, "41|4004|BRUNET|Noël|5A|0750001A|left|date:2026-11-20\n");
        assert_contains(s.text, "82|4008|FERRAND|François|3A|0750001A|active|date:2099-08-31\n");
        free(s.text);
        o.today = "2099-09-01";
        assert_int_equal(read_path(path, &o, &s, NULL, &err), 0);
        assert_contains(s.text, "82|4008|FERRAND|François|3A|0750001A|left|date:2099-08-31\n");
        free(s.text);

        o.today = "tomorrow";
        assert_int_equal(read_path(path, &o, &s, NULL, &err), -EINVAL);
        /* A DATE_SORTIE that is no date is refused, not taken as "left now". */
        static const char xml[] = SIECLE_HEAD("<UAJ>0750001A</UAJ>")
                "<ELEVE ELEVE_ID=\"7\"><NOM_DE_FAMILLE>A</NOM_DE_FAMILLE><DATE_SORTIE>31/02/2027</DATE_SORTIE></ELEVE>\n"
                SIECLE_TAIL;
        assert_int_equal(read_text(xml, sizeof(xml) - 1, NULL, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, ": line 6: DATE_SORTIE \"31/02/2027\" is not a date (DD/MM/YYYY)");
        assert_int_equal(s.n, 0);
}

/* The prolog says ISO-8859-15, an editor saved UTF-8: read as UTF-8, and said. */
static void test_siecle_utf8_under_latin9_prolog(void **state) {
        _cleanup_free_ char *path = quirk("siecle-utf8-latin9-prolog.xml");
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, NULL, &s, &info, &err), 0);
        assert_contains(s.text, "|4004|BRUNET|Noël|5°2|0750001A|active\n");
        assert_contains(s.text, "|4009|LEFÈVRE|Anaëlle|5°2|0750001A|active\n");
        assert_contains(s.text, "|4002|CŒURDEROY|Chloé|6A|");
        assert_null(strstr(s.text, "Ã"));
        assert_null(strstr(s.text, "Â"));
        assert_string_equal(info.encoding, "UTF-8");
        assert_string_equal(info.declared_encoding, "ISO-8859-15");
        free(s.text);

        /* A true ISO-8859-15 file is not touched. */
        _cleanup_free_ char *latin = sample("ElevesSansAdresses.xml");
        assert_int_equal(read_path(latin, NULL, &s, &info, &err), 0);
        assert_string_equal(info.encoding, "ISO-8859-15");
        assert_string_equal(info.declared_encoding, "");
        free(s.text);
}

/* Zips as they come: macOS's AppleDouble and dot files are skipped, the one pupils export
 * is taken (a nomenclature next to it is not), two exports or a cut zip are refused. */
static void test_siecle_zip_members(void **state) {
        static const char *const good[] = { "siecle-macos.zip", "siecle-with-nomenclature.zip" };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *path = quirk(good[i]);
                if (read_path(path, NULL, &s, &info, &err) != 0)
                        fail_msg("%s: %s", good[i], err.msg);
                assert_string_equal(s.text, siecle_expected);
                assert_string_equal(info.zip_member, "ElevesSansAdresses.xml");
                free(s.text);
        }

        _cleanup_free_ char *two = quirk("siecle-two-exports.zip");
        assert_int_equal(read_path(two, NULL, &s, &info, &err), -EBADMSG);
        assert_contains(err.msg, "siecle-two-exports.zip: 2 SIECLE pupils exports in one zip "
                        "(ElevesSansAdresses.xml, ElevesAvecAdresses.xml)");
        assert_int_equal(s.n, 0);

        _cleanup_free_ char *cut = quirk("siecle-truncated.zip");
        assert_int_equal(read_path(cut, NULL, &s, &info, &err), -EBADMSG);
        assert_contains(err.msg, "siecle-truncated.zip: not a readable zip (damaged or truncated?)");
        assert_int_equal(s.n, 0);
}

/* Two STRUCTURES_ELEVE blocks for one pupil: the first block's class, flagged, and the
 * other division named when they disagree. */
static void test_siecle_two_structures(void **state) {
        _cleanup_free_ char *path = quirk("siecle-two-structures.xml");
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, NULL, &s, NULL, &err), 0);
        assert_contains(s.text, "31|4003|NGUYEN|Éloïse|6B|0750001A|active|two-blocks\n");
        assert_contains(s.text, "52|4005|DA SILVA|Inès|4A|0750001A|active|two-blocks|other:4B\n");
        assert_contains(s.text, "11|4001|MARTIN-LEFÈVRE|Jean-Baptiste|6A|0750001A|active\n");
        free(s.text);
}

/* PARAMETRES' dates are handed on, for the caller to refuse a stale export. */
static void test_siecle_export_date(void **state) {
        _cleanup_free_ char *path = quirk("siecle-older.xml"), *last = quirk("siecle-2025.xml");
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, NULL, &s, &info, &err), 0);
        assert_string_equal(info.exported, "2026-08-25 09:30:00");
        assert_string_equal(info.year, "2026");
        free(s.text);
        assert_int_equal(read_path(last, NULL, &s, &info, &err), 0);
        assert_string_equal(info.year, "2025");
        free(s.text);

        static const char bad[] = "<?xml version=\"1.0\"?>\n<BEE_ELEVES><PARAMETRES><UAJ>0750001A</UAJ>"
                "<HORODATAGE>hier soir</HORODATAGE></PARAMETRES><DONNEES/></BEE_ELEVES>\n";
        assert_int_equal(read_text(bad, sizeof(bad) - 1, NULL, &s, NULL, &err), -EBADMSG);
        assert_contains(err.msg, "<HORODATAGE> \"hier soir\" is not a date");
        /* Only DATE_EXPORT: the day, at midnight. */
        static const char day[] = "<?xml version=\"1.0\"?>\n<BEE_ELEVES><PARAMETRES><UAJ>0750001A</UAJ>"
                "<DATE_EXPORT>03/09/2026</DATE_EXPORT></PARAMETRES><DONNEES/></BEE_ELEVES>\n";
        assert_int_equal(read_text(day, sizeof(day) - 1, NULL, &s, &info, &err), 0);
        assert_string_equal(info.exported, "2026-09-03 00:00:00");
}

/* One ELEVE with 300,000 children is read, node by node (bench/roster-read.sh measures
 * its memory); what libxml2 would have to hold whole is refused before it does. */
static void test_siecle_hostile(void **state) {
        _cleanup_free_ char *path = quirk("siecle-hostile-eleve.zip");
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, NULL, &s, NULL, &err), 0);
        assert_string_equal(s.text, "3|1|HOSTILE|Un|6A|0750001A|active\n");
        free(s.text);

        /* Each: an opening, a run of one byte (or of numbered names), a closing. */
        static const struct {
                const char *open, *numbered, *close, *msg;
                char fill;
                size_t n;
        } cases[] = {
                { "", "<n%zu/>", "", "more than 512 distinct element and attribute names", 0, 600 },
                { "<X ", "a%zu=\"\" ", "/>", "more than 512 distinct element and attribute names", 0, 600 },
                { "<X>", NULL, "</X>", "a text longer than 65536 bytes", 'x', 70000 },
                { "<X a=\"", NULL, "\"/>", "a tag longer than 4096 bytes", 'x', 5000 },
                { "<!--", NULL, "-->", "a comment longer than 65536 bytes", 'x', 70000 },
                { "<X><![CDATA[", NULL, "]]></X>", "a text longer than 65536 bytes", 'y', 70000 },
                { "<", NULL, "/>", "a name longer than 64 bytes", 'N', 70 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                FILE *f;
                char *xml = NULL;
                size_t len = 0;

                f = open_memstream(&xml, &len);
                fputs(SIECLE_HEAD("<UAJ>0750001A</UAJ>") "<ELEVE ELEVE_ID=\"1\"><NOM>A</NOM>", f);
                fputs(cases[i].open, f);
                for (size_t k = 0; k < cases[i].n; k++) {
                        if (cases[i].numbered)
                                fprintf(f, cases[i].open[0] ? "a%zu=\"\" " : "<n%zu/>", k);
                        else
                                fputc(cases[i].fill, f);
                }
                fputs(cases[i].close, f);
                fputs("</ELEVE>\n" SIECLE_TAIL, f);
                fclose(f);
                int r = read_text(xml, len, NULL, &s, NULL, &err);
                if (r != -EBADMSG)
                        fail_msg("case %zu: %d (%s)", i, r, err.msg);
                assert_contains(err.msg, ": line 6: ");
                assert_contains(err.msg, cases[i].msg);
                assert_int_equal(s.n, 0);
                free(xml);
        }
}

/* Pronote: "Élèves" holds "NOM Prénom", "Né(e) le" keeps homonyms apart, the header's
 * second row and the separator-only rows at the end are skipped. */
static void test_csv_pronote(void **state) {
        _cleanup_free_ char *path = quirk("pronote.csv");
        struct roster_options o = { .school_uai = "0750001A", .secret = secret, .secret_len = sizeof(secret) };
        char id[33], expected[256];
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, &info, &err), 0);
        assert_int_equal(info.n_pupils, 4);
        assert_int_equal(info.id_scheme, ROSTER_IDS_DERIVED);
        assert_int_equal(info.header_line, 1);
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "N'DIAYE", "Awa Marie", "21/12/2013",
                                          id, &err), 0);
        snprintf(expected, sizeof(expected), "5|%s|N'DIAYE|Awa Marie|5A|0750001A|active|derived\n", id);
        assert_contains(s.text, expected);
        assert_contains(s.text, "|MARTIN-LEFÈVRE|Jean-Baptiste|6A|");
        assert_contains(s.text, "|DA SILVA|Inès|4A|");
        free(s.text);

        static const struct {
                const char *csv, *msg;
        } bad[] = {
                { "Élèves;Classe\nDUPONT ANNE;6A\n", ": line 2: \"DUPONT ANNE\": the family name (in capitals) cannot be told" },
                { "Élèves;Classe\nAnne Dupont;6A\n", ": line 2: \"Anne Dupont\": the family name" },
                { "Élèves;Classe\nDUPONT Anne;6A\n;6B\n", ": line 3: no name" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = read_text(bad[i].csv, strlen(bad[i].csv), &o, &s, NULL, &err);
                if (r != -EBADMSG)
                        fail_msg("case %zu: %d (%s)", i, r, err.msg);
                assert_contains(err.msg, bad[i].msg);
                free(s.text);
        }
}

/* ONDE: "Libellé classe" wins over "Identifiant classe"; Pix's template: "Identifiant
 * unique*", "Division*", "Date de naissance (jj/mm/aaaa)*". */
static void test_csv_onde_and_pix(void **state) {
        _cleanup_free_ char *onde = quirk("onde.csv"), *pix = quirk("pix-template.csv");
        struct roster_options o = { .school_uai = "0750001A", .secret = secret, .secret_len = sizeof(secret) };
        char id[33], expected[256];
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(onde, &o, &s, &info, &err), 0);
        assert_string_equal(info.encoding, "ISO-8859-1");
        assert_int_equal(roster_derive_id(secret, sizeof(secret), "0750001A", "BRUNET", "Noël", "2015-01-30", id, &err), 0);
        snprintf(expected, sizeof(expected), "2|%s|BRUNET|Noël|CM2 Mme Roux|0750001A|active|derived\n", id);
        assert_contains(s.text, expected);
        assert_contains(s.text, "|NGUYEN|Éloïse|CM1-CM2 M. Faure|");
        assert_null(strstr(s.text, "31254"));
        free(s.text);

        assert_int_equal(read_path(pix, &o, &s, &info, &err), 0);
        assert_int_equal(info.id_scheme, ROSTER_IDS_COLUMN);
        assert_string_equal(s.text, "2|123F|Cœurderoy|Chloé|6A|0750001A|active\n"
                                    "3|456G|Šebesta|Zoé|5B|0750001A|active\n");
        free(s.text);
}

/* Excel's Windows-1252: ’ Œ œ decoded, the comment column (« » € …) dropped. */
static void test_csv_excel_cp1252(void **state) {
        _cleanup_free_ char *path = quirk("excel-cp1252.csv");
        struct roster_options o = { .secret = secret, .secret_len = sizeof(secret) };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_path(path, &o, &s, &info, &err), 0);
        assert_string_equal(info.encoding, "Windows-1252");
        assert_contains(s.text, "|O’Neil|Seán|6A|0750001A|");
        assert_contains(s.text, "|Œillet|Cœline|6A|");
        assert_contains(s.text, "|D’Arc|Jeanne|5A|");
        assert_null(strstr(s.text, "€"));
        free(s.text);
}

/* A title above the header, blank and separator-only rows anywhere: skipped. */
static void test_csv_titles_and_empty_rows(void **state) {
        static const char csv[] =
                "Liste des élèves;;;\n"
                ";;;\n"
                "id;nom;prénom;classe\n"
                "1;A;B;6A\n"
                ";;;\n"
                ";  ;=\"\";\n"
                "2;C;D;6B\n"
                ";;;;;;\n";
        struct roster_options o = { .school_uai = "0750001A" };
        struct roster_info info;
        struct cart_error err;
        struct seen s = {};

        assert_int_equal(read_text(csv, sizeof(csv) - 1, &o, &s, &info, &err), 0);
        assert_string_equal(s.text, "4|1|A|B|6A|0750001A|active\n7|2|C|D|6B|0750001A|active\n");
        assert_int_equal(info.header_line, 3);
        free(s.text);
}

static void test_uai_check_letter(void **state) {
        char letter = 0;

        assert_true(roster_uai_check_letter("0750001U", &letter));
        assert_int_equal(letter, 'U');
        assert_true(roster_uai_check_letter("0750001u", &letter));
        assert_false(roster_uai_check_letter("0750001A", &letter));
        assert_int_equal(letter, 'U');
        /* 0 modulo 23 is A; the letters skip I, O and Q. */
        assert_true(roster_uai_check_letter("0000000A", &letter));
        assert_true(roster_uai_check_letter("0000008J", &letter));
        assert_true(roster_uai_check_letter("0000013P", &letter));
        assert_true(roster_uai_check_letter("0000022Z", &letter));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_siecle_sample),
                cmocka_unit_test(test_siecle_zip_same_as_xml),
                cmocka_unit_test(test_siecle_keep_ine),
                cmocka_unit_test(test_siecle_minimisation),
                cmocka_unit_test(test_siecle_school),
                cmocka_unit_test(test_siecle_without_uaj),
                cmocka_unit_test(test_siecle_names_are_text),
                cmocka_unit_test(test_siecle_damaged),
                cmocka_unit_test(test_siecle_truncated_zip),
                cmocka_unit_test(test_csv_ent_export),
                cmocka_unit_test(test_csv_bom_derived),
                cmocka_unit_test(test_derive_id),
                cmocka_unit_test(test_csv_demo_roster),
                cmocka_unit_test(test_csv_encodings),
                cmocka_unit_test(test_csv_header_errors),
                cmocka_unit_test(test_csv_long_line),
                cmocka_unit_test(test_csv_quoting_and_text),
                cmocka_unit_test(test_csv_line_ends),
                cmocka_unit_test(test_callback_stops),
                cmocka_unit_test(test_missing_and_empty),
                cmocka_unit_test(test_secret),
                cmocka_unit_test(test_siecle_inactifs),
                cmocka_unit_test(test_siecle_leave_dates),
                cmocka_unit_test(test_siecle_utf8_under_latin9_prolog),
                cmocka_unit_test(test_siecle_zip_members),
                cmocka_unit_test(test_siecle_two_structures),
                cmocka_unit_test(test_siecle_export_date),
                cmocka_unit_test(test_siecle_hostile),
                cmocka_unit_test(test_csv_pronote),
                cmocka_unit_test(test_csv_onde_and_pix),
                cmocka_unit_test(test_csv_excel_cp1252),
                cmocka_unit_test(test_csv_titles_and_empty_rows),
                cmocka_unit_test(test_uai_check_letter),
        };

        setlocale(LC_CTYPE, "C.UTF-8");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
