/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checking a key against the manifest it carries, without mounting it: find the FAT
 * partition (lib/layout), open it with the FAT reader, check /.cartable/manifest.json's
 * signature against the trusted keys, then every release file's size and SHA-256.
 * Files the manifest does not name are the pupil's own: allowed, except in the release's
 * sealed directories.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "fat/fat.h"
#include "release/sign.h"
#include "base/util.h"

enum verify_status {
        VERIFY_MISSING,      /* a release file or directory is not on the key */
        VERIFY_MODIFIED,     /* size, content or type differs */
        VERIFY_EXTRA,        /* the pupil's own: allowed */
        VERIFY_SEALED,       /* an extra entry inside a sealed directory: not allowed */
};
const char *verify_status_to_string(enum verify_status s);

struct verify_entry {
        char *path;
        enum verify_status status;
        bool is_dir;
        uint64_t expected_size, actual_size;
        /* Modified because another entry of its directory answers to one of its names
         * (long or 8.3): that entry's name. NULL otherwise. */
        char *collides_with;
};

struct verify_result {
        char release_name[128], release_version[64], release_key_id[17];
        uint64_t release_serial;
        char label[FAT_LABEL_MAX + 1];
        uint32_t volume_id;
        uint64_t volume_offset, volume_size;
        char *key_json;                 /* /.cartable/key.json, NULL when absent */
        size_t n_files_checked;
        uint64_t bytes_checked;
        struct verify_entry *entries;   /* problems and extras, sorted by path */
        size_t n_entries;
        size_t n_missing, n_modified, n_extra, n_sealed;
};

/* Intact: nothing missing, modified or added to a sealed directory. */
static inline bool verify_result_is_intact(const struct verify_result *r) {
        return r->n_missing + r->n_modified + r->n_sealed == 0;
}

/*
 * Locate and open the FAT volume of a key or image of size bytes read through read.
 * -EMEDIUMTYPE when there is no FAT volume; ret_offset and ret_size may be NULL.
 */
int verify_open_volume(cart_read_fn read, void *userdata, uint64_t size, struct fat_reader **ret,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err);

/*
 * Check a key. Returns 0 with a result (intact or not: see verify_result_is_intact), or
 * -EMEDIUMTYPE (no FAT volume, no /.cartable/manifest.json), -EUCLEAN (corrupt volume),
 * -EIO, or the manifest's trust error (-ENOKEY, -EKEYREJECTED, -EBADMSG).
 */
int verify_key(cart_read_fn read, void *userdata, uint64_t size, const struct sign_trust *trust,
               struct verify_result **ret, struct cart_error *err);
struct verify_result *verify_result_free(struct verify_result *r);
DEFINE_POINTER_CLEANUP(struct verify_result, verify_result_free);
