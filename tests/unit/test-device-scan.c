/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/device's enumeration against umockdev test beds: identity of a key (USB ids, serial,
 * port, sizes), twins told apart, sysfs-only hubs, and the content probe of each key.
 */
#include "device-test.h"

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_stick_identity, setup, teardown),
                cmocka_unit_test_setup_teardown(test_twins_told_apart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hub_stick_sysfs_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_content_probe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_error_is_per_key, setup, teardown),
        };

        return device_test_run("test-device-scan", tests, ELEMENTSOF(tests));
}
