/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/error.h"
#include "flash/key-record.h"
#include "release/release.h"

static const struct flash_report report = {
        .key = { .serial = "4C530001", .vid_pid = "0781:5581", .port = "2-1.3", .capacity = 8 * GIB },
        .real_capacity = 8 * GIB, .volume_id = 0xABCD1234, .release_name = "college",
        .release_version = "2026.1", .release_serial = 4, .release_key_id = "0123456789ABCDEF",
};

/* What flash writes, the parser reads back field for field. */
static void test_round_trip(void **state) {
        struct owner_fields owner = { .first_name = "Léa", .last_name = "Martin", .class_name = "6e B", .school = "" };
        struct key_record k, back;
        _cleanup_free_ char *json = NULL, *again = NULL;
        struct cart_error err = {};

        key_record_from_report(&report, &owner, 1788249600, &k);
        assert_int_equal(key_record_to_json(&k, &json, &err), 0);
        assert_int_equal(key_record_parse(json, strlen(json), &back, &err), 0);
        assert_int_equal(key_record_to_json(&back, &again, &err), 0);
        assert_string_equal(json, again);
        assert_string_equal(back.owner_first_name, "Léa");
        assert_true(back.has_owner);
        assert_int_equal(back.flashed_at, 1788249600);
        assert_int_equal(back.volume_id, 0xABCD1234);
        /* Without an owner, no owner object at all. */
        free(TAKE_PTR(json));
        key_record_from_report(&report, NULL, 1788249600, &k);
        assert_int_equal(key_record_to_json(&k, &json, &err), 0);
        assert_null(strstr(json, "owner"));
        assert_int_equal(key_record_parse(json, strlen(json), &back, &err), 0);
        assert_false(back.has_owner);
}

/* An owner field longer than the record holds is cut, never in the middle of a character. */
/* The record of a personalised key holds only the fields its owner template prints: the
 * family name of a template without @LAST_NAME@ is not on the key, and reads back as "". */
static void test_only_template_fields(void **state) {
        const struct owner_fields pupil = { .first_name = "Léa", .last_name = "Martin", .class_name = "6e B",
                                            .school = "0750001A" };
        const char *tpl = "Cette clé appartient à @FIRST_NAME@, classe @CLASS@, @SCHOOL@.\n";
        struct owner_fields owner;
        struct key_record k, back;
        _cleanup_free_ char *json = NULL, *again = NULL;
        struct cart_error err = {};

        assert_int_equal(owner_template_fields(tpl), 1u << 0 | 1u << 2 | 1u << 3);
        assert_int_equal(owner_template_fields(NULL), 0);
        assert_int_equal(owner_template_fields("@DATE_NAISSANCE@"), 0);   /* refused: nothing */
        owner = owner_fields_only(&pupil, owner_template_fields(tpl));
        assert_null(owner.last_name);
        key_record_from_report(&report, &owner, 1788249600, &k);
        assert_int_equal(key_record_to_json(&k, &json, &err), 0);
        assert_null(strstr(json, "last_name"));
        assert_null(strstr(json, "Martin"));
        assert_non_null(strstr(json, "\"first_name\":\"Léa\""));
        assert_int_equal(key_record_parse(json, strlen(json), &back, &err), 0);
        assert_true(back.has_owner);
        assert_string_equal(back.owner_last_name, "");
        assert_string_equal(back.owner_class, "6e B");
        assert_int_equal(key_record_to_json(&back, &again, &err), 0);
        assert_string_equal(json, again);
        /* A release without an owner file: an owner, of no field. */
        free(TAKE_PTR(json));
        owner = owner_fields_only(&pupil, 0);
        key_record_from_report(&report, &owner, 1788249600, &k);
        assert_int_equal(key_record_to_json(&k, &json, &err), 0);
        assert_null(strstr(json, "Léa"));
        assert_int_equal(key_record_parse(json, strlen(json), &back, &err), 0);
        assert_true(back.has_owner);
        assert_string_equal(back.owner_first_name, "");
}

static void test_cut_at_character(void **state) {
        char name[200];
        struct owner_fields owner = { .first_name = name };
        struct key_record k;

        memset(name, 'a', sizeof(name));
        memcpy(name + 125, "é", 2);             /* bytes 125-126 of a 127-byte field */
        name[sizeof(name) - 1] = 0;
        key_record_from_report(&report, &owner, 0, &k);
        assert_int_equal(strlen(k.owner_first_name), 127);
        memcpy(name + 125, "aé", 3);            /* bytes 126-127: cut before it */
        key_record_from_report(&report, &owner, 0, &k);
        assert_int_equal(strlen(k.owner_first_name), 126);
}

/* What an operator or a device passes never makes a record that does not read back. */
static void test_sanitised(void **state) {
        struct owner_fields owner = { .first_name = "L\tea\x1b[2J", .last_name = "\xc2\x9b" "2J",
                                      .class_name = "\xff\xc3", .school = "Coll\xc3\xa8ge \xed\xa0\x80" };
        struct key_record k, back;
        _cleanup_free_ char *json = NULL;
        struct cart_error err = {};

        key_record_from_report(&report, &owner, 0, &k);
        assert_string_equal(k.owner_first_name, "L?ea?[2J");
        assert_string_equal(k.owner_last_name, "?2J");
        assert_string_equal(k.owner_class, "??");
        assert_string_equal(k.owner_school, "Collège ???");
        assert_int_equal(key_record_to_json(&k, &json, &err), 0);
        assert_int_equal(key_record_parse(json, strlen(json), &back, &err), 0);
}

/* Each hostile record is refused, and the message names what is wrong. */
static void test_strict(void **state) {
        static const struct { const char *edit_from, *edit_to, *message; } cases[] = {
                { "\"port\"", "\"ine\":\"1\",\"port\"", "unknown key \"ine\"" },
                { "\"ABCD-1234\"", "\"ABCD1234\"", "\"volume_id\" is not XXXX-XXXX" },
                { "\"ABCD-1234\"", "\"ABCD-12G4\"", "\"volume_id\" is not XXXX-XXXX" },
                { "\"0123456789ABCDEF\"", "\"0123\"", "\"key_id\" is not 16 hex digits" },
                { "\"2026-09-01T08:00:00Z\"", "\"yesterday\"", "\"flashed_at\" is not a UTC time" },
                { "\"serial\":4", "\"serial\":-4", "\"serial\" is out of range" },
                { "\"serial\":4", "\"serial\":\"4\"", "\"serial\" has the wrong type" },
                { "\"2-1.3\"", "\"2-1\\u001b]2;x\\u0007\"", "\"port\" holds a control character" },
                { "\"2-1.3\"", "\"\\u009b2J\"", "\"port\" holds a control character" },
                { "\"0781:5581\"", "\"usb\"", "\"vid_pid\" is not VVVV:PPPP" },
                { "\"release\":{", "\"release\":{\"x\":{\"y\":{\"z\":{}}},", "key record: not JSON" },
                { "\"flashed_at\":\"2026-09-01T08:00:00Z\"", "\"flashed_at\":\"2026-09-01T08:00:00Z\"}{", "key record: not JSON" },
        };
        struct key_record k;
        _cleanup_free_ char *json = NULL;
        char *compact;

        key_record_from_report(&report, NULL, 1788249600, &k);
        assert_int_equal(key_record_to_json(&k, &json, NULL), 0);
        /* One line, no spaces: the edits below match it byte for byte. */
        compact = json;
        for (char *p = json; *p; p++)
                if (*p != ' ' && *p != '\n')
                        *compact++ = *p;
        *compact = 0;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[1024], *at = strstr(json, cases[i].edit_from);
                struct cart_error err = {};
                size_t n;

                assert_non_null(at);
                n = (size_t) (at - json);
                snprintf(buf, sizeof(buf), "%.*s%s%s", (int) n, json, cases[i].edit_to, at + strlen(cases[i].edit_from));
                assert_int_equal(key_record_parse(buf, strlen(buf), &k, &err), -EBADMSG);
                if (!strstr(err.msg, cases[i].message))
                        fail_msg("case %zu: \"%s\" not in \"%s\"", i, cases[i].message, err.msg);
        }
}

/* Sizes are bounded before parsing: a long field, a huge file, a NUL byte. */
static void test_bounds(void **state) {
        struct key_record k;
        struct cart_error err = {};
        _cleanup_free_ char *huge = malloc(KEY_RECORD_MAX + 2);
        char buf[2048];

        snprintf(buf, sizeof(buf), "{\"key\":{\"serial\":\"%0200d\",\"vid_pid\":\"\",\"port\":\"\",\"capacity\":0,"
                 "\"real_capacity\":0},\"volume_id\":\"0000-0001\",\"release\":{\"name\":\"a\",\"version\":\"1\","
                 "\"serial\":1,\"key_id\":\"0123456789abcdef\"},\"flashed_at\":\"2026-09-01T08:00:00Z\"}", 0);
        assert_int_equal(key_record_parse(buf, strlen(buf), &k, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "\"serial\" is longer than 127 bytes"));
        assert_non_null(huge);
        memset(huge, ' ', KEY_RECORD_MAX + 1);
        huge[0] = '{';
        huge[KEY_RECORD_MAX] = '}';
        assert_int_equal(key_record_parse(huge, KEY_RECORD_MAX + 1, &k, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "larger than 64 KiB"));
        assert_int_equal(key_record_parse("{}\0", 3, &k, &err), -EBADMSG);
        assert_int_equal(key_record_parse("[]", 2, &k, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "not a JSON object"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_only_template_fields),
                cmocka_unit_test(test_cut_at_character),
                cmocka_unit_test(test_sanitised),
                cmocka_unit_test(test_strict),
                cmocka_unit_test(test_bounds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
