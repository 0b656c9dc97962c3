/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the journal module: the database layer (journal-sqlite.c, the only file that
 * knows SQLite) under the portable parts (journal.c: chain, keys, events; journal-roster.c:
 * roster sync and pupils). Portable SQL only above this layer: '?' placeholders (a
 * PostgreSQL backend numbers them), standard types, INSERT ... ON CONFLICT, LIMIT.
 */
#pragma once

#include "journal/journal.h"

struct jdb;        /* the connection */
struct jstmt;      /* a prepared statement */

struct journal {
        struct jdb *db;
        char *path;
        char *station;
        int version;
        unsigned depth;        /* open transactions: 0 none, 1 a transaction, more savepoints */
};

/* Schema migrations: version N's SQL takes a journal at N-1 to N (v1 from an empty file). */
struct journal_migration {
        int version;
        const char *sql;
};
extern const struct journal_migration journal_migrations[];
extern const size_t journal_n_migrations;

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
int jdb_reset(struct jstmt *s);
const char *jdb_text(struct jstmt *s, int col);        /* NULL for SQL NULL */
int64_t jdb_int64(struct jstmt *s, int col);           /* -1 for SQL NULL */
bool jdb_is_null(struct jstmt *s, int col);
int64_t jdb_changes(struct journal *j);

/* Backend-level open and close (pragmas, version check, migrations). */
int jdb_open(struct journal *j, bool create, struct cart_error *err);
void jdb_close(struct journal *j);
/* Before a purge: freed pages are overwritten with zeros (SQLite: secure_delete). After
 * it: the write-ahead log is copied back and emptied, so no erased byte stays on disk. */
int jdb_secure_delete(struct journal *j, struct cart_error *err);
int jdb_checkpoint(struct journal *j, struct cart_error *err);
/* Begin a write transaction (SQLite: BEGIN IMMEDIATE, so writers queue on busy_timeout). */
int jdb_begin(struct journal *j, struct cart_error *err);

/* Transactions that nest as savepoints (journal.c). */
int journal_txn_begin(struct journal *j, struct cart_error *err);
int journal_txn_commit(struct journal *j, struct cart_error *err);
void journal_txn_rollback(struct journal *j);

/* 0: no such pupil; 1: active; 2: has left. */
int journal_pupil_state(struct journal *j, const char *school, const char *id, struct cart_error *err);
/* Resolve "ID" or "UAI/ID" to the pupil's school and id (malloc'd). */
int journal_pupil_resolve(struct journal *j, const char *pupil, char **ret_school, char **ret_id,
                          struct cart_error *err);

/* A new event, chained after the station's last one. Fields as in journal_event_row;
 * seq, uuid, station, station_seq, prev_hash and hash are filled here. */
int journal_event_append(struct journal *j, struct journal_event_row *e, struct cart_error *err);
/* The hash of one event row, over its canonical content and its prev_hash. */
int journal_event_hash(const struct journal_event_row *e, char ret[JOURNAL_HASH_HEX_LEN + 1]);

int64_t journal_now_usec(void);

/* A pupil's commitment (schema v2): SHA-256 over the canonical salt, school and id. */
int journal_pupil_commit(const char *salt, const char *school, const char *id,
                         char ret[JOURNAL_HASH_HEX_LEN + 1]);
