/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keys after their flash: lookups, lost/stolen/returned marks, verifications. */
#include <inttypes.h>

#include "journal/journal-internal.h"
#include "journal/journal-life.h"

struct journal_key_info *journal_key_info_free(struct journal_key_info *k) {
        if (!k)
                return NULL;
        free(k->uid);
        free(k->serial);
        free(k->volume_id);
        free(k->status);
        free(k->school);
        free(k->pupil_id);
        free(k->family_name);
        free(k->first_name);
        free(k->class_name);
        free(k->release_name);
        free(k->release_version);
        free(k->verified_outcome);
        free(k);
        return NULL;
}

int journal_key_find(struct journal *j, const char *key, struct journal_key_info **ret,
                     struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        int r;

        r = jdb_prepare(j,
                "SELECT k.uid, k.serial, k.volume_id, k.status, k.pupil_school, k.pupil_id, p.family_name, "
                "p.first_name, p.class_name, p.is_active, rl.release_name, rl.release_version, rl.release_serial, "
                "fl.time_usec, v.time_usec, v.outcome FROM keys k "
                "LEFT JOIN pupils p ON p.school = k.pupil_school AND p.id = k.pupil_id "
                "LEFT JOIN events fl ON fl.seq = (SELECT max(x.seq) FROM events x WHERE x.key_uid = k.uid "
                "AND x.kind = 'flashed' AND x.outcome = 'ok') "
                /* The release it holds: its last good flash, update or repair. */
                "LEFT JOIN events rl ON rl.seq = (SELECT max(w.seq) FROM events w WHERE w.key_uid = k.uid "
                "AND w.kind IN ('flashed', 'updated', 'repaired') AND w.outcome = 'ok') "
                "LEFT JOIN events v ON v.seq = (SELECT max(y.seq) FROM events y WHERE y.key_uid = k.uid "
                "AND y.kind = 'verified') "
                "WHERE k.uid = ? OR k.serial = ? OR k.volume_id = upper(?) "
                "ORDER BY k.uid = ? DESC, k.updated_usec DESC LIMIT 1", &s, err);
        if (r < 0)
                return r;
        for (int i = 1; i <= 4; i++)
                jdb_bind_text(s, i, key);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r == 0)
                return cart_error_set(err, -ENOENT, "key %s is not in the journal", key);
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        r = jdb_dup(s, 0, &k->uid);
        if (r >= 0) r = jdb_dup(s, 1, &k->serial);
        if (r >= 0) r = jdb_dup(s, 2, &k->volume_id);
        if (r >= 0) r = jdb_dup(s, 3, &k->status);
        if (r >= 0) r = jdb_dup(s, 4, &k->school);
        if (r >= 0) r = jdb_dup(s, 5, &k->pupil_id);
        if (r >= 0) r = jdb_dup(s, 6, &k->family_name);
        if (r >= 0) r = jdb_dup(s, 7, &k->first_name);
        if (r >= 0) r = jdb_dup(s, 8, &k->class_name);
        if (r >= 0) r = jdb_dup(s, 10, &k->release_name);
        if (r >= 0) r = jdb_dup(s, 11, &k->release_version);
        if (r >= 0) r = jdb_dup(s, 15, &k->verified_outcome);
        if (r < 0)
                return r;
        k->is_active = jdb_int64(s, 9) == 1;
        k->release_serial = jdb_int64(s, 12);
        k->flashed_usec = jdb_int64(s, 13);
        k->verified_usec = jdb_int64(s, 14);
        *ret = TAKE_PTR(k);
        return 0;
}

static int set_status(struct journal *j, const char *uid, const char *status, struct cart_error *err) {
        /* The holder stays on the key: reports count a lost key in its pupil's class. */
        return jdb_run(j, err, "UPDATE keys SET status = ?, updated_usec = ? WHERE uid = ?", JT(status),
                       JI(journal_now_usec()), JT(uid));
}

static int held_key_uid(struct journal *j, const char *pupil, char **ret, struct cart_error *err) {
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        int r;

        r = journal_pupil_get(j, pupil, &p, err);
        if (r < 0)
                return r;
        if (!p->key_uid)
                return cart_error_set(err, -ENOENT, "pupil %s/%s (%s %s) holds no key", p->school, p->id,
                                      p->family_name, p->first_name);
        *ret = strdup(p->key_uid);
        return *ret ? 0 : -ENOMEM;
}

static int mark(struct journal *j, const struct journal_mark *m, char **ret_uid, struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_free_ char *uid = NULL;
        struct journal_event_row e;
        int r;

        if (m->pupil) {
                r = held_key_uid(j, m->pupil, &uid, err);
                if (r < 0)
                        return r;
        }
        r = journal_key_find(j, uid ?: m->key, &k, err);
        if (r < 0)
                return r;
        if (streq(m->kind, "replaced") ? !(streq(k->status, "lost") || streq(k->status, "stolen"))
                                       : !streq(k->status, "issued"))
                return cart_error_set(err, -EINVAL, "key %s is %s, not %s: it cannot be marked %s", k->uid,
                                      k->status, streq(m->kind, "replaced") ? "lost or stolen" : "issued to a pupil",
                                      m->kind);
        r = set_status(j, k->uid, m->kind, err);
        if (r < 0)
                return r;
        e = (struct journal_event_row) { .kind = m->kind, .time_usec = journal_now_usec(), .operator = m->operator,
                .pupil_school = k->school, .pupil_id = k->pupil_id, .key_uid = k->uid, .key_serial = k->serial,
                .reason = m->reason, .outcome = m->outcome, .volume_id = k->volume_id,
                .release_serial = -1, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                .write_usec = -1, .read_usec = -1 };
        r = journal_event_append(j, &e, err);
        if (r < 0)
                return r;
        if (ret_uid) {
                *ret_uid = strdup(k->uid);
                if (!*ret_uid)
                        return -ENOMEM;
        }
        return 0;
}

int journal_key_mark(struct journal *j, const struct journal_mark *m, char **ret_uid,
                     struct cart_error *err) {
        int r;

        if (!m->kind || !(streq(m->kind, "lost") || streq(m->kind, "stolen") || streq(m->kind, "returned") ||
                          streq(m->kind, "replaced")))
                return cart_error_set(err, -EINVAL, "a key is marked lost, stolen, returned or replaced, not %s",
                                      m->kind ?: "(none)");
        if (streq(m->kind, "replaced") && !m->key)
                return cart_error_set(err, -EINVAL, "a lost or stolen key is marked replaced by its key");
        if (!m->pupil == !m->key)
                return cart_error_set(err, -EINVAL, "a pupil or a key, one of them");
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = mark(j, m, ret_uid, err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        return journal_txn_commit(j, err);
}

int journal_pupil_lost_key(struct journal *j, const char *pupil, char **ret, struct cart_error *err) {
        _cleanup_free_ char *school = NULL, *id = NULL;
        int r;

        *ret = NULL;
        r = journal_pupil_resolve(j, pupil, &school, &id, err);
        if (r < 0)
                return r;
        return jdb_query_text(j, err, ret, "SELECT uid FROM keys WHERE pupil_school = ? AND pupil_id = ? "
                              "AND status IN ('lost', 'stolen') ORDER BY updated_usec DESC LIMIT 1", JT(school), JT(id));
}

int journal_record_verification(struct journal *j, const struct journal_verification *v,
                                struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct journal_event_row e;
        int r;

        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = journal_key_find(j, v->key_uid, &k, err);
        if (r >= 0) {
                e = (struct journal_event_row) { .kind = "verified", .time_usec = journal_now_usec(),
                        .operator = v->operator, .key_uid = k->uid, .key_serial = k->serial,
                        .pupil_school = streq(k->status, "issued") ? k->school : NULL,
                        .pupil_id = streq(k->status, "issued") ? k->pupil_id : NULL,
                        .release_name = v->release_name, .release_version = v->release_version,
                        .release_serial = v->release_serial, .outcome = v->outcome, .message = v->message,
                        .volume_id = v->volume_id, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                        .write_usec = -1, .read_usec = -1 };
                r = journal_event_append(j, &e, err);
        }
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        return journal_txn_commit(j, err);
}

/* The checks of an issue, inside the caller's transaction (or none: a dry run). */
static int issue_check(struct journal *j, const struct journal_issue *is, struct journal_key_info **ret_key,
                       struct journal_pupil_info **ret_pupil, struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        int r;

        r = journal_key_find(j, is->key, &k, err);
        if (r < 0)
                return r;
        if (streq(k->status, "issued"))
                return cart_error_set(err, -EINVAL, "key %s is issued already, to %s/%s: it cannot be issued again",
                                      k->uid, k->school ?: "?", k->pupil_id ?: "?");
        if (!streq(k->status, "stock"))
                return cart_error_set(err, -EINVAL, "key %s is %s, not a stock key: only a key flashed for nobody "
                                      "can be issued", k->uid, k->status);
        /* Active (-ESRCH otherwise); a key held is refused below, in this command's words. */
        r = journal_pupil_for_issue(j, is->pupil, true, &p, err);
        if (r < 0)
                return r;
        if (p->key_uid)
                return cart_error_set(err, -EEXIST, "pupil %s/%s (%s %s, %s) already holds key %s: mark it lost, "
                                      "stolen or returned first", p->school, p->id, p->first_name, p->family_name,
                                      p->class_name, p->key_uid);
        *ret_key = TAKE_PTR(k);
        if (ret_pupil)
                *ret_pupil = TAKE_PTR(p);
        return 0;
}

static int issue(struct journal *j, const struct journal_issue *is, struct journal_pupil_info **ret_pupil,
                 struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        struct journal_event_row e;
        int64_t now = journal_now_usec();
        int r;

        r = issue_check(j, is, &k, &p, err);
        if (r < 0)
                return r;
        r = jdb_run(j, err, "UPDATE keys SET status = 'issued', pupil_school = ?, pupil_id = ?, updated_usec = ? "
                    "WHERE uid = ? AND status = 'stock'", JT(p->school), JT(p->id), JI(now), JT(k->uid));
        if (r < 0)
                return r;
        e = (struct journal_event_row) { .kind = "issued", .time_usec = now, .operator = is->operator,
                .pupil_school = p->school, .pupil_id = p->id, .key_uid = k->uid, .key_serial = k->serial,
                .release_name = is->release_name, .release_version = is->release_version,
                .release_serial = is->release_serial, .release_key_id = is->release_key_id,
                .volume_id = k->volume_id, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                .write_usec = -1, .read_usec = -1 };
        r = journal_event_append(j, &e, err);
        if (r < 0)
                return r;
        if (ret_pupil)
                *ret_pupil = TAKE_PTR(p);
        return 0;
}

int journal_key_issue(struct journal *j, const struct journal_issue *is, bool dry_run,
                      struct journal_pupil_info **ret_pupil, struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        int r;

        if (!is->key || !is->pupil)
                return cart_error_set(err, -EINVAL, "an issue names a key and a pupil");
        if (dry_run)
                return issue_check(j, is, &k, ret_pupil, err);
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = issue(j, is, ret_pupil, err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        return journal_txn_commit(j, err);
}

/* The event's message: what the update did, in the journal's words (a record, like a
 * verification's counts): from which release, the counts (a failure's only when it counts
 * something), the restored paths while they fit in len, then a failure's words. */
static void update_message(const struct journal_update *u, char *buf, size_t len) {
        bool is_ok = !u->outcome || streq(u->outcome, "ok");
        size_t n = 0, named = 0;

        buf[0] = 0;
        if (!u->is_repair && u->from_version)
                n = (size_t) snprintf(buf, len, "from %s (serial %" PRId64 ")", u->from_version, u->from_serial);
        if (!u->is_repair && (is_ok || u->n_put || u->n_removed || u->n_rescued) && n < len)
                n += (size_t) snprintf(buf + n, len - n, "%s%" PRIu64 " put, %" PRIu64 " removed, %" PRIu64 " rescued",
                                       n ? ": " : "", u->n_put, u->n_removed, u->n_rescued);
        if (u->is_repair && (is_ok || u->n_restored)) {
                n = (size_t) snprintf(buf, len, "%zu restored", u->n_restored);
                for (size_t i = 0; u->restored && i < u->n_restored && n < len; i++) {
                        /* Room left for the path, and for " (+N more)" after it. */
                        if (n + strlen(u->restored[i]) + 2 + 24 >= len)
                                break;
                        n += (size_t) snprintf(buf + n, len - n, "%s%s", i ? ", " : ": ", u->restored[i]);
                        named++;
                }
                if (named < u->n_restored && named > 0 && n < len)
                        n += (size_t) snprintf(buf + n, len - n, " (+%zu more)", u->n_restored - named);
        }
        if (u->failure && n < len)
                snprintf(buf + n, len - n, "%s%s", n ? "; " : "", u->failure);
}

static int record_update(struct journal *j, const struct journal_update *u, struct journal_key_info **ret_key,
                         struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct journal_event_row e;
        bool is_issued;
        char msg[1024];
        int64_t now = journal_now_usec();
        int r;

        r = journal_key_find(j, u->key, &k, err);
        if (r < 0)
                return r;
        update_message(u, msg, sizeof(msg));
        is_issued = streq(k->status, "issued");
        e = (struct journal_event_row) { .kind = u->is_repair ? "repaired" : "updated", .time_usec = now,
                .operator = u->operator, .key_uid = k->uid, .key_serial = k->serial,
                .pupil_school = is_issued ? k->school : NULL, .pupil_id = is_issued ? k->pupil_id : NULL,
                .release_name = u->release_name, .release_version = u->release_version,
                .release_serial = u->release_serial, .release_key_id = u->release_key_id,
                .outcome = u->outcome ?: journal_outcome_to_string(JOURNAL_OUTCOME_OK), .reason = u->reason,
                .message = msg[0] ? msg : NULL, .volume_id = u->volume_id ?: k->volume_id,
                .bytes_written = u->bytes_written, .bytes_read = u->bytes_read,
                .started_usec = u->started_usec > 0 ? u->started_usec : -1,
                .write_usec = u->write_usec > 0 ? u->write_usec : -1,
                .read_usec = u->read_usec > 0 ? u->read_usec : -1 };
        r = journal_event_append(j, &e, err);
        if (r < 0)
                return r;
        *ret_key = TAKE_PTR(k);
        return 0;
}

int journal_record_update(struct journal *j, const struct journal_update *u, struct journal_key_info **ret_key,
                          struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        int r;

        if (!u->key)
                return cart_error_set(err, -EINVAL, "an update names its key");
        if (u->outcome && !(streq(u->outcome, "ok") || streq(u->outcome, "failed") || streq(u->outcome, "cancelled")))
                return cart_error_set(err, -EINVAL, "an update's outcome is ok, failed or cancelled, not %s",
                                      u->outcome);
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = record_update(j, u, &k, err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        r = journal_txn_commit(j, err);
        if (r >= 0 && ret_key)
                *ret_key = TAKE_PTR(k);
        return r;
}
