/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the journal's unit tests share: a new journal per test on the backend under test (an
 * SQLite file, or a database of its own on the PostgreSQL server that tests/pg-server.sh
 * started and named in CARTABLE_TEST_PG_URL), and raw SQL beside lib/journal's API, as
 * someone holding the file or the database's owner role could run it. Include after
 * cmocka.h; the including file links libpq and sqlite3.
 */
#pragma once

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include "journal/journal-internal.h"

static const char *pg_url;             /* NULL: SQLite */

/* From the environment, once, in main(): which backend the tests run on. */
static inline void journal_test_backend(void) {
        pg_url = getenv("CARTABLE_TEST_PG_URL");
        if (pg_url && !*pg_url)
                pg_url = NULL;
}

/* pg_url with another database name: postgresql:///cartable?... to postgresql:///DB?... */
static inline void pg_url_for(const char *db, char *buf, size_t len) {
        const char *q = strchr(pg_url, '?');
        assert_non_null(q);
        snprintf(buf, len, "postgresql:///%s%s", db, q);
}

/* SQL on a PostgreSQL database, as the role its URL names. */
static inline void pg_exec_on(const char *url, const char *sql) {
        PGconn *c = PQconnectdb(url);
        PGresult *res;
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        res = PQexec(c, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
}

/* SQL as the server's administrator (CREATE DATABASE...). */
static inline void pg_admin(const char *sql) {
        pg_exec_on(pg_url, sql);
}

/* The name of a new, empty journal for test n: DIR/jN.db, or a new database on the server
 * (its database name in ret_db when asked). */
static inline void journal_test_name(const char *dir, int n, char *buf, size_t len, char *ret_db, size_t db_len) {
        if (pg_url) {
                char db[32], sql[64];
                snprintf(db, sizeof(db), "t%d_%d", (int) getpid(), n);
                snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
                pg_admin(sql);
                pg_url_for(db, buf, len);
                if (ret_db)
                        snprintf(ret_db, db_len, "%s", db);
        } else {
                snprintf(buf, len, "%s/j%d.db", dir, n);
                if (ret_db)
                        ret_db[0] = 0;
        }
}

/* The next test's new journal, in dir (a mkdtemp template, made the first time). */
static inline void journal_test_next(char *dir, char *buf, size_t len, char *ret_db, size_t db_len) {
        static int n;
        static bool has_dir;
        if (!has_dir)
                assert_non_null(mkdtemp(dir));
        has_dir = true;
        journal_test_name(dir, ++n, buf, len, ret_db, db_len);
}

/* Raw SQL on an open journal's connection (outside any transaction of the API). */
static inline void raw_exec(struct journal *j, const char *sql) {
        struct cart_error err = {};
        if (jdb_exec(j, sql, &err) < 0)
                fail_msg("%s: %s", sql, err.msg);
}

/* The first column of the first row of sql, -1 for NULL. */
static inline int64_t raw_count(struct journal *j, const char *sql) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        struct cart_error err = {};
        if (jdb_prepare(j, sql, &s, &err) < 0 || jdb_step(j, s, &err) != 1)
                fail_msg("%s: %s", sql, err.msg);
        return jdb_int64(s, 0);
}

/* Raw SQL on the journal named, with no journal open: an SQLite file as it lies, or a
 * PostgreSQL database as its owner (the append-only trigger lets the owner through). */
static inline void raw_name_exec(const char *name, const char *sql) {
        if (journal_is_url(name)) {
                pg_exec_on(name, sql);
                return;
        }
        sqlite3 *db;
        char *msg = NULL;
        assert_int_equal(sqlite3_open(name, &db), SQLITE_OK);
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
                fail_msg("%s: %s", sql, msg);
        sqlite3_close(db);
}

/* The first column of the first row of sql (a whole number or a comparison), read the
 * same way. */
static inline int64_t raw_name_int(const char *name, const char *sql) {
        int64_t v;
        if (journal_is_url(name)) {
                PGconn *c = PQconnectdb(name);
                PGresult *res;
                assert_int_equal(PQstatus(c), CONNECTION_OK);
                res = PQexec(c, sql);
                if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
                        fail_msg("%s: %s", sql, PQerrorMessage(c));
                /* A comparison reads t or f on PostgreSQL, 1 or 0 on SQLite. */
                v = streq(PQgetvalue(res, 0, 0), "t") ? 1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                PQclear(res);
                PQfinish(c);
                return v;
        }
        sqlite3 *db;
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_open(name, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return v;
}

/* Column col of every row of sql, each followed by end, read the same way (free it). */
static inline char *raw_name_rows(const char *name, const char *sql, int col, const char *end) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        if (journal_is_url(name)) {
                PGconn *c = PQconnectdb(name);
                PGresult *res;
                assert_int_equal(PQstatus(c), CONNECTION_OK);
                res = PQexec(c, sql);
                if (PQresultStatus(res) != PGRES_TUPLES_OK)
                        fail_msg("%s: %s", sql, PQerrorMessage(c));
                for (int row = 0; row < PQntuples(res); row++)
                        fprintf(f, "%s%s", PQgetvalue(res, row, col), end);
                PQclear(res);
                PQfinish(c);
        } else {
                sqlite3 *db;
                sqlite3_stmt *s;
                assert_int_equal(sqlite3_open(name, &db), SQLITE_OK);
                if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
                        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
                while (sqlite3_step(s) == SQLITE_ROW)
                        fprintf(f, "%s%s", (const char *) sqlite3_column_text(s, col), end);
                sqlite3_finalize(s);
                sqlite3_close(db);
        }
        assert_int_equal(fclose(f), 0);
        return out;
}

/* In a test that holds for SQLite files only (PRAGMAs, the file's bytes, sqlite_master). */
#define SQLITE_ONLY() do { if (pg_url) skip(); } while (0)
