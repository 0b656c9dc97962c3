/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the journal module, in layers; each file calls only the layers below it:
 *   journal-db.c       the database seam (jdb_*: dispatch to a backend, the statement cache,
 *                      the binder, migrations) and the clock
 *   journal-sqlite.c,  the backends, the only files that know SQLite and libpq; they call
 *   journal-pg.c       journal-db.c and take the schema from journal-schema.c
 *   journal.c          the object: opening (it picks the backend), transactions
 *   journal-chain.c    canonical form, hashes, and the one place an event is appended
 *   journal-pupils.c   pupils by name, their claims;  journal-roster.c  roster sync
 *   journal-key.c      a key's start and end (the records of journal.h)
 *   journal-run.c      batch runs and the keys gone runs left started
 *   journal-events.c, journal-life.c, journal-merge.c, journal-purge.c, journal-report.c
 * Portable SQL only above the backends: '?' placeholders (the PostgreSQL backend numbers
 * them), the types INTEGER, BIGINT, TEXT, INSERT ... ON CONFLICT, RETURNING, LIMIT; no
 * boolean arithmetic (sum(a = b)), no group_concat, no PRAGMA: what differs goes through a
 * jdb_ call.
 */
#pragma once

#include "journal/journal.h"

struct jdb;        /* the connection, the backend's own */
struct journal;

/* A prepared statement: each backend's starts with this, so the calls below find their backend. */
struct jstmt {
        const struct jdb_ops *ops;
};

/*
 * One backend: journal-sqlite.c (a file path) or journal-pg.c (a postgresql:// URL).
 * The jdb_* calls below dispatch here; only journal.c's journal_open() picks one.
 */
struct jdb_ops {
        const char *name;
        int (*open)(struct journal *j, bool create, struct cart_error *err);
        void (*close)(struct journal *j);
        int (*begin)(struct journal *j, struct cart_error *err);
        int (*secure_delete)(struct journal *j, struct cart_error *err);   /* NULL: nothing to do */
        int (*checkpoint)(struct journal *j, struct cart_error *err);
        int (*reconnect)(struct journal *j, struct cart_error *err);     /* NULL: no connection */
        /* The schema version: 0 for an empty journal; -EBADMSG when it is not a journal. */
        int (*read_version)(struct journal *j, struct cart_error *err);
        int (*lock_chain)(struct journal *j, const char *station, struct cart_error *err);
        /* A batch run's lock, held by this connection (or process) until it closes: taken
         * (1: held; 0: another holds it), and looked at for another run (1: its holder lives). */
        int (*run_lock)(struct journal *j, const char *run, struct cart_error *err);
        int (*run_is_alive)(struct journal *j, const char *run, struct cart_error *err);
        int (*exec)(struct journal *j, const char *sql, struct cart_error *err);
        /* is_cached: kept for the connection's life (PostgreSQL prepares it on the server). */
        int (*prepare)(struct journal *j, const char *sql, bool is_cached, struct jstmt **ret,
                       struct cart_error *err);
        void (*finalize)(struct jstmt *s);
        int (*bind_text)(struct jstmt *s, int i, const char *v);
        int (*bind_int64)(struct jstmt *s, int i, int64_t v);
        int (*bind_null)(struct jstmt *s, int i);
        int (*step)(struct journal *j, struct jstmt *s, struct cart_error *err);
        int (*reset)(struct jstmt *s);
        const char *(*text)(struct jstmt *s, int col);
        bool (*is_null)(struct jstmt *s, int col);
        int64_t (*int64)(struct jstmt *s, int col);
        int64_t (*changes)(struct journal *j);
        /* The statement's SQL as the server runs it, and its parameters (NULL for SQL NULL;
         * a backend that binds in place, SQLite, reports none): for jdb_trace. */
        const char *(*sql)(struct jstmt *s);
        int (*n_params)(struct jstmt *s);
        int (*params)(struct jstmt *s, const char *const **ret);
        const char *lock_skip_locked;   /* appended to a SELECT that claims rows */
        /* The role the session logged in as (PostgreSQL: session_user); NULL: a backend
         * without roles, whose file's owner is the journal's (SQLite). */
        const char *session_role_sql;
};
extern const struct jdb_ops jdb_sqlite_ops, jdb_pg_ops;

/* Tests: each statement as it is stepped, its SQL and parameters (jdb_step), to check the
 * query plan of every statement a key's life runs. */
typedef void (*jdb_trace_fn)(void *userdata, const char *sql, int n_params, const char *const *params);

#define JDB_N_CACHED 64

struct journal {
        const struct jdb_ops *ops;
        struct jdb *db;
        /* The statements run per key or pupil, prepared once per connection (jdb_cached),
         * keyed by the address of their SQL text (a string literal of the caller). */
        struct {
                const char *sql;
                struct jstmt *s;
        } cached[JDB_N_CACHED];
        char *path;
        char *station;
        int version;
        unsigned depth;        /* open transactions: 0 none, 1 a transaction, more savepoints */
        char *run;             /* this process's batch run (journal_run_begin), NULL: none */
        char *sign_key_path;   /* journal_options.sign_key, NULL: events are not signed */
        struct evp_pkey_st *sign_key;   /* loaded (or made) at the first event appended */
        jdb_trace_fn trace;    /* tests: sees each statement run (jdb_step), NULL: none */
        void *trace_userdata;
};

/* Schema migrations: version N's SQL takes a journal at N-1 to N (v1 from an empty file). */
struct journal_migration {
        int version;
        const char *sql;
        const char *pg_sql;          /* PostgreSQL's own statements where sql cannot be translated; NULL: sql */
};
/* The one logical schema, in SQLite's dialect (journal-schema.c); journal-pg.c translates it
 * and adds, after version N's migration, journal_pg_extras[N] (NULL: nothing). */
extern const struct journal_migration journal_migrations[];
extern const size_t journal_n_migrations;
extern const char *const journal_pg_extras[];
extern const size_t journal_n_pg_extras;

/* -EPROTONOSUPPORT, the journal untouched, when its version is above this cartable's. */
int journal_check_version(struct journal *j, struct cart_error *err);

/* Apply the migrations above the journal's version, each in its own transaction. */
int journal_migrate(struct journal *j, const struct journal_migration *m, size_t n,
                    struct cart_error *err);

int jdb_exec(struct journal *j, const char *sql, struct cart_error *err);
int jdb_prepare(struct journal *j, const char *sql, struct jstmt **ret, struct cart_error *err);
/* The same, prepared once and kept by the connection (reset, bindings cleared): for the
 * statements run per key or pupil. sql must be a string literal; never finalize it. */
int jdb_cached(struct journal *j, const char *sql, struct jstmt **ret, struct cart_error *err);
struct jstmt *jdb_finalize(struct jstmt *s);
DEFINE_POINTER_CLEANUP(struct jstmt, jdb_finalize);
/* Binding a NULL string binds SQL NULL. Indexes start at 1. */
int jdb_bind_text(struct jstmt *s, int i, const char *v);
int jdb_bind_int64(struct jstmt *s, int i, int64_t v);
int jdb_bind_null(struct jstmt *s, int i);
/* 1: a row; 0: done; negative errno with err filled. */
int jdb_step(struct journal *j, struct jstmt *s, struct cart_error *err);

/*
 * The binder: a statement's parameters given at the call, each typed by a tag, bound in
 * the order of its '?'s (their number must match: -EINVAL otherwise). Tags, not a format
 * string, so that the compiler checks each argument where it is written:
 *   JT(s)   text (const char *); a NULL pointer binds SQL NULL
 *   JI(v)   an integer, as int64_t
 *   JN(v)   an integer, or SQL NULL when negative (an unknown size or time: -1)
 *
 *   r = jdb_run(j, err, "UPDATE keys SET status = ? WHERE uid = ?", JT(status), JT(uid));
 *   r = jdb_query(j, err, &s, "SELECT hash FROM events WHERE uuid = ?", JT(uuid));
 *   r = jdb_query_text(j, err, &uid, "SELECT uid FROM keys WHERE serial = ?", JT(serial));
 *
 * jdb_run: a cached statement (jdb_cached: sql a string literal) run to its end; 0 or
 * -errno. jdb_query: the same stepped once; 1 with its first row in *ret (read it with
 * jdb_text() and co., then jdb_reset()), 0 no row. jdb_query_text/int: its first column of
 * its first row (text malloc'd, NULL for SQL NULL), the statement reset; 1 or 0 as
 * jdb_query. jdb_bind: a statement of one's own (jdb_prepare), bound once.
 */
enum jdb_arg_type { JDB_ARG_TEXT, JDB_ARG_INT, JDB_ARG_INT_OR_NULL };
struct jdb_arg {
        enum jdb_arg_type type;
        const char *text;
        int64_t i;
};
#define JT(v) ((struct jdb_arg) { .type = JDB_ARG_TEXT, .text = (v) })
#define JI(v) ((struct jdb_arg) { .type = JDB_ARG_INT, .i = (v) })
#define JN(v) ((struct jdb_arg) { .type = JDB_ARG_INT_OR_NULL, .i = (v) })
#define JDB_ARGS(...) (const struct jdb_arg[]) { __VA_ARGS__ }, \
        sizeof((const struct jdb_arg[]) { __VA_ARGS__ }) / sizeof(struct jdb_arg)
int jdb_bind_args(struct jstmt *s, const struct jdb_arg *a, size_t n);
int jdb_query_args(struct journal *j, struct cart_error *err, struct jstmt **ret, const char *sql,
                   const struct jdb_arg *a, size_t n);
int jdb_run_args(struct journal *j, struct cart_error *err, const char *sql, const struct jdb_arg *a, size_t n);
int jdb_query_text_args(struct journal *j, struct cart_error *err, char **ret, const char *sql,
                        const struct jdb_arg *a, size_t n);
int jdb_query_int_args(struct journal *j, struct cart_error *err, int64_t *ret, const char *sql,
                       const struct jdb_arg *a, size_t n);
#define jdb_bind(s, ...) jdb_bind_args(s, JDB_ARGS(__VA_ARGS__))
#define jdb_query(j, err, ret, sql, ...) jdb_query_args(j, err, ret, sql, JDB_ARGS(__VA_ARGS__))
#define jdb_run(j, err, sql, ...) jdb_run_args(j, err, sql, JDB_ARGS(__VA_ARGS__))
#define jdb_query_text(j, err, ret, sql, ...) jdb_query_text_args(j, err, ret, sql, JDB_ARGS(__VA_ARGS__))
#define jdb_query_int(j, err, ret, sql, ...) jdb_query_int_args(j, err, ret, sql, JDB_ARGS(__VA_ARGS__))
/* Column col of the current row, malloc'd (NULL for SQL NULL). */
int jdb_dup(struct jstmt *s, int col, char **ret);
int jdb_reset(struct jstmt *s);
const char *jdb_text(struct jstmt *s, int col);        /* NULL for SQL NULL */
int64_t jdb_int64(struct jstmt *s, int col);           /* -1 for SQL NULL */
bool jdb_is_null(struct jstmt *s, int col);
int64_t jdb_changes(struct journal *j);

/* Backend-level open and close (pragmas, version check, migrations). */
int jdb_open(struct journal *j, bool create, struct cart_error *err);
void jdb_close(struct journal *j);
/* Before a purge: freed pages are overwritten with zeros (SQLite: secure_delete). After
 * it: the write-ahead log is copied back and emptied, so no erased byte stays on disk
 * (PostgreSQL: VACUUM FULL of the tables a purge changes; the server's WAL keeps the old
 * rows until it is recycled). */
int jdb_secure_delete(struct journal *j, struct cart_error *err);
int jdb_checkpoint(struct journal *j, struct cart_error *err);
/* Begin a write transaction (SQLite: BEGIN IMMEDIATE, so writers queue on busy_timeout). */
int jdb_begin(struct journal *j, struct cart_error *err);
/* Inside a transaction, before reading the station's last event to chain after it: SQLite's
 * write transaction already excludes every other writer; PostgreSQL takes a transaction
 * lock on the station's name, so two processes of one station never fork its chain. */
int jdb_lock_chain(struct journal *j, const char *station, struct cart_error *err);
/* " FOR UPDATE OF alias SKIP LOCKED" where rows can be locked (PostgreSQL), else "". */
const char *jdb_lock_skip_locked(struct journal *j);

/* Transactions that nest as savepoints (journal.c). */
int journal_txn_begin(struct journal *j, struct cart_error *err);
int journal_txn_commit(struct journal *j, struct cart_error *err);
void journal_txn_rollback(struct journal *j);

/* 0: no such pupil; 1: active; 2: has left. */
int journal_pupil_state(struct journal *j, const char *school, const char *id, struct cart_error *err);
/* Whether the pupil holds an issued key, seen from a new statement (on PostgreSQL, from what
 * was committed up to now, not from the snapshot a row lock was taken in). */
int journal_pupil_has_key(struct journal *j, const char *school, const char *id, struct cart_error *err);
/* Pupils whose leave date (pupils.leaves_usec, a DATE_SORTIE to come at their import) has
 * come by now have left: marked so, as a later import would, before a key is given. Indexed
 * (pupils_leaving): as cheap on 130,000 pupils as on none. */
int journal_pupils_settle(struct journal *j, int64_t now, struct cart_error *err);

/* The next pupil of the class to give a key (active, no issued key, in roster order, no claim
 * newer than expired_before), its row locked on PostgreSQL until the transaction ends.
 * 1 found; 0 nobody left. */
int journal_claim_row(struct journal *j, const char *school, const char *class_name, int64_t expired_before,
                      char **ret_school, char **ret_id, struct cart_error *err);
/* The end of a key's flash (recorded, or closed as interrupted): this station's claim on the
 * pupil the key was for, if any, is released. Inside the caller's transaction. */
int journal_claim_release(struct journal *j, const char *uid, struct cart_error *err);
/* Resolve "ID" or "UAI/ID" to the pupil's school and id (malloc'd). */
int journal_pupil_resolve(struct journal *j, const char *pupil, char **ret_school, char **ret_id,
                          struct cart_error *err);

/* A new event, chained after the station's last one. Fields as in journal_event_row;
 * seq, uuid, station, station_seq, prev_hash and hash are filled here. */
int journal_event_append(struct journal *j, struct journal_event_row *e, struct cart_error *err);
/* The hash of one event row, over its canonical content and its prev_hash. */
/* Insert e as it is (uuid, chain fields and hash included). */
int journal_event_insert(struct journal *j, const struct journal_event_row *e, struct cart_error *err);
/* Every event, by station then station_seq (the chains' order), without pupil names. */
int journal_events_by_station(struct journal *j, journal_event_fn fn, void *userdata, struct cart_error *err);
int journal_event_hash(const struct journal_event_row *e, char ret[JOURNAL_HASH_HEX_LEN + 1]);

/* Registered stations (journal-station.c): on a backend with roles, a session whose role is
 * a registered station's writes as that station (-EPERM when o_station names another). */
int journal_station_bind(struct journal *j, const char *o_station, struct cart_error *err);

/* Signatures (journal-sign.c): an event's, by this handle's station key (its hash signed;
 * ret 129 bytes, hex), loaded or made at first use. */
int journal_event_sign(struct journal *j, const char *hash, char ret[129], struct cart_error *err);
void journal_sign_key_free(struct evp_pkey_st *k);
/* The registered stations' public keys, read before a walk over the chains; then each event
 * checked against its station's (a problem appended to problems, 1, when it fails). */
struct journal_signers;
int journal_signers_load(struct journal *j, struct journal_signers **ret, struct cart_error *err);
struct journal_signers *journal_signers_free(struct journal_signers *s);
DEFINE_POINTER_CLEANUP(struct journal_signers, journal_signers_free);
int journal_signature_check(const struct journal_signers *s, const struct journal_event_row *e,
                            struct cart_error *problems);

int64_t journal_now_usec(void);
int journal_uuid_random(char ret[JOURNAL_UUID_LEN + 1]);

/* A message's commitment (form 4, schema v8): SHA-256 over the canonical salt and message. */
int journal_message_commit(const char *salt, const char *message, char ret[JOURNAL_HASH_HEX_LEN + 1]);
/* A pupil's commitment (schema v2): SHA-256 over the canonical salt, school and id. */
int journal_pupil_commit(const char *salt, const char *school, const char *id,
                         char ret[JOURNAL_HASH_HEX_LEN + 1]);

/* ---- Tombstones: what a purge leaves so that a pupil stays purged (journal-tombstone.c) ---- */

/* Bury the pupils of pupils p matching condition (an SQL condition on p with one '?', bound
 * to before): each one's identity under this journal's purge salt, and the commitments its
 * salts open, into purged_pupils. Before their salts are erased. */
int journal_tombstones_bury(struct journal *j, const char *condition, int64_t before, struct cart_error *err);
/* One commitment more (a purged pupil's event merged from another journal). */
int journal_tombstone_add(struct journal *j, const char *commitment, struct cart_error *err);
/* Whether the pupil was purged here: its identity, or its commitment under salt (may be
 * NULL), is a tombstone. 1 yes, 0 no. */
int journal_is_purged(struct journal *j, const char *school, const char *id, const char *salt, struct cart_error *err);

/* Commitments read at once, looked up by bsearch: the tombstones, or each salted pupil's
 * commitments (who: "UAI/ID"). */
struct journal_commit_entry {
        char commit[JOURNAL_HASH_HEX_LEN + 1];
        char *who;
};
struct journal_commit_set {
        struct journal_commit_entry *v;
        size_t n;
};
int journal_commit_set_load(struct journal *j, bool want_pupils, struct journal_commit_set *ret, struct cart_error *err);
const struct journal_commit_entry *journal_commit_set_find(const struct journal_commit_set *set, const char *commit);
void journal_commit_set_free(struct journal_commit_set *set);
