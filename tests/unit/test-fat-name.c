/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <locale.h>
#include <wctype.h>

#include "fat/fat-internal.h"

static void expect_name(const char *name, int want, const char *in_msg) {
        struct cart_error err = {};
        int r = fat_check_name(name, &err);

        if (r != want)
                fail_msg("fat_check_name(\"%s\") = %d, want %d (%s)", name, r, want, err.msg);
        if (in_msg && !strstr(err.msg, in_msg))
                fail_msg("message for \"%s\" is \"%s\", lacks \"%s\"", name, err.msg, in_msg);
}

static void test_valid_names(void **state) {
        expect_name("index.html", 0, NULL);
        expect_name("Mes documents", 0, NULL);
        expect_name("Élève été.txt", 0, NULL);
        expect_name("数学.pdf", 0, NULL);
        expect_name("\xF0\x9F\x93\x9A livres", 0, NULL);      /* U+1F4DA: a surrogate pair */
        expect_name(" leading space", 0, NULL);
        expect_name(".hidden", 0, NULL);
        expect_name("CONSOLE.txt", 0, NULL);                  /* only the exact device names */
        expect_name("COM0", 0, NULL);
        expect_name("LPT10", 0, NULL);
}

static void test_forbidden_characters(void **state) {
        const char *bad[] = { "a\"b", "a*b", "a:b", "a<b", "a>b", "a?b", "a\\b", "a|b", "a\tb", "a\177b" };

        for (size_t i = 0; i < ELEMENTSOF(bad) - 1; i++)
                expect_name(bad[i], -EILSEQ, bad[i]);
        expect_name("a/b", -EILSEQ, "'/'");
        /* DEL is allowed in long names by Windows and Linux alike. */
        expect_name(bad[ELEMENTSOF(bad) - 1], 0, NULL);
}

static void test_trailing_dots_and_spaces(void **state) {
        expect_name("name.", -EINVAL, "dot or a space");
        expect_name("name ", -EINVAL, "dot or a space");
        expect_name(".", -EINVAL, "\".\"");
        expect_name("..", -EINVAL, "\".\" and \"..\" are not allowed");
        expect_name("", -EINVAL, "empty");
}

static void test_reserved_devices(void **state) {
        const char *bad[] = { "CON", "con", "Prn", "AUX", "nul", "COM1", "com9", "LPT1", "lpt9",
                              "CON.txt", "nul.tar.gz", "Aux.html" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                expect_name(bad[i], -EINVAL, "reserved device name");
}

static void test_bad_utf8(void **state) {
        expect_name("caf\xE9", -EILSEQ, "UTF-8");             /* Latin-1 é */
        expect_name("\xC0\xAF", -EILSEQ, "UTF-8");            /* overlong '/' */
        expect_name("\xED\xA0\x80", -EILSEQ, "UTF-8");        /* a surrogate */
        expect_name("\xF4\x90\x80\x80", -EILSEQ, "UTF-8");    /* past U+10FFFF */
        expect_name("abc\xE2\x82", -EILSEQ, "UTF-8");         /* truncated */
}

static void test_lengths(void **state) {
        char name[600];
        struct cart_error err = {};

        memset(name, 'a', 255);
        name[255] = 0;
        expect_name(name, 0, NULL);
        name[255] = 'a';
        name[256] = 0;
        expect_name(name, -ENAMETOOLONG, "255");
        /* 128 non-BMP characters are 256 UTF-16 units. */
        name[0] = 0;
        for (int i = 0; i < 128; i++)
                strcat(name, "\xF0\x9F\x93\x9A");
        expect_name(name, -ENAMETOOLONG, NULL);

        /* Paths: 256 UTF-16 units at most, separators included. */
        memset(name, 'b', sizeof(name));
        for (int i = 100; i < 256; i += 101)
                name[i] = '/';
        name[256] = 0;
        assert_int_equal(fat_check_path(name, &err), 0);
        name[256] = 'b';
        name[257] = 0;
        assert_int_equal(fat_check_path(name, &err), -ENAMETOOLONG);
}

static void test_paths(void **state) {
        struct cart_error err = {};

        assert_int_equal(fat_check_path("Cours/Mathématiques/fractions.pdf", &err), 0);
        assert_int_equal(fat_check_path("/etc/passwd", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "absolute"));
        assert_int_equal(fat_check_path("a//b", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "a//b"));
        assert_int_equal(fat_check_path("a/../b", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "\"a/../b\": \".\" and \"..\" are not allowed"));
        assert_int_equal(fat_check_path("./a", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "\".\" and \"..\" are not allowed"));
        assert_int_equal(fat_check_path("a/b/", &err), -EINVAL);
        assert_int_equal(fat_check_path("docs/CON/x", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "docs/CON/x"));
}

static void test_labels(void **state) {
        struct cart_error err = {};

        assert_int_equal(fat_check_label("ENT COLLEGE", &err), 0);
        assert_int_equal(fat_check_label("cartable", &err), 0);
        assert_int_equal(fat_check_label("", &err), 0);
        assert_int_equal(fat_check_label("TWELVE CHARS", &err), -ENAMETOOLONG);
        assert_int_equal(fat_check_label("A.B", &err), -EILSEQ);
        assert_int_equal(fat_check_label("ÉCOLE", &err), -EILSEQ);
        assert_int_equal(fat_check_label("TRAIL ", &err), -EINVAL);
}

static void test_upcase(void **state) {
        locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);

        assert_int_equal(fat_upcase('a'), 'A');
        assert_int_equal(fat_upcase(0xE9), 0xC9);        /* é */
        assert_int_equal(fat_upcase(0xFF), 0x178);       /* ÿ */
        assert_int_equal(fat_upcase(0xDF), 0xDF);        /* ß has no one-to-one upper case */
        assert_int_equal(fat_upcase(0x151), 0x150);      /* ő */
        assert_int_equal(fat_upcase(0x3C9), 0x3A9);      /* ω */
        assert_int_equal(fat_upcase(0x436), 0x416);      /* ж */
        assert_int_equal(fat_upcase(0x6570), 0x6570);    /* 数: no case */
        assert_int_equal(fat_upcase(0xFF41), 0xFF21);    /* fullwidth a */
        assert_int_equal(fat_upcase(0x3C2), 0x3A3);      /* ς, final sigma */
        assert_int_equal(fat_upcase(0x3AC), 0x386);      /* ά */
        assert_int_equal(fat_upcase(0x451), 0x401);      /* ё */
        assert_int_equal(fat_upcase(0x4CF), 0x4C0);      /* ӏ */
        assert_int_equal(fat_upcase(0x10D0), 0x1C90);    /* Georgian, beyond the old hand-made table */
        assert_int_equal(fat_upcase(0x2C30), 0x2C00);    /* Glagolitic */
        assert_int_equal(fat_upcase(0xA641), 0xA640);    /* Cyrillic Extended-B */
        assert_int_equal(fat_upcase(0x149), 0x149);      /* ŉ: upper case is two characters */
        assert_int_equal(fat_upcase(0x390), 0x390);      /* ΐ: likewise */
        assert_int_equal(fat_upcase(0xC9), 0xC9);        /* already upper case */
        assert_int_equal(fat_upcase(0xD801), 0xD801);    /* surrogates never change */
        /* Wherever the table changes a character, glibc's Unicode data agrees. */
        if (!l)
                return;
        for (uint32_t c = 0; c < 0x10000; c++) {
                uint16_t u = fat_upcase((uint16_t) c);
                if (u != c && (uint32_t) towupper_l((wint_t) c, l) != u)
                        fail_msg("U+%04X: table gives U+%04X, glibc U+%04X", c, u, (unsigned) towupper_l((wint_t) c, l));
        }
        freelocale(l);
}

static void expect_fold(const char *name, const char *want) {
        _cleanup_free_ char *folded = NULL;

        assert_int_equal(fat_fold(name, &folded), 0);
        if (!streq(folded, want))
                fail_msg("fold(%s) = %s, expected %s", name, folded, want);
}

/* Folding uses the table and our own UTF-8 decoder: no locale is set in this test. */
static void test_fold(void **state) {
        char *folded = NULL;

        expect_fold("Cours/été.html", "COURS/ÉTÉ.HTML");
        expect_fold("straße", "STRAßE");          /* ß has no one-character upper case */
        expect_fold("ÿ", "Ÿ");
        expect_fold("ωμέγα", "ΩΜΈΓΑ");
        expect_fold("жёлтый", "ЖЁЛТЫЙ");
        expect_fold("ı", "I");                    /* 2 bytes become 1 */
        expect_fold("ɐ", "Ɐ");                    /* 2 bytes become 3 */
        expect_fold("𐐨", "𐐨");                   /* Deseret: beyond the BMP, unchanged */
        expect_fold("数学", "数学");
        assert_int_equal(fat_fold("caf\xe9", &folded), -EILSEQ);      /* Latin-1, not UTF-8 */
        assert_int_equal(fat_fold("\xc0\xaf", &folded), -EILSEQ);     /* overlong '/' */
        assert_int_equal(fat_fold("\xed\xa0\x80", &folded), -EILSEQ); /* a surrogate */
        assert_null(folded);
}

static void test_basis_names(void **state) {
        static const struct { const char *name, *basis; bool is_lossy; } cases[] = {
                { "readme.txt", "README  TXT", false },
                { "Long File Name.txt", "LONGFILETXT", true },
                { ".bashrc", "BASHRC     ", true },
                { "a.b.c", "AB      C  ", true },
                { "archive.tar.gz", "ARCHIVETGZ ", true },
                { "x+y=z[1].doc", "X_Y_Z_1_DOC", true },
                { "été.html", "_T_     HTM", true },
        };
        uint16_t u[64];
        uint8_t out[11];
        bool is_lossy;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int n = fat_utf8_to_utf16(cases[i].name, strlen(cases[i].name), u, ELEMENTSOF(u));
                assert_true(n > 0);
                fat_basis_name(u, (size_t) n, out, &is_lossy);
                if (memcmp(out, cases[i].basis, 11) != 0 || is_lossy != cases[i].is_lossy)
                        fail_msg("%s: basis \"%.11s\" lossy %d", cases[i].name, (const char *) out, is_lossy);
        }
        fat_apply_tail((const uint8_t *) "LONGFILETXT", 1, out);
        assert_memory_equal(out, "LONGFI~1TXT", 11);
        fat_apply_tail((const uint8_t *) "AB      C  ", 123456, out);
        assert_memory_equal(out, "A~123456C  ", 11);
        fat_apply_tail((const uint8_t *) "AB      C  ", 12, out);
        assert_memory_equal(out, "AB~12   C  ", 11);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_names),
                cmocka_unit_test(test_forbidden_characters),
                cmocka_unit_test(test_trailing_dots_and_spaces),
                cmocka_unit_test(test_reserved_devices),
                cmocka_unit_test(test_bad_utf8),
                cmocka_unit_test(test_lengths),
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_labels),
                cmocka_unit_test(test_upcase),
                cmocka_unit_test(test_fold),
                cmocka_unit_test(test_basis_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
