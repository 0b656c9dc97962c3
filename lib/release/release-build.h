/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The release builder's parts, each built on the ones before: release-builder.c (the tree
 * and its spool), release-check.c, release-write.c, release-build.c (the driver). Not API. */
#pragma once

#include <stdarg.h>

#include "base/hash.h"
#include "release/recipe.h"
#include "release/release-internal.h"

/* Text files checked for links, templates and autorun.inf are read whole, up to this. */
#define BUILD_TEXT_MAX (32 * MIB)

struct build_entry {
        char *path;
        bool is_dir;
        bool is_explicit;          /* named by a bundle or the recipe, not only implied by a child */
        const char *origin;        /* the bundle (or "recipe") it comes from */
        uint64_t size, spool_offset;
        uint8_t sha256[HASH_SHA256_LEN];
        int64_t mtime;
        uint8_t attrs;
};

struct builder {
        const struct recipe *rc;
        struct bundle_limits limits;
        struct build_entry *entries;
        size_t n, cap;
        struct lh_table *index;    /* folded path -> position + 1 */
        int spool_fd;
        uint64_t spool_end;
        struct hash_sha256 *hash;
        release_note_fn note;
        void *userdata;
        struct cart_error *err;
        char *owner_template;      /* the personalisation template's text */
        int64_t max_mtime;         /* the release's time when the recipe gives none */
};

int builder_new(const struct recipe *rc, const char *spool_dir, release_note_fn note, void *userdata,
                struct cart_error *err, struct builder **ret);
struct builder *builder_free(struct builder *b);
DEFINE_POINTER_CLEANUP(struct builder, builder_free);

/* release-builder.c */
struct build_entry *builder_find(const struct builder *b, const char *path);
int builder_add(struct builder *b, const char *path, bool is_dir, int64_t mtime, const char *origin,
                struct build_entry **ret);
/* Replace e's content with buf. */
int builder_store(struct builder *b, struct build_entry *e, const void *buf, size_t len);
/* The same in pieces, for content streamed in: begin, write (appends to the spool, hashing
 * it on the way), end. */
int builder_spool_begin(struct builder *b, struct build_entry *e);
int builder_spool_write(struct builder *b, struct build_entry *e, const void *buf, size_t len);
int builder_spool_end(struct builder *b, struct build_entry *e);
/* A line for the caller's note callback, if any. */
void builder_note(struct builder *b, const char *fmt, ...) _printf_(2, 3);

/* release-check.c */
bool builder_needs_whole(const struct builder *b, const char *path);
/* Substitute a template's variables, check links and autorun.inf, then store. */
int builder_store_text(struct builder *b, struct build_entry *e, const char *origin, char *text, size_t len);
/* After every bundle: directories, attributes, templates, sealed paths, owner file, size. */
int builder_check_tree(struct builder *b);

/* release-write.c: the manifest, its signature, the tar. */
int builder_write(struct builder *b, const struct sign_secret_key *key, int out_fd);

/* release-build.c: read one bundle into the tree (streamed, or whole for the checks). */
int builder_add_bundle(struct builder *b, const char *path);
