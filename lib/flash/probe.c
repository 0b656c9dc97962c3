/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>

#include "flash/probe.h"

#define GRID 64
/* Adjacent probe blocks (2^k - 1 and 2^k, the first few) go in one request: on a USB key
 * each synchronous request is a round trip of milliseconds, whatever its size. */
#define MAX_RUN 16
#define TAG_MAGIC UINT64_C(0x424f5250544d4143)   /* "CAMTPROB" little-endian */

struct touched {
        uint64_t block;
        uint8_t *saved;
};

struct probe {
        const struct probe_io *io;
        uint32_t bs;
        uint64_t n_blocks;
        uint8_t *buf, *expect, *run;    /* run: MAX_RUN blocks */
        struct touched *touched;
        size_t n_touched, allocated;
        uint64_t bytes_written;
        struct cart_error *err;
};

const char *probe_verdict_to_string(enum probe_verdict v) {
        switch (v) {
        case PROBE_GOOD: return "good";
        case PROBE_ALIASED: return "aliased (wrap-around counterfeit)";
        case PROBE_LOST: return "data lost past the real size (counterfeit)";
        }
        return "unknown";
}

const char *probe_verdict_kind(enum probe_verdict v) {
        switch (v) {
        case PROBE_GOOD: return "good";
        case PROBE_ALIASED: return "wrap-around";
        case PROBE_LOST: return "lossy";
        }
        return "unknown";
}

int probe_verdict_error(const struct probe_result *res, struct cart_error *err) {
        cart_error_reason_set(err, -EPERM, CART_REASON_COUNTERFEIT, NULL);
        if (!err)
                return -EPERM;
        snprintf(err->label, sizeof(err->label), "%s", probe_verdict_kind(res->verdict));
        err->value = res->real_size;
        err->limit = res->announced_size;
        err->has_values = true;
        err->offset = res->first_bad_offset;
        err->has_offset = true;
        return -EPERM;
}

static uint64_t splitmix(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

/* The block a probe writes at block index b: magic, seed, index, then a stream from them. */
static void make_tag(uint8_t *buf, uint32_t bs, uint64_t seed, uint64_t b) {
        uint64_t *w = (uint64_t *) buf, x = seed ^ (b * UINT64_C(0xD6E8FEB86659FD93));

        w[0] = TAG_MAGIC;
        w[1] = seed;
        w[2] = b;
        for (size_t i = 3; i < bs / 8; i++)
                w[i] = splitmix(&x);
}

/* The index of the block whose tag buf holds (this run's seed), or UINT64_MAX. */
static uint64_t tag_owner(const uint8_t *buf, uint32_t bs, uint64_t seed, uint8_t *scratch) {
        const uint64_t *w = (const uint64_t *) buf;

        if (w[0] != TAG_MAGIC || w[1] != seed)
                return UINT64_MAX;
        make_tag(scratch, bs, seed, w[2]);
        return memcmp(buf, scratch, bs) == 0 ? w[2] : UINT64_MAX;
}

static int io_fail(struct probe *p, int r, const char *what, uint64_t b) {
        return cart_error_io(p->err, r, NULL, b * p->bs, what);
}

static bool is_touched(const struct probe *p, uint64_t b) {
        for (size_t i = 0; i < p->n_touched; i++)
                if (p->touched[i].block == b)
                        return true;
        return false;
}

/* Keep block b's bytes before the probe writes it: data already read, or read now (NULL). */
static int keep_block(struct probe *p, uint64_t b, const uint8_t *data) {
        struct touched *t;
        int r = 0;

        if (p->n_touched == p->allocated) {
                size_t n = p->allocated ? 2 * p->allocated : 256;
                t = realloc(p->touched, n * sizeof(*t));
                if (!t)
                        return -ENOMEM;
                p->touched = t;
                p->allocated = n;
        }
        t = &p->touched[p->n_touched];
        if (posix_memalign((void **) &t->saved, 4096, p->bs) != 0)
                return -ENOMEM;
        if (data)
                memcpy(t->saved, data, p->bs);
        else
                r = p->io->read(p->io->userdata, t->saved, p->bs, b * p->bs);
        if (r < 0) {
                free(t->saved);
                return io_fail(p, r, "probe read", b);
        }
        t->block = b;
        p->n_touched++;
        return 0;
}

static int save_block(struct probe *p, uint64_t b) {
        return is_touched(p, b) ? 0 : keep_block(p, b, NULL);
}

static int write_tag(struct probe *p, uint64_t seed, uint64_t b) {
        int r = save_block(p, b);
        if (r < 0)
                return r;
        make_tag(p->buf, p->bs, seed, b);
        r = p->io->write(p->io->userdata, p->buf, p->bs, b * p->bs);
        if (r < 0)
                return io_fail(p, r, "probe write", b);
        p->bytes_written += p->bs;
        return 0;
}

static int sync_io(struct probe *p) {
        int r = p->io->sync ? p->io->sync(p->io->userdata) : 0;
        return r < 0 ? cart_error_errno(p->err, r, NULL, "probe sync") : 0;
}

/* Read block b: its owner's index (b when intact), or UINT64_MAX for foreign bytes. */
static int read_owner(struct probe *p, uint64_t seed, uint64_t b, uint64_t *ret) {
        int r = p->io->read(p->io->userdata, p->buf, p->bs, b * p->bs);
        if (r < 0)
                return io_fail(p, r, "probe read", b);
        *ret = tag_owner(p->buf, p->bs, seed, p->expect);
        return 0;
}

/* How many positions from pos[i] on follow each other block by block (at most MAX_RUN). */
static size_t run_length(const uint64_t *pos, size_t n, size_t i) {
        size_t k = 1;

        while (i + k < n && k < MAX_RUN && pos[i + k] == pos[i] + k)
                k++;
        return k;
}

/* Save k adjacent blocks from b with one read; block by block when it fails, to name the
 * block that does. */
static int save_run(struct probe *p, uint64_t b, size_t k) {
        int r;

        if (k > 1 && p->io->read(p->io->userdata, p->run, k * p->bs, b * p->bs) >= 0) {
                for (size_t j = 0; j < k; j++)
                        if (!is_touched(p, b + j) && (r = keep_block(p, b + j, p->run + j * p->bs)) < 0)
                                return r;
                return 0;
        }
        for (size_t j = 0; j < k; j++)
                if ((r = save_block(p, b + j)) < 0)
                        return r;
        return 0;
}

/* Tags for k adjacent (saved) blocks from b in one write; block by block when it fails. */
static int write_run(struct probe *p, uint64_t seed, uint64_t b, size_t k) {
        int r;

        for (size_t j = 0; j < k; j++)
                make_tag(p->run + j * p->bs, p->bs, seed, b + j);
        if (k > 1 && p->io->write(p->io->userdata, p->run, k * p->bs, b * p->bs) >= 0) {
                p->bytes_written += k * p->bs;
                return 0;
        }
        for (size_t j = 0; j < k; j++)
                if ((r = write_tag(p, seed, b + j)) < 0)
                        return r;
        return 0;
}

/* The owners of k adjacent blocks from b, read at once; block by block when it fails. */
static int read_run(struct probe *p, uint64_t seed, uint64_t b, size_t k, uint64_t *owners) {
        int r;

        if (k > 1 && p->io->read(p->io->userdata, p->run, k * p->bs, b * p->bs) >= 0) {
                for (size_t j = 0; j < k; j++)
                        owners[j] = tag_owner(p->run + j * p->bs, p->bs, seed, p->expect);
                return 0;
        }
        for (size_t j = 0; j < k; j++)
                if ((r = read_owner(p, seed, b + j, &owners[j])) < 0)
                        return r;
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* First and last blocks, each power of two and the block before it, an even grid. */
static size_t probe_positions(uint64_t n, uint64_t *pos) {
        size_t k = 0, m = 0;

        pos[k++] = 0;
        pos[k++] = n - 1;
        for (uint64_t b = 1; b < n; b <<= 1) {
                pos[k++] = b;
                pos[k++] = b - 1;
        }
        for (uint64_t i = 1; i < GRID; i++)
                pos[k++] = n / GRID * i;
        qsort(pos, k, sizeof(*pos), cmp_u64);
        for (size_t i = 0; i < k; i++)
                if (m == 0 || pos[i] != pos[m - 1])
                        pos[m++] = pos[i];
        return m;
}

/* Wrap size: the first power of two where block 0's fresh tag shows up, or 0. */
static int find_wrap(struct probe *p, uint64_t seed, uint64_t *ret) {
        uint64_t owner;
        int r;

        r = write_tag(p, seed, 0);
        if (r >= 0)
                r = sync_io(p);
        if (r < 0)
                return r;
        *ret = 0;
        for (uint64_t b = 1; b < p->n_blocks; b <<= 1) {
                r = read_owner(p, seed, b, &owner);
                if (r < 0)
                        return r;
                if (owner == 0) {
                        *ret = b;
                        break;
                }
        }
        return 0;
}

/* Blocks up to lo are good (lo may be -1), hi is bad: bisect for the first lost block. */
static int bisect(struct probe *p, uint64_t seed, int64_t lo, int64_t hi, uint64_t *ret) {
        while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                uint64_t owner;
                int r;

                r = write_tag(p, seed + (uint64_t) mid, (uint64_t) mid);
                if (r >= 0)
                        r = sync_io(p);
                if (r >= 0)
                        r = read_owner(p, seed + (uint64_t) mid, (uint64_t) mid, &owner);
                if (r < 0)
                        return r;
                if (owner == (uint64_t) mid)
                        lo = mid;
                else
                        hi = mid;
        }
        *ret = (uint64_t) hi;
        return 0;
}

/*
 * Last saved, first restored. On a counterfeit two blocks can be one: a block saved after
 * the first tags were written may hold a tag of its alias, whose true bytes were saved
 * earlier and so are written last. Block 0 is saved first: it is restored last.
 */
static int restore_block(struct probe *p, const struct touched *t) {
        int k = p->io->write(p->io->userdata, t->saved, p->bs, t->block * p->bs);

        p->bytes_written += p->bs;
        return k < 0 ? io_fail(p, k, "probe restore", t->block) : 0;
}

/* Blocks saved one after the other and adjacent on the key are written back in one
 * request, in their place in that order (adjacent blocks cannot alias each other). */
static int restore(struct probe *p) {
        int r = 0, k;

        for (size_t i = p->n_touched; i-- > 0;) {
                size_t j = i;
                while (j > 0 && i - j + 1 < MAX_RUN && p->touched[j - 1].block + 1 == p->touched[j].block)
                        j--;
                if (j < i) {
                        for (size_t m = j; m <= i; m++)
                                memcpy(p->run + (m - j) * p->bs, p->touched[m].saved, p->bs);
                        k = p->io->write(p->io->userdata, p->run, (i - j + 1) * p->bs, p->touched[j].block * p->bs);
                        if (k >= 0) {
                                p->bytes_written += (i - j + 1) * p->bs;
                                i = j;
                                continue;
                        }
                }
                for (size_t m = i + 1; m-- > j;)
                        if ((k = restore_block(p, &p->touched[m])) < 0 && r >= 0)
                                r = k;
                i = j;
        }
        if (r >= 0)
                r = sync_io(p);
        return r;
}

static int run(struct probe *p, uint64_t seed, struct probe_result *res) {
        uint64_t pos[2 * 64 + GRID + 2], first_bad = UINT64_MAX, wrap = 0, end;
        int64_t lo = -1;
        bool is_aliased = false;
        size_t n;
        int r;

        n = probe_positions(p->n_blocks, pos);
        for (size_t i = 0, k; i < n; i += k) {
                k = run_length(pos, n, i);
                r = save_run(p, pos[i], k);
                if (r < 0)
                        return r;
        }
        /* In ascending order: on a wrap-around fake the higher alias lands last. */
        for (size_t i = 0, k; i < n; i += k) {
                k = run_length(pos, n, i);
                r = write_run(p, seed, pos[i], k);
                if (r < 0)
                        return r;
        }
        r = sync_io(p);
        if (r < 0)
                return r;
        uint64_t owners[ELEMENTSOF(pos)];
        for (size_t i = 0, k; i < n; i += k) {
                k = run_length(pos, n, i);
                r = read_run(p, seed, pos[i], k, owners + i);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                uint64_t owner = owners[i];
                if (owner == pos[i]) {
                        if (first_bad == UINT64_MAX)
                                lo = (int64_t) pos[i];
                        continue;
                }
                if (owner != UINT64_MAX)
                        is_aliased = true;
                first_bad = MIN(first_bad, pos[i]);
        }
        res->blocks_probed = (unsigned) n;
        if (first_bad == UINT64_MAX)
                return 0;

        res->first_bad_offset = first_bad * p->bs;
        res->verdict = is_aliased ? PROBE_ALIASED : PROBE_LOST;
        if (is_aliased) {
                r = find_wrap(p, seed ^ UINT64_C(0x5A5A5A5A), &wrap);
                if (r < 0)
                        return r;
        }
        if (wrap > 0)
                end = wrap;
        else {
                r = bisect(p, seed ^ UINT64_C(0xA5A5A5A5A5A5), lo, (int64_t) first_bad, &end);
                if (r < 0)
                        return r;
        }
        res->real_size = end * p->bs;
        return 0;
}

int probe_capacity(const struct probe_io *io, uint64_t size, uint32_t block_size, uint64_t seed,
                   struct probe_result *ret, struct cart_error *err) {
        struct probe p = { .io = io, .bs = block_size, .n_blocks = block_size ? size / block_size : 0, .err = err };
        struct probe_result res = { .verdict = PROBE_GOOD, .announced_size = size, .real_size = size };
        int r, k;

        if (block_size < 512 || (block_size & (block_size - 1)) || p.n_blocks < 2)
                return cart_error_set(err, -EINVAL, "capacity probe: block size %" PRIu32 " does not fit %" PRIu64 " bytes",
                                      block_size, size);
        if (posix_memalign((void **) &p.buf, 4096, block_size) != 0)
                return -ENOMEM;
        if (posix_memalign((void **) &p.expect, 4096, block_size) != 0) {
                free(p.buf);
                return -ENOMEM;
        }
        if (posix_memalign((void **) &p.run, 4096, (size_t) block_size * MAX_RUN) != 0) {
                free(p.buf);
                free(p.expect);
                return -ENOMEM;
        }
        r = run(&p, seed, &res);
        /* Restore even after a failure: the key must keep what it held. */
        k = restore(&p);
        if (r >= 0 && k < 0)
                r = k;
        res.bytes_written = p.bytes_written;
        for (size_t i = 0; i < p.n_touched; i++)
                free(p.touched[i].saved);
        free(p.touched);
        free(p.buf);
        free(p.expect);
        free(p.run);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

static int fd_write(void *userdata, const void *buf, size_t len, uint64_t offset) {
        return pwrite_full((int) (intptr_t) userdata, buf, len, offset);
}

static int fd_sync(void *userdata) {
        return fdatasync((int) (intptr_t) userdata) < 0 ? -errno : 0;
}

int probe_fd(int fd, uint64_t size, uint32_t block_size, uint64_t seed,
             struct probe_result *ret, struct cart_error *err) {
        struct probe_io io = { .read = fd_read_at, .write = fd_write, .sync = fd_sync, .userdata = (void *) (intptr_t) fd };
        int flags = fcntl(fd, F_GETFL), r;

        if (flags < 0)
                return cart_error_errno(err, -errno, NULL, "capacity probe");
        /* The page cache must not answer for the key: O_DIRECT when it takes it. */
        if (fcntl(fd, F_SETFL, flags | O_DIRECT) < 0)
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        r = probe_capacity(&io, size, block_size, seed, ret, err);
        (void) fcntl(fd, F_SETFL, flags);
        return r;
}
