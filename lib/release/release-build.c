/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cartable image build: read the bundles in overlay order into one tree, check it (FAT
 * names and collisions, links, autorun.inf, size against the smallest key), then write
 * the manifest, its signature and the payload in layout order as one tar. File content is
 * staged in an unlinked temporary file, so memory stays small whatever the bundles hold.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <strings.h>
#include <sys/stat.h>

#include "release/bundle.h"
#include "base/hash.h"
#include "release/recipe.h"
#include "release/release-build.h"

#define COPY_BUFFER (1 * MIB)

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

static void note(struct builder *b, const char *fmt, ...) _printf_(2, 3);
static void note(struct builder *b, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!b->note)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) >= 0)
                b->note(b->userdata, msg);
        va_end(ap);
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
                return cart_error_set(b->err, -EEXIST, "%s: %s: a %s here, a %s in %s",
                                      origin, path, is_dir ? "directory" : "file",
                                      e->is_dir ? "directory" : "file", e->origin);
        if (!is_dir && e->origin == origin)
                return cart_error_set(b->err, -EEXIST, "%s: %s: listed twice", origin, path);
        if (!is_dir)
                note(b, "%s replaces %s of %s", origin, path, e->origin);
        if (!is_dir || !e->is_explicit)
                e->mtime = mtime;
        e->origin = origin;
        e->is_explicit = true;
        *ret = e;
        return 0;
}

/* Append content to the spool, hashing it on the way. */
static int spool_write(struct builder *b, struct build_entry *e, const void *buf, size_t len) {
        int r = hash_sha256_update(b->hash, buf, len);

        if (r < 0)
                return r;
        r = pwrite_full(b->spool_fd, buf, len, b->spool_end);
        if (r < 0) {
                cart_error_errno(b->err, output_write_error(r), e->path, "cannot stage content");
                if (b->err)
                        b->err->errnum = -r;    /* the words of the cause (no space), not of EIO */
                return output_write_error(r);
        }
        b->spool_end += len;
        e->size += len;
        return 0;
}

int builder_store(struct builder *b, struct build_entry *e, const void *buf, size_t len) {
        int r;

        e->size = 0;
        e->spool_offset = b->spool_end;
        r = hash_sha256_reset(b->hash);
        if (r >= 0 && len > 0)
                r = spool_write(b, e, buf, len);
        if (r >= 0)
                r = hash_sha256_final(b->hash, e->sha256);
        return r;
}

/* Stream a bundle's file into the spool, or hand it to the checks when they need it whole. */
static int read_file(struct builder *b, struct bundle *bundle, struct build_entry *e) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0, cap = COPY_BUFFER;
        bool whole = builder_needs_whole(b, e->path);
        ssize_t n;
        int r;

        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        if (whole) {
                for (;;) {
                        if (len == cap) {
                                if (cap >= BUILD_TEXT_MAX)
                                        return cart_error_set(b->err, -EFBIG, "%s: %s: larger than %" PRIu64 " MiB, too large to check",
                                                              bundle_path(bundle), e->path, BUILD_TEXT_MAX / MIB);
                                uint8_t *p = realloc(buf, cap * 2);
                                if (!p)
                                        return -ENOMEM;
                                buf = p;
                                cap *= 2;
                        }
                        n = bundle_read(bundle, buf + len, cap - len, b->err);
                        if (n <= 0)
                                break;
                        len += (size_t) n;
                }
                if (n < 0)
                        return (int) n;
                return builder_store_text(b, e, bundle_path(bundle), (char *) buf, len);
        }
        e->size = 0;
        e->spool_offset = b->spool_end;
        r = hash_sha256_reset(b->hash);
        if (r < 0)
                return r;
        while ((n = bundle_read(bundle, buf, cap, b->err)) > 0) {
                r = spool_write(b, e, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        if (n < 0)
                return (int) n;
        return hash_sha256_final(b->hash, e->sha256);
}

int builder_add_bundle(struct builder *b, const char *path) {
        _cleanup_(bundle_freep) struct bundle *bundle = NULL;
        struct bundle_entry be;
        struct build_entry *e;
        uint64_t files = 0;
        int r;

        r = bundle_open(path, &b->limits, &bundle, b->err);
        if (r < 0)
                return r;
        while ((r = bundle_next(bundle, &be, b->err)) > 0) {
                /* The bundle's path string lives as long as the builder (the recipe's). */
                r = builder_add(b, be.path, be.is_dir, be.mtime, path, &e);
                if (r < 0)
                        return r;
                if (!be.is_dir) {
                        r = read_file(b, bundle, e);
                        if (r < 0)
                                return r;
                        files++;
                }
        }
        if (r < 0)
                return r;
        note(b, "%s: %" PRIu64 " files", path, files);
        return 0;
}

int release_build(const struct recipe *rc, const struct sign_secret_key *key, int out_fd,
                  const char *spool_dir, release_note_fn note_fn, void *userdata, struct cart_error *err) {
        _cleanup_(builder_freep) struct builder *b = NULL;
        int r;

        r = recipe_check(rc, err);
        if (r < 0)
                return r;
        r = builder_new(rc, spool_dir, note_fn, userdata, err, &b);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rc->bundles.n; i++) {
                r = builder_add_bundle(b, rc->bundles.v[i]);
                if (r < 0)
                        return r;
        }
        r = builder_check_tree(b);
        if (r < 0)
                return r;
        r = builder_write(b, key, out_fd);
        if (r < 0)
                return r;
        uint64_t bytes = 0;
        for (size_t i = 0; i < b->n; i++)
                bytes += b->entries[i].size;
        note(b, "%zu entries, %" PRIu64 " bytes of content", b->n, bytes);
        return 0;
}
