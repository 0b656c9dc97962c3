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

/* CRC-32 as the GPT uses it, to forge consistent tables. */
static uint32_t crc32(const uint8_t *p, size_t n) {
        uint32_t c = 0xFFFFFFFF;
        while (n--) {
                c ^= *p++;
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
        }
        return ~c;
}

static void gpt_fix_crcs(uint8_t *hdr, const uint8_t *entries) {
        put_le32(hdr + 88, crc32(entries, 128 * 128));
        put_le32(hdr + 16, 0);
        put_le32(hdr + 16, crc32(hdr, 92));
}

static int check(struct mem *m, enum layout_scheme scheme, char reason[256]) {
        struct layout_expect e = { .scheme = scheme, .volume_offset = MIB };
        reason[0] = 0;
        return layout_check_table(mem_read, m, m->size, &e, reason, 256, NULL);
}

/* The table flash writes passes; a second entry, another type, a GPT left behind do not. */
static void test_check_table_mbr(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct layout_params lp = { .scheme = LAYOUT_MBR, .disk_size = DISK, .disk_id = 3 };
        char reason[256];
        struct mem m;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(layout_partition(&lp, p, NULL, NULL), 0);
        assert_int_equal(plan_finalize(p, DISK, NULL), 0);
        m = render(p, DISK);
        assert_int_equal(check(&m, LAYOUT_MBR, reason), 0);
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 1);
        assert_string_equal(reason, "an MBR where the release's layout has a GPT");
        memcpy(m.b + DISK - 512, "EFI PART", 8);
        assert_int_equal(check(&m, LAYOUT_MBR, reason), 1);
        assert_string_equal(reason, "a GPT header lies beside the MBR; flash wipes it");
        memset(m.b + DISK - 512, 0, 8);
        m.b[446 + 16 + 4] = 0x0c;
        put_le32(m.b + 446 + 16 + 8, 4096);
        put_le32(m.b + 446 + 16 + 12, 8192);
        assert_int_equal(check(&m, LAYOUT_MBR, reason), 1);
        assert_string_equal(reason, "the MBR holds 2 partitions; flash writes one");
        memset(m.b + 446 + 16, 0, 16);
        m.b[446 + 4] = 0x0b;
        assert_int_equal(check(&m, LAYOUT_MBR, reason), 1);
        assert_string_equal(reason, "the partition has type 0x0b; flash writes 0x0c (FAT32 LBA)");
        m.b[446 + 4] = 0x0c;
        /* A FAT boot sector in sector 0 ("superfloppy") is never what flash writes. */
        fake_boot_sector(m.b, DISK / 512);
        assert_int_equal(check(&m, LAYOUT_MBR, reason), 1);
        assert_string_equal(reason, "no partition table: the volume starts in sector 0");
        free(m.b);
}

/* Both GPT headers and arrays by CRC, and the backup the same table as the primary. */
static void test_check_table_gpt(void **state) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct layout_params lp = { .scheme = LAYOUT_GPT, .disk_size = DISK, .disk_id = 9 };
        const uint64_t backup = DISK - 512, backup_entries = DISK - 33 * 512;
        char reason[256];
        struct mem m;
        uint8_t *saved;

        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(layout_partition(&lp, p, NULL, NULL), 0);
        assert_int_equal(plan_finalize(p, DISK, NULL), 0);
        m = render(p, DISK);
        saved = malloc(DISK);
        assert_non_null(saved);
        memcpy(saved, m.b, DISK);
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 0);
        assert_int_equal(check(&m, LAYOUT_MBR, reason), 1);
        assert_string_equal(reason, "a GPT where the release's layout has an MBR");

        m.b[512 + 16] ^= 1;                                    /* primary header CRC */
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 1);
        assert_non_null(strstr(reason, "primary GPT header's CRC is wrong"));
        memcpy(m.b, saved, DISK);
        m.b[1024 + 40] ^= 1;                                   /* primary entry 1's end */
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 1);
        assert_non_null(strstr(reason, "primary GPT partition array's CRC is wrong"));
        memcpy(m.b, saved, DISK);
        m.b[backup + 16] ^= 1;
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 1);
        assert_string_equal(reason, "the backup GPT's header CRC is wrong");
        /* The backup re-pointed at another partition, with valid CRCs: they disagree. */
        memcpy(m.b, saved, DISK);
        put_le32(m.b + backup_entries + 32, 50 * 2048);
        gpt_fix_crcs(m.b + backup, m.b + backup_entries);
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 1);
        assert_string_equal(reason, "the backup GPT differs from the primary (systems that read the backup see other partitions)");
        /* A second partition in both, consistently: still not what flash writes. */
        memcpy(m.b, saved, DISK);
        memcpy(m.b + 1024 + 128, m.b + 1024, 128);
        put_le32(m.b + 1024 + 128 + 32, 50 * 2048);
        gpt_fix_crcs(m.b + 512, m.b + 1024);
        memcpy(m.b + backup_entries, m.b + 1024, 128 * 128);
        gpt_fix_crcs(m.b + backup, m.b + backup_entries);
        assert_int_equal(check(&m, LAYOUT_GPT, reason), 1);
        assert_string_equal(reason, "the GPT holds 2 partitions; flash writes one");
        free(saved);
        free(m.b);
}

/* 4Kn keys: the tables flash writes with 4096-byte sectors pass too. */
static void test_check_table_4kn(void **state) {
        for (int scheme = LAYOUT_MBR; scheme <= LAYOUT_GPT; scheme++) {
                _cleanup_(plan_freep) struct plan *p = NULL;
                struct layout_params lp = { .scheme = scheme, .disk_size = DISK, .sector_size = 4096, .disk_id = 5 };
                char reason[256];
                struct mem m;

                assert_int_equal(plan_new(&p), 0);
                assert_int_equal(layout_partition(&lp, p, NULL, NULL), 0);
                assert_int_equal(plan_finalize(p, DISK, NULL), 0);
                m = render(p, DISK);
                if (check(&m, scheme, reason) != 0)
                        fail_msg("%s, 4096-byte sectors: %s", layout_scheme_to_string(scheme), reason);
                free(m.b);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mbr),
                cmocka_unit_test(test_gpt_reproducible),
                cmocka_unit_test(test_find_volume_mbr_and_errors),
                cmocka_unit_test(test_too_small_and_bad_params),
                cmocka_unit_test(test_wipes_gpt_and_backup),
                cmocka_unit_test(test_check_table_mbr),
                cmocka_unit_test(test_check_table_gpt),
                cmocka_unit_test(test_check_table_4kn),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
