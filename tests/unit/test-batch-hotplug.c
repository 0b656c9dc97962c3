/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The batch engine driven by the device monitor, against umockdev test beds
 * (tests/data/umockdev): a stick present at start and one plugged in later are taken (and,
 * being umockdev's files and not block devices, fail at open: recorded with the identity of
 * their start), a write-protected stick is refused and never started, its removal reaches
 * the engine, and the same stick re-inserted with its switch off is taken; given as a
 * target (--target), a stick is known by the same USB identity. Runs under
 * umockdev-wrapper (meson does that); exits 77 otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/sysmacros.h>

#pragma GCC diagnostic ignored "-Wunused-function"   /* release-fixture.h's fixture_image() */
#include "release-fixture.h"
#include "batch/batch.h"
/* After device.h: glib redefines MIN and MAX. */
#include <umockdev.h>
#include "umockdev-bed.h"

#define RO_SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-6/2-6:1.0/host12/target12:0:0/12:0:0:0/block/sdf"

static UMockdevTestbed *tb;

static void add_bed(const char *name) {
        umockdev_bed_add(tb, name);
}

struct script {
        unsigned stage;
        struct batch *batch;
        char log[64][96];
        size_t n;
        uint64_t refused;
};

static void note(struct script *s, const char *what, const char *name) {
        assert_true(s->n < ELEMENTSOF(s->log));
        snprintf(s->log[s->n++], sizeof(s->log[0]), "%s %s", name, what);
}

static bool seen(const struct script *s, const char *line) {
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->log[i], line))
                        return true;
        return false;
}

/* The technician, as the batch's own events go by, never by the clock (a loaded host
 * stretches ticks, and the idle exit counts seconds): once the first key failed, plug a
 * write-protected one; once it is refused, pull it; once it is gone, plug it again with its
 * switch off; once that one ended, stop. Each at the next tick, outside the event that
 * prompted it. */
static void on_event(void *userdata, const struct batch_event *ev) {
        struct script *s = userdata;

        if (ev->slot && ev->kind != BATCH_TICK && ev->kind != BATCH_STEP && ev->kind != BATCH_PROGRESS)
                note(s, batch_event_name(ev->kind), strrchr(ev->slot->target, '/') + 1);
        if (ev->kind == BATCH_REFUSED) {
                assert_non_null(strstr(ev->slot->message, "write-protect"));
                /* The rules as data too, for cmd/'s words. */
                assert_true(ev->slot->refusals & DEVICE_REFUSED_READ_ONLY);
                assert_non_null(ev->slot->findings);
        }
        s->refused = ev->summary->n_refused;
        if (ev->kind != BATCH_TICK)
                return;
        static const char *const after[] = { "sdb failed", "sdf refused", "sdf removed", "sdj failed" };
        if (s->stage >= ELEMENTSOF(after) || !seen(s, after[s->stage]))
                return;
        switch (s->stage++) {
        case 0:
                add_bed("ro-stick");
                break;
        case 1:
                umockdev_testbed_uevent(tb, RO_SYSPATH, "remove");
                umockdev_testbed_remove_device(tb, "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-6");
                break;
        case 2:
                add_bed("reinserted");
                break;
        case 3:
                batch_stop(s->batch);
                break;
        }
}

static int count_interrupted(void *userdata, const struct journal_interrupted *k, int r, const struct cart_error *e) {
        (*(int *) userdata)++;
        return 0;
}

/* The "stick" test bed, a release, a journal and a station judging disks by policy. */
static void setup(struct fixture **f, struct journal **j, struct station **st, struct device_policy *policy) {
        struct journal_options jo = { .station = "atelier", .create = true };
        struct cart_error err = {};
        char path[256];

        *policy = (struct device_policy) { .min_size = CONFIG_DEFAULT_MIN_SIZE, .max_size = CONFIG_DEFAULT_MAX_SIZE };
        tb = umockdev_testbed_new();
        assert_non_null(tb);
        add_bed("stick");
        assert_int_equal(fixture_setup((void **) f), 0);
        snprintf(path, sizeof(path), "%s/j.db", (*f)->dir);
        assert_int_equal(journal_open(path, &jo, j, &err), 0);
        assert_int_equal(station_new((*f)->path, NULL, (*f)->trust, 0, st, &err), 0);
        station_set_policy(*st, policy);
}

static void test_hotplug(void **state) {
        struct fixture *f = NULL;
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(batch_freep) struct batch *b = NULL;
        struct device_policy policy;
        struct cart_error err = {};
        struct script s = {};
        int n = 0;

        setup(&f, &j, &st, &policy);

        /* Nothing of the real machine: empty mountinfo and swaps, a system disk elsewhere. */
        char mountinfo[] = "/tmp/cartable-batch-mi-XXXXXX", swaps[] = "/tmp/cartable-batch-sw-XXXXXX";
        int fd = mkstemp(mountinfo);
        assert_true(fd >= 0);
        close(fd);
        fd = mkstemp(swaps);
        assert_true(fd >= 0);
        assert_true(write(fd, "Filename\tType\tSize\tUsed\tPriority\n", 33) == 33);
        close(fd);
        struct device_env env = { .mountinfo_path = mountinfo, .swaps_path = swaps,
                                  .system_devnums = (const dev_t[]) { makedev(254, 0) }, .n_system_devnums = 1 };
        assert_int_equal(device_context_new(&policy, &env, &ctx, &err), 0);

        struct batch_options o = {
                .station = st, .journal = j, .trust = f->trust, .operator = "test",
                /* The idle exit only ends a run whose script broke (the events did not come). */
                .devices = ctx, .idle_exit = 60, .tick_msec = 20, .no_probe = true,
                .on_event = on_event, .userdata = &s,
        };
        assert_int_equal(batch_new(&o, &b, &err), 0);
        s.batch = b;
        if (batch_run(b, &err) < 0)
                fail_msg("batch_run: %s", err.msg);
        unlink(mountinfo);
        unlink(swaps);

        /* Present at start: taken. Plugged write-protected: refused, never started; pulled;
         * plugged again with the switch off (sdj): taken. */
        size_t i = 0;
        const char *want[] = { "sdb added", "sdb started", "sdb failed", "sdf refused", "sdf removed",
                               "sdj added", "sdj started", "sdj failed" };
        for (size_t w = 0; w < ELEMENTSOF(want); w++) {
                while (i < s.n && !streq(s.log[i], want[w]))
                        i++;
                if (i == s.n) {
                        for (size_t k = 0; k < s.n; k++)
                                fprintf(stderr, "  %s\n", s.log[k]);
                        fail_msg("\"%s\" not seen in order", want[w]);
                }
        }
        assert_int_equal(s.stage, 4);        /* stopped by the script, not by the idle exit */
        for (size_t k = 0; k < s.n; k++)
                assert_null(strstr(s.log[k], "sdf started"));
        assert_int_equal(s.refused, 1);

        /* The journal: two starts, each ended under the same key uid, nothing left open. */
        assert_int_equal(journal_interrupted_list(j, count_interrupted, &n, &err), 0);
        assert_int_equal(n, 0);
        uint32_t vol;
        assert_int_equal(journal_batch_last_flash(j, "usb:1234:5678:ABC123", "college", 1, &vol, &err), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        g_object_unref(tb);
        void *fp = f;
        fixture_teardown(&fp);
}

static int note_uid(void *userdata, const struct journal_event_row *e) {
        struct script *s = userdata;

        if (e->key_uid)
                note(s, e->kind, e->key_uid);
        return 0;
}

static void ignore_event(void *userdata, const struct batch_event *ev) {
}

/* A stick given by its /dev/disk/by-id path (--target), not found by the monitor: its start
 * and its end are recorded under its USB identity, the one an arrival of the same stick has
 * (its erase lookups use it), and nothing is left open for the next batch to close as
 * interrupted. */
static void test_target_identity(void **state) {
        struct fixture *f = NULL;
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(batch_freep) struct batch *b = NULL;
        struct device_policy policy;
        const char *targets[] = { "/dev/disk/by-id/usb-Feas_Stick_ABC123-0:0" };
        struct cart_error err = {};
        struct script s = {};
        int n = 0;

        setup(&f, &j, &st, &policy);

        struct batch_options o = {
                .station = st, .journal = j, .trust = f->trust, .operator = "test",
                .targets = targets, .n_targets = ELEMENTSOF(targets), .tick_msec = 20, .no_probe = true,
                .on_event = ignore_event,
        };
        assert_int_equal(batch_new(&o, &b, &err), 0);
        if (batch_run(b, &err) < 0)
                fail_msg("batch_run: %s", err.msg);

        assert_int_equal(journal_interrupted_list(j, count_interrupted, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_int_equal(journal_events_list(j, NULL, note_uid, &s, &err), 0);
        assert_true(s.n > 0);
        for (size_t k = 0; k < s.n; k++)
                if (!strstr(s.log[k], "usb:1234:5678:ABC123 "))
                        fail_msg("an event not of the stick's USB identity: %s", s.log[k]);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        g_object_unref(tb);
        void *fp = f;
        fixture_teardown(&fp);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hotplug),
                cmocka_unit_test(test_target_identity),
        };
        const char *preload = getenv("LD_PRELOAD");

        if (!preload || !strstr(preload, "libumockdev-preload")) {
                fprintf(stderr, "test-batch-hotplug: run under umockdev-wrapper\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
