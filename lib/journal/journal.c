/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal as an object: opening (the backend picked by the name), closing, the station
 * it writes as, and transactions that nest as savepoints. Portable SQL only
 * (journal-internal.h).
 */
#include <libgen.h>
#include <unistd.h>

#include "journal/journal-internal.h"

int journal_open(const char *path, const struct journal_options *o, struct journal **ret,
                 struct cart_error *err) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        char host[256] = "";
        int r;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->path = strdup(path);
        if (o && o->station && *o->station)
                j->station = strdup(o->station);
        else {
                if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
                        strcpy(host, "localhost");
                j->station = strdup(host);
        }
        if (!j->path || !j->station)
                return -ENOMEM;
        if (o && o->sign_key && !(j->sign_key_path = strdup(o->sign_key)))
                return -ENOMEM;
        j->ops = journal_is_url(path) ? &jdb_pg_ops : &jdb_sqlite_ops;
        if (o && o->create && j->ops == &jdb_sqlite_ops) {
                _cleanup_free_ char *dir = strdup(path);
                if (!dir)
                        return -ENOMEM;
                r = mkdir_parents(dirname(dir), 0755);
                if (r < 0)
                        return cart_error_errno(err, r, path, "cannot create its directory");
        }
        r = jdb_open(j, o && o->create, err);
        if (r < 0)
                return r;
        r = journal_station_bind(j, o && o->station && *o->station ? o->station : NULL, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

struct journal *journal_close(struct journal *j) {
        if (!j)
                return NULL;
        if (j->db && j->depth > 0)
                (void) jdb_exec(j, "ROLLBACK", NULL);
        jdb_close(j);
        free(j->path);
        free(j->station);
        free(j->run);
        free(j->sign_key_path);
        journal_sign_key_free(j->sign_key);
        free(j);
        return NULL;
}

int journal_schema_version(struct journal *j) {
        return j->version;
}

const char *journal_name(const struct journal *j) {
        return j->path;
}

const char *journal_station(const struct journal *j) {
        return j->station;
}

/* Transactions nest: the outer one is a real transaction, inner ones are savepoints, so
 * that one record inside a caller's batch still rolls back alone. */
int journal_txn_begin(struct journal *j, struct cart_error *err) {
        int r = j->depth == 0 ? jdb_begin(j, err) : jdb_exec(j, "SAVEPOINT nested", err);
        if (r < 0)
                return r;
        j->depth++;
        return 0;
}

int journal_txn_commit(struct journal *j, struct cart_error *err) {
        int r;

        if (j->depth == 0)
                return -EINVAL;
        r = jdb_exec(j, j->depth == 1 ? "COMMIT" : "RELEASE SAVEPOINT nested", err);
        if (r < 0) {
                journal_txn_rollback(j);
                return r;
        }
        j->depth--;
        return 0;
}

void journal_txn_rollback(struct journal *j) {
        if (j->depth == 0)
                return;
        if (j->depth == 1)
                (void) jdb_exec(j, "ROLLBACK", NULL);
        else
                (void) jdb_exec(j, "ROLLBACK TO SAVEPOINT nested; RELEASE SAVEPOINT nested", NULL);
        j->depth--;
}

int journal_begin(struct journal *j, struct cart_error *err) {
        return journal_txn_begin(j, err);
}

int journal_commit(struct journal *j, struct cart_error *err) {
        return journal_txn_commit(j, err);
}

int journal_rollback(struct journal *j) {
        if (j->depth == 0)
                return -EINVAL;
        journal_txn_rollback(j);
        return 0;
}
