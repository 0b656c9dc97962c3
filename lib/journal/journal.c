/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal's interface and its events: opening, transactions, the hash chain, recording
 * a flash, listing and verifying events. Portable SQL only (see journal-internal.h).
 */
#include <inttypes.h>
#include <libgen.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "journal/journal-internal.h"

static const char zero_hash[JOURNAL_HASH_HEX_LEN + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";

int64_t journal_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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

int journal_uuid_random(char ret[JOURNAL_UUID_LEN + 1]) {
        uint8_t b[16];
        ssize_t n = getrandom(b, sizeof(b), 0);

        if (n != (ssize_t) sizeof(b))
                return n < 0 ? -errno : -EIO;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);   /* version 4 */
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
        snprintf(ret, JOURNAL_UUID_LEN + 1,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                 b[13], b[14], b[15]);
        return 0;
}

/* ---- The chain ---- */

/* Canonical form: "cartable-event-1\n", then per field "name=" and either "-" (NULL) or
 * the decimal length, ':' and the value, then "\n". Unambiguous for any bytes. Built in
 * one buffer (on the stack for any ordinary event), then hashed in one call. */
struct canon {
        char *p;
        size_t len, cap;
        char stack[2048];
};

static int canon_put(struct canon *c, const char *s, size_t n) {
        if (c->len + n > c->cap) {
                size_t cap = MAX(2 * c->cap, c->len + n);
                char *p = c->p == c->stack ? malloc(cap) : realloc(c->p, cap);
                if (!p)
                        return -ENOMEM;
                if (c->p == c->stack)
                        memcpy(p, c->stack, c->len);
                c->p = p;
                c->cap = cap;
        }
        memcpy(c->p + c->len, s, n);
        c->len += n;
        return 0;
}

static int canon_decimal(struct canon *c, uint64_t v, char end) {
        char buf[24];
        size_t i = sizeof(buf);

        buf[--i] = end;
        do
                buf[--i] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        return canon_put(c, buf + i, sizeof(buf) - i);
}

static int put_text(struct canon *c, const char *name, const char *v) {
        size_t n = v ? strlen(v) : 0;
        int r;

        r = canon_put(c, name, strlen(name));
        if (r >= 0)
                r = canon_put(c, "=", 1);
        if (r < 0)
                return r;
        if (!v)
                return canon_put(c, "-\n", 2);
        r = canon_decimal(c, n, ':');
        if (r >= 0)
                r = canon_put(c, v, n);
        if (r >= 0)
                r = canon_put(c, "\n", 1);
        return r;
}

static int put_int(struct canon *c, const char *name, int64_t v) {
        char buf[24];
        size_t i = sizeof(buf) - 1;

        if (v < 0)
                return put_text(c, name, NULL);
        buf[i] = 0;
        do
                buf[--i] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        return put_text(c, name, buf + i);
}

/* Hash what was built (unless r says building failed), free it, write the hex digest. */
static int canon_finish(struct canon *c, int r, char ret[JOURNAL_HASH_HEX_LEN + 1]) {
        uint8_t d[HASH_SHA256_LEN];

        if (r >= 0)
                r = hash_sha256(c->p, c->len, d);
        if (c->p != c->stack)
                free(c->p);
        if (r < 0)
                return r;
        hash_to_hex(d, sizeof(d), ret);
        return 0;
}

int journal_event_hash(const struct journal_event_row *e, char ret[JOURNAL_HASH_HEX_LEN + 1]) {
        struct canon c = { .cap = sizeof(c.stack) };
        int r;

        c.p = c.stack;
        /* Form 2 differs in its first line and in pupil_commit standing for pupil_id; form 3
         * from form 2 in its first line and the batch run at the end. */
        int form = e->format > 0 ? e->format : 3;
        r = canon_put(&c, form == 1 ? "cartable-event-1\n" : form == 2 ? "cartable-event-2\n" : "cartable-event-3\n", 17);
        if (r >= 0) r = put_text(&c, "uuid", e->uuid);
        if (r >= 0) r = put_text(&c, "station", e->station);
        if (r >= 0) r = put_int(&c, "station_seq", e->station_seq);
        if (r >= 0) r = put_text(&c, "kind", e->kind);
        if (r >= 0) r = put_int(&c, "time_usec", e->time_usec);
        if (r >= 0) r = put_text(&c, "operator", e->operator);
        if (r >= 0) r = put_text(&c, "pupil_school", e->pupil_school);
        if (r >= 0) r = form == 1 ? put_text(&c, "pupil_id", e->pupil_id)
                                       : put_text(&c, "pupil_commit", e->pupil_commit);
        if (r >= 0) r = put_text(&c, "key_uid", e->key_uid);
        if (r >= 0) r = put_text(&c, "key_serial", e->key_serial);
        if (r >= 0) r = put_text(&c, "release_name", e->release_name);
        if (r >= 0) r = put_text(&c, "release_version", e->release_version);
        if (r >= 0) r = put_int(&c, "release_serial", e->release_serial);
        if (r >= 0) r = put_text(&c, "release_key_id", e->release_key_id);
        if (r >= 0) r = put_text(&c, "outcome", e->outcome);
        if (r >= 0) r = put_text(&c, "reason", e->reason);
        if (r >= 0) r = put_text(&c, "step", e->step);
        if (r >= 0) r = put_text(&c, "message", e->message);
        if (r >= 0) r = put_text(&c, "volume_id", e->volume_id);
        if (r >= 0) r = put_int(&c, "bytes_written", e->bytes_written);
        if (r >= 0) r = put_int(&c, "bytes_read", e->bytes_read);
        if (r >= 0) r = put_int(&c, "started_usec", e->started_usec);
        if (r >= 0) r = put_int(&c, "write_usec", e->write_usec);
        if (r >= 0) r = put_int(&c, "read_usec", e->read_usec);
        if (r >= 0 && form >= 3) r = put_text(&c, "run", e->run);
        if (r >= 0) r = put_text(&c, "prev_hash", e->prev_hash);
        return canon_finish(&c, r, ret);
}

int journal_pupil_commit(const char *salt, const char *school, const char *id,
                         char ret[JOURNAL_HASH_HEX_LEN + 1]) {
        struct canon c = { .cap = sizeof(c.stack) };
        int r;

        c.p = c.stack;
        r = canon_put(&c, "cartable-pupil-1\n", 17);
        if (r >= 0) r = put_text(&c, "salt", salt);
        if (r >= 0) r = put_text(&c, "school", school);
        if (r >= 0) r = put_text(&c, "id", id);
        return canon_finish(&c, r, ret);
}

/* The pupil's salt, made (128 random bits) the first time an event names the pupil. */
static int pupil_salt(struct journal *j, const char *school, const char *id, char ret[33],
                      struct cart_error *err) {
        struct jstmt *s = NULL;
        uint8_t b[16];
        int r;

        r = jdb_cached(j, "SELECT salt FROM pupils WHERE school = ? AND id = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, school);
        jdb_bind_text(s, 2, id);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r > 0 && jdb_text(s, 0)) {
                snprintf(ret, 33, "%s", jdb_text(s, 0));
                jdb_reset(s);
                return 0;
        }
        jdb_reset(s);
        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                return cart_error_errno(err, -errno, NULL, "no random salt");
        hash_to_hex(b, sizeof(b), ret);
        r = jdb_cached(j, "UPDATE pupils SET salt = ? WHERE school = ? AND id = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, ret);
        jdb_bind_text(s, 2, school);
        jdb_bind_text(s, 3, id);
        r = jdb_step(j, s, err);
        return r < 0 ? r : 0;
}

static void bind_int_or_null(struct jstmt *s, int i, int64_t v) {
        if (v < 0)
                jdb_bind_null(s, i);
        else
                jdb_bind_int64(s, i, v);
}

/* One event row as given, hashes included (appending, or merging another journal's). */
int journal_event_insert(struct journal *j, const struct journal_event_row *e, struct cart_error *err) {
        struct jstmt *ins = NULL;
        int r;

        r = jdb_cached(j, "INSERT INTO events (uuid, station, station_seq, kind, time_usec, operator, "
                        "pupil_school, pupil_id, key_uid, key_serial, release_name, release_version, "
                        "release_serial, release_key_id, outcome, reason, step, message, volume_id, "
                        "bytes_written, bytes_read, started_usec, write_usec, read_usec, prev_hash, hash, format, pupil_commit, run) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        &ins, err);
        if (r < 0)
                return r;
        jdb_bind_text(ins, 1, e->uuid);
        jdb_bind_text(ins, 2, e->station);
        jdb_bind_int64(ins, 3, e->station_seq);
        jdb_bind_text(ins, 4, e->kind);
        jdb_bind_int64(ins, 5, e->time_usec);
        jdb_bind_text(ins, 6, e->operator);
        jdb_bind_text(ins, 7, e->pupil_school);
        jdb_bind_text(ins, 8, e->pupil_id);
        jdb_bind_text(ins, 9, e->key_uid);
        jdb_bind_text(ins, 10, e->key_serial);
        jdb_bind_text(ins, 11, e->release_name);
        jdb_bind_text(ins, 12, e->release_version);
        bind_int_or_null(ins, 13, e->release_serial);
        jdb_bind_text(ins, 14, e->release_key_id);
        jdb_bind_text(ins, 15, e->outcome);
        jdb_bind_text(ins, 16, e->reason);
        jdb_bind_text(ins, 17, e->step);
        jdb_bind_text(ins, 18, e->message);
        jdb_bind_text(ins, 19, e->volume_id);
        bind_int_or_null(ins, 20, e->bytes_written);
        bind_int_or_null(ins, 21, e->bytes_read);
        bind_int_or_null(ins, 22, e->started_usec);
        bind_int_or_null(ins, 23, e->write_usec);
        bind_int_or_null(ins, 24, e->read_usec);
        jdb_bind_text(ins, 25, e->prev_hash);
        jdb_bind_text(ins, 26, e->hash);
        jdb_bind_int64(ins, 27, e->format);
        jdb_bind_text(ins, 28, e->pupil_commit);
        jdb_bind_text(ins, 29, e->run);
        r = jdb_step(j, ins, err);
        return r < 0 ? r : 0;
}

int journal_event_append(struct journal *j, struct journal_event_row *e, struct cart_error *err) {
        struct jstmt *last = NULL;
        char uuid[JOURNAL_UUID_LEN + 1], prev[JOURNAL_HASH_HEX_LEN + 1], hash[JOURNAL_HASH_HEX_LEN + 1];
        char commit[JOURNAL_HASH_HEX_LEN + 1];
        int r;

        /* The caller holds a write transaction and the chain's lock, so nobody else appends
         * to this station's chain between these. */
        r = jdb_lock_chain(j, j->station, err);
        if (r < 0)
                return r;
        r = jdb_cached(j, "SELECT station_seq, hash FROM events WHERE station = ? "
                        "ORDER BY station_seq DESC LIMIT 1", &last, err);
        if (r < 0)
                return r;
        jdb_bind_text(last, 1, j->station);
        r = jdb_step(j, last, err);
        if (r < 0)
                return r;
        if (r > 0) {
                e->station_seq = jdb_int64(last, 0) + 1;
                snprintf(prev, sizeof(prev), "%s", jdb_text(last, 1));
                jdb_reset(last);
        } else {
                e->station_seq = 1;
                memcpy(prev, zero_hash, sizeof(prev));
        }
        r = journal_uuid_random(uuid);
        if (r < 0)
                return cart_error_errno(err, r, NULL, "no random UUID");
        e->uuid = uuid;
        e->station = j->station;
        e->prev_hash = prev;
        e->format = 3;
        if (e->pupil_id) {
                char salt[33];
                r = pupil_salt(j, e->pupil_school, e->pupil_id, salt, err);
                if (r < 0)
                        return r;
                r = journal_pupil_commit(salt, e->pupil_school, e->pupil_id, commit);
                if (r < 0)
                        return r;
                e->pupil_commit = commit;
        } else
                e->pupil_commit = NULL;
        r = journal_event_hash(e, hash);
        if (r < 0)
                return r;
        e->hash = hash;

        r = journal_event_insert(j, e, err);
        /* The strings above live on this stack frame. */
        e->uuid = e->station = e->prev_hash = e->hash = e->pupil_commit = NULL;
        return r;
}

/* ---- Keys and flashes ---- */

/* An image file is one key whatever directory it was named from: its path made absolute,
 * its directory resolved (realpath) and its own name kept, so that the identity is the same
 * before the file exists (a batch records a key's start, then creates the image) and after,
 * and does not follow a symlinked image to its target. A directory that cannot be resolved
 * (gone, unreadable) leaves the path as given, made absolute. */
static int image_path(const char *path, char **ret) {
        _cleanup_free_ char *dir = NULL, *name = NULL, *real = NULL, *cwd = NULL;
        const char *slash = strrchr(path, '/');

        if (slash && !slash[1])
                return asprintf(ret, "%s", path) < 0 ? -ENOMEM : 0;
        dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        name = strdup(slash ? slash + 1 : path);
        if (!dir || !name)
                return -ENOMEM;
        real = realpath(dir, NULL);
        if (real)
                return asprintf(ret, "%s%s%s", real, streq(real, "/") ? "" : "/", name) < 0 ? -ENOMEM : 0;
        if (path[0] == '/')
                return asprintf(ret, "%s", path) < 0 ? -ENOMEM : 0;
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return asprintf(ret, "%s", path) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}

int journal_key_uid(const struct flash_report *r, char **ret) {
        _cleanup_free_ char *path = NULL;
        int n;

        if (r->key.serial[0])
                n = asprintf(ret, "usb:%s:%s", r->key.vid_pid[0] ? r->key.vid_pid : "0000:0000", r->key.serial);
        else if (r->key.vid_pid[0] || !r->key.device[0])
                n = asprintf(ret, "volume:%08" PRIX32, r->volume_id);
        else {
                n = image_path(r->key.device, &path);
                if (n < 0)
                        return n;
                n = asprintf(ret, "file:%s", path);
        }
        return n < 0 ? -ENOMEM : 0;
}

static int upsert_key(struct journal *j, const struct flash_report *rep, const struct journal_flash *f,
                      const char *uid, const char *volume_id, int64_t now, struct cart_error *err) {
        struct jstmt *s = NULL;
        bool ok = rep->outcome == FLASH_OUTCOME_OK;
        int r;

        /* A good flash makes the key stock (issuing comes next); a failed one says so; the
         * holder is kept until the key is issued to someone else or marked. */
        r = jdb_cached(j, "INSERT INTO keys (uid, serial, vid_pid, vendor, product, capacity, real_capacity, "
                        "volume_id, status, created_usec, updated_usec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (uid) DO UPDATE SET vendor = coalesce(excluded.vendor, keys.vendor), "
                        "product = coalesce(excluded.product, keys.product), capacity = excluded.capacity, "
                        "real_capacity = coalesce(excluded.real_capacity, keys.real_capacity), "
                        "volume_id = coalesce(excluded.volume_id, keys.volume_id), status = excluded.status, "
                        "pupil_school = CASE WHEN excluded.status = 'stock' THEN NULL ELSE keys.pupil_school END, "
                        "pupil_id = CASE WHEN excluded.status = 'stock' THEN NULL ELSE keys.pupil_id END, "
                        "updated_usec = excluded.updated_usec", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, uid);
        jdb_bind_text(s, 2, rep->key.serial[0] ? rep->key.serial : NULL);
        jdb_bind_text(s, 3, rep->key.vid_pid[0] ? rep->key.vid_pid : NULL);
        jdb_bind_text(s, 4, f->vendor);
        jdb_bind_text(s, 5, f->product);
        jdb_bind_int64(s, 6, (int64_t) rep->key.capacity);
        if (rep->is_probed)
                jdb_bind_int64(s, 7, (int64_t) rep->real_capacity);
        jdb_bind_text(s, 8, ok ? volume_id : NULL);
        jdb_bind_text(s, 9, ok ? "stock" : "failed");
        jdb_bind_int64(s, 10, now);
        jdb_bind_int64(s, 11, now);
        r = jdb_step(j, s, err);
        return r < 0 ? r : 0;
}

static int key_set_status(struct journal *j, const char *uid, const char *status, const char *school,
                          const char *id, int64_t now, struct cart_error *err) {
        struct jstmt *s = NULL;
        int r;

        r = jdb_cached(j, "UPDATE keys SET status = ?, pupil_school = ?, pupil_id = ?, updated_usec = ? "
                        "WHERE uid = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, status);
        jdb_bind_text(s, 2, school);
        jdb_bind_text(s, 3, id);
        jdb_bind_int64(s, 4, now);
        jdb_bind_text(s, 5, uid);
        r = jdb_step(j, s, err);
        return r < 0 ? r : 0;
}

/* The key a pupil holds (status issued), or NULL. */
static int pupil_held_key(struct journal *j, const char *school, const char *id, char **ret,
                          struct cart_error *err) {
        struct jstmt *s = NULL;
        int r;

        *ret = NULL;
        r = jdb_cached(j, "SELECT uid FROM keys WHERE pupil_school = ? AND pupil_id = ? AND status = 'issued' "
                        "ORDER BY updated_usec DESC LIMIT 1", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, school);
        jdb_bind_text(s, 2, id);
        r = jdb_step(j, s, err);
        if (r <= 0)
                return r;
        *ret = strdup(jdb_text(s, 0));
        jdb_reset(s);      /* holds no read snapshot once done */
        return *ret ? 1 : -ENOMEM;
}

/* The current holder of a key, when it is issued. */
static int key_holder(struct journal *j, const char *uid, char **ret_school, char **ret_id,
                      struct cart_error *err) {
        struct jstmt *s = NULL;
        int r;

        *ret_school = *ret_id = NULL;
        r = jdb_cached(j, "SELECT pupil_school, pupil_id FROM keys WHERE uid = ? AND status = 'issued'", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, uid);
        r = jdb_step(j, s, err);
        if (r <= 0 || jdb_is_null(s, 0))
                return r < 0 ? r : 0;
        *ret_school = strdup(jdb_text(s, 0));
        *ret_id = strdup(jdb_text(s, 1));
        jdb_reset(s);
        return *ret_school && *ret_id ? 1 : -ENOMEM;
}

/* The events of one finished flash, inside the caller's transaction. */
static int record_flash_events(struct journal *j, const struct flash_report *rep, const struct journal_flash *f,
                               const char *school, const char *id, struct cart_error *err) {
        _cleanup_free_ char *uid = NULL, *held = NULL, *old_school = NULL, *old_id = NULL;
        char volume_id[16], detail[sizeof(rep->failure.msg)];
        int64_t now = journal_now_usec();
        bool ok = rep->outcome == FLASH_OUTCOME_OK;
        bool has_failure = !ok && (rep->error < 0 || rep->failure.msg[0]);
        struct journal_event_row e;
        int r;

        r = journal_key_uid(rep, &uid);
        if (r < 0)
                return r;
        snprintf(volume_id, sizeof(volume_id), "%08" PRIX32, rep->volume_id);
        r = key_holder(j, uid, &old_school, &old_id, err);
        if (r < 0)
                return r;
        r = upsert_key(j, rep, f, uid, volume_id, now, err);
        if (r >= 0)
                r = journal_claim_release(j, uid, err);
        if (r < 0)
                return r;

        e = (struct journal_event_row) {
                .kind = "flashed",
                .time_usec = rep->finished_usec > 0 ? rep->finished_usec : now,
                .operator = f->operator,
                .key_uid = uid,
                .key_serial = rep->key.serial[0] ? rep->key.serial : NULL,
                .release_name = rep->release_name[0] ? rep->release_name : NULL,
                .release_version = rep->release_version[0] ? rep->release_version : NULL,
                .release_serial = rep->release_name[0] ? (int64_t) rep->release_serial : -1,
                .release_key_id = rep->release_key_id[0] ? rep->release_key_id : NULL,
                .outcome = flash_outcome_to_string(rep->outcome),
                /* The code: the caller's, else the report's own (stable strings, never words). */
                .reason = ok ? NULL : f->reason ? f->reason :
                          rep->reason != CART_REASON_NONE ? cart_reason_to_string(rep->reason) : NULL,
                .step = flash_step_to_string(rep->step),
                .message = has_failure ? cart_error_detail(&rep->failure, rep->error, detail, sizeof(detail)) : NULL,
                .volume_id = ok ? volume_id : NULL,
                .bytes_written = (int64_t) rep->bytes_written,
                .bytes_read = (int64_t) rep->bytes_read,
                .started_usec = rep->started_usec > 0 ? rep->started_usec : -1,
                .write_usec = (int64_t) (rep->write_seconds * 1e6),
                .read_usec = (int64_t) (rep->read_seconds * 1e6),
                .pupil_school = school,
                .pupil_id = id,
        };
        r = journal_event_append(j, &e, err);
        if (r < 0 || !ok)
                return r;

        /* Rewritten, the key no longer is what its previous holder was given. */
        if (old_id && !(id && streq(old_school, school) && streq(old_id, id))) {
                e = (struct journal_event_row) { .kind = "returned", .time_usec = now, .operator = f->operator,
                        .pupil_school = old_school, .pupil_id = old_id, .key_uid = uid, .reason = "reflashed",
                        .key_serial = rep->key.serial[0] ? rep->key.serial : NULL,
                        .release_serial = -1, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                        .write_usec = -1, .read_usec = -1 };
                r = journal_event_append(j, &e, err);
                if (r < 0)
                        return r;
        }
        if (!id)
                return 0;

        /* Issue it: the pupil's previous key is replaced, the key's previous holder loses it. */
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
                if (!f->replace)
                        return cart_error_set(err, -EEXIST, "pupil %s/%s already holds key %s: the new key was "
                                              "recorded as stock, not issued (--replace to replace it)",
                                              school, id, held);
                r = key_set_status(j, held, "replaced", school, id, now, err);
                if (r < 0)
                        return r;
                e = (struct journal_event_row) { .kind = "replaced", .time_usec = now, .operator = f->operator,
                        .pupil_school = school, .pupil_id = id, .key_uid = held, .reason = "replaced",
                        .release_serial = -1, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                        .write_usec = -1, .read_usec = -1 };
                r = journal_event_append(j, &e, err);
                if (r < 0)
                        return r;
        }
        r = key_set_status(j, uid, "issued", school, id, now, err);
        if (r < 0)
                return r;
        e = (struct journal_event_row) { .kind = "issued", .time_usec = now, .operator = f->operator,
                .pupil_school = school, .pupil_id = id, .key_uid = uid,
                .key_serial = rep->key.serial[0] ? rep->key.serial : NULL,
                .release_name = rep->release_name, .release_version = rep->release_version,
                .release_serial = (int64_t) rep->release_serial, .release_key_id = rep->release_key_id,
                .volume_id = volume_id, .bytes_written = -1, .bytes_read = -1, .started_usec = -1,
                .write_usec = -1, .read_usec = -1 };
        return journal_event_append(j, &e, err);
}

int journal_record_flash(struct journal *j, const struct flash_report *rep, const struct journal_flash *f,
                         struct cart_error *err) {
        static const struct journal_flash none = {};
        _cleanup_free_ char *school = NULL, *id = NULL;
        int r;

        if (!f)
                f = &none;
        r = journal_txn_begin(j, err);
        if (r < 0)
                return r;
        if (f->pupil) {
                r = journal_pupil_resolve(j, f->pupil, &school, &id, err);
                if (r < 0)
                        goto fail;
        }
        r = record_flash_events(j, rep, f, school, id, err);
        if (r == -EEXIST || r == -ESRCH) {
                /* The flash stays recorded; only the issue was refused. */
                struct cart_error e2 = {};
                int k = journal_txn_commit(j, &e2);
                if (k < 0)
                        return cart_error_set(err, k, "%s", e2.msg);
                return r;
        }
        if (r < 0)
                goto fail;
        return journal_txn_commit(j, err);
fail:
        journal_txn_rollback(j);
        return r;
}
