/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A key's life after its flash, on the station's side: which key of the journal a target
 * is, and whether it is swapped (another pupil's key, or two keys in one); a verification
 * recorded; a key taken back; a stock key handed to a pupil (its target opened through
 * the station's one opener, station_target_open()). cmd/ parses and prints; everything a
 * person or an audit must tell apart comes back as a code or as data.
 *
 * A swap is told as CART_REASON_SWAPPED in a struct cart_error: its label says which of
 * the four kinds (below), its msg the English words (what the journal records), its parts
 * the format and arguments cmd/ translates (LIB_WORDS()).
 *
 *   two-keys       the volume ID and the key record's USB serial name two keys
 *   other-owner    the journal's holder of the volume is not the owner the record names
 *   usb-other-key  the USB serial the device reports is another key's
 *   usb-serial     the journal knows the volume's key by another USB serial
 *
 * Only what survives the key record is compared (its fields are cut and cleaned as
 * key_record_set_owner() does it, and a field the record does not carry is not compared):
 * a long name or one with control characters is never taken for another pupil's.
 *
 * Threading: one journal per thread, as lib/journal says.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "device/device.h"
#include "flash/key-record.h"
#include "flash/update.h"
#include "flash/verify.h"
#include "journal/journal-life.h"

/*
 * Who does it, for the journal: name when given and not empty, else $SUDO_USER, else
 * $USER, else "root". The one default of every command that records (flash, batch,
 * replace, issue, verify --journal, return, lost, stolen, journal purge).
 */
const char *keylife_operator(const char *name);

/* What a target shows of itself. */
struct keylife_target {
        uint32_t volume_id;                 /* its FAT volume ID */
        const struct key_record *record;    /* its /.cartable/key.json, NULL when none or unreadable */
        const char *usb_serial;             /* the serial the device reports; NULL or "" for an image file */
};

/*
 * What a key or image file of size bytes (read through read) shows of itself, never
 * mounted nor verified, for identify: its first FAT volume (ID, label) and its key record
 * when there is one that parses (*ret_has_record). A renamed volume or a deleted or edited
 * record does not stop it. -EMEDIUMTYPE no FAT volume, -EUCLEAN a damaged one.
 */
struct fat_volume_info;
int keylife_read(cart_read_fn read, void *userdata, uint64_t size, struct fat_volume_info *ret_volume,
                 struct key_record *ret_record, bool *ret_has_record, struct cart_error *err);

/*
 * The journal's key for t: by its volume ID first (the volume proves it), then the USB
 * serial of its record, then the device's. -ENOENT (err says what was looked for) when
 * none is known. Returns 0 when what t shows agrees, 1 when it is swapped: swap (may be
 * NULL) then holds why (CART_REASON_SWAPPED, see above); otherwise swap is cleared.
 */
int keylife_find(struct journal *j, const struct keylife_target *t, struct journal_key_info **ret,
                 struct cart_error *swap, struct cart_error *err);

/* A verification's outcome, as the journal stores it ("intact", "modified", "swapped"). */
enum keylife_outcome {
        KEYLIFE_INTACT,
        KEYLIFE_MODIFIED,
        KEYLIFE_SWAPPED,
};
const char *keylife_outcome_to_string(enum keylife_outcome o);

/* What a recorded verification found: the key as the journal held it, the outcome, and
 * why it is swapped (swap.reason CART_REASON_SWAPPED) when it is. */
struct keylife_verdict {
        struct journal_key_info *key;
        enum keylife_outcome outcome;
        struct cart_error swap;
};
void keylife_verdict_done(struct keylife_verdict *v);

/*
 * Record verification v of the target whose device reports usb_serial (NULL or "" for an
 * image file) as a "verified" event: intact, modified, or swapped (never intact when
 * swapped), with the counts or the swap's words as its message. -ENOENT a key unknown to
 * the journal, nothing recorded. ret is filled on success.
 */
int keylife_record_verify(struct journal *j, const char *operator, const struct verify_result *v,
                          const char *usb_serial, struct keylife_verdict *ret, struct cart_error *err);

/*
 * A key comes back (reason: "left", "broken"...): only a key issued to a pupil; its
 * verification v is recorded as keylife_record_verify() does, then its return. -EINVAL
 * (nothing recorded) when the key is not issued: ret->key then holds it, to say its status.
 */
int keylife_return(struct journal *j, const char *operator, const char *reason, const struct verify_result *v,
                   const char *usb_serial, struct keylife_verdict *ret, struct cart_error *err);

/*
 * cartable issue: a stock key handed to a pupil, its owner file and key record rewritten
 * in place. keylife_issue_open() opens the target (station_target_open() with policy),
 * verifies the key (o), finds it in the journal and checks the journal would issue it to
 * pupil: everything that can refuse, before a write. keylife_issue_write() writes, reads
 * back and records. Each failure says at which step it stopped (ret_step).
 */
enum keylife_issue_step {
        KEYLIFE_ISSUE_TARGET,      /* the target refused or not opened (its reason) */
        KEYLIFE_ISSUE_KEY,         /* not a cartable key (-EMEDIUMTYPE, -EUCLEAN) or not trusted */
        KEYLIFE_ISSUE_INTACT,      /* not intact, or no key record (key_issue_check()) */
        KEYLIFE_ISSUE_FIND,        /* the key unknown to the journal, or the journal failed */
        KEYLIFE_ISSUE_SWAPPED,     /* swapped (-EBADE, err is the swap) */
        KEYLIFE_ISSUE_PUPIL,       /* the journal refuses: not stock, pupil left or holds a key */
        KEYLIFE_ISSUE_WRITE,       /* written wrong or not at all: the key was not issued */
        KEYLIFE_ISSUE_RECORD,      /* written, but the journal did not record the issue */
};

struct keylife_issue;
int keylife_issue_open(struct journal *j, const char *target, const struct device_policy *policy,
                       const struct verify_options *o, const char *pupil, struct keylife_issue **ret,
                       enum keylife_issue_step *ret_step, struct cart_error *err);
struct keylife_issue *keylife_issue_free(struct keylife_issue *ki);
DEFINE_POINTER_CLEANUP(struct keylife_issue, keylife_issue_free);

const struct verify_result *keylife_issue_verification(const struct keylife_issue *ki);
const struct journal_key_info *keylife_issue_key(const struct keylife_issue *ki);
const struct journal_pupil_info *keylife_issue_pupil(const struct keylife_issue *ki);

/* Write the pupil's files (mtime, seconds since the epoch), read them back, then record
 * the issue. *ret_was_written false: the key named the pupil already (a second issue
 * completing the first's record). */
int keylife_issue_write(struct keylife_issue *ki, const char *operator, int64_t mtime, bool *ret_was_written,
                        enum keylife_issue_step *ret_step, struct cart_error *err);

/*
 * An update or repair that wrote (update_key()'s report rep, B's signer key id) recorded as
 * the journal's "updated" or "repaired" event of key uid (keylife_find()): journal_record_update()
 * with the record filled from rep (the files of B written, restored ones included; the
 * restored paths of a repair). Not for a dry run. Errors as journal_record_update()'s.
 */
int keylife_record_update(struct journal *j, const char *operator, const char *uid, const struct update_report *rep,
                          const char *release_key_id, struct cart_error *err);
/*
 * An update or repair to release b that failed after it may have written (update_key()
 * returned error, why its words: an I/O error, a read-back mismatch, not verified intact):
 * the key's event with outcome "failed" ("cancelled" for -ECANCELED), its reason code and
 * words; the key still holds what it held for the journal. Not for a refusal before any
 * write (keylife_update_may_have_written() false): nothing changed, nothing is recorded.
 */
int keylife_record_update_failure(struct journal *j, const char *operator, const char *uid, const struct release *b,
                                  bool is_repair, int error, const struct cart_error *why, struct cart_error *err);
/* Whether update_key()'s error r may come after its first write (else: refused, nothing written). */
bool keylife_update_may_have_written(int r);
