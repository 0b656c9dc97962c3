/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite backend: the only file of the journal that knows SQLite. Opening checks the
 * schema version before anything writes (a refused file stays byte for byte as it was),
 * then sets WAL, synchronous=FULL (a committed event survives a power cut), foreign keys
 * and a busy timeout, and runs the forward migrations.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "base/file-trust.h"
#include "journal/journal-internal.h"

#define BUSY_TIMEOUT_MS 10000

struct sqlite_stmt {
        struct jstmt base;
        sqlite3_stmt *s;
};

static sqlite3_stmt *ST(struct jstmt *s) {
        return ((struct sqlite_stmt *) s)->s;
}

struct jdb {
        sqlite3 *db;
        int run_fd;                    /* the batch run's lock file, held (flock) while open */
        char *run_file;
};

static sqlite3 *handle(struct journal *j) {
        return j->db->db;
}

static int sqlite_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY: case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_IOERR:
                return -EIO;
        case SQLITE_CORRUPT: case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        default:
                return -EPROTO;
        }
}

static int db_fail(struct journal *j, int rc, struct cart_error *err) {
        int r = sqlite_errno(rc);
        return cart_error_set(err, r < 0 ? r : -EPROTO, "%s: %s", j->path, sqlite3_errmsg(handle(j)));
}

static int sq_exec(struct journal *j, const char *sql, struct cart_error *err) {
        int rc = sqlite3_exec(handle(j), sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : db_fail(j, rc, err);
}

static int sq_prepare(struct journal *j, const char *sql, bool is_cached _unused_, struct jstmt **ret,
                      struct cart_error *err) {
        struct sqlite_stmt *st;
        sqlite3_stmt *s;
        int rc = sqlite3_prepare_v2(handle(j), sql, -1, &s, NULL);
        if (rc != SQLITE_OK)
                return db_fail(j, rc, err);
        st = calloc(1, sizeof(*st));
        if (!st) {
                sqlite3_finalize(s);
                return -ENOMEM;
        }
        st->base.ops = &jdb_sqlite_ops;
        st->s = s;
        *ret = &st->base;
        return 0;
}

static void sq_finalize(struct jstmt *s) {
        sqlite3_finalize(ST(s));
        free(s);
}

static int sq_bind_text(struct jstmt *s, int i, const char *v) {
        int rc = v ? sqlite3_bind_text(ST(s), i, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(ST(s), i);
        return sqlite_errno(rc);
}

static int sq_bind_int64(struct jstmt *s, int i, int64_t v) {
        return sqlite_errno(sqlite3_bind_int64(ST(s), i, v));
}

static int sq_bind_null(struct jstmt *s, int i) {
        return sqlite_errno(sqlite3_bind_null(ST(s), i));
}

static int sq_step(struct journal *j, struct jstmt *s, struct cart_error *err) {
        int rc = sqlite3_step(ST(s));
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return db_fail(j, rc, err);
}

static int sq_reset(struct jstmt *s) {
        sqlite3_reset(ST(s));
        return sqlite_errno(sqlite3_clear_bindings(ST(s)));
}

static const char *sq_text(struct jstmt *s, int col) {
        return (const char *) sqlite3_column_text(ST(s), col);
}

static bool sq_is_null(struct jstmt *s, int col) {
        return sqlite3_column_type(ST(s), col) == SQLITE_NULL;
}

static int64_t sq_int64(struct jstmt *s, int col) {
        return sq_is_null(s, col) ? -1 : sqlite3_column_int64(ST(s), col);
}

static const char *sq_sql(struct jstmt *s) {
        return sqlite3_sql(ST(s));
}

static int sq_n_params(struct jstmt *s) {
        return sqlite3_bind_parameter_count(ST(s));
}

static int sq_params(struct jstmt *s _unused_, const char *const **ret) {
        *ret = NULL;
        return 0;
}

static int64_t sq_changes(struct journal *j) {
        return sqlite3_changes64(handle(j));
}

static int sq_secure_delete(struct journal *j, struct cart_error *err) {
        return sq_exec(j, "PRAGMA secure_delete = ON", err);
}

/* A reader's open transaction holds pages of the log that the checkpoint may not copy back:
 * the erased bytes then stay in PATH-wal, and the purge must not say they are gone. */
static int sq_checkpoint(struct journal *j, struct cart_error *err) {
        int n_log = -1, n_copied = -1;
        int rc = sqlite3_wal_checkpoint_v2(handle(j), NULL, SQLITE_CHECKPOINT_TRUNCATE, &n_log, &n_copied);

        if ((rc & 0xff) == SQLITE_BUSY || (rc == SQLITE_OK && n_log > 0 && n_copied < n_log)) {
                cart_error_reason_set(err, -EBUSY, CART_REASON_CHECKPOINT_INCOMPLETE, j->path);
                err->value = (uint64_t) MAX(n_log - n_copied, 0);
                return -EBUSY;
        }
        return rc == SQLITE_OK ? 0 : db_fail(j, rc, err);
}

static int sq_begin(struct journal *j, struct cart_error *err) {
        return sq_exec(j, "BEGIN IMMEDIATE", err);
}

/* The journal's schema version: 0 for an empty file; -EBADMSG for a file that holds
 * tables but is not a journal. Reads only. */
static int read_version(struct journal *j, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int64_t n_tables, has_version;
        int r;

        r = jdb_prepare(j, "SELECT count(*), sum(name = 'schema_version') FROM sqlite_master", &s, err);
        if (r < 0)
                return r;
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        n_tables = jdb_int64(s, 0);
        has_version = jdb_int64(s, 1);
        if (n_tables == 0)
                return 0;
        if (has_version != 1)
                return cart_error_set(err, -EBADMSG, "%s: an SQLite database but not a cartable journal (no schema_version table)", j->path);
        jdb_finalize(TAKE_PTR(s));
        r = jdb_prepare(j, "SELECT max(version) FROM schema_version", &s, err);
        if (r < 0)
                return r;
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (jdb_is_null(s, 0) || jdb_int64(s, 0) < 1 || jdb_int64(s, 0) > INT32_MAX)
                return cart_error_set(err, -EBADMSG, "%s: not a cartable journal (no valid schema version)", j->path);
        return (int) jdb_int64(s, 0);
}

/*
 * The first write: WAL is a property of the file. The switch reads the header under a
 * shared lock, then upgrades to write it; two processes switching a new file at once each
 * hold the shared lock the other must wait out, so SQLite answers one of them SQLITE_BUSY
 * at once, without calling the busy handler (waiting there would deadlock). It then gives
 * up its lock, the other switches the file, and the switch tried again finds it done: so it
 * is retried for as long as the busy timeout. SQLite refusing WAL (a file system without
 * shared memory) answers the mode it kept: refused too.
 */
static int set_wal(struct journal *j, struct cart_error *err) {
        for (int waited = 0;; waited += 10) {
                sqlite3_stmt *s;
                int rc = sqlite3_prepare_v2(handle(j), "PRAGMA journal_mode = WAL", -1, &s, NULL);
                const char *mode;
                bool is_wal;

                if (rc != SQLITE_OK)
                        return db_fail(j, rc, err);
                rc = sqlite3_step(s);
                mode = rc == SQLITE_ROW ? (const char *) sqlite3_column_text(s, 0) : NULL;
                /* An in-memory journal (a dry run's) has no file to log beside. */
                is_wal = mode && (strcasecmp(mode, "wal") == 0 || strcasecmp(mode, "memory") == 0);
                if (rc != SQLITE_ROW && ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS))
                        rc = db_fail(j, rc, err);
                sqlite3_finalize(s);
                if (rc < 0)
                        return rc;
                if (rc == SQLITE_ROW)
                        return is_wal ? 0 : cart_error_set(err, -EIO, "%s: the file cannot be put in write-ahead "
                                                           "log mode (WAL)", j->path);
                sqlite3_sleep(10);
        }
}

/* The journal file, and the log files SQLite keeps beside it, are this user's, reached
 * without a symbolic link and writable by nobody else (file-trust.h); a new journal is
 * created 0600 here, never through a link, before SQLite opens it. */
static int check_file(struct journal *j, bool create, struct cart_error *err) {
        static const char *const suffixes[] = { "-wal", "-shm" };
        int fd;

        if (streq(j->path, ":memory:"))
                return 0;
        fd = file_open_trusted(j->path, O_RDONLY, S_IFREG, err);
        if (fd == -ENOENT && create) {
                if (err)
                        memset(err, 0, sizeof(*err));
                fd = file_create_private(j->path, O_RDWR, 0600, err);
                if (fd == -EEXIST) {       /* another process created it meanwhile */
                        if (err)
                                memset(err, 0, sizeof(*err));
                        fd = file_open_trusted(j->path, O_RDONLY, S_IFREG, err);
                }
        }
        if (fd == -ENOENT)
                return cart_error_errno(err, fd, j->path, "no such journal: create it with cartable journal init, "
                                        "or import a roster");
        if (fd < 0)
                return fd;
        close(fd);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s%s", j->path, suffixes[i]) < 0)
                        return -ENOMEM;
                fd = file_open_trusted(p, O_RDONLY, S_IFREG, err);
                if (fd == -ENOENT) {
                        if (err)
                                memset(err, 0, sizeof(*err));
                        continue;
                }
                if (fd < 0)
                        return fd;
                close(fd);
        }
        return 0;
}

static int sq_open(struct journal *j, bool create, struct cart_error *err) {
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
        int rc, r;

        j->db = calloc(1, sizeof(*j->db));
        if (!j->db)
                return -ENOMEM;
        j->db->run_fd = -EBADF;
        r = check_file(j, create, err);
        if (r < 0)
                return r;
        rc = sqlite3_open_v2(j->path, &j->db->db, flags, NULL);
        if (rc != SQLITE_OK) {
                r = sqlite_errno(rc);
                return cart_error_set(err, r < 0 ? r : -EIO, "%s: %s", j->path,
                                      j->db->db ? sqlite3_errmsg(j->db->db) : sqlite3_errstr(rc));
        }
        sqlite3_extended_result_codes(j->db->db, 0);
        sqlite3_busy_timeout(j->db->db, BUSY_TIMEOUT_MS);

        /* Connection settings only: none of them writes to the file. */
        r = jdb_exec(j, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; "
                     "PRAGMA cache_size = -16384", err);
        if (r >= 0)
                r = read_version(j, err);
        if (r == -EBADMSG && sqlite3_errcode(handle(j)) == SQLITE_NOTADB)
                return cart_error_set(err, r, "%s: not an SQLite database, so not a cartable journal", j->path);
        if (r < 0)
                return r;
        j->version = r;
        r = journal_check_version(j, err);
        if (r < 0)
                return r;
        r = set_wal(j, err);
        if (r < 0)
                return r;
        return journal_migrate(j, journal_migrations, journal_n_migrations, err);
}

/* A batch run's lock: the file RUN in the directory "PATH-runs" beside the journal, where
 * every process that opens the journal looks, whatever its configuration; flock(2) holds it
 * until the process ends, however it ends. Removed on close (a killed run's stays, free). */
static int run_file(struct journal *j, const char *run, bool is_dir, char **ret) {
        return asprintf(ret, "%s-runs%s%s", j->path, is_dir ? "" : "/", is_dir ? "" : run) < 0 ? -ENOMEM : 0;
}

static bool is_in_memory(const struct journal *j) {
        return streq(j->path, ":memory:");
}

static int sq_run_lock(struct journal *j, const char *run, struct cart_error *err) {
        _cleanup_free_ char *dir = NULL, *file = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (is_in_memory(j))
                return 1;      /* no other process sees it */
        r = run_file(j, run, true, &dir);
        if (r >= 0)
                r = run_file(j, run, false, &file);
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return cart_error_errno(err, -errno, dir, "cannot create");
        fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return errno == EEXIST ? 0 : cart_error_errno(err, -errno, file, "cannot create");
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 0 : cart_error_errno(err, -errno, file, "flock");
        j->db->run_fd = TAKE_FD(fd);
        j->db->run_file = TAKE_PTR(file);
        return 1;
}

/* Alive while its file is locked. A free file is a killed run's: it goes (a run never comes
 * back, and one that has not locked its file yet has no start to be looked up by). */
static int sq_run_is_alive(struct journal *j, const char *run, struct cart_error *err) {
        _cleanup_free_ char *file = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (is_in_memory(j))
                return 0;
        r = run_file(j, run, false, &file);
        if (r < 0)
                return r;
        fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : cart_error_errno(err, -errno, file, "cannot open");
        if (flock(fd, LOCK_SH | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 1 : cart_error_errno(err, -errno, file, "flock");
        (void) unlink(file);
        return 0;
}

static void sq_close(struct journal *j) {
        if (j->db->run_fd >= 0) {
                (void) unlink(j->db->run_file);      /* before the lock goes: never seen free */
                close(j->db->run_fd);
        }
        free(j->db->run_file);
        sqlite3_close(j->db->db);
        free(j->db);
        j->db = NULL;
}

const struct jdb_ops jdb_sqlite_ops = {
        .name = "sqlite",
        .open = sq_open,
        .close = sq_close,
        .begin = sq_begin,
        .secure_delete = sq_secure_delete,
        .checkpoint = sq_checkpoint,
        .read_version = read_version,
        .exec = sq_exec,
        .prepare = sq_prepare,
        .finalize = sq_finalize,
        .bind_text = sq_bind_text,
        .bind_int64 = sq_bind_int64,
        .bind_null = sq_bind_null,
        .step = sq_step,
        .reset = sq_reset,
        .text = sq_text,
        .is_null = sq_is_null,
        .int64 = sq_int64,
        .changes = sq_changes,
        .run_lock = sq_run_lock,
        .run_is_alive = sq_run_is_alive,
        .sql = sq_sql,
        .n_params = sq_n_params,
        .params = sq_params,
        .lock_skip_locked = "",    /* BEGIN IMMEDIATE: one writer at a time already */
};
