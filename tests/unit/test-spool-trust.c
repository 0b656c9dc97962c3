/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal spool trusts nothing it did not write (issue 21 case 6): a spool directory that
 * is a symbolic link, writable by others or another user's is refused, so is such a spool
 * file, and a spooled end is replayed only if it names the pupil whose start it closes.
 * Ownership is tested as root only (chown).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-test.h"
#include "record-test.h"
#include "batch/spool.h"

static char dir[] = "/tmp/cartable-spool-trust-XXXXXX";
static char path[1024], spool[1100];
static struct journal *j;

static const struct journal_pupil roster[] = {
        { .id = "P1", .school = "0750001A", .family_name = "Martin", .first_name = "Léa", .class_name = "6A", .line = 2 },
        { .id = "P2", .school = "0750001A", .family_name = "Durand", .first_name = "Théo", .class_name = "6A", .line = 3 },
};

static struct flash_report report(void) {
        struct flash_report rep = {
                .key = { .vid_pid = "0781:5581", .capacity = 8 * GIB, .serial = "S1" }, .volume_id = 0xC0000001u,
                .release_name = "ent-college", .release_version = "2026.1", .release_key_id = "0123456789ABCDEF",
                .release_serial = 3, .finished_usec = 1780000000000000, .outcome = FLASH_OUTCOME_OK,
                .step = FLASH_STEP_DONE,
        };
        return rep;
}

/* The key's start for P1 in the journal; its end, naming pupil, in the spool. */
static void start_and_spool(const char *pupil) {
        struct flash_report rep = report();
        struct station_record rec = {};
        struct cart_error err = {};

        if (start_flash(j, &rep, "tech", "P1", NULL, NULL, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(station_record_end(&rec, &rep, false), 0);
        rec.end.operator = "tech";
        rec.end.pupil = pupil;
        if (spool_write(spool, j, &rep, &rec.end, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        station_record_done(&rec);
}

struct seen {
        int r;
        enum cart_reason reason;
        unsigned n;
};

static void on_spooled(void *userdata, const struct spool_entry *e, int r, const struct cart_error *err) {
        struct seen *s = userdata;
        s->r = r;
        s->reason = err->reason;
        s->n++;
}

static int setup(void **state) {
        struct journal_options o = { .station = "st-1", .create = true };
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        struct cart_error err = {};

        journal_test_next(dir, path, sizeof(path), NULL, 0);
        snprintf(spool, sizeof(spool), "%s.spool", path);
        if (journal_open(path, &o, &j, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(journal_sync_begin(j, "test.csv", NULL, NULL, &s, &err), 0);
        for (size_t i = 0; i < ELEMENTSOF(roster); i++)
                assert_int_equal(journal_sync_pupil(s, &roster[i], &err), 0);
        assert_int_equal(journal_sync_finish(s, false, NULL, &err), 0);
        return 0;
}

static int teardown(void **state) {
        j = journal_close(j);
        return 0;
}

static int64_t issued(void) {
        return raw_count(j, "SELECT count(*) FROM keys WHERE status = 'issued'");
}

/* A spool file naming another pupil than the one its start was for: refused, kept. */
static void test_end_must_match_start(void **state) {
        struct seen s = {};
        struct cart_error err = {};

        start_and_spool("P2");
        assert_int_equal(spool_replay(spool, j, on_spooled, &s, &err), 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.r, -EBADMSG);
        assert_int_equal(s.reason, CART_REASON_SPOOL_MISMATCH);
        assert_int_equal(issued(), 0);
        assert_int_equal(journal_start_is_open(j, "usb:0781:5581:S1", &err), 1);
}

static void test_matching_end_replayed(void **state) {
        struct seen s = {};
        struct cart_error err = {};

        start_and_spool("P1");
        assert_int_equal(spool_replay(spool, j, on_spooled, &s, &err), 1);
        assert_int_equal(s.r, 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM keys WHERE status = 'issued' AND pupil_id = 'P1'"), 1);
}

/* The only file of the spool. */
static void spool_file(char *buf, size_t n) {
        char cmd[1300];
        snprintf(cmd, sizeof(cmd), "ls %s/*.json", spool);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        assert_non_null(fgets(buf, (int) n, f));
        buf[strcspn(buf, "\n")] = 0;
        pclose(f);
}

static void expect_refused_file(enum cart_reason reason) {
        struct seen s = {};
        struct cart_error err = {};

        assert_int_equal(spool_replay(spool, j, on_spooled, &s, &err), 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.r, -EPERM);
        assert_int_equal(s.reason, reason);
        assert_int_equal(issued(), 0);
}

static void test_untrusted_files_refused(void **state) {
        char file[1300], moved[1400];

        start_and_spool("P1");
        spool_file(file, sizeof(file));
        assert_int_equal(chmod(file, 0666), 0);
        expect_refused_file(CART_REASON_FILE_WRITABLE_BY_OTHERS);
        assert_int_equal(chmod(file, 0600), 0);

        /* A symbolic link to a file elsewhere. */
        snprintf(moved, sizeof(moved), "%s.elsewhere", path);
        assert_int_equal(rename(file, moved), 0);
        assert_int_equal(symlink(moved, file), 0);
        expect_refused_file(CART_REASON_FILE_SYMLINK);
        assert_int_equal(unlink(file), 0);
        assert_int_equal(rename(moved, file), 0);

        if (geteuid() == 0) {
                assert_int_equal(chown(file, 65534, 65534), 0);
                expect_refused_file(CART_REASON_FILE_FOREIGN_OWNER);
        }
}

static void test_untrusted_directory_refused(void **state) {
        char real[1200];
        struct seen s = {};
        struct cart_error err = {};

        start_and_spool("P1");
        assert_int_equal(chmod(spool, 0777), 0);
        assert_int_equal(spool_replay(spool, j, on_spooled, &s, &err), -EPERM);
        assert_int_equal(err.reason, CART_REASON_FILE_WRITABLE_BY_OTHERS);
        assert_int_equal(s.n, 0);

        /* A symbolic link to a world-writable directory. */
        snprintf(real, sizeof(real), "%s.real", spool);
        assert_int_equal(rename(spool, real), 0);
        assert_int_equal(symlink(real, spool), 0);
        memset(&err, 0, sizeof(err));
        assert_int_equal(spool_replay(spool, j, on_spooled, &s, &err), -EPERM);
        assert_int_equal(err.reason, CART_REASON_FILE_SYMLINK);
        assert_int_equal(s.n, 0);
        assert_int_equal(issued(), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_end_must_match_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_matching_end_replayed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_files_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_directory_refused, setup, teardown),
        };
        journal_test_backend();
        pg_url = NULL;          /* the spool's checks do not depend on the backend: SQLite is enough */
        return cmocka_run_group_tests_name("journal spool trust", tests, NULL, NULL);
}
