/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Images built in memory for the FAT unit tests. */
#pragma once

#include "fat/fat-internal.h"

struct mem {
        uint8_t *buf;
        size_t size;
};

static inline int mem_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        struct mem *m = userdata;

        if (offset > m->size || len > m->size - offset)
                return -ENODATA;
        memcpy(buf, m->buf + offset, len);
        return 0;
}

/* File contents: a byte pattern that depends on the offset. */
static inline int pattern_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        uint8_t *p = buf;

        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t) ((offset + i) * 7 + ((offset + i) >> 9));
        return 0;
}

/* Lays t out and writes every planned byte into a fresh buffer of offset + size bytes. */
static inline void build_image(struct fat_tree *t, const struct fat_params *params, struct mem *m,
                               struct fat_layout_info *ret_info) {
        struct plan *p = NULL;
        struct fat_layout_info info;
        struct cart_error err = {};

        assert_int_equal(plan_new(&p), 0);
        if (fat_layout(t, params, p, &info, &err) < 0)
                fail_msg("fat_layout: %s", err.msg);
        assert_int_equal(plan_finalize(p, params->offset + params->size, &err), 0);
        m->size = params->offset + params->size;
        m->buf = calloc(1, m->size);
        assert_non_null(m->buf);
        for (size_t i = 0; i < plan_count(p); i++) {
                const struct plan_extent *e = plan_get(p, i);
                if (e->kind != PLAN_ZERO)
                        assert_int_equal(plan_read(p, e->offset, m->buf + e->offset, e->length, NULL), 0);
        }
        plan_free(p);
        if (ret_info)
                *ret_info = info;
}

/* A file read back whole into memory (a fat_sink_fn). */
struct buf { uint8_t *data; size_t len; };

static inline int buf_sink(void *userdata, const void *p, size_t len) {
        struct buf *b = userdata;
        b->data = realloc(b->data, b->len + len);
        assert_non_null(b->data);
        memcpy(b->data + b->len, p, len);
        b->len += len;
        return 0;
}
