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
#include "flash/key-record.h"
#include "release/sign.h"
#include "base/util.h"

enum verify_status {
        VERIFY_MISSING,      /* a release file or directory is not on the key */
        VERIFY_MODIFIED,     /* size, content or type differs */
        VERIFY_EXTRA,        /* the pupil's own: allowed */
        VERIFY_SEALED,       /* an extra entry inside a sealed directory: not allowed */
        VERIFY_ATTRIBUTES,   /* in a sealed directory: read-only, hidden or system bit changed */
};
const char *verify_status_to_string(enum verify_status s);

struct verify_entry {
        char *path;
        enum verify_status status;
        bool is_dir;
        uint64_t expected_size, actual_size;
        uint8_t expected_attrs, actual_attrs;   /* FAT_ATTR_READ_ONLY | HIDDEN | SYSTEM */
        /* Modified because another entry of its directory answers to one of its names
         * (long or 8.3): that entry's name. NULL otherwise. */
        char *collides_with;
};

/* Extra and sealed entries listed in a result, and as many colliding entries the manifest
 * does not name; beyond, they are only counted (n_unlisted),
 * so that memory and output stay bounded on any key (a path is at most 4 KiB). Missing,
 * modified and attribute entries are bounded by the signed manifest. */
#define VERIFY_LISTED_MAX 1000

struct verify_result {
        char release_name[128], release_version[64], release_key_id[17];
        uint64_t release_serial;
        char label[FAT_LABEL_MAX + 1];
        uint32_t volume_id;
        uint64_t volume_offset, volume_size;
        /* The partition table: "" when it is exactly what flash writes, else why not (the
         * key is then "not as flashed": an OS may mount another volume than the one checked). */
        char table_problem[256];
        /*
         * /.cartable/key.json, UNSIGNED: anyone holding the key can edit it. It is checked
         * against what the key proves (its volume ID) and reported as unsigned. Seam for the
         * journal (next issue): when the station's journal holds this key's record, verify
         * is to prefer it here and report where the two differ.
         */
        bool has_key_record;            /* the file is on the key */
        bool is_key_record_valid;       /* and parsed into key_record */
        struct key_record key_record;
        bool is_key_record_mismatch;    /* invalid, or its volume ID is not the volume's */
        char key_record_problem[512];
        struct cart_error key_record_error;     /* the same as lib/'s words, for cmd/ to translate */
        /* The station's rollback state (verify_options.state_dir): a newer serial of this
         * release was flashed here. Reported; the key's content is still what it was. */
        bool is_outdated;
        uint64_t station_serial;        /* the highest flashed here; 0 when unknown */
        char state_problem[256];        /* why the state could not be read; "" when it was */
        /* The signed manifest's personalisation: where the owner file goes and its template
         * (release_render_owner's); NULL when the release is not personalised. */
        char *owner_path, *owner_template;
        struct cart_error state_error;  /* the same as lib/'s words, for cmd/ to translate */
        /* An update's intent is on the key (KEY_PENDING_PATH): it was cut before its end and
         * is finished by running it again. The release it brings when its signature checks
         * ("" otherwise); is_interrupted_repair when that is the key's own (a repair). */
        bool is_update_interrupted, is_interrupted_repair;
        char pending_version[64];
        uint64_t pending_serial;
        size_t n_files_checked;
        uint64_t bytes_checked;
        struct verify_entry *entries;   /* problems and extras, sorted by path */
        size_t n_entries;
        size_t n_missing, n_modified, n_extra, n_sealed, n_attributes;
        size_t n_unlisted;              /* extra, sealed or foreign colliding entries beyond VERIFY_LISTED_MAX */
};

/* Intact: the table flash wrote, nothing missing, modified or added to a sealed directory,
 * no attribute changed there, no key record that contradicts the volume, no update cut. */
static inline bool verify_result_is_intact(const struct verify_result *r) {
        return r->n_missing + r->n_modified + r->n_sealed + r->n_attributes == 0 && !r->table_problem[0] &&
               !r->is_key_record_mismatch && !r->is_update_interrupted;
}

/*
 * Locate and open the first FAT volume of a key or image of size bytes read through read
 * (the one an OS mounts).
 * -EMEDIUMTYPE when there is no FAT volume; ret_offset and ret_size may be NULL.
 */
int verify_open_volume(cart_read_fn read, void *userdata, uint64_t size, struct fat_reader **ret,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err);

/*
 * Check a key: the first FAT volume that carries /.cartable/manifest.json is checked, then
 * the partition table against the manifest's layout (table_problem).
 * Returns 0 with a result (intact or not: see verify_result_is_intact), or
 * -EMEDIUMTYPE (no FAT volume, no /.cartable/manifest.json), -EUCLEAN (corrupt volume),
 * -EIO, or the manifest's trust error (-ENOKEY, -EKEYREJECTED, -EBADMSG).
 */
int verify_key(cart_read_fn read, void *userdata, uint64_t size, const struct sign_trust *trust,
               struct verify_result **ret, struct cart_error *err);

/*
 * The release a key holds, as verify_key() finds it: the signed manifest of its first FAT
 * volume that carries one (or, cut between the manifest and its signature, its update's
 * intent), its signature checked, and nothing else read: no file, no walk. Same errors as
 * verify_key(). *ret (the manifest, manifest_free()) on success only.
 */
struct manifest;
int verify_key_release(cart_read_fn read, void *userdata, uint64_t size, const struct sign_trust *trust,
                       struct manifest **ret, struct cart_error *err);

struct verify_options {
        const struct sign_trust *trust;
        const char *state_dir;          /* the station's (rollback serials); NULL: not checked */
        /* A file of the manifest whose size matched, for which this says true, is taken as
         * intact without reading it (cartable update's quick check after its writes).
         * NULL: every file read, as cartable verify does. */
        bool (*is_trusted)(void *userdata, const char *path, const struct fat_dirent *e,
                           const struct release_file *f);
        void *trusted_userdata;
};
/* verify_key with the station's state: also says whether the key is outdated. */
int verify_key_with(cart_read_fn read, void *userdata, uint64_t size, const struct verify_options *o,
                    struct verify_result **ret, struct cart_error *err);
struct verify_result *verify_result_free(struct verify_result *r);
DEFINE_POINTER_CLEANUP(struct verify_result, verify_result_free);
