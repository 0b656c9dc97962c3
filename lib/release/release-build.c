/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cartable image build: read the bundles in overlay order into one tree, check it (FAT
 * names and collisions, links, autorun.inf, size against the smallest key), then write
 * the manifest, its signature and the payload in layout order as one tar. File content is
 * staged in an unlinked temporary file, so memory stays small whatever the bundles hold.
 */
#include <inttypes.h>

#include "release/bundle.h"
#include "release/recipe.h"
#include "release/release-build.h"

#define COPY_BUFFER (1 * MIB)

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
        r = builder_spool_begin(b, e);
        if (r < 0)
                return r;
        while ((n = bundle_read(bundle, buf, cap, b->err)) > 0) {
                r = builder_spool_write(b, e, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        if (n < 0)
                return (int) n;
        return builder_spool_end(b, e);
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
        builder_note(b, "%s: %" PRIu64 " files", path, files);
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
        builder_note(b, "%zu entries, %" PRIu64 " bytes of content", b->n, bytes);
        return 0;
}
