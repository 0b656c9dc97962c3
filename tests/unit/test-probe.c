/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "reason.h"
#include "base/error.h"
#include "flash/probe.h"

/* An in-memory key: size announced, real bytes held; past them writes wrap or get lost. */
struct fake {
        uint8_t *mem;
        uint64_t real;
        bool is_wrap;
        uint64_t fail_at;        /* a read or write touching this byte fails with EIO; 0: never */
        unsigned writes;
};

/* Each block of a request on its own, as a fake key's controller maps each sector: a
 * request of several blocks may cross the real size. */
static void fake_io(struct fake *f, uint8_t *buf, size_t len, uint64_t off, bool is_write) {
        for (size_t done = 0; done < len;) {
                uint64_t at = off + done, phys = at;
                size_t n = MIN(len - done, 4096 - (size_t) (at % 4096));
                if (at >= f->real) {
                        if (!f->is_wrap) {
                                if (!is_write)
                                        memset(buf + done, 0, n);
                                done += n;
                                continue;
                        }
                        phys = at % f->real;
                }
                if (is_write)
                        memcpy(f->mem + phys, buf + done, n);
                else
                        memcpy(buf + done, f->mem + phys, n);
                done += n;
        }
}

static int fake_read(void *userdata, void *buf, size_t len, uint64_t off) {
        struct fake *f = userdata;
        if (f->fail_at && off <= f->fail_at && f->fail_at < off + len)
                return -EIO;
        fake_io(f, buf, len, off, false);
        return 0;
}

static int fake_write(void *userdata, const void *buf, size_t len, uint64_t off) {
        struct fake *f = userdata;
        f->writes++;
        if (f->fail_at && off <= f->fail_at && f->fail_at < off + len)
                return -EIO;
        fake_io(f, (uint8_t *) buf, len, off, true);
        return 0;
}

static struct fake *fake_new(uint64_t real, bool is_wrap) {
        struct fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->mem = malloc(real);
        assert_non_null(f->mem);
        for (uint64_t i = 0; i < real; i++)
                f->mem[i] = (uint8_t) (i * 7 + (i >> 12));
        f->real = real;
        f->is_wrap = is_wrap;
        return f;
}

static void fake_free(struct fake *f) {
        free(f->mem);
        free(f);
}

/* Every byte is as it was before the probe: it restores what it touched. */
static void assert_restored(const struct fake *f) {
        for (uint64_t i = 0; i < f->real; i++)
                if (f->mem[i] != (uint8_t) (i * 7 + (i >> 12)))
                        fail_msg("byte %llu not restored", (unsigned long long) i);
}

static void test_good_key(void **state) {
        struct fake *f = fake_new(64 * MIB, false);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res;
        struct cart_error err = {};

        assert_int_equal(probe_capacity(&io, 64 * MIB, 4096, 42, &res, &err), 0);
        assert_int_equal(res.verdict, PROBE_GOOD);
        assert_int_equal(res.real_size, 64 * MIB);
        assert_int_equal(res.announced_size, 64 * MIB);
        assert_true(res.blocks_probed > 60 && res.blocks_probed < 200);
        /* Seconds, not minutes: a few hundred blocks at most. */
        assert_true(f->writes < 500);
        assert_restored(f);
        fake_free(f);
}

static void test_wrap_around_fake(void **state) {
        struct fake *f = fake_new(32 * MIB, true);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res;

        assert_int_equal(probe_capacity(&io, 256 * MIB, 4096, 7, &res, NULL), 0);
        assert_int_equal(res.verdict, PROBE_ALIASED);
        assert_int_equal(res.real_size, 32 * MIB);
        assert_int_equal(res.announced_size, 256 * MIB);
        assert_restored(f);
        fake_free(f);

        /* As a failure: counterfeit, the kind, both sizes and the first bad block. */
        struct cart_error err = {};
        assert_int_equal(probe_verdict_error(&res, &err), -EPERM);
        assert_int_equal(err.reason, CART_REASON_COUNTERFEIT);
        assert_string_equal(err.label, "wrap-around");
        assert_int_equal(err.value, 32 * MIB);
        assert_int_equal(err.limit, 256 * MIB);
        assert_int_equal(err.offset, res.first_bad_offset);
        assert_non_null(strstr(ERROR_TEXT(&err, -EPERM), "counterfeit key: it announces 256.0 MiB but holds 32.0 MiB"));
}

static void test_wrap_not_power_of_two_restored(void **state) {
        /* Wraps at 1997 blocks: no power of two lands on block 0, so the bisection saves
         * blocks that alias ones the probe tagged already; the key keeps its bytes. */
        struct fake *f = fake_new(1997 * 4096, true);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res;

        assert_int_equal(probe_capacity(&io, 256 * MIB, 4096, 1997, &res, NULL), 0);
        assert_int_equal(res.verdict, PROBE_ALIASED);
        assert_true(res.real_size <= 1997 * 4096);
        assert_restored(f);
        fake_free(f);
}

static void test_lossy_fake_exact_size(void **state) {
        /* Not a power of two: the bisection finds the exact block. */
        uint64_t real = 40 * MIB + 12 * KIB;
        struct fake *f = fake_new(real, false);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res;

        assert_int_equal(probe_capacity(&io, 256 * MIB, 4096, 9, &res, NULL), 0);
        assert_int_equal(res.verdict, PROBE_LOST);
        assert_int_equal(res.real_size, real);
        assert_true(res.first_bad_offset >= real);
        assert_true(f->writes < 600);
        assert_restored(f);
        fake_free(f);

        struct cart_error err = {};
        assert_int_equal(probe_verdict_error(&res, &err), -EPERM);
        assert_int_equal(err.reason, CART_REASON_COUNTERFEIT);
        assert_string_equal(err.label, "lossy");
        assert_int_equal(err.value, real);
}

static void test_wrap_at_last_block_only(void **state) {
        /* A key short by a single block: the last sector is probed. */
        struct fake *f = fake_new(64 * MIB - 4096, false);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res;

        assert_int_equal(probe_capacity(&io, 64 * MIB, 4096, 1, &res, NULL), 0);
        assert_int_equal(res.verdict, PROBE_LOST);
        assert_int_equal(res.real_size, 64 * MIB - 4096);
        fake_free(f);
}

static void test_io_error_names_offset(void **state) {
        struct fake *f = fake_new(64 * MIB, false);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res = { .real_size = 123 };
        struct cart_error err = {};

        f->fail_at = 64 * MIB - 1;
        assert_int_equal(probe_capacity(&io, 64 * MIB, 4096, 3, &res, &err), -EIO);
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
        assert_true(err.has_offset);
        assert_int_equal(err.offset, 67104768);
        assert_string_equal(err.label, "probe read");
        assert_non_null(strstr(ERROR_TEXT(&err, -EIO), "at byte 67104768 (\"probe read\")"));
        assert_int_equal(res.real_size, 123);   /* untouched on failure */
        fake_free(f);
}

static void test_adjacent_blocks_in_one_request(void **state) {
        /* 85 probe blocks on 64 MiB, 70 runs of adjacent ones (2^k - 1 and 2^k, blocks 0-4):
         * one write per run to tag them, one per run to restore them. */
        struct fake *f = fake_new(64 * MIB, false);
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = f };
        struct probe_result res;

        assert_int_equal(probe_capacity(&io, 64 * MIB, 4096, 5, &res, NULL), 0);
        assert_int_equal(res.verdict, PROBE_GOOD);
        assert_int_equal(res.blocks_probed, 85);
        assert_int_equal(f->writes, 2 * 70);
        assert_int_equal(res.bytes_written, 2 * 85 * 4096);
        assert_restored(f);
        fake_free(f);

        /* A request of several blocks that fails is retried block by block: the error names
         * the block (1, inside the run of blocks 0-4), not the request. */
        struct cart_error err = {};
        f = fake_new(64 * MIB, false);
        io.userdata = f;
        f->fail_at = 4096 + 100;
        assert_int_equal(probe_capacity(&io, 64 * MIB, 4096, 5, &res, &err), -EIO);
        assert_int_equal(err.offset, 4096);
        assert_string_equal(err.label, "probe read");
        fake_free(f);
}

static void test_rejects_bad_block_size(void **state) {
        struct probe_io io = {};
        struct probe_result res;
        assert_int_equal(probe_capacity(&io, 64 * MIB, 3000, 1, &res, NULL), -EINVAL);
        assert_int_equal(probe_capacity(&io, 4096, 4096, 1, &res, NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_key),
                cmocka_unit_test(test_wrap_around_fake),
                cmocka_unit_test(test_adjacent_blocks_in_one_request),
                cmocka_unit_test(test_wrap_not_power_of_two_restored),
                cmocka_unit_test(test_lossy_fake_exact_size),
                cmocka_unit_test(test_wrap_at_last_block_only),
                cmocka_unit_test(test_io_error_names_offset),
                cmocka_unit_test(test_rejects_bad_block_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
