/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flash_key refuses a key the capacity probe calls counterfeit, before writing a byte of the
 * release, without root: the target is an image file said to be a block device (so it is
 * probed), and the probe's fd (probe_fd, wrapped at link time: -Wl,--wrap=probe_fd) runs the
 * real probe_capacity() through its probe_io seam over that file, as a fake key's controller
 * would map it: writes past the real size wrap to lower blocks, or are lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/error.h"
#include "flash/flash.h"
#include "flash/probe.h"
#include "release-fixture.h"

#define KEY (128 * MIB)     /* a fake holds a quarter: 32 MiB, where real fakes wrap */

enum fake_kind { FAKE_HONEST, FAKE_WRAP, FAKE_LOST };

/* What the wrapped probe_fd does, and how often it was called. */
static enum fake_kind fake_kind;
static unsigned n_probes;

struct fake_key {
        int fd;
        uint64_t real;          /* the bytes the key really holds */
};

/* Each block on its own, as a fake controller maps each sector. */
static int fake_rw(struct fake_key *k, uint8_t *buf, size_t len, uint64_t off, bool is_write) {
        for (size_t done = 0; done < len; done += 512) {
                uint64_t at = off + done;
                ssize_t n;

                if (at >= k->real && fake_kind == FAKE_LOST) {
                        if (!is_write)
                                memset(buf + done, 0, 512);      /* what was written is gone */
                        continue;
                }
                at %= k->real;                                   /* FAKE_WRAP: address bits dropped */
                n = is_write ? pwrite(k->fd, buf + done, 512, (off_t) at) : pread(k->fd, buf + done, 512, (off_t) at);
                if (n != 512)
                        return n < 0 ? -errno : -EIO;
        }
        return 0;
}

static int fake_read(void *userdata, void *buf, size_t len, uint64_t off) {
        return fake_rw(userdata, buf, len, off, false);
}

static int fake_write(void *userdata, const void *buf, size_t len, uint64_t off) {
        return fake_rw(userdata, (uint8_t *) buf, len, off, true);
}

int __wrap_probe_fd(int fd, uint64_t size, uint32_t block_size, uint64_t seed, struct probe_result *ret,
                    struct cart_error *err);
int __wrap_probe_fd(int fd, uint64_t size, uint32_t block_size, uint64_t seed, struct probe_result *ret,
                    struct cart_error *err) {
        struct fake_key k = { .fd = fd, .real = fake_kind == FAKE_HONEST ? size : size / 4 };
        struct probe_io io = { .read = fake_read, .write = fake_write, .userdata = &k };

        n_probes++;
        return probe_capacity(&io, size, block_size, seed, ret, err);
}

/* The release's bytes are nowhere on the image: only the probe's blocks, restored to zeros. */
static void assert_all_zero(int fd) {
        static uint8_t buf[1 * MIB];
        struct stat st;

        assert_int_equal(fstat(fd, &st), 0);
        for (off_t off = 0; off < st.st_size; off += (off_t) sizeof(buf)) {
                ssize_t n = pread(fd, buf, sizeof(buf), off);
                assert_true(n > 0);
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i])
                                fail_msg("byte %lld of the refused key is written", (long long) (off + i));
        }
}

static void refused(void **state, enum fake_kind kind, const char *name, const char *label) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, name, KEY);
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_block_device = true, .is_new = true };
        struct flash_options o = { .release = f->release };
        struct flash_report rep;
        struct cart_error err = {};

        fake_kind = kind;
        n_probes = 0;
        assert_int_equal(flash_key(&t, &o, &rep, &err), -EPERM);
        assert_int_equal(n_probes, 1);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_REFUSED);
        assert_int_equal(rep.step, FLASH_STEP_PROBE);
        assert_true(rep.is_probed);
        assert_int_equal(rep.reason, CART_REASON_COUNTERFEIT);
        assert_int_equal(err.reason, CART_REASON_COUNTERFEIT);
        assert_int_equal(rep.real_capacity, KEY / 4);
        assert_int_equal(err.value, KEY / 4);                 /* the real size, then the announced one */
        assert_int_equal(err.limit, KEY);
        assert_string_equal(err.label, label);
        assert_int_equal(rep.bytes_written, 0);
        assert_all_zero(fd);
}

static void test_wrap_around_key_refused(void **state) {
        refused(state, FAKE_WRAP, "wrap.img", probe_verdict_kind(PROBE_ALIASED));
}

static void test_lossy_key_refused(void **state) {
        refused(state, FAKE_LOST, "lost.img", probe_verdict_kind(PROBE_LOST));
}

/* The same seam over an honest key: probed, found good, flashed. */
static void test_honest_key_flashed(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, "honest.img", KEY);
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_block_device = true, .is_new = true };
        struct flash_options o = { .release = f->release };
        struct flash_report rep;
        struct cart_error err = {};

        fake_kind = FAKE_HONEST;
        n_probes = 0;
        if (flash_key(&t, &o, &rep, &err) < 0)
                fail_msg("flash_key: %s", err.msg);
        assert_int_equal(n_probes, 1);
        assert_true(rep.is_probed);
        assert_int_equal(rep.probe_verdict, PROBE_GOOD);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_OK);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wrap_around_key_refused),
                cmocka_unit_test(test_lossy_key_refused),
                cmocka_unit_test(test_honest_key_flashed),
        };
        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
