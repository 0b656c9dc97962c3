/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hash chain: an event's canonical form and hash, a pupil's salted commitment, and the
 * one place an event is appended to its station's chain (journal_event_append), or copied
 * verbatim from another journal (journal_event_insert). Portable SQL only.
 */
#include <inttypes.h>
#include <sys/random.h>

#include "base/hash.h"
#include "journal/journal-internal.h"

static const char zero_hash[JOURNAL_HASH_HEX_LEN + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";

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
        int form = e->format > 0 ? e->format : 4;
        r = canon_put(&c, form == 1 ? "cartable-event-1\n" : form == 2 ? "cartable-event-2\n" :
                      form == 3 ? "cartable-event-3\n" : "cartable-event-4\n", 17);
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
        if (r >= 0) r = form >= 4 ? put_text(&c, "message_commit", e->message_commit)
                                       : put_text(&c, "message", e->message);
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

int journal_message_commit(const char *salt, const char *message, char ret[JOURNAL_HASH_HEX_LEN + 1]) {
        struct canon c = { .cap = sizeof(c.stack) };
        int r;

        c.p = c.stack;
        r = canon_put(&c, "cartable-message-1\n", 19);
        if (r >= 0) r = put_text(&c, "salt", salt);
        if (r >= 0) r = put_text(&c, "message", message);
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
        _cleanup_free_ char *salt = NULL;
        uint8_t b[16];
        int r;

        r = jdb_query_text(j, err, &salt, "SELECT salt FROM pupils WHERE school = ? AND id = ?", JT(school), JT(id));
        if (r < 0)
                return r;
        if (salt) {
                snprintf(ret, 33, "%s", salt);
                return 0;
        }
        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                return cart_error_errno(err, -errno, NULL, "no random salt");
        hash_to_hex(b, sizeof(b), ret);
        return jdb_run(j, err, "UPDATE pupils SET salt = ? WHERE school = ? AND id = ?", JT(ret), JT(school), JT(id));
}

/* One event row as given, hashes included (appending, or merging another journal's). */
int journal_event_insert(struct journal *j, const struct journal_event_row *e, struct cart_error *err) {
        return jdb_run(j, err, "INSERT INTO events (uuid, station, station_seq, kind, time_usec, operator, "
                       "pupil_school, pupil_id, key_uid, key_serial, release_name, release_version, "
                       "release_serial, release_key_id, outcome, reason, step, message, volume_id, "
                       "bytes_written, bytes_read, started_usec, write_usec, read_usec, prev_hash, hash, format, "
                       "pupil_commit, run, signature, message_salt, message_commit) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       JT(e->uuid), JT(e->station), JI(e->station_seq), JT(e->kind), JI(e->time_usec),
                       JT(e->operator), JT(e->pupil_school), JT(e->pupil_id), JT(e->key_uid), JT(e->key_serial),
                       JT(e->release_name), JT(e->release_version), JN(e->release_serial), JT(e->release_key_id),
                       JT(e->outcome), JT(e->reason), JT(e->step), JT(e->message), JT(e->volume_id),
                       JN(e->bytes_written), JN(e->bytes_read), JN(e->started_usec), JN(e->write_usec),
                       JN(e->read_usec), JT(e->prev_hash), JT(e->hash), JI(e->format), JT(e->pupil_commit),
                       JT(e->run), JT(e->signature), JT(e->message_salt), JT(e->message_commit));
}

int journal_event_append(struct journal *j, struct journal_event_row *e, struct cart_error *err) {
        struct jstmt *last = NULL;
        char uuid[JOURNAL_UUID_LEN + 1], prev[JOURNAL_HASH_HEX_LEN + 1], hash[JOURNAL_HASH_HEX_LEN + 1];
        char commit[JOURNAL_HASH_HEX_LEN + 1], message_commit[JOURNAL_HASH_HEX_LEN + 1];
        char signature[129], message_salt[33];
        int r;

        /* The caller holds a write transaction and the chain's lock, so nobody else appends
         * to this station's chain between these. */
        r = jdb_lock_chain(j, j->station, err);
        if (r < 0)
                return r;
        r = jdb_query(j, err, &last, "SELECT station_seq, hash FROM events WHERE station = ? "
                      "ORDER BY station_seq DESC LIMIT 1", JT(j->station));
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
        e->format = 4;
        e->message_salt = e->message_commit = NULL;
        if (e->message) {
                uint8_t b[16];
                if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                        return cart_error_errno(err, -errno, NULL, "no random salt");
                hash_to_hex(b, sizeof(b), message_salt);
                r = journal_message_commit(message_salt, e->message, message_commit);
                if (r < 0)
                        return r;
                e->message_salt = message_salt;
                e->message_commit = message_commit;
        }
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
        e->signature = NULL;
        if (j->sign_key_path) {
                r = journal_event_sign(j, hash, signature, err);
                if (r < 0)
                        return r;
                e->signature = signature;
        }

        r = journal_event_insert(j, e, err);
        /* The strings above live on this stack frame. */
        e->uuid = e->station = e->prev_hash = e->hash = e->pupil_commit = e->signature = e->message_salt =
                e->message_commit = NULL;
        return r;
}
