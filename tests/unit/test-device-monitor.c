/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/device's hot-plug monitor against umockdev test beds: add, change, remove, and a key
 * plugged in again recognised by its serial.
 */
#include "device-test.h"

/* ---- hot-plug ---- */

struct seen {
        enum device_action action[8];
        char serial[8][32];
        bool reinserted[8], eligible[8], probed[8];
        char name[8][16];
        size_t n;
};

static int record(const struct device_event *ev, void *userdata) {
        struct seen *s = userdata;

        assert_true(s->n < 8);
        s->action[s->n] = ev->action;
        snprintf(s->serial[s->n], sizeof(s->serial[0]), "%s", ev->info->serial ? ev->info->serial : "");
        s->reinserted[s->n] = ev->is_reinserted;
        s->eligible[s->n] = device_info_is_eligible(ev->info);
        s->probed[s->n] = ev->info->content.is_probed;
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s", ev->info->name);
        s->n++;
        return 0;
}

/* Waits for events until `want` were dispatched or two seconds passed. */
static void pump(struct device_monitor *m, struct seen *s, size_t want) {
        struct cart_error err = {};

        for (int i = 0; i < 20 && s->n < want; i++) {
                struct pollfd p = { .fd = device_monitor_fd(m), .events = POLLIN };
                if (poll(&p, 1, 100) > 0)
                        assert_true(device_monitor_process(m, &err) >= 0);
        }
        assert_int_equal(s->n, want);
}

/*
 * umockdev emits "add" for every device it adds, through a datagram socket that queues at
 * most 10 messages (net.unix.max_dgram_qlen): the beds are added one stick at a time.
 */
static void test_monitor_add_remove_reinsert(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_monitor_freep) struct device_monitor *m = NULL;
        struct cart_error err = {};
        struct seen s = {};

        add_bed("stick");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        assert_int_equal(device_monitor_new(ctx, record, &s, &m, &err), 0);
        assert_true(device_monitor_fd(m) >= 0);
        assert_int_equal(device_monitor_process(m, &err), 0);   /* the stick present before: no event */

        add_bed("ro-stick");
        pump(m, &s, 1);
        assert_int_equal(s.action[0], DEVICE_ADD);
        assert_string_equal(s.serial[0], "RO00001");
        assert_false(s.reinserted[0]);
        assert_false(s.eligible[0]);                      /* read-only */
        add_bed("held-stick");
        pump(m, &s, 2);
        assert_int_equal(s.action[1], DEVICE_ADD);
        assert_string_equal(s.serial[1], "HELD001");
        assert_true(s.probed[0] && s.probed[1]);          /* by default, content probed */

        umockdev_testbed_uevent(tb, RO_SYSPATH, "change");
        pump(m, &s, 3);
        assert_int_equal(s.action[2], DEVICE_CHANGE);
        assert_string_equal(s.serial[2], "RO00001");

        umockdev_testbed_uevent(tb, RO_SYSPATH, "remove");
        umockdev_testbed_remove_device(tb, "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-6");
        pump(m, &s, 4);
        assert_int_equal(s.action[3], DEVICE_REMOVE);
        assert_string_equal(s.serial[3], "RO00001");      /* the info last seen */

        /* Plugged again on another port (sdj): the same serial is recognised. */
        add_bed("reinserted");
        pump(m, &s, 5);
        assert_int_equal(s.action[4], DEVICE_ADD);
        assert_string_equal(s.serial[4], "RO00001");
        assert_string_equal(s.name[4], "sdj");
        assert_true(s.reinserted[4]);
        assert_true(s.eligible[4]);                       /* its write-protect switch is off now */

        /* The batch's monitor: identity and verdict only, the key never read here. */
        device_monitor_set_flags(m, DEVICE_SCAN_NO_PROBE);
        umockdev_testbed_uevent(tb, "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-11/2-11:1.0/host14/target14:0:0/14:0:0:0/block/sdj", "change");
        pump(m, &s, 6);
        assert_int_equal(s.action[5], DEVICE_CHANGE);
        assert_true(s.eligible[5]);
        assert_false(s.probed[5]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_monitor_add_remove_reinsert, setup, teardown),
        };

        return device_test_run("test-device-monitor", tests, ELEMENTSOF(tests));
}
