/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "reason.h"
#include "base/config.h"

static char *write_temp(const char *text) {
        char *path = strdup("/tmp/cartable-config-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        return path;
}

/* [schools]: a school's name by its UAI, the last line for one UAI winning. */
static void test_school_names(void **state) {
        _cleanup_(config_freep) struct cart_config *c = NULL;
        struct cart_error err = {};
        _cleanup_free_ char *path = write_temp(
                "[schools]\n0750001A = Collège Jean Moulin\n0750002B = Lycée Victor Hugo\n"
                "0750001A = Collège Jean-Moulin\n");

        assert_int_equal(config_load(path, &c, &err), 0);
        unlink(path);
        assert_int_equal(c->n_schools, 3);
        assert_string_equal(config_school_name(c, "0750001A"), "Collège Jean-Moulin");
        assert_string_equal(config_school_name(c, "0750002B"), "Lycée Victor Hugo");
        assert_null(config_school_name(c, "0750003C"));
        assert_null(config_school_name(c, NULL));
        assert_null(config_school_name(NULL, "0750001A"));
}

static void test_full_file(void **state) {
        _cleanup_(config_freep) struct cart_config *c = NULL;
        struct cart_error err = {};
        _cleanup_free_ char *path = write_temp(
                "; a station\n"
                "[trust]\nkey = /etc/a.pub\nkey = /etc/dir\n"
                "[policy]\nmin-size = 1G\nmax-size = 64G\nallow = 0781:5581\nallow = 13FE:4200\ndeny = 1234:5678\n"
                "[station]\nstate-dir = /srv/cartable\nname = atelier-1\n"
                "[journal]\npath = /srv/cartable/j.db\n");

        assert_int_equal(config_load(path, &c, &err), 0);
        assert_int_equal(c->n_trust, 2);
        assert_string_equal(c->trust[1], "/etc/dir");
        assert_int_equal(c->min_size, 1ULL << 30);
        assert_int_equal(c->max_size, 64ULL << 30);
        assert_int_equal(c->n_allow, 2);
        assert_string_equal(c->allow[1], "13fe:4200");
        assert_int_equal(c->n_deny, 1);
        assert_string_equal(c->state_dir, "/srv/cartable");
        assert_string_equal(c->station_name, "atelier-1");
        assert_string_equal(c->journal_path, "/srv/cartable/j.db");
        unlink(path);
}

/* [journal] url: a PostgreSQL journal, anything else there refused; the last of path and url wins. */
static void test_journal_url(void **state) {
        static const struct { const char *text; int r; const char *journal, *msg; } cases[] = {
                { "[journal]\nurl = postgresql://db.example/cartable?sslmode=verify-full\n", 0,
                  "postgresql://db.example/cartable?sslmode=verify-full", NULL },
                { "[journal]\nurl = /srv/j.db\n", -EBADMSG, NULL, "url = /srv/j.db: not a postgresql:// URL" },
                { "[journal]\npath = /srv/j.db\nurl = postgres://db/c\n", 0, "postgres://db/c", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) struct cart_config *c = NULL;
                struct cart_error err = {};
                _cleanup_free_ char *path = write_temp(cases[i].text);

                assert_int_equal(config_load(path, &c, &err), cases[i].r);
                if (cases[i].journal)
                        assert_string_equal(c->journal_path, cases[i].journal);
                else
                        assert_non_null(strstr(err.msg, cases[i].msg));
                unlink(path);
        }
}

static void test_defaults_without_file(void **state) {
        _cleanup_(config_freep) struct cart_config *c = NULL;
        struct cart_error err = {};

        setenv("CARTABLE_CONFIG", "", 1);
        /* The default file may exist on a station; only a named one must. */
        assert_int_equal(config_load("/nonexistent/cartable.conf", &c, &err), -ENOENT);
        assert_int_equal(err.reason, CART_REASON_NOT_FOUND);
        assert_int_equal(err.errnum, ENOENT);
        assert_string_equal(err.subject, "/nonexistent/cartable.conf");
        assert_non_null(strstr(ERROR_TEXT(&err, -ENOENT), "/nonexistent/cartable.conf: "));
}

static void expect_bad(const char *text, const char *in_msg) {
        _cleanup_(config_freep) struct cart_config *c = NULL;
        struct cart_error err = {};
        _cleanup_free_ char *path = write_temp(text);

        assert_int_equal(config_load(path, &c, &err), -EBADMSG);
        assert_null(c);
        if (!strstr(err.msg, in_msg) || !strstr(err.msg, path))
                fail_msg("message \"%s\" lacks \"%s\" or the path", err.msg, in_msg);
        unlink(path);
}

static void test_bad_lines_name_file_and_line(void **state) {
        expect_bad("[policy]\nmax-size = huge\n", ":2: max-size = huge");
        expect_bad("[policy]\nallow = 781:5581\n", ":2: allow");
        expect_bad("[trust]\nkey = a\n[nope]\nx = 1\n", ":4: unknown setting \"x\"");
        expect_bad("[policy]\nthis is not ini\n", ":2:");
        expect_bad("[policy]\nmin-size = 2G\nmax-size = 1G\n", "min-size is larger");
        /* The first bad line is the one reported, not a later one. */
        expect_bad("[policy]\nmax-size = huge\nallow = nope\n", ":2: max-size = huge");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_file),
                cmocka_unit_test(test_school_names),
                cmocka_unit_test(test_journal_url),
                cmocka_unit_test(test_defaults_without_file),
                cmocka_unit_test(test_bad_lines_name_file_and_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
