/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The partition level of a key: wipe what was there (libblkid), lay out one partition
 * (libfdisk), find it again when reading a key back. Everything goes into a write plan
 * (lib/base/plan.h): nothing here writes to the target, so the writer alone touches the key,
 * sector 0 last, and an exported image stays sparse.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/plan.h"
#include "base/util.h"

enum layout_scheme {
        LAYOUT_MBR,   /* one FAT32 LBA partition, type 0x0c */
        LAYOUT_GPT,   /* one Microsoft basic data partition */
};

struct layout_params {
        enum layout_scheme scheme;
        uint64_t disk_size;          /* bytes, the whole key */
        uint32_t sector_size;        /* logical sector size; 0 means 512 */
        uint64_t alignment;          /* partition start, bytes; 0 means 1 MiB */
        uint32_t disk_id;            /* MBR disk identifier; seeds the GPT GUIDs (reproducible) */
        const char *name;            /* GPT partition name; NULL: none */
};

struct layout_info {
        uint64_t partition_offset;   /* bytes */
        uint64_t partition_size;     /* bytes */
        uint64_t table_bytes;        /* bytes of partition table added to the plan */
};

/* "mbr" or "gpt" (also "dos"); -EINVAL otherwise. */
int layout_scheme_from_string(const char *s, enum layout_scheme *ret);
const char *layout_scheme_to_string(enum layout_scheme s);

/*
 * Create the partition table with libfdisk in a sparse in-memory disk of the key's size
 * and add its non-zero sectors to plan, labelled "partition table" (the first sector is
 * one extent of its own). -ENOSPC when the disk is too small for the partition.
 */
int layout_partition(const struct layout_params *params, struct plan *plan,
                     struct layout_info *ret_info, struct cart_error *err);

/*
 * Probe the target (read-only, through fd, which must not be O_DIRECT) with libblkid for
 * every signature of the whole disk and of each partition found on it, plus any GPT
 * backup header in the last sector, and add whole-sector wipes for them to plan. Returns
 * the number of signatures found.
 */
int layout_add_wipes(int fd, uint64_t disk_size, uint32_t sector_size, struct plan *plan,
                     struct cart_error *err);

/* A FAT volume found on a key: recognised by its boot sector's BPB (fatgen103 §3), never
 * by a label or the informational "FAT32   " string. */
struct layout_volume {
        uint64_t offset, size;   /* bytes */
};
#define LAYOUT_VOLUMES_MAX 16

/*
 * Every FAT volume of a key read through read, in table order: the partitions of an MBR
 * (any type but a GPT's 0xee) or of a GPT (512- or 4096-byte sectors) whose first sector
 * is a FAT boot sector, or the one volume starting at sector 0. -EMEDIUMTYPE when there
 * is none.
 */
int layout_find_volumes(cart_read_fn read, void *userdata, uint64_t disk_size,
                        struct layout_volume ret[LAYOUT_VOLUMES_MAX], size_t *ret_n, struct cart_error *err);
/* The first of them: what an OS mounts. */
int layout_find_volume(cart_read_fn read, void *userdata, uint64_t disk_size,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err);

/* What the table of a key must be: what layout_partition() wrote for the release's layout. */
struct layout_expect {
        enum layout_scheme scheme;
        uint64_t alignment;          /* the layout's; 0 means 1 MiB */
        uint64_t volume_offset;      /* the volume verify checked */
};

/*
 * Is the key's partition table exactly what flash writes? An MBR with one entry, the
 * first, of type 0x0c, at the layout's offset, and no GPT header left; or a protective
 * MBR and a GPT whose primary and backup headers and entry arrays have valid CRCs and
 * agree, holding one basic data partition at the layout's offset. Returns 0 when it is,
 * 1 with the reason in reason[size] when it is not, a negative errno on a read error.
 */
int layout_check_table(cart_read_fn read, void *userdata, uint64_t disk_size, const struct layout_expect *e,
                       char *reason, size_t size, struct cart_error *err);
