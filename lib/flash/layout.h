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

/*
 * Find the FAT volume of a key read through read: the first FAT partition of an MBR (or the
 * basic data partition of a GPT, with 512- or 4096-byte sectors), or a volume starting at
 * sector 0. -EMEDIUMTYPE when there is none.
 */
int layout_find_volume(cart_read_fn read, void *userdata, uint64_t disk_size,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err);
