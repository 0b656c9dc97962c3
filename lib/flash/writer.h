/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The I/O engine: streams a finalized write plan onto a target in large aligned requests
 * (O_DIRECT where the target allows it), the next chunk prepared by a second thread while
 * the previous one is written, the first sector written last; then reads every written
 * byte back (O_DIRECT, so the page cache cannot answer for the key) and compares it with
 * the plan. Bytes outside the plan are never written. No globals: one writer per key may
 * run in each thread of a batch.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/plan.h"

#define WRITER_CHUNK_DEFAULT (4 * MIB)

enum writer_phase {
        WRITER_WRITE,
        WRITER_READBACK,
        WRITER_ERASE,
};

/*
 * Called after each chunk from the caller's thread: done and total bytes of the phase.
 * A negative return stops the phase at once (no further write, and in the write phase
 * sector 0 is never written): writer_write/writer_verify return that value.
 */
typedef int (*writer_progress_fn)(void *userdata, enum writer_phase phase, uint64_t done, uint64_t total);

struct writer_options {
        uint32_t block_size;     /* every request is aligned to it: the logical sector size; 0: 512 */
        size_t chunk_size;       /* bytes per request; 0: WRITER_CHUNK_DEFAULT */
        bool use_direct;         /* O_DIRECT when the target accepts it */
        bool skip_zero;          /* the target reads as zeros already (a new sparse file): leave PLAN_ZERO holes */
        bool zero_unplanned;     /* write: unplanned bytes of a partly planned block become zeros (an erase
                                  * ran), instead of keeping what the target holds there */
        writer_progress_fn progress;
        void *userdata;
};

struct writer_stats {
        uint64_t bytes_written;  /* bytes sent to the target (aligned requests) */
        uint64_t bytes_read;     /* bytes read back */
        uint64_t bytes_planned;  /* bytes of the plan covered by the writes */
        bool is_direct;          /* O_DIRECT was used */
        double write_seconds, read_seconds;
};

/*
 * Write the plan to fd, then fsync. Errors name the offset and the plan extent's label
 * ("at byte N (\"/Cours/a.pdf\"): Input/output error"); ret_failed_offset (may be NULL)
 * receives the failing offset. stats (may be NULL) is filled even on failure.
 */
int writer_write(const struct plan *plan, int fd, const struct writer_options *o,
                 struct writer_stats *stats, uint64_t *ret_failed_offset, struct cart_error *err);

/*
 * Read back every byte writer_write() wrote and compare it with the plan: -EBADE at the
 * first difference (naming the offset and label), or the read error.
 */
int writer_verify(const struct plan *plan, int fd, const struct writer_options *o,
                  struct writer_stats *stats, uint64_t *ret_failed_offset, struct cart_error *err);

/*
 * The erase: zeros over every block of [0, disk_size) that no plan extent touches, in the
 * same pipelined aligned requests (O_DIRECT when allowed), then fsync. The first block is
 * always zeroed (sector 0 goes first, as writer_write() writes it last). writer_write() with
 * zero_unplanned then zeroes the unplanned bytes of the blocks the plan touches, so that
 * after both no byte of the disk holds what was there before, except what the plan writes.
 * stats: bytes_written and write_seconds of the erase.
 */
int writer_erase(const struct plan *plan, int fd, uint64_t disk_size, const struct writer_options *o,
                 struct writer_stats *stats, uint64_t *ret_failed_offset, struct cart_error *err);

/*
 * Read back n_samples blocks (chunk-sized at most, 64 KiB) of the erased area at offsets
 * drawn from seed, plus its first and last block, bypassing the page cache: -EBADE naming
 * the first non-zero byte. stats: bytes_read and read_seconds.
 */
int writer_erase_check(const struct plan *plan, int fd, uint64_t disk_size, const struct writer_options *o,
                       unsigned n_samples, uint64_t seed, struct writer_stats *stats, uint64_t *ret_failed_offset,
                       struct cart_error *err);

/* The label of the plan extent holding offset (or the nearest one after it). */
const char *writer_label_at(const struct plan *plan, uint64_t offset);
