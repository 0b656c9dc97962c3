/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The retention purge (journal-purge.h). Portable SQL only. */
#include <inttypes.h>

#include "journal/journal-internal.h"
#include "journal/journal-purge.h"

/* The pupils a purge takes, as a condition on pupils p. */
#define PURGED "p.is_active = 0 AND p.left_usec IS NOT NULL AND p.left_usec < ?"
/* ... and named by an event hashed before v2 (form 1): their id must stay. */
#define HAS_V1 "EXISTS (SELECT 1 FROM events e WHERE e.pupil_school = p.school AND e.pupil_id = p.id AND e.format = 1)"

static int exec_before(struct journal *j, const char *sql, int64_t before, int64_t *ret_changes,
                       struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, sql, &s, err);
        if (r < 0)
                return r;
        jdb_bind_int64(s, 1, before);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (ret_changes)
                *ret_changes = jdb_changes(j);
        return 0;
}

static int list_purged(struct journal *j, int64_t before, journal_purge_fn fn, void *userdata,
                       struct journal_purge_counts *c, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        /* CASE: a boolean column reads 1 on SQLite, "t" on PostgreSQL. */
        r = jdb_prepare(j, "SELECT p.school, p.id, p.class_name, p.left_usec, CASE WHEN " HAS_V1 " THEN 1 ELSE 0 END "
                        "FROM pupils p WHERE " PURGED
                        " ORDER BY p.school, p.class_name, p.roster_rank", &s, err);
        if (r < 0)
                return r;
        jdb_bind_int64(s, 1, before);
        for (;;) {
                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                c->pupils++;
                if (jdb_int64(s, 4) == 1)
                        c->kept_v1++;
                if (fn) {
                        r = fn(userdata, jdb_text(s, 0), jdb_text(s, 1), jdb_text(s, 2), jdb_int64(s, 3));
                        if (r < 0)
                                return r;
                }
        }
}

static int purge(struct journal *j, int64_t before, const char *operator, struct journal_purge_counts *c,
                 struct cart_error *err) {
        struct journal_event_row e;
        char msg[160];
        int64_t n;
        int r;

        r = exec_before(j, "INSERT INTO purged_counts (school, class_name, n_pupils) SELECT p.school, p.class_name, "
                        "count(*) FROM pupils p WHERE " PURGED " GROUP BY p.school, p.class_name "
                        "ON CONFLICT (school, class_name) DO UPDATE SET n_pupils = purged_counts.n_pupils + "
                        "excluded.n_pupils", before, NULL, err);
        /* Messages of form 4 that name a purged pupil (its id, or its family name), or belong to
         * its events, go with their salt; their commitment stays, so does the hash. */
        if (r >= 0)
                r = exec_before(j, "UPDATE events SET message = NULL, message_salt = NULL WHERE format >= 4 AND "
                                "message IS NOT NULL AND EXISTS (SELECT 1 FROM pupils p WHERE " PURGED " AND "
                                "((p.school = events.pupil_school AND p.id = events.pupil_id) OR events.message LIKE "
                                "'%' || p.id || '%' OR (p.family_name <> '' AND events.message LIKE '%' || "
                                "p.family_name || '%')))", before, &n, err);
        if (r < 0)
                return r;
        c->messages = (uint64_t) n;
        /* Events of form 2 keep their commitment; their id and the pupil's salt go. */
        if (r >= 0)
                r = exec_before(j, "UPDATE events SET pupil_id = NULL WHERE format >= 2 AND pupil_id IS NOT NULL AND "
                                "EXISTS (SELECT 1 FROM pupils p WHERE p.school = events.pupil_school AND "
                                "p.id = events.pupil_id AND " PURGED ")", before, &n, err);
        if (r < 0)
                return r;
        c->events = (uint64_t) n;
        /* Tombstones before the salts go: the purged stay purged (merge), their events stay
         * told apart from detached history (verify). */
        r = journal_tombstones_bury(j, PURGED " AND NOT " HAS_V1, before, err);
        if (r < 0)
                return r;
        r = exec_before(j, "UPDATE keys SET pupil_id = NULL WHERE pupil_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
                        "pupils p WHERE p.school = keys.pupil_school AND p.id = keys.pupil_id AND " PURGED ")",
                        before, NULL, err);
        /* The salts of other journals merged in go with the pupil's own. */
        if (r >= 0)
                r = exec_before(j, "DELETE FROM pupil_salts WHERE school || '/' || id IN (SELECT p.school || '/' || "
                                "p.id FROM pupils p WHERE " PURGED ")", before, NULL, err);
        if (r >= 0)
                r = exec_before(j, "UPDATE pupils SET family_name = '', first_name = '', ine_hmac = NULL, salt = NULL "
                                "WHERE school || '/' || id IN (SELECT p.school || '/' || p.id FROM pupils p WHERE "
                                PURGED " AND " HAS_V1 ")", before, NULL, err);
        if (r >= 0)
                r = exec_before(j, "DELETE FROM pupils WHERE school || '/' || id IN (SELECT p.school || '/' || p.id "
                                "FROM pupils p WHERE " PURGED " AND NOT " HAS_V1 ")", before, NULL, err);
        if (r < 0)
                return r;
        snprintf(msg, sizeof(msg), "%" PRIu64 " pupils purged (left before %" PRId64 "), %" PRIu64 " events "
                 "anonymised, %" PRIu64 " ids kept by pre-v2 events", c->pupils, before, c->events, c->kept_v1);
        e = (struct journal_event_row) { .kind = "purged", .time_usec = journal_now_usec(), .operator = operator,
                .message = msg, .release_serial = -1, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                .write_usec = -1, .read_usec = -1 };
        r = journal_event_append(j, &e, err);
        if (r < 0)
                return r;
        return jdb_run(j, err, "INSERT INTO purges (time_usec, station, operator, left_before_usec, n_pupils, n_events, "
                       "n_kept_v1) VALUES (?, ?, ?, ?, ?, ?, ?)", JI(journal_now_usec()), JT(journal_station(j)),
                       JT(operator), JI(before), JI(c->pupils), JI(c->events), JI(c->kept_v1));
}

int journal_purge(struct journal *j, int64_t left_before_usec, const char *operator, bool dry_run,
                  journal_purge_fn fn, void *userdata, struct journal_purge_counts *ret,
                  struct cart_error *err) {
        struct journal_purge_counts c = {};
        int r;

        if (j->depth > 0)
                return cart_error_set(err, -EBUSY, "journal purge runs alone, not inside a transaction");
        r = dry_run ? 0 : jdb_secure_delete(j, err);
        if (r >= 0)
                r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = list_purged(j, left_before_usec, fn, userdata, &c, err);
        if (r >= 0 && !dry_run && c.pupils > 0)
                r = purge(j, left_before_usec, operator, &c, err);
        if (r == -EACCES)
                cart_error_prefix(err, r, "journal purge runs as the journal's owner role (a station's role "
                                  "cannot change events)");
        if (r < 0 || dry_run) {
                journal_txn_rollback(j);
                if (r < 0)
                        return r;
        } else {
                /* Even with nobody left to purge: a purge whose checkpoint a reader blocked is
                 * finished by running it again. */
                r = journal_txn_commit(j, err);
                if (r >= 0)
                        r = jdb_checkpoint(j, err);
                if (r < 0)
                        return r;
        }
        if (ret)
                *ret = c;
        return 0;
}
