/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/journal on either backend: an SQLite file, or the PostgreSQL server whose URL is in
 * CARTABLE_TEST_PG_URL (tests/pg-server.sh starts one). Each test gets a fresh journal (a new
 * file, or a new database). Several stations on one class, merging an offline journal, and
 * on PostgreSQL: its schema against manifests/schemas/journal-pg.sql, a station's role that
 * cannot rewrite events, a password in the URL, a server stopped mid-run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "journal-test.h"
#include "record-test.h"
#include "journal/journal-life.h"

static char dir[] = "/tmp/cartable-jb-XXXXXX";
static char name[1024];                /* this test's journal */
static char db_name[32];

static int setup(void **state) {
        journal_test_next(dir, name, sizeof(name), db_name, sizeof(db_name));
        return 0;
}

static struct journal *open_as(const char *journal, const char *station) {
        struct journal_options o = { .station = station, .create = true };
        struct cart_error err = {};
        struct journal *j = NULL;
        if (journal_open(journal, &o, &j, &err) < 0)
                fail_msg("journal_open %s: %s", journal, err.msg);
        return j;
}

static struct journal *open_new(const char *station) {
        return open_as(name, station);
}

static int64_t count(struct journal *j, const char *sql) {
        return raw_count(j, sql);
}

#define PUPIL(i, cls) \
        { .id = i, .school = "0750001A", .family_name = "Nom" i, .first_name = "Prénom", .class_name = cls, .line = 1 }
static const struct journal_pupil roster[] = {
        PUPIL("1", "6A"), PUPIL("2", "6A"), PUPIL("3", "6A"), PUPIL("4", "6A"), PUPIL("5", "6A"),
        PUPIL("6", "6A"), PUPIL("7", "6A"), PUPIL("8", "6A"), PUPIL("9", "6A"), PUPIL("10", "6A"),
        PUPIL("11", "6A"), PUPIL("12", "6A"), PUPIL("13", "6A"), PUPIL("14", "6A"), PUPIL("15", "6A"),
        PUPIL("16", "6A"), PUPIL("17", "6A"), PUPIL("18", "6A"), PUPIL("19", "6A"), PUPIL("20", "6A"),
        PUPIL("21", "5B"), PUPIL("22", "5B"),
};

static void import(struct journal *j) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        struct journal_sync_counts c;
        struct cart_error err = {};
        assert_int_equal(journal_sync_begin(j, "roster.csv", NULL, NULL, &s, &err), 0);
        for (size_t i = 0; i < ELEMENTSOF(roster); i++)
                assert_int_equal(journal_sync_pupil(s, &roster[i], &err), 0);
        if (journal_sync_finish(s, false, &c, &err) < 0)
                fail_msg("sync: %s", err.msg);
        assert_int_equal(c.added, ELEMENTSOF(roster));
}

static struct flash_report report(const char *serial) {
        struct flash_report r = {
                .key = { .vid_pid = "0781:5581", .capacity = 8ULL << 30 },
                .volume_id = 0x1234abcd, .release_name = "ent-college", .release_version = "2026.1",
                .release_key_id = "0123456789ABCDEF", .release_serial = 7, .bytes_written = 1000,
                .bytes_read = 1000, .outcome = FLASH_OUTCOME_OK, .step = FLASH_STEP_DONE,
        };
        snprintf(r.key.serial, sizeof(r.key.serial), "%s", serial);
        return r;
}

static int flash(struct journal *j, const char *serial, const char *pupil, struct cart_error *err) {
        struct flash_report r = report(serial);
        struct test_flash f = { .operator = "test", .pupil = pupil };
        return record_flash(j, &r, &f, err);
}

/* ---- Both backends ---- */

static void test_roundtrip_and_tamper(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        struct cart_error err = {};

        import(j);
        assert_int_equal(flash(j, "K1", "1", &err), 0);
        assert_int_equal(flash(j, "K2", "0750001A/2", &err), 0);
        /* Pupil 1 holds K1: a second key without --replace is recorded, not issued. */
        assert_int_equal(flash(j, "K3", "1", &err), -EEXIST);
        assert_non_null(strstr(err.msg, "already holds key usb:0781:5581:K1"));
        assert_int_equal(count(j, "SELECT count(*) FROM events WHERE kind = 'issued'"), 2);
        assert_int_equal(count(j, "SELECT count(*) FROM events WHERE station = 's1'"), 5);
        assert_int_equal(count(j, "SELECT max(station_seq) FROM events"), 5);
        assert_int_equal(count(j, "SELECT count(*) FROM keys WHERE status = 'stock'"), 1);
        memset(&err, 0, sizeof(err));
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* An edit made behind cartable's back (as the journal's owner) is found. */
        assert_int_equal(jdb_exec(j, "UPDATE events SET operator = 'mallory' WHERE station_seq = 2", &err), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "station s1: event 2 "));
        assert_non_null(strstr(err.msg, "was edited"));
}

static int on_event(void *userdata, const struct journal_event_row *e) {
        char *log = userdata;
        size_t n = strlen(log);
        snprintf(log + n, 512 - n, "%" PRId64 ":%s:%s:%s;", e->station_seq, e->kind, e->pupil_id ? e->pupil_id : "-",
                 e->family_name ? e->family_name : "-");
        return 0;
}

/* What commands read, by pupil and by key (serial, volume ID in either case), a re-import
 * dry run and for real, and a head recorded earlier. */
static void test_lists_sync_and_head(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        _cleanup_(journal_sync_freep) struct journal_sync *sync = NULL;
        struct journal_event_filter f = {};
        struct journal_sync_counts c;
        struct journal_pupil p = roster[1];
        struct journal_head h = { .station = "s1", .n_events = 2 };
        struct cart_error err = {};
        char log[512] = "", hash[65];
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;

        import(j);
        assert_int_equal(flash(j, "K1", "1", &err), 0);
        assert_int_equal(flash(j, "K2", "2", &err), 0);
        f.pupil = "2";
        assert_int_equal(journal_events_list(j, &f, on_event, log, &err), 0);
        assert_string_equal(log, "3:flashed:2:Nom2;4:issued:2:Nom2;");
        memset(log, 0, sizeof(log));
        f = (struct journal_event_filter) { .key = "1234abcd" };      /* the volume ID, in lower case */
        assert_int_equal(journal_events_list(j, &f, on_event, log, &err), 0);
        assert_string_equal(log, "1:flashed:1:Nom1;2:issued:1:Nom1;3:flashed:2:Nom2;4:issued:2:Nom2;");
        memset(log, 0, sizeof(log));
        f = (struct journal_event_filter) { .key = "K2" };
        assert_int_equal(journal_events_list(j, &f, on_event, log, &err), 0);
        assert_string_equal(log, "3:flashed:2:Nom2;4:issued:2:Nom2;");

        /* Pupil 2 moves to 5B: the dry run changes nothing, the import does. */
        p.class_name = "5B";
        for (int dry = 1; dry >= 0; dry--) {
                assert_int_equal(journal_sync_begin(j, "r2.csv", NULL, NULL, &sync, &err), 0);
                for (size_t i = 0; i < ELEMENTSOF(roster); i++)
                        assert_int_equal(journal_sync_pupil(sync, i == 1 ? &p : &roster[i], &err), 0);
                assert_int_equal(journal_sync_finish(sync, dry, &c, &err), 0);
                sync = journal_sync_free(sync);
                assert_int_equal(c.moved, 1);
                assert_int_equal(count(j, "SELECT count(*) FROM pupils WHERE class_name = '5B'"), dry ? 2 : 3);
        }
        assert_int_equal(count(j, "SELECT count(*) FROM imports"), 2);

        assert_int_equal(jdb_prepare(j, "SELECT hash FROM events WHERE station = 's1' AND station_seq = 2", &s, &err), 0);
        assert_int_equal(jdb_step(j, s, &err), 1);
        snprintf(hash, sizeof(hash), "%s", jdb_text(s, 0));
        h.hash = hash;
        assert_int_equal(journal_verify_head(j, &h, &err), 0);
        h.n_events = 9;
        assert_int_equal(journal_verify_head(j, &h, &err), 1);
        assert_non_null(strstr(err.msg, "its tail was cut"));
}

/* Stations creating one new journal at once: one creates the schema (and, on SQLite, turns
 * the file to WAL), the others find it done (no "table exists", no "database is locked"),
 * and each records its key. Many processes released together, in several rounds, each on
 * a journal of its own, so that the creation races are actually run. */
#define CREATORS 12
#define CREATE_ROUNDS 10

static void create_at_once(const char *journal) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct cart_error err = {};
        int go[2], status;
        pid_t pid[CREATORS];

        assert_int_equal(pipe(go), 0);
        for (int i = 0; i < CREATORS; i++) {
                pid[i] = fork();
                assert_true(pid[i] >= 0);
                if (pid[i] == 0) {
                        struct journal_options o = { .create = true };
                        struct journal *c = NULL;
                        char station[16], x;
                        close(go[1]);
                        if (read(go[0], &x, 1) != 0)     /* released together: the pipe closes */
                                _exit(3);
                        snprintf(station, sizeof(station), "st%d", i);
                        o.station = station;
                        if (journal_open(journal, &o, &c, &err) < 0) {
                                fprintf(stderr, "%s: %s\n", station, err.msg);
                                _exit(1);
                        }
                        if (flash(c, station, NULL, &err) < 0) {
                                fprintf(stderr, "%s: %s\n", station, err.msg);
                                _exit(2);
                        }
                        journal_close(c);
                        _exit(0);
                }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < CREATORS; i++) {
                assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        j = open_as(journal, "admin");
        assert_int_equal(count(j, "SELECT count(*) FROM schema_version"), JOURNAL_SCHEMA_VERSION);
        assert_int_equal(count(j, "SELECT count(DISTINCT station) FROM events"), CREATORS);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

static void test_created_by_many_at_once(void **state) {
        for (int round = 0; round < CREATE_ROUNDS; round++) {
                char journal[1024];
                if (round == 0)
                        snprintf(journal, sizeof(journal), "%s", name);
                else
                        journal_test_name(dir, 1000 + round, journal, sizeof(journal), NULL, 0);
                create_at_once(journal);
        }
}

/* Two processes, two stations, one class: each claims the next pupil without a key and
 * issues it a key in the same transaction, until nobody is left. */
static void claimer(const char *station, int ready_fd) {
        _cleanup_(journal_closep) struct journal *j = open_as(name, station);
        struct cart_error err = {};
        char c;

        if (read(ready_fd, &c, 1) != 1)
                _exit(2);
        for (int n = 0;; n++) {
                _cleanup_free_ char *pupil = NULL;
                char serial[32];
                int r;

                if (journal_begin(j, &err) < 0)
                        _exit(3);
                r = journal_claim_next_pupil(j, "0750001A", "6A", &pupil, &err);
                if (r < 0) {
                        fprintf(stderr, "%s: claim: %s\n", station, err.msg);
                        _exit(4);
                }
                if (r == 0) {
                        journal_rollback(j);
                        break;
                }
                usleep(2000);          /* the key being written, the pupil claimed */
                snprintf(serial, sizeof(serial), "%s-%d", station, n);
                r = flash(j, serial, pupil, &err);
                if (r < 0) {
                        fprintf(stderr, "%s: %s: %s\n", station, pupil, err.msg);
                        _exit(5);
                }
                if (journal_commit(j, &err) < 0)
                        _exit(6);
                usleep(1000);          /* the next key plugged in */
        }
        _exit(0);
}

static void test_two_stations_claim_each_pupil_once(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("admin");
        struct cart_error err = {};
        int fds[2], status;
        pid_t pid[2];

        import(j);
        assert_int_equal(pipe(fds), 0);
        for (int i = 0; i < 2; i++) {
                pid[i] = fork();
                assert_true(pid[i] >= 0);
                if (pid[i] == 0) {
                        close(fds[1]);
                        claimer(i == 0 ? "station-a" : "station-b", fds[0]);
                }
        }
        close(fds[0]);
        assert_int_equal(write(fds[1], "go", 2), 2);
        close(fds[1]);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        /* Each of the 20 pupils of 6A got exactly one key; 5B none. */
        assert_int_equal(count(j, "SELECT count(*) FROM events WHERE kind = 'issued'"), 20);
        assert_int_equal(count(j, "SELECT count(DISTINCT pupil_id) FROM events WHERE kind = 'issued'"), 20);
        assert_int_equal(count(j, "SELECT count(*) FROM keys WHERE status = 'issued' AND pupil_id IN "
                                  "(SELECT id FROM pupils WHERE class_name = '6A')"), 20);
        assert_int_equal(count(j, "SELECT count(*) FROM keys WHERE status = 'issued'"), 20);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

struct conflicts {
        int n;
        char log[512];
};

static int on_conflict(void *userdata, const struct journal_conflict *c) {
        struct conflicts *x = userdata;
        size_t n = strlen(x->log);
        snprintf(x->log + n, sizeof(x->log) - n, "%s/%s %s@%s vs %s;", c->pupil_school, c->pupil_id, c->key_uid,
                 c->station, c->other_key_uid);
        x->n++;
        return 0;
}

struct heads {
        char log[512];
};

static void on_head(void *userdata, const struct journal_head *h) {
        struct heads *x = userdata;
        size_t n = strlen(x->log);
        snprintf(x->log + n, sizeof(x->log) - n, "%s:%" PRId64 ":%s;", h->station, h->n_events, h->hash);
}

/* An offline station's SQLite journal pushed into the journal under test, twice. */
static void test_merge_offline_twice(void **state) {
        _cleanup_(journal_closep) struct journal *t = open_new("atelier");
        _cleanup_(journal_closep) struct journal *off = NULL, *fork_j = NULL;
        struct journal_merge_counts c;
        struct conflicts x = {};
        struct heads h_off = {}, h_t = {};
        struct cart_error err = {};
        char off_path[512], fork_path[512];
        int64_t n_off;

        snprintf(off_path, sizeof(off_path), "%s/offline-%s.db", dir, db_name[0] ? db_name : "sqlite");
        unlink(off_path);
        off = open_as(off_path, "college-1");
        import(off);
        import(t);
        /* Pupil 3 gets a key at the workshop and another at the collège, offline: each
         * journal salted pupil 3's commitments its own way (journal purge). Both issues are
         * kept and the conflict reported; the collège's salt joins pupil 3's other salts in
         * the target, so both stations' events verify there. */
        assert_int_equal(flash(t, "A1", "3", &err), 0);
        assert_int_equal(flash(off, "C0", "3", &err), 0);
        assert_int_equal(flash(off, "C1", "5", &err), 0);
        assert_int_equal(flash(off, "C2", "4", &err), 0);
        assert_int_equal(flash(off, "C3", NULL, &err), 0);
        n_off = count(off, "SELECT count(*) FROM events");
        assert_int_equal(n_off, 7);        /* flashed and issued three times, flashed (stock) once */

        assert_int_equal(journal_merge(t, off, on_conflict, &x, &c, &err), 0);
        assert_int_equal(c.events_added, 7);
        assert_int_equal(c.events_present, 0);
        assert_int_equal(c.keys_added, 4);
        assert_int_equal(c.conflicts, 1);
        assert_int_equal(x.n, 1);
        assert_string_equal(x.log, "0750001A/3 usb:0781:5581:C0@college-1 vs usb:0781:5581:A1;");
        assert_int_equal(count(t, "SELECT count(*) FROM keys WHERE pupil_id = '3' AND status = 'issued'"), 2);
        assert_int_equal(count(t, "SELECT count(*) FROM keys WHERE pupil_id = '5' AND status = 'issued'"), 1);
        assert_int_equal(count(t, "SELECT count(*) FROM pupil_salts WHERE id = '3'"), 1);

        /* Twice: nothing added. */
        memset(&x, 0, sizeof(x));
        assert_int_equal(journal_merge(t, off, on_conflict, &x, &c, &err), 0);
        assert_int_equal(c.events_added, 0);
        assert_int_equal(c.events_present, 7);
        assert_int_equal(c.keys_added + c.keys_updated + c.pupils_added + c.conflicts, 0);
        assert_int_equal(x.n, 0);
        assert_int_equal(count(t, "SELECT count(*) FROM events"), 2 + 7);
        assert_int_equal(count(t, "SELECT count(*) FROM pupil_salts"), 1);

        /* The collège's chain verifies in the target (its pupils' salts came along), with the
         * head it has at home. */
        assert_int_equal(journal_verify(off, on_head, &h_off, &err), 0);
        if (journal_verify(t, on_head, &h_t, &err) != 0)
                fail_msg("%s", err.msg);
        assert_non_null(strstr(h_t.log, h_off.log));

        /* Another journal that calls itself college-1: refused, nothing merged. */
        snprintf(fork_path, sizeof(fork_path), "%s/fork-%s.db", dir, db_name[0] ? db_name : "sqlite");
        unlink(fork_path);
        fork_j = open_as(fork_path, "college-1");
        import(fork_j);
        assert_int_equal(flash(fork_j, "F1", NULL, &err), 0);
        assert_int_equal(journal_merge(t, fork_j, NULL, NULL, &c, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "station college-1: event 1 "));
        assert_non_null(strstr(err.msg, "two journals call themselves station college-1"));
        assert_int_equal(count(t, "SELECT count(*) FROM events"), 2 + 7);
        assert_int_equal(count(t, "SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:F1'"), 0);
}

/* Two batch runs of one station at once (two processes, or two handles: each its own lock):
 * neither closes the other's keys while it lives; once a run is gone, the next closes its
 * keys, and only its own. */
static void test_runs_of_one_station(void **state) {
        _cleanup_(journal_closep) struct journal *a = open_new("atelier"), *b = open_new("atelier");
        _cleanup_(journal_closep) struct journal *c = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *pa = NULL, *pb = NULL;
        struct flash_report ra = report("RA"), rb = report("RB");
        struct cart_error err = {};
        int64_t n;

        import(a);
        assert_int_equal(journal_run_begin(a, &err), 0);
        assert_int_equal(journal_run_begin(b, &err), 0);
        assert_non_null(journal_run(a));
        assert_string_not_equal(journal_run(a), journal_run(b));
        assert_int_equal(start_flash(a, &ra, "tech", NULL, "0750001A", "6A", &pa, &err), 1);
        assert_int_equal(start_flash(b, &rb, "tech", NULL, "0750001A", "6A", &pb, &err), 1);
        assert_string_not_equal(pa->id, pb->id);
        /* The start carries its run, in the chain. */
        assert_int_equal(count(a, "SELECT count(DISTINCT run) FROM events WHERE outcome = 'started'"), 2);

        /* Both alive: nothing closed, by either; both listed as running. */
        assert_int_equal(journal_close_interrupted(b, "tech", NULL, NULL, &err), 0);
        assert_int_equal(journal_close_interrupted(a, "tech", NULL, NULL, &err), 0);
        assert_int_equal(journal_start_is_open(b, "usb:0781:5581:RA", &err), 1);
        assert_int_equal(count(a, "SELECT count(*) FROM pupils WHERE claim_key IS NOT NULL"), 2);

        /* Run a ends without its key's end (a crash): a third batch closes a's key, never b's. */
        a = journal_close(a);
        c = open_new("atelier");
        assert_int_equal(journal_run_begin(c, &err), 0);
        n = journal_close_interrupted(c, "tech", NULL, NULL, &err);
        assert_int_equal(n, 1);
        assert_int_equal(journal_start_is_open(c, "usb:0781:5581:RA", &err), 0);
        assert_int_equal(journal_start_is_open(c, "usb:0781:5581:RB", &err), 1);
        assert_int_equal(count(c, "SELECT count(*) FROM pupils WHERE claim_key IS NOT NULL"), 1);
        /* b's key ends as usual, its pupil issued; the chain verifies. */
        if (flash(b, "RB", pb->id, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(count(c, "SELECT count(*) FROM keys WHERE status = 'issued'"), 1);
        assert_int_equal(journal_interrupted_list(c, NULL, NULL, &err), 0);
        assert_int_equal(journal_verify(c, NULL, NULL, &err), 0);
}

/* A leave date to come (SIECLE's DATE_SORTIE) keeps the pupil active until it comes; once
 * it has, without another import, no key is given to the pupil: neither by a batch's claim
 * nor to the pupil by name. */
static void test_leave_date_comes(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("atelier");
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p1 = NULL, *p2 = NULL, *named = NULL;
        struct journal_pupil later = roster[0], passed = roster[1];
        struct flash_report r1 = report("LD1"), r2 = report("LD2");
        struct cart_error err = {};
        int64_t now = journal_now_usec();

        later.leaves_usec = now + 3600 * INT64_C(1000000);     /* leaves in an hour */
        passed.leaves_usec = now - 1;                           /* the day came after the import */
        assert_int_equal(journal_sync_begin(j, "roster.csv", NULL, NULL, &s, &err), 0);
        assert_int_equal(journal_sync_pupil(s, &later, &err), 0);
        assert_int_equal(journal_sync_pupil(s, &passed, &err), 0);
        for (size_t i = 2; i < ELEMENTSOF(roster); i++)
                assert_int_equal(journal_sync_pupil(s, &roster[i], &err), 0);
        if (journal_sync_finish(s, false, NULL, &err) < 0)
                fail_msg("sync: %s", err.msg);
        assert_int_equal(count(j, "SELECT count(*) FROM pupils WHERE leaves_usec IS NOT NULL AND is_active = 1"), 2);

        assert_int_equal(journal_pupil_for_issue(j, "0750001A/2", false, &named, &err), -ESRCH);
        assert_non_null(strstr(err.msg, "has left"));
        assert_int_equal(count(j, "SELECT count(*) FROM pupils WHERE id = '2' AND is_active = 0 "
                                  "AND left_usec IS NOT NULL AND leaves_usec IS NULL"), 1);
        assert_int_equal(journal_run_begin(j, &err), 0);
        assert_int_equal(start_flash(j, &r1, "tech", NULL, "0750001A", "6A", &p1, &err), 1);
        assert_string_equal(p1->id, "1");                   /* still there: the date is to come */
        assert_int_equal(start_flash(j, &r2, "tech", NULL, "0750001A", "6A", &p2, &err), 1);
        assert_string_equal(p2->id, "3");                   /* 2 has left */
        assert_int_equal(count(j, "SELECT count(*) FROM pupils WHERE id = '1' AND is_active = 1"), 1);
}

/* ---- Every statement a key's life runs finds its rows through an index ---- */

#define BIG_PUPILS 130000

/* A journal of BIG_PUPILS pupils (classes of 30 in another school), 100,000 of them holding
 * a key, and 200,000 events of this station, made in SQL (their hashes are not a chain):
 * what the planner sees of a département's journal, in a few seconds. */
static void fill_big(struct journal *j) {
        static const char sqlite_rows[] =
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999) ";
        static const char pg_rows[] = "";
        bool is_pg = pg_url != NULL;
        char sql[2048];

        raw_exec(j, "INSERT INTO schools (uai, created_usec, updated_usec) VALUES ('0750099Z', 0, 0)");
        snprintf(sql, sizeof(sql), "%sINSERT INTO pupils (school, id, family_name, first_name, class_name, is_active, "
                 "has_derived_id, roster_rank, roster_line, import_id, created_usec, updated_usec) "
                 "SELECT '0750099Z', 'B' || i, 'Nom', 'Prénom', 'C' || (i / 30), 1, 0, i, i, 1, 0, 0 FROM %s "
                 "WHERE i < %d", is_pg ? pg_rows : sqlite_rows, is_pg ? "generate_series(0, 199999) AS i" : "n",
                 BIG_PUPILS);
        raw_exec(j, sql);
        snprintf(sql, sizeof(sql), "%sINSERT INTO keys (uid, serial, volume_id, capacity, status, pupil_school, pupil_id, "
                 "created_usec, updated_usec) SELECT 'bulk:' || i, 'S' || i, 'V' || i, 0, 'issued', '0750099Z', "
                 "'B' || i, 0, 0 FROM %s WHERE i < 100000", is_pg ? pg_rows : sqlite_rows,
                 is_pg ? "generate_series(0, 199999) AS i" : "n");
        raw_exec(j, sql);
        snprintf(sql, sizeof(sql), "%sINSERT INTO events (uuid, station, station_seq, kind, time_usec, pupil_school, "
                 "pupil_id, key_uid, outcome, prev_hash, hash, format) SELECT 'u' || i, 'bulk', i + 1, "
                 "CASE WHEN i %% 2 = 0 THEN 'flashed' ELSE 'issued' END, 0, '0750099Z', 'B' || (i / 2), "
                 "'bulk:' || (i / 2), CASE WHEN i %% 2 = 0 THEN 'ok' END, 'x', 'x', 2 FROM %s",
                 is_pg ? pg_rows : sqlite_rows, is_pg ? "generate_series(0, 199999) AS i" : "n");
        raw_exec(j, sql);
        raw_exec(j, "ANALYZE");
}

struct traced {
        char *sql[128];
        char *params[128][32];
        int n_params[128];
        size_t n;
};

static void on_statement(void *userdata, const char *sql, int n_params, const char *const *params) {
        struct traced *t = userdata;

        for (size_t i = 0; i < t->n; i++)
                if (streq(t->sql[i], sql))
                        return;
        assert_true(t->n < ELEMENTSOF(t->sql) && n_params <= 32);
        t->sql[t->n] = strdup(sql);
        t->n_params[t->n] = n_params;
        for (int i = 0; i < n_params; i++)
                t->params[t->n][i] = params[i] ? strdup(params[i]) : NULL;
        t->n++;
}

/* The plan of one statement, one line per step: SQLite's EXPLAIN QUERY PLAN details, or
 * PostgreSQL's EXPLAIN with the parameters the statement ran with. */
static char *plan_of(struct traced *t, size_t i) {
        char explain[8192], *out;
        size_t n = 0;

        if (!pg_url) {
                snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", t->sql[i]);
                return raw_name_rows(name, explain, 3, "\n");
        }
        /* EXPLAIN with the statement's parameters: not raw_name_rows()'s plain query. */
        PGconn *c = PQconnectdb(name);
        PGresult *res;
        out = calloc(1, 8192);
        assert_non_null(out);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        snprintf(explain, sizeof(explain), "EXPLAIN %s", t->sql[i]);
        res = PQexecParams(c, explain, t->n_params[i], NULL, (const char *const *) t->params[i], NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", explain, PQerrorMessage(c));
        for (int row = 0; row < PQntuples(res); row++)
                n += (size_t) snprintf(out + n, 8192 - MIN(n, 8191), "%s\n", PQgetvalue(res, row, 0));
        PQclear(res);
        PQfinish(c);
        return out;
}

/* Whether a plan reads a whole table of those that grow with the roster and the years. */
static bool plan_scans(const char *plan) {
        static const char *const scans[] = {
                "SCAN pupils", "SCAN p\n", "SCAN p ", "SCAN events", "SCAN e\n", "SCAN e ", "SCAN f\n", "SCAN f ",
                "SCAN x\n", "SCAN keys", "SCAN k\n", "SCAN k ", "Seq Scan on pupils", "Seq Scan on events",
                "Seq Scan on keys",
        };
        for (size_t i = 0; i < ELEMENTSOF(scans); i++)
                if (strstr(plan, scans[i]))
                        return true;
        return false;
}

static void test_per_key_statements_use_indexes(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("bulk");
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL, *q = NULL;
        _cleanup_free_ char *pupil = NULL;
        struct flash_report r1 = report("L1"), r2 = report("L2"), r3 = report("L3");
        struct traced t = {};
        struct cart_error err = {};
        uint32_t vol;
        uint64_t left;
        bool failed = false;

        import(j);
        fill_big(j);
        j->trace = on_statement;
        j->trace_userdata = &t;

        /* A batch's key in roster mode: is it intact already, its start claiming a pupil, its
         * end issuing the key; the class's count; a stock key's start closed as interrupted. */
        assert_int_equal(journal_batch_last_flash(j, "usb:0781:5581:L1", "ent-college", 7, &vol, &err), 0);
        assert_int_equal(start_flash(j, &r1, "tech", NULL, "0750001A", "6A", &p, &err), 1);
        assert_true(asprintf(&pupil, "%s/%s", p->school, p->id) > 0);
        if (record_flash(j, &r1, &(struct test_flash) { .operator = "tech", .pupil = pupil }, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(journal_batch_count_without_key(j, "0750001A", "6A", &left, &err), 0);
        assert_int_equal(start_flash(j, &r2, "tech", NULL, NULL, NULL, NULL, &err), 1);
        assert_int_equal(journal_interrupted_list(j, NULL, NULL, &err), 1);
        assert_int_equal(journal_close_interrupted(j, "tech", NULL, NULL, &err), 1);
        assert_int_equal(journal_start_is_open(j, "usb:0781:5581:L2", &err), 0);
        /* flash --pupil --replace: the pupil's key replaced, a key of another pupil reflashed. */
        assert_int_equal(journal_pupil_for_issue(j, pupil, true, &q, &err), 0);
        if (record_flash(j, &r3, &(struct test_flash) { .operator = "tech", .pupil = pupil,
                                                                   .replace = true }, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(flash(j, "L3", "0750001A/2", &err), 0);
        j->trace = NULL;

        assert_true(t.n >= 15);
        for (size_t i = 0; i < t.n; i++) {
                _cleanup_free_ char *plan = plan_of(&t, i);
                if (plan_scans(plan)) {
                        fprintf(stderr, "a whole table read for each key:\n%s\n%s\n", t.sql[i], plan);
                        failed = true;
                }
                free(t.sql[i]);
                for (int k = 0; k < t.n_params[i]; k++)
                        free(t.params[i][k]);
        }
        assert_false(failed);
}

/* ---- PostgreSQL only ---- */

#define NEEDS_PG() do { if (!pg_url) skip(); } while (0)

static char *read_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        assert_int_equal(read_small_file(path, 1 << 20, &data, &len), 0);
        return TAKE_PTR(data);
}

/* The catalogue of a database: columns, constraints, indexes, triggers, functions. */
static char *catalogue(const char *url) {
        static const char sql[] =
                "SELECT string_agg(l, E'\\n' ORDER BY l) FROM ("
                " SELECT format('column %s.%s %s null=%s default=%s identity=%s', table_name, column_name, data_type,"
                "  is_nullable, coalesce(column_default, '-'), coalesce(identity_generation, '-')) AS l"
                "  FROM information_schema.columns WHERE table_schema = 'public'"
                " UNION ALL SELECT format('constraint %s %s', conrelid::regclass, pg_get_constraintdef(oid))"
                "  FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                " UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
                " UNION ALL SELECT format('function %s %s', proname, md5(prosrc)) FROM pg_proc"
                "  WHERE pronamespace = 'public'::regnamespace"
                " UNION ALL SELECT format('policy %s.%s %s %s %s', tablename, policyname, cmd, qual, with_check)"
                "  FROM pg_policies WHERE schemaname = 'public'"
                " UNION ALL SELECT 'row-level security ' || relname FROM pg_class"
                "  WHERE relrowsecurity AND relnamespace = 'public'::regnamespace) c";
        PGconn *conn = PQconnectdb(url);
        PGresult *res;
        char *out;

        assert_int_equal(PQstatus(conn), CONNECTION_OK);
        res = PQexec(conn, sql);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        out = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        PQfinish(conn);
        return out;
}

static void test_pg_schema_matches_file(void **state) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_free_ char *file = NULL, *live = NULL, *documented = NULL;
        char url[1024], sql[128];

        NEEDS_PG();
        j = open_new("s1");
        live = catalogue(name);

        snprintf(sql, sizeof(sql), "CREATE DATABASE %s_doc", db_name);
        pg_admin(sql);
        snprintf(sql, sizeof(sql), "%s_doc", db_name);
        pg_url_for(sql, url, sizeof(url));
        file = read_file(SOURCE_ROOT "/manifests/schemas/journal-pg.sql");
        pg_exec_on(url, file);
        documented = catalogue(url);

        assert_non_null(strstr(live, "column events.seq bigint null=NO default=- identity=BY DEFAULT"));
        assert_non_null(strstr(live, "trigger CREATE TRIGGER events_append_only BEFORE DELETE OR UPDATE ON public.events"));
        assert_string_equal(live, documented);
}

static void test_pg_url_with_password_refused(void **state) {
        struct journal_options o = { .station = "s1" };
        struct cart_error err = {};
        struct journal *j = NULL;

        NEEDS_PG();
        assert_int_equal(journal_open("postgresql://cartable_admin:hunter2@localhost/cartable", &o, &j, &err), -EINVAL);
        assert_null(j);
        assert_non_null(strstr(err.msg, "holds a password"));
        assert_non_null(strstr(err.msg, "PGPASSFILE"));
        assert_null(strstr(err.msg, "hunter2"));
        assert_int_equal(journal_open("postgresql:///cartable?host=/tmp&password=hunter2", &o, &j, &err), -EINVAL);
        assert_null(strstr(err.msg, "hunter2"));
}

/* Register station (role cartable_station, school 0750001A) in the owner's journal admin, and
 * open journal, as that station's role. */
static struct journal *open_station(struct journal *admin, const char *journal, const char *station) {
        static const char *const schools[] = { "0750001A" };
        struct cart_error err = {};
        char url[1024];
        const char *q;

        if (journal_station_add(admin, &(struct journal_station) { .name = station, .role = "cartable_station",
                                                                    .schools = schools, .n_schools = 1 }, &err) < 0)
                fail_msg("station add: %s", err.msg);
        q = strstr(journal, "user=cartable_admin");
        assert_non_null(q);
        snprintf(url, sizeof(url), "%.*suser=cartable_station%s", (int) (q - journal), journal,
                 q + strlen("user=cartable_admin"));
        return open_as(url, station);
}

/* A station's role, registered by the owner (journal station add grants it what a station
 * needs), cannot rewrite events. */
static void test_pg_station_role_cannot_rewrite(void **state) {
        _cleanup_(journal_closep) struct journal *admin = NULL, *st = NULL;
        struct cart_error err = {};

        NEEDS_PG();
        admin = open_as(pg_url, "admin");      /* the database "cartable", created by its owner */
        import(admin);
        st = open_station(admin, pg_url, "college-2");
        assert_int_equal(flash(st, "S1", "5", &err), 0);
        assert_int_equal(count(st, "SELECT count(*) FROM events WHERE station = 'college-2'"), 2);

        assert_int_equal(jdb_exec(st, "UPDATE events SET operator = 'mallory'", &err), -EACCES);
        assert_non_null(strstr(err.msg, "permission denied for table events"));
        assert_int_equal(jdb_exec(st, "DELETE FROM events", &err), -EACCES);
        assert_int_equal(jdb_exec(st, "TRUNCATE events", &err), -EACCES);
        /* Granted by mistake: the trigger still refuses. */
        assert_int_equal(jdb_exec(admin, "GRANT UPDATE, DELETE ON events TO cartable_station", &err), 0);
        assert_int_equal(jdb_exec(st, "UPDATE events SET operator = 'mallory'", &err), -EACCES);
        assert_non_null(strstr(err.msg, "events are append-only: UPDATE by cartable_station refused"));
        assert_int_equal(jdb_exec(st, "DELETE FROM events", &err), -EACCES);
        assert_non_null(strstr(err.msg, "events are append-only: DELETE by cartable_station refused"));
        assert_int_equal(count(admin, "SELECT count(*) FROM events WHERE operator = 'mallory'"), 0);
        assert_int_equal(count(admin, "SELECT count(*) FROM events"), 2);
        assert_int_equal(jdb_exec(admin, "REVOKE UPDATE, DELETE ON events FROM cartable_station", &err), 0);
        assert_int_equal(journal_verify(admin, NULL, NULL, &err), 0);

        /* What a station's batch does, with its grants only: claim a pupil with the key's
         * start, record its end (the claim released), verify (which reads pupil_salts). */
        struct flash_report rep = report("S2");
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        _cleanup_free_ char *pupil = NULL;
        assert_int_equal(start_flash(st, &rep, "tech", NULL, "0750001A", "6A", &p, &err), 1);
        assert_string_equal(p->id, "1");
        assert_int_equal(count(admin, "SELECT count(*) FROM pupils WHERE claim_station = 'college-2'"), 1);
        assert_true(asprintf(&pupil, "%s/%s", p->school, p->id) > 0);
        if (record_flash(st, &rep, &(struct test_flash) { .operator = "tech", .pupil = pupil }, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(count(admin, "SELECT count(*) FROM pupils WHERE claim_station IS NOT NULL"), 0);
        assert_int_equal(count(admin, "SELECT count(*) FROM keys WHERE pupil_id = '1' AND status = 'issued'"), 1);
        assert_int_equal(journal_verify(st, NULL, NULL, &err), 0);
}

/* A station's role records updates and repairs of its schools' keys and of the
 * département's (stock) keys only: another school's issued key is not even seen. */
static void test_pg_station_updates_its_schools(void **state) {
        _cleanup_(journal_closep) struct journal *admin = NULL, *st = NULL;
        _cleanup_(journal_sync_freep) struct journal_sync *sync = NULL;
        static const struct journal_pupil other = { .id = "B1", .school = "0750002B", .family_name = "Autre",
                                                    .first_name = "Élève", .class_name = "6C", .line = 2 };
        struct journal_update u = { .operator = "tech", .release_name = "ent-college", .release_version = "2026.2",
                                    .release_serial = 8, .from_version = "2026.1", .from_serial = 7, .n_put = 1,
                                    .bytes_written = 10, .bytes_read = 10 };
        struct cart_error err = {};

        NEEDS_PG();
        admin = open_new("admin");
        import(admin);
        assert_int_equal(journal_sync_begin(admin, "other.csv", NULL, NULL, &sync, &err), 0);
        assert_int_equal(journal_sync_pupil(sync, &other, &err), 0);
        assert_int_equal(journal_sync_finish(sync, false, NULL, &err), 0);
        assert_int_equal(flash(admin, "UA", "0750001A/5", &err), 0);
        assert_int_equal(flash(admin, "UB", "0750002B/B1", &err), 0);
        assert_int_equal(flash(admin, "US", NULL, &err), 0);
        st = open_station(admin, name, "college-3");

        u.key = "UA";
        if (journal_record_update(st, &u, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        u.key = "US";
        u.is_repair = true;
        assert_int_equal(journal_record_update(st, &u, NULL, &err), 0);
        u.key = "UB";
        assert_int_equal(journal_record_update(st, &u, NULL, &err), -ENOENT);
        u.is_repair = false;
        assert_int_equal(journal_record_update(st, &u, NULL, &err), -ENOENT);
        /* Written behind the API's back, naming the other school's pupil: the server refuses. */
        assert_int_equal(jdb_exec(st, "INSERT INTO events (uuid, station, station_seq, kind, time_usec, pupil_school, "
                                  "pupil_id, prev_hash, hash) VALUES ('x', 'college-3', 99, 'updated', 0, '0750002B', "
                                  "'B1', '0', '0')", &err), -EACCES);
        assert_non_null(strstr(err.msg, "does not serve school 0750002B"));
        assert_int_equal(count(admin, "SELECT count(*) FROM events WHERE station = 'college-3' AND kind = 'updated' "
                                      "AND pupil_id = '5'"), 1);
        assert_int_equal(count(admin, "SELECT count(*) FROM events WHERE station = 'college-3' AND kind = 'repaired' "
                                      "AND pupil_id IS NULL"), 1);
        assert_int_equal(count(admin, "SELECT count(*) FROM events WHERE station = 'college-3'"), 2);
        assert_int_equal(journal_verify(admin, NULL, NULL, &err), 0);
}

/* Each station signs its events; verify checks them against its registered key from its
 * signed_from event on, and names a forged or missing signature's station and event. */
static void test_signatures(void **state) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct journal_options o = { .station = "s1", .create = true };
        static const char *const schools[] = { "0750001A" };
        struct cart_error err = {};
        char keyfile[1100], pub[65];
        struct stat st;

        snprintf(keyfile, sizeof(keyfile), "%s/%s-station.key", dir, db_name[0] ? db_name : "sqlite");
        (void) unlink(keyfile);
        o.sign_key = keyfile;
        if (journal_open(name, &o, &j, &err) < 0)
                fail_msg("journal_open: %s", err.msg);
        import(j);
        /* Before its registration: signed, but nobody checks. */
        assert_int_equal(flash(j, "G1", NULL, &err), 0);
        assert_int_equal(stat(keyfile, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(count(j, "SELECT count(*) FROM events WHERE signature IS NULL"), 0);
        assert_int_equal(journal_sign_key_public(keyfile, pub, &err), 0);
        assert_int_equal(journal_station_add(j, &(struct journal_station) { .name = "s1", .role = "cartable_station2",
                                                                             .public_key = pub, .schools = schools,
                                                                             .n_schools = 1 }, &err), 0);
        assert_int_equal(count(j, "SELECT signed_from FROM stations WHERE name = 's1'"), 2);
        assert_int_equal(flash(j, "G2", NULL, &err), 0);
        assert_int_equal(flash(j, "G3", NULL, &err), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);

        /* Another key registered for s1: its signed events are broken (the first named: a
         * signature, even before signed_from, must be the station's). */
        assert_int_equal(jdb_exec(j, "UPDATE stations SET public_key = "
                                  "'3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'", &err), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "station s1: event 1 (row"));
        assert_int_equal(jdb_run(j, &err, "UPDATE stations SET public_key = ?", JT(pub)), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
        /* Event 2 carries event 3's signature: forged. */
        assert_int_equal(jdb_exec(j, "UPDATE events SET signature = (SELECT signature FROM events WHERE "
                                  "station_seq = 3) WHERE station_seq = 2", &err), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "station s1: event 2 (row"));
        assert_non_null(strstr(err.msg, "its signature is not the station's registered key's"));
        /* Without a signature, from signed_from on: broken; before it: not checked. */
        assert_int_equal(jdb_exec(j, "UPDATE events SET signature = NULL WHERE station_seq IN (1, 2)", &err), 0);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 1);
        assert_non_null(strstr(err.msg, "station s1: event 2 (row"));
        assert_non_null(strstr(err.msg, "is not signed, though the station signs its events from event 2"));
        assert_null(strstr(err.msg, "event 1 "));
        unlink(keyfile);
}

static void pg_ctl(const char *action) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "%s %s >/dev/null", getenv("CARTABLE_TEST_PG_CTL"), action);
        assert_int_equal(system(cmd), 0);
}

/* The server stops mid-run: the next record fails clearly; what was committed stays, the
 * open transaction's records are not half there. */
static void test_pg_server_stopped(void **state) {
        int r;
        _cleanup_(journal_closep) struct journal *j = NULL, *again = NULL;
        struct cart_error err = {};
        char start[1024];

        NEEDS_PG();
        j = open_new("s1");
        import(j);
        for (int i = 0; i < 5; i++) {
                char serial[8];
                snprintf(serial, sizeof(serial), "K%d", i);
                assert_int_equal(flash(j, serial, NULL, &err), 0);
        }
        assert_int_equal(journal_begin(j, &err), 0);
        assert_int_equal(flash(j, "IN1", "1", &err), 0);

        pg_ctl("-m immediate stop");
        r = flash(j, "IN2", "2", &err);
        if (r != -ECONNRESET)
                fail_msg("%d: %s", r, err.msg);
        assert_non_null(strstr(err.msg, "the journal server is unreachable"));
        assert_non_null(strstr(err.msg, "what was not committed was not recorded"));
        assert_true(journal_commit(j, &err) < 0);

        snprintf(start, sizeof(start), "-o \"%s\" start", getenv("CARTABLE_TEST_PG_OPTS"));
        pg_ctl(start);
        again = open_new("s1");
        assert_int_equal(count(again, "SELECT count(*) FROM events"), 5);
        assert_int_equal(count(again, "SELECT count(*) FROM keys WHERE uid LIKE '%IN%'"), 0);
        assert_int_equal(journal_verify(again, NULL, NULL, &err), 0);
        /* The station goes on where it was: its chain continues. */
        assert_int_equal(flash(again, "IN1", "1", &err), 0);
        assert_int_equal(count(again, "SELECT max(station_seq) FROM events"), 7);
        assert_int_equal(journal_verify(again, NULL, NULL, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_roundtrip_and_tamper, setup),
                cmocka_unit_test_setup(test_lists_sync_and_head, setup),
                cmocka_unit_test_setup(test_created_by_many_at_once, setup),
                cmocka_unit_test_setup(test_two_stations_claim_each_pupil_once, setup),
                cmocka_unit_test_setup(test_merge_offline_twice, setup),
                cmocka_unit_test_setup(test_per_key_statements_use_indexes, setup),
                cmocka_unit_test_setup(test_leave_date_comes, setup),
                cmocka_unit_test_setup(test_runs_of_one_station, setup),
                cmocka_unit_test_setup(test_signatures, setup),
                cmocka_unit_test_setup(test_pg_schema_matches_file, setup),
                cmocka_unit_test_setup(test_pg_url_with_password_refused, setup),
                cmocka_unit_test_setup(test_pg_station_role_cannot_rewrite, setup),
                cmocka_unit_test_setup(test_pg_station_updates_its_schools, setup),
                cmocka_unit_test_setup(test_pg_server_stopped, setup),
        };
        journal_test_backend();
        return cmocka_run_group_tests_name(pg_url ? "journal on PostgreSQL" : "journal on SQLite", tests, NULL, NULL);
}
