/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A release: one signed file built from content bundles, flashed onto thousands of keys.
 * It is an uncompressed tar: manifest.json, manifest.json.minisig, then the payload files in
 * layout order. An opened release is read-only and may be shared by several flash workers
 * (reads go through pread, so release_read is thread-safe).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "release/sign.h"
#include "base/util.h"

#define RELEASE_MANIFEST_PATH   "manifest.json"
#define RELEASE_SIGNATURE_PATH  "manifest.json.minisig"
/* Where a flashed key carries its proof (hidden, system). */
#define KEY_CARTABLE_DIR        ".cartable"

struct release_file {
        const char *path;        /* UTF-8, '/'-separated, no leading '/' */
        bool is_dir;
        uint64_t size;
        uint8_t sha256[32];
        uint8_t attrs;           /* FAT_ATTR_READ_ONLY | HIDDEN | SYSTEM */
        int64_t mtime;
        uint64_t data_offset;    /* of the content inside the release file (releases opened by path) */
};

struct release_layout {
        const char *scheme;      /* "mbr" or "gpt" */
        const char *label;       /* FAT volume label */
        uint64_t alignment;      /* bytes; partition start and data region */
        uint64_t min_size;       /* smallest key, bytes */
        uint32_t cluster_size;   /* 0: chosen by the flasher */
        const char *const *sealed;  /* directories where a pupil may not add files */
        size_t n_sealed;
};

/* A parsed, signature-checked manifest, as carried in a release or on a key. */
struct manifest;

/*
 * Parse and check a manifest: signature first (fail closed), then the JSON and its schema.
 * -ENOKEY / -EKEYREJECTED from sign_verify(), -EKEYREJECTED also for a signature text
 * that cannot be parsed; -EBADMSG for a malformed manifest.
 */
int manifest_load(const struct sign_trust *trust, const void *json, size_t json_len,
                  const char *sig_text, struct manifest **ret, struct cart_error *err);
struct manifest *manifest_free(struct manifest *m);
DEFINE_POINTER_CLEANUP(struct manifest, manifest_free);

const char *manifest_name(const struct manifest *m);
const char *manifest_version(const struct manifest *m);
uint64_t manifest_serial(const struct manifest *m);
int64_t manifest_created(const struct manifest *m);
const char *manifest_key_id(const struct manifest *m);    /* hex */
bool manifest_is_personalised(const struct manifest *m);
const char *manifest_owner_path(const struct manifest *m);   /* NULL when not personalised */
const char *manifest_owner_template(const struct manifest *m);   /* NULL when not personalised */
const struct release_layout *manifest_layout(const struct manifest *m);
size_t manifest_n_files(const struct manifest *m);
const struct release_file *manifest_file(const struct manifest *m, size_t i);
/* Case-insensitive lookup as on FAT; NULL when absent. */
const struct release_file *manifest_find(const struct manifest *m, const char *path);

/* True when the signature was checked against a trusted key (see RELEASE_OPEN_UNVERIFIED). */
bool manifest_is_verified(const struct manifest *m);

struct release;

enum {
        RELEASE_OPEN_SKIP_HASH = 1 << 0,   /* check the signature and sizes, not each payload's SHA-256 */
        /* Without trust (trust NULL): read the structure and show it, for `image show`. Such
         * a release must never be flashed; manifest_is_verified() says false. */
        RELEASE_OPEN_UNVERIFIED = 1 << 1,
};

/*
 * Open a .cart file: signature, then structure, then (unless skipped) every payload hash.
 * trust NULL is -ENOKEY unless RELEASE_OPEN_UNVERIFIED. A payload whose size or hash
 * differs from the signed manifest is -EKEYREJECTED (tampered) naming the file; anything
 * in the tar that the manifest does not announce is -EBADMSG.
 */
int release_open(const char *path, const struct sign_trust *trust, unsigned flags,
                 struct release **ret, struct cart_error *err);
struct release *release_ref(struct release *r);
struct release *release_unref(struct release *r);
DEFINE_POINTER_CLEANUP(struct release, release_unref);

const struct manifest *release_manifest(const struct release *r);
/* The exact signed bytes and signature text, to be copied to /.cartable/ on the key. */
void release_manifest_bytes(const struct release *r, const void **ret_json, size_t *ret_len);
const char *release_signature_text(const struct release *r);

/* cart_read_fn over the release file: userdata is the struct release. */
int release_read(void *release, void *buf, size_t len, uint64_t offset);
/* The payloads of files (files of rel's manifest) hashed against the signed manifest, as
 * release_open does for all unless RELEASE_OPEN_SKIP_HASH: -EKEYREJECTED (tampered) naming
 * the first that differs. For a caller that opened it so and writes only some of them. */
int release_check_files(const struct release *rel, const struct release_file *const *files, size_t n,
                        struct cart_error *err);

/* Per-key owner file, filled from the recipe's template. Only fields a school chooses. */
struct owner_fields {
        const char *first_name;
        const char *last_name;
        const char *class_name;
        const char *school;
};
/* The fields an owner template prints, as bits (bit 0 first name, 1 last name, 2 class,
 * 3 school); 0 for none (NULL: a release that is not personalised) or a template that does
 * not check. */
unsigned owner_template_fields(const char *template);
/* f with only the fields of mask (owner_template_fields()), the others NULL: what a key's
 * own record may carry, so that a lost key tells a finder no more than its owner file. */
struct owner_fields owner_fields_only(const struct owner_fields *f, unsigned mask);

/* Render the owner file for this key: its path on the key and its bytes. -ENOENT when the
 * release is not personalised; -EINVAL naming a field the template needs and was not given. */
int release_render_owner(const struct release *r, const struct owner_fields *f,
                         char **ret_path, char **ret_text, size_t *ret_len, struct cart_error *err);
/* The same from a signed manifest's template already in hand (a verified key's): where
 * names the file in messages. */
int owner_render(const char *template, const char *where, const struct owner_fields *f,
                 char **ret_text, size_t *ret_len, struct cart_error *err);

/*
 * Rollback protection: the station records the highest serial it flashed for each release
 * name in the file "release-serials" of the state directory state_path ("NAME SERIAL"
 * lines, replaced atomically under an flock on the directory, which release_record_serial
 * creates with its parents if missing; -ENOTDIR when state_path is something else).
 * -ESTALE when m is older than the serial
 * recorded, unless allow_downgrade; the same serial again is fine. Recording never lowers
 * a serial.
 */
int release_check_rollback(const char *state_path, const struct manifest *m, bool allow_downgrade,
                           struct cart_error *err);
int release_record_serial(const char *state_path, const struct manifest *m, struct cart_error *err);
/* The highest serial of the release called name recorded in state_path (0 when none). */
int release_recorded_serial(const char *state_path, const char *name, uint64_t *ret, struct cart_error *err);
/* Read the whole state file of state_path as release_check_rollback would: the number of
 * releases recorded (0 when there is no file yet), -EBADMSG naming a malformed line. */
int release_serials_count(const char *state_path, size_t *ret, struct cart_error *err);

/*
 * The smallest key a layout with this partition alignment fits: the alignment before the
 * partition, the smallest FAT32 volume, then 1 MiB, or for GPT one alignment of at least
 * 1 MiB (libfdisk ends a GPT partition on an alignment boundary before the backup table).
 * A release's min-size is at least this (recipe_check), so that a release built with
 * min-size N flashes onto a key of N bytes.
 */
uint64_t release_layout_floor(uint64_t alignment, bool is_gpt);

/* ---- building (cartable image build) ---- */

struct recipe;

/* The build log: overlays ("bundle B replaces X of bundle A"), counts. note->msg is the
 * English, with its format and arguments for cmd/ to put in the person's words. */
typedef void (*release_note_fn)(void *userdata, const struct cart_error *note);

/*
 * Build a release from the recipe's bundles, signed with key, into out_fd (a new, empty
 * file). Content is staged in an unlinked temporary file in spool_dir (the output's
 * directory, so nothing lands in a RAM-backed /tmp). The same recipe, bundles and key give
 * the same bytes. Errors name the bundle and entry; out_fd then holds garbage that the
 * caller removes.
 */
int release_build(const struct recipe *rc, const struct sign_secret_key *key, int out_fd,
                  const char *spool_dir, release_note_fn note, void *userdata, struct cart_error *err);
