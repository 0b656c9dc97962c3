/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a batch asks of the journal: a key's start recorded before it is written (with, in
 * roster mode, the claim of the class's next pupil), the keys a crashed batch left
 * interrupted, and whether a key already holds a release. Written from the batch's
 * coordinator thread only.
 */
#include <inttypes.h>

#include "journal/journal-internal.h"

/* The key's row (created "failed" when new: its old content is being destroyed) and its
 * start event, inside the caller's transaction. */
static int record_started(struct journal *j, const struct flash_report *rep, const char *uid, const char *operator,
                          const char *school, const char *id, int64_t now, struct cart_error *err) {
        struct jstmt *s = NULL;
        struct journal_event_row e;
        int r;

        /* Known keys keep their row until their end is recorded. */
        r = jdb_cached(j, "INSERT INTO keys (uid, serial, vid_pid, capacity, status, created_usec, updated_usec) "
                        "VALUES (?, ?, ?, ?, 'failed', ?, ?) ON CONFLICT (uid) DO NOTHING", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, uid);
        jdb_bind_text(s, 2, rep->key.serial[0] ? rep->key.serial : NULL);
        jdb_bind_text(s, 3, rep->key.vid_pid[0] ? rep->key.vid_pid : NULL);
        jdb_bind_int64(s, 4, (int64_t) rep->key.capacity);
        jdb_bind_int64(s, 5, now);
        jdb_bind_int64(s, 6, now);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        e = (struct journal_event_row) {
                .kind = "flashed", .time_usec = now, .operator = operator,
                .pupil_school = school, .pupil_id = id, .key_uid = uid,
                .key_serial = rep->key.serial[0] ? rep->key.serial : NULL,
                .release_name = rep->release_name[0] ? rep->release_name : NULL,
                .release_version = rep->release_version[0] ? rep->release_version : NULL,
                .release_serial = rep->release_name[0] ? (int64_t) rep->release_serial : -1,
                .release_key_id = rep->release_key_id[0] ? rep->release_key_id : NULL,
                .outcome = "started", .step = flash_step_to_string(FLASH_STEP_CHECK),
                .bytes_written = -1, .bytes_read = -1,
                .started_usec = rep->started_usec > 0 ? rep->started_usec : now,
                .write_usec = -1, .read_usec = -1, .run = j->run,
        };
        return journal_event_append(j, &e, err);
}

/* The key's uid, and a transaction begun. */
static int start_txn(struct journal *j, const struct flash_report *rep, char **ret_uid, struct cart_error *err) {
        int r = journal_key_uid(rep, ret_uid);
        return r < 0 ? r : journal_txn_begin(j, err);
}

int journal_batch_started(struct journal *j, const struct flash_report *rep, const char *operator,
                          const char *pupil, struct cart_error *err) {
        _cleanup_free_ char *uid = NULL, *school = NULL, *id = NULL;
        int r;

        r = start_txn(j, rep, &uid, err);
        if (r < 0)
                return r;
        if (pupil)
                r = journal_pupil_resolve(j, pupil, &school, &id, err);
        if (r >= 0)
                r = record_started(j, rep, uid, operator, school, id, journal_now_usec(), err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        return journal_txn_commit(j, err);
}

#define WITHOUT_KEY "FROM pupils p WHERE p.is_active = 1 AND p.school = ? AND p.class_name = ? " \
        "AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.pupil_school = p.school AND k.pupil_id = p.id " \
        "AND k.status = 'issued') "

int journal_batch_start_next(struct journal *j, const struct flash_report *rep, const char *operator,
                             const char *school, const char *class_name, struct journal_pupil_info **ret,
                             struct cart_error *err) {
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *info = NULL;
        _cleanup_free_ char *uid = NULL, *p_school = NULL, *p_id = NULL, *name = NULL;
        int64_t now = journal_now_usec();
        struct jstmt *s = NULL;
        int r;

        r = start_txn(j, rep, &uid, err);
        if (r < 0)
                return r;
        r = journal_claim_row(j, school, class_name, now - JOURNAL_CLAIM_EXPIRY_USEC, &p_school, &p_id, err);
        if (r <= 0)
                goto fail;
        r = jdb_cached(j, "UPDATE pupils SET claim_station = ?, claim_key = ?, claim_usec = ? "
                       "WHERE school = ? AND id = ?", &s, err);
        if (r < 0)
                goto fail;
        jdb_bind_text(s, 1, j->station);
        jdb_bind_text(s, 2, uid);
        jdb_bind_int64(s, 3, now);
        jdb_bind_text(s, 4, p_school);
        jdb_bind_text(s, 5, p_id);
        r = jdb_step(j, s, err);
        if (r >= 0 && asprintf(&name, "%s/%s", p_school, p_id) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = journal_pupil_get(j, name, &info, err);
        if (r >= 0)
                r = record_started(j, rep, uid, operator, p_school, p_id, now, err);
        if (r < 0)
                goto fail;
        r = journal_txn_commit(j, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(info);
        return 1;
fail:
        journal_txn_rollback(j);
        return r;
}

int journal_batch_count_without_key(struct journal *j, const char *school, const char *class_name,
                                    uint64_t *ret, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, "SELECT count(*) " WITHOUT_KEY, &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, school);
        jdb_bind_text(s, 2, class_name);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        *ret = r > 0 ? (uint64_t) jdb_int64(s, 0) : 0;
        return 0;
}

int journal_batch_last_flash(struct journal *j, const char *uid, const char *release_name,
                             uint64_t release_serial, uint32_t *ret_volume_id, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        const char *outcome, *name, *vol;
        int r;

        r = jdb_prepare(j, "SELECT outcome, release_name, release_serial, volume_id FROM events "
                        "WHERE key_uid = ? AND kind = 'flashed' ORDER BY seq DESC LIMIT 1", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, uid);
        r = jdb_step(j, s, err);
        if (r <= 0)
                return r;
        outcome = jdb_text(s, 0);
        name = jdb_text(s, 1);
        vol = jdb_text(s, 3);
        if (!outcome || !streq(outcome, flash_outcome_to_string(FLASH_OUTCOME_OK)) || !name ||
            !streq(name, release_name) || jdb_int64(s, 2) != (int64_t) release_serial || !vol)
                return 0;
        *ret_volume_id = (uint32_t) strtoul(vol, NULL, 16);
        return 1;
}
