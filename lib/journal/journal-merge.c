/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Merging one journal into another (journal merge, journal push): an offline station's
 * SQLite file into the central PostgreSQL journal, or any backend into any. Events are
 * identified by uuid and copied verbatim, so each station's chain verifies in the target
 * as it did in the source. Portable SQL only (see journal-internal.h).
 */
#include <inttypes.h>

#include "journal/journal-internal.h"

struct issue {
        char *school, *id, *key, *station;
};

struct merge {
        struct journal *target, *source;
        struct journal_merge_counts counts;
        int64_t import_id;             /* the target's import row for the pupils merged, 0: none yet */
        struct issue *issues;          /* "issued" events added: checked for conflicts at the end */
        size_t n_issues;
        struct cart_error *err;
};

static void merge_free_issues(struct merge *m) {
        for (size_t i = 0; i < m->n_issues; i++) {
                free(m->issues[i].school);
                free(m->issues[i].id);
                free(m->issues[i].key);
                free(m->issues[i].station);
        }
        free(m->issues);
}

static int merge_import_row(struct merge *m) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *source = NULL;
        int r;

        if (m->import_id > 0)
                return 0;
        if (asprintf(&source, "merge:%s", m->source->path) < 0)
                return -ENOMEM;
        r = jdb_prepare(m->target, "INSERT INTO imports (time_usec, source, station, n_pupils, n_added, n_moved, "
                        "n_renamed, n_left, n_rejoined) VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0) RETURNING id", &s, m->err);
        if (r < 0)
                return r;
        jdb_bind_int64(s, 1, journal_now_usec());
        jdb_bind_text(s, 2, source);
        jdb_bind_text(s, 3, m->target->station);
        r = jdb_step(m->target, s, m->err);
        if (r <= 0)
                return r < 0 ? r : -EPROTO;
        m->import_id = jdb_int64(s, 0);
        return jdb_step(m->target, s, m->err) < 0 ? -EIO : 0;
}

/* One more salt of a pupil, from another journal (pupil_salts, schema v3). */
static int add_other_salt(struct merge *m, const char *school, const char *id, const char *salt) {
        return jdb_run(m->target, m->err, "INSERT INTO pupil_salts (school, id, salt) SELECT ?, ?, ? WHERE EXISTS "
                       "(SELECT 1 FROM pupils WHERE school = ? AND id = ?) ON CONFLICT DO NOTHING",
                       JT(school), JT(id), JT(salt), JT(school), JT(id));
}

/* Whether target holds the pupil: after merge_pupils, a pupil of source that target lacks
 * was purged in target (a tombstone kept it out). */
static int target_has_pupil(struct merge *m, const char *school, const char *id) {
        int64_t n = 0;
        int r = jdb_query_int(m->target, m->err, &n, "SELECT count(*) FROM pupils WHERE school = ? AND id = ?",
                              JT(school), JT(id));
        return r < 0 ? r : n > 0;
}

/*
 * A pupil's salt opens the commitments its events carry (journal purge): the pupil's events
 * in source verify in target only under source's salt. Target without one adopts it; a
 * target that salted the pupil its own way (the pupil given events on both sides since they
 * parted: keys issued twice, a conflict to settle) keeps its salt and adds source's to the
 * pupil's other salts, under which journal verify opens those events.
 */
static int merge_salt(struct merge *m, struct jstmt *src, const char *theirs) {
        const char *ours = jdb_text(src, 14);

        if (!ours || (theirs && streq(ours, theirs)))
                return 0;
        if (theirs)
                return add_other_salt(m, jdb_text(src, 0), jdb_text(src, 1), ours);
        return jdb_run(m->target, m->err, "UPDATE pupils SET salt = ? WHERE school = ? AND id = ? AND salt IS NULL",
                       JT(ours), JT(jdb_text(src, 0)), JT(jdb_text(src, 1)));
}

/* fn for each row of a query of source. */
static int each_source_row(struct merge *m, const char *sql, int (*fn)(struct merge *m, struct jstmt *s)) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(m->source, sql, &s, m->err);
        if (r < 0)
                return r;
        for (;;) {
                r = jdb_step(m->source, s, m->err);
                if (r <= 0)
                        return r;
                r = fn(m, s);
                if (r < 0)
                        return r;
        }
}

static int merge_other_salt(struct merge *m, struct jstmt *s) {
        return add_other_salt(m, jdb_text(s, 0), jdb_text(s, 1), jdb_text(s, 2));
}

/* The other salts source holds (from its own merges) come along. */
static int merge_other_salts(struct merge *m) {
        return each_source_row(m, "SELECT school, id, salt FROM pupil_salts ORDER BY school, id, salt", merge_other_salt);
}

/* The schools and pupils target does not know; target's own rows win (its roster is newer). */
static int merge_pupils(struct merge *m) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(m->source, "SELECT p.school, p.id, p.family_name, p.first_name, p.class_name, p.is_active, "
                        "p.ine_hmac, p.has_derived_id, p.roster_rank, p.roster_line, p.created_usec, p.updated_usec, "
                        "p.left_usec, s.year, p.salt FROM pupils p JOIN schools s ON s.uai = p.school ORDER BY p.school, p.id",
                        &s, m->err);
        if (r < 0)
                return r;
        for (;;) {
                struct jstmt *has = NULL, *ins = NULL, *sch = NULL;

                r = jdb_step(m->source, s, m->err);
                if (r <= 0)
                        return r;
                r = jdb_cached(m->target, "SELECT salt FROM pupils WHERE school = ? AND id = ?", &has, m->err);
                if (r < 0)
                        return r;
                jdb_bind_text(has, 1, jdb_text(s, 0));
                jdb_bind_text(has, 2, jdb_text(s, 1));
                r = jdb_step(m->target, has, m->err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = merge_salt(m, s, jdb_text(has, 0));
                        jdb_reset(has);
                        if (r < 0)
                                return r;
                        continue;
                }
                jdb_reset(has);
                r = journal_is_purged(m->target, jdb_text(s, 0), jdb_text(s, 1), jdb_is_null(s, 14) ? NULL :
                                      jdb_text(s, 14), m->err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        m->counts.pupils_purged++;
                        continue;
                }
                r = merge_import_row(m);
                if (r < 0)
                        return r;
                r = jdb_cached(m->target, "INSERT INTO schools (uai, year, created_usec, updated_usec) VALUES "
                               "(?, ?, ?, ?) ON CONFLICT (uai) DO NOTHING", &sch, m->err);
                if (r < 0)
                        return r;
                jdb_bind_text(sch, 1, jdb_text(s, 0));
                jdb_bind_text(sch, 2, jdb_text(s, 13));
                jdb_bind_int64(sch, 3, jdb_int64(s, 10));
                jdb_bind_int64(sch, 4, jdb_int64(s, 11));
                r = jdb_step(m->target, sch, m->err);
                if (r < 0)
                        return r;
                r = jdb_cached(m->target, "INSERT INTO pupils (school, id, family_name, first_name, class_name, "
                               "is_active, ine_hmac, has_derived_id, roster_rank, roster_line, import_id, "
                               "created_usec, updated_usec, left_usec, salt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               &ins, m->err);
                if (r < 0)
                        return r;
                for (int i = 0; i < 14; i++) {
                        if (i == 10)
                                jdb_bind_int64(ins, 11, m->import_id);
                        else if (jdb_is_null(s, i < 10 ? i : i - 1))
                                jdb_bind_null(ins, i + 1);
                        else
                                jdb_bind_text(ins, i + 1, jdb_text(s, i < 10 ? i : i - 1));
                }
                jdb_bind_text(ins, 15, jdb_text(s, 14));
                r = jdb_step(m->target, ins, m->err);
                if (r < 0)
                        return r;
                m->counts.pupils_added++;
        }
}

#define KEY_COLUMNS "uid, serial, vid_pid, vendor, product, capacity, real_capacity, volume_id, status, " \
        "pupil_school, pupil_id, created_usec, updated_usec"

/* Every key of source; a key both know takes the state of the most recent change. */
static int merge_keys(struct merge *m) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(m->source, "SELECT " KEY_COLUMNS " FROM keys ORDER BY uid", &s, m->err);
        if (r < 0)
                return r;
        for (;;) {
                struct jstmt *has = NULL, *up = NULL;
                int64_t theirs;

                r = jdb_step(m->source, s, m->err);
                if (r <= 0)
                        return r;
                r = jdb_cached(m->target, "SELECT updated_usec FROM keys WHERE uid = ?", &has, m->err);
                if (r < 0)
                        return r;
                jdb_bind_text(has, 1, jdb_text(s, 0));
                r = jdb_step(m->target, has, m->err);
                if (r < 0)
                        return r;
                theirs = r > 0 ? jdb_int64(has, 0) : -1;
                jdb_reset(has);
                if (theirs >= jdb_int64(s, 12))
                        continue;
                r = jdb_cached(m->target, "INSERT INTO keys (" KEY_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                               "?, ?, ?) ON CONFLICT (uid) DO UPDATE SET serial = excluded.serial, "
                               "vid_pid = excluded.vid_pid, vendor = excluded.vendor, product = excluded.product, "
                               "capacity = excluded.capacity, real_capacity = excluded.real_capacity, "
                               "volume_id = excluded.volume_id, status = excluded.status, "
                               "pupil_school = excluded.pupil_school, pupil_id = excluded.pupil_id, "
                               "updated_usec = excluded.updated_usec", &up, m->err);
                if (r < 0)
                        return r;
                r = jdb_is_null(s, 10) ? 1 : target_has_pupil(m, jdb_text(s, 9), jdb_text(s, 10));
                if (r < 0)
                        return r;
                /* A purged pupil's key stays, without the pupil (as the purge left it). */
                for (int i = 0; i < 13; i++)
                        jdb_bind_text(up, i + 1, jdb_is_null(s, i) || (r == 0 && (i == 9 || i == 10)) ? NULL :
                                      jdb_text(s, i));
                r = jdb_step(m->target, up, m->err);
                if (r < 0)
                        return r;
                if (theirs < 0)
                        m->counts.keys_added++;
                else
                        m->counts.keys_updated++;
        }
}

static int remember_issue(struct merge *m, const struct journal_event_row *e) {
        struct issue *p;

        if (!streq(e->kind, "issued") || !e->pupil_id || !e->key_uid)
                return 0;
        p = realloc(m->issues, (m->n_issues + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        m->issues = p;
        p = &m->issues[m->n_issues++];
        *p = (struct issue) { strdup(e->pupil_school), strdup(e->pupil_id), strdup(e->key_uid), strdup(e->station) };
        return p->school && p->id && p->key && p->station ? 0 : -ENOMEM;
}

/* An event of a pupil purged in target comes in as the purge left that pupil's own: without
 * its id, its commitment buried (a form-1 event hashes the id: target kept that pupil). */
static int merge_insert_event(struct merge *m, const struct journal_event_row *e) {
        struct journal_event_row copy = *e;
        int r;

        if (e->format != 1 && e->pupil_id) {
                r = target_has_pupil(m, e->pupil_school, e->pupil_id);
                if (r < 0)
                        return r;
                if (r == 0) {
                        copy.pupil_id = NULL;
                        r = journal_tombstone_add(m->target, e->pupil_commit, m->err);
                        if (r < 0)
                                return r;
                }
        }
        r = journal_event_insert(m->target, &copy, m->err);
        if (r < 0)
                return r;
        m->counts.events_added++;
        return remember_issue(m, &copy);
}

static int merge_tombstone(struct merge *m, struct jstmt *s) {
        return journal_tombstone_add(m->target, jdb_text(s, 0), m->err);
}

/* Source's tombstones come along: the events its purges detached verify in target too. */
static int merge_tombstones(struct merge *m) {
        return each_source_row(m, "SELECT commitment FROM purged_pupils ORDER BY commitment", merge_tombstone);
}

/* One event of source: already in target (same uuid, same hash), or the next link of its
 * station's chain there. */
static int merge_event(void *userdata, const struct journal_event_row *e) {
        static const char zero[] = "0000000000000000000000000000000000000000000000000000000000000000";
        struct merge *m = userdata;
        struct jstmt *s = NULL;
        int64_t last_seq = 0;
        int r;

        r = jdb_cached(m->target, "SELECT hash FROM events WHERE uuid = ?", &s, m->err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, e->uuid);
        r = jdb_step(m->target, s, m->err);
        if (r < 0)
                return r;
        if (r > 0) {
                bool same = jdb_text(s, 0) && e->hash && streq(jdb_text(s, 0), e->hash);
                jdb_reset(s);
                if (!same)
                        return cart_error_set(m->err, -EBADMSG, "station %s: event %" PRId64 " (uuid %s) is in both "
                                              "journals with different contents: one of them was edited",
                                              e->station, e->station_seq, e->uuid);
                m->counts.events_present++;
                return 0;
        }

        r = jdb_lock_chain(m->target, e->station, m->err);
        if (r < 0)
                return r;
        r = jdb_cached(m->target, "SELECT station_seq, hash FROM events WHERE station = ? "
                       "ORDER BY station_seq DESC LIMIT 1", &s, m->err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, e->station);
        r = jdb_step(m->target, s, m->err);
        if (r < 0)
                return r;
        if (r > 0)
                last_seq = jdb_int64(s, 0);
        if (e->station_seq != last_seq + 1 || !e->prev_hash ||
            !streq(e->prev_hash, r > 0 ? jdb_text(s, 1) : zero)) {
                jdb_reset(s);
                return cart_error_set(m->err, -EBADMSG, "station %s: event %" PRId64 " (uuid %s) does not continue "
                                      "the chain in %s, which ends at event %" PRId64 ": two journals call themselves "
                                      "station %s, or %s misses events; nothing was merged",
                                      e->station, e->station_seq, e->uuid, m->target->path, last_seq, e->station,
                                      m->source->path);
        }
        jdb_reset(s);
        return merge_insert_event(m, e);
}

static bool is_merged_issue(const struct merge *m, const char *school, const char *id, const char *key) {
        for (size_t i = 0; i < m->n_issues; i++)
                if (streq(m->issues[i].school, school) && streq(m->issues[i].id, id) && streq(m->issues[i].key, key))
                        return true;
        return false;
}

/* A pupil issued a key on one station while holding one issued on another. A pair whose
 * both issues came in this merge (a conflict already in source) is reported once. */
static int find_conflicts(struct merge *m, journal_conflict_fn fn, void *userdata) {
        for (size_t i = 0; i < m->n_issues; i++) {
                const struct issue *is = &m->issues[i];
                _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
                int r;

                r = jdb_prepare(m->target, "SELECT uid FROM keys WHERE pupil_school = ? AND pupil_id = ? AND "
                                "status = 'issued' AND uid <> ? AND EXISTS (SELECT 1 FROM keys WHERE uid = ? AND "
                                "status = 'issued' AND pupil_school = ? AND pupil_id = ?) ORDER BY uid", &s, m->err);
                if (r < 0)
                        return r;
                jdb_bind_text(s, 1, is->school);
                jdb_bind_text(s, 2, is->id);
                jdb_bind_text(s, 3, is->key);
                jdb_bind_text(s, 4, is->key);
                jdb_bind_text(s, 5, is->school);
                jdb_bind_text(s, 6, is->id);
                while ((r = jdb_step(m->target, s, m->err)) > 0) {
                        if (strcmp(jdb_text(s, 0), is->key) < 0 && is_merged_issue(m, is->school, is->id, jdb_text(s, 0)))
                                continue;
                        struct journal_conflict c = { .pupil_school = is->school, .pupil_id = is->id,
                                .key_uid = is->key, .station = is->station, .other_key_uid = jdb_text(s, 0) };
                        m->counts.conflicts++;
                        if (fn) {
                                r = fn(userdata, &c);
                                if (r < 0)
                                        return r;
                        }
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every chain of source verifies, or nothing of it is inserted: a broken source would leave
 * target failing journal verify for good, and no station can delete events to repair it. */
static int merge_check_source(struct merge *m) {
        struct cart_error problems = {};
        int r;

        r = journal_verify(m->source, NULL, NULL, &problems);
        if (r < 0) {
                *m->err = problems;
                return r;
        }
        if (r == 0)
                return 0;
        return cart_error_set(m->err, -EBADMSG, "%s is refused, nothing was merged: a chain of it does not verify:\n%s",
                              m->source->path, problems.msg);
}

int journal_merge(struct journal *target, struct journal *source, journal_conflict_fn fn, void *userdata,
                  struct journal_merge_counts *ret, struct cart_error *err) {
        struct merge m = { .target = target, .source = source, .err = err };
        int r;

        r = merge_check_source(&m);
        if (r < 0)
                return r;
        r = journal_txn_begin(target, err);
        if (r < 0)
                return r;
        r = merge_tombstones(&m);
        if (r >= 0)
                r = merge_pupils(&m);
        if (r >= 0)
                r = merge_other_salts(&m);
        if (r >= 0)
                r = merge_keys(&m);
        if (r >= 0)
                r = journal_events_by_station(source, merge_event, &m, err);
        if (r >= 0)
                r = find_conflicts(&m, fn, userdata);
        merge_free_issues(&m);
        if (r < 0) {
                journal_txn_rollback(target);
                return r;
        }
        r = journal_txn_commit(target, err);
        if (r < 0)
                return r;
        if (ret)
                *ret = m.counts;
        return 0;
}
