/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The database seam: each jdb_* call goes to the journal's backend (journal-sqlite.c or
 * journal-pg.c), and a statement to the backend that prepared it, so that one process can
 * hold journals of both kinds at once (journal merge).
 */
#include <time.h>

#include "journal/journal-internal.h"

int64_t journal_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool journal_is_url(const char *name) {
        return name && (strncmp(name, "postgresql://", 13) == 0 || strncmp(name, "postgres://", 11) == 0);
}

/* Transactions end with every statement done: the cached ones are reset first. */
static void reset_cached(struct journal *j) {
        for (size_t i = 0; i < JDB_N_CACHED && j->cached[i].s; i++)
                j->ops->reset(j->cached[i].s);
}

/* A lost connection's statements went with it (PostgreSQL), and a closing one's go. */
static void finalize_cached(struct journal *j) {
        for (size_t i = 0; i < JDB_N_CACHED; i++) {
                jdb_finalize(j->cached[i].s);
                j->cached[i].s = NULL;
                j->cached[i].sql = NULL;
        }
}

int jdb_exec(struct journal *j, const char *sql, struct cart_error *err) {
        reset_cached(j);
        return j->ops->exec(j, sql, err);
}

int jdb_prepare(struct journal *j, const char *sql, struct jstmt **ret, struct cart_error *err) {
        return j->ops->prepare(j, sql, false, ret, err);
}

int jdb_cached(struct journal *j, const char *sql, struct jstmt **ret, struct cart_error *err) {
        size_t i;
        int r;

        for (i = 0; i < JDB_N_CACHED && j->cached[i].s; i++)
                if (j->cached[i].sql == sql) {
                        j->ops->reset(j->cached[i].s);
                        *ret = j->cached[i].s;
                        return 0;
                }
        if (i == JDB_N_CACHED)
                return cart_error_set(err, -E2BIG, "journal: more than %d cached statements", JDB_N_CACHED);
        r = j->ops->prepare(j, sql, true, ret, err);
        if (r < 0)
                return r;
        j->cached[i].sql = sql;
        j->cached[i].s = *ret;
        return 0;
}

struct jstmt *jdb_finalize(struct jstmt *s) {
        if (s)
                s->ops->finalize(s);
        return NULL;
}

int jdb_bind_text(struct jstmt *s, int i, const char *v) {
        return s->ops->bind_text(s, i, v);
}

int jdb_bind_int64(struct jstmt *s, int i, int64_t v) {
        return s->ops->bind_int64(s, i, v);
}

int jdb_bind_null(struct jstmt *s, int i) {
        return s->ops->bind_null(s, i);
}

int jdb_step(struct journal *j, struct jstmt *s, struct cart_error *err) {
        if (j->trace) {
                const char *const *params = NULL;
                int n = s->ops->params(s, &params);
                j->trace(j->trace_userdata, s->ops->sql(s), n, params);
        }
        return s->ops->step(j, s, err);
}

int jdb_reset(struct jstmt *s) {
        return s->ops->reset(s);
}

int jdb_bind_args(struct jstmt *s, const struct jdb_arg *a, size_t n) {
        int r = 0;

        if ((size_t) s->ops->n_params(s) != n)
                return -EINVAL;
        for (size_t i = 0; i < n && r >= 0; i++) {
                int at = (int) i + 1;
                if (a[i].type == JDB_ARG_TEXT)
                        r = s->ops->bind_text(s, at, a[i].text);
                else if (a[i].type == JDB_ARG_INT_OR_NULL && a[i].i < 0)
                        r = s->ops->bind_null(s, at);
                else
                        r = s->ops->bind_int64(s, at, a[i].i);
        }
        return r;
}

int jdb_query_args(struct journal *j, struct cart_error *err, struct jstmt **ret, const char *sql,
                   const struct jdb_arg *a, size_t n) {
        struct jstmt *s = NULL;
        int r;

        r = jdb_cached(j, sql, &s, err);
        if (r < 0)
                return r;
        r = jdb_bind_args(s, a, n);
        if (r < 0)
                return cart_error_set(err, r, "journal: %zu parameters for: %s", n, sql);
        *ret = s;
        return jdb_step(j, s, err);
}

int jdb_run_args(struct journal *j, struct cart_error *err, const char *sql, const struct jdb_arg *a, size_t n) {
        struct jstmt *s = NULL;
        int r = jdb_query_args(j, err, &s, sql, a, n);

        if (r > 0)
                jdb_reset(s);
        return r < 0 ? r : 0;
}

int jdb_dup(struct jstmt *s, int col, char **ret) {
        const char *v = jdb_text(s, col);

        *ret = v ? strdup(v) : NULL;
        return !v || *ret ? 0 : -ENOMEM;
}

int jdb_query_text_args(struct journal *j, struct cart_error *err, char **ret, const char *sql,
                        const struct jdb_arg *a, size_t n) {
        struct jstmt *s = NULL;
        int r = jdb_query_args(j, err, &s, sql, a, n);

        *ret = NULL;
        if (r <= 0)
                return r;
        r = jdb_dup(s, 0, ret);
        jdb_reset(s);       /* holds no read snapshot once read */
        return r < 0 ? r : 1;
}

int jdb_query_int_args(struct journal *j, struct cart_error *err, int64_t *ret, const char *sql,
                       const struct jdb_arg *a, size_t n) {
        struct jstmt *s = NULL;
        int r = jdb_query_args(j, err, &s, sql, a, n);

        if (r <= 0)
                return r;
        *ret = jdb_int64(s, 0);
        jdb_reset(s);
        return 1;
}

const char *jdb_text(struct jstmt *s, int col) {
        return s->ops->text(s, col);
}

bool jdb_is_null(struct jstmt *s, int col) {
        return s->ops->is_null(s, col);
}

int64_t jdb_int64(struct jstmt *s, int col) {
        return s->ops->int64(s, col);
}

int64_t jdb_changes(struct journal *j) {
        return j->ops->changes(j);
}

int jdb_begin(struct journal *j, struct cart_error *err) {
        reset_cached(j);
        return j->ops->begin(j, err);
}

/* PostgreSQL: nothing to set per connection; its checkpoint (VACUUM FULL) rewrites the
 * tables without the purged rows' old versions. */
int jdb_secure_delete(struct journal *j, struct cart_error *err) {
        reset_cached(j);
        return j->ops->secure_delete ? j->ops->secure_delete(j, err) : 0;
}

int jdb_checkpoint(struct journal *j, struct cart_error *err) {
        reset_cached(j);
        return j->ops->checkpoint ? j->ops->checkpoint(j, err) : 0;
}

int journal_reconnect(struct journal *j, struct cart_error *err) {
        int r;

        if (!j->ops->reconnect)
                return -EOPNOTSUPP;
        /* Whatever was open died with the connection. */
        j->depth = 0;
        finalize_cached(j);
        r = j->ops->reconnect(j, err);
        /* The run's lock died with the connection: taken again at once. Not taken means the
         * old connection's server process still holds it (it has not seen the loss yet):
         * the run stays alive to others all the same. */
        if (r >= 0 && j->run)
                (void) j->ops->run_lock(j, j->run, NULL);
        return r;
}

int jdb_lock_chain(struct journal *j, const char *station, struct cart_error *err) {
        return j->ops->lock_chain ? j->ops->lock_chain(j, station, err) : 0;
}

const char *jdb_lock_skip_locked(struct journal *j) {
        return j->ops->lock_skip_locked;
}

int jdb_open(struct journal *j, bool create, struct cart_error *err) {
        return j->ops->open(j, create, err);
}

void jdb_close(struct journal *j) {
        finalize_cached(j);
        if (j->db)
                j->ops->close(j);
}

int journal_migrate(struct journal *j, const struct journal_migration *m, size_t n, struct cart_error *err) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
                int r;

                if (m[i].version <= j->version)
                        continue;
                if (m[i].version != j->version + 1)
                        return cart_error_set(err, -EPROTO, "%s: no migration from schema version %d to %d",
                                              j->path, j->version, m[i].version);
                r = jdb_begin(j, err);
                if (r < 0)
                        return r;
                /* Another process may have migrated the journal since it was opened (two
                 * stations creating one journal at once): look again inside the transaction. */
                r = j->ops->read_version(j, err);
                if (r >= m[i].version) {
                        j->version = r;
                        r = jdb_exec(j, "ROLLBACK", err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r >= 0)
                        r = jdb_exec(j, m[i].sql, err);
                if (r >= 0)
                        r = jdb_prepare(j, "INSERT INTO schema_version (version, applied_usec) VALUES (?, ?)", &s, err);
                if (r >= 0) {
                        jdb_bind_int64(s, 1, m[i].version);
                        jdb_bind_int64(s, 2, journal_now_usec());
                        r = jdb_step(j, s, err);
                }
                jdb_finalize(TAKE_PTR(s));
                if (r >= 0)
                        r = jdb_exec(j, "COMMIT", err);
                if (r < 0) {
                        (void) jdb_exec(j, "ROLLBACK", NULL);
                        return cart_error_prefix(err, r, "migration to schema version %d", m[i].version);
                }
                j->version = m[i].version;
        }
        return 0;
}

int journal_check_version(struct journal *j, struct cart_error *err) {
        if (j->version > JOURNAL_SCHEMA_VERSION)
                return cart_error_set(err, -EPROTONOSUPPORT,
                                      "%s: journal schema version %d is newer than this cartable's (%d): "
                                      "use a newer cartable; the journal was left untouched",
                                      j->path, j->version, JOURNAL_SCHEMA_VERSION);
        return 0;
}
