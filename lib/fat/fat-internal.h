/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the FAT writer (fat-tree.c, fat-layout.c) and reader (fat-reader.c) share. */
#pragma once

#include "fat/fat.h"

/* fatgen103 §3 and §4: the smallest FAT32 cluster count, the largest, and the markers. */
#define FAT32_MIN_CLUSTERS  65525u
#define FAT32_MAX_CLUSTERS  0x0FFFFFF5u
#define FAT32_ENTRY_MASK    0x0FFFFFFFu
#define FAT32_BAD           0x0FFFFFF7u
#define FAT32_EOC           0x0FFFFFFFu
#define FAT32_EOC_MIN       0x0FFFFFF8u
#define FAT_DIRENT_SIZE     32
#define FAT_LFN_CHARS       13          /* UTF-16 units per LFN entry, fatgen103 §7 */
#define FAT_CLUSTER_MAX     (32 * 1024)

static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v) {
        put_le16(p, (uint16_t) v);
        put_le16(p + 2, (uint16_t) (v >> 16));
}
static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t) (p[0] | (p[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *p) { return get_le16(p) | ((uint32_t) get_le16(p + 2) << 16); }

static inline bool is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

/* A path component of len bytes that is "." or "..": it names a folder, never an entry, and
 * ".." climbs out of the tree. Its own rule, apart from the trailing-dot one that refuses
 * ".." too, so that each is tested for itself. */
bool fat_is_dot_component(const char *name, size_t len);
/* UTF-8 (already checked by fat_check_name) to UTF-16; returns the unit count or -errno. */
int fat_utf8_to_utf16(const char *s, size_t len, uint16_t *out, size_t max);
/* UTF-16 to a malloc'ed UTF-8 string; -EILSEQ on an unpaired surrogate. */
int fat_utf16_to_utf8(const uint16_t *s, size_t n, char **ret);
/* The upper case Windows compares long names with: fat-upcase.c, from gen-upcase.py. */
uint16_t fat_upcase(uint16_t c);
/* The upper halves (0x80-0xFF) of OEM code pages 437 (Linux' default) and 850 (Windows' in France), as UTF-16. */
extern const uint16_t fat_cp437[128], fat_cp850[128];
/* fatgen103 §7: the checksum of an 11-byte short name stored in each LFN entry. */
uint8_t fat_lfn_checksum(const uint8_t name[11]);
/* True when name (UTF-16) is a valid 8.3 name in upper case: stored with no LFN. */
bool fat_is_exact_short(const uint16_t *name, size_t n, uint8_t out[11]);
/*
 * fatgen103 §7 basis name: upper case, characters a short name cannot hold become '_',
 * spaces and leading dots dropped, 8 + 3 characters kept. *is_lossy says a numeric tail
 * is needed even without a collision.
 */
void fat_basis_name(const uint16_t *name, size_t n, uint8_t out[11], bool *is_lossy);
/* Put "~tail" into a basis name: the primary part is cut so that it and the tail fit 8. */
void fat_apply_tail(const uint8_t basis[11], uint32_t tail, uint8_t out[11]);
/* LFN entries a name needs (0 when it is an exact upper-case 8.3 name). */
unsigned fat_lfn_entries(const uint16_t *name, size_t n);

/* FAT date and time fields (fatgen103 §6.1) from seconds since the epoch, UTC, clamped to 1980-2107. */
void fat_time_encode(int64_t t, uint16_t *ret_date, uint16_t *ret_time, uint8_t *ret_tenths);
int64_t fat_time_decode(uint16_t date, uint16_t time);

/* fatgen103 §6: one short entry (creation, access and write times all mtime). */
void fat_put_short_entry(uint8_t *e, const uint8_t name[11], uint8_t attrs, int64_t mtime,
                         uint32_t cluster, uint32_t size);
/* The fields of a short entry that say where its content is, how long, and when it was written. */
void fat_entry_set_content(uint8_t *e, int64_t mtime, uint32_t cluster, uint32_t size);
/* Its creation, access and write times, all mtime (as fat_put_short_entry writes them). */
void fat_entry_set_times(uint8_t *e, int64_t mtime);
/* fatgen103 §7: the lfn_count LFN entries of name16, last part first; returns the bytes written. */
size_t fat_put_lfn_entries(uint8_t *e, const uint16_t *name16, size_t len16, unsigned lfn_count,
                           const uint8_t short_name[11]);

/* ---- what the in-place editor (fat-edit.c) takes from an open reader ---- */

struct fat_geometry {
        uint64_t offset, size;          /* of the volume in the target */
        uint32_t sector_size, cluster_size, clusters, root_cluster;
        uint32_t reserved_sectors, n_fats, fsinfo_sector, backup_boot_sector;
        uint64_t fat_bytes;             /* of one FAT */
        uint64_t data_offset;           /* of cluster 2, from the volume's start */
        bool is_mirrored;               /* BPB_ExtFlags bit 7 clear: every FAT is kept */
};
void fat_reader_geometry(const struct fat_reader *r, struct fat_geometry *ret);
/* FAT entry of cluster c (2 to clusters + 1, -ERANGE otherwise), upper 4 bits masked. */
int fat_reader_entry(struct fat_reader *r, uint32_t c, uint32_t *ret, struct cart_error *err);
/* len bytes at byte at of the volume (-ERANGE past its end). */
int fat_reader_read_raw(struct fat_reader *r, void *buf, size_t len, uint64_t at, struct cart_error *err);
/* The clusters of the chain from first, at most max of them, in order: the walker the reader
 * itself follows (chain_follow), flattened; path names the chain in messages. */
int fat_reader_chain(struct fat_reader *r, uint32_t first, uint64_t max, const char *path,
                     uint32_t **ret, size_t *ret_n, struct cart_error *err);
/* Forget the cached FAT: the editor wrote it. */
void fat_reader_forget(struct fat_reader *r);

/* ---- the tree being written (fat-tree.c), laid out by fat-layout.c ---- */

struct fat_node {
        char *path;                     /* as added: for messages and plan labels */
        uint16_t *name16;               /* the last component in UTF-16 */
        uint16_t len16;
        uint8_t attrs;
        uint8_t lfn_count;              /* LFN entries before the short entry */
        bool is_dir, is_explicit;
        uint32_t parent;                /* node index; the root (0) is its own parent */
        uint32_t hash;                  /* of (parent, upper-cased name) */
        int64_t mtime;
        uint64_t size;
        cart_read_fn read;
        void *userdata;
        uint64_t source_offset;
        uint32_t n_entries;             /* directories: 32-byte entries, LFN and dot entries included */
        uint32_t children, n_children;  /* directories: range of fat_tree.child_index, once prepared */
        uint8_t short_name[11];
        uint32_t first_cluster, n_clusters;   /* set by each layout */
};

struct fat_tree {
        struct fat_node *nodes;
        size_t n, allocated;
        uint32_t *slots;                /* open addressing: node index + 1, 0 when empty */
        size_t n_slots;
        uint64_t content_bytes;
        bool is_prepared;
        uint32_t *child_index;          /* children of each directory, sorted by name */
        uint32_t *order;                /* directories then files, depth-first, names sorted */
        size_t n_dirs, n_files;
};

/* Sort children, give every entry its short name, fix the layout order. Idempotent. */
int fat_tree_prepare(struct fat_tree *t, struct cart_error *err);
