/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A write plan: the sorted list of byte ranges that make a key, and where each range's
 * bytes come from. The FAT engine and the partition layout produce extents; the writer
 * streams them in offset order and reads them back. Bytes outside the plan are never
 * written: free space stays untouched.
 *
 * Wipe extents are weak: they zero old signatures (a GPT backup header, an old file
 * system's magic) only where no other extent writes, and overlapping wipes merge.
 */
#pragma once

#include <stdint.h>
#include "base/util.h"

enum plan_kind {
        PLAN_ZERO,    /* zeros: FAT entries of free clusters, cleared metadata */
        PLAN_DATA,    /* bytes held in memory: boot sectors, FATs, directories, tables */
        PLAN_SOURCE,  /* bytes from a cart_read_fn (file content), then zeros to length */
};

struct plan_extent {
        uint64_t offset;         /* in the target, bytes */
        uint64_t length;
        enum plan_kind kind;
        bool is_wipe;            /* a zero extent that came from plan_add_wipe() */
        const uint8_t *data;     /* PLAN_DATA: length bytes */
        cart_read_fn read;       /* PLAN_SOURCE */
        void *userdata;
        uint64_t source_offset;
        uint64_t source_length;  /* bytes taken from the source (<= length); the rest is zero */
        const char *label;       /* what the range holds: "FAT #1", "/Cours/maths.pdf" */
};

struct plan;

int plan_new(struct plan **ret);
struct plan *plan_free(struct plan *p);
DEFINE_POINTER_CLEANUP(struct plan, plan_free);

/* Zeroed memory owned by the plan, valid until plan_free(): for PLAN_DATA extents. */
void *plan_alloc(struct plan *p, size_t size);

/* data must stay valid until plan_free() (memory from plan_alloc(), or static). */
int plan_add_data(struct plan *p, uint64_t offset, const void *data, uint64_t length, const char *label);
/* Copies data into the plan. */
int plan_add_data_copy(struct plan *p, uint64_t offset, const void *data, uint64_t length, const char *label);
int plan_add_zero(struct plan *p, uint64_t offset, uint64_t length, const char *label);
int plan_add_source(struct plan *p, uint64_t offset, uint64_t length,
                    cart_read_fn read, void *userdata,
                    uint64_t source_offset, uint64_t source_length, const char *label);
/* Weak zeros: dropped where another extent writes; see above. */
int plan_add_wipe(struct plan *p, uint64_t offset, uint64_t length, const char *label);

/*
 * Sort, trim wipes against real extents, merge wipes, and check that real extents do
 * not overlap (-EINVAL, naming both in err) and that nothing ends past limit
 * (-ENOSPC; limit 0 = no limit). Must be called once all extents are added.
 */
struct cart_error;
int plan_finalize(struct plan *p, uint64_t limit, struct cart_error *err);

size_t plan_count(const struct plan *p);
const struct plan_extent *plan_get(const struct plan *p, size_t i);
/* Bytes the plan writes (the sum of all lengths), and the first byte past the last extent. */
uint64_t plan_bytes(const struct plan *p);
uint64_t plan_end(const struct plan *p);

/*
 * Fill buf with the planned bytes of [offset, offset + len). Every byte of the range must
 * belong to an extent (-ERANGE otherwise). Safe from several threads on a finalized plan.
 * On a source error, *ret_failed (if not NULL) points at the extent that failed.
 */
int plan_read(const struct plan *p, uint64_t offset, void *buf, size_t len,
              const struct plan_extent **ret_failed);

/* Index of the first extent that ends after offset, or plan_count() if none. */
size_t plan_find(const struct plan *p, uint64_t offset);
