/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the release modules (manifest, release, release-build, release-owner): not API. */
#pragma once

#include <json-c/linkhash.h>

#include "release/release.h"

#define MANIFEST_SCHEMA 1
#define MANIFEST_MAX_FILES 1000000
#define OWNER_TEMPLATE_MAX (16 * KIB)

struct manifest {
        char *json;                    /* the exact signed bytes */
        size_t json_len;
        bool is_verified;
        char *name, *version, *key_id;
        uint64_t serial;
        int64_t created;
        struct release_layout layout;
        struct release_file *files;
        size_t n_files;
        struct lh_table *index;        /* folded path -> struct release_file * */
        char *owner_path, *owner_template;
};

/* Depth-first, names sorted by bytes: "a", "a/x", "a.txt". */
int path_layout_cmp(const char *a, const char *b);

/* "2026-09-01T08:00:00Z", and back (strict). */

/* A manifest without files yet, for the builder; manifest_add_file() copies path. */
int manifest_new(struct manifest **ret);
int manifest_add_file(struct manifest *m, const struct release_file *f, struct cart_error *err);
/* Serialise m (deterministic bytes) into m->json. */
int manifest_serialise(struct manifest *m);
/* Parse and check the JSON, without looking at any signature. */
int manifest_parse(const void *json, size_t len, struct manifest **ret, struct cart_error *err);
/* What the trusted comment of a release's signature must say. */
int manifest_trusted_comment(const struct manifest *m, char **ret);

/* @NAME@ placeholders of an owner template: only the fields a school may print. Returns
 * the set of fields used (bit i: owner_field_name(i)). */
int owner_template_check(const char *text, size_t len, const char *where, struct cart_error *err);
/* "first_name", "last_name", "class", "school"; NULL past the last. */
const char *owner_field_name(unsigned i);
