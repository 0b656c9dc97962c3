/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the journal refuses or catches when a station or a file is hostile (issue 21): a
 * source whose chain is broken is not merged, a purged pupil does not come back from an older
 * journal, detached history is broken, a purge that cannot finish says so and leaves no id
 * in an event's message. On an SQLite file, and on a PostgreSQL server of its own.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "journal-test.h"
#include "record-test.h"
#include "journal/journal-purge.h"

static char dir[] = "/tmp/cartable-journal-trust-XXXXXX";
static char path[1024];
static struct journal *j;

static struct journal *open_as(const char *name, const char *station) {
        struct journal_options o = { .station = station, .create = true };
        struct cart_error err = {};
        struct journal *x = NULL;
        if (journal_open(name, &o, &x, &err) < 0)
                fail_msg("journal_open %s: %s", name, err.msg);
        return x;
}

/* An offline station's SQLite journal beside the one under test. */
static struct journal *open_offline(const char *what, const char *station) {
        char p[1100];
        snprintf(p, sizeof(p), "%s/%s-%d.db", dir, what, (int) getpid());
        unlink(p);
        return open_as(p, station);
}

static void sync_pupils(struct journal *x, const struct journal_pupil *p, size_t n) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        struct cart_error err = {};
        assert_int_equal(journal_sync_begin(x, "test.csv", NULL, NULL, &s, &err), 0);
        for (size_t i = 0; i < n; i++)
                if (journal_sync_pupil(s, &p[i], &err) < 0)
                        fail_msg("%s", err.msg);
        assert_int_equal(journal_sync_finish(s, false, NULL, &err), 0);
}

static void flash(struct journal *x, unsigned i, const char *pupil) {
        struct flash_report rep = {
                .key = { .vid_pid = "0781:5581", .capacity = 8 * GIB }, .volume_id = 0xC0000000u + i,
                .release_name = "ent-college", .release_version = "2026.1", .release_key_id = "0123456789ABCDEF",
                .release_serial = 3, .finished_usec = 1780000000000000, .outcome = FLASH_OUTCOME_OK,
                .step = FLASH_STEP_DONE,
        };
        struct test_flash f = { .operator = "tech", .pupil = pupil };
        struct cart_error err = {};
        snprintf(rep.key.serial, sizeof(rep.key.serial), "K%u", i);
        if (record_flash(x, &rep, &f, &err) < 0)
                fail_msg("%s", err.msg);
}

static const struct journal_pupil roster[] = {
        { .id = "P1", .school = "0750001A", .family_name = "Martin", .first_name = "Léa", .class_name = "6A", .line = 2 },
        { .id = "P2", .school = "0750001A", .family_name = "Durand", .first_name = "Théo", .class_name = "6A", .line = 3 },
        { .id = "P3", .school = "0750001A", .family_name = "Petit", .first_name = "Lina", .class_name = "5A", .line = 4 },
};

static int setup(void **state) {
        journal_test_next(dir, path, sizeof(path), NULL, 0);
        j = open_as(path, "central");
        sync_pupils(j, roster, ELEMENTSOF(roster));
        return 0;
}

static int teardown(void **state) {
        j = journal_close(j);
        return 0;
}

/* Case 3: a source whose chain was edited is refused before anything of it is inserted. */
static void test_push_verifies_source(void **state) {
        _cleanup_(journal_closep) struct journal *off = open_offline("edited", "college-1");
        struct journal_merge_counts c = {};
        struct cart_error err = {};
        int64_t events = raw_count(j, "SELECT count(*) FROM events");
        int64_t keys = raw_count(j, "SELECT count(*) FROM keys");

        sync_pupils(off, roster, ELEMENTSOF(roster));
        sync_pupils(off, (const struct journal_pupil[]) {
                { .id = "N9", .school = "0750002B", .family_name = "Neuf", .first_name = "Ana", .class_name = "6B", .line = 2 },
        }, 1);
        flash(off, 1, "0750001A/P1");
        flash(off, 2, NULL);
        flash(off, 3, "0750002B/N9");
        raw_exec(off, "UPDATE events SET operator = 'mallory' WHERE station_seq = 3");

        assert_int_equal(journal_merge(j, off, NULL, NULL, &c, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "nothing was merged"));
        assert_non_null(strstr(err.msg, "station college-1: event 3 "));
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events"), events);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM keys"), keys);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM pupils WHERE id = 'N9'"), 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM schools WHERE uai = '0750002B'"), 0);
        memset(&err, 0, sizeof(err));
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* Repaired, it goes in. */
        raw_exec(off, "UPDATE events SET operator = 'tech' WHERE station_seq = 3");
        assert_int_equal(journal_merge(j, off, NULL, NULL, &c, &err), 0);
        assert_int_equal(c.events_added, 5);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

/* Whether the bytes of s are anywhere in the file (0 when it does not exist). */
static bool file_holds(const char *file, const char *s) {
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        char *buf;
        size_t n, len = strlen(s);
        bool found = false;

        if (!f)
                return false;
        buf = malloc(1 << 24);
        assert_non_null(buf);
        n = fread(buf, 1, 1 << 24, f);
        for (size_t i = 0; i + len <= n && !found; i++)
                found = memcmp(buf + i, s, len) == 0;
        free(buf);
        return found;
}

/* Case 8: a reader's transaction keeps the erased names in the write-ahead log: the purge
 * says so and fails; run again once the reader is gone, it finishes. */
static void test_purge_blocked_checkpoint(void **state) {
        struct journal_purge_counts n = {};
        struct cart_error err = {};
        char wal[1100];
        sqlite3 *reader;
        sqlite3_stmt *s;

        SQLITE_ONLY();
        flash(j, 1, "P3");
        sync_pupils(j, roster, 2);        /* P3 leaves */
        assert_int_equal(sqlite3_open(path, &reader), SQLITE_OK);
        assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(reader, "SELECT count(*) FROM pupils", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        sqlite3_finalize(s);

        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), -EBUSY);
        assert_int_equal(err.reason, CART_REASON_CHECKPOINT_INCOMPLETE);
        assert_string_equal(err.subject, path);
        snprintf(wal, sizeof(wal), "%s-wal", path);
        assert_true(file_holds(wal, "Petit") || file_holds(path, "Petit"));

        sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(reader);
        memset(&err, 0, sizeof(err));
        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 0);
        assert_false(file_holds(wal, "Petit"));
        assert_false(file_holds(path, "Petit"));
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

/* Case 4: a pupil purged here does not come back when an older journal listing them is
 * merged (pushed); their events come without the id, and every chain still verifies. */
static void test_purged_pupil_stays_purged(void **state) {
        _cleanup_(journal_closep) struct journal *off = open_offline("older", "college-1");
        struct journal_purge_counts n = {};
        struct journal_merge_counts c = {};
        struct cart_error err = {};

        sync_pupils(off, roster, ELEMENTSOF(roster));
        flash(off, 1, "P3");
        flash(off, 2, "P1");
        assert_int_equal(journal_merge(j, off, NULL, NULL, &c, &err), 0);
        flash(off, 3, "P2");              /* the older journal goes on, offline */

        sync_pupils(j, roster, 2);         /* P3 leaves; purged here */
        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 1);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM pupils WHERE id = 'P3'"), 0);

        assert_int_equal(journal_merge(j, off, NULL, NULL, &c, &err), 0);
        assert_int_equal(c.pupils_purged, 1);
        assert_int_equal(c.events_added, 2);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM pupils WHERE id = 'P3'"), 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events WHERE pupil_id = 'P3'"), 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM keys WHERE pupil_id = 'P3'"), 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM keys WHERE pupil_id = 'P2' AND status = 'issued'"), 1);
        if (journal_verify(j, NULL, NULL, &err) != 0)
                fail_msg("%s", err.msg);

        /* A pupil the older journal salted its own way (never merged before the purge): its
         * identity still keeps it out, and its events verify here. */
        _cleanup_(journal_closep) struct journal *other = open_offline("other", "college-2");
        sync_pupils(other, roster, ELEMENTSOF(roster));
        flash(other, 4, "P3");
        assert_int_equal(journal_merge(j, other, NULL, NULL, &c, &err), 0);
        assert_int_equal(c.pupils_purged, 1);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM pupils WHERE id = 'P3'"), 0);
        if (journal_verify(j, NULL, NULL, &err) != 0)
                fail_msg("%s", err.msg);
}

/* Case 5: history detached behind cartable's back is broken, with its event number. */
static void test_detached_history_is_broken(void **state) {
        struct journal_purge_counts n = {};
        struct cart_error err = {};

        flash(j, 1, "P1");                 /* events 1, 2 */
        flash(j, 2, "P2");                 /* events 3, 4 */
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* The pupil still exists: its salt opens the commitment. */
        raw_exec(j, "UPDATE events SET pupil_id = NULL WHERE pupil_id = 'P2'");
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "station central: event 3 "));
        assert_non_null(strstr(err.msg, "was detached"));
        assert_non_null(strstr(err.msg, "pupil 0750001A/P2 still exists"));
        raw_exec(j, "UPDATE events SET pupil_id = 'P2' WHERE station_seq IN (3, 4)");
        memset(&err, 0, sizeof(err));
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* A real purge of P2 detaches events 3 and 4: its tombstones cover them. */
        sync_pupils(j, (const struct journal_pupil[]) { roster[0], roster[2] }, 2);
        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 1);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events WHERE pupil_id IS NULL AND pupil_commit IS NOT NULL"), 2);
        if (journal_verify(j, NULL, NULL, &err) != 0)
                fail_msg("%s", err.msg);

        /* P1, its salt and its row gone too, with no purge to say so: broken. */
        raw_exec(j, "UPDATE events SET pupil_id = NULL WHERE pupil_id = 'P1'");
        raw_exec(j, "UPDATE keys SET pupil_id = NULL WHERE pupil_id = 'P1'");
        raw_exec(j, "DELETE FROM pupils WHERE id = 'P1'");
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "station central: event 1 "));
        assert_non_null(strstr(err.msg, "no recorded purge took it"));
}

/* An event appended with a message, as lib/journal's callers append them. */
static void append_message(const char *kind, const char *pupil_id, const char *message) {
        struct journal_event_row e = { .kind = kind, .time_usec = journal_now_usec(), .operator = "tech",
                .pupil_school = "0750001A", .pupil_id = pupil_id, .message = message, .release_serial = -1,
                .bytes_written = -1, .bytes_read = -1, .started_usec = -1, .write_usec = -1, .read_usec = -1 };
        struct cart_error err = {};

        assert_int_equal(journal_begin(j, &err), 0);
        if (journal_event_append(j, &e, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(journal_commit(j, &err), 0);
}

/* Case 9: after a purge, no event message holds a purged pupil's id or name, and every chain
 * still verifies; an edited or erased message is caught. */
static void test_purge_leaves_no_id_in_messages(void **state) {
        struct journal_purge_counts n = {};
        struct cart_error err = {};

        flash(j, 1, "P3");
        /* A swap found on P1's key names the holder of another volume: P3. */
        append_message("verified", "P1", "the journal gives volume C0000001 to 0750001A/P3, not to the owner its "
                       "key record names");
        append_message("returned", "P3", "rendue par Lina Petit");
        append_message("verified", "P2", "all good");
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        sync_pupils(j, roster, 2);         /* P3 leaves */
        assert_int_equal(journal_purge(j, INT64_MAX, "dpo", false, NULL, NULL, &n, &err), 0);
        assert_int_equal(n.pupils, 1);
        assert_int_equal(n.messages, 2);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events WHERE message LIKE '%P3%' OR message LIKE '%Petit%'"),
                         0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events WHERE message = 'all good'"), 1);
        if (journal_verify(j, NULL, NULL, &err) != 0)
                fail_msg("%s", err.msg);
        if (!pg_url) {
                char wal[1100];
                snprintf(wal, sizeof(wal), "%s-wal", path);
                assert_false(file_holds(path, "0750001A/P3"));
                assert_false(file_holds(wal, "0750001A/P3"));
        }

        /* A message edited, or erased without a purge after it, is caught. */
        raw_exec(j, "UPDATE events SET message = 'all bad' WHERE message = 'all good'");
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "its message is not the one its hash commits to"));
        raw_exec(j, "UPDATE events SET message = 'all good' WHERE message = 'all bad'");
        memset(&err, 0, sizeof(err));
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
        append_message("verified", "P2", "later");
        raw_exec(j, "UPDATE events SET message = NULL WHERE message = 'later'");
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "lost its message, and no purge since took it"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_push_verifies_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_purge_blocked_checkpoint, setup, teardown),
                cmocka_unit_test_setup_teardown(test_purged_pupil_stays_purged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_detached_history_is_broken, setup, teardown),
                cmocka_unit_test_setup_teardown(test_purge_leaves_no_id_in_messages, setup, teardown),
        };
        journal_test_backend();
        return cmocka_run_group_tests_name(pg_url ? "journal trust on PostgreSQL" : "journal trust on SQLite", tests,
                                           NULL, NULL);
}
