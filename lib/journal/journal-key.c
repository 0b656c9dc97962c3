/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A key's flash as the journal records it: its start (a batch's, before its first byte is
 * written: with, in roster mode, the claim of the class's next pupil) and its end (the key's
 * row, its "flashed" event, the claim released, the issue), both taken as records
 * (journal.h), never as flash reports; and what a batch asks besides: whether a key already
 * holds a release, how many pupils of its class are left. Portable SQL only.
 */
#include <inttypes.h>

#include "journal/journal-internal.h"

const char *journal_outcome_to_string(enum journal_outcome o) {
        static const char *const names[] = {
                [JOURNAL_OUTCOME_OK] = "ok", [JOURNAL_OUTCOME_REFUSED] = "refused", [JOURNAL_OUTCOME_FAILED] = "failed",
                [JOURNAL_OUTCOME_CANCELLED] = "cancelled", [JOURNAL_OUTCOME_STARTED] = "started",
        };
        return (unsigned) o < ELEMENTSOF(names) ? names[o] : NULL;
}

static const char *or_null(const char *s) {
        return s && s[0] ? s : NULL;
}

static int upsert_key(struct journal *j, const struct journal_key_end *k, const char *volume_id, int64_t now,
                      struct cart_error *err) {
        bool ok = k->outcome == JOURNAL_OUTCOME_OK;

        /* A good flash makes the key stock (issuing comes next); a failed one says so; the
         * holder is kept until the key is issued to someone else or marked. */
        return jdb_run(j, err, "INSERT INTO keys (uid, serial, vid_pid, vendor, product, capacity, real_capacity, "
                        "volume_id, status, created_usec, updated_usec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (uid) DO UPDATE SET vendor = coalesce(excluded.vendor, keys.vendor), "
                        "product = coalesce(excluded.product, keys.product), capacity = excluded.capacity, "
                        "real_capacity = coalesce(excluded.real_capacity, keys.real_capacity), "
                        "volume_id = coalesce(excluded.volume_id, keys.volume_id), status = excluded.status, "
                        "pupil_school = CASE WHEN excluded.status = 'stock' THEN NULL ELSE keys.pupil_school END, "
                        "pupil_id = CASE WHEN excluded.status = 'stock' THEN NULL ELSE keys.pupil_id END, "
                        "updated_usec = excluded.updated_usec", JT(k->key.uid), JT(or_null(k->key.serial)),
                        JT(or_null(k->key.vid_pid)), JT(k->key.vendor), JT(k->key.product), JI(k->key.capacity),
                        JN(k->is_probed ? (int64_t) k->real_capacity : -1), JT(ok ? volume_id : NULL),
                        JT(ok ? "stock" : "failed"), JI(now), JI(now));
}

static int key_set_status(struct journal *j, const char *uid, const char *status, const char *school,
                          const char *id, int64_t now, struct cart_error *err) {
        return jdb_run(j, err, "UPDATE keys SET status = ?, pupil_school = ?, pupil_id = ?, updated_usec = ? "
                       "WHERE uid = ?", JT(status), JT(school), JT(id), JI(now), JT(uid));
}

/* The key a pupil holds (status issued), or NULL. */
static int pupil_held_key(struct journal *j, const char *school, const char *id, char **ret,
                          struct cart_error *err) {
        return jdb_query_text(j, err, ret, "SELECT uid FROM keys WHERE pupil_school = ? AND pupil_id = ? "
                              "AND status = 'issued' ORDER BY updated_usec DESC LIMIT 1", JT(school), JT(id));
}

/* The current holder of a key, when it is issued. */
static int key_holder(struct journal *j, const char *uid, char **ret_school, char **ret_id,
                      struct cart_error *err) {
        struct jstmt *s = NULL;
        int r;

        *ret_school = *ret_id = NULL;
        r = jdb_query(j, err, &s, "SELECT pupil_school, pupil_id FROM keys WHERE uid = ? AND status = 'issued'",
                      JT(uid));
        if (r > 0 && jdb_is_null(s, 0)) {
                jdb_reset(s);
                r = 0;
        }
        if (r <= 0)
                return r;
        r = jdb_dup(s, 0, ret_school);
        if (r >= 0)
                r = jdb_dup(s, 1, ret_id);
        jdb_reset(s);
        return r < 0 ? r : 1;
}

/* The events of one finished flash, inside the caller's transaction. */
static int record_end_events(struct journal *j, const struct journal_key_end *k, const char *school, const char *id,
                             struct cart_error *err) {
        _cleanup_free_ char *held = NULL, *old_school = NULL, *old_id = NULL;
        const char *uid = k->key.uid;
        char volume_id[16];
        int64_t now = journal_now_usec();
        bool ok = k->outcome == JOURNAL_OUTCOME_OK;
        struct journal_event_row e;
        int r;

        snprintf(volume_id, sizeof(volume_id), "%08" PRIX32, k->volume_id);
        r = key_holder(j, uid, &old_school, &old_id, err);
        if (r < 0)
                return r;
        r = upsert_key(j, k, volume_id, now, err);
        if (r >= 0)
                r = journal_claim_release(j, uid, err);
        if (r < 0)
                return r;

        e = (struct journal_event_row) {
                .kind = "flashed",
                .time_usec = k->finished_usec > 0 ? k->finished_usec : now,
                .operator = k->operator,
                .key_uid = uid,
                .key_serial = or_null(k->key.serial),
                .release_name = or_null(k->key.release_name),
                .release_version = or_null(k->key.release_version),
                .release_serial = or_null(k->key.release_name) ? k->key.release_serial : -1,
                .release_key_id = or_null(k->key.release_key_id),
                .outcome = journal_outcome_to_string(k->outcome),
                /* The code, never words. */
                .reason = ok || k->reason == CART_REASON_NONE ? NULL : cart_reason_to_string(k->reason),
                .step = k->step,
                .message = ok ? NULL : k->message,
                .volume_id = ok ? volume_id : NULL,
                .bytes_written = k->bytes_written,
                .bytes_read = k->bytes_read,
                .started_usec = k->started_usec > 0 ? k->started_usec : -1,
                .write_usec = k->write_usec,
                .read_usec = k->read_usec,
                .pupil_school = school,
                .pupil_id = id,
        };
        r = journal_event_append(j, &e, err);
        if (r >= 0 && k->erase_outcome) {
                bool is_failed = streq(k->erase_outcome, "failed");
                int64_t at = e.time_usec;

                e = (struct journal_event_row) { .kind = "erased", .time_usec = at, .operator = k->operator,
                        .key_uid = uid, .key_serial = or_null(k->key.serial), .outcome = k->erase_outcome,
                        .reason = is_failed ? cart_reason_to_string(CART_REASON_ERASE_FAILED) : NULL,
                        .step = k->erase_method, .message = k->erase_held, .release_serial = -1,
                        .bytes_written = k->erase_method ? k->erase_bytes : -1,
                        .bytes_read = k->erase_method ? k->erase_checked_bytes : -1, .started_usec = -1,
                        .write_usec = k->erase_method ? k->erase_usec : -1, .read_usec = -1 };
                r = journal_event_append(j, &e, err);
        }
        if (r < 0 || !ok)
                return r;

        /* Rewritten, the key no longer is what its previous holder was given. */
        if (old_id && !(id && streq(old_school, school) && streq(old_id, id))) {
                e = (struct journal_event_row) { .kind = "returned", .time_usec = now, .operator = k->operator,
                        .pupil_school = old_school, .pupil_id = old_id, .key_uid = uid,
                        .reason = cart_reason_to_string(CART_REASON_REFLASHED), .key_serial = or_null(k->key.serial),
                        .release_serial = -1, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                        .write_usec = -1, .read_usec = -1 };
                r = journal_event_append(j, &e, err);
                if (r < 0)
                        return r;
        }
        if (!id)
                return 0;

        /* Issue it: the pupil's previous key is replaced, the key's previous holder loses it. */
        r = journal_pupils_settle(j, now, err);
        if (r < 0)
                return r;
        r = journal_pupil_state(j, school, id, err);
        if (r < 0)
                return r;
        if (r != 1)
                return cart_error_set(err, -ESRCH, "pupil %s/%s has left: the key was recorded as stock, not issued",
                                      school, id);
        r = pupil_held_key(j, school, id, &held, err);
        if (r < 0)
                return r;
        if (held && !streq(held, uid)) {
                if (!k->replace)
                        return cart_error_set(err, -EEXIST, "pupil %s/%s already holds key %s: the new key was "
                                              "recorded as stock, not issued (--replace to replace it)",
                                              school, id, held);
                r = key_set_status(j, held, "replaced", school, id, now, err);
                if (r < 0)
                        return r;
                e = (struct journal_event_row) { .kind = "replaced", .time_usec = now, .operator = k->operator,
                        .pupil_school = school, .pupil_id = id, .key_uid = held,
                        .reason = cart_reason_to_string(CART_REASON_REPLACED),
                        .release_serial = -1, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                        .write_usec = -1, .read_usec = -1 };
                r = journal_event_append(j, &e, err);
                if (r < 0)
                        return r;
        }
        r = key_set_status(j, uid, "issued", school, id, now, err);
        if (r < 0)
                return r;
        e = (struct journal_event_row) { .kind = "issued", .time_usec = now, .operator = k->operator,
                .pupil_school = school, .pupil_id = id, .key_uid = uid, .key_serial = or_null(k->key.serial),
                .release_name = k->key.release_name, .release_version = k->key.release_version,
                .release_serial = k->key.release_serial, .release_key_id = k->key.release_key_id,
                .volume_id = volume_id, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                .write_usec = -1, .read_usec = -1 };
        return journal_event_append(j, &e, err);
}

int journal_key_last_erase(struct journal *j, const char *uid, char **ret, struct cart_error *err) {
        *ret = NULL;
        return jdb_query_text(j, err, ret, "SELECT outcome FROM events WHERE key_uid = ? AND kind = 'erased' "
                              "ORDER BY seq DESC LIMIT 1", JT(uid));
}

/* How many active pupils of the class hold no issued key (the class's pupils_by_class rows). */
#define WITHOUT_KEY "FROM pupils p WHERE p.is_active = 1 AND p.school = ? AND p.class_name = ? " \
        "AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.pupil_school = p.school AND k.pupil_id = p.id " \
        "AND k.status = 'issued') "

int journal_batch_count_without_key(struct journal *j, const char *school, const char *class_name,
                                    uint64_t *ret, struct cart_error *err) {
        int64_t n = 0;
        int r = jdb_query_int(j, err, &n, "SELECT count(*) " WITHOUT_KEY, JT(school), JT(class_name));

        if (r < 0)
                return r;
        *ret = (uint64_t) MAX(n, 0);
        return 0;
}

/* A late end whose start is no longer open: nothing to record (ret says so). */
static int end_unless_recorded(struct journal *j, const struct journal_key_end *k, struct journal_key_ended *ret,
                               struct cart_error *err) {
        int r = journal_start_is_open(j, k->key.uid, err);
        if (r == 0)
                ret->is_present = true;
        return r;
}

/* A late end (spooled, or held back) closes the open start of its key only if it names the
 * pupil that start claimed or was for: a spool file cannot give the key to someone else. */
static int end_matches_start(struct journal *j, const struct journal_key_end *k, const char *school, const char *id,
                             struct cart_error *err) {
        struct jstmt *s = NULL;
        bool is_same;
        int r;

        r = jdb_query(j, err, &s, "SELECT pupil_school, pupil_id FROM events WHERE key_uid = ? AND station = ? AND "
                      "kind = 'flashed' ORDER BY seq DESC LIMIT 1", JT(k->key.uid), JT(j->station));
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        is_same = !jdb_text(s, 1) == !id && (!id || (streq(jdb_text(s, 1), id) && jdb_text(s, 0) && school &&
                                                     streq(jdb_text(s, 0), school)));
        if (!is_same) {
                cart_error_reason_set(err, -EBADMSG, CART_REASON_SPOOL_MISMATCH, k->key.uid);
                snprintf(err->have, sizeof(err->have), "%s%s%s", school ? school : "", school ? "/" : "",
                         id ? id : "-");
                snprintf(err->want, sizeof(err->want), "%s%s%s", jdb_text(s, 0) ? jdb_text(s, 0) : "",
                         jdb_text(s, 0) ? "/" : "", jdb_text(s, 1) ? jdb_text(s, 1) : "-");
        }
        jdb_reset(s);
        return is_same ? 0 : -EBADMSG;
}

int journal_key_end(struct journal *j, const struct journal_key_end *k, struct journal_key_ended *ret,
                    struct cart_error *err) {
        _cleanup_free_ char *school = NULL, *id = NULL;
        struct journal_key_ended ended = { .n_without_key = -1 };
        int r, refused = 0;

        if (!k->key.uid || !journal_outcome_to_string(k->outcome) || k->outcome == JOURNAL_OUTCOME_STARTED)
                return cart_error_set(err, -EINVAL, "journal: a key's end needs its uid and outcome");
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        if (k->only_if_started) {
                r = end_unless_recorded(j, k, &ended, err);
                if (r <= 0)
                        goto done;
        }
        if (k->pupil) {
                r = journal_pupil_resolve(j, k->pupil, &school, &id, err);
                if (r < 0)
                        goto done;
        }
        if (k->only_if_started) {
                r = end_matches_start(j, k, school, id, err);
                if (r < 0)
                        goto done;
        }
        r = record_end_events(j, k, school, id, err);
        /* The flash stays recorded; only the issue was refused. */
        if (r == -EEXIST || r == -ESRCH) {
                refused = r;
                r = 0;
        }
        if (r >= 0 && k->class_name) {
                uint64_t n;
                r = journal_batch_count_without_key(j, k->school, k->class_name, &n, err);
                ended.n_without_key = (int64_t) n;
        }
done:
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        if (refused) {
                struct cart_error e2 = {};
                r = journal_txn_commit(j, &e2);
                if (r < 0)
                        return cart_error_set(err, r, "%s", e2.msg);
                r = refused;
        } else {
                r = journal_txn_commit(j, err);
                if (r < 0)
                        return r;
        }
        if (ret)
                *ret = ended;
        return r;
}

/* ---- A key's start ---- */

int journal_start_is_open(struct journal *j, const char *uid, struct cart_error *err) {
        _cleanup_free_ char *outcome = NULL;
        int r = jdb_query_text(j, err, &outcome, "SELECT outcome FROM events WHERE key_uid = ? AND station = ? "
                               "AND kind = 'flashed' ORDER BY seq DESC LIMIT 1", JT(uid), JT(j->station));

        return r <= 0 ? r : outcome && streq(outcome, journal_outcome_to_string(JOURNAL_OUTCOME_STARTED));
}

/* The key's row (created "failed" when new: its old content is being destroyed) and its
 * start event, inside the caller's transaction. */
static int record_started(struct journal *j, const struct journal_key_start *k, const char *school, const char *id,
                          int64_t now, struct cart_error *err) {
        struct journal_event_row e;
        int r;

        /* Known keys keep their row until their end is recorded. */
        r = jdb_run(j, err, "INSERT INTO keys (uid, serial, vid_pid, capacity, status, created_usec, updated_usec) "
                    "VALUES (?, ?, ?, ?, 'failed', ?, ?) ON CONFLICT (uid) DO NOTHING", JT(k->key.uid),
                    JT(or_null(k->key.serial)), JT(or_null(k->key.vid_pid)), JI(k->key.capacity), JI(now), JI(now));
        if (r < 0)
                return r;
        e = (struct journal_event_row) {
                .kind = "flashed", .time_usec = now, .operator = k->operator,
                .pupil_school = school, .pupil_id = id, .key_uid = k->key.uid,
                .key_serial = or_null(k->key.serial),
                .release_name = or_null(k->key.release_name),
                .release_version = or_null(k->key.release_version),
                .release_serial = or_null(k->key.release_name) ? k->key.release_serial : -1,
                .release_key_id = or_null(k->key.release_key_id),
                .outcome = journal_outcome_to_string(JOURNAL_OUTCOME_STARTED), .step = "check",
                .bytes_written = -1, .bytes_read = -1,
                .started_usec = k->started_usec > 0 ? k->started_usec : now,
                .write_usec = -1, .read_usec = -1, .run = j->run,
        };
        return journal_event_append(j, &e, err);
}

/* Roster mode: the class's next pupil, claimed for this key (see struct journal_key_start). */
static int claim(struct journal *j, const struct journal_key_start *k, int64_t now, char **ret_school, char **ret_id,
                 struct cart_error *err) {
        int r;

        r = journal_pupils_settle(j, now, err);
        if (r < 0)
                return r;
        r = journal_claim_row(j, k->school, k->class_name, now - JOURNAL_CLAIM_EXPIRY_USEC, ret_school, ret_id, err);
        if (r <= 0)
                return r;
        r = jdb_run(j, err, "UPDATE pupils SET claim_station = ?, claim_key = ?, claim_usec = ? WHERE school = ? AND id = ?",
                    JT(j->station), JT(k->key.uid), JI(now), JT(*ret_school), JT(*ret_id));
        return r < 0 ? r : 1;
}

int journal_key_start(struct journal *j, const struct journal_key_start *k, struct journal_pupil_info **ret_pupil,
                      struct cart_error *err) {
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *info = NULL;
        _cleanup_free_ char *school = NULL, *id = NULL, *name = NULL;
        int64_t now = journal_now_usec();
        int r;

        if (!k->key.uid || (k->class_name && (!k->school || k->pupil)))
                return cart_error_set(err, -EINVAL, "journal: a key's start needs its uid, and a class its school");
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        if (k->class_name)
                r = claim(j, k, now, &school, &id, err);
        else if (k->pupil)
                r = journal_pupil_resolve(j, k->pupil, &school, &id, err);
        if (r < 0 || (r == 0 && k->class_name))
                goto done;
        if (id && ret_pupil) {
                if (asprintf(&name, "%s/%s", school, id) < 0)
                        r = -ENOMEM;
                else
                        r = journal_pupil_get(j, name, &info, err);
        }
        if (r >= 0)
                r = record_started(j, k, school, id, now, err);
        if (r >= 0)
                r = 1;
done:
        if (r <= 0) {
                journal_txn_rollback(j);
                return r;
        }
        r = journal_txn_commit(j, err);
        if (r < 0)
                return r;
        if (ret_pupil)
                *ret_pupil = TAKE_PTR(info);
        return 1;
}

int journal_batch_last_flash(struct journal *j, const char *uid, const char *release_name,
                             uint64_t release_serial, uint32_t *ret_volume_id, struct cart_error *err) {
        struct jstmt *s = NULL;
        const char *outcome, *name, *vol;
        int r;

        r = jdb_query(j, err, &s, "SELECT outcome, release_name, release_serial, volume_id FROM events "
                      "WHERE key_uid = ? AND kind IN ('flashed', 'updated', 'repaired') ORDER BY seq DESC LIMIT 1", JT(uid));
        if (r <= 0)
                return r;
        outcome = jdb_text(s, 0);
        name = jdb_text(s, 1);
        vol = jdb_text(s, 3);
        r = outcome && streq(outcome, journal_outcome_to_string(JOURNAL_OUTCOME_OK)) && name &&
            streq(name, release_name) && jdb_int64(s, 2) == (int64_t) release_serial && vol;
        if (r)
                *ret_volume_id = (uint32_t) strtoul(vol, NULL, 16);
        jdb_reset(s);
        return r;
}
