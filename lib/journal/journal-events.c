/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading events back: listing them for show and export, and walking each station's chain. */
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#include "journal/journal-internal.h"

#define EVENT_COLUMNS \
        "SELECT e.seq, e.uuid, e.station, e.station_seq, e.kind, e.time_usec, e.operator, e.pupil_school, " \
        "e.pupil_id, e.key_uid, e.key_serial, e.release_name, e.release_version, e.release_serial, " \
        "e.release_key_id, e.outcome, e.reason, e.step, e.message, e.volume_id, e.bytes_written, " \
        "e.bytes_read, e.started_usec, e.write_usec, e.read_usec, e.prev_hash, e.hash, "
/* Listing: with the pupil's names. Verifying: the event alone. */
#define EVENT_SELECT EVENT_COLUMNS "p.family_name, p.first_name, p.class_name, e.format, e.pupil_commit, " \
        "p.salt, e.run, e.signature, e.message_salt, e.message_commit FROM events e " \
        "LEFT JOIN pupils p ON p.school = e.pupil_school AND p.id = e.pupil_id "
#define EVENT_SELECT_BARE EVENT_COLUMNS "NULL, NULL, NULL, e.format, e.pupil_commit, (SELECT ps.salt " \
        "FROM pupils ps WHERE ps.school = e.pupil_school AND ps.id = e.pupil_id), e.run, e.signature, " \
        "e.message_salt, e.message_commit FROM events e "

static void event_from_row(struct jstmt *s, struct journal_event_row *e) {
        *e = (struct journal_event_row) {
                .seq = jdb_int64(s, 0), .uuid = jdb_text(s, 1), .station = jdb_text(s, 2),
                .station_seq = jdb_int64(s, 3), .kind = jdb_text(s, 4), .time_usec = jdb_int64(s, 5),
                .operator = jdb_text(s, 6), .pupil_school = jdb_text(s, 7), .pupil_id = jdb_text(s, 8),
                .key_uid = jdb_text(s, 9), .key_serial = jdb_text(s, 10), .release_name = jdb_text(s, 11),
                .release_version = jdb_text(s, 12), .release_serial = jdb_int64(s, 13),
                .release_key_id = jdb_text(s, 14), .outcome = jdb_text(s, 15), .reason = jdb_text(s, 16),
                .step = jdb_text(s, 17), .message = jdb_text(s, 18), .volume_id = jdb_text(s, 19),
                .bytes_written = jdb_int64(s, 20), .bytes_read = jdb_int64(s, 21),
                .started_usec = jdb_int64(s, 22), .write_usec = jdb_int64(s, 23),
                .read_usec = jdb_int64(s, 24), .prev_hash = jdb_text(s, 25), .hash = jdb_text(s, 26),
                .family_name = jdb_text(s, 27), .first_name = jdb_text(s, 28), .class_name = jdb_text(s, 29),
                .format = (int) jdb_int64(s, 30), .pupil_commit = jdb_text(s, 31), .pupil_salt = jdb_text(s, 32),
                .run = jdb_text(s, 33), .signature = jdb_text(s, 34), .message_salt = jdb_text(s, 35),
                .message_commit = jdb_text(s, 36),
        };
}

/* fn for each row of s, until it returns a negative errno. */
static int each_event(struct journal *j, struct jstmt *s, journal_event_fn fn, void *userdata, struct cart_error *err) {
        for (;;) {
                struct journal_event_row e;
                int r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                event_from_row(s, &e);
                r = fn(userdata, &e);
                if (r < 0)
                        return r;
        }
}

int journal_events_list(struct journal *j, const struct journal_event_filter *f,
                        journal_event_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *school = NULL, *id = NULL;
        int r;

        if (f && f->pupil) {
                r = journal_pupil_resolve(j, f->pupil, &school, &id, err);
                if (r < 0)
                        return r;
                r = jdb_prepare(j, EVENT_SELECT "WHERE e.pupil_school = ? AND e.pupil_id = ? ORDER BY e.seq", &s, err);
                if (r < 0)
                        return r;
                jdb_bind_text(s, 1, school);
                jdb_bind_text(s, 2, id);
        } else if (f && f->key) {
                /* A key by its journal uid, its USB serial or its FAT volume ID. */
                r = jdb_prepare(j, EVENT_SELECT "WHERE e.key_uid IN (SELECT uid FROM keys WHERE uid = ? OR "
                                "serial = ? OR volume_id = upper(?)) ORDER BY e.seq", &s, err);
                if (r < 0)
                        return r;
                for (int i = 1; i <= 3; i++)
                        jdb_bind_text(s, i, f->key);
        } else {
                r = jdb_prepare(j, EVENT_SELECT "ORDER BY e.seq", &s, err);
                if (r < 0)
                        return r;
        }
        return each_event(j, s, fn, userdata, err);
}

int journal_events_by_station(struct journal *j, journal_event_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, EVENT_SELECT_BARE "ORDER BY e.station, e.station_seq, e.seq", &s, err);
        if (r < 0)
                return r;
        return each_event(j, s, fn, userdata, err);
}

/* Append a line to err->msg (the problems of several chains). */
static void problem(struct cart_error *err, const char *fmt, ...) _printf_(2, 3);
static void problem(struct cart_error *err, const char *fmt, ...) {
        size_t n = strlen(err->msg);
        va_list ap;

        if (n > 0 && n + 1 < sizeof(err->msg))
                err->msg[n++] = '\n';
        va_start(ap, fmt);
        vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
        va_end(ap);
}

struct chain {
        char station[256];
        int64_t expected_seq;          /* the next station_seq */
        char prev[JOURNAL_HASH_HEX_LEN + 1];
        bool is_broken;
};

static void chain_start(struct chain *c, const char *station) {
        snprintf(c->station, sizeof(c->station), "%s", station);
        c->expected_seq = 1;
        memset(c->prev, '0', JOURNAL_HASH_HEX_LEN);
        c->prev[JOURNAL_HASH_HEX_LEN] = 0;
        c->is_broken = false;
}

/* The salts other journals gave some pupils (pupil_salts, schema v3: few rows, only pupils
 * named on two stations while apart), read before the walk so that none is queried mid-walk. */
struct other_salts {
        struct {
                char *school, *id, *salt;
        } *rows;
        size_t n;
};

static void other_salts_free(struct other_salts *o) {
        for (size_t i = 0; i < o->n; i++) {
                free(o->rows[i].school);
                free(o->rows[i].id);
                free(o->rows[i].salt);
        }
        free(o->rows);
}

static int other_salts_load(struct journal *j, struct other_salts *o, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, "SELECT school, id, salt FROM pupil_salts", &s, err);
        if (r < 0)
                return r;
        for (;;) {
                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                void *a = reallocarray(o->rows, o->n + 1, sizeof(*o->rows));
                if (!a)
                        return -ENOMEM;
                o->rows = a;
                o->rows[o->n].school = strdup(jdb_text(s, 0));
                o->rows[o->n].id = strdup(jdb_text(s, 1));
                o->rows[o->n].salt = strdup(jdb_text(s, 2));
                if (!o->rows[o->n++].salt || !o->rows[o->n - 1].school || !o->rows[o->n - 1].id)
                        return -ENOMEM;
        }
}

/* Whether one of the pupil's salts from other journals opens the event's commitment. */
static bool other_salt_opens(const struct other_salts *o, const struct journal_event_row *e) {
        char commit[JOURNAL_HASH_HEX_LEN + 1];

        for (size_t i = 0; i < o->n; i++)
                if (e->pupil_school && streq(o->rows[i].school, e->pupil_school) && streq(o->rows[i].id, e->pupil_id) &&
                    journal_pupil_commit(o->rows[i].salt, e->pupil_school, e->pupil_id, commit) >= 0 &&
                    streq(commit, e->pupil_commit))
                        return true;
        return false;
}

/* What tells a purged event from detached history: the tombstones of purges, and (read only
 * when some event has lost its pupil id) the commitments of the pupils that exist. */
struct detached {
        struct journal_commit_set tombstones, pupils;
        int64_t last_purge_usec;       /* -1: never purged */
};

static void detached_free(struct detached *d) {
        journal_commit_set_free(&d->tombstones);
        journal_commit_set_free(&d->pupils);
}

static int detached_load(struct journal *j, struct detached *d, struct cart_error *err) {
        int64_t n = 0;
        int r;

        d->last_purge_usec = -1;
        r = jdb_query_int(j, err, &d->last_purge_usec, "SELECT max(time_usec) FROM purges");
        if (r < 0)
                return r;
        r = jdb_query_int(j, err, &n, "SELECT count(*) FROM events WHERE pupil_id IS NULL AND pupil_commit IS NOT NULL");
        if (r < 0 || n == 0)
                return r < 0 ? r : 0;
        r = journal_commit_set_load(j, false, &d->tombstones, err);
        if (r < 0)
                return r;
        return journal_commit_set_load(j, true, &d->pupils, err);
}

/* An event that names no pupil but commits to one: only a purge may have taken its id, and
 * then the pupil is gone and its tombstone covers the commitment. */
static bool is_detached(struct chain *c, const struct detached *d, const struct journal_event_row *e,
                        struct cart_error *err) {
        const struct journal_commit_entry *who;

        if (e->format == 1 || e->pupil_id || !e->pupil_commit)
                return false;
        who = journal_commit_set_find(&d->pupils, e->pupil_commit);
        if (who)
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) was detached: its pupil id "
                        "was erased, but pupil %s still exists and its salt opens the event's commitment", c->station,
                        e->station_seq, e->seq, e->uuid ? e->uuid : "-", who->who);
        else if (!journal_commit_set_find(&d->tombstones, e->pupil_commit))
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) was detached: its pupil id "
                        "was erased, and no recorded purge took it", c->station, e->station_seq, e->seq,
                        e->uuid ? e->uuid : "-");
        else
                return false;
        c->is_broken = true;
        return true;
}

/* Form 4 hashes the message's commitment: the message beside it must open it, or have been
 * erased by a purge made after the event. */
static int message_is_broken(struct chain *c, const struct detached *d, const struct journal_event_row *e,
                             struct cart_error *err) {
        char commit[JOURNAL_HASH_HEX_LEN + 1] = "";
        int r;

        if (e->format < 4 || (!e->message && !e->message_commit))
                return 0;
        if (e->message && e->message_salt) {
                r = journal_message_commit(e->message_salt, e->message, commit);
                if (r < 0)
                        return r;
        }
        if (e->message && (!e->message_commit || !streq(commit, e->message_commit)))
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) was edited: its message is "
                        "not the one its hash commits to", c->station, e->station_seq, e->seq, e->uuid ? e->uuid : "-");
        else if (!e->message && d->last_purge_usec < e->time_usec)
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) lost its message, and no "
                        "purge since took it", c->station, e->station_seq, e->seq, e->uuid ? e->uuid : "-");
        else
                return 0;
        c->is_broken = true;
        return 1;
}

/*
 * One row against its chain. Its own hash tells an edit (content no longer matches);
 * its station_seq tells a deletion (a gap); its link to the previous hash tells an
 * insertion, or an edit whose author recomputed that row's hash.
 */
static int check_row(struct chain *c, const struct other_salts *o, const struct detached *d,
                     const struct journal_event_row *e, struct cart_error *err) {
        char hash[JOURNAL_HASH_HEX_LEN + 1];
        int r;

        if (is_detached(c, d, e, err))
                return 0;
        r = message_is_broken(c, d, e, err);
        if (r != 0)
                return r < 0 ? r : 0;

        r = journal_event_hash(e, hash);
        if (r < 0)
                return r;
        /* Form 2 hashes the pupil's commitment: the id beside it must still open it (a
         * purged event has neither id nor salt, and keeps the commitment). */
        if (e->format != 1 && e->pupil_id) {
                char commit[JOURNAL_HASH_HEX_LEN + 1] = "";
                if (e->pupil_salt) {
                        r = journal_pupil_commit(e->pupil_salt, e->pupil_school, e->pupil_id, commit);
                        if (r < 0)
                                return r;
                }
                if (!e->pupil_commit || (!streq(commit, e->pupil_commit) && !other_salt_opens(o, e))) {
                        problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) was edited: its "
                                "pupil %s/%s is not the one its hash commits to", c->station, e->station_seq, e->seq,
                                e->uuid ? e->uuid : "-", e->pupil_school ? e->pupil_school : "", e->pupil_id);
                        c->is_broken = true;
                        return 0;
                }
        }
        if (!e->hash || !streq(hash, e->hash))
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) was edited: its content "
                        "does not match its hash", c->station, e->station_seq, e->seq, e->uuid ? e->uuid : "-");
        else if (e->station_seq == c->expected_seq + 1)
                problem(err, "station %s: event %" PRId64 " deleted (the chain resumes at event %" PRId64 ", row %"
                        PRId64 ", uuid %s)", c->station, c->expected_seq, e->station_seq, e->seq, e->uuid);
        else if (e->station_seq > c->expected_seq)
                problem(err, "station %s: events %" PRId64 " to %" PRId64 " deleted (the chain resumes at event %"
                        PRId64 ", row %" PRId64 ", uuid %s)", c->station, c->expected_seq, e->station_seq - 1,
                        e->station_seq, e->seq, e->uuid);
        else if (e->station_seq < c->expected_seq)
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) inserted: its number is "
                        "already taken", c->station, e->station_seq, e->seq, e->uuid);
        else if (!e->prev_hash || !streq(e->prev_hash, c->prev))
                problem(err, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) does not follow event %"
                        PRId64 ": one of them was inserted, or event %" PRId64 " was edited and its hash recomputed",
                        c->station, e->station_seq, e->seq, e->uuid, e->station_seq - 1, e->station_seq - 1);
        else {
                c->expected_seq++;
                memcpy(c->prev, hash, sizeof(c->prev));
                return 0;
        }
        c->is_broken = true;
        return 0;
}

int journal_verify(struct journal *j, journal_head_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        struct chain c = { .is_broken = true };
        bool has_chain = false, is_broken = false;
        struct cart_error problems = {};
        _cleanup_(other_salts_free) struct other_salts salts = {};
        _cleanup_(journal_signers_freep) struct journal_signers *signers = NULL;
        _cleanup_(detached_free) struct detached detached = {};
        int r;

        r = other_salts_load(j, &salts, err);
        if (r >= 0)
                r = journal_signers_load(j, &signers, err);
        if (r >= 0)
                r = detached_load(j, &detached, err);
        if (r < 0)
                return r;
        /* Within a station, by the order the chain claims; a row renumbered to hide a
         * deletion breaks the links instead. */
        r = jdb_prepare(j, EVENT_SELECT_BARE "ORDER BY e.station, e.station_seq, e.seq", &s, err);
        if (r < 0)
                return r;
        for (;;) {
                struct journal_event_row e;

                r = jdb_step(j, s, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        event_from_row(s, &e);
                if (has_chain && (r == 0 || !streq(e.station, c.station))) {
                        struct journal_head h = { .station = c.station, .n_events = c.expected_seq - 1, .hash = c.prev };
                        if (c.is_broken)
                                is_broken = true;
                        else if (fn)
                                fn(userdata, &h);
                }
                if (r == 0)
                        break;
                if (!has_chain || !streq(e.station, c.station)) {
                        chain_start(&c, e.station ? e.station : "");
                        has_chain = true;
                }
                if (!c.is_broken) {
                        r = check_row(&c, &salts, &detached, &e, &problems);
                        if (r < 0)
                                return r;
                }
                /* Signed by the station's registered key (journal-sign.c). */
                if (!c.is_broken) {
                        struct cart_error bad = {};
                        if (journal_signature_check(signers, &e, &bad) > 0) {
                                problem(&problems, "%s", bad.msg);
                                c.is_broken = true;
                        }
                }
        }
        if (!is_broken)
                return 0;
        cart_error_set(err, -EBADMSG, "%s", problems.msg);
        return 1;
}

int journal_verify_head(struct journal *j, const struct journal_head *h, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int64_t last;
        int r;

        r = jdb_prepare(j, "SELECT max(station_seq), sum(CASE WHEN station_seq = ? THEN 1 ELSE 0 END), "
                        "max(CASE WHEN station_seq = ? THEN hash END) FROM events WHERE station = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_int64(s, 1, h->n_events);
        jdb_bind_int64(s, 2, h->n_events);
        jdb_bind_text(s, 3, h->station);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        last = r > 0 ? jdb_int64(s, 0) : -1;
        if (last < 0) {
                cart_error_set(err, -EBADMSG, "station %s: no events, but its head was recorded at event %" PRId64
                               ": the whole chain was deleted", h->station, h->n_events);
                return 1;
        }
        if (last < h->n_events) {
                cart_error_set(err, -EBADMSG, "station %s: the chain ends at event %" PRId64 " but its head was "
                               "recorded at event %" PRId64 ": its tail was cut", h->station, last, h->n_events);
                return 1;
        }
        if (jdb_int64(s, 1) != 1 || !jdb_text(s, 2) || strcasecmp(jdb_text(s, 2), h->hash) != 0) {
                cart_error_set(err, -EBADMSG, "station %s: event %" PRId64 " does not have the hash recorded for "
                               "it (%s): the chain was rewritten up to there", h->station, h->n_events, h->hash);
                return 1;
        }
        return 0;
}
