/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pupils as the journal holds them: one named "ID" or "UAI/ID", listed in roster order, one
 * with the key it holds; and the claims of several stations on one class. Portable SQL only.
 */
#include <inttypes.h>

#include "journal/journal-internal.h"

int journal_pupils_settle(struct journal *j, int64_t now, struct cart_error *err) {
        int r = jdb_run(j, err, "UPDATE pupils SET is_active = 0, left_usec = leaves_usec, updated_usec = ?, "
                        "leaves_usec = NULL WHERE leaves_usec IS NOT NULL AND leaves_usec <= ? AND is_active = 1",
                        JI(now), JI(now));
        return r < 0 ? r : 0;
}

int journal_pupil_state(struct journal *j, const char *school, const char *id, struct cart_error *err) {
        int64_t is_active = 0;
        int r = jdb_query_int(j, err, &is_active, "SELECT is_active FROM pupils WHERE school = ? AND id = ?",
                              JT(school), JT(id));

        return r <= 0 ? r : is_active == 1 ? 1 : 2;
}

int journal_pupil_resolve(struct journal *j, const char *pupil, char **ret_school, char **ret_id,
                          struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *school = NULL, *id = NULL;
        const char *slash = strchr(pupil, '/');
        int r;

        if (slash) {
                school = strndup(pupil, (size_t) (slash - pupil));
                id = strdup(slash + 1);
                if (!school || !id)
                        return -ENOMEM;
                r = journal_pupil_state(j, school, id, err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_school = TAKE_PTR(school);
                        *ret_id = TAKE_PTR(id);
                        return 0;
                }
        }
        r = jdb_prepare(j, "SELECT school, id FROM pupils WHERE id = ? ORDER BY school LIMIT 2", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, pupil);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r == 0)
                return cart_error_set(err, -ENOENT, "pupil %s is not in the journal (import the roster first)", pupil);
        free(school);
        school = strdup(jdb_text(s, 0));
        if (!school)
                return -ENOMEM;
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r > 0)
                return cart_error_set(err, -ENOTUNIQ, "pupil id %s is in several schools (%s, %s...): "
                                      "name the pupil as UAI/ID", pupil, school, jdb_text(s, 0));
        *ret_school = TAKE_PTR(school);
        *ret_id = strdup(pupil);
        return *ret_id ? 0 : -ENOMEM;
}

#define PUPIL_COLUMNS \
        "SELECT p.id, p.school, p.family_name, p.first_name, p.class_name, p.is_active, p.roster_rank, " \
        "k.uid, k.serial"
#define PUPIL_FROM \
        " FROM pupils p LEFT JOIN keys k ON k.pupil_school = p.school AND k.pupil_id = p.id AND k.status = 'issued' "
#define PUPIL_SELECT PUPIL_COLUMNS ", NULL, NULL, NULL" PUPIL_FROM
/* With the release the key held holds: its last good flash, update or repair (events_by_key). */
#define PUPIL_SELECT_RELEASE PUPIL_COLUMNS ", e.release_name, e.release_version, e.release_serial" PUPIL_FROM \
        "LEFT JOIN events e ON e.seq = (SELECT max(x.seq) FROM events x WHERE x.key_uid = k.uid " \
        "AND x.kind IN ('flashed', 'updated', 'repaired') AND x.outcome = 'ok') "

static void pupil_from_row(struct jstmt *s, struct journal_pupil_row *p) {
        *p = (struct journal_pupil_row) {
                .id = jdb_text(s, 0), .school = jdb_text(s, 1), .family_name = jdb_text(s, 2),
                .first_name = jdb_text(s, 3), .class_name = jdb_text(s, 4), .is_active = jdb_int64(s, 5) == 1,
                .rank = jdb_int64(s, 6), .key_uid = jdb_text(s, 7), .key_serial = jdb_text(s, 8),
                .release_name = jdb_text(s, 9), .release_version = jdb_text(s, 10),
                .release_serial = jdb_text(s, 9) ? jdb_int64(s, 11) : -1,
        };
}

int journal_pupils_list(struct journal *j, const struct journal_pupil_filter *f,
                        journal_pupil_fn fn, void *userdata, struct cart_error *err) {
        static const struct journal_pupil_filter all = {};
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        char sql[1024];
        int r, n = 0;

        if (!f)
                f = &all;
        /* Conditions are added only when given: a NULL parameter has no type in PostgreSQL. */
        snprintf(sql, sizeof(sql), "%sWHERE 1 = 1%s%s%s%s ORDER BY p.school, p.class_name, p.roster_rank",
                 f->with_release ? PUPIL_SELECT_RELEASE : PUPIL_SELECT, f->school ? " AND p.school = ?" : "", f->class_name ? " AND p.class_name = ?" : "",
                 f->include_left && !f->without_key ? "" : " AND p.is_active = 1",
                 f->without_key ? " AND k.uid IS NULL" : "");
        r = jdb_prepare(j, sql, &s, err);
        if (r < 0)
                return r;
        if (f->school)
                jdb_bind_text(s, ++n, f->school);
        if (f->class_name)
                jdb_bind_text(s, ++n, f->class_name);
        for (;;) {
                struct journal_pupil_row p;

                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                pupil_from_row(s, &p);
                r = fn(userdata, &p);
                if (r < 0)
                        return r;
        }
}

struct journal_pupil_info *journal_pupil_info_free(struct journal_pupil_info *p) {
        if (!p)
                return NULL;
        free(p->id);
        free(p->school);
        free(p->family_name);
        free(p->first_name);
        free(p->class_name);
        free(p->key_uid);
        free(p);
        return NULL;
}

int journal_pupil_get(struct journal *j, const char *pupil, struct journal_pupil_info **ret,
                      struct cart_error *err) {
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *school = NULL, *id = NULL;
        struct journal_pupil_row row;
        int r;

        r = journal_pupil_resolve(j, pupil, &school, &id, err);
        if (r < 0)
                return r;
        r = jdb_prepare(j, PUPIL_SELECT "WHERE p.school = ? AND p.id = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, school);
        jdb_bind_text(s, 2, id);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r == 0)
                return cart_error_set(err, -ENOENT, "pupil %s is not in the journal", pupil);
        pupil_from_row(s, &row);
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->id = strdup(row.id);
        p->school = strdup(row.school);
        p->family_name = strdup(row.family_name);
        p->first_name = strdup(row.first_name);
        p->class_name = strdup(row.class_name);
        p->key_uid = row.key_uid ? strdup(row.key_uid) : NULL;
        p->is_active = row.is_active;
        if (!p->id || !p->school || !p->family_name || !p->first_name || !p->class_name || (row.key_uid && !p->key_uid))
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

int journal_pupil_for_issue(struct journal *j, const char *pupil, bool replace,
                            struct journal_pupil_info **ret, struct cart_error *err) {
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        int r;

        r = journal_pupils_settle(j, journal_now_usec(), err);
        if (r < 0)
                return r;
        r = journal_pupil_get(j, pupil, &p, err);
        if (r < 0)
                return r;
        if (!p->is_active)
                return cart_error_set(err, -ESRCH, "pupil %s/%s (%s %s, %s) has left: no key is issued to a pupil "
                                      "who left", p->school, p->id, p->first_name, p->family_name, p->class_name);
        if (p->key_uid && !replace)
                return cart_error_set(err, -EEXIST, "pupil %s/%s (%s %s, %s) already holds key %s "
                                      "(--replace to give a new one)", p->school, p->id, p->first_name,
                                      p->family_name, p->class_name, p->key_uid);
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- Several stations on one class ---- */

int journal_pupil_has_key(struct journal *j, const char *school, const char *id, struct cart_error *err) {
        int64_t n = 0;
        int r = jdb_query_int(j, err, &n, "SELECT count(*) FROM keys WHERE pupil_school = ? AND pupil_id = ? "
                              "AND status = 'issued'", JT(school), JT(id));

        return r < 0 ? r : n > 0;
}

/* On PostgreSQL a row whose claim another station committed after this statement's snapshot
 * is re-read under its lock and skipped (the claim is on the row itself); an issue committed
 * meanwhile is not on the row, so it is checked again, and the search goes on. */
int journal_claim_row(struct journal *j, const char *school, const char *class_name, int64_t expired_before,
                      char **ret_school, char **ret_id, struct cart_error *err) {
        _cleanup_free_ char *sql = NULL;
        int r;

        if (asprintf(&sql, "SELECT p.school, p.id FROM pupils p WHERE p.school = ? AND p.class_name = ? "
                     "AND p.is_active = 1 AND (p.claim_station IS NULL OR p.claim_usec < ?) "
                     "AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.pupil_school = p.school "
                     "AND k.pupil_id = p.id AND k.status = 'issued') ORDER BY p.roster_rank, p.id LIMIT 1%s",
                     jdb_lock_skip_locked(j)) < 0)
                return -ENOMEM;
        for (unsigned tries = 0; tries < 1000; tries++) {
                _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
                _cleanup_free_ char *p_school = NULL, *p_id = NULL;

                r = jdb_prepare(j, sql, &s, err);
                if (r < 0)
                        return r;
                jdb_bind_text(s, 1, school);
                jdb_bind_text(s, 2, class_name);
                jdb_bind_int64(s, 3, expired_before);
                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                p_school = strdup(jdb_text(s, 0));
                p_id = strdup(jdb_text(s, 1));
                if (!p_school || !p_id)
                        return -ENOMEM;
                jdb_finalize(TAKE_PTR(s));
                r = journal_pupil_has_key(j, p_school, p_id, err);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_school = TAKE_PTR(p_school);
                        *ret_id = TAKE_PTR(p_id);
                        return 1;
                }
        }
        return cart_error_set(err, -EBUSY, "journal: no pupil of %s/%s could be claimed", school, class_name);
}

int journal_claim_next_pupil(struct journal *j, const char *school, const char *class_name, char **ret,
                             struct cart_error *err) {
        _cleanup_free_ char *p_school = NULL, *p_id = NULL;
        int r;

        if (j->depth == 0)
                return cart_error_set(err, -EINVAL, "journal: claiming a pupil needs the caller's transaction");
        r = journal_claim_row(j, school, class_name, journal_now_usec() - JOURNAL_CLAIM_EXPIRY_USEC,
                              &p_school, &p_id, err);
        if (r <= 0)
                return r;
        if (asprintf(ret, "%s/%s", p_school, p_id) < 0)
                return -ENOMEM;
        return 1;
}

int journal_claim_release(struct journal *j, const char *uid, struct cart_error *err) {
        return jdb_run(j, err, "UPDATE pupils SET claim_station = NULL, claim_key = NULL, claim_usec = NULL "
                       "WHERE claim_station = ? AND claim_key = ?", JT(j->station), JT(uid));
}
