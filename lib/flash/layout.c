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

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t) le32(p + 4) << 32; }

static bool is_fat_boot_sector(const uint8_t *b) {
        return b[510] == 0x55 && b[511] == 0xAA &&
               (memcmp(b + 82, "FAT32   ", 8) == 0 || memcmp(b + 54, "FAT1", 4) == 0);
}

/* The basic data partition of a GPT with ss-byte sectors, or the first used one. */
static int find_gpt(cart_read_fn read, void *userdata, uint64_t disk_size, uint32_t ss,
                    uint64_t *ret_offset, uint64_t *ret_size) {
        uint8_t hdr[512], e[128];
        uint64_t entries, first = 0, last = 0;
        uint32_t n, esize;
        int r;

        r = read(userdata, hdr, sizeof(hdr), ss);
        if (r < 0)
                return r;
        if (memcmp(hdr, "EFI PART", 8) != 0)
                return -EMEDIUMTYPE;
        entries = le64(hdr + 72);
        n = le32(hdr + 80);
        esize = le32(hdr + 84);
        /* Divide, never multiply: LBAs from the disk are 64-bit and would wrap. */
        if (esize < 128 || esize > 4096 || n > 1024 || entries >= disk_size / ss)
                return -EMEDIUMTYPE;
        for (uint32_t i = 0; i < n; i++) {
                r = read(userdata, e, sizeof(e), entries * ss + (uint64_t) i * esize);
                if (r < 0)
                        return r;
                if (is_zero(e, 16))
                        continue;
                if (first == 0 || memcmp(e, gpt_basic_data_bytes, 16) == 0) {
                        first = le64(e + 32);
                        last = le64(e + 40);
                        if (memcmp(e, gpt_basic_data_bytes, 16) == 0)
                                break;
                }
        }
        if (first == 0 || last < first || last >= disk_size / ss)
                return -EMEDIUMTYPE;
        *ret_offset = first * ss;
        *ret_size = (last - first + 1) * ss;
        return 0;
}

int layout_find_volume(cart_read_fn read, void *userdata, uint64_t disk_size,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err) {
        uint8_t mbr[512], boot[512];
        int r;

        if (disk_size < 4096)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: %" PRIu64 " bytes", disk_size);
        r = read(userdata, mbr, sizeof(mbr), 0);
        if (r < 0)
                return cart_error_io(err, r, NULL, 0, "partition table");
        if (is_fat_boot_sector(mbr)) {
                *ret_offset = 0;
                *ret_size = disk_size;
                return 0;
        }
        if (mbr[510] != 0x55 || mbr[511] != 0xAA)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no partition table");
        for (int i = 0; i < 4; i++) {
                const uint8_t *pe = mbr + 446 + 16 * i;
                uint8_t type = pe[4];
                uint64_t start = le32(pe + 8), count = le32(pe + 12);

                if (type == 0xEE) {
                        for (uint32_t ss = 512; ss <= 4096; ss *= 8)
                                if (find_gpt(read, userdata, disk_size, ss, ret_offset, ret_size) == 0)
                                        return 0;
                        return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no usable GPT partition");
                }
                if (type != 0x0b && type != 0x0c && type != 0x0e && type != 0x06)
                        continue;
                /* LBA units are logical sectors: 512 bytes, or 4096 on a 4Kn key. */
                for (uint64_t ss = 512; ss <= 4096; ss *= 8) {
                        if (start == 0 || (start + count) * ss > disk_size)
                                continue;
                        r = read(userdata, boot, sizeof(boot), start * ss);
                        if (r < 0)
                                return cart_error_io(err, r, NULL, start * ss, "partition");
                        if (is_fat_boot_sector(boot)) {
                                *ret_offset = start * ss;
                                *ret_size = count * ss;
                                return 0;
                        }
                }
        }
        return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no FAT partition");
}
