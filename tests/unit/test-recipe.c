/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "release/recipe.h"

static char *write_temp(const char *text) {
        char *path = strdup("/tmp/cartable-recipe-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        return path;
}

static void test_full_recipe(void **state) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct cart_error err = {};
        _cleanup_free_ char *path = write_temp(
                "; the example\n"
                "[release]\nname = ent-college\nversion = 2026.09\nserial = 7\ntime = 2026-09-01\n"
                "[layout]\nscheme = gpt\nlabel = ENT COLLEGE\nmin-size = 2G\nsealed = Ressources\n"
                "[content]\nbundle = content\nbundle = /abs/extra.tar.zst\ndirectory = Mes documents\n"
                "hidden = autorun.inf\ntemplate = index.html\nallow-domain = ent.example.fr\n"
                "[variables]\nENT_URL = https://ent.example.fr/\n"
                "[personalisation]\ntemplate = owner.txt\npath = A MOI.txt\n");
        _cleanup_free_ char *dir = strdup(path);

        *strrchr(dir, '/') = 0;
        assert_int_equal(recipe_new(&rc), 0);
        assert_int_equal(recipe_load(rc, path, &err), 0);
        assert_int_equal(recipe_check(rc, &err), 0);
        assert_string_equal(rc->name, "ent-college");
        assert_int_equal(rc->serial, 7);
        assert_true(rc->has_time);
        assert_int_equal(rc->time, 1788220800);
        assert_string_equal(rc->scheme, "gpt");
        assert_int_equal(rc->min_size, 2ULL << 30);
        assert_int_equal(rc->bundles.n, 2);
        /* Relative to the recipe's directory; absolute kept. */
        assert_true(strncmp(rc->bundles.v[0], dir, strlen(dir)) == 0);
        assert_string_equal(rc->bundles.v[0] + strlen(dir), "/content");
        assert_string_equal(rc->bundles.v[1], "/abs/extra.tar.zst");
        assert_true(strv_contains(&rc->directories, "Mes documents"));
        assert_string_equal(recipe_variable(rc, "ENT_URL"), "https://ent.example.fr/");
        assert_string_equal(rc->owner_path, "A MOI.txt");
        assert_string_equal(rc->owner_template + strlen(dir), "/owner.txt");

        /* Options override scalars and append to lists; their paths stay as given. */
        assert_int_equal(recipe_set(rc, "serial", "8", &err), 0);
        assert_int_equal(recipe_set(rc, "bundle", "more.zip", &err), 0);
        assert_int_equal(recipe_set(rc, "set", "ENT_URL=https://ent2.example.fr/", &err), 0);
        assert_int_equal(rc->serial, 8);
        assert_string_equal(rc->bundles.v[2], "more.zip");
        assert_string_equal(recipe_variable(rc, "ENT_URL"), "https://ent2.example.fr/");
        unlink(path);
}

static void expect_bad_file(const char *text, const char *in_msg) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct cart_error err = {};
        _cleanup_free_ char *path = write_temp(text);
        int r;

        assert_int_equal(recipe_new(&rc), 0);
        r = recipe_load(rc, path, &err);
        if (r != -EBADMSG || !strstr(err.msg, in_msg) || !strstr(err.msg, path))
                fail_msg("got %d \"%s\", expected \"%s\"", r, err.msg, in_msg);
        /* For machines: the class, the file and the line the message names. */
        assert_int_equal(err.reason, CART_REASON_BAD_INPUT);
        assert_string_equal(err.subject, path);
        assert_int_equal(err.line, atoi(in_msg + 1));  /* in_msg starts ":LINE:" */
        unlink(path);
}

static void test_bad_lines(void **state) {
        expect_bad_file("[release]\nname = a\nbogus = 1\n", ":3: unknown setting \"bogus\" in section [release]");
        expect_bad_file("[release]\n\nserial = -4\n", ":3: serial = -4");
        expect_bad_file("[layout]\nmin-size = lots\n", ":2: min-size = lots");
        expect_bad_file("[release]\ntime = yesterday\n", ":2: time = yesterday");
        expect_bad_file("[variables]\nent_url = x\n", ":2: variable \"ent_url\"");
        expect_bad_file("[release]\nname\n", ":2: not an INI line");
}

static void expect_recipe_error(const char *option, const char *value, const char *in_msg) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct cart_error err = {};

        assert_int_equal(recipe_new(&rc), 0);
        assert_int_equal(recipe_set(rc, "name", "ent", &err), 0);
        assert_int_equal(recipe_set(rc, "version", "1", &err), 0);
        assert_int_equal(recipe_set(rc, "serial", "1", &err), 0);
        assert_int_equal(recipe_set(rc, "bundle", "b.tar", &err), 0);
        assert_int_equal(recipe_check(rc, &err), 0);
        if (option)
                assert_int_equal(recipe_set(rc, option, value, &err), 0);
        int r = recipe_check(rc, &err);
        if (r >= 0 || !strstr(err.msg, in_msg))
                fail_msg("%s=%s: got %d \"%s\", expected \"%s\"", option, value, r, err.msg, in_msg);
}

static void test_check(void **state) {
        expect_recipe_error("name", "ent college", "name");
        expect_recipe_error("scheme", "apm", "scheme = apm");
        expect_recipe_error("label", "TOO LONG A LABEL", "label");
        expect_recipe_error("min-size", "1M", "min-size");
        expect_recipe_error("alignment", "3000", "alignment");
        expect_recipe_error("sealed", "../x", "sealed ../x");
        expect_recipe_error("owner-path", "A MOI.txt", "both template and path");
        expect_recipe_error("allow-domain", "Evil.COM", "allow-domain = Evil.COM");
        expect_recipe_error("hidden", "a/con", "hidden a/con");
}

static void test_times(void **state) {
        int64_t t;

        assert_int_equal(recipe_parse_time("0", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(recipe_parse_time("2026-09-01T08:00:00Z", &t), 0);
        assert_int_equal(t, 1788220800 + 8 * 3600);
        assert_int_equal(recipe_parse_time("2026-09-01T08:00:00", &t), -EINVAL);
        assert_int_equal(recipe_parse_time("", &t), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_recipe),
                cmocka_unit_test(test_bad_lines),
                cmocka_unit_test(test_check),
                cmocka_unit_test(test_times),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
