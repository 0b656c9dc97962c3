/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "reason.h"
#include "base/error.h"
#include "fat/fat.h"
#include "flash/flash.h"
#include "flash/key-record.h"
#include "flash/layout.h"
#include "release-fixture.h"

#define KEY (96 * MIB)

struct events {
        enum flash_step steps[64];
        size_t n;
        uint64_t last_write_done, last_write_total;
};

static int on_event(void *userdata, const struct flash_report *r, enum flash_step step, uint64_t done, uint64_t total) {
        struct events *e = userdata;

        assert_int_equal(r->step, step);
        if (e->n == 0 || e->steps[e->n - 1] != step) {
                assert_true(e->n < ELEMENTSOF(e->steps));
                e->steps[e->n++] = step;
        }
        if (step == FLASH_STEP_WRITE && total) {
                e->last_write_done = done;
                e->last_write_total = total;
        }
        return 0;
}

static void test_flash_image(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, "key.img", KEY);
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_new = true };
        struct events ev = {};
        struct flash_options o = {
                .release = f->release, .has_volume_id = true, .volume_id = 0x20260001,
                .time = 1788249600, .on_event = on_event, .userdata = &ev, .chunk_size = 256 * KIB,
        };
        static const enum flash_step want[] = {
                FLASH_STEP_CHECK, FLASH_STEP_LAYOUT, FLASH_STEP_WRITE, FLASH_STEP_READBACK, FLASH_STEP_DONE,
        };
        struct flash_report rep;
        struct cart_error err = {};
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        struct fat_volume_info vi;
        struct fat_dirent de;
        uint64_t off, size;

        if (flash_key(&t, &o, &rep, &err) < 0)
                fail_msg("flash_key: %s", err.msg);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_OK);
        assert_int_equal(rep.error, 0);
        assert_int_equal(ev.n, ELEMENTSOF(want));
        assert_memory_equal(ev.steps, want, sizeof(want));
        assert_int_equal(ev.last_write_done, ev.last_write_total);
        assert_false(rep.is_probed);                  /* image files are not probed */
        assert_int_equal(rep.volume_id, 0x20260001);
        assert_string_equal(rep.release_name, "college");
        assert_string_equal(rep.release_version, "2026.1");
        assert_int_equal(rep.release_serial, 1);
        assert_int_equal(strlen(rep.release_key_id), 16);
        assert_int_equal(rep.partition_offset, MIB);
        assert_int_equal(rep.key.capacity, KEY);
        assert_true(rep.content_bytes >= MIB + 70000 + 10);
        assert_true(rep.bytes_written >= rep.content_bytes);
        /* A new image: the free-cluster part of the FATs is left as a hole. */
        assert_true(rep.bytes_written < rep.plan_bytes);
        assert_int_equal(rep.bytes_read, rep.bytes_written);
        assert_true(rep.started_usec > 0 && rep.finished_usec >= rep.started_usec);

        /* The volume is where the table says, with the release's label and our volume ID. */
        assert_int_equal(layout_find_volume(fd_read_at, (void *) (intptr_t) fd, KEY, &off, &size, &err), 0);
        assert_int_equal(off, MIB);
        assert_int_equal(fat_reader_open(fd_read_at, (void *) (intptr_t) fd, off, size, &fr, &err), 0);
        assert_int_equal(fat_reader_info(fr, &vi), 0);
        assert_string_equal(vi.label, "COLLEGE");
        assert_int_equal(vi.volume_id, 0x20260001);
        assert_int_equal(vi.cluster_size, rep.cluster_size);
        assert_int_equal(fat_reader_stat(fr, ".cartable/key.json", &de, &err), 0);
        assert_true(de.attrs & FAT_ATTR_HIDDEN);
        assert_true(de.attrs & FAT_ATTR_SYSTEM);
        fat_dirent_clear(&de);
        assert_int_equal(fat_reader_stat(fr, "Outils/outil.bin", &de, &err), 0);
        assert_int_equal(de.size, MIB);
        fat_dirent_clear(&de);
}

/* Same release, size, volume ID and time: the same bytes. */
static void test_plan_reproducible(void **state) {
        struct fixture *f = *state;
        struct flash_options o = { .release = f->release, .has_volume_id = true, .volume_id = 7, .time = 1788249600 };
        struct flash_target t = { .size = KEY, .sector_size = 512, .is_new = true };
        _cleanup_(flash_plan_freep) struct flash_plan *a = NULL, *b = NULL;
        struct flash_report ra = {}, rb = {};
        uint8_t *x = malloc(256 * KIB), *y = malloc(256 * KIB);
        const struct plan *pa, *pb;

        assert_int_equal(flash_plan_build(&t, &o, &ra, &a, NULL), 0);
        assert_int_equal(flash_plan_build(&t, &o, &rb, &b, NULL), 0);
        pa = flash_plan_get(a);
        pb = flash_plan_get(b);
        assert_int_equal(plan_count(pa), plan_count(pb));
        assert_int_equal(plan_bytes(pa), plan_bytes(pb));
        for (size_t i = 0; i < plan_count(pa); i++) {
                const struct plan_extent *e = plan_get(pa, i);
                assert_int_equal(e->offset, plan_get(pb, i)->offset);
                for (uint64_t at = e->offset; at < e->offset + e->length; at += 256 * KIB) {
                        size_t n = (size_t) MIN(256 * KIB, e->offset + e->length - at);
                        assert_int_equal(plan_read(pa, at, x, n, NULL), 0);
                        assert_int_equal(plan_read(pb, at, y, n, NULL), 0);
                        assert_memory_equal(x, y, n);
                }
        }
        /* Sector 0 is in the plan and holds the disk identifier drawn from the volume ID. */
        assert_int_equal(plan_get(pa, 0)->offset, 0);
        assert_int_equal(plan_read(pa, 440, x, 4, NULL), 0);
        assert_int_equal(x[0], 7);
        free(x);
        free(y);
}

static void test_too_small_is_refused_untouched(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, "small.img", 32 * MIB);
        struct flash_target t = { .fd = fd, .size = 32 * MIB, .sector_size = 512 };
        struct flash_options o = { .release = f->release };
        struct flash_report rep;
        struct cart_error err = {};
        struct stat st;

        assert_int_equal(flash_key(&t, &o, &rep, &err), -ENOSPC);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_REFUSED);
        assert_int_equal(rep.step, FLASH_STEP_CHECK);
        assert_int_equal(rep.error, -ENOSPC);
        assert_int_equal(err.reason, CART_REASON_TOO_SMALL);
        assert_string_equal(err.context, "check");
        assert_int_equal(err.value, 32 * MIB);          /* the key, then what the release needs */
        assert_true(err.limit > 32 * MIB);
        assert_int_equal(rep.reason, CART_REASON_TOO_SMALL);
        assert_int_equal(rep.failure.value, err.value);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_blocks, 0);              /* nothing written */
}

static void test_write_error_names_step_and_offset(void **state) {
        struct fixture *f = *state;
        char p[256];
        _cleanup_close_ int fd = -EBADF;
        struct flash_target t = { .size = KEY, .sector_size = 512 };
        struct flash_options o = { .release = f->release };
        struct flash_report rep;
        struct cart_error err = {};

        close(fixture_image(f, "ro.img", KEY));
        snprintf(p, sizeof(p), "%s/ro.img", f->dir);
        fd = open(p, O_RDONLY | O_CLOEXEC);     /* every write fails: EBADF */
        assert_true(fd >= 0);
        t.fd = fd;
        assert_int_equal(flash_key(&t, &o, &rep, &err), -EBADF);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_FAILED);
        assert_int_equal(rep.step, FLASH_STEP_WRITE);
        assert_true(rep.has_failed_offset);
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
        assert_int_equal(rep.reason, CART_REASON_IO_ERROR);
        assert_true(err.has_offset);
        assert_int_equal(err.offset, rep.failed_offset);
        assert_string_equal(err.context, "write");
        assert_non_null(strstr(ERROR_TEXT(&err, -EBADF), "write: at byte "));
        assert_non_null(strstr(ERROR_TEXT(&rep.failure, rep.error), "Bad file descriptor"));
}

static void test_key_json(void **state) {
        struct flash_report r = {
                .key = { .serial = "4C530001", .vid_pid = "0781:5581", .port = "2-1.3", .capacity = 8 * GIB },
                .real_capacity = 8 * GIB, .volume_id = 0xABCD1234, .release_name = "college",
                .release_version = "2026.1", .release_serial = 4, .release_key_id = "0123456789ABCDEF",
        };
        struct owner_fields owner = { .first_name = "Léa", .last_name = "Martin", .class_name = "6e B" };
        _cleanup_free_ char *json = NULL;

        assert_int_equal(flash_key_json(&r, &owner, 1788249600, &json, NULL), 0);
        assert_non_null(strstr(json, "\"serial\":\"4C530001\""));
        assert_non_null(strstr(json, "\"vid_pid\":\"0781:5581\""));
        assert_non_null(strstr(json, "\"volume_id\":\"ABCD-1234\""));
        assert_non_null(strstr(json, "\"flashed_at\":\"2026-09-01T08:00:00Z\""));
        assert_non_null(strstr(json, "\"first_name\":\"Léa\""));
        assert_non_null(strstr(json, "\"key_id\":\"0123456789ABCDEF\""));
}

/* Returns -ECANCELED once step has moved more than after bytes. */
struct cancel_at {
        enum flash_step step;
        uint64_t after;
        unsigned n_calls_after;          /* events seen after cancelling: must stay 0 */
        bool is_cancelled;
};

static int cancel_event(void *userdata, const struct flash_report *r, enum flash_step step, uint64_t done, uint64_t total) {
        struct cancel_at *c = userdata;

        (void) r;
        (void) total;
        if (c->is_cancelled) {
                c->n_calls_after++;
                return -ECANCELED;
        }
        if (step == c->step && done >= c->after) {
                c->is_cancelled = true;
                return -ECANCELED;
        }
        return 0;
}

static bool has_mbr(int fd) {
        uint8_t s0[512];

        assert_int_equal(pread(fd, s0, sizeof(s0), 0), (ssize_t) sizeof(s0));
        return s0[510] == 0x55 && s0[511] == 0xAA;
}

/* A good key first, then flashed again and cancelled at `step`: the old key is gone too. */
static void cancel_case(void **state, const char *name, enum flash_step step, uint64_t after) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, name, KEY);
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_new = true };
        struct cancel_at c = { .step = step, .after = after };
        struct flash_options o = { .release = f->release, .chunk_size = 64 * KIB };
        struct flash_report rep;
        struct cart_error err = {};
        uint64_t off, size;

        assert_int_equal(flash_key(&t, &o, &rep, &err), 0);
        assert_true(has_mbr(fd));
        t.is_new = false;
        o.on_event = cancel_event;
        o.userdata = &c;
        assert_int_equal(flash_key(&t, &o, &rep, &err), -ECANCELED);
        assert_true(c.is_cancelled);
        assert_int_equal(c.n_calls_after, 0);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_CANCELLED);
        assert_string_equal(flash_outcome_to_string(rep.outcome), "cancelled");
        assert_int_equal(rep.step, step);
        assert_int_equal(rep.error, -ECANCELED);
        assert_int_equal(rep.reason, CART_REASON_CANCELLED);
        assert_string_equal(rep.failure.msg, err.msg);
        assert_non_null(strstr(err.msg, flash_step_to_string(step)));
        assert_non_null(strstr(err.msg, "cancelled"));
        /* Not a key any more: no partition table, so nothing finds a volume. */
        assert_false(has_mbr(fd));
        assert_int_equal(layout_find_volume(fd_read_at, (void *) (intptr_t) fd, KEY, &off, &size, &err), -EMEDIUMTYPE);
}

static void test_cancel_during_write(void **state) {
        cancel_case(state, "cancel-write.img", FLASH_STEP_WRITE, 128 * KIB);
}

static void test_cancel_during_readback(void **state) {
        cancel_case(state, "cancel-read.img", FLASH_STEP_READBACK, 128 * KIB);
}

/* Cancelled before the write step: the new image was never written at all. */
static void test_cancel_before_write(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, "cancel-early.img", KEY);
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_new = true };
        struct cancel_at c = { .step = FLASH_STEP_LAYOUT };
        struct flash_options o = { .release = f->release, .on_event = cancel_event, .userdata = &c };
        struct flash_report rep;
        struct cart_error err = {};
        struct stat st;

        assert_int_equal(flash_key(&t, &o, &rep, &err), -ECANCELED);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_CANCELLED);
        assert_int_equal(rep.step, FLASH_STEP_LAYOUT);
        assert_non_null(strstr(err.msg, "layout: cancelled: nothing was written"));
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_blocks, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flash_image),
                cmocka_unit_test(test_plan_reproducible),
                cmocka_unit_test(test_too_small_is_refused_untouched),
                cmocka_unit_test(test_write_error_names_step_and_offset),
                cmocka_unit_test(test_key_json),
                cmocka_unit_test(test_cancel_during_write),
                cmocka_unit_test(test_cancel_during_readback),
                cmocka_unit_test(test_cancel_before_write),
        };
        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
