/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "fat/fat.h"
#include "release/release-internal.h"

#define HEADER \
        "{ \"schema\": 1, \"name\": \"ent\", \"version\": \"1.0\", \"serial\": 4," \
        " \"created\": \"2026-09-01T00:00:00Z\", \"key-id\": \"0123456789ABCDEF\"," \
        " \"layout\": { \"scheme\": \"mbr\", \"label\": \"ENT\", \"alignment\": 1048576," \
        " \"min-size\": 1073741824, \"cluster-size\": 0, \"sealed\": [ %s ] },"

#define SHA "\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""

static int parse(const char *sealed, const char *rest, struct manifest **ret, struct cart_error *err) {
        _cleanup_free_ char *json = NULL;
        char *h;

        assert_true(asprintf(&h, HEADER, sealed) > 0);
        assert_true(asprintf(&json, "%s%s", h, rest) > 0);
        free(h);
        return manifest_parse(json, strlen(json), ret, err);
}

static void test_round_trip(void **state) {
        _cleanup_(manifest_freep) struct manifest *m = NULL, *back = NULL;
        struct release_file d = { .path = "Cours", .is_dir = true, .mtime = 1788220800 };
        struct release_file f = { .path = "Cours/élève.txt", .size = 3, .attrs = FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY,
                                  .mtime = 1788220801 };
        struct cart_error err = {};
        const struct release_file *g;

        memset(f.sha256, 0xab, sizeof(f.sha256));
        assert_int_equal(manifest_new(&m), 0);
        m->name = strdup("ent");
        m->version = strdup("2026.09");
        m->key_id = strdup("0123456789ABCDEF");
        m->serial = 12;
        m->created = 1788220800;
        m->layout.scheme = strdup("gpt");
        m->layout.label = strdup("ENT COLLEGE");
        m->layout.alignment = 4 * MIB;
        m->layout.min_size = 2 * GIB;
        m->layout.sealed = calloc(2, sizeof(char *));
        ((char **) m->layout.sealed)[0] = strdup("Cours");
        m->layout.n_sealed = 1;
        m->owner_path = strdup("A MOI.txt");
        m->owner_template = strdup("@FIRST_NAME@ @CLASS@\n");
        assert_int_equal(manifest_add_file(m, &d, &err), 0);
        assert_int_equal(manifest_add_file(m, &f, &err), 0);
        assert_int_equal(manifest_serialise(m), 0);
        assert_non_null(strstr(m->json, "\"attributes\": [\n        \"read-only\",\n        \"hidden\"\n      ]"));
        assert_non_null(strstr(m->json, "\"fields\": [\n      \"first_name\",\n      \"class\"\n    ]"));

        assert_int_equal(manifest_parse(m->json, m->json_len, &back, &err), 0);
        assert_string_equal(manifest_name(back), "ent");
        assert_string_equal(manifest_version(back), "2026.09");
        assert_int_equal(manifest_serial(back), 12);
        assert_int_equal(manifest_created(back), 1788220800);
        assert_string_equal(manifest_layout(back)->scheme, "gpt");
        assert_string_equal(manifest_layout(back)->label, "ENT COLLEGE");
        assert_int_equal(manifest_layout(back)->alignment, 4 * MIB);
        assert_string_equal(manifest_layout(back)->sealed[0], "Cours");
        assert_true(manifest_is_personalised(back));
        assert_false(manifest_is_verified(back));
        assert_int_equal(manifest_n_files(back), 2);
        g = manifest_file(back, 1);
        assert_string_equal(g->path, "Cours/élève.txt");
        assert_int_equal(g->size, 3);
        assert_int_equal(g->attrs, FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY);
        assert_int_equal(g->mtime, 1788220801);
        assert_memory_equal(g->sha256, f.sha256, 32);
        /* FAT compares names without case, accents included. */
        assert_ptr_equal(manifest_find(back, "COURS/ÉLÈVE.TXT"), g);
        assert_ptr_equal(manifest_find(back, "/cours"), manifest_file(back, 0));
        assert_null(manifest_find(back, "Cours/eleve.txt"));

        /* The same manifest gives the same bytes. */
        assert_int_equal(manifest_serialise(back), 0);
        assert_int_equal(back->json_len, m->json_len);
        assert_memory_equal(back->json, m->json, m->json_len);
}

static void expect_bad(const char *sealed, const char *rest, const char *in_msg) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        struct cart_error err = {};
        int r = parse(sealed, rest, &m, &err);

        if (r != -EBADMSG || !strstr(err.msg, in_msg))
                fail_msg("got %d \"%s\", expected \"%s\"", r, err.msg, in_msg);
        assert_int_equal(cart_error_reason(&err, r), CART_REASON_BAD_INPUT);
        assert_null(m);
}

static void test_bad(void **state) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        struct cart_error err = {};

        assert_int_equal(parse("", "\"files\": [] }", &m, &err), 0);
        m = manifest_free(m);
        /* The field at fault is an argument: "WHERE.KEY". */
        assert_int_equal(parse("", "\"files\": [], \"extra\": 1 }", &m, &err), -EBADMSG);
        assert_int_equal(err.reason, CART_REASON_BAD_INPUT);
        assert_non_null(strstr(err.label, ".extra"));
        expect_bad("", "\"files\": [], \"extra\": 1 }", "unknown key \"extra\"");
        expect_bad("", "\"files\": [] } x", "not JSON");
        expect_bad("", "\"files\": [ ", "not JSON");
        expect_bad("\"Docs\"", "\"files\": [] }", "sealed directory Docs");
        expect_bad("", "\"files\": [ { \"path\": \"b\", \"type\": \"file\", \"size\": 0, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" },"
                   " { \"path\": \"a\", \"type\": \"file\", \"size\": 0, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "a: out of layout order");
        expect_bad("", "\"files\": [ { \"path\": \"A\", \"type\": \"file\", \"size\": 0, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" },"
                   " { \"path\": \"a\", \"type\": \"file\", \"size\": 0, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "a: same name on FAT as A");
        expect_bad("", "\"files\": [ { \"path\": \"d/a\", \"type\": \"file\", \"size\": 0, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "d/a: its directory is not listed");
        expect_bad("", "\"files\": [ { \"path\": \"../a\", \"type\": \"file\", \"size\": 0, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "files[0]");
        expect_bad("", "\"files\": [ { \"path\": \"a\", \"type\": \"file\", \"size\": 4294967296, " SHA ", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "\"size\" is out of range");
        expect_bad("", "\"files\": [ { \"path\": \"a\", \"type\": \"file\", \"size\": 1, \"sha256\": \"00\", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "sha256 is not 64 hex digits");
        expect_bad("", "\"files\": [ { \"path\": \"a\", \"type\": \"file\", \"size\": 1, " SHA ", \"mtime\": \"2026-09-01 00:00\" } ] }",
                   "\"mtime\" is not a UTC time");
        expect_bad("", "\"files\": [ { \"path\": \"a\", \"type\": \"link\", \"mtime\": \"2026-09-01T00:00:00Z\" } ] }",
                   "type is neither");
        expect_bad("", "\"personalisation\": { \"path\": \"x.txt\", \"fields\": [ \"first_name\" ], "
                   "\"template\": \"@FIRST_NAME@ @INE@\" }, \"files\": [] }", "@INE@: personal data");
        expect_bad("", "\"personalisation\": { \"path\": \"x.txt\", \"fields\": [ \"first_name\" ], "
                   "\"template\": \"@FIRST_NAME@ @CLASS@\" }, \"files\": [] }", "the fields listed are not those");
}

static void test_layout_order(void **state) {
        assert_true(path_layout_cmp("a", "a/x") < 0);
        assert_true(path_layout_cmp("a/x", "a.txt") < 0);
        assert_true(path_layout_cmp("a/z", "a0") < 0);
        assert_true(path_layout_cmp("B", "a") < 0);
        assert_int_equal(path_layout_cmp("é", "é"), 0);
}

static void test_owner_template(void **state) {
        struct cart_error err = {};
        const char *ok = "@FIRST_NAME@ @LAST_NAME@, @CLASS@, @SCHOOL@ (contact@example.fr)";

        assert_int_equal(owner_template_check(ok, strlen(ok), "t", &err), 0xf);
        assert_int_equal(owner_template_check("@CLASS@ @CLASS@", 15, "t", &err), 1 << 2);
        assert_int_equal(owner_template_check("@DATE_NAISSANCE@", 16, "t", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "personal data"));
        assert_int_equal(owner_template_check("@PARENT_EMAIL@", 14, "t", &err), -EINVAL);
        assert_int_equal(owner_template_check("@NICKNAME@", 10, "t", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "unknown field"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_layout_order),
                cmocka_unit_test(test_owner_template),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
