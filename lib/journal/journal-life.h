/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A key's life after its flash: found by its USB serial, FAT volume ID or journal uid;
 * marked lost, stolen or returned; its verifications recorded. Each call is one
 * transaction and appends its event to the station's chain; a refusal changes nothing.
 */
#pragma once

#include "journal/journal.h"

/* A key as the journal holds it, with its last holder and what was last seen of it. */
struct journal_key_info {
        char *uid, *serial, *volume_id, *status;
        char *school, *pupil_id;                         /* last holder, or NULL */
        char *family_name, *first_name, *class_name;     /* the holder's, or NULL */
        bool is_active;                                  /* the holder has not left */
        char *release_name, *release_version;            /* the release it holds: of its last good
                                                          * flash, update or repair */
        int64_t release_serial;                          /* -1: none */
        int64_t flashed_usec, verified_usec;             /* -1: never (flashed: its last good flash) */
        char *verified_outcome;
};
struct journal_key_info *journal_key_info_free(struct journal_key_info *k);
DEFINE_POINTER_CLEANUP(struct journal_key_info, journal_key_info_free);

/*
 * key: a journal uid, a USB serial or a FAT volume ID (8 hex digits, any case). When
 * several keys match, the one changed last. -ENOENT "not in the journal".
 */
int journal_key_find(struct journal *j, const char *key, struct journal_key_info **ret,
                     struct cart_error *err);

struct journal_mark {
        const char *kind;          /* "lost", "stolen", "returned"; or "replaced" (see below) */
        const char *pupil;         /* the pupil's key ("ID" or "UAI/ID"), or */
        const char *key;           /* a key by uid, serial or volume ID */
        const char *operator;
        const char *reason;        /* returned: left, broken, ...; NULL otherwise */
        const char *outcome;       /* returned: the verification's word (intact, modified...) */
};

/*
 * Mark an issued key. Refused, with nothing changed: a pupil who holds no key, or a key
 * that is not issued (-ENOENT unknown; -EINVAL stock, already lost, stolen, returned or
 * replaced; err says which). ret_uid (optional) gets the key's uid.
 * "replaced" takes a lost or stolen key (by key only), once a new one was issued for it.
 */
int journal_key_mark(struct journal *j, const struct journal_mark *m, char **ret_uid,
                     struct cart_error *err);

/* The pupil's last key that was lost or stolen and not yet replaced: 1 and *ret (its uid),
 * or 0 and NULL. */
int journal_pupil_lost_key(struct journal *j, const char *pupil, char **ret, struct cart_error *err);

struct journal_verification {
        const char *key_uid;
        const char *operator;
        const char *outcome;       /* intact, modified, not-cartable, swapped */
        const char *message;       /* why, when not intact */
        const char *release_name, *release_version;
        int64_t release_serial;    /* -1: unknown */
        const char *volume_id;
};
/* A "verified" event for a key the journal knows (-ENOENT otherwise). */
int journal_record_verification(struct journal *j, const struct journal_verification *v,
                                struct cart_error *err);

struct journal_issue {
        const char *key;           /* the key's uid */
        const char *pupil;         /* "ID" or "UAI/ID" */
        const char *operator;
        const char *release_name, *release_version, *release_key_id;   /* as the key holds them */
        int64_t release_serial;    /* -1: unknown */
};
/*
 * Hand a stock key to a pupil (cartable issue). Refused, nothing changed: a key unknown
 * (-ENOENT) or not stock (-EINVAL naming its status, and its holder when issued), a pupil
 * unknown (-ENOENT), who left (-ESRCH) or who holds a key (-EEXIST naming it). With
 * dry_run only these checks run. Otherwise, in one transaction, the key becomes the
 * pupil's and an "issued" event is appended to the station's chain.
 * ret_pupil (optional): the pupil, whose names the key's files are written with.
 */
int journal_key_issue(struct journal *j, const struct journal_issue *is, bool dry_run,
                      struct journal_pupil_info **ret_pupil, struct cart_error *err);

/*
 * A key updated to a newer release, or repaired against its own, in place (cartable update,
 * repair; batch --update, --repair), as its station did it: an "updated" or "repaired"
 * event. The journal takes this record, never a flash report: the caller fills it.
 * From an ok one on, the key holds release_* (B): journal_key_find(), journal show and the
 * report's keys say so, as after a flash.
 */
struct journal_update {
        const char *key;             /* the key: its journal uid, USB serial or volume ID */
        const char *operator;
        bool is_repair;              /* "repaired" (B is the key's own release), else "updated" */
        const char *outcome;         /* NULL or "ok"; "failed", "cancelled": the key says "update
                                      * interrupted" (run it again), it does not hold B */
        const char *reason;          /* a failure's reason code (cart_reason_to_string()), or NULL */
        const char *failure;         /* a failure's words, NULL */
        const char *release_name, *release_version, *release_key_id;   /* B, as the key now holds it */
        int64_t release_serial;      /* -1: unknown */
        const char *from_version;    /* A, the release the key held before; NULL: unknown */
        int64_t from_serial;         /* -1: unknown */
        uint64_t n_put;              /* files of B written (added, changed, restored) */
        uint64_t n_removed;          /* files of A that B drops, removed */
        uint64_t n_rescued;          /* pupil's files moved out of B's way (counted, never named) */
        const char *const *restored; /* repaired: the paths of B written again (the first ones,
                                      * as many as fit in the message; NULL: none named) */
        size_t n_restored;           /* repaired: how many were restored */
        const char *volume_id;       /* the key's FAT volume ID, 8 hex digits; NULL: the journal's */
        int64_t bytes_written;       /* -1: unknown */
        int64_t bytes_read;          /* read back; -1: unknown */
        int64_t started_usec;        /* <= 0: unknown */
        int64_t write_usec, read_usec;   /* how long the writes and the read-back took; <= 0 unknown */
};
/*
 * Record an update or a repair, in one transaction, as the station's next event (hashed,
 * chained and signed like every event). The event names the key's pupil when the key is
 * issued (on PostgreSQL the server then refuses it unless the pupil's school is one of this
 * station's: -EACCES). Refused, nothing recorded: a key the journal does not know, or
 * cannot see (-ENOENT, err "key X is not in the journal"). ret_key (optional): the key as
 * the journal held it before the event (its holder, status, the release it held).
 */
int journal_record_update(struct journal *j, const struct journal_update *u, struct journal_key_info **ret_key,
                          struct cart_error *err);
