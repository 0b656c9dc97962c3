/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/station/keylife: which key a target is and whether it is swapped, verifications and
 * returns recorded, the operator's default, the station's opener for an edit in place. */
#include <fcntl.h>
#include <inttypes.h>
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
#include "release-fixture.h"
#include "fat/fat.h"
#include "station/keylife.h"

static char dir[] = "/tmp/cartable-keylife-XXXXXX";
static char path[1024];
static struct journal *j;

/* A name longer than the key record's 127 bytes, and one with a C1 control (U+009B). */
#define LONG_NAME "Martin-Dupont-de-la-Tour-d'Auvergne-Saint-Exupéry-Lefèvre-Beaumarchais-Villeneuve-" \
                  "Montmorency-Laval-Rohan-Chabot-Noailles-Polignac"
#define C1_NAME "Ren\xc2\x9b" "e"

static const struct journal_pupil roster[] = {
        { .id = "P1", .school = "0750001A", .family_name = "Martin", .first_name = "Léa", .class_name = "6A", .line = 2 },
        { .id = "P2", .school = "0750001A", .family_name = "Durand", .first_name = "Théo", .class_name = "6A", .line = 3 },
        { .id = "P3", .school = "0750001A", .family_name = LONG_NAME, .first_name = C1_NAME, .class_name = "5A", .line = 4 },
};

static void flash(unsigned i, const char *pupil) {
        struct flash_report rep = {
                .key = { .vid_pid = "0781:5581", .capacity = 8 * GIB }, .volume_id = 0xC0000000u + i,
                .release_name = "ent-college", .release_version = "2026.1", .release_key_id = "0123456789ABCDEF",
                .release_serial = 3, .finished_usec = 1780000000000000, .outcome = FLASH_OUTCOME_OK,
                .step = FLASH_STEP_DONE,
        };
        struct test_flash f = { .operator = "tech", .pupil = pupil };
        struct cart_error err = {};

        snprintf(rep.key.serial, sizeof(rep.key.serial), "K%u", i);
        if (record_flash(j, &rep, &f, &err) < 0)
                fail_msg("%s", err.msg);
}

static int setup(void **state) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        struct journal_options o = { .station = "st-1", .create = true };
        struct cart_error err = {};

        journal_test_next(dir, path, sizeof(path), NULL, 0);
        if (journal_open(path, &o, &j, &err) < 0)
                fail_msg("%s", err.msg);
        assert_int_equal(journal_sync_begin(j, "test.csv", NULL, NULL, &s, &err), 0);
        for (size_t i = 0; i < ELEMENTSOF(roster); i++)
                if (journal_sync_pupil(s, &roster[i], &err) < 0)
                        fail_msg("%s", err.msg);
        assert_int_equal(journal_sync_finish(s, false, NULL, &err), 0);
        flash(0, "P1");
        flash(1, "P2");
        flash(2, "P3");
        flash(3, NULL);      /* stock */
        return 0;
}

/* A fourth pupil, without a key. */
static void sync_more(void) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        const struct journal_pupil p4 = { .id = "P4", .school = "0750001A", .family_name = "Petit", .first_name = "Lina",
                                          .class_name = "5A", .line = 5 };
        struct cart_error err = {};

        assert_int_equal(journal_sync_begin(j, "test.csv", NULL, NULL, &s, &err), 0);
        for (size_t i = 0; i < ELEMENTSOF(roster); i++)
                assert_int_equal(journal_sync_pupil(s, &roster[i], &err), 0);
        assert_int_equal(journal_sync_pupil(s, &p4, &err), 0);
        assert_int_equal(journal_sync_finish(s, false, NULL, &err), 0);
}

static int teardown(void **state) {
        j = journal_close(j);
        return 0;
}

/* The record flash writes for key i of the roster's pupil p (NULL: stock). */
static struct key_record record_of(unsigned i, const struct journal_pupil *p) {
        struct key_record k = { .volume_id = 0xC0000000u + i };

        snprintf(k.key_serial, sizeof(k.key_serial), "K%u", i);
        if (p)
                key_record_set_owner(&k, &(struct owner_fields) { .first_name = p->first_name,
                                     .last_name = p->family_name, .class_name = p->class_name, .school = p->school });
        return k;
}

static int find(uint32_t vid, const struct key_record *rec, const char *usb, struct journal_key_info **ret,
                struct cart_error *swap) {
        struct cart_error err = {};
        return keylife_find(j, &(struct keylife_target) { .volume_id = vid, .record = rec, .usb_serial = usb }, ret,
                            swap, &err);
}

static void test_find_agrees(void **state) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct key_record rec = record_of(0, &roster[0]);
        struct cart_error swap;

        assert_int_equal(find(0xC0000000u, &rec, NULL, &k, &swap), 0);
        assert_string_equal(k->uid, "usb:0781:5581:K0");
        assert_int_equal(swap.reason, CART_REASON_NONE);
        k = journal_key_info_free(k);
        /* The same key by its USB serial alone, a record deleted, a name in another case. */
        assert_int_equal(find(0xC0000000u, NULL, "K0", &k, &swap), 0);
        k = journal_key_info_free(k);
        snprintf(rec.owner_last_name, sizeof(rec.owner_last_name), "MARTIN");
        assert_int_equal(find(0xC0000000u, &rec, "K0", &k, &swap), 0);
}

static void test_find_unknown(void **state) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct cart_error err = {};

        assert_int_equal(keylife_find(j, &(struct keylife_target) { .volume_id = 0xDEADBEEF, .usb_serial = "ZZ" },
                                      &k, NULL, &err), -ENOENT);
        assert_null(k);
        assert_string_equal(err.msg, "volume DEADBEEF and USB serial ZZ are not in the journal");
}

/* Each kind of swap, told by its code and its kind, with the words the journal keeps. */
static void test_find_swapped(void **state) {
        static const struct { unsigned vid; int record_of; const char *usb, *kind; } t[] = {
                { 0, 1, NULL, "two-keys" },        /* key 0's volume, key 1's record (its serial) */
                { 0, -2, NULL, "other-owner" },    /* key 0's volume and serial, P2's names */
                { 0, -1, "K1", "usb-other-key" },  /* key 0's volume on key 1's device */
                { 0, -1, "CLONE", "usb-serial" },  /* key 0's volume and record on a stick of its own */
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
                struct key_record rec = t[i].record_of >= 0 ? record_of((unsigned) t[i].record_of, NULL)
                                                             : record_of(0, &roster[-t[i].record_of - 1]);
                struct cart_error swap;

                assert_int_equal(find(0xC0000000u + t[i].vid, &rec, t[i].usb, &k, &swap), 1);
                assert_string_equal(k->uid, "usb:0781:5581:K0");
                assert_int_equal(swap.reason, CART_REASON_SWAPPED);
                assert_string_equal(swap.label, t[i].kind);
                assert_non_null(strstr(swap.msg, "C0000000"));
                assert_int_equal(swap.n_parts, 1);      /* its format and arguments, for cmd/ to translate */
        }
}

/* A name the key record cannot hold as it is (cut at 127 bytes, a C1 control made '?'):
 * the genuine key is not swapped, another pupil's names still are. */
static void test_find_long_and_c1_names(void **state) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct key_record rec = record_of(2, &roster[2]);
        struct cart_error swap;

        assert_true(strlen(LONG_NAME) > 127);
        assert_string_not_equal(rec.owner_last_name, LONG_NAME);
        assert_string_not_equal(rec.owner_first_name, C1_NAME);
        assert_int_equal(find(0xC0000002u, &rec, "K2", &k, &swap), 0);
        k = journal_key_info_free(k);
        /* A record whose family name was left out (a release whose template has none). */
        rec.owner_last_name[0] = 0;
        assert_int_equal(find(0xC0000002u, &rec, "K2", &k, &swap), 0);
        k = journal_key_info_free(k);
        rec = record_of(2, &roster[0]);
        assert_int_equal(find(0xC0000002u, &rec, "K2", &k, &swap), 1);
        assert_string_equal(swap.label, "other-owner");
}

static struct verify_result result_of(unsigned i, const struct journal_pupil *p) {
        struct verify_result v = {
                .release_name = "ent-college", .release_version = "2026.1", .release_serial = 3,
                .volume_id = 0xC0000000u + i, .has_key_record = true, .is_key_record_valid = true,
        };

        v.key_record = record_of(i, p);
        return v;
}

static void test_record_verify(void **state) {
        _cleanup_(keylife_verdict_done) struct keylife_verdict d = {};
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct verify_result v = result_of(0, &roster[0]);
        struct cart_error err = {};

        assert_int_equal(keylife_record_verify(j, "cpe", &v, "K0", &d, &err), 0);
        assert_int_equal(d.outcome, KEYLIFE_INTACT);
        keylife_verdict_done(&d);
        v.n_missing = 1;
        assert_int_equal(keylife_record_verify(j, "cpe", &v, "K0", &d, &err), 0);
        assert_int_equal(d.outcome, KEYLIFE_MODIFIED);
        keylife_verdict_done(&d);
        /* Swapped wins over intact and modified, and is what the journal keeps. */
        v.n_missing = 0;
        assert_int_equal(keylife_record_verify(j, "cpe", &v, "K1", &d, &err), 0);
        assert_int_equal(d.outcome, KEYLIFE_SWAPPED);
        assert_int_equal(journal_key_find(j, "K0", &k, &err), 0);
        assert_string_equal(k->verified_outcome, "swapped");
        /* A key the journal does not know: nothing recorded. */
        keylife_verdict_done(&d);
        v.volume_id = 0xDEADBEEF;
        v.is_key_record_valid = false;
        assert_int_equal(keylife_record_verify(j, "cpe", &v, NULL, &d, &err), -ENOENT);
        assert_null(d.key);
}

static void test_return(void **state) {
        _cleanup_(keylife_verdict_done) struct keylife_verdict d = {};
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct verify_result stock = result_of(3, NULL), v = result_of(1, &roster[1]);
        struct cart_error err = {};

        assert_int_equal(keylife_return(j, "cpe", "left", &stock, NULL, &d, &err), -EINVAL);
        assert_non_null(d.key);
        assert_string_equal(d.key->status, "stock");
        keylife_verdict_done(&d);
        assert_int_equal(keylife_return(j, "cpe", "left", &v, "K1", &d, &err), 0);
        assert_int_equal(d.outcome, KEYLIFE_INTACT);
        assert_int_equal(journal_key_find(j, "K1", &k, &err), 0);
        assert_string_equal(k->status, "returned");
        assert_string_equal(k->verified_outcome, "intact");
        /* Once returned, it cannot come back again. */
        keylife_verdict_done(&d);
        assert_int_equal(keylife_return(j, "cpe", "left", &v, "K1", &d, &err), -EINVAL);
}

static void test_operator(void **state) {
        assert_string_equal(keylife_operator("cpe"), "cpe");
        setenv("SUDO_USER", "alice", 1);
        setenv("USER", "bob", 1);
        assert_string_equal(keylife_operator(NULL), "alice");
        assert_string_equal(keylife_operator(""), "alice");
        setenv("SUDO_USER", "", 1);
        assert_string_equal(keylife_operator(NULL), "bob");
        unsetenv("SUDO_USER");
        unsetenv("USER");
        assert_string_equal(keylife_operator(NULL), "root");
}

/* The opener issue writes through: a regular file only, never through a link. */
static void test_target_open(void **state) {
        char file[1100], link[1100], missing[1100];
        struct station_target t;
        struct cart_error err = {};
        int fd;

        snprintf(file, sizeof(file), "%s/key.img", dir);
        snprintf(link, sizeof(link), "%s/link.img", dir);
        snprintf(missing, sizeof(missing), "%s/none.img", dir);
        fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 4096), 0);
        close(fd);
        assert_int_equal(symlink(file, link), 0);

        assert_int_equal(station_target_open(file, NULL, &t, &err), 0);
        assert_true(t.fd >= 0);
        assert_int_equal(t.size, 4096);
        assert_string_equal(t.serial, "");
        /* Locked: a second opener is refused while the first holds it. */
        struct station_target t2;
        assert_int_equal(station_target_open(file, NULL, &t2, &err), -EBUSY);
        station_target_close(&t);
        assert_int_equal(t.fd, -EBADF);
        station_target_close(&t);       /* twice: harmless */

        assert_int_equal(station_target_open(link, NULL, &t, &err), -EPERM);
        assert_int_equal(station_target_open(dir, NULL, &t, &err), -EPERM);
        assert_int_equal(station_target_open(missing, NULL, &t, &err), -ENOENT);
        assert_int_equal(station_target_open("/dev/null", NULL, &t, &err), -EPERM);
        assert_int_equal(t.fd, -EBADF);
        unlink(link);
        unlink(file);
}

/* A stock key of the fixture's release flashed as an image file, recorded in the journal;
 * then read as identify reads it, issued to a pupil through the station's opener, and read
 * again: its record names the pupil, only as far as the release prints names (none here). */
static void test_read_and_issue(void **state) {
        struct fixture *f = *state;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(keylife_issue_freep) struct keylife_issue *ki = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct flash_report rep = {};
        struct cart_error err = {};
        struct fat_volume_info vi;
        struct key_record rec;
        enum keylife_issue_step step;
        bool has_record, was_written;
        char img[256], other[256];
        int fd;

        snprintf(img, sizeof(img), "%s/stock.img", f->dir);
        snprintf(other, sizeof(other), "%s/not-a-key.img", f->dir);
        close(fixture_image(f, "stock.img", 64 * MIB));
        assert_int_equal(station_new(f->path, NULL, f->trust, STATION_NO_ROLLBACK, &st, &err), 0);
        const struct station_key key = { .target = img, .has_volume_id = true, .volume_id = 0xC0FFEE01, .time = 1788249600 };
        if (station_flash(st, &key, &rep, &err) < 0)
                fail_msg("%s", err.msg);
        if (record_flash(j, &rep, NULL, &err) < 0)
                fail_msg("%s", err.msg);

        fd = open(img, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(keylife_read(fd_read_at, (void *) (intptr_t) fd, 64 * MIB, &vi, &rec, &has_record, &err), 0);
        close(fd);
        assert_int_equal(vi.volume_id, 0xC0FFEE01);
        assert_true(has_record);
        assert_int_equal(rec.volume_id, 0xC0FFEE01);
        assert_false(rec.has_owner);
        close(fixture_image(f, "not-a-key.img", 4 * MIB));
        fd = open(other, O_RDONLY | O_CLOEXEC);
        assert_int_equal(keylife_read(fd_read_at, (void *) (intptr_t) fd, 4 * MIB, &vi, &rec, &has_record, &err),
                         -EMEDIUMTYPE);
        close(fd);

        const struct verify_options vo = { .trust = f->trust };
        /* Not a key: refused at the key step, nothing written. */
        assert_true(keylife_issue_open(j, other, NULL, &vo, "P4", &ki, &step, &err) < 0);
        assert_int_equal(step, KEYLIFE_ISSUE_KEY);
        /* A pupil who holds a key already: refused by the journal before a write. */
        assert_int_equal(keylife_issue_open(j, img, NULL, &vo, "P1", &ki, &step, &err), -EEXIST);
        assert_int_equal(step, KEYLIFE_ISSUE_PUPIL);
        assert_int_equal(keylife_issue_open(j, img, NULL, &vo, "P4", &ki, &step, &err), -ENOENT);   /* not on the roster */
        assert_int_equal(step, KEYLIFE_ISSUE_PUPIL);
        sync_more();
        assert_int_equal(keylife_issue_open(j, img, NULL, &vo, "P4", &ki, &step, &err), 0);
        /* Locked while open: a second opener is refused at the target. */
        _cleanup_(keylife_issue_freep) struct keylife_issue *second = NULL;
        assert_int_equal(keylife_issue_open(j, img, NULL, &vo, "P4", &second, &step, &err), -EBUSY);
        assert_int_equal(step, KEYLIFE_ISSUE_TARGET);
        assert_int_equal(keylife_issue_write(ki, "cpe", 1788249600, &was_written, &step, &err), 0);
        assert_true(was_written);
        assert_int_equal(journal_key_find(j, "C0FFEE01", &k, &err), 0);
        assert_string_equal(k->status, "issued");
        assert_string_equal(k->pupil_id, "P4");
        ki = keylife_issue_free(ki);

        fd = open(img, O_RDONLY | O_CLOEXEC);
        assert_int_equal(keylife_read(fd_read_at, (void *) (intptr_t) fd, 64 * MIB, &vi, &rec, &has_record, &err), 0);
        close(fd);
        assert_true(rec.has_owner);            /* issued, but the release prints no name: */
        assert_string_equal(rec.owner_first_name, "");
        assert_string_equal(rec.owner_last_name, "");
}

/* update_key()'s report of a repair recorded as a "repaired" event: its restored paths
 * named, the files it wrote counted; a failure after writing as "failed", which leaves the
 * release the key holds; the errors that refuse before any write are told apart. */
static void test_record_update(void **state) {
        struct fixture *f = *state;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct update_action actions[] = {
                { .kind = UPDATE_PUT, .path = (char *) "Cours/intro.txt", .is_restore = true },
                { .kind = UPDATE_ATTRS, .path = (char *) "Cours/intro.txt", .is_restore = true },
                { .kind = UPDATE_PUT, .path = (char *) "Outils/outil.bin", .is_restore = true },
        };
        struct update_report rep = {
                .from_version = "2026.1", .to_version = "2026.1", .release_name = "college", .from_serial = 1,
                .to_serial = 1, .volume_id = 0xC0000001u, .is_repair = true, .actions = actions,
                .n_actions = ELEMENTSOF(actions), .n_restored = 2, .n_attrs = 1, .bytes_written = 70000,
                .bytes_read_back = 70000,
        };
        struct cart_error err = {}, why = {};

        assert_int_equal(keylife_record_update(j, "tech", "C0000001", &rep, "0123456789ABCDEF", &err), 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events WHERE kind = 'repaired' AND outcome = 'ok' AND "
                                      "pupil_id = 'P2' AND volume_id = 'C0000001' AND release_name = 'college' AND "
                                      "release_serial = 1 AND bytes_written = 70000 AND "
                                      "message = '2 restored: Cours/intro.txt, Outils/outil.bin'"), 1);
        assert_int_equal(journal_key_find(j, "K1", &k, &err), 0);
        assert_string_equal(k->release_name, "college");

        cart_error_io(&why, -EBADE, "key.img", 65536, "Cours/intro.txt");
        assert_true(keylife_update_may_have_written(-EBADE));
        assert_true(keylife_update_may_have_written(-EIO));
        assert_false(keylife_update_may_have_written(-ENOSPC));
        assert_false(keylife_update_may_have_written(-ESTALE));
        assert_false(keylife_update_may_have_written(-EXDEV));
        assert_int_equal(keylife_record_update_failure(j, "tech", "usb:0781:5581:K0", f->release, false, -EBADE, &why,
                                                       &err), 0);
        assert_int_equal(raw_count(j, "SELECT count(*) FROM events WHERE kind = 'updated' AND outcome = 'failed' AND "
                                      "reason = 'readback-mismatch' AND pupil_id = 'P1' AND release_version = '2026.1' "
                                      "AND message LIKE '%key.img%'"), 1);
        k = journal_key_info_free(k);
        assert_int_equal(journal_key_find(j, "K0", &k, &err), 0);
        assert_string_equal(k->release_name, "ent-college");       /* still what it held */
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

static int setup_with_release(void **state) {
        fixture_setup(state);
        return setup(NULL);
}

static int teardown_with_release(void **state) {
        teardown(NULL);
        return fixture_teardown(state);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_find_agrees, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_unknown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_swapped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_find_long_and_c1_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_record_verify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_return, setup, teardown),
                cmocka_unit_test(test_operator),
                cmocka_unit_test_setup_teardown(test_target_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_and_issue, setup_with_release, teardown_with_release),
                cmocka_unit_test_setup_teardown(test_record_update, setup_with_release, teardown_with_release),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
