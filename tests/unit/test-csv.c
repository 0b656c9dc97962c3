/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/base/csv: RFC 4180 rows (separator, CR LF, quotes doubled) and no cell a spreadsheet
 * would run as a formula, with either separator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/csv.h"
#include "base/util.h"

/* What cells (a NULL-terminated list, one row) give with this separator. */
static char *row(char separator, const char *const *cells, size_t n) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        struct csv_writer w;

        assert_non_null(f);
        w = csv_writer_make(f, separator);
        assert_int_equal(csv_row(&w, cells, n), 0);
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void test_plain_and_quoted(void **state) {
        const char *cells[] = { "a", "b c", NULL, "", "x,y", "say \"hi\"", "two\r\nlines", "l;m" };
        _cleanup_free_ char *comma = row(',', cells, ELEMENTSOF(cells));
        _cleanup_free_ char *semi = row(';', cells, ELEMENTSOF(cells));

        (void) state;
        assert_string_equal(comma, "a,b c,,,\"x,y\",\"say \"\"hi\"\"\",\"two\r\nlines\",l;m\r\n");
        assert_string_equal(semi, "a;b c;;;x,y;\"say \"\"hi\"\"\";\"two\r\nlines\";\"l;m\"\r\n");
}

static void test_formulas_guarded(void **state) {
        const char *cells[] = { "=1+1", "+33 1", "-2", "@SUM(A1)", "\tx", "\rx", "a=b", "=HYPERLINK(\"http://x\")" };
        _cleanup_free_ char *s = row(',', cells, ELEMENTSOF(cells));

        (void) state;
        assert_string_equal(s, "\"'=1+1\",\"'+33 1\",\"'-2\",\"'@SUM(A1)\",\"'\tx\",\"'\rx\",a=b,"
                               "\"'=HYPERLINK(\"\"http://x\"\")\"\r\n");
}

static void test_numbers_and_rows(void **state) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        struct csv_writer w;

        (void) state;
        assert_non_null(f);
        w = csv_writer_make(f, ';');
        csv_int(&w, 0);
        csv_int(&w, -1);             /* unknown: empty */
        csv_int(&w, INT64_MAX);
        assert_int_equal(csv_row_end(&w), 0);
        assert_int_equal(csv_row_end(&w), 0);     /* an empty line */
        csv_cell(&w, "next");
        assert_int_equal(csv_row_end(&w), 0);
        assert_int_equal(fclose(f), 0);
        assert_string_equal(buf, "0;;9223372036854775807\r\n\r\nnext\r\n");
        free(buf);
}

static void test_write_error(void **state) {
        FILE *f = fopen("/dev/full", "w");
        struct csv_writer w;

        (void) state;
        if (!f)
                skip();
        setvbuf(f, NULL, _IONBF, 0);
        w = csv_writer_make(f, ',');
        csv_cell(&w, "lost");
        assert_int_equal(csv_row_end(&w), -EIO);
        fclose(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_and_quoted),
                cmocka_unit_test(test_formulas_guarded),
                cmocka_unit_test(test_numbers_and_rows),
                cmocka_unit_test(test_write_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
