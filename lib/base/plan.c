/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>

#include "base/error.h"
#include "base/plan.h"

struct plan {
        struct plan_extent *extents;
        size_t n, allocated;
        void **blobs;            /* memory from plan_alloc() and copied labels */
        size_t n_blobs, allocated_blobs;
        uint64_t bytes, end;
        bool is_final;
};

int plan_new(struct plan **ret) {
        struct plan *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

struct plan *plan_free(struct plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_blobs; i++)
                free(p->blobs[i]);
        free(p->blobs);
        free(p->extents);
        free(p);
        return NULL;
}

static int keep_blob(struct plan *p, void *blob) {
        if (p->n_blobs == p->allocated_blobs) {
                size_t n = p->allocated_blobs ? p->allocated_blobs * 2 : 64;
                void **b = realloc(p->blobs, n * sizeof(*b));
                if (!b)
                        return -ENOMEM;
                p->blobs = b;
                p->allocated_blobs = n;
        }
        p->blobs[p->n_blobs++] = blob;
        return 0;
}

void *plan_alloc(struct plan *p, size_t size) {
        void *m = calloc(1, size ? size : 1);
        if (!m)
                return NULL;
        if (keep_blob(p, m) < 0) {
                free(m);
                return NULL;
        }
        return m;
}

static int add(struct plan *p, const struct plan_extent *e) {
        struct plan_extent *n;
        uint64_t end;

        if (p->is_final)
                return -EBUSY;
        if (e->length == 0)
                return 0;
        if (add_overflows_u64(e->offset, e->length, &end))
                return -EOVERFLOW;
        if (p->n == p->allocated) {
                size_t a = p->allocated ? p->allocated * 2 : 256;
                struct plan_extent *x = realloc(p->extents, a * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                p->extents = x;
                p->allocated = a;
        }
        n = &p->extents[p->n];
        *n = *e;
        if (e->label) {
                char *l = strdup(e->label);
                if (!l || keep_blob(p, l) < 0) {
                        free(l);
                        return -ENOMEM;
                }
                n->label = l;
        } else
                n->label = "";
        p->n++;
        return 0;
}

int plan_add_data(struct plan *p, uint64_t offset, const void *data, uint64_t length, const char *label) {
        if (!data && length > 0)
                return -EINVAL;
        return add(p, &(struct plan_extent) {
                .offset = offset, .length = length, .kind = PLAN_DATA, .data = data, .label = label,
        });
}

int plan_add_data_copy(struct plan *p, uint64_t offset, const void *data, uint64_t length, const char *label) {
        void *m;

        if (length > SIZE_MAX)
                return -EFBIG;
        m = plan_alloc(p, (size_t) length);
        if (!m)
                return -ENOMEM;
        if (length > 0)
                memcpy(m, data, (size_t) length);
        return plan_add_data(p, offset, m, length, label);
}

int plan_add_zero(struct plan *p, uint64_t offset, uint64_t length, const char *label) {
        return add(p, &(struct plan_extent) {
                .offset = offset, .length = length, .kind = PLAN_ZERO, .label = label,
        });
}

int plan_add_wipe(struct plan *p, uint64_t offset, uint64_t length, const char *label) {
        return add(p, &(struct plan_extent) {
                .offset = offset, .length = length, .kind = PLAN_ZERO, .is_wipe = true, .label = label,
        });
}

int plan_add_source(struct plan *p, uint64_t offset, uint64_t length,
                    cart_read_fn read, void *userdata,
                    uint64_t source_offset, uint64_t source_length, const char *label) {
        if (!read || source_length > length)
                return -EINVAL;
        return add(p, &(struct plan_extent) {
                .offset = offset, .length = length, .kind = PLAN_SOURCE,
                .read = read, .userdata = userdata,
                .source_offset = source_offset, .source_length = source_length, .label = label,
        });
}

static int cmp_extent(const void *a, const void *b) {
        const struct plan_extent *x = a, *y = b;

        if (x->offset != y->offset)
                return x->offset < y->offset ? -1 : 1;
        /* Real extents before wipes at the same offset, so trimming sees them first. */
        if (x->is_wipe != y->is_wipe)
                return x->is_wipe ? 1 : -1;
        return 0;
}

static inline uint64_t ext_end(const struct plan_extent *e) { return e->offset + e->length; }

/*
 * Cut every wipe into the pieces no real extent covers. Real extents are sorted and
 * checked for overlap first, so a single forward scan over them per wipe suffices.
 */
static int trim_wipes(struct plan *p, struct cart_error *err) {
        struct plan_extent *real = NULL, *wipes = NULL;
        size_t n_real = 0, n_wipes = 0, cap = 0;
        _cleanup_free_ struct plan_extent *out = NULL;
        size_t n_out = 0, j = 0;

        int r = 0;

        for (size_t i = 0; i < p->n; i++)
                if (p->extents[i].is_wipe)
                        n_wipes++;
        n_real = p->n - n_wipes;
        real = malloc((n_real + 1) * sizeof(*real));
        wipes = malloc((n_wipes + 1) * sizeof(*wipes));
        if (!real || !wipes) {
                r = -ENOMEM;
                goto finish;
        }
        n_real = n_wipes = 0;
        for (size_t i = 0; i < p->n; i++) {
                if (p->extents[i].is_wipe)
                        wipes[n_wipes++] = p->extents[i];
                else
                        real[n_real++] = p->extents[i];
        }
        for (size_t i = 1; i < n_real; i++)
                if (real[i].offset < ext_end(&real[i - 1])) {
                        r = cart_error_set(err, -EINVAL,
                                           "write plan: \"%s\" [%" PRIu64 ", +%" PRIu64 ") overlaps \"%s\" [%" PRIu64 ", +%" PRIu64 ")",
                                           real[i].label, real[i].offset, real[i].length,
                                           real[i - 1].label, real[i - 1].offset, real[i - 1].length);
                        goto finish;
                }

        /* A merged wipe yields one piece more than the real extents it overlaps. */
        cap = 2 * n_real + 2 * n_wipes + 1;
        out = malloc(cap * sizeof(*out));
        if (!out) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(out, real, n_real * sizeof(*real));
        n_out = n_real;

        /* Merge overlapping or touching wipes, then subtract real extents from each. */
        for (size_t i = 0; i < n_wipes; i++) {
                struct plan_extent w = wipes[i];
                uint64_t start = w.offset, end = ext_end(&w);

                while (i + 1 < n_wipes && wipes[i + 1].offset <= end) {
                        end = MAX(end, ext_end(&wipes[i + 1]));
                        i++;
                }
                while (j > 0 && ext_end(&real[j - 1]) > start)
                        j--;
                while (j < n_real && ext_end(&real[j]) <= start)
                        j++;
                for (size_t k = j; start < end; k++) {
                        uint64_t piece_end = end;

                        if (k < n_real && real[k].offset < end)
                                piece_end = MIN(piece_end, real[k].offset);
                        if (piece_end > start) {
                                if (n_out == cap) {
                                        r = -EINVAL; /* cannot happen: cap bounds the pieces */
                                        goto finish;
                                }
                                w.offset = start;
                                w.length = piece_end - start;
                                out[n_out++] = w;
                        }
                        if (k >= n_real || real[k].offset >= end)
                                break;
                        start = MAX(start, ext_end(&real[k]));
                }
        }

        qsort(out, n_out, sizeof(*out), cmp_extent);
        free(p->extents);
        p->extents = TAKE_PTR(out);
        p->n = p->allocated = n_out;
finish:
        free(real);
        free(wipes);
        return r;
}

int plan_finalize(struct plan *p, uint64_t limit, struct cart_error *err) {
        int r;

        if (p->is_final)
                return -EBUSY;
        if (p->n > 0)
                qsort(p->extents, p->n, sizeof(*p->extents), cmp_extent);
        r = trim_wipes(p, err);
        if (r < 0)
                return r;
        p->bytes = p->end = 0;
        for (size_t i = 0; i < p->n; i++) {
                p->bytes += p->extents[i].length;
                p->end = MAX(p->end, ext_end(&p->extents[i]));
        }
        if (limit > 0 && p->end > limit)
                return cart_error_set(err, -ENOSPC,
                                      "write plan: \"%s\" ends at byte %" PRIu64 ", past the end of the target (%" PRIu64 ")",
                                      p->n ? p->extents[p->n - 1].label : "", p->end, limit);
        p->is_final = true;
        return 0;
}

size_t plan_count(const struct plan *p) { return p->n; }
const struct plan_extent *plan_get(const struct plan *p, size_t i) { return i < p->n ? &p->extents[i] : NULL; }
uint64_t plan_bytes(const struct plan *p) { return p->bytes; }
uint64_t plan_end(const struct plan *p) { return p->end; }

size_t plan_find(const struct plan *p, uint64_t offset) {
        size_t lo = 0, hi = p->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ext_end(&p->extents[mid]) <= offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int read_extent(const struct plan_extent *e, uint64_t at, uint8_t *buf, size_t len) {
        uint64_t rel = at - e->offset;

        switch (e->kind) {
        case PLAN_ZERO:
                memset(buf, 0, len);
                return 0;
        case PLAN_DATA:
                memcpy(buf, e->data + rel, len);
                return 0;
        case PLAN_SOURCE: {
                size_t from_source = 0;
                if (rel < e->source_length)
                        from_source = (size_t) MIN((uint64_t) len, e->source_length - rel);
                if (from_source > 0) {
                        int r = e->read(e->userdata, buf, from_source, e->source_offset + rel);
                        if (r < 0)
                                return r;
                }
                memset(buf + from_source, 0, len - from_source);
                return 0;
        }
        }
        return -EINVAL;
}

int plan_read(const struct plan *p, uint64_t offset, void *buf, size_t len,
              const struct plan_extent **ret_failed) {
        uint8_t *out = buf;
        size_t i = plan_find(p, offset);

        while (len > 0) {
                const struct plan_extent *e = i < p->n ? &p->extents[i] : NULL;
                size_t n;
                int r;

                if (!e || e->offset > offset)
                        return -ERANGE;
                n = (size_t) MIN((uint64_t) len, ext_end(e) - offset);
                r = read_extent(e, offset, out, n);
                if (r < 0) {
                        if (ret_failed)
                                *ret_failed = e;
                        return r;
                }
                out += n;
                offset += n;
                len -= n;
                i++;
        }
        return 0;
}
