/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * FAT32, written and read in-process: no mount, no mkfs binary.
 * References: Microsoft "FAT32 File System Specification" v1.03 (fatgen103), cited as
 * "fatgen103 §N"; Linux fs/fat for what real readers accept.
 *
 * Writing: collect a tree (fat_tree_*), then fat_layout() turns it into extents of a
 * write plan (lib/base/plan.h): boot sectors, FSInfo, both FATs, directories, file contents
 * (through the caller's read callback, never held in memory). Free space is not in the plan.
 * The same inputs (tree, times, volume ID, label) give the same bytes.
 *
 * Reading: fat_reader_* opens a volume through a cart_read_fn and treats it as hostile:
 * every corruption (loops, cross-links, out-of-range chains, bad LFN checksums, endless
 * directories, impossible geometry) is an error, never a crash or a hang.
 *
 * Choices, so that readers of the bytes know what to expect:
 * - Order on disk: root directory at cluster 2, then every other directory, then every
 *   file, each group depth-first with the entries of a directory sorted by the bytes of
 *   their UTF-8 names (strcmp). Each directory and each file is one contiguous run.
 * - Sectors 0-7 are written (boot, FSInfo, zeros, backup boot, backup FSInfo); the rest of
 *   the reserved area is not: neither fsck.fat nor Linux nor Windows reads it. Old
 *   signatures elsewhere are the partition layout's to wipe.
 * - Names: an upper-case 8.3 name gets no LFN; every other name gets LFN entries (the NT
 *   lower-case bits are never written, but are honoured when reading). Short names are
 *   ASCII: other characters become '_' (fatgen103 §7 "lossy"), with numeric tails ~1,
 *   ~2, ... (no Windows hash tails). Case-insensitive comparison uses a fixed table
 *   (fat-name.c: Latin, Greek, Cyrillic, Armenian, fullwidth), not the locale.
 * - Reading, LFN entries that are orphaned, out of sequence or carry a wrong checksum are
 *   an error (-EUCLEAN), never ignored: a key cartable wrote has none.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/plan.h"
#include "base/util.h"

/* Directory entry attributes, fatgen103 §6. */
#define FAT_ATTR_READ_ONLY 0x01
#define FAT_ATTR_HIDDEN    0x02
#define FAT_ATTR_SYSTEM    0x04
#define FAT_ATTR_VOLUME_ID 0x08
#define FAT_ATTR_DIRECTORY 0x10
#define FAT_ATTR_ARCHIVE   0x20
#define FAT_ATTR_LFN       0x0F

/* A 64 MiB key less 1 MiB of alignment before the partition and 1 MiB after it (GPT's
 * backup) still holds a volume: 62 MiB of 512-byte clusters is twice FAT32's minimum. */
#define FAT_VOLUME_MIN     (62 * MIB)
#define FAT_VOLUME_MAX     (2 * TIB)
#define FAT_FILE_MAX       UINT64_C(0xFFFFFFFF)    /* 4 GiB - 1 */
#define FAT_NAME_MAX       255                     /* UTF-16 units of a long name */
#define FAT_PATH_MAX       256                     /* UTF-16 units: MAX_PATH 260 less "E:\" and NUL */
#define FAT_DIR_ENTRIES_MAX 65536                  /* 32-byte entries of one directory */
#define FAT_LABEL_MAX      11

/*
 * Name rules shared by the engine and by whoever accepts names from users (bundles,
 * recipes): a component is valid UTF-8, not empty, not "." or "..", at most FAT_NAME_MAX
 * UTF-16 units, without controls or " * / : < > ? \ |, without trailing dots or spaces,
 * and not a reserved device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an
 * extension). Errors: -EILSEQ, -ENAMETOOLONG, -EINVAL; the message names the component.
 */
int fat_check_name(const char *name, struct cart_error *err);
/* A '/'-separated relative path: every component checked, at most FAT_PATH_MAX units. */
int fat_check_path(const char *path, struct cart_error *err);
/* A volume label: at most 11 bytes once upper-cased, printable ASCII without " * + , . / : ; < = > ? [ \ ] |. */
int fat_check_label(const char *label, struct cart_error *err);

/* ---- writing ---- */

struct fat_tree;

int fat_tree_new(struct fat_tree **ret);
struct fat_tree *fat_tree_free(struct fat_tree *t);
DEFINE_POINTER_CLEANUP(struct fat_tree, fat_tree_free);

/*
 * Add a directory or a file by its '/'-separated path (no leading '/'). Missing parent
 * directories are created with the same time. mtime is seconds since the epoch, stored
 * as UTC in the FAT date/time fields (no time zone enters, so bytes are reproducible).
 * attrs: FAT_ATTR_READ_ONLY | HIDDEN | SYSTEM (ARCHIVE is set on files by the engine).
 * The file's size bytes are read through read(userdata, buf, len, source_offset + pos)
 * only when the plan is streamed. Errors name the path: invalid name, case-insensitive
 * collision (-EEXIST), file over FAT_FILE_MAX (-EFBIG), directory over
 * FAT_DIR_ENTRIES_MAX entries (-E2BIG), path too long.
 */
int fat_tree_add_dir(struct fat_tree *t, const char *path, uint8_t attrs, int64_t mtime,
                     struct cart_error *err);
int fat_tree_add_file(struct fat_tree *t, const char *path, uint64_t size, uint8_t attrs,
                      int64_t mtime, cart_read_fn read, void *userdata, uint64_t source_offset,
                      struct cart_error *err);

struct fat_params {
        uint64_t offset;        /* of the volume in the target, bytes, multiple of sector_size */
        uint64_t size;          /* of the volume, bytes: FAT_VOLUME_MIN to FAT_VOLUME_MAX */
        uint32_t sector_size;   /* 512 or 4096; 0 means 512 */
        uint32_t cluster_size;  /* bytes, power of two from sector_size to 32 KiB; 0: fatgen103 table */
        uint32_t align;         /* the data region starts on this boundary of the target; 0: 1 MiB */
        uint32_t volume_id;
        char label[FAT_LABEL_MAX + 1];  /* "" stores "NO NAME    " */
        int64_t time;           /* of the volume label and the root's "." entries */
};

struct fat_layout_info {
        uint32_t cluster_size;
        uint32_t reserved_sectors;
        uint32_t fat_sectors;          /* of one FAT */
        uint64_t data_offset;          /* first byte of cluster 2, in the target */
        uint32_t clusters;             /* data clusters in the volume */
        uint32_t clusters_used;        /* by directories and files */
        uint64_t content_bytes;        /* sum of file sizes */
        uint64_t metadata_bytes;       /* boot, FSInfo, FATs, directories written */
        uint64_t free_bytes;           /* what the volume has left for the pupil */
};

/*
 * Lay the tree out on the volume and add its extents to plan (offsets in the target).
 * Files get contiguous clusters in one stable order (depth-first, names sorted). Errors:
 * -ENOSPC when the tree does not fit (the message says by how much), -EINVAL for bad
 * params. ret_info may be NULL.
 */
int fat_layout(struct fat_tree *t, const struct fat_params *params, struct plan *plan,
               struct fat_layout_info *ret_info, struct cart_error *err);

/* The fatgen103 cluster size for a volume of that many bytes (512-byte sectors). */
uint32_t fat_default_cluster_size(uint64_t volume_size);

/*
 * The power-of-two cluster size (sector_size to 32 KiB, at least 65525 clusters) that
 * writes the fewest bytes for this tree: boot sectors, both FATs whole, directories and
 * content rounded up to clusters. On a tie, the larger size. 0 when the tree fits at none.
 */
uint32_t fat_choose_cluster_size(struct fat_tree *t, uint64_t volume_size, uint32_t sector_size);

/* ---- reading ---- */

struct fat_reader;

struct fat_volume_info {
        char label[FAT_LABEL_MAX + 1];   /* trailing spaces removed */
        uint32_t volume_id;
        uint32_t sector_size, cluster_size;
        uint32_t clusters;
        uint32_t free_clusters;          /* counted in the FAT, not taken from FSInfo */
        uint64_t free_bytes;
        uint64_t data_offset;            /* in the target */
};

struct fat_dirent {
        char *name;                      /* UTF-8 long name, or the short name when it has none */
        char short_name[13];             /* "NAME.EXT" */
        uint8_t attrs;
        bool is_dir;
        uint64_t size;
        int64_t mtime;
        uint32_t first_cluster;
};

/* Opens the FAT32 volume at [offset, offset + size) of the source and checks its boot
 * sector and geometry (-EMEDIUMTYPE: not FAT32; -EUCLEAN: impossible geometry). */
int fat_reader_open(cart_read_fn read, void *userdata, uint64_t offset, uint64_t size,
                    struct fat_reader **ret, struct cart_error *err);
struct fat_reader *fat_reader_free(struct fat_reader *r);
DEFINE_POINTER_CLEANUP(struct fat_reader, fat_reader_free);

int fat_reader_info(struct fat_reader *r, struct fat_volume_info *ret);

/* Path lookups are case-insensitive, '/'-separated, "" or "/" for the root. */
int fat_reader_stat(struct fat_reader *r, const char *path, struct fat_dirent *ret,
                    struct cart_error *err);
int fat_reader_list(struct fat_reader *r, const char *path, struct fat_dirent **ret_entries,
                    size_t *ret_n, struct cart_error *err);
void fat_dirents_free(struct fat_dirent *entries, size_t n);
void fat_dirent_clear(struct fat_dirent *e);

/* Stream a file's bytes to sink in order; stops at the first sink error and returns it. */
typedef int (*fat_sink_fn)(void *userdata, const void *buf, size_t len);
int fat_reader_read_file(struct fat_reader *r, const char *path, fat_sink_fn sink,
                         void *userdata, struct cart_error *err);
/* The same for an entry already in hand (from fat_reader_walk or _list): no path lookup.
 * path only names the file in messages. */
int fat_reader_read_entry(struct fat_reader *r, const char *path, const struct fat_dirent *e,
                          fat_sink_fn sink, void *userdata, struct cart_error *err);

/*
 * Walk every entry depth-first (parents before children), with its full path. Checks the
 * whole volume as it goes: each cluster belongs to at most one chain, chains stay in
 * range and end, sizes match chain lengths; directories nest at most 1024 deep, paths
 * stay under 4096 bytes, and the directories on one path hold at most 1,048,576 entries
 * together, about 90 MB (-EUCLEAN beyond). A callback error stops the walk.
 */
typedef int (*fat_walk_fn)(void *userdata, const char *path, const struct fat_dirent *e);
int fat_reader_walk(struct fat_reader *r, fat_walk_fn fn, void *userdata, struct cart_error *err);
