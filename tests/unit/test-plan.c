/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/plan.h"

static int counting_source(void *userdata, void *buf, size_t len, uint64_t offset) {
        uint8_t *b = buf;
        for (size_t i = 0; i < len; i++)
                b[i] = (uint8_t) (offset + i);
        (*(int *) userdata)++;
        return 0;
}

static int failing_source(void *userdata, void *buf, size_t len, uint64_t offset) {
        return -EIO;
}

static void test_sorted_and_counted(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct cart_error err = {};
        int calls = 0;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_zero(p, 4096, 512, "zero"), 0);
        assert_int_equal(plan_add_data_copy(p, 0, "hello", 5, "boot"), 0);
        assert_int_equal(plan_add_source(p, 8192, 1024, counting_source, &calls, 100, 1000, "file"), 0);
        assert_int_equal(plan_finalize(p, 0, &err), 0);
        assert_int_equal(plan_count(p), 3);
        assert_int_equal(plan_get(p, 0)->offset, 0);
        assert_string_equal(plan_get(p, 0)->label, "boot");
        assert_int_equal(plan_get(p, 1)->offset, 4096);
        assert_int_equal(plan_get(p, 2)->offset, 8192);
        assert_int_equal(plan_bytes(p), 5 + 512 + 1024);
        assert_int_equal(plan_end(p), 8192 + 1024);
}

static void test_read_source_then_slack_zero(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        uint8_t buf[1024];
        int calls = 0;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_source(p, 0, 1024, counting_source, &calls, 100, 1000, "file"), 0);
        assert_int_equal(plan_finalize(p, 0, NULL), 0);
        memset(buf, 0xAA, sizeof(buf));
        assert_int_equal(plan_read(p, 0, buf, sizeof(buf), NULL), 0);
        assert_int_equal(buf[0], 100);        /* source offset 100 */
        assert_int_equal(buf[999], (uint8_t) 1099);
        for (int i = 1000; i < 1024; i++)
                assert_int_equal(buf[i], 0);  /* cluster slack reads as zero */
        /* A read that starts inside the slack never calls the source. */
        calls = 0;
        assert_int_equal(plan_read(p, 1010, buf, 14, NULL), 0);
        assert_int_equal(calls, 0);
}

static void test_read_spans_extents_and_gaps(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        const struct plan_extent *failed = NULL;
        uint8_t buf[16];

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_data_copy(p, 0, "abcd", 4, "a"), 0);
        assert_int_equal(plan_add_zero(p, 4, 4, "b"), 0);
        assert_int_equal(plan_add_source(p, 8, 4, failing_source, NULL, 0, 4, "bad file"), 0);
        assert_int_equal(plan_add_data_copy(p, 20, "z", 1, "after gap"), 0);
        assert_int_equal(plan_finalize(p, 0, NULL), 0);
        assert_int_equal(plan_read(p, 0, buf, 8, NULL), 0);
        assert_memory_equal(buf, "abcd\0\0\0\0", 8);
        assert_int_equal(plan_read(p, 2, buf, 8, &failed), -EIO);
        assert_non_null(failed);
        assert_string_equal(failed->label, "bad file");
        /* Bytes between extents are not part of the plan. */
        assert_int_equal(plan_read(p, 18, buf, 3, NULL), -ERANGE);
}

static void test_overlap_is_refused_with_names(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct cart_error err = {};

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_zero(p, 0, 100, "first"), 0);
        assert_int_equal(plan_add_zero(p, 99, 10, "second"), 0);
        assert_int_equal(plan_finalize(p, 0, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "first"));
        assert_non_null(strstr(err.msg, "second"));
}

static void test_limit(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct cart_error err = {};

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_zero(p, 1000, 100, "tail"), 0);
        assert_int_equal(plan_finalize(p, 1099, &err), -ENOSPC);
        assert_non_null(strstr(err.msg, "tail"));
}

static void test_wipes_trimmed_and_merged(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        const struct plan_extent *e;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_data_copy(p, 512, "MBR?", 4, "real-1"), 0);
        assert_int_equal(plan_add_zero(p, 2048, 1024, "real-2"), 0);
        /* Overlapping wipes [0,1024) and [1000,4096) merge; real extents cut them. */
        assert_int_equal(plan_add_wipe(p, 0, 1024, "wipe-a"), 0);
        assert_int_equal(plan_add_wipe(p, 1000, 3096, "wipe-b"), 0);
        /* A wipe entirely under a real extent vanishes. */
        assert_int_equal(plan_add_wipe(p, 2100, 10, "wipe-c"), 0);
        assert_int_equal(plan_finalize(p, 0, NULL), 0);

        /* Expected: wipe [0,512) real-1 [512,516) wipe [516,2048) real-2 [2048,3072) wipe [3072,4096) */
        assert_int_equal(plan_count(p), 5);
        e = plan_get(p, 0); assert_true(e->is_wipe); assert_int_equal(e->offset, 0);    assert_int_equal(e->length, 512);
        e = plan_get(p, 1); assert_false(e->is_wipe); assert_int_equal(e->offset, 512);
        e = plan_get(p, 2); assert_true(e->is_wipe); assert_int_equal(e->offset, 516);  assert_int_equal(e->length, 2048 - 516);
        e = plan_get(p, 3); assert_false(e->is_wipe); assert_int_equal(e->offset, 2048);
        e = plan_get(p, 4); assert_true(e->is_wipe); assert_int_equal(e->offset, 3072); assert_int_equal(e->length, 1024);
        assert_int_equal(plan_bytes(p), 4096);
}

static void test_wipe_alone_and_empty_plan(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL, *q = NULL;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_finalize(p, 0, NULL), 0);
        assert_int_equal(plan_count(p), 0);
        assert_int_equal(plan_bytes(p), 0);
        assert_int_equal(plan_add_zero(p, 0, 1, "late"), -EBUSY);

        assert_int_equal(plan_new(&q), 0);
        assert_int_equal(plan_add_wipe(q, 1 << 20, 33 * 512, "GPT backup"), 0);
        assert_int_equal(plan_finalize(q, 0, NULL), 0);
        assert_int_equal(plan_count(q), 1);
        assert_int_equal(plan_find(q, 0), 0);
        assert_int_equal(plan_find(q, (1 << 20) + 33 * 512), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sorted_and_counted),
                cmocka_unit_test(test_read_source_then_slack_zero),
                cmocka_unit_test(test_read_spans_extents_and_gaps),
                cmocka_unit_test(test_overlap_is_refused_with_names),
                cmocka_unit_test(test_limit),
                cmocka_unit_test(test_wipes_trimmed_and_merged),
                cmocka_unit_test(test_wipe_alone_and_empty_plan),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
