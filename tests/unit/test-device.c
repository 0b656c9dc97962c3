/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/device against umockdev test beds (tests/data/umockdev): enumeration, identity, each
 * rule of the target policy, the content probe, target refusals and hot-plug events.
 * Runs under umockdev-wrapper (meson does that); exits 77 otherwise (1 when CI=true).
 */
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

static void add_bed(const char *name) {
        umockdev_bed_add(tb, name);
}

static int setup(void **state) {
        tb = umockdev_testbed_new();
        return tb ? 0 : -1;
}

static int teardown(void **state) {
        g_object_unref(tb);
        tb = NULL;
        for (size_t i = 0; i < n_tmp_files; i++) {
                unlink(tmp_files[i]);
                free(tmp_files[i]);
        }
        n_tmp_files = 0;
        return 0;
}

static const char *write_temp(const char *text) {
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
static struct device_context *context_with(const struct device_policy *p, const char *mountinfo,
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

static struct device_info *find(struct device_context *ctx, const char *name, unsigned flags) {
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
static void expect_refusals(const struct device_info *d, unsigned bits, const char *detail) {
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

static void test_stick_identity(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_info **list = NULL;
        struct cart_error err = {};
        size_t n = 0;

        add_bed("stick");
        add_bed("sata");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        /* Without DEVICE_SCAN_ALL only the USB key: the SATA disk is not listed. */
        assert_int_equal(device_scan(ctx, 0, &list, &n, &err), 0);
        assert_int_equal(n, 1);
        struct device_info *d = list[0];
        assert_string_equal(d->devnode, "/dev/sdb");
        assert_string_equal(d->syspath, STICK_SYSPATH);
        assert_int_equal(d->devnum, makedev(8, 16));
        assert_true(d->is_usb && d->has_usb_ids);
        assert_int_equal(d->vendor_id, 0x1234);
        assert_int_equal(d->product_id, 0x5678);
        assert_string_equal(d->manufacturer, "Feas");
        assert_string_equal(d->product, "Stick");
        assert_string_equal(d->serial, "ABC123");
        assert_string_equal(d->port, "2-9");
        assert_string_equal(d->speed, "480");
        assert_int_equal(d->usb_bus, 2);
        assert_int_equal(d->usb_address, 4);
        assert_int_equal(d->size, 1 * GIB);
        assert_int_equal(d->logical_sector_size, 512);
        assert_int_equal(d->physical_sector_size, 4096);
        assert_true(d->is_removable);
        assert_false(d->is_read_only);
        assert_true(device_info_is_eligible(d));
        assert_int_equal(d->n_reasons, 0);
        /* The fake node is an empty file: probed, nothing found, no error. */
        assert_true(d->content.is_probed);
        assert_int_equal(d->content.probe_error, 0);
        assert_null(d->content.pttype);
        device_info_array_free(list, n);
}

static void test_twins_told_apart(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_info **list = NULL;
        struct cart_error err = {};
        size_t n = 0;

        add_bed("twins");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        assert_int_equal(device_scan(ctx, 0, &list, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0]->name, "sdc");
        assert_string_equal(list[1]->name, "sdd");
        assert_int_equal(list[0]->vendor_id, list[1]->vendor_id);
        assert_int_equal(list[0]->size, list[1]->size);
        assert_string_equal(list[0]->serial, "TWIN0001");
        assert_string_equal(list[1]->serial, "TWIN0002");
        assert_string_equal(list[0]->port, "2-2");
        assert_string_equal(list[1]->port, "2-3");
        assert_true(device_info_is_eligible(list[0]) && device_info_is_eligible(list[1]));
        device_info_array_free(list, n);
}

/* No udev properties at all: identity from the usb_device's sysfs attributes. */
static void test_hub_stick_sysfs_only(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;

        add_bed("hub-stick");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        d = find(ctx, "sdh", 0);
        assert_string_equal(d->port, "2-1.3");
        assert_int_equal(d->vendor_id, 0x0951);
        assert_int_equal(d->product_id, 0x1666);
        assert_string_equal(d->manufacturer, "Kingston");
        assert_string_equal(d->product, "DataTraveler 3.0");
        assert_string_equal(d->serial, "HUB0013");
        assert_int_equal(d->size, 8 * GIB);
        assert_true(device_info_is_eligible(d));
}

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
}

static void put_le16(uint8_t *p, unsigned v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); }
static void put_le32(uint8_t *p, uint32_t v) { put_le16(p, v & 0xFFFF); put_le16(p + 2, v >> 16); }

/* An MBR with one FAT32 LBA partition at 1 MiB holding a FAT32 boot sector (fatgen103 §3). */
static void write_key_image(const char *devfile, uint8_t part_type) {
        uint8_t mbr[512] = {}, bs[512] = {};
        uint32_t sectors = (uint32_t) (GIB / 512) - 2048;
        int fd = open(devfile, O_RDWR | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) GIB), 0);
        mbr[446 + 4] = part_type;
        put_le32(mbr + 446 + 8, 2048);
        put_le32(mbr + 446 + 12, sectors);
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        memcpy(bs, "\xEB\x58\x90MSWIN4.1", 11);
        put_le16(bs + 11, 512);
        bs[13] = 8;                    /* sectors per cluster */
        put_le16(bs + 14, 32);         /* reserved sectors */
        bs[16] = 2;                    /* FATs */
        bs[21] = 0xF8;
        put_le16(bs + 24, 63);
        put_le16(bs + 26, 255);
        put_le32(bs + 28, 2048);
        put_le32(bs + 32, sectors);
        put_le32(bs + 36, 2048);       /* sectors per FAT */
        put_le32(bs + 44, 2);          /* root cluster */
        put_le16(bs + 48, 1);
        put_le16(bs + 50, 6);
        bs[64] = 0x80;
        bs[66] = 0x29;
        put_le32(bs + 67, 0x12345678);
        memcpy(bs + 71, "PUPIL KEY  FAT32   ", 19);
        bs[510] = 0x55;
        bs[511] = 0xAA;
        assert_int_equal(pwrite_full(fd, mbr, sizeof(mbr), 0), 0);
        assert_int_equal(pwrite_full(fd, bs, sizeof(bs), MIB), 0);
        close(fd);
}

static void test_content_probe(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *key = NULL, *linux_type = NULL;
        _cleanup_free_ char *devfile = NULL;
        gchar *root;

        add_bed("stick");
        root = umockdev_testbed_get_root_dir(tb);
        assert_true(asprintf(&devfile, "%s/dev/sdb", root) > 0);
        g_free(root);
        write_key_image(devfile, 0x0c);
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        key = find(ctx, "sdb", 0);
        assert_int_equal(key->content.probe_error, 0);
        assert_string_equal(key->content.pttype, "dos");
        assert_int_equal(key->content.n_parts, 1);
        assert_int_equal(key->content.parts[0].number, 1);
        assert_int_equal(key->content.parts[0].offset, MIB);
        assert_string_equal(key->content.parts[0].type, "0x0c");
        assert_string_equal(key->content.parts[0].fstype, "vfat");
        assert_string_equal(key->content.parts[0].fsversion, "FAT32");
        assert_string_equal(key->content.parts[0].label, "PUPIL KEY");
        assert_true(key->content.is_cartable_like);

        /* The same file system in a Linux-type partition is not shaped like a cartable key. */
        write_key_image(devfile, 0x83);
        linux_type = find(ctx, "sdb", 0);
        assert_string_equal(linux_type->content.parts[0].type, "0x83");
        assert_string_equal(linux_type->content.parts[0].fstype, "vfat");
        assert_false(linux_type->content.is_cartable_like);
}

/* A probe failure is shown on that key and does not fail the listing of the others. */
static void test_probe_error_is_per_key(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_info **list = NULL;
        struct cart_error err = {};
        _cleanup_free_ char *devfile = NULL;
        gchar *root;
        size_t n = 0;

        add_bed("twins");
        root = umockdev_testbed_get_root_dir(tb);
        assert_true(asprintf(&devfile, "%s/dev/sdc", root) > 0);
        g_free(root);
        assert_int_equal(unlink(devfile), 0);
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        assert_int_equal(device_scan(ctx, 0, &list, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(list[0]->content.probe_error, -ENOENT);
        assert_non_null(strstr(list[0]->content.probe_message, "cannot open for probing"));
        assert_int_equal(list[1]->content.probe_error, 0);
        device_info_array_free(list, n);
}

/* A refusal has its reason code (what --json and the journal keep) and its sentence. */
static void expect_target_refused(struct device_context *ctx, const char *path, const char *serial,
                                  int want, enum cart_reason reason, const char *in_msg) {
        struct device_target *t = NULL;
        struct cart_error err = {};
        const char *text;

        assert_int_equal(device_target_open_in(ctx, path, serial, &t, &err), want);
        assert_null(t);
        text = ERROR_TEXT(&err, want);
        if (!strstr(text, in_msg))
                fail_msg("%s: \"%s\" lacks \"%s\"", path, text, in_msg);
        if (cart_error_reason(&err, want) != reason)
                fail_msg("%s: reason %s, expected %s", path, cart_reason_to_string(cart_error_reason(&err, want)),
                         cart_reason_to_string(reason));
}

static void test_target_refusals(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        const char *plain = write_temp("not a disk");

        add_bed("stick");
        add_bed("mounted-stick");
        add_bed("sata");
        ctx = context_with(NULL, "40 26 8:65 / /media/pupil rw - vfat /dev/sde1 rw\n", NULL, NULL, 0);
        expect_target_refused(ctx, "/dev/disk/by-id/usb-Feas_Stick_MNT0001-0:0", NULL, -EPERM,
                              CART_REASON_POLICY_MOUNTED, "/dev/sde: refused: mounted (sde1 on /media/pupil)");
        expect_target_refused(ctx, "/dev/sda", NULL, -EPERM, CART_REASON_POLICY_NOT_USB,
                              "refused: not USB; not removable; too large");
        expect_target_refused(ctx, "/dev/sdb1", NULL, -EPERM, CART_REASON_NOT_WHOLE_DISK, "sdb1 is not a whole disk");
        expect_target_refused(ctx, plain, NULL, -EPERM, CART_REASON_NOT_BLOCK_DEVICE, "a regular file, not a block device");
        expect_target_refused(ctx, "/dev/disk/by-id/usb-Feas_Stick_ABC123-0:0", "XYZ789", -EPERM,
                              CART_REASON_SERIAL_MISMATCH, "serial ABC123 is not the expected XYZ789");
        expect_target_refused(ctx, "/dev/sdz", NULL, -ENOENT, CART_REASON_NOT_FOUND, "/dev/sdz");
        /* umockdev's node is a plain file once open: fstat disagrees with the judged disk. */
        expect_target_refused(ctx, "/dev/sdb", "ABC123", -EPERM, CART_REASON_IDENTITY_CHANGED,
                              "the device changed while it was opened");
}

/* Each failing rule keeps its own code: the first is the reason, rules holds them all. */
static void test_target_refusal_rules(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_target *t = NULL;
        struct cart_error err = {};

        add_bed("sata");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        assert_int_equal(device_target_open_in(ctx, "/dev/sda", NULL, &t, &err), -EPERM);
        assert_int_equal(err.reason, CART_REASON_POLICY_NOT_USB);
        assert_string_equal(err.subject, "/dev/sda");
        assert_int_equal(err.rules, DEVICE_REFUSED_NOT_USB | DEVICE_REFUSED_NOT_REMOVABLE | DEVICE_REFUSED_TOO_LARGE);
        assert_string_equal(cart_reason_to_string(device_refusal_reason(DEVICE_REFUSED_TOO_LARGE)), "policy-too-large");
        assert_string_equal(cart_reason_to_string(device_refusal_reason(DEVICE_REFUSED_DENIED)), "policy-denied");
        assert_string_equal(cart_reason_to_string(device_refusal_reason(DEVICE_REFUSED_MOUNTED | DEVICE_REFUSED_SWAP)),
                            "policy-mounted");
        assert_int_equal(device_refusal_reason(0), CART_REASON_NONE);
        /* Without the free text, the sentence still names every rule from the codes. */
        err.msg[0] = 0;
        assert_string_equal(ERROR_TEXT(&err, -EPERM), "/dev/sda: refused: not USB; not removable; too large");
}

/* ---- the window between open and re-check, on a real block device ---- */

/*
 * umockdev's /dev nodes are plain files, so a target open stops at the fstat check. Here the
 * key is a real loop device (root) described to libudev by a bed of its own: a USB stick
 * whose disk has the loop device's dev_t and no node in the bed, so that open() reaches the
 * real /dev/loopN and every check after it runs. The bed has no udev properties: serial,
 * VID:PID and USB address come from sysfs attributes a test can change in the window.
 */
#define LOOP_USB_DEVPATH "/devices/pci0000:00/0000:00:14.0/usb2/2-7"
#define LOOP_USB_SYSPATH "/sys" LOOP_USB_DEVPATH
#define LOOP_KEY_SIZE (8 * MIB)

struct loop_key {
        int fd;                              /* keeps the loop device (autoclear) */
        char devnode[32], name[16], syspath[256];
        dev_t devnum;
        uint8_t *bytes;                      /* what it holds: must never change */
};

/* Skipped without root or loop devices, except in CI, where a skip would hide a safety test. */
static bool loop_key_skip(const char *why) {
        const char *ci = getenv("CI");

        if (ci && streq(ci, "true"))
                fail_msg("CI=true: cannot skip (%s)", why);
        print_message("skipped: %s\n", why);
        skip();
        return true;
}

/*
 * losetup in a clean environment: umockdev's preload answers every ioctl on /dev with
 * ENOTTY, so the loop device is set up by a child without it. Returns its stdout's first line.
 */
static int run_clean(const char *const argv[], char *out, size_t len) {
        char *const envp[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        int p[2], status;
        pid_t pid;
        ssize_t n;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                execve(argv[0], (char *const *) argv, envp);
                _exit(127);
        }
        close(p[1]);
        n = read(p[0], out, len - 1);
        close(p[0]);
        out[n > 0 ? n : 0] = 0;
        out[strcspn(out, "\n")] = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool loop_key_new(struct loop_key *k) {
        char backing[] = "/tmp/cartable-loop-XXXXXX";
        int bfd, n;

        k->fd = -1;
        if (geteuid() != 0)
                return !loop_key_skip("needs root for a loop device");
        if (access("/sbin/losetup", X_OK) < 0)
                return !loop_key_skip("needs losetup");
        bfd = mkstemp(backing);
        assert_true(bfd >= 0);
        k->bytes = malloc(LOOP_KEY_SIZE);
        assert_non_null(k->bytes);
        for (size_t i = 0; i < LOOP_KEY_SIZE; i++)
                k->bytes[i] = (uint8_t) (i * 7 + (i >> 12));
        assert_int_equal(pwrite_full(bfd, k->bytes, LOOP_KEY_SIZE, 0), 0);
        close(bfd);
        if (run_clean((const char *const[]) { "/sbin/losetup", "-f", "--show", backing, NULL },
                      k->devnode, sizeof(k->devnode)) != 0 || sscanf(k->devnode, "/dev/loop%d", &n) != 1)
                fail_msg("losetup -f --show %s failed (%s)", backing, k->devnode);
        unlink(backing);
        k->fd = open(k->devnode, O_RDONLY | O_CLOEXEC);
        assert_true(k->fd >= 0);
        /* Detached as soon as the last descriptor closes, whatever happens to the test. */
        assert_int_equal(run_clean((const char *const[]) { "/sbin/losetup", "-d", k->devnode, NULL },
                                   backing, sizeof(backing)), 0);
        snprintf(k->name, sizeof(k->name), "loop%d", n);
        k->devnum = makedev(7, (unsigned) n);
        snprintf(k->syspath, sizeof(k->syspath), "%s/2-7:1.0/host20/target20:0:0/20:0:0:0/block/%s",
                 LOOP_USB_SYSPATH, k->name);
        return true;
}

static void loop_key_add_bed(const struct loop_key *k) {
        _cleanup_free_ char *text = NULL;
        GError *gerr = NULL;

        assert_true(asprintf(&text,
                "P: " LOOP_USB_DEVPATH "\n"
                "E: DEVTYPE=usb_device\nE: DRIVER=usb\nE: SUBSYSTEM=usb\n"
                "A: idVendor=1234\nA: idProduct=5678\nA: serial=LOOP0001\nA: manufacturer=Feas\n"
                "A: product=Stick\nA: busnum=2\nA: devnum=9\nA: speed=480\nA: removable=removable\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0\n"
                "E: DEVTYPE=usb_interface\nE: DRIVER=usb-storage\nE: SUBSYSTEM=usb\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0/host20\nE: DEVTYPE=scsi_host\nE: SUBSYSTEM=scsi\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0/host20/target20:0:0\nE: DEVTYPE=scsi_target\nE: SUBSYSTEM=scsi\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0/host20/target20:0:0/20:0:0:0\n"
                "E: DEVTYPE=scsi_device\nE: DRIVER=sd\nE: SUBSYSTEM=scsi\n\n"
                "P: %s\n"
                "E: DEVNAME=%s\nE: DEVTYPE=disk\nE: SUBSYSTEM=block\nE: MAJOR=7\nE: MINOR=%u\n"
                "A: removable=1\nA: size=%llu\nA: ro=0\nA: dev=7:%u\n"
                "A: queue/logical_block_size=512\nA: queue/physical_block_size=512\n",
                k->syspath + strlen("/sys"), k->devnode, minor(k->devnum), (unsigned long long) (LOOP_KEY_SIZE / 512),
                minor(k->devnum)) > 0);
        if (!umockdev_testbed_add_from_string(tb, text, &gerr))
                fail_msg("loop bed: %s", gerr->message);
}

/* Not one byte of the key changed. */
static void loop_key_expect_untouched(const struct loop_key *k) {
        _cleanup_free_ uint8_t *now = malloc(LOOP_KEY_SIZE);

        assert_non_null(now);
        assert_int_equal(pread(k->fd, now, LOOP_KEY_SIZE, 0), (ssize_t) LOOP_KEY_SIZE);
        if (memcmp(now, k->bytes, LOOP_KEY_SIZE) != 0)
                fail_msg("%s changed", k->devnode);
}

static void loop_key_done(struct loop_key *k) {
        if (k->fd >= 0)
                close(k->fd);
        free(k->bytes);
}

/* What a test does in the window: after open and flock, before the re-check. */
struct window {
        const struct loop_key *key;
        const char *mountinfo;               /* rewritten with a mount of the key */
        const char **deny;                   /* its first entry set to the key's VID:PID */
        const char *attr_syspath, *attr, *value;
        int calls;
};

static void in_window(int fd, void *userdata) {
        struct window *w = userdata;
        struct stat st;

        w->calls++;
        /* The hook sees the very descriptor that would be written. */
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_rdev, w->key->devnum);
        if (w->attr)
                umockdev_testbed_set_attribute(tb, w->attr_syspath, w->attr, w->value);
        if (w->mountinfo) {
                FILE *f = fopen(w->mountinfo, "we");
                assert_non_null(f);
                fprintf(f, "40 26 7:%u / /media/pupil rw - vfat %s rw\n", minor(w->key->devnum), w->key->devnode);
                fclose(f);
        }
        if (w->deny)
                w->deny[0] = "1234:5678";
}

static struct device_context *loop_context(struct window *w, const struct device_policy *p) {
        struct device_env env = {
                .mountinfo_path = write_temp(""),
                .swaps_path = write_temp("Filename\tType\tSize\tUsed\tPriority\n"),
                .system_devnums = (const dev_t[]) { makedev(254, 0) },
                .n_system_devnums = 1,
                .test_opened = in_window,
                .test_opened_userdata = w,
        };
        struct device_policy small = p ? *p : default_policy;
        struct device_context *ctx = NULL;
        struct cart_error err = {};

        small.min_size = MIB;
        w->mountinfo = w->mountinfo ? env.mountinfo_path : NULL;
        if (device_context_new(&small, &env, &ctx, &err) < 0)
                fail_msg("device_context_new: %s", err.msg);
        return ctx;
}

/* Opened through the window, judged again: refused with that reason code and sentence, the
 * key untouched. */
static void expect_window_refusal(const struct loop_key *k, struct window *w, const struct device_policy *p,
                                  const char *serial, enum cart_reason reason, const char *in_msg) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = loop_context(w, p);
        struct device_target *t = NULL;
        struct cart_error err = {};
        int r = device_target_open_in(ctx, k->devnode, serial, &t, &err);
        const char *text = ERROR_TEXT(&err, r);

        assert_int_equal(w->calls, 1);
        if (r != -EPERM || !strstr(text, in_msg))
                fail_msg("%s: %d \"%s\", expected -EPERM with \"%s\"", k->devnode, r, text, in_msg);
        if (cart_error_reason(&err, r) != reason)
                fail_msg("%s: reason %s, expected %s", k->devnode, cart_reason_to_string(cart_error_reason(&err, r)),
                         cart_reason_to_string(reason));
        assert_null(t);
        loop_key_expect_untouched(k);
}

static void test_window_open_reaches_recheck(void **state) {
        struct loop_key k = {};
        struct window w = {};
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_target_closep) struct device_target *t = NULL;
        struct cart_error err = {};

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = &k;
        ctx = loop_context(&w, NULL);
        if (device_target_open_in(ctx, k.devnode, "LOOP0001", &t, &err) < 0)
                fail_msg("%s: %s", k.devnode, err.msg);
        assert_int_equal(w.calls, 1);
        assert_int_equal(t->devnum, k.devnum);
        assert_int_equal(t->size, LOOP_KEY_SIZE);
        assert_string_equal(t->info->serial, "LOOP0001");
        assert_string_equal(t->info->port, "2-7");
        assert_int_equal(t->info->usb_address, 9);
        assert_true(device_info_is_eligible(t->info));
        t = device_target_close(t);
        loop_key_expect_untouched(&k);
        loop_key_done(&k);
}

/* Another key with the same VID:PID on the same port: only the serial tells. */
static void test_window_key_swapped(void **state) {
        struct loop_key k = {};
        struct window w = { .attr_syspath = LOOP_USB_SYSPATH, .attr = "serial", .value = "OTHER002" };

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = &k;
        expect_window_refusal(&k, &w, NULL, NULL, CART_REASON_IDENTITY_CHANGED, ": refused: another key (serial OTHER002) replaced LOOP0001 while it was opened");
        loop_key_done(&k);
}

/* A counterfeit twin with the same serial, re-enumerated: the USB address differs. */
static void test_window_same_serial_other_address(void **state) {
        struct loop_key k = {};
        struct window w = { .attr_syspath = LOOP_USB_SYSPATH, .attr = "devnum", .value = "23" };
        struct window vid = { .attr_syspath = LOOP_USB_SYSPATH, .attr = "idProduct", .value = "5679" };

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = vid.key = &k;
        expect_window_refusal(&k, &w, NULL, "LOOP0001", CART_REASON_IDENTITY_CHANGED, "another key (serial LOOP0001) replaced LOOP0001");
        umockdev_testbed_set_attribute(tb, LOOP_USB_SYSPATH, "devnum", "9");
        expect_window_refusal(&k, &vid, NULL, "LOOP0001", CART_REASON_IDENTITY_CHANGED, "another key (serial LOOP0001) replaced LOOP0001");
        loop_key_done(&k);
}

/* The second judgement: mounted, held, write-protected or denied after the first one. */
static void test_window_policy_again(void **state) {
        struct loop_key k = {};
        struct window mounted = { .mountinfo = "" }, held = {}, ro = {}, denied = {};
        const char *deny[] = { "ffff:ffff" };
        struct device_policy p = default_policy;

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        mounted.key = held.key = ro.key = denied.key = &k;
        expect_window_refusal(&k, &mounted, NULL, NULL, CART_REASON_POLICY_MOUNTED, ": refused: mounted (loop");
        held.attr_syspath = ro.attr_syspath = k.syspath;
        ro.attr = "ro";
        ro.value = "1";
        expect_window_refusal(&k, &ro, NULL, NULL, CART_REASON_POLICY_READ_ONLY, ": refused: read-only (write-protected)");
        umockdev_testbed_set_attribute(tb, k.syspath, "ro", "0");
        denied.deny = deny;
        p.deny = deny;
        p.n_deny = 1;
        expect_window_refusal(&k, &denied, &p, NULL, CART_REASON_POLICY_DENIED, ": refused: denied (1234:5678 is on the deny list)");
        held.attr = "holders/dm-0/dev";
        held.value = "253:3";
        expect_window_refusal(&k, &held, NULL, NULL, CART_REASON_POLICY_HELD, ": refused: held (dm-0 holds loop");
        loop_key_done(&k);
}

/* Another program holds the key: O_EXCL (EBUSY) or flock; refused, never retried, untouched. */
static void test_window_exclusive(void **state) {
        struct loop_key k = {};
        struct window w = {};
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_target *t = NULL;
        struct cart_error err = {};
        int holder;

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = &k;
        ctx = loop_context(&w, NULL);
        holder = open(k.devnode, O_RDONLY | O_EXCL | O_CLOEXEC);
        assert_true(holder >= 0);
        assert_int_equal(device_target_open_in(ctx, k.devnode, NULL, &t, &err), -EBUSY);
        assert_null(t);
        assert_int_equal(w.calls, 0);
        assert_non_null(strstr(ERROR_TEXT(&err, -EBUSY), ": refused: in use (mounted, held, or opened exclusively)"));
        assert_int_equal(cart_error_reason(&err, -EBUSY), CART_REASON_IN_USE);
        close(holder);

        holder = open(k.devnode, O_RDONLY | O_CLOEXEC);
        assert_true(holder >= 0);
        assert_int_equal(flock(holder, LOCK_EX), 0);
        assert_int_equal(device_target_open_in(ctx, k.devnode, NULL, &t, &err), -EBUSY);
        assert_null(t);
        assert_int_equal(w.calls, 0);
        assert_non_null(strstr(ERROR_TEXT(&err, -EBUSY), ": refused: locked by another program (flock)"));
        assert_int_equal(cart_error_reason(&err, -EBUSY), CART_REASON_IN_USE);
        close(holder);
        loop_key_expect_untouched(&k);
        loop_key_done(&k);
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

/* ---- hot-plug ---- */

struct seen {
        enum device_action action[8];
        char serial[8][32];
        bool reinserted[8], eligible[8];
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
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_stick_identity, setup, teardown),
                cmocka_unit_test_setup_teardown(test_twins_told_apart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hub_stick_sysfs_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sata_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_usb_hdd_too_large, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mounted_partition, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swap_partition, setup, teardown),
                cmocka_unit_test_setup_teardown(test_system_disk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_and_read_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allow_and_deny_lists, setup, teardown),
                cmocka_unit_test_setup_teardown(test_every_reason_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_content_probe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_error_is_per_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_target_refusal_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_target_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_monitor_add_remove_reinsert, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_open_reaches_recheck, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_key_swapped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_same_serial_other_address, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_policy_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_exclusive, setup, teardown),
                cmocka_unit_test(test_policy_from_config),
        };

        const char *preload = getenv("LD_PRELOAD");

        if (!preload || !strstr(preload, "libumockdev-preload")) {
                fprintf(stderr, "test-device: run under umockdev-wrapper\n");
                /* In CI a skip is a failure: these are the target policy's tests. */
                return getenv("CI") && streq(getenv("CI"), "true") ? 1 : 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
