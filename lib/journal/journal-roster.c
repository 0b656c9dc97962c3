/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A roster import: a sync of each school the file lists, in one transaction, streamed (one
 * row read and written per pupil, nothing held per pupil in memory).
 */
#include <inttypes.h>

#include "journal/journal-internal.h"

const char *journal_change_to_string(enum journal_change c) {
        static const char *const names[] = {
                [JOURNAL_ADDED] = "added", [JOURNAL_MOVED] = "moved", [JOURNAL_RENAMED] = "renamed",
                [JOURNAL_LEFT] = "left", [JOURNAL_REJOINED] = "rejoined",
        };
        return (unsigned) c < ELEMENTSOF(names) ? names[c] : "?";
}

struct journal_sync {
        struct journal *j;
        char *source;                  /* the file being read */
        unsigned n_files;
        journal_change_fn fn;
        void *userdata;
        int64_t import_id, now, rank;
        struct journal_sync_counts counts;
        char (*schools)[16];           /* the schools this file lists: a few, not per pupil */
        size_t n_schools;
        struct jstmt *get, *ins, *upd;
        bool is_open;
};

struct journal_sync *journal_sync_free(struct journal_sync *s) {
        if (!s)
                return NULL;
        /* Statements first, so that the rollback finds none running. */
        jdb_finalize(s->get);
        jdb_finalize(s->ins);
        jdb_finalize(s->upd);
        if (s->is_open)
                journal_txn_rollback(s->j);
        free(s->schools);
        free(s->source);
        free(s);
        return NULL;
}

int journal_sync_begin(struct journal *j, const char *source, journal_change_fn fn, void *userdata,
                       struct journal_sync **ret, struct cart_error *err) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        _cleanup_(jdb_finalizep) struct jstmt *imp = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->j = j;
        s->fn = fn;
        s->userdata = userdata;
        s->now = journal_now_usec();
        s->source = strdup(source ? source : "-");
        if (!s->source)
                return -ENOMEM;
        s->n_files = 1;
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        s->is_open = true;
        r = jdb_prepare(j, "INSERT INTO imports (time_usec, source, station, n_pupils, n_added, n_moved, "
                        "n_renamed, n_left, n_rejoined) VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0) RETURNING id", &imp, err);
        if (r < 0)
                return r;
        jdb_bind_int64(imp, 1, s->now);
        jdb_bind_text(imp, 2, s->source);
        jdb_bind_text(imp, 3, j->station);
        r = jdb_step(j, imp, err);
        if (r < 0)
                return r;
        if (r == 0)
                return cart_error_set(err, -EPROTO, "%s: no import id", j->path);
        s->import_id = jdb_int64(imp, 0);
        r = jdb_step(j, imp, err);     /* finish the statement, so the row is written */
        if (r < 0)
                return r;

        r = jdb_prepare(j, "SELECT family_name, first_name, class_name, is_active, import_id, roster_line "
                        "FROM pupils WHERE school = ? AND id = ?", &s->get, err);
        if (r >= 0)
                r = jdb_prepare(j, "INSERT INTO pupils (school, id, family_name, first_name, class_name, is_active, "
                                "ine_hmac, has_derived_id, roster_rank, roster_line, import_id, created_usec, "
                                "updated_usec, left_usec, leaves_usec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                &s->ins, err);
        if (r >= 0)
                r = jdb_prepare(j, "UPDATE pupils SET family_name = ?, first_name = ?, class_name = ?, is_active = ?, "
                                "ine_hmac = ?, has_derived_id = ?, roster_rank = ?, roster_line = ?, import_id = ?, "
                                "updated_usec = ?, left_usec = CASE WHEN ? = 1 THEN NULL "
                                "ELSE coalesce(left_usec, ?) END, leaves_usec = ? WHERE school = ? AND id = ?",
                                &s->upd, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int journal_sync_next_file(struct journal_sync *s, const char *source) {
        char *p = strdup(source);
        if (!p)
                return -ENOMEM;
        free(s->source);
        s->source = p;
        s->n_files++;
        return 0;
}

/* The school's row, once per school per import. */
static int sync_school(struct journal_sync *s, const char *uai, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *st = NULL;
        void *p;
        int r;

        for (size_t i = 0; i < s->n_schools; i++)
                if (streq(s->schools[i], uai))
                        return 0;
        if (strlen(uai) >= sizeof(s->schools[0]))
                return cart_error_set(err, -EBADMSG, "school UAI \"%s\" is too long", uai);
        p = realloc(s->schools, (s->n_schools + 1) * sizeof(s->schools[0]));
        if (!p)
                return -ENOMEM;
        s->schools = p;
        snprintf(s->schools[s->n_schools++], sizeof(s->schools[0]), "%s", uai);
        r = jdb_prepare(s->j, "INSERT INTO schools (uai, created_usec, updated_usec) VALUES (?, ?, ?) "
                        "ON CONFLICT (uai) DO UPDATE SET updated_usec = excluded.updated_usec", &st, err);
        if (r < 0)
                return r;
        jdb_bind_text(st, 1, uai);
        jdb_bind_int64(st, 2, s->now);
        jdb_bind_int64(st, 3, s->now);
        r = jdb_step(s->j, st, err);
        return r < 0 ? r : 0;
}

static int notify(struct journal_sync *s, enum journal_change c, const struct journal_pupil *p,
                  const char *old_class) {
        struct journal_pupil_row row = {
                .id = p->id, .school = p->school, .family_name = p->family_name, .first_name = p->first_name,
                .class_name = p->class_name, .is_active = !p->has_left, .rank = s->rank,
        };
        return s->fn ? s->fn(s->userdata, c, &row, old_class) : 0;
}

static int bind_pupil(struct journal_sync *s, struct jstmt *st, int i, const struct journal_pupil *p) {
        jdb_bind_text(st, i, p->family_name);
        jdb_bind_text(st, i + 1, p->first_name);
        jdb_bind_text(st, i + 2, p->class_name);
        jdb_bind_int64(st, i + 3, !p->has_left);
        jdb_bind_text(st, i + 4, p->ine_hmac);
        jdb_bind_int64(st, i + 5, p->has_derived_id);
        jdb_bind_int64(st, i + 6, s->rank);
        jdb_bind_int64(st, i + 7, p->line);
        jdb_bind_int64(st, i + 8, s->import_id);
        return 0;
}

/* A leave date to come, or NULL (a NULL parameter of an UPDATE's SET has a type). */
static void bind_leaves(struct jstmt *st, int i, const struct journal_pupil *p) {
        if (!p->has_left && p->leaves_usec > 0)
                jdb_bind_int64(st, i, p->leaves_usec);
        else
                jdb_bind_null(st, i);
}

int journal_sync_pupil(struct journal_sync *s, const struct journal_pupil *p, struct cart_error *err) {
        struct journal *j = s->j;
        _cleanup_free_ char *old_family = NULL, *old_first = NULL, *old_class = NULL;
        bool was_active;
        int r;

        if (!s->is_open)
                return -EINVAL;
        if (!p->id || !*p->id || !p->school || !*p->school || !p->family_name || !p->first_name || !p->class_name)
                return cart_error_set(err, -EBADMSG, "%s:%u: pupil without id, school, name or class",
                                      s->source, p->line);
        r = sync_school(s, p->school, err);
        if (r < 0)
                return r;
        s->rank++;
        s->counts.total++;

        jdb_reset(s->get);
        jdb_bind_text(s->get, 1, p->school);
        jdb_bind_text(s->get, 2, p->id);
        r = jdb_step(j, s->get, err);
        if (r < 0)
                return r;
        if (r == 0) {
                jdb_reset(s->ins);
                jdb_bind_text(s->ins, 1, p->school);
                jdb_bind_text(s->ins, 2, p->id);
                bind_pupil(s, s->ins, 3, p);
                jdb_bind_int64(s->ins, 12, s->now);
                jdb_bind_int64(s->ins, 13, s->now);
                if (p->has_left)
                        jdb_bind_int64(s->ins, 14, s->now);
                bind_leaves(s->ins, 15, p);
                r = jdb_step(j, s->ins, err);
                if (r < 0)
                        return r;
                if (p->has_left)
                        return 0;      /* a pupil who left before we ever saw them */
                s->counts.added++;
                return notify(s, JOURNAL_ADDED, p, NULL);
        }
        if (jdb_int64(s->get, 4) == s->import_id) {
                if (p->has_derived_id)
                        return cart_error_set(err, -EBADMSG, "%s:%u: homonyms: this pupil and the one on line %" PRId64
                                              " (%s %s, school %s) have the same derived id %s; add an id column "
                                              "(or the birth dates) to the export to tell them apart",
                                              s->source, p->line, jdb_int64(s->get, 5), p->first_name,
                                              p->family_name, p->school, p->id);
                return cart_error_set(err, -EBADMSG, "%s:%u: pupil id %s (school %s) is also on line %" PRId64 "%s",
                                      s->source, p->line, p->id, p->school, jdb_int64(s->get, 5),
                                      s->n_files > 1 ? " of this file or of an earlier one of this import" : "");
        }
        old_family = strdup(jdb_text(s->get, 0));
        old_first = strdup(jdb_text(s->get, 1));
        old_class = strdup(jdb_text(s->get, 2));
        if (!old_family || !old_first || !old_class)
                return -ENOMEM;
        was_active = jdb_int64(s->get, 3) == 1;
        jdb_reset(s->get);

        jdb_reset(s->upd);
        bind_pupil(s, s->upd, 1, p);
        jdb_bind_int64(s->upd, 10, s->now);
        jdb_bind_int64(s->upd, 11, !p->has_left);
        jdb_bind_int64(s->upd, 12, s->now);
        bind_leaves(s->upd, 13, p);
        jdb_bind_text(s->upd, 14, p->school);
        jdb_bind_text(s->upd, 15, p->id);
        r = jdb_step(j, s->upd, err);
        if (r < 0)
                return r;

        if (was_active && p->has_left) {
                s->counts.left++;
                return notify(s, JOURNAL_LEFT, p, NULL);
        }
        if (p->has_left)
                return 0;
        if (!was_active) {
                s->counts.rejoined++;
                r = notify(s, JOURNAL_REJOINED, p, NULL);
                if (r < 0)
                        return r;
        }
        if (!streq(old_class, p->class_name)) {
                s->counts.moved++;
                r = notify(s, JOURNAL_MOVED, p, old_class);
                if (r < 0)
                        return r;
        }
        if (!streq(old_family, p->family_name) || !streq(old_first, p->first_name)) {
                s->counts.renamed++;
                r = notify(s, JOURNAL_RENAMED, p, NULL);
                if (r < 0)
                        return r;
        }
        if (was_active && streq(old_class, p->class_name) && streq(old_family, p->family_name) &&
            streq(old_first, p->first_name))
                s->counts.unchanged++;
        return 0;
}

/* Active pupils of a school this import did not list have left. */
static int sync_absent(struct journal_sync *s, const char *uai, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *q = NULL, *u = NULL;
        int r;

        r = jdb_prepare(s->j, "SELECT id, family_name, first_name, class_name, roster_rank FROM pupils "
                        "WHERE school = ? AND is_active = 1 AND import_id <> ? ORDER BY class_name, roster_rank",
                        &q, err);
        if (r < 0)
                return r;
        jdb_bind_text(q, 1, uai);
        jdb_bind_int64(q, 2, s->import_id);
        for (;;) {
                struct journal_pupil_row row;

                r = jdb_step(s->j, q, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                row = (struct journal_pupil_row) { .id = jdb_text(q, 0), .school = uai,
                        .family_name = jdb_text(q, 1), .first_name = jdb_text(q, 2),
                        .class_name = jdb_text(q, 3), .rank = jdb_int64(q, 4) };
                s->counts.left++;
                if (s->fn) {
                        r = s->fn(s->userdata, JOURNAL_LEFT, &row, NULL);
                        if (r < 0)
                                return r;
                }
        }
        r = jdb_prepare(s->j, "UPDATE pupils SET is_active = 0, left_usec = ?, updated_usec = ? "
                        "WHERE school = ? AND is_active = 1 AND import_id <> ?", &u, err);
        if (r < 0)
                return r;
        jdb_bind_int64(u, 1, s->now);
        jdb_bind_int64(u, 2, s->now);
        jdb_bind_text(u, 3, uai);
        jdb_bind_int64(u, 4, s->import_id);
        r = jdb_step(s->j, u, err);
        return r < 0 ? r : 0;
}

int journal_sync_finish(struct journal_sync *s, bool dry_run, struct journal_sync_counts *ret,
                        struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *u = NULL;
        int r;

        if (!s->is_open)
                return -EINVAL;
        for (size_t i = 0; i < s->n_schools; i++) {
                r = sync_absent(s, s->schools[i], err);
                if (r < 0)
                        return r;
        }
        r = jdb_prepare(s->j, "UPDATE imports SET n_pupils = ?, n_added = ?, n_moved = ?, n_renamed = ?, "
                        "n_left = ?, n_rejoined = ? WHERE id = ?", &u, err);
        if (r < 0)
                return r;
        jdb_bind_int64(u, 1, (int64_t) s->counts.total);
        jdb_bind_int64(u, 2, (int64_t) s->counts.added);
        jdb_bind_int64(u, 3, (int64_t) s->counts.moved);
        jdb_bind_int64(u, 4, (int64_t) s->counts.renamed);
        jdb_bind_int64(u, 5, (int64_t) s->counts.left);
        jdb_bind_int64(u, 6, (int64_t) s->counts.rejoined);
        jdb_bind_int64(u, 7, s->import_id);
        r = jdb_step(s->j, u, err);
        if (r < 0)
                return r;
        /* Statements must be done before the transaction ends. */
        s->get = jdb_finalize(s->get);
        s->ins = jdb_finalize(s->ins);
        s->upd = jdb_finalize(s->upd);
        u = jdb_finalize(u);
        s->is_open = false;
        if (dry_run)
                journal_txn_rollback(s->j);
        else {
                r = journal_txn_commit(s->j, err);
                if (r < 0)
                        return r;
        }
        if (ret)
                *ret = s->counts;
        return 0;
}
