/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/config.h"
#include "flash/verify.h"
#include "station/station.h"
#include "release-fixture.h"

#define N_WORKERS 4

struct world {
        struct fixture *f;
        struct cart_config *config;
};

static int setup(void **state) {
        struct world *w = calloc(1, sizeof(*w));
        struct cart_error err = {};
        char conf[256], text[256];

        assert_non_null(w);
        fixture_setup((void **) &w->f);
        snprintf(conf, sizeof(conf), "%s/cartable.conf", w->f->dir);
        snprintf(text, sizeof(text), "[station]\nstate-dir = %s/state\n", w->f->dir);
        fixture_write(w->f->dir, "cartable.conf", text, strlen(text));
        if (config_load(conf, &w->config, &err) < 0)
                fail_msg("config_load: %s", err.msg);
        *state = w;
        return 0;
}

static int teardown(void **state) {
        struct world *w = *state;

        config_free(w->config);
        fixture_teardown((void **) &w->f);
        free(w);
        return 0;
}

static void path_in(const struct world *w, const char *name, char *buf, size_t size) {
        assert_true((size_t) snprintf(buf, size, "%s/%s", w->f->dir, name) < size);
}

struct worker {
        struct station *station;
        char target[256];
        struct flash_report report;
        struct cart_error err;
        int r;
};

static void *work(void *userdata) {
        struct worker *k = userdata;
        struct station_key key = {
                .target = k->target, .image_size = 96 * MIB, .time = 1788249600, .chunk_size = 256 * KIB,
        };

        k->r = station_flash(k->station, &key, &k->report, &k->err);
        return NULL;
}

/* One release opened once, four keys at the same time: each intact, the serial recorded once. */
static void test_keys_in_threads(void **state) {
        struct world *w = *state;
        _cleanup_(station_freep) struct station *s = NULL;
        struct worker k[N_WORKERS] = {};
        pthread_t threads[N_WORKERS];
        struct cart_error err = {};
        char p[256];
        _cleanup_free_ char *serials = NULL;
        size_t len;

        if (station_new(w->f->path, w->config, w->f->trust, 0, &s, &err) < 0)
                fail_msg("station_new: %s", err.msg);
        for (size_t i = 0; i < N_WORKERS; i++) {
                char name[32];
                k[i].station = s;
                snprintf(name, sizeof(name), "key%zu.img", i);
                path_in(w, name, k[i].target, sizeof(k[i].target));
                assert_int_equal(pthread_create(&threads[i], NULL, work, &k[i]), 0);
        }
        for (size_t i = 0; i < N_WORKERS; i++)
                assert_int_equal(pthread_join(threads[i], NULL), 0);
        for (size_t i = 0; i < N_WORKERS; i++) {
                _cleanup_(verify_result_freep) struct verify_result *v = NULL;
                _cleanup_close_ int fd = open(k[i].target, O_RDONLY | O_CLOEXEC);

                if (k[i].r != 0)
                        fail_msg("%s: %s", k[i].target, k[i].err.msg);
                assert_int_equal(k[i].report.outcome, FLASH_OUTCOME_OK);
                assert_string_equal(k[i].report.key.device, k[i].target);
                assert_string_equal(k[i].report.release_name, "college");
                assert_true(fd >= 0);
                assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, 96 * MIB, w->f->trust, &v, &err), 0);
                assert_true(verify_result_is_intact(v));
        }
        path_in(w, "state/release-serials", p, sizeof(p));
        assert_int_equal(read_small_file(p, 4096, &serials, &len), 0);
        assert_non_null(strstr(serials, "college 1"));
}

/* A refused target: -EPERM, nothing touched, and the complete report a journal records. */
static void test_refusals_fill_the_report(void **state) {
        struct world *w = *state;
        _cleanup_(station_freep) struct station *s = NULL;
        struct flash_report rep;
        struct cart_error err = {};
        char p[256], back[16] = {};
        _cleanup_close_ int fd = -EBADF;

        assert_int_equal(station_new(w->f->path, w->config, w->f->trust, 0, &s, &err), 0);

        struct station_key self = { .target = w->f->path, .image_size = 96 * MIB, .force = true };
        assert_int_equal(station_flash(s, &self, &rep, &err), -EPERM);
        assert_non_null(strstr(err.msg, "this is the release being flashed"));
        assert_int_equal(rep.outcome, FLASH_OUTCOME_REFUSED);
        assert_int_equal(rep.step, FLASH_STEP_CHECK);
        assert_int_equal(rep.error, -EPERM);
        assert_string_equal(rep.key.device, w->f->path);
        assert_string_equal(rep.release_name, "college");
        assert_int_equal(rep.release_serial, 1);
        assert_string_equal(rep.failure.msg, err.msg);      /* the report keeps the failure's arguments */
        assert_true(rep.started_usec > 0);

        fixture_write(w->f->dir, "notes.txt", "mes notes\n", 10);
        path_in(w, "notes.txt", p, sizeof(p));
        struct station_key notes = { .target = p, .image_size = 96 * MIB };
        assert_int_equal(station_flash(s, &notes, &rep, &err), -EPERM);
        assert_non_null(strstr(err.msg, "notes.txt: exists and is not a key image"));
        assert_int_equal(rep.outcome, FLASH_OUTCOME_REFUSED);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(fd, back, sizeof(back)), 10);
        assert_string_equal(back, "mes notes\n");

        notes.force = true;
        assert_int_equal(station_flash(s, &notes, &rep, &err), 0);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_OK);

        struct station_key dev = { .target = "/dev/cartable-unit-test-absent", .image_size = 96 * MIB };
        assert_int_equal(station_flash(s, &dev, &rep, &err), -EPERM);
        assert_non_null(strstr(err.msg, "is the key plugged in?"));
        assert_int_equal(access(dev.target, F_OK), -1);
}

/* The dry run plans without creating anything. */
static void test_plan_writes_nothing(void **state) {
        struct world *w = *state;
        _cleanup_(station_freep) struct station *s = NULL;
        struct flash_report rep;
        struct cart_error err = {};
        size_t n = 0;
        char p[256];

        assert_int_equal(station_new(w->f->path, w->config, w->f->trust, 0, &s, &err), 0);
        path_in(w, "plan.img", p, sizeof(p));
        struct station_key k = { .target = p, .image_size = 96 * MIB };
        if (station_plan(s, &k, &rep, &n, &err) < 0)
                fail_msg("station_plan: %s", err.msg);
        assert_true(n > 3);
        assert_int_equal(rep.partition_offset, MIB);
        assert_true(rep.plan_bytes > rep.content_bytes);
        assert_int_equal(access(p, F_OK), -1);
}

static int cancel_in_write(void *userdata, const struct flash_report *r, enum flash_step step, uint64_t done, uint64_t total) {
        (void) userdata;
        (void) r;
        (void) total;
        return step == FLASH_STEP_WRITE && done > 0 ? -ECANCELED : 0;
}

/* A key cancelled into a new image file: the file is removed, the report says where. */
static void test_cancel_removes_new_image(void **state) {
        struct world *w = *state;
        _cleanup_(station_freep) struct station *s = NULL;
        struct flash_report rep;
        struct cart_error err = {};
        char p[256];

        assert_int_equal(station_new(w->f->path, w->config, w->f->trust, 0, &s, &err), 0);
        path_in(w, "cancel.img", p, sizeof(p));
        struct station_key k = {
                .target = p, .image_size = 96 * MIB, .chunk_size = 64 * KIB, .on_event = cancel_in_write,
        };
        assert_int_equal(station_flash(s, &k, &rep, &err), -ECANCELED);
        assert_int_equal(rep.outcome, FLASH_OUTCOME_CANCELLED);
        assert_int_equal(rep.step, FLASH_STEP_WRITE);
        assert_non_null(strstr(err.msg, "write: cancelled"));
        assert_int_equal(access(p, F_OK), -1);
}

/* --trust replaces the configuration's keys; an empty directory is named. */
static void test_trust_load(void **state) {
        struct world *w = *state;
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        struct cart_error err = {};
        char pub[256], empty[256];
        char *paths[1];
        struct cart_config conf = { .path = (char *) "station.conf" };

        path_in(w, "dep.pub", pub, sizeof(pub));
        path_in(w, "no-keys", empty, sizeof(empty));
        assert_int_equal(mkdir(empty, 0755), 0);

        conf.trust = paths;
        conf.n_trust = 1;
        paths[0] = empty;
        assert_int_equal(sign_trust_load(NULL, 0, &conf, &t, &err), -ENOKEY);
        assert_non_null(strstr(err.msg, "station.conf: [trust] key: "));
        assert_non_null(strstr(err.msg, "no-keys: no public key (*.pub) in this directory"));
        /* The command line's key alone: the configured directory is not even read. */
        char *given[] = { pub };
        assert_int_equal(sign_trust_load(given, 1, &conf, &t, &err), 0);
        assert_int_equal(sign_trust_count(t), 1);
        t = sign_trust_free(t);
        given[0] = empty;
        assert_int_equal(sign_trust_load(given, 1, NULL, &t, &err), -ENOKEY);
        assert_non_null(strstr(err.msg, "--trust: "));
        assert_int_equal(sign_trust_load(NULL, 0, NULL, &t, &err), -ENOKEY);
        assert_non_null(strstr(err.msg, "no trusted key: give --trust FILE|DIR"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys_in_threads),
                cmocka_unit_test(test_refusals_fill_the_report),
                cmocka_unit_test(test_plan_writes_nothing),
                cmocka_unit_test(test_cancel_removes_new_image),
                cmocka_unit_test(test_trust_load),
        };
        (void) fixture_image;   /* the fixture's helper for raw images: stations make their own */
        return cmocka_run_group_tests(tests, setup, teardown);
}
