/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/device's target policy against umockdev test beds: each rule (USB, size, mounted,
 * swap, system disk, held, read-only, allow and deny lists), every failing rule named, and
 * the policy read from the configuration.
 */
#include "device-test.h"

static void test_sata_refused(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;

        add_bed("sata");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        d = find(ctx, "sda", 0);
        assert_false(d->is_usb);
        expect_refusals(d, DEVICE_REFUSED_NOT_USB | DEVICE_REFUSED_NOT_REMOVABLE | DEVICE_REFUSED_TOO_LARGE,
                        "465.8 GiB > 256.0 GiB");
        assert_string_equal(d->reasons[0], "not USB");
        /* The station's own disks are never opened, not even to probe them. */
        assert_false(d->content.is_probed);
}

static void test_usb_hdd_too_large(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL, *fixed = NULL;
        struct device_policy big = default_policy;

        add_bed("usb-hdd");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        d = find(ctx, "sdi", 0);
        assert_false(d->is_removable);
        assert_true(d->is_hotplug);
        assert_string_equal(d->speed, "5000");
        expect_refusals(d, DEVICE_REFUSED_TOO_LARGE, "too large (1.8 TiB > 256.0 GiB)");

        /* The same disk on a fixed (internal) port, with a policy that takes its size. */
        umockdev_testbed_set_attribute(tb, HDD_USB_SYSPATH, "removable", "fixed");
        big.max_size = 4 * TIB;
        device_context_unref(ctx);
        ctx = context_with(&big, NULL, NULL, NULL, 0);
        fixed = find(ctx, "sdi", 0);
        expect_refusals(fixed, DEVICE_REFUSED_NOT_REMOVABLE, "not removable");
}

static void test_mounted_partition(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL, *other = NULL;

        add_bed("mounted-stick");
        add_bed("stick");
        ctx = context_with(NULL,
                           "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                           "40 26 8:65 / /media/pupil rw,nosuid - vfat /dev/sde1 rw,fmask=0022\n",
                           NULL, NULL, 0);
        d = find(ctx, "sde", 0);
        expect_refusals(d, DEVICE_REFUSED_MOUNTED, "mounted (sde1 on /media/pupil)");
        other = find(ctx, "sdb", 0);
        assert_true(device_info_is_eligible(other));
}

static void test_swap_partition(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;

        add_bed("stick");
        ctx = context_with(NULL, NULL,
                           "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                           "/dev/sdb1                               partition\t1048572\t\t0\t\t-2\n",
                           NULL, 0);
        d = find(ctx, "sdb", 0);
        expect_refusals(d, DEVICE_REFUSED_SWAP, "swap (sdb1)");
}

static void test_system_disk(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        const dev_t system[] = { makedev(254, 0), makedev(8, 17) };

        add_bed("stick");
        ctx = context_with(NULL, NULL, NULL, system, ELEMENTSOF(system));
        d = find(ctx, "sdb", 0);
        expect_refusals(d, DEVICE_REFUSED_SYSTEM, "system disk (holds a system file system)");
}

static void test_held_and_read_only(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *held = NULL, *ro = NULL;

        add_bed("held-stick");
        add_bed("ro-stick");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        held = find(ctx, "sdg", 0);
        expect_refusals(held, DEVICE_REFUSED_HELD, "held (dm-0 holds sdg1)");
        ro = find(ctx, "sdf", 0);
        assert_true(ro->is_read_only);
        expect_refusals(ro, DEVICE_REFUSED_READ_ONLY, "read-only");
}

static void test_allow_and_deny_lists(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *stick = NULL, *kingston = NULL, *denied = NULL;
        const char *const allow[] = { "0951:1666" }, *const deny[] = { "0951:1666" };
        struct device_policy p = default_policy;

        add_bed("stick");
        add_bed("hub-stick");
        p.allow = allow;
        p.n_allow = 1;
        ctx = context_with(&p, NULL, NULL, NULL, 0);
        stick = find(ctx, "sdb", 0);
        expect_refusals(stick, DEVICE_REFUSED_NOT_ALLOWED, "1234:5678 is not on the allow list");
        kingston = find(ctx, "sdh", 0);
        assert_true(device_info_is_eligible(kingston));

        device_context_unref(ctx);
        p = default_policy;
        p.deny = deny;
        p.n_deny = 1;
        ctx = context_with(&p, NULL, NULL, NULL, 0);
        denied = find(ctx, "sdh", 0);
        expect_refusals(denied, DEVICE_REFUSED_DENIED, "0951:1666 is on the deny list");
}

/* Every failing rule is named, not only the first one. */
static void test_every_reason_named(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        struct device_policy p = default_policy;
        const dev_t system[] = { makedev(8, 64) };

        add_bed("mounted-stick");
        umockdev_testbed_set_attribute(tb, "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-5/2-5:1.0/host11/target11:0:0/11:0:0:0/block/sde",
                                       "ro", "1");
        p.min_size = 2 * GIB;
        ctx = context_with(&p, "40 26 8:65 / /mnt rw - vfat /dev/sde1 rw\n",
                           "Filename Type Size Used Priority\n/dev/sde1 partition 1 0 -2\n", system, 1);
        d = find(ctx, "sde", 0);
        expect_refusals(d, DEVICE_REFUSED_MOUNTED | DEVICE_REFUSED_SWAP | DEVICE_REFUSED_SYSTEM |
                        DEVICE_REFUSED_TOO_SMALL | DEVICE_REFUSED_READ_ONLY, "1.0 GiB < 2.0 GiB");
        assert_string_equal(d->reasons[0], "mounted (sde1 on /mnt)");
        assert_string_equal(d->reasons[1], "swap (sde1)");
        assert_string_equal(d->reasons[2], "system disk (holds a system file system)");
        /* The same as data, for cmd/'s words: nothing to parse back. */
        assert_int_equal(d->findings.n, 4);
        assert_int_equal(d->findings.lost, 0);
        for (unsigned i = 0; i < d->findings.n; i++) {
                const struct cart_finding *f = &d->findings.f[i];

                switch (1u << f->rule) {
                case DEVICE_REFUSED_MOUNTED:
                        assert_string_equal(cart_findings_str(&d->findings, f->name), "sde1");
                        assert_string_equal(cart_findings_str(&d->findings, f->via), "");
                        assert_string_equal(cart_findings_str(&d->findings, f->path), "/mnt");
                        break;
                case DEVICE_REFUSED_SWAP:
                        assert_string_equal(cart_findings_str(&d->findings, f->name), "sde1");
                        break;
                case DEVICE_REFUSED_SYSTEM:
                        assert_true(f->is_words);
                        assert_string_equal(cart_findings_str(&d->findings, f->path), "a system file system");
                        break;
                case DEVICE_REFUSED_TOO_SMALL:
                        assert_int_equal(f->value, GIB);
                        assert_int_equal(f->limit, 2 * GIB);
                        break;
                default:
                        fail_msg("a finding of rule %u", f->rule);
                }
        }
}

/* More findings than an error can carry: the rule whose findings did not all fit is marked,
 * so that its list ends with "..." (the verdict itself never depends on what fits). */
static void test_findings_overflow(void **state) {
        struct cart_findings fs = {};
        char name[16];

        for (unsigned i = 0; i < CART_FINDINGS_MAX + 2; i++) {
                snprintf(name, sizeof(name), "sdz%u", i);
                cart_findings_add(&fs, 2, name, NULL, "/mnt", false, 0, 0);
        }
        assert_int_equal(fs.n, CART_FINDINGS_MAX);
        assert_int_equal(fs.lost, 1u << 2);
        /* The same finding twice is kept once. */
        fs = (struct cart_findings) {};
        cart_findings_add(&fs, 2, "sdz1", NULL, "/mnt", false, 0, 0);
        cart_findings_add(&fs, 2, "sdz1", NULL, "/mnt", false, 0, 0);
        cart_findings_add(&fs, 2, "sdz1", NULL, "/mnt2", false, 0, 0);
        assert_int_equal(fs.n, 2);
        assert_int_equal(fs.lost, 0);
}


/* A disk mounted in more places than its findings can hold: refused all the same, its
 * English (and so --json and the journal) ends the rule's list with "...". */
static void test_many_mounts(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        char mountinfo[4096] = "";

        add_bed("mounted-stick");
        for (unsigned i = 0; i < CART_FINDINGS_MAX + 4; i++)
                snprintf(mountinfo + strlen(mountinfo), sizeof(mountinfo) - strlen(mountinfo),
                         "%u 26 8:65 / /mnt/a-rather-long-mount-point-name-%u rw - vfat /dev/sde1 rw\n", 40 + i, i);
        ctx = context_with(NULL, mountinfo, NULL, NULL, 0);
        d = find(ctx, "sde", 0);
        assert_true(d->refusals & DEVICE_REFUSED_MOUNTED);
        assert_int_equal(d->findings.lost, DEVICE_REFUSED_MOUNTED);
        assert_non_null(strstr(d->reasons[0], "sde1 on /mnt/a-rather-long-mount-point-name-0, "));
        assert_non_null(strstr(d->reasons[0], ", ...)"));
}

static void test_policy_from_config(void **state) {
        char *allow[] = { (char *) "0781:5581" };
        struct cart_config c = { .min_size = GIB, .max_size = 64 * GIB, .allow = allow, .n_allow = 1,
                                 .state_dir = (char *) "/srv/cartable" };
        struct device_policy p;

        assert_int_equal(device_policy_from_config(&c, &p), 0);
        assert_int_equal(p.min_size, GIB);
        assert_int_equal(p.max_size, 64 * GIB);
        assert_int_equal(p.n_allow, 1);
        assert_string_equal(p.allow[0], "0781:5581");
        assert_int_equal(p.n_deny, 0);
        assert_string_equal(p.state_dir, "/srv/cartable");
        assert_false(p.test_waive_usb_rule);
        c.min_size = 128 * GIB;
        assert_int_equal(device_policy_from_config(&c, &p), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sata_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_usb_hdd_too_large, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mounted_partition, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swap_partition, setup, teardown),
                cmocka_unit_test_setup_teardown(test_system_disk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_and_read_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allow_and_deny_lists, setup, teardown),
                cmocka_unit_test_setup_teardown(test_every_reason_named, setup, teardown),
                cmocka_unit_test(test_findings_overflow),
                cmocka_unit_test_setup_teardown(test_many_mounts, setup, teardown),
                cmocka_unit_test(test_policy_from_config),
        };

        return device_test_run("test-device-policy", tests, ELEMENTSOF(tests));
}
