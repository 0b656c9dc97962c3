/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/station/batch.c and the journal's batch section: 8 image-file keys at once (a ninth
 * target refused, never touched), pupils in roster order, one key per pupil, the journal's
 * outcome of every key, stop levels, and the keys a crashed batch leaves interrupted. The
 * TSan build runs this test too: 8 workers against one station and one coordinator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/util.h"
#include "flash/verify.h"
#pragma GCC diagnostic ignored "-Wunused-function"   /* release-fixture.h's fixture_image() */
#include "release-fixture.h"
#include "batch/batch.h"
#include "record-test.h"

#define N_KEYS 8

struct bed {
        struct fixture *f;
        struct journal *j;
        struct station *st;
        char journal_path[256];
        char targets[N_KEYS + 1][256];
};

static void sync_class(struct journal *j, int n) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        struct cart_error err = {};
        char ids[16][16], first[16][24];

        assert_int_equal(journal_sync_begin(j, "roster.csv", NULL, NULL, &s, &err), 0);
        for (int i = 0; i < n; i++) {
                /* Ids out of alphabetical order: roster order is the file's. */
                snprintf(ids[i], sizeof(ids[i]), "P%02d", (i * 7) % n);
                snprintf(first[i], sizeof(first[i]), "Prénom%d", i);
                struct journal_pupil p = { .id = ids[i], .school = "0750001A", .family_name = "Nom",
                                           .first_name = first[i], .class_name = "6A", .line = (unsigned) i + 2 };
                if (journal_sync_pupil(s, &p, &err) < 0)
                        fail_msg("sync: %s", err.msg);
        }
        assert_int_equal(journal_sync_finish(s, false, NULL, &err), 0);
}

static int bed_setup(void **state) {
        struct bed *b = calloc(1, sizeof(*b));
        struct journal_options o = { .station = "atelier", .create = true };
        struct cart_error err = {};

        assert_non_null(b);
        assert_int_equal(fixture_setup((void **) &b->f), 0);
        snprintf(b->journal_path, sizeof(b->journal_path), "%s/j.db", b->f->dir);
        if (journal_open(b->journal_path, &o, &b->j, &err) < 0)
                fail_msg("journal_open: %s", err.msg);
        sync_class(b->j, 12);
        if (station_new(b->f->path, NULL, b->f->trust, 0, &b->st, &err) < 0)
                fail_msg("station_new: %s", err.msg);
        for (int i = 0; i < N_KEYS; i++)
                snprintf(b->targets[i], sizeof(b->targets[i]), "%s/key%d.img", b->f->dir, i);
        /* A link is never a target: refused, and what it points to is left alone. */
        snprintf(b->targets[N_KEYS], sizeof(b->targets[N_KEYS]), "%s/link.img", b->f->dir);
        assert_int_equal(symlink(b->f->path, b->targets[N_KEYS]), 0);
        *state = b;
        return 0;
}

static int bed_teardown(void **state) {
        struct bed *b = *state;
        void *f = b->f;

        station_free(b->st);
        journal_close(b->j);
        fixture_teardown(&f);
        free(b);
        return 0;
}

struct seen {
        unsigned n[BATCH_NOT_UPDATABLE + 1];      /* the last event's number */
        char pupil_of[N_KEYS + 1][32];
        char failed_message[256];
        unsigned max_running;
        struct batch *batch;
        bool stop_after_first_start;
        unsigned tick_msec;                       /* 0: 20 */
        /* Each slot's steps, as its BATCH_STEP events came, and whether one came outside
         * its key's life (before BATCH_STARTED or after its end). */
        enum flash_step steps[N_KEYS + 1][16];
        unsigned n_steps[N_KEYS + 1];
        bool is_started[N_KEYS + 1], is_ended[N_KEYS + 1], has_step_outside;
        /* Each step's time, its worker's: never before the key's previous step, never after
         * the event that tells it. */
        double last_step_at[N_KEYS + 1];
        bool has_step_at_wrong;
        unsigned n_flashed_instead;
        char not_updatable_reason[32];
};

static void on_event(void *userdata, const struct batch_event *ev) {
        struct seen *s = userdata;

        s->n[ev->kind]++;
        s->max_running = MAX(s->max_running, (unsigned) ev->summary->n_running);
        if (ev->slot && ev->slot->index <= N_KEYS) {
                unsigned i = ev->slot->index;
                if (ev->kind == BATCH_STARTED)
                        s->is_started[i] = true;
                else if (ev->kind == BATCH_DONE || ev->kind == BATCH_FAILED || ev->kind == BATCH_CANCELLED)
                        s->is_ended[i] = true;
                else if (ev->kind == BATCH_STEP) {
                        if (!s->is_started[i] || s->is_ended[i])
                                s->has_step_outside = true;
                        if (ev->slot->step_at < s->last_step_at[i] || ev->slot->step_at < 0 ||
                            ev->slot->step_at > ev->summary->elapsed)
                                s->has_step_at_wrong = true;
                        s->last_step_at[i] = ev->slot->step_at;
                        if (s->n_steps[i] < ELEMENTSOF(s->steps[i]))
                                s->steps[i][s->n_steps[i]] = ev->slot->step;
                        s->n_steps[i]++;
                }
        }
        if (ev->kind == BATCH_DONE && ev->slot->is_flashed_instead)
                s->n_flashed_instead++;
        if (ev->kind == BATCH_NOT_UPDATABLE)
                snprintf(s->not_updatable_reason, sizeof(s->not_updatable_reason), "%s",
                         cart_reason_to_string(cart_error_reason(ev->error, ev->error_r)));
        if (ev->kind == BATCH_STARTED && ev->slot->pupil)
                snprintf(s->pupil_of[ev->slot->index], sizeof(s->pupil_of[0]), "%s", ev->slot->pupil);
        if (ev->kind == BATCH_FAILED)
                snprintf(s->failed_message, sizeof(s->failed_message), "%s %s %s", ev->slot->target,
                         cart_reason_to_string(cart_error_reason(ev->error, ev->error_r)),
                         cart_reason_to_string(station_report_reason(ev->slot->report, false)));
        if (ev->kind == BATCH_STARTED && s->stop_after_first_start && s->n[BATCH_STARTED] == 1)
                batch_stop(s->batch);
}

struct count {
        const char *kind, *outcome;
        int64_t n;
};

static int count_one(void *userdata, const struct journal_event_row *e) {
        struct count *c = userdata;
        if (streq(e->kind, c->kind) && (!c->outcome || (e->outcome && streq(e->outcome, c->outcome))))
                c->n++;
        return 0;
}

/* Events of this kind (and outcome, unless NULL) in the journal. */
static int64_t count_rows(struct journal *j, const char *kind, const char *outcome) {
        struct count c = { kind, outcome, 0 };
        struct cart_error err = {};

        assert_int_equal(journal_events_list(j, &(struct journal_event_filter) {}, count_one, &c, &err), 0);
        return c.n;
}

static void run_batch(struct bed *b, size_t n_targets, unsigned jobs, bool force, struct seen *seen) {
        _cleanup_(batch_freep) struct batch *batch = NULL;
        const char *targets[N_KEYS + 1];
        struct cart_error err = {};

        for (size_t i = 0; i < n_targets; i++)
                targets[i] = b->targets[i];
        struct batch_options o = {
                .station = b->st, .journal = b->j, .trust = b->f->trust,
                .school = "0750001A", .class_name = "6A", .operator = "test",
                .jobs = jobs, .force = force, .targets = targets, .n_targets = n_targets,
                .image_size = 64 * MIB, .tick_msec = seen->tick_msec ? seen->tick_msec : 20, .on_event = on_event, .userdata = seen,
        };
        assert_int_equal(batch_new(&o, &batch, &err), 0);
        seen->batch = batch;
        if (batch_run(batch, &err) < 0)
                fail_msg("batch_run: %s", err.msg);
}

static void test_eight_keys_in_roster_order(void **state) {
        struct bed *b = *state;
        struct seen seen = {};
        struct cart_error err = {};
        struct stat st_before, st_after;
        uint64_t left;

        assert_int_equal(stat(b->f->path, &st_before), 0);
        run_batch(b, N_KEYS + 1, 0, false, &seen);
        assert_int_equal(seen.n[BATCH_DONE], N_KEYS);
        assert_int_equal(seen.n[BATCH_FAILED], 1);
        /* The link, with the reason code the journal stores for it. */
        assert_non_null(strstr(seen.failed_message, "link.img refused refused"));
        assert_int_equal(seen.max_running, N_KEYS + 1);      /* all at once */
        assert_int_equal(stat(b->f->path, &st_after), 0);
        assert_int_equal(st_before.st_mtime, st_after.st_mtime);
        assert_int_equal(st_before.st_size, st_after.st_size);

        /* Target i got the i-th pupil of the roster (ids P00, P07, P02, P09...). */
        for (int i = 0; i < N_KEYS; i++) {
                char want[32];
                snprintf(want, sizeof(want), "0750001A/P%02d", (i * 7) % 12);
                assert_string_equal(seen.pupil_of[i], want);
        }
        assert_int_equal(count_rows(b->j, "flashed", "started"), N_KEYS + 1);
        assert_int_equal(count_rows(b->j, "flashed", "ok"), N_KEYS);
        assert_int_equal(count_rows(b->j, "issued", NULL), N_KEYS);
        assert_int_equal(count_rows(b->j, "flashed", "refused"), 1);
        assert_int_equal(journal_batch_count_without_key(b->j, "0750001A", "6A", &left, &err), 0);
        assert_int_equal(left, 12 - N_KEYS);     /* the refused target's pupil has none */
        assert_int_equal(journal_interrupted_list(b->j, NULL, NULL, &err), 0);

        /* Each key holds the release intact, with the volume the journal recorded. */
        for (int i = 0; i < N_KEYS; i++) {
                _cleanup_(verify_result_freep) struct verify_result *v = NULL;
                _cleanup_close_ int fd = open(b->targets[i], O_RDONLY | O_CLOEXEC);
                char uid[300];
                uint32_t vol = 0;
                assert_true(fd >= 0);
                assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, 64 * MIB, b->f->trust, &v, &err), 0);
                assert_true(verify_result_is_intact(v));
                assert_true(v->is_key_record_valid);
                snprintf(uid, sizeof(uid), "file:%s", b->targets[i]);
                assert_int_equal(journal_batch_last_flash(b->j, uid, "college", 1, &vol, &err), 1);
                assert_int_equal(vol, v->volume_id);
        }

        /* Again: every good key is left alone, the refused target takes the next pupil. */
        struct seen again = {};
        run_batch(b, N_KEYS + 1, 2, false, &again);
        assert_int_equal(again.n[BATCH_SKIPPED], N_KEYS);
        assert_int_equal(again.n[BATCH_DONE], 0);
        /* --jobs 2 caps the workers; skipped keys finish so fast that two may never overlap. */
        assert_in_range(again.max_running, 1, 2);
        assert_string_equal(again.pupil_of[N_KEYS], "0750001A/P08");
        assert_int_equal(count_rows(b->j, "flashed", "ok"), N_KEYS);
}

/* Steps are queued by each worker, not sampled: with a poll period far longer than a whole
 * key (small images), every key still tells each of its steps once, in order, within its life. */
/* --update (or --repair) of targets, no class: each key written in place by its own worker. */
static void run_update(struct bed *b, const char *const *targets, size_t n, enum batch_mode mode, bool flash_if_needed,
                       struct seen *seen) {
        _cleanup_(batch_freep) struct batch *batch = NULL;
        struct cart_error err = {};
        struct batch_options o = {
                .station = b->st, .journal = b->j, .trust = b->f->trust, .operator = "test", .mode = mode,
                .flash_if_needed = flash_if_needed, .targets = targets, .n_targets = n, .tick_msec = 20,
                .on_event = on_event, .userdata = seen,
        };

        assert_int_equal(batch_new(&o, &batch, &err), 0);
        seen->batch = batch;
        if (batch_run(batch, &err) < 0)
                fail_msg("batch_run: %s", err.msg);
}

/* 8 keys of this very release, intact: --update judges each in its own worker and leaves it
 * alone; a blank image is not updatable (not-a-key) and left blank, unless flash_if_needed,
 * which flashes it as a stock key. A class is no option of an update. */
static void test_update_in_place(void **state) {
        struct bed *b = *state;
        struct seen flashed = {}, updated = {}, forced = {};
        const char *targets[N_KEYS + 1];
        char blank[256];
        struct cart_error err = {};
        struct batch *none = NULL;
        uint8_t buf[4096];
        int fd;

        run_batch(b, N_KEYS, 0, true, &flashed);
        assert_int_equal(flashed.n[BATCH_DONE], N_KEYS);
        snprintf(blank, sizeof(blank), "%s/blank.img", b->f->dir);
        fd = open(blank, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 64 * MIB), 0);
        close(fd);
        for (int i = 0; i < N_KEYS; i++)
                targets[i] = b->targets[i];
        targets[N_KEYS] = blank;
        int64_t n_flashed = count_rows(b->j, "flashed", NULL);

        run_update(b, targets, N_KEYS + 1, BATCH_MODE_UPDATE, false, &updated);
        assert_int_equal(updated.n[BATCH_SKIPPED], N_KEYS);
        assert_int_equal(updated.n[BATCH_NOT_UPDATABLE], 1);
        assert_string_equal(updated.not_updatable_reason, "not-a-key");
        assert_int_equal(updated.n[BATCH_DONE] + updated.n[BATCH_FAILED] + updated.n[BATCH_STARTED] - (N_KEYS + 1), 0);
        assert_int_equal(count_rows(b->j, "flashed", NULL), n_flashed);
        fd = open(blank, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (uint64_t off = 0; off < 64 * MIB; off += sizeof(buf)) {
                assert_int_equal(pread(fd, buf, sizeof(buf), (off_t) off), (ssize_t) sizeof(buf));
                for (size_t k = 0; k < sizeof(buf); k++)
                        assert_int_equal(buf[k], 0);
        }
        close(fd);

        run_update(b, &targets[N_KEYS], 1, BATCH_MODE_UPDATE, true, &forced);
        assert_int_equal(forced.n[BATCH_NOT_UPDATABLE], 1);
        assert_int_equal(forced.n[BATCH_DONE], 1);
        assert_int_equal(forced.n_flashed_instead, 1);
        assert_int_equal(count_rows(b->j, "flashed", "ok"), N_KEYS + 1);

        struct batch_options o = { .station = b->st, .journal = b->j, .mode = BATCH_MODE_UPDATE, .school = "0750001A",
                                   .class_name = "6A", .targets = targets, .n_targets = 1 };
        assert_int_equal(batch_new(&o, &none, &err), -EINVAL);
}

static void test_every_step_in_order(void **state) {
        static const enum flash_step want[] = { FLASH_STEP_CHECK, FLASH_STEP_LAYOUT, FLASH_STEP_WRITE,
                                                FLASH_STEP_READBACK };
        struct bed *b = *state;
        struct seen seen = { .tick_msec = 60 * 1000 };

        run_batch(b, N_KEYS + 1, 0, true, &seen);
        assert_int_equal(seen.n[BATCH_DONE], N_KEYS);
        assert_false(seen.has_step_outside);
        assert_false(seen.has_step_at_wrong);
        for (int i = 0; i < N_KEYS; i++) {
                assert_int_equal(seen.n_steps[i], ELEMENTSOF(want));
                for (size_t k = 0; k < ELEMENTSOF(want); k++)
                        assert_string_equal(flash_step_to_string(seen.steps[i][k]), flash_step_to_string(want[k]));
        }
        /* The link is refused at open, before its first step. */
        assert_int_equal(seen.n_steps[N_KEYS], 0);
}

static void test_stop_takes_no_new_key(void **state) {
        struct bed *b = *state;
        struct seen seen = { .stop_after_first_start = true };

        /* One at a time, stopped as the first starts: it finishes, the others never start. */
        run_batch(b, 4, 1, true, &seen);
        assert_int_equal(seen.n[BATCH_STARTED], 1);
        assert_int_equal(seen.n[BATCH_DONE], 1);
        assert_int_equal(count_rows(b->j, "flashed", "started"), 1);
        assert_int_equal(access(b->targets[1], F_OK), -1);
}

static int on_interrupted(void *userdata, const struct journal_interrupted *k, int r, const struct cart_error *e) {
        snprintf(userdata, 64, "%s %s", k->key_uid, k->pupil_id ? k->pupil_id : "-");
        return 0;
}

static void test_journal_interrupted_and_next_pupil(void **state) {
        struct bed *b = *state;
        struct flash_report r = {}, r2 = {}, r3 = {};
        struct cart_error err = {};
        char seen[64] = "";
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
        _cleanup_free_ char *uid = NULL, *uid2 = NULL;
        uint32_t vol = 0;

        snprintf(r.key.device, sizeof(r.key.device), "/tmp/crashed.img");
        snprintf(r.release_name, sizeof(r.release_name), "college");
        r.release_serial = 1;
        r.key.capacity = 64 * MIB;
        r2 = r3 = r;
        snprintf(r2.key.device, sizeof(r2.key.device), "/tmp/second.img");
        snprintf(r3.key.device, sizeof(r3.key.device), "/tmp/third.img");
        assert_int_equal(station_key_uid(&r, &uid), 0);
        assert_int_equal(station_key_uid(&r2, &uid2), 0);
        /* The start claims the class's first pupil, in the journal. */
        assert_int_equal(start_flash(b->j, &r, "test", NULL, "0750001A", "6A", &p1, &err), 1);
        assert_string_equal(p1->id, "P00");
        /* The crash: no end. The next batch finds it, with its pupil, still claimed. */
        assert_int_equal(journal_interrupted_list(b->j, on_interrupted, seen, &err), 1);
        assert_string_equal(seen, "file:/tmp/crashed.img P00");
        assert_int_equal(journal_batch_last_flash(b->j, uid, "college", 1, &vol, &err), 0);
        assert_int_equal(start_flash(b->j, &r2, "test", NULL, "0750001A", "6A", &p2, &err), 1);
        assert_string_equal(p2->id, "P07");
        /* Closing them (no run of this handle: both gone) releases the claims: the pupils are
         * the first without a key again. */
        assert_int_equal(journal_close_interrupted(b->j, "test", NULL, NULL, &err), 2);
        assert_int_equal(journal_interrupted_list(b->j, NULL, NULL, &err), 0);
        assert_int_equal(count_rows(b->j, "flashed", "cancelled"), 2);
        assert_int_equal(start_flash(b->j, &r3, "test", NULL, "0750001A", "6A", &p3, &err), 1);
        assert_string_equal(p3->id, "P00");
        assert_int_equal(start_flash(b->j, &r3, "test", NULL, "0750001A", "9Z", &p4, &err), 0);
        assert_null(p4);
        /* A failed key releases its pupil too. */
        r2.outcome = FLASH_OUTCOME_FAILED;
        assert_int_equal(record_flash(b->j, &r2, &(struct test_flash) { .operator = "test",
                                                                                 .pupil = "0750001A/P07" }, &err), 0);
        assert_int_equal(start_flash(b->j, &r2, "test", NULL, "0750001A", "6A", &p4, &err), 1);
        assert_string_equal(p4->id, "P07");

        /* A good flash of this release is what last_flash reports, with its volume. */
        r.outcome = FLASH_OUTCOME_OK;
        r.volume_id = 0x1234ABCD;
        r.finished_usec = r.started_usec = 1;
        assert_int_equal(record_flash(b->j, &r, &(struct test_flash) { .operator = "test" }, &err), 0);
        assert_int_equal(journal_batch_last_flash(b->j, uid, "college", 1, &vol, &err), 1);
        assert_int_equal(vol, 0x1234ABCD);
        assert_int_equal(journal_batch_last_flash(b->j, uid, "college", 2, &vol, &err), 0);
        assert_int_equal(journal_verify(b->j, NULL, NULL, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_eight_keys_in_roster_order, bed_setup, bed_teardown),
                cmocka_unit_test_setup_teardown(test_every_step_in_order, bed_setup, bed_teardown),
                cmocka_unit_test_setup_teardown(test_update_in_place, bed_setup, bed_teardown),
                cmocka_unit_test_setup_teardown(test_stop_takes_no_new_key, bed_setup, bed_teardown),
                cmocka_unit_test_setup_teardown(test_journal_interrupted_and_next_pupil, bed_setup, bed_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
