/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Batch runs (journal.h): a run's identity in its keys' start events, its lock held while
 * the process lives, and the keys that runs now gone left started, closed as interrupted.
 * Several batches may run at once under one station's name (two hubs, one technician):
 * each closes only the starts of runs whose lock is free, never another live batch's.
 */
#include <inttypes.h>
#include <limits.h>

#include "journal/journal-internal.h"

int journal_run_begin(struct journal *j, struct cart_error *err) {
        char run[JOURNAL_UUID_LEN + 1];
        int r;

        if (j->run)
                return 0;
        r = journal_uuid_random(run);
        if (r < 0)
                return cart_error_errno(err, r, NULL, "no random UUID");
        r = j->ops->run_lock(j, run, err);
        if (r < 0)
                return r;
        if (r == 0)    /* a new random identity is never held by anyone */
                return cart_error_set(err, -EBUSY, "%s: batch run %s is locked already", j->path, run);
        j->run = strdup(run);
        return j->run ? 0 : -ENOMEM;
}

const char *journal_run(const struct journal *j) {
        return j->run;
}

/* The open starts, copied: closing them writes while a PostgreSQL listing would still stream. */
struct started {
        struct journal_interrupted *k;
        size_t n;
};

static void started_free(struct started *a) {
        for (size_t i = 0; i < a->n; i++) {
                free((char *) a->k[i].key_uid);
                free((char *) a->k[i].key_serial);
                free((char *) a->k[i].pupil_school);
                free((char *) a->k[i].pupil_id);
                free((char *) a->k[i].operator);
                free((char *) a->k[i].run);
        }
        free(a->k);
}

static int dup_or_null(const char *v, const char **ret) {
        *ret = v ? strdup(v) : NULL;
        return !v || *ret ? 0 : -ENOMEM;
}

/* This station's keys whose last flash event is a start, oldest first. */
static int list_started(struct journal *j, struct started *a, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, "SELECT e.seq, e.time_usec, e.key_uid, e.key_serial, e.pupil_school, e.pupil_id, "
                        "e.operator, e.run FROM events e WHERE e.station = ? AND e.kind = 'flashed' "
                        "AND e.outcome = 'started' AND NOT EXISTS (SELECT 1 FROM events f "
                        "WHERE f.key_uid = e.key_uid AND f.station = e.station AND f.kind = 'flashed' "
                        "AND f.seq > e.seq) ORDER BY e.seq", &s, err);
        if (r >= 0)
                r = jdb_bind(s, JT(j->station));
        if (r < 0)
                return r;
        for (;;) {
                struct journal_interrupted *k;

                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                k = reallocarray(a->k, a->n + 1, sizeof(*a->k));
                if (!k)
                        return -ENOMEM;
                a->k = k;
                k = &a->k[a->n++];
                *k = (struct journal_interrupted) { .seq = jdb_int64(s, 0), .time_usec = jdb_int64(s, 1) };
                if (dup_or_null(jdb_text(s, 2), &k->key_uid) < 0 || dup_or_null(jdb_text(s, 3), &k->key_serial) < 0 ||
                    dup_or_null(jdb_text(s, 4), &k->pupil_school) < 0 || dup_or_null(jdb_text(s, 5), &k->pupil_id) < 0 ||
                    dup_or_null(jdb_text(s, 6), &k->operator) < 0 || dup_or_null(jdb_text(s, 7), &k->run) < 0)
                        return -ENOMEM;
        }
}

/* Whether each start's run still lives: this process's own, or another whose lock is held.
 * A start without a run was written before runs had one: its batch is gone. */
static int mark_running(struct journal *j, struct started *a, struct cart_error *err) {
        for (size_t i = 0; i < a->n; i++) {
                struct journal_interrupted *k = &a->k[i];
                int r = 0;

                if (!k->run)
                        continue;
                for (size_t p = 0; p < i; p++)
                        if (a->k[p].run && streq(a->k[p].run, k->run)) {
                                k->is_running = a->k[p].is_running;
                                goto next;
                        }
                if (j->run && streq(j->run, k->run))
                        r = 1;
                else
                        r = j->ops->run_is_alive(j, k->run, err);
                if (r < 0)
                        return r;
                k->is_running = r > 0;
        next:;
        }
        return 0;
}

int journal_interrupted_list(struct journal *j, journal_interrupted_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(started_free) struct started a = {};
        int r;

        r = list_started(j, &a, err);
        if (r >= 0)
                r = mark_running(j, &a, err);
        for (size_t i = 0; r >= 0 && i < a.n; i++)
                r = fn ? fn(userdata, &a.k[i], 0, NULL) : 0;
        return r < 0 ? r : (int) MIN(a.n, (size_t) INT_MAX);
}

/* One start closed: the key failed (its first sector was cleared, or never written), its
 * pupil's claim released, a "flashed" event, outcome "cancelled", reason "interrupted". */
static int close_one(struct journal *j, const struct journal_interrupted *k, const char *operator,
                     struct cart_error *err) {
        int64_t now = journal_now_usec();
        struct journal_event_row e;
        int r;

        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = jdb_run(j, err, "UPDATE keys SET status = 'failed', updated_usec = ? WHERE uid = ?", JI(now), JT(k->key_uid));
        if (r >= 0)
                r = journal_claim_release(j, k->key_uid, err);
        if (r < 0)
                goto fail;
        e = (struct journal_event_row) {
                .kind = "flashed", .time_usec = now, .operator = operator,
                .pupil_school = k->pupil_school, .pupil_id = k->pupil_id, .key_uid = k->key_uid,
                .key_serial = k->key_serial, .release_serial = -1,
                .outcome = journal_outcome_to_string(JOURNAL_OUTCOME_CANCELLED),
                .reason = cart_reason_to_string(CART_REASON_INTERRUPTED),
                .message = "left unfinished by a batch that stopped (crash or power cut)",
                .bytes_written = -1, .bytes_read = -1, .started_usec = k->time_usec,
                .write_usec = -1, .read_usec = -1,
        };
        r = journal_event_append(j, &e, err);
        if (r < 0)
                goto fail;
        return journal_txn_commit(j, err);
fail:
        journal_txn_rollback(j);
        return r;
}

int journal_close_interrupted(struct journal *j, const char *operator, journal_interrupted_fn fn, void *userdata,
                              struct cart_error *err) {
        _cleanup_(started_free) struct started a = {};
        int r, n = 0;

        r = list_started(j, &a, err);
        if (r >= 0)
                r = mark_running(j, &a, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a.n; i++) {
                struct cart_error e = {};

                if (a.k[i].is_running)
                        continue;
                r = close_one(j, &a.k[i], operator, &e);
                if (r >= 0)
                        n++;
                if (fn) {
                        int k = fn(userdata, &a.k[i], r, &e);
                        if (k < 0)
                                return k;
                }
        }
        return n;
}
