/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>

#include "base/error.h"
#include "flash/layout.h"
#include "base/plan.h"

#define DISK (64 * MIB)

struct mem { uint8_t *b; uint64_t size; };

static int mem_read(void *userdata, void *buf, size_t len, uint64_t off) {
        struct mem *m = userdata;
        if (off + len > m->size)
                return -EIO;
        memcpy(buf, m->b + off, len);
        return 0;
}

/* The bytes of a disk holding only the plan. */
static struct mem render(const struct plan *p, uint64_t size) {
        struct mem m = { calloc(1, size), size };
        assert_non_null(m.b);
        for (size_t i = 0; i < plan_count(p); i++) {
                const struct plan_extent *e = plan_get(p, i);
                assert_int_equal(plan_read(p, e->offset, m.b + e->offset, e->length, NULL), 0);
        }
        return m;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24; }
static void put_le32(uint8_t *p, uint32_t v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); p[2] = (uint8_t) (v >> 16); p[3] = (uint8_t) (v >> 24); }

/* The BPB fields a FAT32 boot sector must hold (fatgen103 §3), without any "FAT32" string. */
static void fake_boot_sector(uint8_t *b, uint32_t sectors) {
        b[11] = 0x00; b[12] = 0x02;     /* 512 bytes per sector */
        b[13] = 8;                      /* sectors per cluster */
        b[14] = 32;                     /* reserved sectors */
        b[16] = 2;                      /* FATs */
        b[21] = 0xF8;                   /* media */
        put_le32(b + 32, sectors);
        b[510] = 0x55;
        b[511] = 0xAA;
}

static void test_mbr(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct layout_params lp = { .scheme = LAYOUT_MBR, .disk_size = DISK, .disk_id = 0x12345678 };
        struct layout_info info;
        struct cart_error err = {};
        struct mem m;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(layout_partition(&lp, p, &info, &err), 0);
        assert_int_equal(plan_finalize(p, DISK, &err), 0);
        assert_int_equal(info.partition_offset, MIB);
        assert_int_equal(info.partition_size, DISK - MIB);
        /* Only the first sector: an MBR is nothing else. */
        assert_int_equal(plan_count(p), 1);
        assert_int_equal(info.table_bytes, 512);
        assert_string_equal(plan_get(p, 0)->label, "partition table (sector 0)");
        m = render(p, DISK);
        assert_int_equal(m.b[510], 0x55);
        assert_int_equal(m.b[511], 0xAA);
        assert_int_equal(le32(m.b + 440), 0x12345678);          /* disk identifier */
        assert_int_equal(m.b[446 + 4], 0x0c);                   /* FAT32 LBA */
        assert_int_equal(le32(m.b + 446 + 8), 2048);
        assert_int_equal(le32(m.b + 446 + 12), (DISK - MIB) / 512);
        free(m.b);
}

static void test_gpt_reproducible(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL, *q = NULL;
        struct layout_params lp = { .scheme = LAYOUT_GPT, .disk_size = DISK, .disk_id = 0xCAFE, .name = "CARTABLE" };
        struct layout_info info;
        struct mem m, n;
        uint64_t off, size;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(plan_new(&q), 0);
        assert_int_equal(layout_partition(&lp, p, &info, NULL), 0);
        assert_int_equal(layout_partition(&lp, q, NULL, NULL), 0);
        assert_int_equal(plan_finalize(p, DISK, NULL), 0);
        assert_int_equal(plan_finalize(q, DISK, NULL), 0);
        assert_int_equal(info.partition_offset, MIB);
        assert_true(info.partition_size >= DISK - 2 * MIB && info.partition_size <= DISK - MIB - 33 * 512);
        m = render(p, DISK);
        n = render(q, DISK);
        assert_memory_equal(m.b, n.b, DISK);
        assert_int_equal(m.b[446 + 4], 0xEE);                   /* protective MBR */
        assert_memory_equal(m.b + 512, "EFI PART", 8);
        assert_memory_equal(m.b + DISK - 512, "EFI PART", 8);   /* backup header */
        assert_string_equal(plan_get(p, plan_count(p) - 1)->label, "partition table (backup)");
        /* The reader finds the basic data partition again. */
        fake_boot_sector(m.b + MIB, (uint32_t) (info.partition_size / 512));
        assert_int_equal(layout_find_volume(mem_read, &m, DISK, &off, &size, NULL), 0);
        assert_int_equal(off, info.partition_offset);
        assert_int_equal(size, info.partition_size);
        free(m.b);
        free(n.b);
}

static void test_find_volume_mbr_and_errors(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct layout_params lp = { .scheme = LAYOUT_MBR, .disk_size = DISK, .disk_id = 1 };
        struct cart_error err = {};
        uint64_t off, size;
        struct mem m;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(layout_partition(&lp, p, NULL, NULL), 0);
        assert_int_equal(plan_finalize(p, DISK, NULL), 0);
        m = render(p, DISK);
        /* A table without a FAT volume behind it is not a key. */
        assert_int_equal(layout_find_volume(mem_read, &m, DISK, &off, &size, &err), -EMEDIUMTYPE);
        assert_non_null(strstr(err.msg, "no FAT partition"));
        /* Recognised by its BPB, never by the informational string alone. */
        memcpy(m.b + MIB + 82, "FAT32   ", 8);
        m.b[MIB + 510] = 0x55;
        m.b[MIB + 511] = 0xAA;
        assert_int_equal(layout_find_volume(mem_read, &m, DISK, &off, &size, &err), -EMEDIUMTYPE);
        memset(m.b + MIB + 82, ' ', 8);
        fake_boot_sector(m.b + MIB, (DISK - MIB) / 512);
        assert_int_equal(layout_find_volume(mem_read, &m, DISK, &off, &size, &err), 0);
        assert_int_equal(off, MIB);
        assert_int_equal(size, DISK - MIB);
        memset(m.b, 0, 512);
        assert_int_equal(layout_find_volume(mem_read, &m, DISK, &off, &size, &err), -EMEDIUMTYPE);
        free(m.b);
}

static void test_too_small_and_bad_params(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct layout_params lp = { .scheme = LAYOUT_MBR, .disk_size = MIB };
        struct cart_error err = {};

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(layout_partition(&lp, p, NULL, &err), -ENOSPC);
        lp.disk_size = DISK;
        lp.sector_size = 1000;
        assert_int_equal(layout_partition(&lp, p, NULL, &err), -EINVAL);
}

static void test_wipes_gpt_and_backup(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL, *w = NULL;
        struct layout_params lp = { .scheme = LAYOUT_GPT, .disk_size = DISK, .disk_id = 7 };
        struct cart_error err = {};
        char path[] = "/var/tmp/test-layout.XXXXXX";
        _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
        struct mem m;
        bool has_primary = false, has_backup = false;
        int n;

        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(layout_partition(&lp, p, NULL, NULL), 0);
        assert_int_equal(plan_finalize(p, DISK, NULL), 0);
        m = render(p, DISK);
        assert_int_equal(pwrite_full(fd, m.b, DISK, 0), 0);
        free(m.b);

        assert_int_equal(plan_new(&w), 0);
        n = layout_add_wipes(fd, DISK, 512, w, &err);
        assert_true(n >= 2);
        assert_int_equal(plan_finalize(w, DISK, NULL), 0);
        for (size_t i = 0; i < plan_count(w); i++) {
                const struct plan_extent *e = plan_get(w, i);
                assert_true(e->is_wipe);
                assert_int_equal(e->offset % 512, 0);
                assert_int_equal(e->length % 512, 0);
                if (e->offset <= 512 && e->offset + e->length > 512)
                        has_primary = true;
                if (e->offset + e->length == DISK)
                        has_backup = true;
        }
        assert_true(has_primary);
        assert_true(has_backup);

        /* A blank disk has nothing to wipe. */
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(ftruncate(fd, DISK), 0);
        _cleanup_(plan_freep) struct plan *b = NULL;
        assert_int_equal(plan_new(&b), 0);
        assert_int_equal(layout_add_wipes(fd, DISK, 512, b, &err), 0);
        assert_int_equal(plan_count(b), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mbr),
                cmocka_unit_test(test_gpt_reproducible),
                cmocka_unit_test(test_find_volume_mbr_and_errors),
                cmocka_unit_test(test_too_small_and_bad_params),
                cmocka_unit_test(test_wipes_gpt_and_backup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
