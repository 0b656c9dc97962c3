/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "reason.h"
#include "base/error.h"
#include "base/plan.h"
#include "flash/writer.h"

#define TARGET (16 * MIB)
#define FILL 0xEE

static int pattern_source(void *userdata, void *buf, size_t len, uint64_t offset) {
        uint8_t *b = buf;
        for (size_t i = 0; i < len; i++)
                b[i] = (uint8_t) ((offset + i) * 31 + ((offset + i) >> 9));
        return 0;
}

static int failing_source(void *userdata, void *buf, size_t len, uint64_t offset) {
        return -EIO;
}

/* A target file filled with FILL, on the disk (not tmpfs) so that O_DIRECT applies. */
static int target_new(char *path) {
        static uint8_t fill[MIB];
        int fd;

        memset(fill, FILL, sizeof(fill));
        strcpy(path, "/var/tmp/test-writer.XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        assert_true(fd >= 0);
        unlink(path);
        for (uint64_t off = 0; off < TARGET; off += MIB)
                assert_int_equal(pwrite_full(fd, fill, MIB, off), 0);
        return fd;
}

static void assert_fill(int fd, uint64_t off, uint64_t len) {
        uint8_t b[4096];
        while (len > 0) {
                size_t n = (size_t) MIN(len, sizeof(b));
                assert_int_equal(pread_full(fd, b, n, off), 0);
                for (size_t i = 0; i < n; i++)
                        if (b[i] != FILL)
                                fail_msg("byte %llu was written", (unsigned long long) (off + i));
                off += n;
                len -= n;
        }
}

static void assert_zero(int fd, uint64_t off, size_t len) {
        uint8_t b[4096];
        assert_true(len <= sizeof(b));
        assert_int_equal(pread_full(fd, b, len, off), 0);
        for (size_t i = 0; i < len; i++)
                if (b[i] != 0)
                        fail_msg("byte %llu holds 0x%02x, not zero", (unsigned long long) (off + i), b[i]);
}

static void assert_planned(int fd, const struct plan *p) {
        for (size_t i = 0; i < plan_count(p); i++) {
                const struct plan_extent *e = plan_get(p, i);
                uint8_t *want = malloc(e->length), *got = malloc(e->length);
                assert_int_equal(plan_read(p, e->offset, want, e->length, NULL), 0);
                assert_int_equal(pread_full(fd, got, e->length, e->offset), 0);
                assert_memory_equal(want, got, e->length);
                free(want);
                free(got);
        }
}

/* Boot sector at 0, a file that starts and ends mid-sector, zeros, a table at the end. */
static struct plan *sample_plan(cart_read_fn src) {
        struct plan *p;
        static uint8_t boot[512], tail[4096];

        memset(boot, 0xB0, sizeof(boot));
        memset(tail, 0x7A, sizeof(tail));
        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_data(p, 0, boot, sizeof(boot), "boot sector"), 0);
        assert_int_equal(plan_add_source(p, 1 * MIB + 100, 3 * MIB, src, NULL, 5, 3 * MIB - 1000, "/Cours/maths.pdf"), 0);
        assert_int_equal(plan_add_zero(p, 8 * MIB, 64 * KIB, "FAT #1 free"), 0);
        assert_int_equal(plan_add_data(p, TARGET - 4096, tail, sizeof(tail), "backup table"), 0);
        assert_int_equal(plan_finalize(p, TARGET, NULL), 0);
        return p;
}

static void test_write_then_verify(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(pattern_source);
        struct writer_options o = { .block_size = 512, .chunk_size = 256 * KIB, .use_direct = true };
        struct writer_stats st = {};
        struct cart_error err = {};
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_write(p, fd, &o, &st, NULL, &err), 0);
        assert_true(st.is_direct);
        assert_planned(fd, p);
        /* Free space and the unplanned bytes of shared sectors keep their old bytes. */
        assert_fill(fd, 512, 1 * MIB + 100 - 512);
        assert_fill(fd, 4 * MIB + 100, 8 * MIB - 4 * MIB - 100);
        assert_fill(fd, 8 * MIB + 64 * KIB, TARGET - 4096 - 8 * MIB - 64 * KIB);
        /* Aligned requests: the planned bytes rounded out to whole sectors, no more, and the
         * old sector 0 cleared first. */
        assert_int_equal(st.bytes_written, 512 + 512 + (3 * MIB + 512) + 64 * KIB + 4096);

        assert_int_equal(writer_verify(p, fd, &o, &st, NULL, &err), 0);
        assert_int_equal(st.bytes_read, st.bytes_written - 512);
}

static void test_verify_finds_difference(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(pattern_source);
        struct writer_options o = { .block_size = 4096, .chunk_size = 64 * KIB, .use_direct = true };
        struct cart_error err = {};
        uint64_t at = 0;
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_write(p, fd, &o, NULL, NULL, &err), 0);
        /* A byte outside the plan may change (the pupil's free space)... */
        assert_int_equal(pwrite_full(fd, "x", 1, 6 * MIB), 0);
        assert_int_equal(writer_verify(p, fd, &o, NULL, NULL, &err), 0);
        /* ...a planned one may not. */
        assert_int_equal(pwrite_full(fd, "x", 1, 2 * MIB + 3), 0);
        assert_int_equal(writer_verify(p, fd, &o, NULL, &at, &err), -EBADE);
        assert_int_equal(at, 2 * MIB + 3);
        assert_int_equal(err.reason, CART_REASON_READBACK_MISMATCH);
        assert_int_equal(err.errnum, EBADE);
        assert_true(err.has_offset);
        assert_int_equal(err.offset, 2097155);
        assert_string_equal(err.label, "/Cours/maths.pdf");
        assert_string_equal(ERROR_TEXT(&err, -EBADE),
                            "at byte 2097155 (\"/Cours/maths.pdf\"): the key holds other bytes than were written");
}

static void test_source_error_leaves_no_partition_table(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(failing_source);
        struct writer_options o = { .block_size = 512, .chunk_size = 128 * KIB, .use_direct = true };
        struct cart_error err = {};
        uint64_t at = 0;
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_write(p, fd, &o, NULL, &at, &err), -EIO);
        assert_int_equal(at, 1 * MIB + 100);
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
        assert_string_equal(err.label, "/Cours/maths.pdf");
        /* The new first sector is written last, and the old one (FILL: an old partition
         * table, which would point at half-written content) is cleared first. */
        assert_zero(fd, 0, 512);
}

/* 4096-byte sectors, a 512-byte boot sector: the rest of block 0 is not the plan's. */
static void test_source_error_clears_only_planned_bytes_of_sector0(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(failing_source);
        struct writer_options o = { .block_size = 4096, .chunk_size = 64 * KIB, .use_direct = true };
        struct writer_stats st = {};
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_write(p, fd, &o, &st, NULL, NULL), -EIO);
        assert_zero(fd, 0, 512);
        assert_fill(fd, 512, 4096 - 512);
        /* Nothing of the failed chunk reached the target. */
        assert_fill(fd, 4096, TARGET - 2 * 4096);
        assert_int_equal(st.bytes_written, 4096);
}

/* A chunk wholly planned, two files in it: the error names the one that failed. */
static void test_source_error_names_the_failing_extent(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct writer_options o = { .block_size = 512, .chunk_size = 256 * KIB, .use_direct = true };
        struct cart_error err = {};
        uint64_t at = 0;
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_add_source(p, 1 * MIB, 64 * KIB, pattern_source, NULL, 0, 64 * KIB, "/a.txt"), 0);
        assert_int_equal(plan_add_source(p, 1 * MIB + 64 * KIB, 64 * KIB, failing_source, NULL, 0, 64 * KIB, "/b.pdf"), 0);
        assert_int_equal(plan_finalize(p, TARGET, NULL), 0);

        assert_int_equal(writer_write(p, fd, &o, NULL, &at, &err), -EIO);
        assert_int_equal(at, 1 * MIB + 64 * KIB);
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
        assert_int_equal(err.offset, 1114112);
        assert_string_equal(err.label, "/b.pdf");
        assert_non_null(strstr(ERROR_TEXT(&err, -EIO), "at byte 1114112 (\"/b.pdf\")"));
}

static void test_skip_zero_keeps_holes(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(pattern_source);
        struct writer_options o = { .block_size = 512, .use_direct = false, .skip_zero = true };
        struct writer_stats st = {};
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_write(p, fd, &o, &st, NULL, NULL), 0);
        assert_false(st.is_direct);
        assert_fill(fd, 8 * MIB, 64 * KIB);
        assert_int_equal(st.bytes_written, 512 + (3 * MIB + 512) + 4096);
        assert_int_equal(writer_verify(p, fd, &o, &st, NULL, NULL), 0);
}

static unsigned progress_calls;
static uint64_t progress_last;
static int on_progress(void *userdata, enum writer_phase phase, uint64_t done, uint64_t total) {
        assert_true(done <= total);
        progress_calls++;
        progress_last = done;
        return 0;
}

static void test_progress_and_short_target(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(pattern_source);
        struct writer_options o = { .block_size = 512, .chunk_size = 64 * KIB, .progress = on_progress };
        struct cart_error err = {};
        uint64_t at = 0;
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_write(p, fd, &o, NULL, NULL, &err), 0);
        assert_true(progress_calls > 10);
        assert_int_equal(progress_last, 512 + (3 * MIB + 512) + 64 * KIB + 4096);
        /* A key that shrank (pulled, or lying about its size): read-back names the extent. */
        assert_int_equal(ftruncate(fd, 8 * MIB), 0);
        assert_int_equal(writer_verify(p, fd, &o, NULL, &at, &err), -EIO);
        assert_int_equal(at, 8 * MIB);
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
        assert_int_equal(err.offset, 8 * MIB);
        assert_string_equal(err.label, "FAT #1 free");
}

/* Every byte of the target is either planned or zero. */
static void assert_planned_or_zero(int fd, const struct plan *p) {
        _cleanup_free_ uint8_t *want = calloc(1, TARGET), *got = malloc(TARGET);

        assert_non_null(want);
        assert_non_null(got);
        for (size_t i = 0; i < plan_count(p); i++) {
                const struct plan_extent *e = plan_get(p, i);
                assert_int_equal(plan_read(p, e->offset, want + e->offset, e->length, NULL), 0);
        }
        assert_int_equal(pread_full(fd, got, TARGET, 0), 0);
        for (size_t i = 0; i < TARGET; i++)
                if (got[i] != want[i])
                        fail_msg("byte %zu holds 0x%02x, not 0x%02x", i, got[i], want[i]);
}

static int erase_phases;
static int count_erase(void *userdata, enum writer_phase phase, uint64_t done, uint64_t total) {
        erase_phases += phase == WRITER_ERASE;
        assert_true(done <= total);
        return 0;
}

/* The erase, then the write with zero_unplanned: nothing of the old bytes is left, not even
 * in the unplanned part of a sector the plan shares, and a sample reads back as zeros. */
static void test_erase_leaves_nothing_old(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(pattern_source);
        struct writer_options o = { .block_size = 512, .chunk_size = 256 * KIB, .use_direct = true,
                                    .zero_unplanned = true, .progress = count_erase };
        struct writer_stats st = {};
        struct cart_error err = {};
        uint64_t at = 0;
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_erase(p, fd, TARGET, &o, &st, NULL, &err), 0);
        assert_true(erase_phases > 0);
        /* Every unplanned sector, and sector 0 first: the key holds no table meanwhile. */
        assert_int_equal(st.bytes_written, TARGET - 3 * MIB - 1024 - 64 * KIB - 4096 + 512);
        assert_zero(fd, 0, 512);
        assert_int_equal(writer_erase_check(p, fd, TARGET, &o, 64, 42, &st, NULL, &err), 0);
        assert_true(st.bytes_read > 0);
        assert_int_equal(writer_write(p, fd, &o, NULL, NULL, &err), 0);
        assert_planned_or_zero(fd, p);
        assert_int_equal(writer_verify(p, fd, &o, NULL, NULL, &err), 0);

        /* A byte left non-zero in the erased area is found by a sample reading it. */
        assert_int_equal(pwrite_full(fd, "x", 1, 6 * MIB + 7), 0);
        for (uint64_t seed = 0; seed < 4096; seed++) {
                int r = writer_erase_check(p, fd, TARGET, &o, 64, seed, NULL, &at, &err);
                if (r < 0) {
                        assert_int_equal(r, -EBADE);
                        assert_int_equal(at, 6 * MIB + 7);
                        return;
                }
        }
        fail_msg("no sample read the non-zero byte");
}

/* The first and last erased blocks are always read back. */
static void test_erase_check_reads_the_ends(void **state) {
        _cleanup_(plan_freep) struct plan *p = sample_plan(pattern_source);
        struct writer_options o = { .block_size = 512, .chunk_size = 256 * KIB, .use_direct = true };
        struct cart_error err = {};
        uint64_t at = 0;
        char path[64];
        _cleanup_close_ int fd = target_new(path);

        assert_int_equal(writer_erase(p, fd, TARGET, &o, NULL, NULL, &err), 0);
        assert_int_equal(pwrite_full(fd, "x", 1, TARGET - 4096 - 1), 0);
        assert_int_equal(writer_erase_check(p, fd, TARGET, &o, 0, 1, NULL, &at, &err), -EBADE);
        assert_int_equal(at, TARGET - 4096 - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_erase_leaves_nothing_old),
                cmocka_unit_test(test_erase_check_reads_the_ends),
                cmocka_unit_test(test_write_then_verify),
                cmocka_unit_test(test_verify_finds_difference),
                cmocka_unit_test(test_source_error_leaves_no_partition_table),
                cmocka_unit_test(test_source_error_clears_only_planned_bytes_of_sector0),
                cmocka_unit_test(test_source_error_names_the_failing_extent),
                cmocka_unit_test(test_skip_zero_keeps_holes),
                cmocka_unit_test(test_progress_and_short_target),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
