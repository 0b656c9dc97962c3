/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the tests of lib/device share (test-device-scan.c, -policy.c, -target.c, -monitor.c):
 * a umockdev test bed (tests/data/umockdev) per test, device contexts that read nothing of
 * the real machine, and the check that they run under umockdev-wrapper.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "reason.h"
#include "device/device.h"
/* After device.h: glib redefines MIN and MAX (it #undefs them first). */
#include <umockdev.h>
#include "umockdev-bed.h"

#define STICK_SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-9/2-9:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
#define RO_SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-6/2-6:1.0/host12/target12:0:0/12:0:0:0/block/sdf"
#define HDD_USB_SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-4"

static UMockdevTestbed *tb;
static char *tmp_files[16];
static size_t n_tmp_files;

static const struct device_policy default_policy = {
        .min_size = CONFIG_DEFAULT_MIN_SIZE,
        .max_size = CONFIG_DEFAULT_MAX_SIZE,
};

static inline void add_bed(const char *name) {
        umockdev_bed_add(tb, name);
}

static inline int setup(void **state) {
        tb = umockdev_testbed_new();
        return tb ? 0 : -1;
}

static inline int teardown(void **state) {
        g_object_unref(tb);
        tb = NULL;
        for (size_t i = 0; i < n_tmp_files; i++) {
                unlink(tmp_files[i]);
                free(tmp_files[i]);
        }
        n_tmp_files = 0;
        return 0;
}

static inline const char *write_temp(const char *text) {
        char *path = strdup("/tmp/cartable-device-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        assert_true(n_tmp_files < ELEMENTSOF(tmp_files));
        tmp_files[n_tmp_files++] = path;
        return path;
}

/* A context that reads nothing of the real machine: empty mountinfo and swaps. */
static inline struct device_context *context_with(const struct device_policy *p, const char *mountinfo,
                                           const char *swaps, const dev_t *system, size_t n_system) {
        struct device_env env = {
                .mountinfo_path = write_temp(mountinfo ? mountinfo : ""),
                .swaps_path = write_temp(swaps ? swaps : "Filename\tType\tSize\tUsed\tPriority\n"),
                .system_devnums = system ? system : (const dev_t[]) { makedev(254, 0) },
                .n_system_devnums = system ? n_system : 1,
        };
        struct device_context *ctx = NULL;
        struct cart_error err = {};

        if (device_context_new(p ? p : &default_policy, &env, &ctx, &err) < 0)
                fail_msg("device_context_new: %s", err.msg);
        return ctx;
}

static inline struct device_info *find(struct device_context *ctx, const char *name, unsigned flags) {
        struct device_info **list = NULL, *d = NULL;
        struct cart_error err = {};
        size_t n = 0;

        if (device_scan(ctx, flags | DEVICE_SCAN_ALL, &list, &n, &err) < 0)
                fail_msg("device_scan: %s", err.msg);
        for (size_t i = 0; i < n; i++)
                if (streq(list[i]->name, name))
                        d = device_info_ref(list[i]);
        device_info_array_free(list, n);
        if (!d)
                fail_msg("%s not found", name);
        return d;
}

/* Exactly these refusal bits, and a reason naming each one with detail. */
static inline void expect_refusals(const struct device_info *d, unsigned bits, const char *detail) {
        unsigned n = (unsigned) __builtin_popcount(bits);
        bool found = !detail;

        if (d->refusals != bits)
                fail_msg("%s: refusals 0x%x, expected 0x%x", d->name, d->refusals, bits);
        assert_int_equal(d->n_reasons, n);
        for (size_t i = 0; i < d->n_reasons; i++)
                if (detail && strstr(d->reasons[i], detail))
                        found = true;
        if (!found)
                fail_msg("%s: no reason mentions \"%s\" (first: %s)", d->name, detail, d->n_reasons ? d->reasons[0] : "-");
}

/* Runs tests under umockdev-wrapper (meson does that); 77 otherwise, 1 when CI=true: these
 * are the target policy's tests, which CI must never skip. */
static inline int device_test_run(const char *group, const struct CMUnitTest *tests, size_t n) {
        const char *preload = getenv("LD_PRELOAD");

        if (!preload || !strstr(preload, "libumockdev-preload")) {
                fprintf(stderr, "%s: run under umockdev-wrapper\n", group);
                return getenv("CI") && streq(getenv("CI"), "true") ? 1 : 77;
        }
        return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}
