/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The release builder's tree: entries indexed by their folded FAT name, parents created
 * on the way, and their content staged in one spool file with its SHA-256. The checks
 * (release-check.c) and the build driver (release-build.c) work on top of it.
 */
#include <fcntl.h>

#include "base/hash.h"
#include "release/release-build.h"

static void index_free_key(struct lh_entry *e) {
        free(lh_entry_k(e));
}

int builder_new(const struct recipe *rc, const char *spool_dir, release_note_fn note, void *userdata,
                struct cart_error *err, struct builder **ret) {
        _cleanup_(builder_freep) struct builder *b = calloc(1, sizeof(struct builder));
        int r;

        if (!b)
                return -ENOMEM;
        b->spool_fd = -EBADF;
        b->rc = rc;
        b->note = note;
        b->userdata = userdata;
        b->err = err;
        b->limits = rc->limits;
        /* Content cannot outgrow the smallest key: stop a bomb there, early. */
        b->limits.max_total_size = MIN(b->limits.max_total_size, rc->min_size);
        b->index = lh_kchar_table_new(1024, index_free_key);
        if (!b->index)
                return -ENOMEM;
        r = hash_sha256_new(&b->hash);
        if (r < 0)
                return r;
        b->spool_fd = open(spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (b->spool_fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
                /* No O_TMPFILE on this file system: a named file, unlinked at once. */
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "%s/.cartable-spool.XXXXXX", spool_dir) < 0)
                        return -ENOMEM;
                b->spool_fd = mkostemp(name, O_CLOEXEC);
                if (b->spool_fd >= 0)
                        unlink(name);
        }
        if (b->spool_fd < 0)
                return cart_error_errno(err, -errno, spool_dir, "cannot create a temporary file");
        *ret = TAKE_PTR(b);
        return 0;
}

struct builder *builder_free(struct builder *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
                free(b->entries[i].path);
        free(b->entries);
        free(b->owner_template);
        if (b->index)
                lh_table_free(b->index);
        hash_sha256_free(b->hash);
        if (b->spool_fd >= 0)
                close(b->spool_fd);
        free(b);
        return NULL;
}

void builder_note(struct builder *b, const char *fmt, ...) {
        struct cart_error note;
        va_list ap;

        if (!b->note)
                return;
        va_start(ap, fmt);
        cart_error_vset(&note, 0, fmt, ap);
        va_end(ap);
        b->note(b->userdata, &note);
}

struct build_entry *builder_find(const struct builder *b, const char *path) {
        _cleanup_free_ char *folded = NULL;
        void *v;

        if (fat_fold(path, &folded) < 0 || !lh_table_lookup_ex(b->index, folded, &v))
                return NULL;
        return &b->entries[(uintptr_t) v - 1];
}

static int append(struct builder *b, const char *path, char *folded, bool is_dir, int64_t mtime,
                  const char *origin, struct build_entry **ret) {
        struct build_entry *e;

        if (b->n == b->cap) {
                size_t cap = MAX(b->cap * 2, 64);
                e = realloc(b->entries, cap * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                b->entries = e;
                b->cap = cap;
        }
        e = &b->entries[b->n];
        *e = (struct build_entry) { .is_dir = is_dir, .mtime = mtime, .origin = origin };
        e->path = strdup(path);
        if (!e->path)
                return -ENOMEM;
        if (lh_table_insert(b->index, folded, (void *) (uintptr_t) (b->n + 1)) < 0) {
                free(e->path);
                return -ENOMEM;
        }
        b->n++;
        *ret = e;
        return 0;
}

/*
 * The entry for path, created (with missing parents) or found. origin names where it
 * comes from ("content.tar.gz", "recipe"). A later bundle may replace a file; anything else
 * that lands on the same FAT name is a collision.
 */
int builder_add(struct builder *b, const char *path, bool is_dir, int64_t mtime, const char *origin,
                struct build_entry **ret) {
        _cleanup_free_ char *folded = NULL;
        struct build_entry *e;
        const char *slash;
        int r;

        if (b->rc->has_time)
                mtime = b->rc->time;
        b->max_mtime = MAX(b->max_mtime, mtime);
        /* Parents first: each must be a directory, spelt the same way. */
        for (slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
                _cleanup_free_ char *parent = strndup(path, (size_t) (slash - path));
                if (!parent)
                        return -ENOMEM;
                e = builder_find(b, parent);
                if (e && !e->is_dir)
                        return cart_error_set(b->err, -EEXIST, "%s: %s: %s is a file (from %s)",
                                              origin, path, e->path, e->origin);
                if (e && !streq(e->path, parent))
                        return cart_error_set(b->err, -EEXIST, "%s: %s: directory %s is spelt %s in %s; FAT ignores case",
                                              origin, path, parent, e->path, e->origin);
                if (!e) {
                        _cleanup_free_ char *pf = NULL;
                        r = fat_fold(parent, &pf);
                        if (r < 0)
                                return cart_error_set(b->err, r, "%s: %s: cannot fold this name", origin, path);
                        r = append(b, parent, pf, true, mtime, origin, &e);
                        if (r < 0)
                                return r;
                        TAKE_PTR(pf);
                }
        }
        r = fat_fold(path, &folded);
        if (r < 0)
                return cart_error_set(b->err, r, "%s: %s: cannot fold this name", origin, path);
        e = builder_find(b, path);
        if (!e) {
                r = append(b, path, folded, is_dir, mtime, origin, &e);
                if (r < 0)
                        return r;
                TAKE_PTR(folded);
                e->is_explicit = true;
                *ret = e;
                return 0;
        }
        if (!streq(e->path, path))
                return cart_error_set(b->err, -EEXIST, "%s: %s: same name on FAT as %s (from %s); FAT ignores case",
                                      origin, path, e->path, e->origin);
        if (e->is_dir != is_dir)
                return is_dir ? cart_error_set(b->err, -EEXIST, "%s: %s: a directory here, a file in %s", origin, path, e->origin) :
                                cart_error_set(b->err, -EEXIST, "%s: %s: a file here, a directory in %s", origin, path, e->origin);
        if (!is_dir && e->origin == origin)
                return cart_error_set(b->err, -EEXIST, "%s: %s: listed twice", origin, path);
        if (!is_dir)
                builder_note(b, "%s replaces %s of %s", origin, path, e->origin);
        if (!is_dir || !e->is_explicit)
                e->mtime = mtime;
        e->origin = origin;
        e->is_explicit = true;
        *ret = e;
        return 0;
}

int builder_spool_begin(struct builder *b, struct build_entry *e) {
        e->size = 0;
        e->spool_offset = b->spool_end;
        return hash_sha256_reset(b->hash);
}

int builder_spool_write(struct builder *b, struct build_entry *e, const void *buf, size_t len) {
        int r = hash_sha256_update(b->hash, buf, len);

        if (r < 0)
                return r;
        r = pwrite_full(b->spool_fd, buf, len, b->spool_end);
        if (r < 0)      /* reported as EIO, worded by its cause (no space) */
                return cart_error_errno_as(b->err, output_write_error(r), -r, e->path, "cannot stage content");
        b->spool_end += len;
        e->size += len;
        return 0;
}

int builder_spool_end(struct builder *b, struct build_entry *e) {
        return hash_sha256_final(b->hash, e->sha256);
}

int builder_store(struct builder *b, struct build_entry *e, const void *buf, size_t len) {
        int r = builder_spool_begin(b, e);

        if (r >= 0 && len > 0)
                r = builder_spool_write(b, e, buf, len);
        if (r >= 0)
                r = builder_spool_end(b, e);
        return r;
}
