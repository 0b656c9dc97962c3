/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The key journal: schools, pupils (synced from rosters), keys and the events of their
 * lives, in one embedded SQLite file (WAL, synchronous=FULL, foreign keys), or in one
 * PostgreSQL database that a département's stations share (a postgresql:// URL). Every SQL
 * statement lives in this module; callers see an opaque struct journal and plain structs,
 * and never know which backend they talk to.
 *
 * Events form a hash chain per station: each row's SHA-256 covers its canonical content
 * and the previous row's hash (journal_verify). Since schema version 2, an event's hash
 * covers a salted commitment of its pupil's id instead of the id itself, so that a
 * retention purge (journal-purge.h) can erase the id and the salt and keep the chain. The schema is versioned; opening runs the
 * forward migrations and refuses a journal newer than this cartable without writing to it.
 *
 * A pupil is named "ID" (when only one school has that id) or "UAI/ID".
 *
 * The journal takes records (struct journal_key_start, struct journal_key_end) and knows no
 * flash report: lib/station makes them from its reports (station_record_*). It depends on
 * lib/base only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define JOURNAL_SCHEMA_VERSION 10
#define JOURNAL_HASH_HEX_LEN 64
#define JOURNAL_UUID_LEN 36

struct journal;

struct journal_options {
        const char *station;     /* this station's name, which owns a chain; NULL: host name */
        bool create;             /* create the file (and its directory) when missing */
        /* The station's Ed25519 secret key (PEM, 0600, its owner's), made on the first event
         * this handle appends when missing; each appended event is signed with it. NULL: the
         * events appended carry no signature. */
        const char *sign_key;
};

/*
 * path: an SQLite file, or a postgresql:// (postgres://) URL naming a PostgreSQL database,
 * whose credentials come from libpq's password or service file: a URL holding a password is
 * refused (-EINVAL). -ECONNREFUSED: the server cannot be reached; -ECONNRESET later: the
 * connection was lost (what was not committed was not recorded).
 * -ENOENT: no such file (and !create); -EBADMSG: not a cartable journal (not SQLite, or
 * other tables); -EPROTONOSUPPORT: written by a newer cartable (schema version above
 * JOURNAL_SCHEMA_VERSION). A refused file is never written to.
 */
int journal_open(const char *path, const struct journal_options *o, struct journal **ret,
                 struct cart_error *err);
struct journal *journal_close(struct journal *j);
/*
 * After -ECONNRESET (a PostgreSQL journal's server went away): connect again, with the
 * same URL and station. 0: connected (no transaction open); -ECONNREFUSED: not yet.
 * An SQLite journal has no connection to lose: -EOPNOTSUPP.
 */
int journal_reconnect(struct journal *j, struct cart_error *err);
/* Whether name is a PostgreSQL journal's URL rather than a file. */
bool journal_is_url(const char *name);
DEFINE_POINTER_CLEANUP(struct journal, journal_close);

int journal_schema_version(struct journal *j);
const char *journal_station(const struct journal *j);

/*
 * Explicit transaction around several calls (a batch of records, a bench). Calls made
 * inside it nest as savepoints. Without it, each call is its own transaction.
 */
int journal_begin(struct journal *j, struct cart_error *err);
int journal_commit(struct journal *j, struct cart_error *err);
int journal_rollback(struct journal *j);

/* ---- Roster sync ---- */

struct journal_pupil {
        const char *id;              /* ELEVE_ID, the CSV's id column, or the derived id */
        const char *school;          /* UAI */
        const char *family_name, *first_name, *class_name;
        bool has_left;
        int64_t leaves_usec;         /* still there, leaves at this time (a DATE_SORTIE to come,
                                      * 00:00 local time that day); 0: no leave date to come */
        const char *ine_hmac;        /* NULL, or the INE's keyed hash (hex) */
        bool has_derived_id;
        unsigned line;               /* in the roster file, for messages */
};

enum journal_change {
        JOURNAL_ADDED,               /* new pupil */
        JOURNAL_MOVED,               /* class changed (old_class says from where) */
        JOURNAL_RENAMED,             /* family or first name changed */
        JOURNAL_LEFT,                /* active, now absent from the export or marked left */
        JOURNAL_REJOINED,            /* had left, is back in the export */
};
const char *journal_change_to_string(enum journal_change c);

/* A pupil as the journal holds it. Strings belong to the journal until the callback returns. */
struct journal_pupil_row {
        const char *id, *school, *family_name, *first_name, *class_name;
        bool is_active;
        int64_t rank;                /* position in its school's last roster (roster order) */
        const char *key_uid;         /* the key issued to the pupil, or NULL */
        const char *key_serial;
        /* The release that key holds (its last good flash, update or repair), when listed
         * with_release; NULL and -1 otherwise, or when none is recorded. */
        const char *release_name, *release_version;
        int64_t release_serial;
};

typedef int (*journal_change_fn)(void *userdata, enum journal_change c,
                                 const struct journal_pupil_row *p, const char *old_class);

struct journal_sync_counts {
        uint64_t total, added, moved, renamed, left, rejoined, unchanged;
};

struct journal_sync;
/*
 * One roster import, in one transaction: journal_sync_pupil() per pupil in file order,
 * then journal_sync_finish(), which marks left the active pupils of every school seen that
 * the file did not list, and commits (or, with dry_run, rolls everything back). fn sees
 * each change as it is made. Freeing an unfinished sync rolls it back.
 * source names the file for messages and the imports table.
 */
int journal_sync_begin(struct journal *j, const char *source, journal_change_fn fn, void *userdata,
                       struct journal_sync **ret, struct cart_error *err);
/* Several files in one import (the exports of several schools): the next one's name. */
int journal_sync_next_file(struct journal_sync *s, const char *source);
/* -EBADMSG "SOURCE:LINE: pupil id X also on line Y" for a duplicate id in the file. */
int journal_sync_pupil(struct journal_sync *s, const struct journal_pupil *p, struct cart_error *err);
int journal_sync_finish(struct journal_sync *s, bool dry_run, struct journal_sync_counts *ret,
                        struct cart_error *err);
struct journal_sync *journal_sync_free(struct journal_sync *s);
DEFINE_POINTER_CLEANUP(struct journal_sync, journal_sync_free);

/* ---- Pupils ---- */

struct journal_pupil_filter {
        const char *school, *class_name;   /* NULL: any */
        bool without_key;                   /* only active pupils holding no key */
        bool include_left;                  /* also pupils who left */
        bool with_release;                  /* the release each key held holds (one lookup more a key) */
};
typedef int (*journal_pupil_fn)(void *userdata, const struct journal_pupil_row *p);
/* In roster order: school, class, then the pupil's rank in the last roster of its school. */
int journal_pupils_list(struct journal *j, const struct journal_pupil_filter *f,
                        journal_pupil_fn fn, void *userdata, struct cart_error *err);

/* One pupil, with the key held. -ENOENT unknown, -ENOTUNIQ when "ID" is in several schools. */
struct journal_pupil_info {
        char *id, *school, *family_name, *first_name, *class_name;
        bool is_active;
        char *key_uid;               /* NULL: holds no key */
};
int journal_pupil_get(struct journal *j, const char *pupil, struct journal_pupil_info **ret,
                      struct cart_error *err);
/*
 * Before flashing a key for a pupil (flash --pupil): the pupil, who must be active
 * (-ESRCH "has left") and hold no key unless replace (-EEXIST naming the key held).
 * Errors as journal_pupil_get's otherwise; err always says which pupil and why.
 */
int journal_pupil_for_issue(struct journal *j, const char *pupil, bool replace,
                            struct journal_pupil_info **ret, struct cart_error *err);
struct journal_pupil_info *journal_pupil_info_free(struct journal_pupil_info *p);
DEFINE_POINTER_CLEANUP(struct journal_pupil_info, journal_pupil_info_free);

/* ---- A key's flash: its start (a batch's) and its end ---- */

/* A flash's outcome as the journal stores it ("flashed" events' outcome column). */
enum journal_outcome {
        JOURNAL_OUTCOME_NONE,        /* not a flash's */
        JOURNAL_OUTCOME_OK,          /* ok */
        JOURNAL_OUTCOME_REFUSED,     /* refused: nothing written (too small, counterfeit...) */
        JOURNAL_OUTCOME_FAILED,      /* failed: I/O error, read-back mismatch */
        JOURNAL_OUTCOME_CANCELLED,   /* cancelled: stopped, pulled out, or left interrupted */
        JOURNAL_OUTCOME_STARTED,     /* started: a batch's key, before its first byte */
};
/* The stored word ("ok", "started"...), NULL for NONE. */
const char *journal_outcome_to_string(enum journal_outcome o);

/* Who a key is and what was written on it, as its station knows them. */
struct journal_key {
        /* The key's identity (station_key_uid): "usb:VID:PID:SERIAL", "file:PATH" for an image
         * file, "volume:XXXXXXXX" for a key without serial. */
        const char *uid;
        const char *serial, *vid_pid;          /* NULL when unknown */
        const char *vendor, *product;          /* USB strings, NULL when unknown */
        uint64_t capacity;                     /* advertised, bytes */
        const char *release_name, *release_version, *release_key_id;   /* NULL: no release */
        int64_t release_serial;                /* with release_name */
};

/*
 * A batch records a key's start before its first byte is written: a "flashed" event whose
 * outcome is "started", carrying the batch's run (journal_run_begin); the key's row is
 * created, status "failed", if the journal does not know it yet (its old content is being
 * destroyed). The key's end is the "flashed" event journal_key_end() appends. A start
 * without a later "flashed" event of the same key on the same station is a key left
 * interrupted (a crash, a power cut): journal_close_interrupted().
 */
struct journal_key_start {
        struct journal_key key;
        const char *operator;
        const char *pupil;                     /* "ID" or "UAI/ID"; NULL: stock (or class below) */
        /* Roster mode, several stations on one class: claim the next pupil of school's
         * class_name (active, holding no issued key, in roster order, claimed by nobody) and
         * record the start for that pupil, in one transaction: the claim is committed in the
         * journal (pupils.claim_*), so another station's batch, or another process, never takes
         * the same pupil (PostgreSQL: the row is locked FOR UPDATE SKIP LOCKED while it is
         * claimed; SQLite: the write transaction excludes every other writer). The key's end
         * or its closing as interrupted releases the claim, so a pupil whose key failed goes
         * back to the class. A claim older than JOURNAL_CLAIM_EXPIRY_USEC is taken over by
         * other stations (its station crashed and has not run a batch since). */
        const char *school, *class_name;
        int64_t started_usec;                  /* <= 0: now */
};
#define JOURNAL_CLAIM_EXPIRY_USEC (INT64_C(2) * 3600 * 1000000)
/*
 * Record a key's start. 1: recorded, ret_pupil (optional) the pupil claimed or named, with
 * its names (NULL for a stock key); 0: roster mode and nobody of the class is left (nothing
 * recorded).
 */
int journal_key_start(struct journal *j, const struct journal_key_start *k, struct journal_pupil_info **ret_pupil,
                      struct cart_error *err);

/* A key's end: a flash finished, success or failure (a refused target included). */
struct journal_key_end {
        struct journal_key key;
        const char *operator;
        const char *pupil;           /* issue a good key to this pupil ("ID" or "UAI/ID"); NULL: stock */
        bool replace;                /* the pupil's previous key is marked replaced */
        enum journal_outcome outcome;        /* OK, REFUSED, FAILED or CANCELLED */
        enum cart_reason reason;     /* a key that did not end well; CART_REASON_NONE when unknown */
        const char *step;            /* the step it ended in ("write", "done"...) */
        const char *message;         /* the failure's words, NULL */
        uint32_t volume_id;          /* the FAT volume's, stored for a good key */
        bool is_probed;
        uint64_t real_capacity;      /* from the capacity probe, when is_probed */
        int64_t bytes_written, bytes_read;
        int64_t started_usec, finished_usec;  /* <= 0: unknown (finished: now) */
        int64_t write_usec, read_usec;
        /* The end of a key held back while the journal server was away, or spooled: recorded
         * only if this station's start of the key is still open (the commit the lost connection
         * left in doubt may have recorded it already), and then only if it names the pupil that
         * start was for (-EBADMSG, reason spool-mismatch, have: the end's pupil, want: the
         * start's, nothing recorded). */
        bool only_if_started;
        /* Roster mode: the class the key's batch runs, counted in ret (journal_key_ended). */
        const char *school, *class_name;
        /* The erase of what the key held, before it was written: an "erased" event after the
         * "flashed" one, whose outcome is erase_outcome: "ok", "failed" (reason erase-failed),
         * "cancelled", or "skipped" (--erase never was asked); NULL: no event. step: the method
         * ("zeros"); message: what the key held ("other-pupil", "returned"...). */
        const char *erase_outcome, *erase_method, *erase_held;
        int64_t erase_bytes, erase_checked_bytes, erase_usec;
};
struct journal_key_ended {
        bool is_present;             /* only_if_started and its end was there: nothing recorded */
        int64_t n_without_key;       /* the class's active pupils holding no issued key; -1: no class */
};
/*
 * Record a key's end in one transaction: the key's row, a "flashed" event, this station's
 * claim on a pupil for it released, and for a good key with a pupil an "issued" event (and
 * "replaced" for the pupil's previous key, "returned", reason "reflashed", for the key's
 * previous holder). A failed or refused key issues nothing. If the pupil already holds
 * another key and !replace, or has left, the end is still recorded but nothing is issued:
 * -EEXIST or -ESRCH, with words in err. -ENOENT for an unknown pupil (then nothing is
 * recorded: check with journal_pupil_get() first). ret (optional): see journal_key_ended.
 */
int journal_key_end(struct journal *j, const struct journal_key_end *k, struct journal_key_ended *ret,
                    struct cart_error *err);

/* The outcome of key uid's last "erased" event ("ok", "failed", "cancelled", "skipped"): 1
 * and *ret (malloc'd), or 0 and NULL when the key has none. */
int journal_key_last_erase(struct journal *j, const char *uid, char **ret, struct cart_error *err);

/* An event as stored (times in microseconds since 1970, UTC; -1 or NULL when unset). */
struct journal_event_row {
        int64_t seq;
        const char *uuid, *station;
        int64_t station_seq;
        const char *kind;
        int64_t time_usec;
        const char *operator, *pupil_school, *pupil_id, *key_uid, *key_serial;
        const char *release_name, *release_version;
        int64_t release_serial;
        const char *release_key_id, *outcome, *reason, *step, *message, *volume_id;
        int64_t bytes_written, bytes_read, started_usec, write_usec, read_usec;
        const char *prev_hash, *hash;
        /* Not part of the event: the pupil's names as the journal holds them now (listing only). */
        const char *family_name, *first_name, *class_name;
        /* Canonical form 1 (schema v1: pupil_id hashed), 2 (pupil_commit hashed instead), 3
         * (form 2 and the batch run) or 4 (form 3, message_commit hashed instead of message);
         * 0 on append: the current one. pupil_commit: SHA-256 of the pupil's salt, school and
         * id, kept when a purge erases the id. pupil_salt: not part of the event (verify). */
        int format;
        const char *pupil_commit, *pupil_salt;
        /* Form 3 (schema v5): the batch run whose key's start this is (journal_run_begin), or NULL. */
        const char *run;
        /* Schema v7: the station's Ed25519 signature of hash (128 hex digits), or NULL. Not
         * hashed: it signs the hash, which covers the chain up to this event. */
        const char *signature;
        /* Form 4 (schema v8): the message's salted commitment, hashed instead of the message, and
         * its salt (NULL, with message, once a purge erased a message naming a purged pupil). */
        const char *message_salt, *message_commit;
};
struct journal_event_filter {
        const char *pupil;           /* "ID" or "UAI/ID" */
        const char *key;             /* key uid, USB serial or volume ID */
};
typedef int (*journal_event_fn)(void *userdata, const struct journal_event_row *e);
/* In journal order (seq). */
int journal_events_list(struct journal *j, const struct journal_event_filter *f,
                        journal_event_fn fn, void *userdata, struct cart_error *err);

/* ---- Tamper evidence ---- */

struct journal_head {
        const char *station;
        int64_t n_events;
        const char *hash;            /* of the last event: record it elsewhere to prove the tail */
};
typedef void (*journal_head_fn)(void *userdata, const struct journal_head *h);
/*
 * Recompute every station's chain. 0: intact (fn sees each station's head); 1: broken,
 * err names the first edited, inserted or deleted row of each broken chain (one per line).
 */
int journal_verify(struct journal *j, journal_head_fn fn, void *userdata, struct cart_error *err);
/*
 * Against a head recorded elsewhere (a report, a receipt, another journal): does this
 * station's chain still hold that event with that hash? It may have grown since. 0: yes;
 * 1: no, err says whether the tail was cut or the chain rewritten. Run journal_verify too:
 * this checks one event, the chain's links are its job.
 */
int journal_verify_head(struct journal *j, const struct journal_head *h, struct cart_error *err);

/* ---- Several stations on one journal ---- */

/*
 * The next pupil of school's class_name to give a key, claimed for the caller's transaction
 * (journal_begin() first; -EINVAL otherwise): active, holding no issued key, in roster
 * order, and not claimed by another station's open transaction (PostgreSQL: the pupil's row
 * is locked FOR UPDATE SKIP LOCKED; SQLite: the write transaction excludes every other
 * station). Record the pupil's key (journal_key_end) in the same transaction, then
 * commit: two stations running a class at once never give one pupil two keys, and a
 * pupil whose transaction rolls back is claimed again. ret gets "UAI/ID" (malloc'd).
 * 0: nobody left; 1: found.
 */
int journal_claim_next_pupil(struct journal *j, const char *school, const char *class_name, char **ret,
                             struct cart_error *err);

/* ---- Merging journals (an offline station's into the central one, or any into any) ---- */

struct journal_merge_counts {
        uint64_t events_added, events_present;   /* present: the same uuid and hash already there */
        uint64_t pupils_added, keys_added, keys_updated;
        uint64_t conflicts;
        uint64_t pupils_purged;   /* source's pupils purged in target: kept out (their tombstones) */
};

/* The same pupil holding keys issued on two stations (offline at the time): both issues are
 * kept; this says which to settle (return or replace one of them). */
struct journal_conflict {
        const char *pupil_school, *pupil_id;
        const char *key_uid, *station;           /* the issue just merged */
        const char *other_key_uid;               /* the key the pupil already held in the target */
};
typedef int (*journal_conflict_fn)(void *userdata, const struct journal_conflict *c);

/*
 * Merge source's events into target by uuid, in one transaction of target: an event already
 * there (same uuid, same hash) is skipped, so merging twice adds nothing; each station's
 * chain goes on in target exactly as in source (rows copied verbatim), so journal verify
 * holds there. The schools, pupils and keys the events name come along (a pupil target
 * does not know is added; a key's state is the most recent of both). -EBADMSG, nothing
 * merged, when a chain of source does not verify (journal_verify: err names each broken
 * station and event), or when a station's chain in source does not continue target's (two
 * journals that call themselves one station, or a source with a gap): err names the event.
 * A pupil purged in target stays purged (its tombstone): not added, its keys and events
 * come without its id, as the purge left the pupil's own. Conflicts are kept, counted and
 * passed to fn.
 */
int journal_merge(struct journal *target, struct journal *source, journal_conflict_fn fn, void *userdata,
                  struct journal_merge_counts *ret, struct cart_error *err);
/* ---- Registered stations ---- */

/*
 * A station as the journal's owner registers it (schema v7): its name (which owns a chain),
 * its database role (PostgreSQL: the role it logs in as, held by the server to that name
 * and those schools), the schools it serves and its Ed25519 public key (64 hex digits; NULL:
 * none, its events' signatures are not checked). Events of the station from signed_from on
 * (its next event at registration) must carry a signature its key verifies.
 */
struct journal_station {
        const char *name, *role, *public_key;
        const char *const *schools;
        size_t n_schools;
        int64_t signed_from, added_usec, removed_usec;   /* removed_usec -1: registered */
};
/*
 * Register a station, in one transaction; on PostgreSQL the role (which must exist) is
 * granted what a station needs (cartable_station_grant, manifests/schemas/journal-pg.sql).
 * -EEXIST: a station of that name, or a registered station with that role, exists;
 * -EACCES: not the journal's owner.
 */
int journal_station_add(struct journal *j, const struct journal_station *s, struct cart_error *err);
/* The station no longer writes: its role loses its rights, its events stay and verify
 * against its key. -ENOENT: no registered station of that name. */
int journal_station_remove(struct journal *j, const char *name, struct cart_error *err);
typedef int (*journal_station_fn)(void *userdata, const struct journal_station *s);
/* Every station ever registered, removed ones included, by name. */
int journal_stations_list(struct journal *j, journal_station_fn fn, void *userdata, struct cart_error *err);

/* The station's public key (64 hex digits) from its secret key file, the pair made (0600)
 * when the file is missing. -EPERM: the file is a symlink, not its user's, or readable by
 * others. */
int journal_sign_key_public(const char *sign_key, char ret[65], struct cart_error *err);
/* The public key (64 hex digits) a PEM file holds (what journal_sign_key_pem() wrote). */
int journal_public_key_read(const char *path, char ret[65], struct cart_error *err);
/* The PEM text (SubjectPublicKeyInfo) of a public key given in hex, malloc'd. */
int journal_public_key_pem(const char *public_key, char **ret);

/* The journal's name as given to journal_open() (a path, or a URL without password). */
const char *journal_name(const struct journal *j);
/* ---- Batch provisioning: runs, keys left interrupted, counts ---- */

/*
 * A batch run: the keys a batch starts carry its identity (a random UUID, in the start
 * event), and the run holds a lock for as long as it lives, released by the system when its
 * process ends however it ends (SQLite: an flock on a file in the directory "JOURNAL-runs"
 * beside the journal; PostgreSQL: a session advisory lock, also taken again after a
 * reconnection). Several batches may so run at once under one station's name: each closes
 * as interrupted only the starts of runs whose lock is free. Before the first start.
 */
int journal_run_begin(struct journal *j, struct cart_error *err);
/* This handle's run, NULL before journal_run_begin(). */
const char *journal_run(const struct journal *j);

struct journal_interrupted {
        int64_t seq, time_usec;          /* of the start event */
        const char *key_uid, *key_serial, *pupil_school, *pupil_id, *operator;
        const char *run;                 /* the batch run that started it (NULL: before schema v5) */
        bool is_running;                 /* its run still lives (this process's, or its lock held) */
};
/* r and err: a key closed (journal_close_interrupted) or not; 0 and NULL when listing. */
typedef int (*journal_interrupted_fn)(void *userdata, const struct journal_interrupted *k, int r,
                                      const struct cart_error *err);
/* The keys of this station whose last flash event is a start, oldest first, whether their run
 * still lives or not. Returns how many, or a negative errno. */
int journal_interrupted_list(struct journal *j, journal_interrupted_fn fn, void *userdata, struct cart_error *err);
/*
 * Close each key this station's gone runs left started (a crash, a power cut): a "flashed"
 * event, outcome "cancelled", reason "interrupted", the key's status "failed" (its first
 * sector was cleared, or never written), its pupil's claim released; each in its own
 * transaction. The starts of runs still alive (another batch of this station) are left.
 * fn sees each key closed, or refused (r < 0, err). Returns how many were closed.
 */
int journal_close_interrupted(struct journal *j, const char *operator, journal_interrupted_fn fn, void *userdata,
                              struct cart_error *err);
/* Whether this station's last flash event of key uid is a start (1), not one (0: its end is
 * recorded, or the journal never saw it), or a negative errno. */
int journal_start_is_open(struct journal *j, const char *uid, struct cart_error *err);

/* How many active pupils of the class hold no issued key. */
int journal_batch_count_without_key(struct journal *j, const char *school, const char *class_name,
                                    uint64_t *ret, struct cart_error *err);
/*
 * Whether the key uid's last flash, update or repair on any station was a success of this
 * release (name and serial): 1 with its volume ID in ret_volume_id, 0 otherwise.
 */
int journal_batch_last_flash(struct journal *j, const char *uid, const char *release_name,
                             uint64_t release_serial, uint32_t *ret_volume_id, struct cart_error *err);
