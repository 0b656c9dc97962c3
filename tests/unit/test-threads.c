/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The threading rules of lib/device/device.h and lib/flash/flash.h, checked under
 * ThreadSanitizer (the tsan suite of a -Db_sanitize=thread build, TSAN_OPTIONS with
 * halt_on_error=1, so any report fails the test): several keys flashed at once sharing one
 * release through release_ref, and device_info references taken and dropped by several
 * threads while they read its fields. In other builds it runs as a plain unit test.
 *
 * No cmocka assertion runs in a worker (cmocka is not thread-safe): workers record what
 * they saw and the main thread asserts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/sysmacros.h>

#include "device/device.h"
#include "flash/flash.h"
#include "release-fixture.h"

#define KEY (80 * MIB)
#define N_KEYS 6
#define N_REF_THREADS 6
#define N_REF_ROUNDS 20000

struct key_job {
        struct release *release;             /* the worker's own reference */
        int fd;
        int r;
        struct flash_report rep;
        struct cart_error err;
        unsigned events;
};

static int count_event(void *userdata, const struct flash_report *r, enum flash_step step,
                       uint64_t done, uint64_t total) {
        struct key_job *j = userdata;
        j->events++;
        return 0;
}

static void *flash_one(void *arg) {
        struct key_job *j = arg;
        struct flash_target t = { .fd = j->fd, .size = KEY, .sector_size = 512, .is_new = true };
        struct flash_options o = {
                .release = j->release, .has_volume_id = true, .volume_id = 0x20260042,
                .time = 1788249600, .chunk_size = 256 * KIB, .on_event = count_event, .userdata = j,
        };

        j->r = flash_key(&t, &o, &j->rep, &j->err);
        j->release = release_unref(j->release);
        return NULL;
}

/* Same release, volume ID and time: every key gets the same bytes as one flashed alone. */
static void test_flashes_in_parallel(void **state) {
        struct fixture *f = *state;
        struct key_job jobs[N_KEYS] = {};
        pthread_t th[N_KEYS];
        _cleanup_free_ uint8_t *want = malloc(KEY), *got = malloc(KEY);
        char name[32];

        assert_non_null(want);
        assert_non_null(got);
        for (size_t i = 0; i < N_KEYS; i++) {
                snprintf(name, sizeof(name), "key%zu.img", i);
                jobs[i].fd = fixture_image(f, name, KEY);
                jobs[i].release = release_ref(f->release);
        }
        for (size_t i = 0; i < N_KEYS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, flash_one, &jobs[i]), 0);
        for (size_t i = 0; i < N_KEYS; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);

        for (size_t i = 0; i < N_KEYS; i++) {
                if (jobs[i].r < 0)
                        fail_msg("key %zu: %s", i, jobs[i].err.msg);
                assert_int_equal(jobs[i].rep.outcome, FLASH_OUTCOME_OK);
                assert_int_equal(jobs[i].rep.bytes_read, jobs[i].rep.bytes_written);
                assert_true(jobs[i].events > 4);
                assert_string_equal(jobs[i].rep.release_name, "college");
                assert_int_equal(pread(jobs[i].fd, i ? got : want, KEY, 0), (ssize_t) KEY);
                if (i && memcmp(want, got, KEY) != 0)
                        fail_msg("key %zu differs from key 0", i);
                close(jobs[i].fd);
        }
        /* The fixture's own reference is the last one: the release is still usable. */
        assert_string_equal(manifest_name(release_manifest(f->release)), "college");
}

struct ref_job {
        struct device_info *d;
        uint64_t size_seen;
        unsigned mismatches;
};

static void *ref_loop(void *arg) {
        struct ref_job *j = arg;

        for (unsigned i = 0; i < N_REF_ROUNDS; i++) {
                struct device_info *mine = device_info_ref(j->d);
                /* Fields are immutable after creation: read without a lock. */
                if (mine->size != j->size_seen || !mine->name)
                        j->mismatches++;
                device_info_unref(mine);
        }
        device_info_unref(j->d);        /* the reference the main thread gave this worker */
        return NULL;
}

/*
 * A disk of this machine, described from sysfs only (never opened: DEVICE_SCAN_NO_PROBE),
 * shared by threads that take and drop references. A plain integer count races here.
 */
static void test_device_refs_in_parallel(void **state) {
        const dev_t system[] = { makedev(0, 0) };
        struct device_policy p = { .max_size = UINT64_MAX };
        struct device_env env = {
                .mountinfo_path = "/dev/null", .swaps_path = "/dev/null",
                .system_devnums = system, .n_system_devnums = 1,
        };
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_info **list = NULL, *d;
        struct ref_job jobs[N_REF_THREADS];
        pthread_t th[N_REF_THREADS];
        struct cart_error err = {};
        size_t n = 0;

        if (device_context_new(&p, &env, &ctx, &err) < 0)
                fail_msg("device_context_new: %s", err.msg);
        if (device_scan(ctx, DEVICE_SCAN_ALL | DEVICE_SCAN_NO_PROBE, &list, &n, &err) < 0)
                fail_msg("device_scan: %s", err.msg);
        if (n == 0) {
                device_info_array_free(list, n);
                if (getenv("CI") && streq(getenv("CI"), "true"))
                        fail_msg("CI=true: no block device to share");
                skip();
        }
        d = device_info_ref(list[0]);
        device_info_array_free(list, n);        /* d is now held by this thread alone */
        for (size_t i = 0; i < N_REF_THREADS; i++) {
                jobs[i] = (struct ref_job) { .d = device_info_ref(d), .size_seen = d->size };
                assert_int_equal(pthread_create(&th[i], NULL, ref_loop, &jobs[i]), 0);
        }
        /* Dropped while the workers still use it: the last of them frees it. */
        device_info_unref(d);
        for (size_t i = 0; i < N_REF_THREADS; i++) {
                assert_int_equal(pthread_join(th[i], NULL), 0);
                assert_int_equal(jobs[i].mismatches, 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flashes_in_parallel),
                cmocka_unit_test(test_device_refs_in_parallel),
        };
        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
