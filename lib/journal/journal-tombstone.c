/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a purge leaves of a pupil so that it stays purged (issue 21): tombstones, salted
 * commitments kept in purged_pupils (schema v8). Two kinds, one column: the commitments the
 * pupil's events carry (under its own salt and its other journals' salts), by which journal
 * verify tells a purged event from history detached behind cartable's back; and the pupil's
 * identity under this journal's purge salt (purge_salt: one random value, made by the first
 * purge), by which a merge knows a pupil that an older journal still lists. The events'
 * salts are gone with the pupil; the purge salt stays, so a guessed id can be tested
 * against an identity tombstone: it tells that the id was purged, never a name.
 * Portable SQL only.
 */
#include <sys/random.h>

#include "base/hash.h"
#include "journal/journal-internal.h"

/* This journal's purge salt; made when make and none exists yet. 1: found (or made), 0: none. */
static int purge_salt(struct journal *j, bool make, char ret[33], struct cart_error *err) {
        _cleanup_free_ char *salt = NULL;
        uint8_t b[16];
        int r;

        r = jdb_query_text(j, err, &salt, "SELECT salt FROM purge_salt ORDER BY salt LIMIT 1");
        if (r < 0)
                return r;
        if (salt) {
                snprintf(ret, 33, "%s", salt);
                return 1;
        }
        if (!make)
                return 0;
        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                return cart_error_errno(err, -errno, NULL, "no random salt");
        hash_to_hex(b, sizeof(b), ret);
        r = jdb_run(j, err, "INSERT INTO purge_salt (salt) VALUES (?)", JT(ret));
        return r < 0 ? r : 1;
}

static int add(struct journal *j, const char *commitment, struct cart_error *err) {
        return jdb_run(j, err, "INSERT INTO purged_pupils (commitment) VALUES (?) ON CONFLICT DO NOTHING",
                       JT(commitment));
}

static int is_tombstone(struct journal *j, const char *commitment, struct cart_error *err) {
        int64_t n = 0;
        int r = jdb_query_int(j, err, &n, "SELECT count(*) FROM purged_pupils WHERE commitment = ?", JT(commitment));
        return r < 0 ? r : n > 0;
}

int journal_tombstone_add(struct journal *j, const char *commitment, struct cart_error *err) {
        return add(j, commitment, err);
}

int journal_tombstones_bury(struct journal *j, const char *condition, int64_t before, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *sql = NULL;
        char salt[33], c[JOURNAL_HASH_HEX_LEN + 1];
        int r;

        r = purge_salt(j, true, salt, err);
        if (r < 0)
                return r;
        /* Each purged pupil's identity, and its salts: its own, then its other journals'. */
        if (asprintf(&sql, "SELECT p.school, p.id, p.salt FROM pupils p WHERE %s UNION ALL SELECT ps.school, ps.id, "
                     "ps.salt FROM pupil_salts ps JOIN pupils p ON p.school = ps.school AND p.id = ps.id WHERE %s",
                     condition, condition) < 0)
                return -ENOMEM;
        r = jdb_prepare(j, sql, &s, err);
        if (r < 0)
                return r;
        jdb_bind_int64(s, 1, before);
        jdb_bind_int64(s, 2, before);
        for (;;) {
                _cleanup_free_ char *school = NULL, *id = NULL, *own = NULL;

                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                school = strdup(jdb_text(s, 0));
                id = strdup(jdb_text(s, 1));
                own = jdb_is_null(s, 2) ? NULL : strdup(jdb_text(s, 2));
                if (!school || !id || (!own && !jdb_is_null(s, 2)))
                        return -ENOMEM;
                r = journal_pupil_commit(salt, school, id, c);
                if (r >= 0)
                        r = add(j, c, err);
                if (r >= 0 && own) {
                        r = journal_pupil_commit(own, school, id, c);
                        if (r >= 0)
                                r = add(j, c, err);
                }
                if (r < 0)
                        return r;
        }
}

int journal_is_purged(struct journal *j, const char *school, const char *id, const char *salt, struct cart_error *err) {
        char mine[33], c[JOURNAL_HASH_HEX_LEN + 1];
        int r;

        r = purge_salt(j, false, mine, err);
        if (r <= 0)
                return r;       /* never purged: no tombstone */
        r = journal_pupil_commit(mine, school, id, c);
        if (r >= 0)
                r = is_tombstone(j, c, err);
        if (r != 0 || !salt)
                return r;
        r = journal_pupil_commit(salt, school, id, c);
        return r < 0 ? r : is_tombstone(j, c, err);
}

/* ---- Sets of commitments, read before a walk (journal verify) ---- */

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const struct journal_commit_entry *) a)->commit, ((const struct journal_commit_entry *) b)->commit);
}

void journal_commit_set_free(struct journal_commit_set *set) {
        for (size_t i = 0; i < set->n; i++)
                free(set->v[i].who);
        free(set->v);
        *set = (struct journal_commit_set) {};
}

static int set_push(struct journal_commit_set *set, const char *commit, const char *school, const char *id) {
        void *a = reallocarray(set->v, set->n + 1, sizeof(*set->v));
        if (!a)
                return -ENOMEM;
        set->v = a;
        snprintf(set->v[set->n].commit, sizeof(set->v[set->n].commit), "%s", commit);
        set->v[set->n].who = NULL;
        if (school && asprintf(&set->v[set->n].who, "%s/%s", school, id) < 0)
                return -ENOMEM;
        set->n++;
        return 0;
}

int journal_commit_set_load(struct journal *j, bool want_pupils, struct journal_commit_set *ret, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_(journal_commit_set_free) struct journal_commit_set set = {};
        int r;

        r = jdb_prepare(j, want_pupils ? "SELECT school, id, salt FROM pupils WHERE salt IS NOT NULL UNION ALL "
                        "SELECT school, id, salt FROM pupil_salts" : "SELECT commitment FROM purged_pupils", &s, err);
        if (r < 0)
                return r;
        for (;;) {
                char c[JOURNAL_HASH_HEX_LEN + 1];

                r = jdb_step(j, s, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (want_pupils) {
                        r = journal_pupil_commit(jdb_text(s, 2), jdb_text(s, 0), jdb_text(s, 1), c);
                        if (r >= 0)
                                r = set_push(&set, c, jdb_text(s, 0), jdb_text(s, 1));
                } else
                        r = set_push(&set, jdb_text(s, 0), NULL, NULL);
                if (r < 0)
                        return r;
        }
        if (set.n > 0)
                qsort(set.v, set.n, sizeof(*set.v), cmp_entry);
        *ret = set;
        set = (struct journal_commit_set) {};
        return 0;
}

const struct journal_commit_entry *journal_commit_set_find(const struct journal_commit_set *set, const char *commit) {
        struct journal_commit_entry key = {};

        if (!commit || set->n == 0)
                return NULL;
        snprintf(key.commit, sizeof(key.commit), "%s", commit);
        return bsearch(&key, set->v, set->n, sizeof(*set->v), cmp_entry);
}
