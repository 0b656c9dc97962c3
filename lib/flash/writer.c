/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "flash/writer.h"

#define N_BUFFERS 3

/* An aligned range of the target that the plan covers, at least partly. */
struct span {
        uint64_t start, end;
};

struct slot {
        uint8_t *buf;
        uint64_t offset;
        size_t len;
        bool is_covered;         /* every byte of the chunk is planned */
        int r;                   /* the producer's result */
        uint64_t failed_at;
        bool is_ready;
};

struct job {
        const struct plan *plan;
        int fd;
        bool is_verify;
        bool is_erase;           /* the spans are the unplanned blocks; the buffers stay zero */
        bool zero_unplanned;
        uint32_t bs;
        size_t chunk;
        struct span *spans;
        size_t n_spans;
        uint64_t total;
        struct slot slots[N_BUFFERS];
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool is_cancelled;
        bool is_direct;
        int flags;               /* the descriptor's flags before O_DIRECT */
};

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

const char *writer_label_at(const struct plan *plan, uint64_t offset) {
        const struct plan_extent *e = plan_get(plan, plan_find(plan, offset));
        return e ? e->label : "(end of plan)";
}

static bool skipped(const struct plan_extent *e, bool skip_zero) {
        return skip_zero && e->kind == PLAN_ZERO;
}

/* Merge the plan's extents into disjoint block-aligned spans. */
static int build_spans(struct job *j, bool skip_zero) {
        size_t n = plan_count(j->plan), allocated = 0;

        j->n_spans = 0;
        j->total = 0;
        for (size_t i = 0; i < n; i++) {
                const struct plan_extent *e = plan_get(j->plan, i);
                uint64_t a = e->offset - e->offset % j->bs, b = ALIGN_POW2(e->offset + e->length, (uint64_t) j->bs);

                if (skipped(e, skip_zero))
                        continue;
                if (j->n_spans > 0 && a <= j->spans[j->n_spans - 1].end) {
                        j->spans[j->n_spans - 1].end = MAX(j->spans[j->n_spans - 1].end, b);
                        continue;
                }
                if (j->n_spans == allocated) {
                        allocated = allocated ? allocated * 2 : 64;
                        struct span *s = realloc(j->spans, allocated * sizeof(*s));
                        if (!s)
                                return -ENOMEM;
                        j->spans = s;
                }
                j->spans[j->n_spans++] = (struct span) { a, b };
        }
        for (size_t i = 0; i < j->n_spans; i++)
                j->total += j->spans[i].end - j->spans[i].start;
        return 0;
}

static int add_span(struct job *j, size_t *allocated, uint64_t a, uint64_t b) {
        if (a >= b)
                return 0;
        if (j->n_spans > 0 && a <= j->spans[j->n_spans - 1].end) {
                j->spans[j->n_spans - 1].end = MAX(j->spans[j->n_spans - 1].end, b);
                return 0;
        }
        if (j->n_spans == *allocated) {
                *allocated = *allocated ? *allocated * 2 : 64;
                struct span *s = realloc(j->spans, *allocated * sizeof(*s));
                if (!s)
                        return -ENOMEM;
                j->spans = s;
        }
        j->spans[j->n_spans++] = (struct span) { a, b };
        return 0;
}

/* The erase's spans: the first block, and every block of [0, disk) that no planned span
 * touches (the gaps between the write's spans). */
static int build_gaps(struct job *j, uint64_t disk) {
        _cleanup_free_ struct span *planned = NULL;
        size_t n_planned, allocated = 0;
        uint64_t at;
        int r;

        r = build_spans(j, false);
        if (r < 0)
                return r;
        planned = TAKE_PTR(j->spans);
        n_planned = j->n_spans;
        j->n_spans = 0;
        j->total = 0;
        disk -= disk % j->bs;
        r = add_span(j, &allocated, 0, MIN((uint64_t) j->bs, disk));
        at = 0;
        for (size_t i = 0; r >= 0 && i <= n_planned; i++) {
                uint64_t next = i < n_planned ? MIN(planned[i].start, disk) : disk;
                r = add_span(j, &allocated, MAX(at, (uint64_t) j->bs), next);
                if (i < n_planned)
                        at = MAX(at, planned[i].end);
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < j->n_spans; i++)
                j->total += j->spans[i].end - j->spans[i].start;
        return 0;
}

/* Bytes of [off, off + len) that the plan covers. */
static uint64_t covered(const struct plan *p, uint64_t off, uint64_t len) {
        uint64_t sum = 0;

        for (size_t i = plan_find(p, off); i < plan_count(p); i++) {
                const struct plan_extent *e = plan_get(p, i);
                if (e->offset >= off + len)
                        break;
                sum += MIN(e->offset + e->length, off + len) - MAX(e->offset, off);
        }
        return sum;
}

/* Overlay the planned bytes of a partly covered chunk on buf. */
static int overlay(const struct plan *p, uint8_t *buf, uint64_t off, size_t len, uint64_t *ret_failed) {
        for (size_t i = plan_find(p, off); i < plan_count(p); i++) {
                const struct plan_extent *e = plan_get(p, i);
                uint64_t a, b;
                int r;

                if (e->offset >= off + len)
                        break;
                a = MAX(e->offset, off);
                b = MIN(e->offset + e->length, off + len);
                r = plan_read(p, a, buf + (a - off), (size_t) (b - a), NULL);
                if (r < 0) {
                        *ret_failed = a;
                        return r;
                }
        }
        return 0;
}

/*
 * Some targets take the O_DIRECT flag, then refuse the I/O (EINVAL: an image file on a file
 * system whose disk has larger sectors than our requests): go on buffered, from either
 * thread. Read-back then drops what the page cache holds, so the target itself answers.
 */
static void drop_direct(struct job *j) {
        pthread_mutex_lock(&j->lock);
        if (j->is_direct) {
                (void) fcntl(j->fd, F_SETFL, j->flags & ~O_DIRECT);
                if (j->is_verify) {
                        (void) fsync(j->fd);
                        (void) posix_fadvise(j->fd, 0, 0, POSIX_FADV_DONTNEED);
                }
                __atomic_store_n(&j->is_direct, false, __ATOMIC_SEQ_CST);
        }
        pthread_mutex_unlock(&j->lock);
}

static int read_at(struct job *j, void *buf, size_t len, uint64_t off) {
        bool was_direct = __atomic_load_n(&j->is_direct, __ATOMIC_SEQ_CST);
        int r = pread_full(j->fd, buf, len, off);

        if (r == -EINVAL && was_direct) {
                drop_direct(j);
                r = pread_full(j->fd, buf, len, off);
        }
        return r;
}

static int write_at(struct job *j, const void *buf, size_t len, uint64_t off) {
        bool was_direct = __atomic_load_n(&j->is_direct, __ATOMIC_SEQ_CST);
        int r = pwrite_full(j->fd, buf, len, off);

        if (r == -EINVAL && was_direct) {
                drop_direct(j);
                r = pwrite_full(j->fd, buf, len, off);
        }
        return r;
}

/* The planned bytes of [off, off + len); *ret_failed: where the extent that failed starts. */
static int read_planned(const struct plan *p, uint8_t *buf, uint64_t off, size_t len, uint64_t *ret_failed) {
        const struct plan_extent *bad = NULL;
        int r = plan_read(p, off, buf, len, &bad);

        if (r < 0)
                *ret_failed = bad ? MAX(bad->offset, off) : off;
        return r;
}

/* Write: the planned bytes of the chunk. Read-back: what the target holds there. */
static int fill_slot(struct job *j, struct slot *s) {
        s->is_covered = covered(j->plan, s->offset, s->len) == s->len;
        s->failed_at = s->offset;
        if (j->is_verify)
                return read_at(j, s->buf, s->len, s->offset);
        if (s->is_covered)
                return read_planned(j->plan, s->buf, s->offset, s->len, &s->failed_at);
        /* Unplanned bytes inside an aligned request keep what the target holds, unless an
         * erase ran: then they are zeros too. */
        if (j->zero_unplanned)
                memset(s->buf, 0, s->len);
        else {
                int r = read_at(j, s->buf, s->len, s->offset);
                if (r < 0)
                        return r;
        }
        return overlay(j->plan, s->buf, s->offset, s->len, &s->failed_at);
}

static void *producer(void *userdata) {
        struct job *j = userdata;
        size_t k = 0;

        for (size_t i = 0; i < j->n_spans; i++)
                for (uint64_t off = j->spans[i].start; off < j->spans[i].end; off += j->chunk, k++) {
                        struct slot *s = &j->slots[k % N_BUFFERS];

                        pthread_mutex_lock(&j->lock);
                        while (s->is_ready && !j->is_cancelled)
                                pthread_cond_wait(&j->cond, &j->lock);
                        if (j->is_cancelled) {
                                pthread_mutex_unlock(&j->lock);
                                return NULL;
                        }
                        pthread_mutex_unlock(&j->lock);

                        s->offset = off;
                        s->len = (size_t) MIN((uint64_t) j->chunk, j->spans[i].end - off);
                        s->failed_at = off;
                        s->r = j->is_erase ? 0 : fill_slot(j, s);

                        pthread_mutex_lock(&j->lock);
                        s->is_ready = true;
                        pthread_cond_broadcast(&j->cond);
                        pthread_mutex_unlock(&j->lock);
                }
        return NULL;
}

static int fail_at(const struct job *j, int r, uint64_t at, uint64_t *ret_failed, struct cart_error *err) {
        if (ret_failed)
                *ret_failed = at;
        return cart_error_io(err, r, NULL, at, writer_label_at(j->plan, at));
}

/* The first byte where the target (got) differs from a planned byte (want) of the chunk. */
static bool find_difference(const struct job *j, const struct slot *s, const uint8_t *got, const uint8_t *want,
                            uint64_t *ret_at) {
        if (s->is_covered && memcmp(got, want, s->len) == 0)
                return false;
        for (size_t i = plan_find(j->plan, s->offset); i < plan_count(j->plan); i++) {
                const struct plan_extent *e = plan_get(j->plan, i);
                uint64_t a, b;

                if (e->offset >= s->offset + s->len)
                        break;
                a = MAX(e->offset, s->offset) - s->offset;
                b = MIN(e->offset + e->length, s->offset + s->len) - s->offset;
                for (uint64_t x = a; x < b; x++)
                        if (got[x] != want[x]) {
                                *ret_at = s->offset + x;
                                return true;
                        }
        }
        return false;
}

struct consumer_state {
        uint8_t *sector0;        /* write: the first block, kept for the end */
        uint8_t *expect;         /* read-back: the planned bytes */
        bool is_sector0_held;    /* counted in done, not written yet */
        uint64_t done;
};

static int consume(struct job *j, struct slot *s, struct consumer_state *c, const struct writer_options *o,
                   uint64_t *ret_failed, struct cart_error *err) {
        const uint8_t *buf = s->buf;
        uint64_t off = s->offset, at;
        size_t len = s->len;
        int r;

        if (s->r < 0)
                return fail_at(j, s->r, s->failed_at, ret_failed, err);
        if (j->is_verify) {
                /* The expected bytes are made here while the reader thread reads the next chunk. */
                if (s->is_covered)
                        r = read_planned(j->plan, c->expect, off, len, &at);
                else {
                        memset(c->expect, 0, len);
                        r = overlay(j->plan, c->expect, off, len, &at);
                }
                if (r < 0)
                        return fail_at(j, r, at, ret_failed, err);
                if (find_difference(j, s, buf, c->expect, &at)) {
                        if (ret_failed)
                                *ret_failed = at;
                        return cart_error_io(err, -EBADE, NULL, at, writer_label_at(j->plan, at));
                }
        } else {
                if (off == 0 && !j->is_erase) {
                        /* Sector 0 last: a key cut off before the end has no partition table. */
                        memcpy(c->sector0, buf, j->bs);
                        c->is_sector0_held = true;
                        buf += j->bs;
                        off += j->bs;
                        len -= j->bs;
                }
                if (len > 0) {
                        r = write_at(j, buf, len, off);
                        if (r < 0)
                                return fail_at(j, r, off, ret_failed, err);
                }
        }
        c->done += s->len;
        if (o->progress) {
                r = o->progress(o->userdata, j->is_verify ? WRITER_READBACK : j->is_erase ? WRITER_ERASE : WRITER_WRITE,
                                c->done, j->total);
                if (r < 0)
                        return cart_error_set(err, r, "stopped by the caller after %" PRIu64 " of %" PRIu64 " bytes",
                                              c->done, j->total);
        }
        return 0;
}

static int consumer(struct job *j, struct consumer_state *c, const struct writer_options *o,
                    uint64_t *ret_failed, struct cart_error *err) {
        size_t k = 0;

        for (size_t i = 0; i < j->n_spans; i++)
                for (uint64_t off = j->spans[i].start; off < j->spans[i].end; off += j->chunk, k++) {
                        struct slot *s = &j->slots[k % N_BUFFERS];
                        int r;

                        pthread_mutex_lock(&j->lock);
                        while (!s->is_ready)
                                pthread_cond_wait(&j->cond, &j->lock);
                        pthread_mutex_unlock(&j->lock);

                        r = consume(j, s, c, o, ret_failed, err);

                        pthread_mutex_lock(&j->lock);
                        s->is_ready = false;
                        if (r < 0)
                                j->is_cancelled = true;
                        pthread_cond_broadcast(&j->cond);
                        pthread_mutex_unlock(&j->lock);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/*
 * Sector 0 last also means the old sector 0 goes first: its planned bytes (an old partition
 * table) are zeroed and synced before anything else is written, so that a key cut off
 * midway holds neither the new table nor the old one pointing at half-written content.
 * Returns the bytes written (0 when they were zeros already).
 */
static int clear_sector0(struct job *j, uint8_t *buf) {
        bool is_zero = true;
        int r;

        r = read_at(j, buf, j->bs, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < plan_count(j->plan); i++) {
                const struct plan_extent *e = plan_get(j->plan, i);
                size_t a = (size_t) e->offset, b;

                if (e->offset >= j->bs)
                        break;
                b = (size_t) MIN(e->offset + e->length, (uint64_t) j->bs);
                for (size_t x = a; x < b; x++)
                        is_zero = is_zero && buf[x] == 0;
                memset(buf + a, 0, b - a);
        }
        if (is_zero)
                return 0;
        r = write_at(j, buf, j->bs, 0);
        if (r >= 0 && fdatasync(j->fd) < 0)
                r = -errno;
        return r < 0 ? r : (int) j->bs;
}

/* Turn O_DIRECT on when asked and possible; returns the flags to restore. */
static int set_direct(int fd, bool want, bool *ret_is_direct) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return -errno;
        *ret_is_direct = false;
        if (want && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0)
                *ret_is_direct = true;
        else if (!want && (flags & O_DIRECT))
                (void) fcntl(fd, F_SETFL, flags & ~O_DIRECT);
        return flags;
}

/* disk: the erase's end (the job is an erase); 0: a write or read-back of the plan. */
static int run(const struct plan *plan, int fd, const struct writer_options *o, bool is_verify, uint64_t disk,
               struct writer_stats *stats, uint64_t *ret_failed, struct cart_error *err) {
        struct job j = {
                .plan = plan, .fd = fd, .is_verify = is_verify, .is_erase = disk > 0,
                .zero_unplanned = o->zero_unplanned,
                .bs = o->block_size ? o->block_size : 512,
                .chunk = o->chunk_size ? o->chunk_size : WRITER_CHUNK_DEFAULT,
        };
        struct consumer_state c = {};
        bool is_direct = false;
        uint64_t cleared = 0;
        pthread_t thread;
        double t0 = now();
        int flags, r;

        if (j.bs < 512 || (j.bs & (j.bs - 1)) || j.chunk % j.bs || j.chunk < j.bs)
                return cart_error_set(err, -EINVAL, "block size %" PRIu32 " and chunk size %zu do not fit", j.bs, j.chunk);
        r = j.is_erase ? build_gaps(&j, disk) : build_spans(&j, o->skip_zero);
        if (r < 0) {
                free(j.spans);
                return r;
        }
        pthread_mutex_init(&j.lock, NULL);
        pthread_cond_init(&j.cond, NULL);
        r = -ENOMEM;
        for (size_t i = 0; i < N_BUFFERS; i++) {
                if (posix_memalign((void **) &j.slots[i].buf, 4096, j.chunk) != 0)
                        goto finish;
                if (j.is_erase)
                        memset(j.slots[i].buf, 0, j.chunk);
        }
        if (posix_memalign((void **) (is_verify ? &c.expect : &c.sector0), 4096, is_verify ? j.chunk : j.bs) != 0)
                goto finish;

        flags = set_direct(fd, o->use_direct, &is_direct);
        if (flags < 0) {
                r = cart_error_errno(err, flags, NULL, "target");
                goto finish;
        }
        j.is_direct = is_direct;
        j.flags = flags;
        if (is_verify && !is_direct) {
                /* Without O_DIRECT, at least make the kernel drop what it cached of the key. */
                (void) fsync(fd);
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        }
        if (!is_verify && !j.is_erase && !o->skip_zero && j.n_spans > 0 && j.spans[0].start == 0) {
                r = clear_sector0(&j, c.sector0);
                if (r < 0) {
                        r = fail_at(&j, r, 0, ret_failed, err);
                        (void) fcntl(fd, F_SETFL, flags);
                        goto finish;
                }
                cleared = (uint64_t) r;
        }
        r = -pthread_create(&thread, NULL, producer, &j);
        if (r < 0) {
                (void) fcntl(fd, F_SETFL, flags);
                goto finish;
        }
        r = consumer(&j, &c, o, ret_failed, err);
        pthread_join(thread, NULL);

        if (r >= 0 && !is_verify) {
                if (fdatasync(fd) < 0)
                        r = fail_at(&j, -errno, 0, ret_failed, err);
                else if (!j.is_erase && plan_count(plan) > 0 && j.n_spans > 0 && j.spans[0].start == 0) {
                        r = write_at(&j, c.sector0, j.bs, 0);
                        c.is_sector0_held = r < 0;
                        if (r < 0)
                                r = fail_at(&j, r, 0, ret_failed, err);
                }
                if (r >= 0 && fsync(fd) < 0)
                        r = fail_at(&j, -errno, 0, ret_failed, err);
        }
        (void) fcntl(fd, F_SETFL, flags);
        if (r >= 0)
                r = 0;
        is_direct = j.is_direct;
finish:
        if (stats) {
                stats->is_direct = is_direct;
                if (is_verify) {
                        stats->bytes_read += c.done;
                        stats->read_seconds += now() - t0;
                } else {
                        stats->bytes_written += c.done - (c.is_sector0_held ? j.bs : 0) + cleared;
                        stats->write_seconds += now() - t0;
                }
                if (!j.is_erase)
                        stats->bytes_planned = plan_bytes(plan);
        }
        for (size_t i = 0; i < N_BUFFERS; i++)
                free(j.slots[i].buf);
        free(c.sector0);
        free(c.expect);
        free(j.spans);
        pthread_mutex_destroy(&j.lock);
        pthread_cond_destroy(&j.cond);
        return r;
}

int writer_write(const struct plan *plan, int fd, const struct writer_options *o,
                 struct writer_stats *stats, uint64_t *ret_failed_offset, struct cart_error *err) {
        return run(plan, fd, o, false, 0, stats, ret_failed_offset, err);
}

int writer_verify(const struct plan *plan, int fd, const struct writer_options *o,
                  struct writer_stats *stats, uint64_t *ret_failed_offset, struct cart_error *err) {
        return run(plan, fd, o, true, 0, stats, ret_failed_offset, err);
}

int writer_erase(const struct plan *plan, int fd, uint64_t disk_size, const struct writer_options *o,
                 struct writer_stats *stats, uint64_t *ret_failed_offset, struct cart_error *err) {
        uint32_t bs = o->block_size ? o->block_size : 512;

        if (disk_size < bs)
                return cart_error_set(err, -EINVAL, "a disk of %" PRIu64 " bytes has no block to erase", disk_size);
        return run(plan, fd, o, false, disk_size, stats, ret_failed_offset, err);
}

/* A block of the erase's spans, its index drawn in [0, total / bs). */
static uint64_t erased_block(const struct job *j, uint64_t index) {
        uint64_t at = index * j->bs;

        for (size_t i = 0; i < j->n_spans; i++) {
                uint64_t len = j->spans[i].end - j->spans[i].start;
                if (at < len)
                        return j->spans[i].start + at;
                at -= len;
        }
        return j->spans[j->n_spans - 1].end - j->bs;
}

int writer_erase_check(const struct plan *plan, int fd, uint64_t disk_size, const struct writer_options *o,
                       unsigned n_samples, uint64_t seed, struct writer_stats *stats, uint64_t *ret_failed_offset,
                       struct cart_error *err) {
        struct job j = {
                .plan = plan, .fd = fd, .is_verify = true, .is_erase = true,
                .bs = o->block_size ? o->block_size : 512,
        };
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t blocks, state = seed, done = 0;
        size_t len;
        double t0 = now();
        int flags, r;

        if (j.bs < 512 || (j.bs & (j.bs - 1)))
                return cart_error_set(err, -EINVAL, "block size %" PRIu32 " does not fit", j.bs);
        r = build_gaps(&j, disk_size - disk_size % j.bs);
        /* The first block is erased first and written last: the plan's, once the key is made. */
        if (r >= 0 && j.n_spans > 0 && covered(plan, 0, j.bs) > 0) {
                j.spans[0].start = j.bs;
                j.total -= j.bs;
                if (j.spans[0].start == j.spans[0].end)
                        memmove(j.spans, j.spans + 1, --j.n_spans * sizeof(*j.spans));
        }
        if (r < 0 || j.n_spans == 0) {
                free(j.spans);
                return r;
        }
        len = (size_t) MIN((uint64_t) MAX((size_t) j.bs, (size_t) (64 * KIB)), j.total);
        len -= len % j.bs;
        blocks = j.total / j.bs;
        if (posix_memalign((void **) &buf, 4096, len) != 0) {
                free(j.spans);
                return -ENOMEM;
        }
        pthread_mutex_init(&j.lock, NULL);
        flags = set_direct(fd, o->use_direct, &j.is_direct);
        if (flags < 0) {
                r = cart_error_errno(err, flags, NULL, "target");
                goto finish;
        }
        j.flags = flags;
        if (!j.is_direct) {
                (void) fsync(fd);
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        }
        for (unsigned k = 0; k < n_samples + 2 && r >= 0; k++) {
                /* The first and last block, then blocks drawn at random (splitmix64). */
                uint64_t z = (state += UINT64_C(0x9E3779B97F4A7C15)), at, n;
                z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
                z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
                z ^= z >> 31;
                at = erased_block(&j, k == 0 ? 0 : k == 1 ? blocks - 1 : z % blocks);
                /* Stay inside the span that holds the block. */
                n = len;
                for (size_t i = 0; i < j.n_spans; i++)
                        if (at >= j.spans[i].start && at < j.spans[i].end)
                                n = MIN((uint64_t) len, j.spans[i].end - at);
                r = read_at(&j, buf, (size_t) n, at);
                if (r < 0) {
                        r = cart_error_io(err, r, NULL, at, "erased area");
                        if (ret_failed_offset)
                                *ret_failed_offset = at;
                        break;
                }
                done += n;
                for (size_t x = 0; x < n; x++)
                        if (buf[x] != 0) {
                                if (ret_failed_offset)
                                        *ret_failed_offset = at + x;
                                r = cart_error_io(err, -EBADE, NULL, at + x, "erased area");
                                break;
                        }
        }
        (void) fcntl(fd, F_SETFL, flags);
finish:
        if (stats) {
                stats->bytes_read += done;
                stats->read_seconds += now() - t0;
        }
        pthread_mutex_destroy(&j.lock);
        free(j.spans);
        return r < 0 ? r : 0;
}
