/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <blkid.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <sys/mman.h>

#include "flash/layout.h"

#define GPT_BASIC_DATA "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
/* The same GUID as stored on disk (mixed endian, UEFI 2.x §5.3.3). */
static const uint8_t gpt_basic_data_bytes[16] = {
        0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44,
        0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7,
};

DEFINE_POINTER_CLEANUP(struct fdisk_context, fdisk_unref_context);
DEFINE_POINTER_CLEANUP(struct fdisk_partition, fdisk_unref_partition);
static inline void blkid_free_probep(blkid_probe *p) { if (*p) blkid_free_probe(*p); }

int layout_scheme_from_string(const char *s, enum layout_scheme *ret) {
        if (!s || streq(s, "mbr") || streq(s, "dos"))
                *ret = LAYOUT_MBR;
        else if (streq(s, "gpt"))
                *ret = LAYOUT_GPT;
        else
                return -EINVAL;
        return 0;
}

const char *layout_scheme_to_string(enum layout_scheme s) {
        return s == LAYOUT_GPT ? "gpt" : "mbr";
}

/* A GUID derived from the disk id and a salt, so that images are reproducible. */
static void format_guid(uint32_t disk_id, uint32_t salt, char ret[37]) {
        uint64_t a = ((uint64_t) disk_id << 32 | salt) * UINT64_C(0x9E3779B97F4A7C15);
        uint64_t b = (a ^ (a >> 29)) * UINT64_C(0xBF58476D1CE4E5B9);

        b ^= b >> 32;
        snprintf(ret, 37, "%08" PRIx32 "-%04x-4%03x-%04x-%012" PRIx64,
                 (uint32_t) (a >> 32), (unsigned) (a >> 16) & 0xFFFF, (unsigned) a & 0xFFF,
                 (unsigned) (0x8000 | (b & 0x3FFF)), (b >> 16) & UINT64_C(0xFFFFFFFFFFFF));
}

static bool is_zero(const uint8_t *p, size_t n) {
        return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Copy the non-zero sectors of the scratch disk into the plan, sector 0 on its own. */
static int copy_sectors(int fd, uint64_t disk_size, uint32_t ss, struct plan *plan,
                        uint64_t *ret_bytes, struct cart_error *err) {
        const size_t bufsize = 256 * KIB;
        _cleanup_free_ uint8_t *buf = malloc(bufsize);
        uint64_t total = 0;
        off_t data = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                off_t hole;
                data = lseek(fd, data, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO)
                                break;
                        return cart_error_errno(err, -errno, NULL, "partition table: seek");
                }
                hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0)
                        return cart_error_errno(err, -errno, NULL, "partition table: seek");
                data -= data % ss;
                while (data < hole) {
                        size_t n = (size_t) MIN((uint64_t) bufsize, (uint64_t) (hole - data));
                        int r;

                        n = (size_t) ALIGN_POW2((uint64_t) n, ss);
                        n = (size_t) MIN((uint64_t) n, disk_size - (uint64_t) data);
                        r = pread_full(fd, buf, n, (uint64_t) data);
                        if (r < 0)
                                return cart_error_errno(err, r, NULL, "partition table: read");
                        for (size_t i = 0; i < n;) {
                                size_t j = i;
                                while (j < n && !is_zero(buf + j, ss) && !(j > i && data + (off_t) j == (off_t) ss))
                                        j += ss;
                                if (j > i) {
                                        uint64_t at = (uint64_t) data + i;
                                        r = plan_add_data_copy(plan, at, buf + i, j - i,
                                                               at == 0 ? "partition table (sector 0)" :
                                                               at + (j - i) == disk_size ? "partition table (backup)" :
                                                               "partition table");
                                        if (r < 0)
                                                return cart_error_errno(err, r, NULL, "partition table");
                                        total += j - i;
                                        i = j;
                                } else
                                        i += ss;
                        }
                        data += (off_t) n;
                }
        }
        *ret_bytes = total;
        return 0;
}

static int add_partition(struct fdisk_context *cxt, const struct layout_params *p,
                         uint64_t align, uint32_t ss, struct cart_error *err) {
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
        struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
        struct fdisk_parttype *type;
        char guid[37];
        int r;

        if (!pa || !lb)
                return -ENOMEM;
        type = p->scheme == LAYOUT_GPT ? fdisk_label_parse_parttype(lb, GPT_BASIC_DATA)
                                       : fdisk_label_get_parttype_from_code(lb, 0x0c);
        if (!type)
                return cart_error_set(err, -EINVAL, "partition table: no partition type");
        r = fdisk_partition_set_type(pa, type);
        fdisk_unref_parttype(type);
        if (r >= 0)
                r = fdisk_partition_set_start(pa, align / ss);
        if (r >= 0)
                r = fdisk_partition_end_follow_default(pa, 1);
        if (r >= 0)
                r = fdisk_partition_set_partno(pa, 0);
        if (r >= 0 && p->scheme == LAYOUT_GPT) {
                format_guid(p->disk_id, 1, guid);
                r = fdisk_partition_set_uuid(pa, guid);
                if (r >= 0 && p->name)
                        r = fdisk_partition_set_name(pa, p->name);
        }
        if (r >= 0)
                r = fdisk_add_partition(cxt, pa, NULL);
        if (r < 0)
                return cart_error_errno(err, r, NULL, "partition table: cannot add the partition");
        return 0;
}

int layout_partition(const struct layout_params *p, struct plan *plan,
                     struct layout_info *ret_info, struct cart_error *err) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint32_t ss = p->sector_size ? p->sector_size : 512;
        uint64_t align = p->alignment ? p->alignment : MIB;
        struct layout_info info = {};
        char id[40], path[64];
        int r;

        if ((ss != 512 && ss != 4096) || align % ss || p->disk_size % ss)
                return cart_error_set(err, -EINVAL, "partition table: sector size %" PRIu32
                                      " and alignment %" PRIu64 " do not fit a disk of %" PRIu64 " bytes",
                                      ss, align, p->disk_size);
        /* Room for the partition and, with GPT, the backup table after it. */
        if (p->disk_size < align + MIB + 64 * KIB)
                return cart_error_set(err, -ENOSPC, "partition table: a disk of %" PRIu64 " bytes is too small",
                                      p->disk_size);

        fd = memfd_create("cartable-layout", MFD_CLOEXEC);
        if (fd < 0)
                return cart_error_errno(err, -errno, NULL, "partition table: memfd");
        if (ftruncate(fd, (off_t) p->disk_size) < 0)
                return cart_error_errno(err, -errno, NULL, "partition table: scratch disk");

        cxt = fdisk_new_context();
        if (!cxt)
                return -ENOMEM;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        r = fdisk_save_user_sector_size(cxt, ss, ss);
        if (r >= 0)
                r = fdisk_save_user_grain(cxt, align);
        if (r >= 0)
                r = fdisk_assign_device_by_fd(cxt, fd, path, 0);
        if (r >= 0)
                r = fdisk_disable_dialogs(cxt, 1);
        if (r >= 0)
                r = fdisk_create_disklabel(cxt, p->scheme == LAYOUT_GPT ? "gpt" : "dos");
        if (r < 0)
                return cart_error_errno(err, r, NULL, "partition table: libfdisk");

        if (p->scheme == LAYOUT_GPT)
                format_guid(p->disk_id, 0, id);
        else
                snprintf(id, sizeof(id), "0x%08" PRIx32, p->disk_id);
        r = fdisk_set_disklabel_id_from_string(cxt, id);
        if (r < 0)
                return cart_error_errno(err, r, id, "partition table: disk identifier");

        r = add_partition(cxt, p, align, ss, err);
        if (r < 0)
                return r;
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return cart_error_errno(err, r, NULL, "partition table: libfdisk write");
        r = fdisk_get_partition(cxt, 0, &pa);
        if (r < 0)
                return cart_error_errno(err, r, NULL, "partition table: partition not found");
        info.partition_offset = fdisk_partition_get_start(pa) * ss;
        info.partition_size = fdisk_partition_get_size(pa) * ss;
        r = fdisk_deassign_device(cxt, 1);
        if (r < 0)
                return cart_error_errno(err, r, NULL, "partition table: libfdisk");

        r = copy_sectors(fd, p->disk_size, ss, plan, &info.table_bytes, err);
        if (r < 0)
                return r;
        if (ret_info)
                *ret_info = info;
        return 0;
}

static int wipe(struct plan *plan, uint64_t at, uint64_t len, uint64_t disk_size, uint32_t ss,
                const char *what) {
        uint64_t start = at - at % ss, end = ALIGN_POW2(at + len, (uint64_t) ss);

        end = MIN(end, disk_size);
        return end > start ? plan_add_wipe(plan, start, end - start, what) : 0;
}

/* Wipe every signature libblkid finds in [offset, offset + size); returns how many. */
static int wipe_signatures(int fd, uint64_t offset, uint64_t size, uint64_t disk_size, uint32_t ss,
                           bool whole_disk, struct plan *plan, struct cart_error *err) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        int n = 0, r;

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0)
                return cart_error_set(err, -EIO, "wipe: libblkid cannot probe the target at %" PRIu64, offset);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, whole_disk);
        if (whole_disk)
                blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);

        while ((r = blkid_do_probe(pr)) == 0) {
                const char *off = NULL, *type = NULL;
                size_t len = 0;
                uint64_t at;

                if (blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", &off, NULL) == 0)
                        blkid_probe_lookup_value(pr, "SBMAGIC", NULL, &len);
                else if (blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", &off, NULL) == 0)
                        blkid_probe_lookup_value(pr, "PTMAGIC", NULL, &len);
                if (!off)
                        continue;
                if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) < 0 &&
                    blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL) < 0)
                        type = "signature";
                at = offset + strtoull(off, NULL, 10);
                r = wipe(plan, at, MAX(len, (size_t) 1), disk_size, ss, type);
                if (r < 0)
                        return r;
                n++;
        }
        if (r < 0)
                return cart_error_set(err, -EIO, "wipe: libblkid failed to probe the target at %" PRIu64, offset);
        return n;
}

/* Each old partition's file system signatures (an ext4 superblock, an old FAT's magic). */
static int wipe_partitions(int fd, uint64_t disk_size, uint32_t ss, struct plan *plan,
                           struct cart_error *err) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        blkid_partlist ls;
        int n = 0, count;

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t) disk_size) < 0)
                return cart_error_set(err, -EIO, "wipe: libblkid cannot probe the target");
        blkid_probe_enable_superblocks(pr, 0);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT);
        ls = blkid_probe_get_partitions(pr);
        count = ls ? blkid_partlist_numof_partitions(ls) : 0;
        for (int i = 0; i < count; i++) {
                blkid_partition part = blkid_partlist_get_partition(ls, i);
                uint64_t start = (uint64_t) blkid_partition_get_start(part) * 512;
                uint64_t size = (uint64_t) blkid_partition_get_size(part) * 512;
                int r;

                if (start >= disk_size || size == 0)
                        continue;
                size = MIN(size, disk_size - start);
                r = wipe_signatures(fd, start, size, disk_size, ss, false, plan, err);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

int layout_add_wipes(int fd, uint64_t disk_size, uint32_t sector_size, struct plan *plan,
                     struct cart_error *err) {
        uint32_t ss = sector_size ? sector_size : 512;
        int n, r;

        n = wipe_signatures(fd, 0, disk_size, disk_size, ss, true, plan, err);
        if (n < 0)
                return n;
        r = wipe_partitions(fd, disk_size, ss, plan, err);
        if (r < 0)
                return r;
        n += r;
        /* A GPT backup header survives the loss of the primary and fdisk would restore it. */
        for (uint64_t bs = 512; bs <= 4096; bs *= 8) {
                char magic[8];
                if (disk_size < 2 * bs)
                        continue;
                r = pread_full(fd, magic, sizeof(magic), disk_size - bs);
                if (r < 0)
                        return cart_error_io(err, r, NULL, disk_size - bs, "wipe");
                if (memcmp(magic, "EFI PART", 8) == 0) {
                        r = wipe(plan, disk_size - bs, bs, disk_size, ss, "GPT backup header");
                        if (r < 0)
                                return r;
                        n++;
                }
        }
        return n;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t) (p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t) le32(p + 4) << 32; }

/*
 * A FAT boot sector by its BPB (fatgen103 §3.1-3.3), as Linux's fat_read_bpb() and
 * Windows judge it: never by the label or the informational "FAT32   " string, which
 * nothing that mounts a volume reads.
 */
static bool is_fat_boot_sector(const uint8_t *b) {
        uint16_t bps = le16(b + 11), reserved = le16(b + 14), total16 = le16(b + 19);
        uint8_t spc = b[13], fats = b[16], media = b[21];

        return b[510] == 0x55 && b[511] == 0xAA &&
               (bps == 512 || bps == 1024 || bps == 2048 || bps == 4096) &&
               spc != 0 && (spc & (spc - 1)) == 0 && reserved >= 1 && fats >= 1 &&
               (media == 0xF0 || media >= 0xF8) && (total16 != 0 || le32(b + 32) != 0);
}

/* CRC-32 (IEEE 802.3, reflected), the GPT's (UEFI 2.x §5.3.2). */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
        crc = ~crc;
        while (n--) {
                crc ^= *p++;
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
        }
        return ~crc;
}

/* A GPT header (UEFI 2.x §5.3.2) and its entry array, read at lba with ss-byte sectors. */
struct gpt {
        uint8_t hdr[512];
        uint64_t my_lba, alternate_lba, first_usable, last_usable, entries_lba;
        uint32_t n_entries, entry_size;
        uint8_t *entries;               /* n_entries * entry_size bytes, malloc'd */
        bool is_header_crc_ok, is_entries_crc_ok;
};

static void gpt_done(struct gpt *g) {
        free(g->entries);
        g->entries = NULL;
}

/* -EMEDIUMTYPE when there is no plausible GPT header there; sizes are bounded before any
 * read so that a hostile header cannot make us allocate or read much. */
static int gpt_read(cart_read_fn read, void *userdata, uint64_t disk_size, uint32_t ss, uint64_t lba,
                    struct gpt *ret) {
        struct gpt g = {};
        uint32_t hsize;
        uint8_t h[512];
        size_t len;
        int r;

        /* Divide, never multiply: LBAs from the disk are 64-bit and would wrap. */
        if (lba >= disk_size / ss)
                return -EMEDIUMTYPE;
        r = read(userdata, g.hdr, sizeof(g.hdr), lba * ss);
        if (r < 0)
                return r;
        if (memcmp(g.hdr, "EFI PART", 8) != 0)
                return -EMEDIUMTYPE;
        hsize = le32(g.hdr + 12);
        g.my_lba = le64(g.hdr + 24);
        g.alternate_lba = le64(g.hdr + 32);
        g.first_usable = le64(g.hdr + 40);
        g.last_usable = le64(g.hdr + 48);
        g.entries_lba = le64(g.hdr + 72);
        g.n_entries = le32(g.hdr + 80);
        g.entry_size = le32(g.hdr + 84);
        if (g.entry_size < 128 || g.entry_size > 4096 || g.n_entries > 1024 ||
            g.entries_lba >= disk_size / ss ||
            (uint64_t) g.n_entries * g.entry_size > disk_size - g.entries_lba * ss)
                return -EMEDIUMTYPE;
        if (hsize >= 92 && hsize <= sizeof(h)) {
                memcpy(h, g.hdr, sizeof(h));
                memset(h + 16, 0, 4);
                g.is_header_crc_ok = crc32_update(0, h, hsize) == le32(g.hdr + 16);
        }
        len = (size_t) g.n_entries * g.entry_size;
        g.entries = malloc(MAX(len, (size_t) 1));
        if (!g.entries)
                return -ENOMEM;
        r = len ? read(userdata, g.entries, len, g.entries_lba * ss) : 0;
        if (r < 0) {
                gpt_done(&g);
                return r;
        }
        g.is_entries_crc_ok = crc32_update(0, g.entries, len) == le32(g.hdr + 88);
        *ret = g;
        return 0;
}

/* Add the volume at [offset, offset + size) when its first sector is a FAT boot sector. */
static int add_volume(cart_read_fn read, void *userdata, uint64_t disk_size, uint64_t offset, uint64_t size,
                      struct layout_volume *vols, size_t *n) {
        uint8_t boot[512];
        int r;

        if (*n >= LAYOUT_VOLUMES_MAX || offset == 0 || offset >= disk_size || size > disk_size - offset ||
            size < sizeof(boot))
                return 0;
        r = read(userdata, boot, sizeof(boot), offset);
        if (r < 0)
                return r;
        if (is_fat_boot_sector(boot))
                vols[(*n)++] = (struct layout_volume) { .offset = offset, .size = size };
        return 0;
}

/* The FAT partitions of a GPT with ss-byte sectors, in table order. */
static int find_gpt(cart_read_fn read, void *userdata, uint64_t disk_size, uint32_t ss,
                    struct layout_volume *vols, size_t *n) {
        struct gpt g;
        int r = gpt_read(read, userdata, disk_size, ss, 1, &g);

        if (r < 0)
                return r;
        for (uint32_t i = 0; i < g.n_entries && r >= 0; i++) {
                const uint8_t *e = g.entries + (size_t) i * g.entry_size;
                uint64_t first = le64(e + 32), last = le64(e + 40);

                if (is_zero(e, 16) || first == 0 || last < first || last >= disk_size / ss)
                        continue;
                r = add_volume(read, userdata, disk_size, first * ss, (last - first + 1) * ss, vols, n);
        }
        gpt_done(&g);
        return r;
}

int layout_find_volumes(cart_read_fn read, void *userdata, uint64_t disk_size,
                        struct layout_volume ret[LAYOUT_VOLUMES_MAX], size_t *ret_n, struct cart_error *err) {
        uint8_t mbr[512];
        size_t n = 0;
        int r;

        if (disk_size < 4096)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: %" PRIu64 " bytes", disk_size);
        r = read(userdata, mbr, sizeof(mbr), 0);
        if (r < 0)
                return cart_error_io(err, r, NULL, 0, "partition table");
        if (is_fat_boot_sector(mbr)) {
                ret[0] = (struct layout_volume) { .offset = 0, .size = disk_size };
                *ret_n = 1;
                return 0;
        }
        if (mbr[510] != 0x55 || mbr[511] != 0xAA)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no partition table");
        for (int i = 0; i < 4; i++) {
                const uint8_t *pe = mbr + 446 + 16 * i;
                uint64_t start = le32(pe + 8), count = le32(pe + 12);

                if (pe[4] == 0xEE) {
                        for (uint32_t ss = 512; ss <= 4096 && n == 0; ss *= 8) {
                                r = find_gpt(read, userdata, disk_size, ss, ret, &n);
                                if (r < 0 && r != -EMEDIUMTYPE)
                                        return cart_error_errno(err, r, NULL, "GPT");
                        }
                        if (n == 0)
                                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no usable GPT partition");
                        break;
                }
                if (pe[4] == 0 || start == 0)
                        continue;
                /* LBA units are logical sectors: 512 bytes, or 4096 on a 4Kn key. */
                for (uint64_t ss = 512; ss <= 4096; ss *= 8) {
                        size_t before = n;
                        if ((start + count) * ss > disk_size)
                                continue;
                        r = add_volume(read, userdata, disk_size, start * ss, count * ss, ret, &n);
                        if (r < 0)
                                return cart_error_io(err, r, NULL, start * ss, "partition");
                        if (n > before)
                                break;
                }
        }
        if (n == 0)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no FAT partition");
        *ret_n = n;
        return 0;
}

int layout_find_volume(cart_read_fn read, void *userdata, uint64_t disk_size,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err) {
        struct layout_volume vols[LAYOUT_VOLUMES_MAX];
        size_t n;
        int r = layout_find_volumes(read, userdata, disk_size, vols, &n, err);

        if (r < 0)
                return r;
        *ret_offset = vols[0].offset;
        *ret_size = vols[0].size;
        return 0;
}

/* ---- is the table exactly what layout_partition() writes? ---- */

#define NOT_AS_FLASHED(...) (snprintf(reason, size, __VA_ARGS__), 1)

static bool has_gpt_header(cart_read_fn read, void *userdata, uint64_t disk_size) {
        uint8_t magic[8];

        for (uint64_t ss = 512; ss <= 4096; ss *= 8) {
                if (read(userdata, magic, sizeof(magic), ss) == 0 && memcmp(magic, "EFI PART", 8) == 0)
                        return true;
                if (read(userdata, magic, sizeof(magic), disk_size - disk_size % ss - ss) == 0 &&
                    memcmp(magic, "EFI PART", 8) == 0)
                        return true;
        }
        return false;
}

static int check_mbr(cart_read_fn read, void *userdata, uint64_t disk_size, const uint8_t *mbr,
                     const struct layout_expect *e, char *reason, size_t size) {
        const uint8_t *pe = mbr + 446;
        uint64_t start = le32(pe + 8);
        int n = 0;

        for (int i = 0; i < 4; i++)
                n += !is_zero(mbr + 446 + 16 * i, 16);
        if (n != 1)
                return NOT_AS_FLASHED("the MBR holds %d partitions; flash writes one", n);
        if (is_zero(pe, 16))
                return NOT_AS_FLASHED("the partition is not the MBR's first entry, where flash writes it");
        if (pe[4] != 0x0c)
                return NOT_AS_FLASHED("the partition has type 0x%02x; flash writes 0x0c (FAT32 LBA)", pe[4]);
        if (start * 512 != e->volume_offset && start * 4096 != e->volume_offset)
                return NOT_AS_FLASHED("the partition starts at sector %" PRIu64 ", not at the volume checked (byte %" PRIu64 ")",
                                      start, e->volume_offset);
        if (has_gpt_header(read, userdata, disk_size))
                return NOT_AS_FLASHED("a GPT header lies beside the MBR; flash wipes it");
        return 0;
}

/* The primary and the backup GPT: both CRCs of each, and the same table in both. */
static int check_gpt(cart_read_fn read, void *userdata, uint64_t disk_size, const uint8_t *mbr,
                     const struct layout_expect *e, char *reason, size_t size) {
        struct gpt p = {}, b = {};
        uint64_t last;
        uint32_t ss = 0;
        int n = 0, r = 0, k;

        for (int i = 1; i < 4; i++)
                n += !is_zero(mbr + 446 + 16 * i, 16);
        if (mbr[446 + 4] != 0xEE || n > 0)
                return NOT_AS_FLASHED("the MBR is not the protective MBR of a GPT (one entry of type 0xee)");
        for (uint32_t s = 512; s <= 4096 && !ss; s *= 8) {
                k = gpt_read(read, userdata, disk_size, s, 1, &p);
                if (k == -ENOMEM)
                        return k;
                if (k == 0)
                        ss = s;
        }
        if (!ss)
                return NOT_AS_FLASHED("no primary GPT header");
        last = disk_size / ss - 1;
        if (!p.is_header_crc_ok)
                r = NOT_AS_FLASHED("the primary GPT header's CRC is wrong (other systems use the backup)");
        else if (!p.is_entries_crc_ok)
                r = NOT_AS_FLASHED("the primary GPT partition array's CRC is wrong (other systems use the backup)");
        else if (p.my_lba != 1 || p.alternate_lba != last)
                r = NOT_AS_FLASHED("the primary GPT header points at a backup in sector %" PRIu64 ", not the last sector", p.alternate_lba);
        if (r)
                goto finish;
        k = gpt_read(read, userdata, disk_size, ss, last, &b);
        if (k == -ENOMEM) {
                r = k;
                goto finish;
        }
        if (k < 0)
                r = NOT_AS_FLASHED("no backup GPT header in the last sector");
        else if (!b.is_header_crc_ok || !b.is_entries_crc_ok)
                r = NOT_AS_FLASHED("the backup GPT's %s CRC is wrong", b.is_header_crc_ok ? "partition array" : "header");
        else if (b.my_lba != last || b.alternate_lba != 1 || b.first_usable != p.first_usable ||
                 b.last_usable != p.last_usable || memcmp(b.hdr + 56, p.hdr + 56, 16) != 0 ||
                 b.n_entries != p.n_entries || b.entry_size != p.entry_size ||
                 memcmp(b.entries, p.entries, (size_t) p.n_entries * p.entry_size) != 0)
                r = NOT_AS_FLASHED("the backup GPT differs from the primary (systems that read the backup see other partitions)");
        if (r)
                goto finish;
        n = 0;
        for (uint32_t i = 0; i < p.n_entries; i++)
                n += !is_zero(p.entries + (size_t) i * p.entry_size, p.entry_size);
        if (n != 1)
                r = NOT_AS_FLASHED("the GPT holds %d partitions; flash writes one", n);
        else if (is_zero(p.entries, p.entry_size))
                r = NOT_AS_FLASHED("the partition is not the GPT's first entry, where flash writes it");
        else if (memcmp(p.entries, gpt_basic_data_bytes, 16) != 0)
                r = NOT_AS_FLASHED("the partition is not a Microsoft basic data partition");
        else if (le64(p.entries + 32) * ss != e->volume_offset)
                r = NOT_AS_FLASHED("the partition starts at sector %" PRIu64 ", not at the volume checked (byte %" PRIu64 ")",
                                   le64(p.entries + 32), e->volume_offset);
finish:
        gpt_done(&p);
        gpt_done(&b);
        return r;
}

int layout_check_table(cart_read_fn read, void *userdata, uint64_t disk_size, const struct layout_expect *e,
                       char *reason, size_t size, struct cart_error *err) {
        uint64_t align = e->alignment ? e->alignment : MIB;
        uint8_t mbr[512];
        int r;

        r = read(userdata, mbr, sizeof(mbr), 0);
        if (r < 0)
                return cart_error_io(err, r, NULL, 0, "partition table");
        if (is_fat_boot_sector(mbr) || mbr[510] != 0x55 || mbr[511] != 0xAA)
                return NOT_AS_FLASHED("no partition table: the volume starts in sector 0");
        if (e->scheme == LAYOUT_GPT)
                r = mbr[446 + 4] != 0xEE ? NOT_AS_FLASHED("an MBR where the release's layout has a GPT") :
                    check_gpt(read, userdata, disk_size, mbr, e, reason, size);
        else
                r = mbr[446 + 4] == 0xEE ? NOT_AS_FLASHED("a GPT where the release's layout has an MBR") :
                    check_mbr(read, userdata, disk_size, mbr, e, reason, size);
        if (r == 0 && e->volume_offset != align)
                return NOT_AS_FLASHED("the volume starts at byte %" PRIu64 "; the release's layout puts it at %" PRIu64,
                                      e->volume_offset, align);
        return r;
}
