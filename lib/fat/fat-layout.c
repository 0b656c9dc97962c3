/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lays a prepared tree out on a FAT32 volume and turns it into write-plan extents.
 *
 * On disk, in this order: sectors 0-7 (boot sector, FSInfo, zeros, backup boot sector,
 * backup FSInfo; fatgen103 §3.5 and §5), the rest of the reserved area untouched (no reader
 * looks there: fsck.fat and Linux read sectors 0, 1, 6 and 7 only), FAT #1 and FAT #2
 * (used entries as data, the rest as zeros), then clusters: the root directory at cluster 2,
 * every other directory depth-first with names sorted, then every file in the same order,
 * each in one contiguous run. Free clusters are never written.
 */
#include <inttypes.h>

#include "fat/fat-internal.h"

#define BOOT_REGION_SECTORS 8   /* boot, FSInfo, 2-5 zeroed, backup boot, backup FSInfo */
#define BACKUP_BOOT_SECTOR  6
#define RESERVED_MIN        32  /* fatgen103 §3.1: the usual FAT32 reserved area */

struct geometry {
        uint32_t sector_size, cluster_size, sectors_per_cluster;
        uint32_t total_sectors, reserved_sectors, fat_sectors, clusters;
        uint64_t offset;        /* of the volume in the target */
        uint64_t data_offset;   /* of cluster 2 in the target */
};

uint32_t fat_default_cluster_size(uint64_t volume_size) {
        uint64_t sectors = volume_size / 512;

        /* fatgen103 §3.6, DskTableFAT32 */
        if (sectors <= 532480)
                return 512;
        if (sectors <= 16777216)
                return 4096;
        if (sectors <= 33554432)
                return 8192;
        if (sectors <= 67108864)
                return 16384;
        return 32768;
}

static int compute_geometry(uint64_t offset, uint64_t size, uint32_t sector_size, uint32_t cluster_size,
                            uint32_t align, struct geometry *ret, struct cart_error *err) {
        uint32_t ss = sector_size ? sector_size : 512, spc, eps, rs, f, lo, hi;
        uint64_t total, pad, clusters;

        align = align ? align : (uint32_t) MIB;
        if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096)
                return cart_error_set(err, -EINVAL, "sector size %u: 512, 1024, 2048 or 4096 expected", ss);
        if (size < FAT_VOLUME_MIN || size > FAT_VOLUME_MAX)
                return cart_error_set(err, -EINVAL, "volume of %s: FAT32 volumes here are %" PRIu64 " MiB to 2 TiB",
                                      size_arg(size), FAT_VOLUME_MIN / MIB);
        if (offset % ss || align % ss)
                return cart_error_set(err, -EINVAL, "offset %" PRIu64 " and alignment %u must be multiples of the sector size %u",
                                      offset, align, ss);
        if (!is_pow2(cluster_size) || cluster_size < ss || cluster_size > FAT_CLUSTER_MAX)
                return cart_error_set(err, -EINVAL, "cluster size %u: a power of two from %u to 32768 expected",
                                      cluster_size, ss);
        /* 2 TiB of 512-byte sectors is one sector more than BPB_TotSec32 can count. */
        total = MIN(size / ss, (uint64_t) UINT32_MAX);
        spc = cluster_size / ss;
        eps = ss / 4;
        /* The smallest FAT that maps every cluster it leaves room for (fatgen103 §3.5). */
        lo = 1;
        hi = (uint32_t) ((total / spc + 2) / eps + 1);
        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                uint64_t used = RESERVED_MIN + 2 * (uint64_t) mid;
                if (used < total && (uint64_t) eps * mid >= (total - used) / spc + 2)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        f = lo;
        /* Grow the reserved area so that cluster 2 starts on an align boundary of the target. */
        pad = (align - (offset + (RESERVED_MIN + 2 * (uint64_t) f) * ss) % align) % align;
        rs = RESERVED_MIN + (uint32_t) (pad / ss);
        if (rs > UINT16_MAX || rs + 2 * (uint64_t) f >= total)
                return cart_error_set(err, -EINVAL, "alignment %u leaves no room for data", align);
        clusters = (total - rs - 2 * (uint64_t) f) / spc;
        if (clusters < FAT32_MIN_CLUSTERS)
                return cart_error_set(err, -EINVAL, "%s volume with %u-byte clusters has %" PRIu64 " clusters; FAT32 needs at least %u (use smaller clusters)",
                                      size_arg(size), cluster_size, clusters, FAT32_MIN_CLUSTERS);
        if (clusters >= FAT32_MAX_CLUSTERS)
                return cart_error_set(err, -EINVAL, "%s volume with %u-byte clusters has %" PRIu64 " clusters; FAT32 holds fewer than %u (use larger clusters)",
                                      size_arg(size), cluster_size, clusters, FAT32_MAX_CLUSTERS);
        *ret = (struct geometry) {
                .sector_size = ss, .cluster_size = cluster_size, .sectors_per_cluster = spc,
                .total_sectors = (uint32_t) total, .reserved_sectors = rs, .fat_sectors = f,
                .clusters = (uint32_t) clusters, .offset = offset,
                .data_offset = offset + (rs + 2 * (uint64_t) f) * ss,
        };
        return 0;
}

static uint32_t dir_clusters(const struct fat_node *d, uint32_t cs) {
        return (uint32_t) MAX(1, DIV_ROUND_UP((uint64_t) d->n_entries * FAT_DIRENT_SIZE, cs));
}

static uint32_t file_clusters(const struct fat_node *f, uint32_t cs) {
        return (uint32_t) DIV_ROUND_UP(f->size, cs);
}

uint32_t fat_choose_cluster_size(struct fat_tree *t, uint64_t volume_size, uint32_t sector_size) {
        uint32_t ss = sector_size ? sector_size : 512, best = 0;
        uint64_t best_bytes = UINT64_MAX;

        for (uint32_t cs = ss; cs <= FAT_CLUSTER_MAX; cs *= 2) {
                struct geometry g;
                uint64_t used = 0, bytes;

                if (compute_geometry(0, volume_size, ss, cs, 0, &g, NULL) < 0)
                        continue;
                for (size_t i = 0; i < t->n; i++)
                        used += t->nodes[i].is_dir ? dir_clusters(&t->nodes[i], cs) : file_clusters(&t->nodes[i], cs);
                if (used > g.clusters)
                        continue;
                bytes = (uint64_t) BOOT_REGION_SECTORS * ss + 2 * (uint64_t) g.fat_sectors * ss + used * cs;
                if (bytes <= best_bytes) {     /* on a tie, the larger cluster: a shorter FAT */
                        best_bytes = bytes;
                        best = cs;
                }
        }
        return best;
}

void fat_entry_set_content(uint8_t *e, int64_t mtime, uint32_t cluster, uint32_t size) {
        uint16_t date, time;
        uint8_t tenths;

        fat_time_encode(mtime, &date, &time, &tenths);
        put_le16(e + 18, date);          /* last access */
        put_le16(e + 20, (uint16_t) (cluster >> 16));
        put_le16(e + 22, time);          /* last write */
        put_le16(e + 24, date);
        put_le16(e + 26, (uint16_t) cluster);
        put_le32(e + 28, size);
}

void fat_entry_set_times(uint8_t *e, int64_t mtime) {
        uint16_t date, time;
        uint8_t tenths;

        fat_time_encode(mtime, &date, &time, &tenths);
        e[13] = tenths;
        put_le16(e + 14, time);          /* creation */
        put_le16(e + 16, date);
        put_le16(e + 18, date);          /* last access */
        put_le16(e + 22, time);          /* last write */
        put_le16(e + 24, date);
}

void fat_put_short_entry(uint8_t *e, const uint8_t name[11], uint8_t attrs, int64_t mtime,
                         uint32_t cluster, uint32_t size) {
        memcpy(e, name, 11);
        e[11] = attrs;
        fat_entry_set_times(e, mtime);
        fat_entry_set_content(e, mtime, cluster, size);
}

size_t fat_put_lfn_entries(uint8_t *e, const uint16_t *name16, size_t len16, unsigned lfn_count,
                           const uint8_t short_name[11]) {
        static const uint8_t at[FAT_LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
        uint8_t sum = fat_lfn_checksum(short_name);

        for (unsigned k = lfn_count; k >= 1; k--, e += FAT_DIRENT_SIZE) {
                e[0] = (uint8_t) (k | (k == lfn_count ? 0x40 : 0));
                e[11] = FAT_ATTR_LFN;
                e[13] = sum;
                for (unsigned j = 0; j < FAT_LFN_CHARS; j++) {
                        size_t i = (size_t) (k - 1) * FAT_LFN_CHARS + j;
                        /* After the name: one NUL, then 0xFFFF padding. */
                        put_le16(e + at[j], i < len16 ? name16[i] : i == len16 ? 0 : 0xFFFF);
                }
        }
        return (size_t) lfn_count * FAT_DIRENT_SIZE;
}

static void build_dir(const struct fat_tree *t, const struct fat_node *d, const struct fat_params *params,
                      const uint8_t label[11], uint8_t *buf) {
        uint8_t *e = buf;

        if (d == &t->nodes[0]) {
                if (params->label[0]) {
                        fat_put_short_entry(e, label, FAT_ATTR_VOLUME_ID, params->time, 0, 0);
                        e += FAT_DIRENT_SIZE;
                }
        } else {
                const struct fat_node *p = &t->nodes[d->parent];
                static const uint8_t dot[11] = ".          ", dotdot[11] = "..         ";

                fat_put_short_entry(e, dot, FAT_ATTR_DIRECTORY | d->attrs, d->mtime, d->first_cluster, 0);
                e += FAT_DIRENT_SIZE;
                /* fatgen103 §6.3: ".." of a first-level directory points to cluster 0. */
                fat_put_short_entry(e, dotdot, FAT_ATTR_DIRECTORY, d->mtime, d->parent == 0 ? 0 : p->first_cluster, 0);
                e += FAT_DIRENT_SIZE;
        }
        for (uint32_t i = 0; i < d->n_children; i++) {
                const struct fat_node *x = &t->nodes[t->child_index[d->children + i]];

                e += fat_put_lfn_entries(e, x->name16, x->len16, x->lfn_count, x->short_name);
                fat_put_short_entry(e, x->short_name,
                                x->attrs | (x->is_dir ? FAT_ATTR_DIRECTORY : FAT_ATTR_ARCHIVE),
                                x->mtime, x->first_cluster, x->is_dir ? 0 : (uint32_t) x->size);
                e += FAT_DIRENT_SIZE;
        }
}

/* The x86 code of the boot sector, at offset 0x5A: print the message through BIOS int 10h, halt. */
static const uint8_t boot_code[] = {
        0x31, 0xC0,             /* 5A: xor ax, ax */
        0x8E, 0xD8,             /* 5C: mov ds, ax */
        0xBE, 0x73, 0x7C,       /* 5E: mov si, 0x7C73 (the message) */
        0xFC,                   /* 61: cld */
        0xAC,                   /* 62: lodsb */
        0x84, 0xC0,             /* 63: test al, al */
        0x74, 0x09,             /* 65: jz 0x70 */
        0xB4, 0x0E,             /* 67: mov ah, 0x0E (teletype output) */
        0xBB, 0x07, 0x00,       /* 69: mov bx, 0x0007 (page 0, grey) */
        0xCD, 0x10,             /* 6C: int 0x10 */
        0xEB, 0xF2,             /* 6E: jmp 0x62 */
        0xF4,                   /* 70: hlt */
        0xEB, 0xFD,             /* 71: jmp 0x70 */
};
static const char boot_message[] = "This is not a bootable disk. Remove it and press Ctrl+Alt+Del.\r\n";

static void build_boot_sector(const struct geometry *g, const struct fat_params *params,
                              const uint8_t label[11], uint8_t *b) {
        static const uint8_t jump[3] = { 0xEB, 0x58, 0x90 };
        uint64_t hidden = g->offset / g->sector_size;

        /* fatgen103 §3.1 and §3.3 */
        memcpy(b, jump, 3);
        memcpy(b + 3, "MSWIN4.1", 8);
        put_le16(b + 11, (uint16_t) g->sector_size);
        b[13] = (uint8_t) g->sectors_per_cluster;
        put_le16(b + 14, (uint16_t) g->reserved_sectors);
        b[16] = 2;                                        /* FATs */
        b[21] = 0xF8;                                     /* media: fixed */
        put_le16(b + 24, 63);                             /* sectors per track */
        put_le16(b + 26, 255);                            /* heads */
        put_le32(b + 28, hidden > UINT32_MAX ? UINT32_MAX : (uint32_t) hidden);
        put_le32(b + 32, g->total_sectors);
        put_le32(b + 36, g->fat_sectors);
        put_le32(b + 44, 2);                              /* root cluster */
        put_le16(b + 48, 1);                              /* FSInfo sector */
        put_le16(b + 50, BACKUP_BOOT_SECTOR);
        b[64] = 0x80;                                     /* drive number */
        b[66] = 0x29;                                     /* extended boot signature */
        put_le32(b + 67, params->volume_id);
        memcpy(b + 71, label, 11);
        memcpy(b + 82, "FAT32   ", 8);
        memcpy(b + 0x5A, boot_code, sizeof(boot_code));
        memcpy(b + 0x73, boot_message, sizeof(boot_message));
        b[510] = 0x55;
        b[511] = 0xAA;
}

/* fatgen103 §5 */
static void build_fsinfo(uint32_t free_clusters, uint32_t next_free, uint8_t *b) {
        put_le32(b, 0x41615252);
        put_le32(b + 484, 0x61417272);
        put_le32(b + 488, free_clusters);
        put_le32(b + 492, next_free);
        put_le32(b + 508, 0xAA550000);
}

/* The label in upper case, padded with spaces; "NO NAME" when empty (fatgen103 §3.3). */
static void make_label(const char *l, uint8_t out[11]) {
        size_t n = strlen(l);

        memset(out, ' ', 11);
        if (n == 0) {
                memcpy(out, "NO NAME", 7);
                return;
        }
        for (size_t i = 0; i < n && i < 11; i++)
                out[i] = (uint8_t) (l[i] >= 'a' && l[i] <= 'z' ? l[i] - 0x20 : l[i]);
}

/* Gives each directory and file its clusters; returns the clusters used. */
static uint64_t assign_clusters(struct fat_tree *t, uint32_t cs) {
        uint64_t next = 2;

        for (size_t i = 0; i < t->n_dirs + t->n_files; i++) {
                struct fat_node *x = &t->nodes[t->order[i]];

                x->n_clusters = x->is_dir ? dir_clusters(x, cs) : file_clusters(x, cs);
                x->first_cluster = x->n_clusters > 0 ? (uint32_t) MIN(next, UINT32_MAX) : 0;
                next += x->n_clusters;
        }
        return next - 2;
}

static int add_fats(const struct fat_tree *t, const struct geometry *g, uint64_t used, struct plan *plan) {
        uint64_t fat_bytes = (uint64_t) g->fat_sectors * g->sector_size;
        uint64_t used_bytes = MIN(fat_bytes, ALIGN_POW2((used + 2) * 4, g->sector_size));
        uint8_t *fat = plan_alloc(plan, (size_t) used_bytes);
        int r;

        if (!fat)
                return -ENOMEM;
        put_le32(fat, 0x0FFFFF00 | 0xF8);                 /* media byte, fatgen103 §4 */
        put_le32(fat + 4, FAT32_EOC);                     /* clean, no I/O error */
        for (size_t i = 0; i < t->n_dirs + t->n_files; i++) {
                const struct fat_node *x = &t->nodes[t->order[i]];

                for (uint32_t c = 0; c < x->n_clusters; c++) {
                        uint32_t cl = x->first_cluster + c;
                        put_le32(fat + (size_t) cl * 4, c + 1 == x->n_clusters ? FAT32_EOC : cl + 1);
                }
        }
        for (int k = 0; k < 2; k++) {
                uint64_t at = g->offset + ((uint64_t) g->reserved_sectors + (uint64_t) k * g->fat_sectors) * g->sector_size;

                r = plan_add_data(plan, at, fat, used_bytes, k == 0 ? "FAT #1" : "FAT #2");
                if (r < 0)
                        return r;
                r = plan_add_zero(plan, at + used_bytes, fat_bytes - used_bytes,
                                  k == 0 ? "FAT #1 (free clusters)" : "FAT #2 (free clusters)");
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_clusters(struct fat_tree *t, const struct geometry *g, const struct fat_params *params,
                        const uint8_t label[11], struct plan *plan, uint64_t *ret_dir_bytes) {
        char name[FAT_PATH_MAX * 4 + 8];
        uint64_t dir_bytes = 0;
        int r;

        for (size_t i = 0; i < t->n_dirs + t->n_files; i++) {
                struct fat_node *x = &t->nodes[t->order[i]];
                uint64_t at = g->data_offset + (uint64_t) (x->first_cluster - 2) * g->cluster_size;
                uint64_t len = (uint64_t) x->n_clusters * g->cluster_size;

                if (x->n_clusters == 0)
                        continue;
                snprintf(name, sizeof(name), "/%s%s", x->path, x->is_dir && x->path[0] ? "/" : "");
                if (x->is_dir) {
                        uint8_t *buf = plan_alloc(plan, (size_t) len);
                        if (!buf)
                                return -ENOMEM;
                        build_dir(t, x, params, label, buf);
                        r = plan_add_data(plan, at, buf, len, name);
                        dir_bytes += len;
                } else
                        r = plan_add_source(plan, at, len, x->read, x->userdata, x->source_offset, x->size, name);
                if (r < 0)
                        return r;
        }
        *ret_dir_bytes = dir_bytes;
        return 0;
}

int fat_layout(struct fat_tree *t, const struct fat_params *params, struct plan *plan,
               struct fat_layout_info *ret_info, struct cart_error *err) {
        struct geometry g;
        uint8_t label[11], *boot;
        uint64_t used, dir_bytes, boot_bytes;
        uint32_t cs, free_clusters;
        int r;

        if (!t || !params || !plan)
                return -EINVAL;
        r = fat_check_label(params->label, err);
        if (r < 0)
                return r;
        cs = params->cluster_size;
        if (cs == 0)
                cs = MAX(fat_default_cluster_size(params->size), params->sector_size ? params->sector_size : 512);
        r = compute_geometry(params->offset, params->size, params->sector_size, cs, params->align, &g, err);
        if (r < 0)
                return r;
        r = fat_tree_prepare(t, err);
        if (r < 0)
                return r;
        used = assign_clusters(t, cs);
        if (used > g.clusters)
                return cart_error_set(err, -ENOSPC, "the content needs %s (%" PRIu64 " clusters of %u bytes) but the volume has %s: %s too many",
                                      size_arg(used * cs), used, cs, size_arg((uint64_t) g.clusters * cs),
                                      size_arg((used - g.clusters) * cs));
        free_clusters = g.clusters - (uint32_t) used;
        make_label(params->label, label);

        boot_bytes = (uint64_t) BOOT_REGION_SECTORS * g.sector_size;
        boot = plan_alloc(plan, (size_t) boot_bytes);
        if (!boot)
                return -ENOMEM;
        build_boot_sector(&g, params, label, boot);
        build_fsinfo(free_clusters, free_clusters > 0 ? (uint32_t) used + 2 : UINT32_MAX, boot + g.sector_size);
        memcpy(boot + BACKUP_BOOT_SECTOR * g.sector_size, boot, 2 * (size_t) g.sector_size);
        r = plan_add_data(plan, params->offset, boot, boot_bytes, "boot sectors and FSInfo");
        if (r < 0)
                return r;
        r = add_fats(t, &g, used, plan);
        if (r < 0)
                return r;
        r = add_clusters(t, &g, params, label, plan, &dir_bytes);
        if (r < 0)
                return r;
        if (ret_info)
                *ret_info = (struct fat_layout_info) {
                        .cluster_size = cs,
                        .reserved_sectors = g.reserved_sectors,
                        .fat_sectors = g.fat_sectors,
                        .data_offset = g.data_offset,
                        .clusters = g.clusters,
                        .clusters_used = (uint32_t) used,
                        .content_bytes = t->content_bytes,
                        .metadata_bytes = boot_bytes + 2 * (uint64_t) g.fat_sectors * g.sector_size + dir_bytes,
                        .free_bytes = (uint64_t) free_clusters * cs,
                };
        return 0;
}
