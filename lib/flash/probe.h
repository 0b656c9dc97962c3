/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Capacity probe: find counterfeit keys that claim more than they hold, in seconds, before
 * anything is written. The idea is f3probe's (AltraMayor/f3): every probe block carries
 * its own offset and a per-run nonce, so a block read back tells where it was written.
 *
 *  1. Blocks at spread positions over the whole advertised size (the first and last block,
 *     every power of two, and an even grid) are saved, then written in ascending order,
 *     then all read back. A block that reads back another block's tag is aliased (a
 *     wrap-around fake that drops high address bits); one that reads anything else is lost.
 *  2. When something failed, block 0's tag is looked for at every power of two (the wrap
 *     size) and the last good offset is bisected (writes lost past the real capacity),
 *     which gives the real usable size.
 *  3. Every touched block gets its saved bytes back, highest first, so that on an aliased
 *     key the low (real) location ends with its own original bytes.
 *
 * Like f3probe's, a sparse probe cannot see a wrap at a size that no pair of probe
 * positions differs by; real fakes drop address bits (wrap at a power of two), which it sees.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/util.h"

/* Block I/O the probe runs on: a key (O_DIRECT fd) or an in-memory fake in the tests. */
struct probe_io {
        int (*read)(void *userdata, void *buf, size_t len, uint64_t offset);
        int (*write)(void *userdata, const void *buf, size_t len, uint64_t offset);
        int (*sync)(void *userdata);    /* may be NULL */
        void *userdata;
};

enum probe_verdict {
        PROBE_GOOD,
        PROBE_ALIASED,      /* writes past the real size land on lower blocks */
        PROBE_LOST,         /* writes past the real size are lost or read back as garbage */
};

struct probe_result {
        enum probe_verdict verdict;
        uint64_t announced_size;
        uint64_t real_size;           /* usable bytes from offset 0; = announced_size when good */
        uint64_t first_bad_offset;    /* the lowest probe block that failed */
        unsigned blocks_probed;
        uint64_t bytes_written;       /* probe writes and restores */
};

const char *probe_verdict_to_string(enum probe_verdict v);
/* The verdict as a stable token for reason arguments: "good", "wrap-around", "lossy". */
const char *probe_verdict_kind(enum probe_verdict v);
/* A counterfeit verdict as an error: -EPERM, reason counterfeit, value = real size, limit =
 * announced size, offset = first bad block, label = probe_verdict_kind(). */
int probe_verdict_error(const struct probe_result *res, struct cart_error *err);

/*
 * Probe a target of size bytes with blocks of block_size (a power of two, at least the
 * logical sector size; 4096 is right for keys). seed makes the tags of this run unique.
 * Returns 0 with ret filled (a counterfeit is a result, not an error), or a negative errno
 * from the I/O (the message names the offset).
 */
int probe_capacity(const struct probe_io *io, uint64_t size, uint32_t block_size, uint64_t seed,
                   struct probe_result *ret, struct cart_error *err);

/* probe_io over a file descriptor: O_DIRECT is turned on for the probe when the target
 * accepts it (and turned back off by probe_fd). */
int probe_fd(int fd, uint64_t size, uint32_t block_size, uint64_t seed,
             struct probe_result *ret, struct cart_error *err);
