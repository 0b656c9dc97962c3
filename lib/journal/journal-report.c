/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The queries behind reports. Each is driven by an index in output order (pupils_by_class,
 * events_by_key), so no query sorts 100,000 rows in memory. Portable SQL only.
 */
#include "journal/journal-internal.h"
#include "journal/journal-report.h"

/* " AND p.school = ? AND p.class_name = ?", only the conditions given. */
static void filter_sql(const struct journal_report_filter *f, char *buf, size_t len) {
        snprintf(buf, len, "%s%s", f && f->school ? " AND p.school = ?" : "",
                 f && f->class_name ? " AND p.class_name = ?" : "");
}

static int filter_bind(const struct journal_report_filter *f, struct jstmt *s, int n) {
        if (f && f->school)
                jdb_bind_text(s, ++n, f->school);
        if (f && f->class_name)
                jdb_bind_text(s, ++n, f->class_name);
        return n;
}

static int prepare_filtered(struct journal *j, const char *head, const char *tail,
                            const struct journal_report_filter *f, struct jstmt **ret,
                            struct cart_error *err) {
        _cleanup_free_ char *sql = NULL;
        char cond[128];
        int r;

        filter_sql(f, cond, sizeof(cond));
        if (asprintf(&sql, "%s%s%s", head, cond, tail) < 0)
                return -ENOMEM;
        r = jdb_prepare(j, sql, ret, err);
        if (r < 0)
                return r;
        filter_bind(f, *ret, 0);
        return 0;
}

int journal_report_classes(struct journal *j, const struct journal_report_filter *f,
                           journal_class_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = prepare_filtered(j,
                "SELECT p.school, p.class_name, sum(p.is_active), sum(1 - p.is_active), "
                "sum(CASE WHEN p.is_active = 1 AND EXISTS (SELECT 1 FROM keys k WHERE k.pupil_school = p.school "
                "AND k.pupil_id = p.id AND k.status = 'issued') THEN 1 ELSE 0 END), "
                "coalesce(sum(ev.lost), 0), coalesce(sum(ev.stolen), 0), coalesce(sum(ev.replaced), 0), "
                "coalesce(sum(ev.returned), 0) FROM pupils p LEFT JOIN (SELECT pupil_school, pupil_id, "
                "sum(CASE WHEN kind = 'lost' THEN 1 ELSE 0 END) AS lost, "
                "sum(CASE WHEN kind = 'stolen' THEN 1 ELSE 0 END) AS stolen, "
                "sum(CASE WHEN kind = 'replaced' THEN 1 ELSE 0 END) AS replaced, "
                "sum(CASE WHEN kind = 'returned' THEN 1 ELSE 0 END) AS returned FROM events "
                "WHERE kind IN ('lost', 'stolen', 'replaced', 'returned') AND pupil_id IS NOT NULL "
                "GROUP BY pupil_school, pupil_id) ev ON ev.pupil_school = p.school AND ev.pupil_id = p.id "
                "WHERE 1 = 1", " GROUP BY p.school, p.class_name ORDER BY p.school, p.class_name", f, &s, err);
        if (r < 0)
                return r;
        for (;;) {
                struct journal_class_counts c;

                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                c = (struct journal_class_counts) {
                        .school = jdb_text(s, 0), .class_name = jdb_text(s, 1), .pupils = jdb_int64(s, 2),
                        .left = jdb_int64(s, 3), .issued = jdb_int64(s, 4), .lost = jdb_int64(s, 5),
                        .stolen = jdb_int64(s, 6), .replaced = jdb_int64(s, 7), .returned = jdb_int64(s, 8),
                };
                c.without_key = c.pupils - c.issued;
                r = fn(userdata, &c);
                if (r < 0)
                        return r;
        }
}

/* The last good flash, update or repair of key k (an events row): the release the key holds. */
#define LAST_FLASH "(SELECT max(x.seq) FROM events x WHERE x.key_uid = k.uid AND x.kind IN ('flashed', 'updated', " \
        "'repaired') AND x.outcome = 'ok')"
#define LAST_VERIFY "(SELECT max(y.seq) FROM events y WHERE y.key_uid = k.uid AND y.kind = 'verified')"
#define LAST_ISSUE "(SELECT max(z.seq) FROM events z WHERE z.key_uid = k.uid AND z.kind = 'issued')"
#define LAST_RUN "(SELECT x.run FROM events x WHERE x.key_uid = k.uid AND x.run IS NOT NULL ORDER BY x.seq DESC LIMIT 1)"

int journal_report_releases(struct journal *j, const struct journal_report_filter *f,
                            journal_release_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = prepare_filtered(j,
                "SELECT e.release_name, e.release_version, e.release_serial, count(*) FROM keys k "
                "JOIN pupils p ON p.school = k.pupil_school AND p.id = k.pupil_id "
                "JOIN events e ON e.seq = " LAST_FLASH " WHERE k.status = 'issued'",
                " GROUP BY e.release_name, e.release_version, e.release_serial "
                "ORDER BY e.release_serial DESC, e.release_name, e.release_version", f, &s, err);
        if (r < 0)
                return r;
        for (;;) {
                struct journal_release_count c;

                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                c = (struct journal_release_count) { .name = jdb_text(s, 0), .version = jdb_text(s, 1),
                        .serial = jdb_int64(s, 2), .keys = jdb_int64(s, 3) };
                r = fn(userdata, &c);
                if (r < 0)
                        return r;
        }
}

int journal_report_incidents(struct journal *j, const struct journal_report_filter *f,
                             journal_incident_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = prepare_filtered(j,
                "SELECT e.kind, e.time_usec FROM events e JOIN pupils p ON p.school = e.pupil_school "
                "AND p.id = e.pupil_id WHERE e.kind IN ('lost', 'stolen', 'replaced')", " ORDER BY e.seq",
                f, &s, err);
        if (r < 0)
                return r;
        for (;;) {
                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                r = fn(userdata, jdb_text(s, 0), jdb_int64(s, 1));
                if (r < 0)
                        return r;
        }
}

int journal_report_keys(struct journal *j, const struct journal_report_filter *f,
                        journal_report_key_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        /* Driven by pupils_by_class, then keys_by_pupil: already in output order. */
        r = prepare_filtered(j,
                "SELECT k.uid, k.serial, k.volume_id, k.status, k.updated_usec, p.school, p.class_name, p.id, "
                "p.family_name, p.first_name, p.is_active, fl.release_name, fl.release_version, "
                "fl.release_serial, v.time_usec, v.outcome, CASE WHEN k.status = 'issued' AND EXISTS (SELECT 1 "
                "FROM keys k2 WHERE k2.pupil_school = p.school AND k2.pupil_id = p.id AND k2.status = 'issued' "
                "AND k2.uid <> k.uid) THEN 1 ELSE 0 END, iss.time_usec, " LAST_RUN " FROM pupils p "
                "JOIN keys k ON k.pupil_school = p.school AND k.pupil_id = p.id "
                "LEFT JOIN events fl ON fl.seq = " LAST_FLASH " "
                "LEFT JOIN events v ON v.seq = " LAST_VERIFY " "
                "LEFT JOIN events iss ON iss.seq = " LAST_ISSUE " WHERE 1 = 1",
                " ORDER BY p.school, p.class_name, p.roster_rank, k.updated_usec", f, &s, err);
        if (r < 0)
                return r;
        for (;;) {
                struct journal_report_key k;

                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                k = (struct journal_report_key) {
                        .uid = jdb_text(s, 0), .serial = jdb_text(s, 1), .volume_id = jdb_text(s, 2),
                        .status = jdb_text(s, 3), .updated_usec = jdb_int64(s, 4), .school = jdb_text(s, 5),
                        .class_name = jdb_text(s, 6), .pupil_id = jdb_text(s, 7), .family_name = jdb_text(s, 8),
                        .first_name = jdb_text(s, 9), .is_active = jdb_int64(s, 10) == 1,
                        .release_name = jdb_text(s, 11), .release_version = jdb_text(s, 12),
                        .release_serial = jdb_int64(s, 13), .verified_usec = jdb_int64(s, 14),
                        .verified_outcome = jdb_text(s, 15), .is_conflict = jdb_int64(s, 16) == 1,
                        .issued_usec = jdb_int64(s, 17), .run = jdb_text(s, 18),
                };
                r = fn(userdata, &k);
                if (r < 0)
                        return r;
        }
}

int journal_report_last_run(struct journal *j, const struct journal_report_filter *f, char **ret,
                            struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = prepare_filtered(j,
                "SELECT e.run FROM events e JOIN pupils p ON p.school = e.pupil_school AND p.id = e.pupil_id "
                "WHERE e.run IS NOT NULL", " ORDER BY e.seq DESC LIMIT 1", f, &s, err);
        if (r < 0)
                return r;
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return jdb_dup(s, 0, ret);
}

int journal_report_receipts(struct journal *j, const struct journal_report_filter *f,
                            journal_pupil_fn fn, void *userdata, struct cart_error *err) {
        struct journal_pupil_filter pf = { .school = f ? f->school : NULL, .class_name = f ? f->class_name : NULL };
        return journal_pupils_list(j, &pf, fn, userdata, err);
}
