/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A key brought from the release it holds (A, its signed manifest in /.cartable/) to
 * another (B), or repaired against its own, in place with lib/fat's editor: only what
 * differs is written, and the pupil's files are kept.
 *
 * What is done is computed from the key as it is, not from A's manifest alone: every file
 * of B whose content is not already on the key is written (added, changed, or restored when
 * A had it too), every file of A that B drops is removed when it still holds A's bytes, and
 * a pupil's file where B needs the path, or in a directory B seals, is moved under
 * UPDATE_RESCUE_DIR and listed. So running it again after a cut finishes the job.
 *
 * Order on the key, so that a cut leaves A, B, or a key verify calls "update interrupted":
 * B's manifest written beside A's as UPDATE_PENDING_PATH (the intent), then the pupil's
 * files moved, A's dropped files removed, directories made, B's files written, attributes,
 * the owner file, then the key record and the manifest, and the intent removed last.
 * Nothing is written before the whole update is known to fit in the free space.
 *
 * What is read (UPDATE_CHECK_QUICK, an update's default): a file whose directory entry is
 * as cartable wrote it (the size and the write time its release gives it, its chain holding
 * that size, which the walk checks) is taken to hold that release's bytes without reading
 * it, as rsync's size and time check; any other is read and hashed. After the writes, what
 * was written is read back and compared with B's hashes, and the rest checked by its
 * entry (size, time, attributes) with the manifest and the key record. A file whose bytes
 * changed under an entry left as it was (a raw write, a failing flash cell) is seen only by
 * UPDATE_CHECK_CONTENT (a repair's default), which reads every file, and by verify.
 *
 * The seam for a batch worker: update_key() on one key's read and write functions, with
 * its own options and report, like flash_key().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "flash/key-record.h"
#include "release/release.h"
#include "release/sign.h"

#define UPDATE_PENDING_PATH     KEY_PENDING_PATH
#define UPDATE_PENDING_SIG_PATH KEY_PENDING_SIG_PATH
/* Where a pupil's file in the release's way goes (its name kept, " (2)"... when taken). */
#define UPDATE_RESCUE_DIR       "Mes documents/Déplacés par cartable"

enum update_kind {
        UPDATE_RESCUE,          /* a pupil's file moved out of the way: path -> to */
        UPDATE_REMOVE,          /* a file of A that B drops */
        UPDATE_RMDIR,           /* a directory of A that B drops (kept when the pupil's files are in it) */
        UPDATE_MKDIR,
        UPDATE_PUT,             /* a file of B written */
        UPDATE_ATTRS,
        UPDATE_OWNER,           /* the owner file, rendered from B's template */
};
const char *update_kind_to_string(enum update_kind k);

struct update_action {
        enum update_kind kind;
        char *path;
        char *to;               /* UPDATE_RESCUE: where it went */
        uint64_t size;          /* bytes written (PUT, OWNER, RESCUE) */
        uint8_t attrs;          /* UPDATE_ATTRS: the attributes set */
        bool is_restore;        /* PUT, ATTRS: A had this file as B has it: a repair */
        bool is_kept;           /* UPDATE_RMDIR: not removed, the pupil's files are in it */
};

enum update_check {
        UPDATE_CHECK_DEFAULT,   /* quick for an update, content for a repair */
        UPDATE_CHECK_QUICK,     /* files trusted by their entries, as above */
        UPDATE_CHECK_CONTENT,   /* every file read before, and the whole key verified after */
};

struct update_report {
        char from_version[64], to_version[64], release_name[128];
        uint64_t from_serial, to_serial;
        uint32_t volume_id;
        bool is_repair;
        bool is_resumed;                /* the intent of this very update was on the key */
        /* The key already held B as the plan checks it (o->check): nothing to do, nothing
         * written; what verify reads without the files' content was still checked. */
        bool is_intact;
        struct update_action *actions;
        size_t n_actions;
        size_t n_put, n_restored, n_removed, n_rescued, n_dirs_created, n_dirs_removed, n_attrs;
        uint64_t bytes_needed;          /* free space the update takes at its peak */
        uint64_t bytes_free;            /* on the key before */
        uint64_t bytes_written, bytes_read_back;
        bool is_content_checked;        /* UPDATE_CHECK_CONTENT was used */
        size_t n_trusted;               /* files taken as intact by their entries, unread */
        size_t n_times;                 /* entries given B's time (content the same, time not) */
        uint64_t bytes_checked;         /* file content read to plan */
};

struct update_report *update_report_free(struct update_report *r);
DEFINE_POINTER_CLEANUP(struct update_report, update_report_free);

struct update_options {
        const struct release *release;  /* B, opened with its signature checked */
        const struct sign_trust *trust; /* to check the key's own manifest */
        bool is_repair;                 /* B must be the key's own release */
        bool is_dry_run;                /* the report of what would be done; nothing written */
        enum update_check check;
        int64_t time;                   /* of new directories and the owner file; 0: now */
        /* Between the writes and their read-back (the key's userdata): on the key, and out
         * of the page cache, so that what is read back is what the key holds. NULL: none. */
        int (*sync)(void *userdata);
};

/*
 * Update (or repair) the key read and written through read and write (size bytes).
 * Refused, nothing written: the key's manifest untrusted (sign's -ENOKEY, -EKEYREJECTED),
 * not a cartable key (-EMEDIUMTYPE), another release name (-EXDEV), B not newer than A
 * for an update or not A itself for a repair (-ESTALE), another update's intent on the key
 * (-EBUSY), no readable key record (-EBADMSG), too little space (-ENOSPC, saying how many
 * bytes are missing). After writing, what was written is read back and the key checked
 * against B as o->check says (-EBADE when it is not intact). A key the plan finds already
 * holding B (nothing to write, no intent, its record and manifest B's) is not written at
 * all, not even the intent: rep->is_intact, its metadata still checked as after writes.
 * *ret on success only.
 */
int update_key(cart_read_fn read, cart_write_fn write, void *userdata, uint64_t size,
               const struct update_options *o, struct update_report **ret, struct cart_error *err);
