/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/journal's later life of keys (find, mark, verifications), report queries, the purge,
 * and lib/report's writers on the same small journal. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "journal-test.h"
#include "record-test.h"
#include "journal/journal-life.h"
#include "journal/journal-purge.h"
#include "journal/journal-report.h"
#include "report/report.h"

static char dir[] = "/tmp/cartable-journal-life-XXXXXX";
static char path[1024];
static struct journal *j;

static void raw(const char *sql) {
        raw_exec(j, sql);
}

static int64_t raw_int(const char *sql) {
        return raw_count(j, sql);
}

static void sync_pupils(const struct journal_pupil *p, size_t n) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        struct cart_error err = {};
        assert_int_equal(journal_sync_begin(j, "test.csv", NULL, NULL, &s, &err), 0);
        for (size_t i = 0; i < n; i++)
                if (journal_sync_pupil(s, &p[i], &err) < 0)
                        fail_msg("%s", err.msg);
        assert_int_equal(journal_sync_finish(s, false, NULL, &err), 0);
}

static void flash(unsigned i, const char *pupil) {
        struct flash_report rep = {
                .key = { .vid_pid = "0781:5581", .capacity = 8 * GIB }, .volume_id = 0xC0000000u + i,
                .release_name = "ent-college", .release_version = "2026.1", .release_key_id = "0123456789ABCDEF",
                .release_serial = 3 + (i == 2), .finished_usec = 1780000000000000, .outcome = FLASH_OUTCOME_OK,
                .step = FLASH_STEP_DONE,
        };
        struct test_flash f = { .operator = "tech", .pupil = pupil };
        struct cart_error err = {};
        snprintf(rep.key.serial, sizeof(rep.key.serial), "K%u", i);
        if (record_flash(j, &rep, &f, &err) < 0)
                fail_msg("%s", err.msg);
}

static const struct journal_pupil roster[] = {
        { .id = "P1", .school = "0750001A", .family_name = "Martin", .first_name = "Léa", .class_name = "6A", .line = 2 },
        { .id = "P2", .school = "0750001A", .family_name = "<b>\"O'Brien\"&", .first_name = "=1+1", .class_name = "6A", .line = 3 },
        { .id = "P3", .school = "0750001A", .family_name = "Durand", .first_name = "Théo", .class_name = "5A", .line = 4 },
        { .id = "P4", .school = "0750001A", .family_name = "Petit", .first_name = "Lina", .class_name = "5A", .line = 5 },
};

static int setup(void **state) {
        struct journal_options o = { .station = "st-1", .create = true };
        struct cart_error err = {};

        journal_test_next(dir, path, sizeof(path), NULL, 0);
        if (journal_open(path, &o, &j, &err) < 0)
                fail_msg("%s", err.msg);
        sync_pupils(roster, ELEMENTSOF(roster));
        flash(0, "P1");
        flash(1, "P2");
        flash(2, "P3");
        flash(3, NULL);      /* stock */
        return 0;
}

static int teardown(void **state) {
        j = journal_close(j);
        return 0;
}

static void test_find(void **state) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *a = NULL, *b = NULL, *c = NULL;
        struct journal_key_info *none = NULL;
        struct cart_error err = {};

        assert_int_equal(journal_key_find(j, "K1", &a, &err), 0);
        assert_string_equal(a->uid, "usb:0781:5581:K1");
        assert_string_equal(a->status, "issued");
        assert_string_equal(a->pupil_id, "P2");
        assert_string_equal(a->class_name, "6A");
        assert_string_equal(a->release_version, "2026.1");
        assert_int_equal(a->release_serial, 3);
        assert_int_equal(a->verified_usec, -1);
        assert_int_equal(journal_key_find(j, "c0000001", &b, &err), 0);    /* volume ID, any case */
        assert_string_equal(b->uid, a->uid);
        assert_int_equal(journal_key_find(j, "usb:0781:5581:K3", &c, &err), 0);
        assert_string_equal(c->status, "stock");
        assert_null(c->pupil_id);
        assert_int_equal(journal_key_find(j, "nope", &none, &err), -ENOENT);
        assert_null(none);
        assert_non_null(strstr(err.msg, "key nope is not in the journal"));
}

static void test_mark(void **state) {
        _cleanup_free_ char *uid = NULL;
        struct cart_error err = {};
        int64_t n = raw_int("SELECT count(*) FROM events");

        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "lost", .pupil = "P1", .operator = "cpe" },
                                          &uid, &err), 0);
        assert_string_equal(uid, "usb:0781:5581:K0");
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:K0' AND status = 'lost' "
                                 "AND pupil_id = 'P1'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'lost' AND operator = 'cpe' AND "
                                 "station = 'st-1' AND pupil_id = 'P1'"), 1);
        /* Refusals write nothing. */
        n = raw_int("SELECT count(*) FROM events");
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "lost", .pupil = "P1" }, NULL, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "holds no key"));
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "stolen", .key = "K0" }, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "is lost, not issued"));
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "stolen", .key = "K3" }, NULL, &err), -EINVAL);
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "eaten", .key = "K1" }, NULL, &err), -EINVAL);
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "lost" }, NULL, &err), -EINVAL);
        assert_int_equal(raw_int("SELECT count(*) FROM events"), n);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* A lost key is marked replaced by its key, once; an issued one is not. */
        _cleanup_free_ char *lost = NULL;
        assert_int_equal(journal_pupil_lost_key(j, "P1", &lost, &err), 1);
        assert_string_equal(lost, "usb:0781:5581:K0");
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "replaced", .pupil = "P1" }, NULL, &err),
                         -EINVAL);
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "replaced", .key = "K1" }, NULL, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, "is issued, not lost or stolen"));
        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "replaced", .key = lost }, NULL, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:K0' AND status = 'replaced'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind IN ('lost', 'replaced') AND pupil_id = 'P1'"), 2);
        free(lost);
        lost = NULL;
        assert_int_equal(journal_pupil_lost_key(j, "P1", &lost, &err), 0);
        assert_null(lost);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

static void test_verification(void **state) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct journal_verification v = { .key_uid = "K1", .operator = "cpe", .outcome = "modified",
                                           .message = "1 modified", .release_serial = 3 };
        struct cart_error err = {};

        assert_int_equal(journal_record_verification(j, &v, &err), 0);
        assert_int_equal(journal_key_find(j, "K1", &k, &err), 0);
        assert_string_equal(k->verified_outcome, "modified");
        assert_true(k->verified_usec > 0);
        v.key_uid = "nope";
        assert_int_equal(journal_record_verification(j, &v, &err), -ENOENT);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'verified'"), 1);
}

struct collect {
        char buf[2048];
};

static int on_class(void *userdata, const struct journal_class_counts *c) {
        struct collect *x = userdata;
        size_t n = strlen(x->buf);
        snprintf(x->buf + n, sizeof(x->buf) - n, "%s %s p%" PRId64 " i%" PRId64 " w%" PRId64 " l%" PRId64 " s%" PRId64
                 " r%" PRId64 " left%" PRId64 "\n", c->school, c->class_name, c->pupils, c->issued, c->without_key,
                 c->lost, c->stolen, c->returned, c->left);
        return 0;
}

static int on_release(void *userdata, const struct journal_release_count *c) {
        struct collect *x = userdata;
        size_t n = strlen(x->buf);
        snprintf(x->buf + n, sizeof(x->buf) - n, "%s %s #%" PRId64 " %" PRId64 "\n", c->name, c->version, c->serial, c->keys);
        return 0;
}

static int on_key(void *userdata, const struct journal_report_key *k) {
        struct collect *x = userdata;
        size_t n = strlen(x->buf);
        snprintf(x->buf + n, sizeof(x->buf) - n, "%s %s %s %s\n", k->class_name, k->pupil_id, k->serial, k->status);
        return 0;
}

static void test_report_queries(void **state) {
        struct journal_report_filter f = { .school = "0750001A" };
        struct collect x = {};
        struct cart_error err = {};

        assert_int_equal(journal_key_mark(j, &(struct journal_mark) { .kind = "stolen", .pupil = "P3" }, NULL, &err), 0);
        assert_int_equal(journal_report_classes(j, &f, on_class, &x, &err), 0);
        assert_string_equal(x.buf, "0750001A 5A p2 i0 w2 l0 s1 r0 left0\n"
                                   "0750001A 6A p2 i2 w0 l0 s0 r0 left0\n");
        x.buf[0] = 0;
        assert_int_equal(journal_report_releases(j, &f, on_release, &x, &err), 0);
        assert_string_equal(x.buf, "ent-college 2026.1 #3 2\n");     /* K2 (serial 4) was stolen */
        x.buf[0] = 0;
        f.class_name = "6A";
        assert_int_equal(journal_report_keys(j, &f, on_key, &x, &err), 0);
        assert_string_equal(x.buf, "6A P1 K0 issued\n6A P2 K1 issued\n");
        x.buf[0] = 0;
        f.school = "0000000X";
        assert_int_equal(journal_report_keys(j, &f, on_key, &x, &err), 0);
        assert_string_equal(x.buf, "");
}

static char *report_text(enum report_format fmt, bool receipts) {
        struct report_options o = { .school = "0750001A", .class_name = receipts ? "6A" : NULL, .format = fmt,
                                    .now_usec = 1780000000000000 };
        struct cart_error err = {};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r;

        assert_non_null(f);
        r = receipts ? report_receipts_write(j, &o, f, &err) : report_write(j, &o, f, &err);
        if (r < 0)
                fail_msg("%s", err.msg);
        fclose(f);
        return buf;
}

static void test_report_formats(void **state) {
        _cleanup_free_ char *csv = report_text(REPORT_CSV, false);
        _cleanup_free_ char *json = report_text(REPORT_JSON, false);
        _cleanup_free_ char *html = report_text(REPORT_HTML, false);
        _cleanup_free_ char *rc = report_text(REPORT_HTML, true);
        const char *row;

        assert_memory_equal(csv, "\xEF\xBB\xBFschool;class;pupils;", 23);
        /* Quoted (a '"'), and the formula neutralised (quoted, an apostrophe first). */
        assert_non_null(strstr(csv, "\r\n0750001A;6A;P2;\"<b>\"\"O'Brien\"\"&\";\"'=1+1\";K1;C0000001;issued;"));
        assert_non_null(strstr(csv, "\r\ntotal;;4;3;1;0;0;0;0;0\r\n"));
        assert_non_null(strstr(json, "\"family_name\":\"<b>\\\"O'Brien\\\"&\",\"first_name\":\"=1+1\""));
        assert_non_null(strstr(json, "\"totals\":{\"pupils\":4,\"issued\":3,\"without_key\":1,"));
        assert_null(strstr(html, "<b>"));
        assert_non_null(strstr(html, "<td>&lt;b&gt;&quot;O&#39;Brien&quot;&amp;</td><td>=1+1</td>"));
        assert_null(strstr(html, "<script"));
        /* A line per key handed over: its date of issue (ISO 8601 without a format_time) and
         * its short id, the volume ID; never the journal's uid. */
        row = strstr(rc, "<tr><td>Martin</td><td>Léa</td><td>6A</td><td>");
        assert_non_null(row);
        row += strlen("<tr><td>Martin</td><td>Léa</td><td>6A</td><td>");
        assert_true(strlen(row) > 10 && row[4] == '-' && row[7] == '-');
        assert_memory_equal(row + 10, "</td><td>C0000000</td><td class=\"sig\"></td></tr>", 48);
        assert_null(strstr(rc, "<td>K0</td>"));
        assert_null(strstr(rc, "Durand"));     /* 5A */
}

static void test_purge(void **state) {
        struct journal_purge_counts n = {};
        struct cart_error err = {};
        int64_t events;

        /* P3 leaves (absent from the next roster); P1, P2, P4 stay. */
        sync_pupils((const struct journal_pupil[]) { roster[0], roster[1], roster[3] }, 3);
        assert_int_equal(raw_int("SELECT is_active FROM pupils WHERE id = 'P3'"), 0);
        events = raw_int("SELECT count(*) FROM events");
        /* Left after the date: untouched. A dry run: untouched. */
        assert_int_equal(journal_purge(j, 1000000, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 0);
        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", true, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 1);
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE id = 'P3'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events"), events);

        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 1);
        assert_int_equal(n.events, 2);                 /* flashed, issued (form 2): id erased */
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE id = 'P3'"), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE pupil_id = 'P3'"), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE pupil_id = 'P3'"), 0);
        assert_int_equal(raw_int("SELECT n_pupils FROM purged_counts WHERE class_name = '5A'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'purged' AND operator = 'dpo'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM pupils"), 3);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* An edit after the purge is caught; so is a purged event given back to a pupil. */
#define PURGED_ISSUE "kind = 'issued' AND pupil_id IS NULL AND pupil_commit IS NOT NULL"
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE " PURGED_ISSUE), 1);
        raw("UPDATE events SET reason = 'x' WHERE " PURGED_ISSUE);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "was edited"));
        raw("UPDATE events SET reason = NULL WHERE " PURGED_ISSUE);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
        raw("UPDATE events SET pupil_id = 'P4' WHERE " PURGED_ISSUE);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "pupil 0750001A/P4 is not the one its hash commits to"));
}

static void test_v1_events_keep_ids(void **state) {
        struct journal_purge_counts n = {};
        struct cart_error err = {};
        struct journal_event_row e;

        /* An event written in form 1 (schema v1: the id hashed): rehash it as v1 did. */
        raw("UPDATE events SET format = 1, pupil_commit = NULL WHERE pupil_id = 'P3'");
        {
                /* Recompute the station's whole chain in form 1 where marked, as a v1 journal holds
                 * it (PostgreSQL: as the owner, whom the append-only trigger lets through). */
                _cleanup_(jdb_finalizep) struct jstmt *s = NULL, *u = NULL;
                char prev[JOURNAL_HASH_HEX_LEN + 1], hash[JOURNAL_HASH_HEX_LEN + 1];
                memset(prev, '0', JOURNAL_HASH_HEX_LEN);
                prev[JOURNAL_HASH_HEX_LEN] = 0;
                assert_int_equal(jdb_prepare(j, "SELECT seq, uuid, station, station_seq, kind, time_usec, operator, "
                        "pupil_school, pupil_id, key_uid, key_serial, release_name, release_version, release_serial, "
                        "release_key_id, outcome, reason, step, message, volume_id, bytes_written, bytes_read, "
                        "started_usec, write_usec, read_usec, format, pupil_commit FROM events ORDER BY station_seq",
                        &s, &err), 0);
                assert_int_equal(jdb_prepare(j, "UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", &u, &err), 0);
                while (jdb_step(j, s, &err) == 1) {
#define T(i) jdb_text(s, i)
#define I(i) jdb_int64(s, i)
                        e = (struct journal_event_row) { .uuid = T(1), .station = T(2), .station_seq = I(3), .kind = T(4),
                                .time_usec = I(5), .operator = T(6), .pupil_school = T(7), .pupil_id = T(8),
                                .key_uid = T(9), .key_serial = T(10), .release_name = T(11), .release_version = T(12),
                                .release_serial = I(13), .release_key_id = T(14), .outcome = T(15), .reason = T(16),
                                .step = T(17), .message = T(18), .volume_id = T(19), .bytes_written = I(20),
                                .bytes_read = I(21), .started_usec = I(22), .write_usec = I(23), .read_usec = I(24),
                                .format = (int) I(25), .pupil_commit = T(26), .prev_hash = prev };
#undef T
#undef I
                        assert_int_equal(journal_event_hash(&e, hash), 0);
                        jdb_reset(u);
                        jdb_bind_text(u, 1, prev);
                        jdb_bind_text(u, 2, hash);
                        jdb_bind_int64(u, 3, jdb_int64(s, 0));
                        assert_true(jdb_step(j, u, &err) >= 0);
                        memcpy(prev, hash, sizeof(prev));
                }
        }
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
        sync_pupils((const struct journal_pupil[]) { roster[0], roster[1], roster[3] }, 3);
        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 1);
        assert_int_equal(n.kept_v1, 1);
        /* The id stays (form 1 hashes it), the names go, the chain holds. */
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE id = 'P3' AND family_name = '' AND first_name = ''"), 1);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

static int on_key_release(void *userdata, const struct journal_report_key *k) {
        struct collect *x = userdata;
        size_t n = strlen(x->buf);
        snprintf(x->buf + n, sizeof(x->buf) - n, "%s %s #%" PRId64 "\n", k->serial, k->release_version ?: "-",
                 k->release_serial);
        return 0;
}

/* An update and a repair in place: their events, signed and chained like any; the key
 * holds the new release from an ok one on (find, report, batch), not from a failed one;
 * an unknown key records nothing. */
static void test_update_and_repair(void **state) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *before = NULL, *k = NULL, *stock = NULL;
        struct journal_report_filter f = { .school = "0750001A", .class_name = "6A" };
        static const char *const restored[] = { "Cours/maths.pdf", "autorun.inf" };
        struct journal_update u = {
                .key = "c0000001", .operator = "tech", .release_name = "ent-college", .release_version = "2026.2",
                .release_key_id = "0123456789ABCDEF", .release_serial = 5, .from_version = "2026.1", .from_serial = 3,
                .n_put = 4, .n_removed = 1, .n_rescued = 2, .volume_id = "C0000001", .bytes_written = 123456,
                .bytes_read = 123456, .write_usec = 2000, .read_usec = 1000,
        };
        struct collect x = {};
        struct cart_error err = {};
        int64_t n;
        uint32_t vol = 0;

        assert_int_equal(journal_record_update(j, &u, &before, &err), 0);
        assert_string_equal(before->uid, "usb:0781:5581:K1");
        assert_string_equal(before->release_version, "2026.1");            /* what it held */
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'updated' AND outcome = 'ok' AND "
                                 "key_uid = 'usb:0781:5581:K1' AND pupil_id = 'P2' AND release_version = '2026.2' AND "
                                 "release_serial = 5 AND bytes_written = 123456 AND bytes_read = 123456 AND "
                                 "message = 'from 2026.1 (serial 3): 4 put, 1 removed, 2 rescued' AND "
                                 "volume_id = 'C0000001' AND signature IS NULL"), 1);
        assert_int_equal(journal_key_find(j, "K1", &k, &err), 0);
        assert_string_equal(k->release_version, "2026.2");
        assert_int_equal(k->release_serial, 5);
        assert_int_equal(k->flashed_usec, before->flashed_usec);          /* still its flash's time */
        assert_int_equal(journal_report_keys(j, &f, on_key_release, &x, &err), 0);
        assert_string_equal(x.buf, "K0 2026.1 #3\nK1 2026.2 #5\n");
        x.buf[0] = 0;
        f.class_name = NULL;
        assert_int_equal(journal_report_releases(j, &f, on_release, &x, &err), 0);
        assert_string_equal(x.buf, "ent-college 2026.2 #5 1\nent-college 2026.1 #4 1\nent-college 2026.1 #3 1\n");
        assert_int_equal(journal_batch_last_flash(j, "usb:0781:5581:K1", "ent-college", 5, &vol, &err), 1);
        assert_int_equal(vol, 0xC0000001u);
        assert_int_equal(journal_batch_last_flash(j, "usb:0781:5581:K1", "ent-college", 3, &vol, &err), 0);

        /* A repair of the stock key: no pupil, the restored paths named. */
        u = (struct journal_update) { .key = "K3", .operator = "tech", .is_repair = true, .release_name = "ent-college",
                .release_version = "2026.1", .release_serial = 3, .restored = restored, .n_restored = 2,
                .bytes_written = 9000, .bytes_read = 9000, .from_serial = -1 };
        assert_int_equal(journal_record_update(j, &u, NULL, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'repaired' AND key_uid = 'usb:0781:5581:K3' "
                                 "AND pupil_id IS NULL AND message = '2 restored: Cours/maths.pdf, autorun.inf' AND "
                                 "volume_id = 'C0000003'"), 1);

        /* A failed update (the key left "update interrupted") does not move what it holds. */
        u = (struct journal_update) { .key = "K1", .outcome = "failed", .reason = "io", .failure = "read-back mismatch",
                .release_name = "ent-college", .release_version = "2026.3", .release_serial = 6, .from_version = "2026.2",
                .from_serial = 5, .bytes_written = 10, .bytes_read = -1 };
        assert_int_equal(journal_record_update(j, &u, NULL, &err), 0);
        k = journal_key_info_free(k);
        assert_int_equal(journal_key_find(j, "K1", &k, &err), 0);
        assert_string_equal(k->release_version, "2026.2");
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'updated' AND outcome = 'failed' AND "
                                 "message = 'from 2026.2 (serial 5); read-back mismatch'"), 1);

        /* Refused, nothing recorded: an unknown key, a bad outcome. */
        n = raw_int("SELECT count(*) FROM events");
        u.key = "nope";
        u.outcome = NULL;
        assert_int_equal(journal_record_update(j, &u, &stock, &err), -ENOENT);
        assert_null(stock);
        assert_non_null(strstr(err.msg, "key nope is not in the journal"));
        u.key = "K1";
        u.outcome = "refused";
        assert_int_equal(journal_record_update(j, &u, NULL, &err), -EINVAL);
        assert_int_equal(raw_int("SELECT count(*) FROM events"), n);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

/* A repair of many long paths: the message names those that fit, and says how many more. */
static void test_repair_message_bounded(void **state) {
        const char *paths[200];
        char names[200][64];
        _cleanup_free_ char *msg = NULL;
        struct cart_error err = {};

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                snprintf(names[i], sizeof(names[i]), "Cours/Chapitre %03zu/une leçon au nom assez long.pdf", i);
                paths[i] = names[i];
        }
        const struct journal_update u = { .key = "K0", .is_repair = true, .release_name = "ent-college",
                .release_version = "2026.1", .release_serial = 3, .from_serial = -1, .restored = paths,
                .n_restored = ELEMENTSOF(paths), .bytes_written = -1, .bytes_read = -1 };
        assert_int_equal(journal_record_update(j, &u, NULL, &err), 0);
        assert_int_equal(jdb_query_text(j, &err, &msg, "SELECT message FROM events WHERE kind = ?", JT("repaired")), 1);
        assert_true(strlen(msg) < 1024);
        assert_memory_equal(msg, "200 restored: Cours/Chapitre 000/", 33);
        assert_non_null(strstr(msg, " more)"));
        assert_null(strstr(msg, "Chapitre 199"));
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_find, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mark, setup, teardown),
                cmocka_unit_test_setup_teardown(test_verification, setup, teardown),
                cmocka_unit_test_setup_teardown(test_report_queries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_report_formats, setup, teardown),
                cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v1_events_keep_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_update_and_repair, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repair_message_bounded, setup, teardown),
        };
        journal_test_backend();
        return cmocka_run_group_tests_name(pg_url ? "journal life on PostgreSQL" : "journal life on SQLite",
                                           tests, NULL, NULL);
}
