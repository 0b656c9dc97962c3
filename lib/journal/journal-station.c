/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Registered stations (schema v7): the journal's owner names each station, its database
 * role, its schools and its public key. A session whose role is a registered station's
 * writes as that station whatever its configuration says; on PostgreSQL the server holds
 * the role to it (events_station, row-level security: journal-schema.c) and
 * cartable_station_grant() gives the role its rights. Portable SQL only, but for the calls
 * of those two server functions, made only on a backend with roles.
 */
#include "journal/journal-internal.h"

static void strings_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static bool has_roles(const struct journal *j) {
        return j->ops->session_role_sql != NULL;
}

int journal_station_bind(struct journal *j, const char *o_station, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *role = NULL, *name = NULL;
        int r;

        if (!has_roles(j) || j->version < 6)
                return 0;
        r = jdb_prepare(j, j->ops->session_role_sql, &s, err);
        if (r < 0)
                return r;
        r = jdb_step(j, s, err);
        if (r <= 0)
                return r;
        r = jdb_dup(s, 0, &role);
        if (r < 0)
                return r;
        jdb_finalize(TAKE_PTR(s));
        r = jdb_prepare(j, "SELECT name FROM stations WHERE role = ? AND removed_usec IS NULL", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, role);
        r = jdb_step(j, s, err);
        if (r <= 0)
                return r;      /* not a station's role: the owner's, or one with no rights */
        r = jdb_dup(s, 0, &name);
        if (r < 0)
                return r;
        if (o_station && !streq(o_station, name))
                return cart_error_set(err, -EPERM, "%s: role %s is registered as station %s, not %s: "
                                      "set [station] name = %s, or leave it out", j->path, role, name, o_station, name);
        free(j->station);
        j->station = TAKE_PTR(name);
        return 0;
}

/* One of the server's functions that grant or revoke a role's rights (PostgreSQL). */
static int role_call(struct journal *j, const char *sql, const char *role, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r = jdb_prepare(j, sql, &s, err);
        if (r >= 0)
                r = jdb_bind(s, JT(role));
        if (r >= 0)
                r = jdb_step(j, s, err);
        return r < 0 ? r : 0;
}

int journal_station_add(struct journal *j, const struct journal_station *st, struct cart_error *err) {
        int64_t n = 0, now = journal_now_usec();
        int r;

        if (!st->name || !*st->name || (has_roles(j) && (!st->role || !*st->role)))
                return cart_error_set(err, -EINVAL, "a station needs a name and, on PostgreSQL, a role");
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = jdb_query_int(j, err, &n, "SELECT count(*) FROM stations WHERE name = ? OR (role = ? AND "
                          "removed_usec IS NULL)", JT(st->name), JT(st->role));
        if (r >= 0 && n > 0)
                r = cart_error_set(err, -EEXIST, "a station named %s, or a registered station with role %s, is "
                                   "already there (journal station list)", st->name, st->role ? st->role : "-");
        /* Its events written before it was registered carry no signature: from the next on. */
        if (r >= 0)
                r = jdb_query_int(j, err, &n, "SELECT coalesce(max(station_seq), 0) FROM events WHERE station = ?",
                                  JT(st->name));
        if (r >= 0)
                r = jdb_run(j, err, "INSERT INTO stations (name, role, public_key, signed_from, added_usec) "
                            "VALUES (?, ?, ?, ?, ?)", JT(st->name), JT(st->role), JT(st->public_key), JI(n + 1),
                            JI(now));
        for (size_t i = 0; r >= 0 && i < st->n_schools; i++)
                r = jdb_run(j, err, "INSERT INTO station_schools (station, school) VALUES (?, ?) "
                            "ON CONFLICT DO NOTHING", JT(st->name), JT(st->schools[i]));
        if (r >= 0 && has_roles(j))
                r = role_call(j, "SELECT cartable_station_grant(?)", st->role, err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        return journal_txn_commit(j, err);
}

int journal_station_remove(struct journal *j, const char *name, struct cart_error *err) {
        _cleanup_free_ char *role = NULL;
        int r;

        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        r = jdb_query_text(j, err, &role, "SELECT coalesce(role, '') FROM stations WHERE name = ? AND "
                           "removed_usec IS NULL", JT(name));
        if (r == 0)
                r = cart_error_set(err, -ENOENT, "no registered station named %s (journal station list)", name);
        if (r >= 0)
                r = jdb_run(j, err, "UPDATE stations SET removed_usec = ? WHERE name = ?", JI(journal_now_usec()),
                            JT(name));
        if (r >= 0 && has_roles(j) && role && *role)
                r = role_call(j, "SELECT cartable_station_revoke(?)", role, err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        return journal_txn_commit(j, err);
}

/* A station's schools, read before its row is handed on (one statement at a time). */
static int station_schools(struct journal *j, const char *name, char ***ret, size_t *ret_n, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        char **v = NULL;
        size_t n = 0;
        int r;

        r = jdb_prepare(j, "SELECT school FROM station_schools WHERE station = ? ORDER BY school", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, name);
        while ((r = jdb_step(j, s, err)) > 0) {
                char **a = reallocarray(v, n + 1, sizeof(*v));
                if (!a || !(a[n] = strdup(jdb_text(s, 0)))) {
                        r = -ENOMEM;
                        v = a ? a : v;
                        break;
                }
                v = a;
                n++;
        }
        if (r < 0) {
                strings_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

struct station_rows {
        struct journal_station *v;
        size_t n;
};

static void station_rows_free(struct station_rows *rows) {
        for (size_t i = 0; i < rows->n; i++) {
                free((char *) rows->v[i].name);
                free((char *) rows->v[i].role);
                free((char *) rows->v[i].public_key);
                strings_free((char **) rows->v[i].schools, rows->v[i].n_schools);
        }
        free(rows->v);
}

int journal_stations_list(struct journal *j, journal_station_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_(station_rows_free) struct station_rows rows = {};
        int r;

        r = jdb_prepare(j, "SELECT name, role, public_key, signed_from, added_usec, removed_usec FROM stations "
                        "ORDER BY name", &s, err);
        if (r < 0)
                return r;
        while ((r = jdb_step(j, s, err)) > 0) {
                struct journal_station *a = reallocarray(rows.v, rows.n + 1, sizeof(*a));
                if (!a)
                        return -ENOMEM;
                rows.v = a;
                a[rows.n] = (struct journal_station) { .signed_from = jdb_int64(s, 3), .added_usec = jdb_int64(s, 4),
                                                       .removed_usec = jdb_int64(s, 5) };
                if (jdb_dup(s, 0, (char **) &a[rows.n].name) < 0 || jdb_dup(s, 1, (char **) &a[rows.n].role) < 0 ||
                    jdb_dup(s, 2, (char **) &a[rows.n].public_key) < 0) {
                        rows.n++;
                        return -ENOMEM;
                }
                rows.n++;
        }
        if (r < 0)
                return r;
        jdb_finalize(TAKE_PTR(s));
        for (size_t i = 0; i < rows.n; i++) {
                r = station_schools(j, rows.v[i].name, (char ***) &rows.v[i].schools, &rows.v[i].n_schools, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < rows.n; i++) {
                r = fn(userdata, &rows.v[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}
