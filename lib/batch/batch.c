/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The batch engine (batch.h): a coordinator thread (the caller of batch_run) and one worker
 * thread per key in flight. Threads rather than io_uring: each key's writer already keeps
 * several chunks in flight with O_DIRECT (flash/writer.c), so a key is bound by its own bus and
 * flash, and a thread per key isolates a key whose I/O hangs in the kernel (a pulled key,
 * a dying one) from the others, which one io_uring ring shared by every key would not.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flash/update.h"
#include "flash/verify.h"
#include "batch/batch-internal.h"
#include "batch/spool.h"
#include "station/keylife.h"
#include "station/held.h"

const char *batch_event_name(enum batch_event_kind k) {
        static const char *const names[] = {
                [BATCH_INTERRUPTED_BEFORE] = "interrupted-before", [BATCH_ADDED] = "added",
                [BATCH_REFUSED] = "refused", [BATCH_STARTED] = "started", [BATCH_STEP] = "step",
                [BATCH_PROGRESS] = "progress", [BATCH_SKIPPED] = "skipped", [BATCH_DONE] = "done",
                [BATCH_FAILED] = "failed", [BATCH_CANCELLED] = "interrupted", [BATCH_REMOVED] = "removed",
                [BATCH_NO_PUPIL] = "no-pupil", [BATCH_JOURNAL_ERROR] = "journal-error",
                [BATCH_TICK] = "tick", [BATCH_SPOOLED_BEFORE] = "recorded-from-spool",
                [BATCH_NOT_UPDATABLE] = "not-updatable",
        };
        return (unsigned) k < ELEMENTSOF(names) ? names[k] : "unknown";
}

double batch_mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- Workers ---- */

/* sizeof(m) < PIPE_BUF: atomic, never interleaved with another thread's. A worker waits for
 * room in a full pipe (a message lost would lose a step, or the key's end); batch_stop() runs
 * in a signal handler and never waits (its count, n_stop, is read anyway). */
static void send_msg(struct batch *b, const struct msg *m, bool may_wait) {
        for (;;) {
                if (write(b->wake[1], m, sizeof(*m)) == (ssize_t) sizeof(*m))
                        return;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN || !may_wait || atomic_load(&b->is_freeing))
                        return;
                (void) poll(&(struct pollfd) { .fd = b->wake[1], .events = POLLOUT }, 1, 100);
        }
}

static void worker_send(struct slot *s, uint32_t kind, uint32_t step) {
        send_msg(s->b, &(struct msg) { .index = s->view.index, .kind = kind, .step = step, .at = batch_mono() }, true);
}

static int worker_event(void *userdata, const struct flash_report *r, enum flash_step step,
                        uint64_t done, uint64_t total) {
        struct slot *s = userdata;

        (void) r;
        atomic_store_explicit(&s->total, total, memory_order_relaxed);
        atomic_store_explicit(&s->done, done, memory_order_relaxed);
        atomic_store_explicit(&s->step, (int) step, memory_order_release);
        /* Each transition queued, so the coordinator tells every step however short. DONE is
         * no step the key passes through: its end (BATCH_DONE) says it. */
        if ((int) step != s->sent_step && step != FLASH_STEP_DONE) {
                s->sent_step = (int) step;
                worker_send(s, MSG_STEP, (uint32_t) step);
        }
        return atomic_load(&s->cancel) ? -ECANCELED : 0;
}

/* Does the key already hold this release, intact, with the volume the journal recorded? */
static bool key_is_intact(struct slot *s) {
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_close_ int fd = -EBADF;
        const struct manifest *m = release_manifest(station_release(s->b->o.station));
        struct cart_error err = {};
        struct stat st;
        uint64_t size;

        fd = open(s->target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) < 0)
                return false;
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return false;
        } else if (S_ISREG(st.st_mode))
                size = (uint64_t) st.st_size;
        else
                return false;
        if (size == 0 || verify_key(fd_read_at, (void *) (intptr_t) fd, size, s->b->o.trust, &v, &err) < 0)
                return false;
        return verify_result_is_intact(v) && v->volume_id == s->intact_volume_id &&
               streq(v->release_name, manifest_name(m)) && v->release_serial == manifest_serial(m);
}

/* The coordinator's word before a key's first byte is written: 1 go, -1 give up. */
static int worker_wait_start(struct slot *s) {
        worker_send(s, MSG_WANT_START, 0);
        pthread_mutex_lock(&s->lock);
        while (s->go == 0)
                pthread_cond_wait(&s->cond, &s->lock);
        pthread_mutex_unlock(&s->lock);
        return s->go;
}

/*
 * --update, --repair: the key updated in place. true when it is to be flashed instead
 * (flash_if_needed, and the coordinator recorded its start as a flash's); its report and
 * steps then start again from nothing.
 */
static bool worker_update(struct slot *s) {
        struct batch *b = s->b;
        struct station_key k = {
                .target = s->target,
                .serial = s->is_device && s->serial[0] ? s->serial : NULL,
                .on_event = worker_event, .userdata = s,
        };

        s->r = station_update(b->o.station, &k, b->o.mode == BATCH_MODE_REPAIR, b->o.check, &s->report, &s->update,
                              &s->err);
        if (s->r == STATION_UPDATE_INTACT)
                s->is_skipped = true;
        if (s->r != STATION_UPDATE_REFUSED)
                return false;
        s->is_not_updatable = true;
        if (!b->o.flash_if_needed || worker_wait_start(s) < 0)
                return false;
        memset(&s->report, 0, sizeof(s->report));
        s->sent_step = -1;
        return true;
}

static void *worker(void *userdata) {
        struct slot *s = userdata;
        struct batch *b = s->b;

        if (b->o.mode != BATCH_MODE_FLASH && !worker_update(s))
                goto out;
        if (s->check_intact) {
                if (key_is_intact(s)) {
                        s->is_skipped = true;
                        goto out;
                }
                if (worker_wait_start(s) < 0)
                        goto out;
        }

        struct station_key k = {
                .target = s->target,
                .serial = s->is_device && s->serial[0] ? s->serial : NULL,
                .image_size = s->is_device ? 0 : b->o.image_size,
                .no_probe = b->o.no_probe,
                .has_volume_id = true, .volume_id = s->volume_id,
                .owner = s->info ? &s->owner : NULL,
                .erase = b->o.erase, .journal_held = s->journal_held,
                /* Not updatable in place: the technician asked it flashed over, whatever it holds. */
                .force = s->is_not_updatable,
                .on_event = worker_event, .userdata = s,
        };
        s->r = station_flash(b->o.station, &k, &s->report, &s->err);
out:
        worker_send(s, MSG_ENDED, 0);
        return NULL;
}

/* ---- Slots ---- */

/* What a slot holds for its key; a slot's next key starts from nothing. */
static void slot_clear(struct slot *s) {
        free(s->target);
        free(s->port);
        free(s->serial);
        free(s->uid);
        free(s->pupil);
        free(s->pupil_name);
        free(s->vendor);
        free(s->product);
        s->info = journal_pupil_info_free(s->info);
        s->update = update_report_free(s->update);
        s->target = s->port = s->serial = s->uid = s->pupil = s->pupil_name = s->vendor = s->product = NULL;
}

static void slot_free(struct slot *s) {
        if (!s)
                return;
        slot_clear(s);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
}

static void slot_refresh_view(struct slot *s) {
        s->view.target = s->target;
        s->view.port = s->port ? s->port : "";
        s->view.serial = s->serial ? s->serial : "";
        s->view.pupil = s->pupil;
        s->view.pupil_name = s->pupil_name;
        s->view.family_name = s->info ? s->info->family_name : NULL;
        s->view.first_name = s->info ? s->info->first_name : NULL;
        s->view.class_name = s->info ? s->info->class_name : NULL;
        s->view.is_running = s->state == SLOT_RUNNING;
        s->view.message = s->message;
        s->view.is_removed = s->is_removed;
        s->view.is_in_place = s->b->o.mode != BATCH_MODE_FLASH;
}

void batch_emit(struct batch *b, enum batch_event_kind kind, struct slot *s, const struct cart_error *error, int r) {
        struct batch_event ev = { .kind = kind, .summary = &b->summary, .error = error, .error_r = r };

        b->summary.elapsed = batch_mono() - b->started;
        b->summary.n_running = b->n_running;
        b->summary.stop_level = b->stop_level;
        b->summary.keys_per_hour = b->summary.elapsed > 0 ?
                (double) b->summary.n_done * 3600.0 / b->summary.elapsed : 0;
        if (s) {
                slot_refresh_view(s);
                if (kind != BATCH_TICK && kind != BATCH_PROGRESS && kind != BATCH_STEP)
                        s->view.last = kind;
                ev.slot = &s->view;
        }
        if (b->o.on_event)
                b->o.on_event(b->o.userdata, &ev);
}

/* A slot for a new key: the port's slot again once its previous key ended, else a new one. */
int batch_slot_get(struct batch *b, const char *target, const char *port, struct slot **ret) {
        struct slot *s = NULL;

        for (size_t i = 0; i < b->n_slots; i++) {
                struct slot *x = b->slots[i];
                if (x->state != SLOT_ENDED || x->has_thread || x->is_unrecorded)
                        continue;
                if ((port && port[0] && x->port && streq(x->port, port)) || streq(x->target, target)) {
                        s = x;
                        break;
                }
        }
        if (s)
                slot_clear(s);
        else {
                struct slot **a = reallocarray(b->slots, b->n_slots + 1, sizeof(*a));
                if (!a)
                        return -ENOMEM;
                b->slots = a;
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                pthread_mutex_init(&s->lock, NULL);
                pthread_cond_init(&s->cond, NULL);
                s->view.index = (unsigned) b->n_slots;
                s->b = b;
                b->slots[b->n_slots++] = s;
        }

        unsigned index = s->view.index;
        s->view = (struct batch_slot) { .index = index, .eta = -1 };
        s->state = SLOT_ENDED;
        s->is_removed = s->is_skipped = s->check_intact = s->is_not_updatable = false;
        s->go = 0;
        s->r = 0;
        s->message[0] = 0;
        s->err = s->jerr = (struct cart_error) {};
        s->jr = 0;
        memset(&s->report, 0, sizeof(s->report));
        atomic_store(&s->cancel, false);
        atomic_store(&s->step, (int) FLASH_STEP_CHECK);
        s->sent_step = -1;
        atomic_store(&s->done, 0);
        atomic_store(&s->total, 0);
        s->target = strdup(target);
        s->port = strdup(port ? port : "");
        s->serial = strdup("");
        if (!s->target || !s->port || !s->serial)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static void count_without_key(struct batch *b) {
        struct cart_error err = {};
        uint64_t n;

        if (!b->o.class_name) {
                b->summary.n_without_key = -1;
                return;
        }
        if (journal_batch_count_without_key(b->o.journal, b->o.school, b->o.class_name, &n, &err) >= 0)
                b->summary.n_without_key = (int64_t) n;
}

/* The report a journal's start event needs: identity and release, before the key is opened. */
static void start_report(struct slot *s, struct flash_report *rep) {
        struct flash_target t = { .fd = -EBADF, .size = s->view.capacity };

        snprintf(t.identity.device, sizeof(t.identity.device), "%s", s->target);
        snprintf(t.identity.serial, sizeof(t.identity.serial), "%s", s->serial);
        snprintf(t.identity.vid_pid, sizeof(t.identity.vid_pid), "%s", s->vid_pid);
        snprintf(t.identity.port, sizeof(t.identity.port), "%s", s->port);
        flash_report_start(rep, &t, station_release(s->b->o.station));
        rep->volume_id = s->volume_id;
}

static bool is_connection_lost(int r) {
        return r == -ECONNRESET || r == -ECONNREFUSED;
}

/* The journal server went away: no new key starts until it is back (journal_retry). */
static void journal_failed(struct batch *b, int r) {
        if (!is_connection_lost(r) || b->journal_lost_at > 0)
                return;
        b->journal_lost_at = b->journal_retry_at = batch_mono();
        b->summary.is_journal_lost = true;
}

/* Record the key's start, which in roster mode claims the class's next pupil in the journal
 * (journal_key_start: no other station or process takes that pupil until the key's
 * end is recorded). From here the key may be written. false: nobody left, or the journal
 * failed (s->abort_kind and s->jerr say which). */
static bool slot_begin(struct batch *b, struct slot *s) {
        _cleanup_(station_record_done) struct station_record rec = {};
        struct flash_report rep;
        struct cart_error err = {};
        int r;

        start_report(s, &rep);
        r = station_record_start(&rec, &rep);
        if (r >= 0) {
                rec.start.operator = b->o.operator;
                rec.start.school = b->o.class_name ? b->o.school : NULL;
                rec.start.class_name = b->o.class_name;
                r = journal_key_start(b->o.journal, &rec.start, &s->info, &err);
        }
        /* Its end is recorded under the same uid, whatever its worker learns of it. */
        if (r > 0) {
                free(s->uid);
                s->uid = strdup(rec.uid);
                if (!s->uid)
                        r = cart_error_set(&err, -ENOMEM, "out of memory");
        }
        if (r == 0 && b->o.class_name) {
                s->abort_kind = BATCH_NO_PUPIL;
                return false;
        }
        if (r < 0) {
                s->abort_kind = BATCH_JOURNAL_ERROR;
                s->jerr = err;
                s->jr = r;
                journal_failed(b, r);
                return false;
        }
        if (s->info) {
                s->owner = station_owner(s->info);
                if (asprintf(&s->pupil, "%s/%s", s->info->school, s->info->id) < 0)
                        s->pupil = NULL;
                if (asprintf(&s->pupil_name, "%s %s", s->info->first_name, s->info->family_name) < 0)
                        s->pupil_name = NULL;
                if (!s->pupil) {
                        /* Without its pupil's name the key's end could not release the claim: the
                         * batch stops, and its next run closes the key as interrupted. */
                        s->abort_kind = BATCH_JOURNAL_ERROR;
                        s->jr = cart_error_set(&s->jerr, -ENOMEM, "out of memory");
                        return false;
                }
        }
        return true;
}

/*
 * Start a key's worker. A key the journal says holds this release is first checked by its
 * worker (read-only), and claims a pupil only if it must be written after all.
 */
static int slot_start(struct batch *b, struct slot *s) {
        const struct manifest *m = release_manifest(station_release(b->o.station));
        struct cart_error err = {};
        pthread_attr_t attr;
        int r;

        b->n_queued--;
        if (getrandom(&s->volume_id, sizeof(s->volume_id), 0) != sizeof(s->volume_id))
                s->volume_id = (uint32_t) (batch_mono() * 1e6);
        s->journal_held = FLASH_HELD_UNKNOWN;
        if (s->serial[0] || !s->is_device) {
                struct flash_report rep;
                _cleanup_free_ char *uid = NULL;

                start_report(s, &rep);
                if (station_key_uid(&rep, &uid) < 0)
                        return -ENOMEM;
                /* A batch's pupil holds no key yet (roster mode) or there is none (stock): a key
                 * the journal gives to anyone held another pupil's. Unanswered: the key decides. */
                if (b->o.erase == CART_ERASE_AUTO &&
                    held_in_journal(b->o.journal, uid, NULL, &s->journal_held, &err) < 0)
                        s->journal_held = FLASH_HELD_UNKNOWN;
                /* A key that came back is there to be made again, never left alone as intact.
                 * An update judges the key by what it holds (station_update()). */
                if (!b->o.force && s->journal_held != FLASH_HELD_RETURNED && b->o.mode == BATCH_MODE_FLASH) {
                        r = journal_batch_last_flash(b->o.journal, uid, manifest_name(m), manifest_serial(m),
                                                     &s->intact_volume_id, &err);
                        s->check_intact = r > 0;
                }
                /* else a key without serial is known by its volume, unknown before reading it */
        }
        /* An update in place claims no pupil and records no flash: the journal takes its end. */
        if (!s->check_intact && b->o.mode == BATCH_MODE_FLASH && !slot_begin(b, s)) {
                s->state = SLOT_ENDED;
                batch_emit(b, s->abort_kind, s, s->jr ? &s->jerr : NULL, s->jr);
                return 0;
        }

        s->state = SLOT_RUNNING;
        s->seen_step = -1;
        s->step_started = batch_mono();
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, BATCH_STACK_SIZE);
        r = -pthread_create(&s->thread, &attr, worker, s);
        pthread_attr_destroy(&attr);
        if (r < 0) {
                s->state = SLOT_ENDED;
                return r;
        }
        s->has_thread = true;
        b->n_running++;
        b->last_activity = batch_mono();
        if (!s->check_intact)
                batch_emit(b, BATCH_STARTED, s, NULL, 0);
        return 0;
}

int batch_slot_queue(struct batch *b, struct slot *s) {
        s->state = SLOT_QUEUED;
        b->n_queued++;
        b->last_activity = batch_mono();
        return 0;
}

/* A key pulled out mid-write fails with EIO or ENODEV, often before its remove event
 * arrives: such a failure waits that long for it, to be told from a failing key. */
#define PULL_GRACE 1.5

static bool may_be_pulled(const struct slot *s) {
        return s->is_device && s->report.outcome == FLASH_OUTCOME_FAILED &&
               (s->report.error == -EIO || cart_error_reason(&s->report.failure, s->report.error) == CART_REASON_KEY_REMOVED);
}

/* The key's end record: its report's, for its pupil, with its USB strings. */
static int end_record(const struct batch *b, const struct slot *s, struct station_record *rec) {
        int r;

        if (s->uid) {
                rec->uid = strdup(s->uid);
                if (!rec->uid)
                        return -ENOMEM;
        }
        r = station_record_end(rec, &s->report, s->is_removed);
        if (r < 0)
                return r;
        rec->end.operator = b->o.operator;
        rec->end.pupil = s->pupil;
        rec->end.key.vendor = s->vendor;
        rec->end.key.product = s->product;
        rec->end.school = b->o.class_name ? b->o.school : NULL;
        rec->end.class_name = b->o.class_name;
        return 0;
}

/* Record the key's end, in one call: its claim released, its pupil issued the key, the
 * class counted. late: held back while the journal server was away, so recorded only if
 * the commit the lost connection left in doubt did not record it already. */
static int record_end(struct batch *b, struct slot *s, bool late, struct cart_error *err) {
        _cleanup_(station_record_done) struct station_record rec = {};
        struct journal_key_ended ended = { .n_without_key = -1 };
        int r;

        r = end_record(b, s, &rec);
        if (r < 0)
                return r;
        rec.end.only_if_started = late;
        r = journal_key_end(b->o.journal, &rec.end, &ended, err);
        if (ended.n_without_key >= 0)
                b->summary.n_without_key = ended.n_without_key;
        return r;
}

/*
 * The journal's "updated" or "repaired" event of a key written in place (keylife.h): ok, or
 * failed (cancelled when stopped) once the update may have written; the key then says
 * "update interrupted". The key is found by its uid, or else by its volume ID (a key
 * flashed by another station, or an image file named otherwise). 0 when nothing is to be
 * recorded: a refusal wrote nothing, a key intact, a target refused at open.
 */
static int record_update(struct batch *b, struct slot *s, struct cart_error *err) {
        const struct update_report *u = s->update;
        const struct flash_report *rep = &s->report;
        const struct release *rel = station_release(b->o.station);
        const char *key_id = manifest_key_id(release_manifest(rel));
        bool is_repair = u ? u->is_repair : b->o.mode == BATCH_MODE_REPAIR;
        _cleanup_free_ char *uid = NULL;
        char vid[9];
        int r;

        if (s->is_not_updatable || s->is_skipped || (!u && rep->step < FLASH_STEP_WRITE))
                return 0;
        if (station_key_uid(rep, &uid) < 0)
                return -ENOMEM;
        snprintf(vid, sizeof(vid), "%08" PRIX32, u ? u->volume_id : rep->volume_id);
        for (int pass = 0; pass < 2; pass++) {
                const char *key = pass == 0 ? uid : vid;
                struct cart_error e = {};

                r = u ? keylife_record_update(b->o.journal, b->o.operator, key, u, key_id, &e) :
                        keylife_record_update_failure(b->o.journal, b->o.operator, key, rel, is_repair, rep->error,
                                                      &rep->failure, &e);
                if (pass == 0 || r != -ENOENT)
                        *err = e;
                if (r != -ENOENT || (!u && !rep->volume_id))
                        break;
        }
        return r;
}

/* A key refused at open has a report without its identity: the journal must see the key
 * its start event named (and an update find the key by it), or that start would stay
 * "interrupted" forever. */
static void report_take_identity(struct slot *s) {
        if (!s->report.key.serial[0] && s->serial[0]) {
                snprintf(s->report.key.serial, sizeof(s->report.key.serial), "%s", s->serial);
                snprintf(s->report.key.vid_pid, sizeof(s->report.key.vid_pid), "%s", s->vid_pid);
                snprintf(s->report.key.port, sizeof(s->report.key.port), "%s", s->port ? s->port : "");
        }
        if (!s->report.key.device[0])
                snprintf(s->report.key.device, sizeof(s->report.key.device), "%s", s->target);
}

/* A key of --update or --repair that ended without being flashed. */
static void update_ended(struct batch *b, struct slot *s) {
        struct cart_error err = {};
        enum batch_event_kind kind;
        int r;

        report_take_identity(s);
        s->view.report = &s->report;
        s->view.update = s->update;
        if (s->report.key.capacity)
                s->view.capacity = s->report.key.capacity;
        if (s->is_not_updatable) {
                kind = BATCH_NOT_UPDATABLE;
                b->summary.n_not_updatable++;
        } else if (s->report.outcome == FLASH_OUTCOME_OK) {
                kind = BATCH_DONE;
                b->summary.n_done++;
        } else if (s->report.outcome == FLASH_OUTCOME_CANCELLED) {
                kind = BATCH_CANCELLED;     /* pulled out (slot_ended) */
                b->summary.n_cancelled++;
        } else {
                kind = BATCH_FAILED;
                b->summary.n_failed++;
        }
        r = record_update(b, s, &err);
        if (r < 0) {
                s->jerr = err;
                s->jr = r;
                journal_failed(b, r);
                batch_emit(b, BATCH_JOURNAL_ERROR, s, &s->jerr, r);
        }
        batch_emit(b, kind, s, kind == BATCH_DONE || kind == BATCH_CANCELLED ? NULL : &s->report.failure,
                   kind == BATCH_DONE || kind == BATCH_CANCELLED ? 0 : s->report.error);
}

static void slot_ended(struct batch *b, struct slot *s) {
        struct cart_error err = {};
        enum batch_event_kind kind;
        int r;

        s->end_by = 0;
        /* Gone (its remove event came, or the kernel said ENODEV): the key was pulled out. */
        if (may_be_pulled(s) && (s->is_removed || cart_error_reason(&s->report.failure, s->report.error) == CART_REASON_KEY_REMOVED)) {
                s->is_removed = true;
                s->report.outcome = FLASH_OUTCOME_CANCELLED;
        }
        s->state = SLOT_ENDED;
        b->n_running--;
        b->last_activity = batch_mono();
        if (b->o.mode != BATCH_MODE_FLASH && s->go == 0 && !s->is_skipped) {
                update_ended(b, s);
                return;
        }
        if (s->is_skipped || s->go < 0) {
                if (s->is_skipped)
                        b->summary.n_skipped++;
                batch_emit(b, s->is_skipped ? BATCH_SKIPPED : s->abort_kind, s, s->jr ? &s->jerr : NULL, s->jr);
                return;
        }
        report_take_identity(s);
        if (s->report.outcome != FLASH_OUTCOME_OK)
                s->report.volume_id = s->volume_id;
        s->view.report = &s->report;
        if (s->report.key.capacity)
                s->view.capacity = s->report.key.capacity;
        r = b->journal_lost_at > 0 ? -ECONNRESET : record_end(b, s, false, &err);
        if (r == -ECONNRESET && b->journal_lost_at > 0 && !err.msg[0])
                cart_error_set(&err, r, "%s: the journal server is away: this key's end will be recorded when it "
                               "comes back", journal_name(b->o.journal));
        if (is_connection_lost(r)) {
                journal_failed(b, r);
                s->is_unrecorded = true;
                b->summary.n_unrecorded++;
        }
        if (s->report.outcome == FLASH_OUTCOME_OK) {
                kind = BATCH_DONE;
                b->summary.n_done++;
        } else if (s->report.outcome == FLASH_OUTCOME_CANCELLED) {
                kind = BATCH_CANCELLED;
                b->summary.n_cancelled++;
        } else {
                kind = BATCH_FAILED;
                b->summary.n_failed++;
        }
        if (r < 0) {
                s->jerr = err;
                s->jr = r;
                batch_emit(b, BATCH_JOURNAL_ERROR, s, &s->jerr, r);
        }
        batch_emit(b, kind, s, kind == BATCH_FAILED ? &s->report.failure : NULL, kind == BATCH_FAILED ? s->report.error : 0);
}

/* ---- The coordinator ---- */

int batch_new(const struct batch_options *o, struct batch **ret, struct cart_error *err) {
        _cleanup_free_ struct batch *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        if (!o->station || !o->journal)
                return cart_error_set(err, -EINVAL, "a batch needs a station and a journal");
        if (o->class_name && !o->school)
                return cart_error_set(err, -EINVAL, "a class needs its school");
        if (o->mode != BATCH_MODE_FLASH && o->class_name)
                return cart_error_set(err, -EINVAL, "an update in place keeps each key's pupil: no class");
        if (o->flash_if_needed && o->mode == BATCH_MODE_FLASH)
                return cart_error_set(err, -EINVAL, "flash-if-needed goes with an update or a repair");
        if (!o->n_targets && !o->devices)
                return cart_error_set(err, -EINVAL, "no targets and no device monitor");
        b->o = *o;
        if (!b->o.tick_msec)
                b->o.tick_msec = 250;
        if (!b->o.journal_wait)
                b->o.journal_wait = BATCH_JOURNAL_WAIT;
        b->wake[0] = b->wake[1] = -EBADF;
        if (pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) < 0)
                return cart_error_errno(err, -errno, NULL, "pipe");
        b->summary.n_without_key = -1;
        *ret = TAKE_PTR(b);
        return 0;
}

struct batch *batch_free(struct batch *b) {
        if (!b)
                return NULL;
        atomic_store(&b->is_freeing, true);
        for (size_t i = 0; i < b->n_slots; i++) {
                struct slot *s = b->slots[i];
                if (s->has_thread) {
                        atomic_store(&s->cancel, true);
                        pthread_mutex_lock(&s->lock);
                        s->go = -1;
                        pthread_cond_signal(&s->cond);
                        pthread_mutex_unlock(&s->lock);
                        pthread_join(s->thread, NULL);
                }
                slot_free(s);
        }
        free(b->slots);
        device_monitor_free(b->monitor);
        if (b->wake[0] >= 0)
                close(b->wake[0]);
        if (b->wake[1] >= 0)
                close(b->wake[1]);
        free(b);
        return NULL;
}

void batch_stop(struct batch *b) {
        int saved = errno;

        b->n_stop++;
        send_msg(b, &(struct msg) { .index = UINT32_MAX, .kind = MSG_STOP }, false);
        errno = saved;
}

const struct batch_summary *batch_get_summary(const struct batch *b) {
        return &b->summary;
}

/* A key an earlier batch of this station left started, closed now (or refused: r, err). */
static int on_interrupted(void *userdata, const struct journal_interrupted *k, int r, const struct cart_error *err) {
        struct batch *b = userdata;
        struct batch_event ev = { .kind = BATCH_INTERRUPTED_BEFORE, .summary = &b->summary, .interrupted = k };

        if (r < 0)
                ev = (struct batch_event) { .kind = BATCH_JOURNAL_ERROR, .summary = &b->summary,
                                            .error = err, .error_r = r };
        if (b->o.on_event)
                b->o.on_event(b->o.userdata, &ev);
        return 0;
}

/* A step the worker entered: every one is emitted, in the order the worker queued them. */
static void step_entered(struct batch *b, struct slot *s, enum flash_step step, double at) {
        s->seen_step = (int) step;
        s->step_started = at;
        s->view.step = step;
        s->view.step_at = at - b->started;
        s->view.done = s->view.total = 0;
        s->view.rate = 0;
        s->view.eta = -1;
        batch_emit(b, BATCH_STEP, s, NULL, 0);
}

static void handle_msg(struct batch *b, const struct msg *m) {
        struct slot *s;

        if (m->kind == MSG_STOP) {
                b->stop_level = (unsigned) MIN(b->n_stop, 2);
                return;
        }
        if (m->index >= b->n_slots)
                return;
        s = b->slots[m->index];
        if (m->kind == MSG_WANT_START) {
                int go = -1;
                s->abort_kind = BATCH_CANCELLED;
                if (b->stop_level < 2 && !atomic_load(&s->cancel) && slot_begin(b, s))
                        go = 1;
                /* Not updatable in place (the worker waits, its report is read here), to be
                 * flashed (flash_if_needed) unless the batch stops: said first. */
                if (s->is_not_updatable) {
                        s->view.is_flashed_instead = go > 0;
                        batch_emit(b, BATCH_NOT_UPDATABLE, s, &s->report.failure, s->report.error);
                }
                pthread_mutex_lock(&s->lock);
                s->go = go;
                pthread_cond_signal(&s->cond);
                pthread_mutex_unlock(&s->lock);
                if (go > 0)
                        batch_emit(b, BATCH_STARTED, s, NULL, 0);
        } else if (m->kind == MSG_STEP) {
                if (s->has_thread)
                        step_entered(b, s, (enum flash_step) m->step, m->at);
        } else if (s->has_thread) {
                /* Its last act: the join is at once, and its report is ours from here. */
                pthread_join(s->thread, NULL);
                s->has_thread = false;
                if (may_be_pulled(s) && !s->is_removed) {
                        s->end_by = batch_mono() + PULL_GRACE;
                        return;
                }
                slot_ended(b, s);
        }
}

/* What the workers queued: each message handled at once, never waiting. */
static void drain_msgs(struct batch *b) {
        for (;;) {
                struct msg m;
                ssize_t n = read(b->wake[0], &m, sizeof(m));
                if (n != (ssize_t) sizeof(m))
                        break;
                handle_msg(b, &m);
        }
}

static void progress(struct batch *b) {
        double now = batch_mono();

        for (size_t i = 0; i < b->n_slots; i++) {
                struct slot *s = b->slots[i];
                enum flash_step step;
                uint64_t done, total;
                double dt;

                if (s->state != SLOT_RUNNING)
                        continue;
                step = (enum flash_step) atomic_load_explicit(&s->step, memory_order_acquire);
                done = atomic_load_explicit(&s->done, memory_order_relaxed);
                total = atomic_load_explicit(&s->total, memory_order_relaxed);
                /* A step not emitted yet: its event is still in the pipe, its progress waits. */
                if ((int) step != s->seen_step || total == 0 || done == s->view.done)
                        continue;
                dt = now - s->step_started;
                s->view.done = done;
                s->view.total = total;
                s->view.rate = dt > 0 ? (double) done / dt : 0;
                s->view.eta = s->view.rate > 0 ? (double) (total - MIN(done, total)) / s->view.rate : -1;
                batch_emit(b, BATCH_PROGRESS, s, NULL, 0);
        }
}

static bool may_start(const struct batch *b) {
        if (b->stop_level > 0 || b->journal_lost_at > 0)
                return false;
        if (b->o.count && b->summary.n_done + b->n_running >= b->o.count)
                return false;
        return !b->o.jobs || b->n_running < b->o.jobs;
}

static bool is_finished(const struct batch *b, double now) {
        if (b->n_running > 0)
                return false;
        /* The journal server is away: wait for it (the keys that ended are to be recorded,
         * the queued ones to be started), at most journal_wait seconds, or until a second
         * Ctrl-C. */
        if (b->journal_lost_at > 0 && b->stop_level < 2)
                return now - b->journal_lost_at >= (double) b->o.journal_wait;
        if (b->stop_level > 0 || (b->o.count && b->summary.n_done >= b->o.count))
                return true;
        if (b->n_queued > 0)
                return false;
        if (b->o.n_targets)
                return true;
        return b->o.idle_exit && now - b->last_activity >= b->o.idle_exit;
}

/* Fixed targets: each one a key, queued at once. */
static int add_targets(struct batch *b) {
        for (size_t i = 0; i < b->o.n_targets; i++) {
                struct slot *s;
                struct stat st;
                int r = batch_slot_get(b, b->o.targets[i], NULL, &s);
                if (r < 0)
                        return r;
                s->is_device = station_target_is_device(s->target);
                if (stat(s->target, &st) == 0)
                        s->view.capacity = S_ISREG(st.st_mode) ? MAX((uint64_t) st.st_size, b->o.image_size) : 0;
                else
                        s->view.capacity = b->o.image_size;
                r = s->is_device ? batch_target_identify(b, s) : 0;
                if (r < 0)
                        return r;
                batch_emit(b, BATCH_ADDED, s, NULL, 0);
                batch_slot_queue(b, s);
        }
        return 0;
}

/* Record the end of a key that ended while the server was away, unless the commit that the
 * lost connection left in doubt did record it (its start is no longer open). */
static int record_late(struct batch *b, struct slot *s, struct cart_error *err) {
        int r = record_end(b, s, true, err);

        if (r < 0 && r != -EEXIST && r != -ESRCH)
                return r;
        s->is_unrecorded = false;
        b->summary.n_unrecorded--;
        b->summary.n_recorded_late++;
        return 0;
}

/* Once a second while the journal server is away: connect again, then record what ended. */
static void journal_retry(struct batch *b, double now) {
        struct cart_error err = {};
        int r;

        if (b->journal_lost_at == 0 || now < b->journal_retry_at)
                return;
        b->journal_retry_at = now + 1;
        if (journal_reconnect(b->o.journal, &err) < 0)
                return;
        for (size_t i = 0; i < b->n_slots; i++) {
                struct slot *s = b->slots[i];
                if (!s->is_unrecorded)
                        continue;
                r = record_late(b, s, &err);
                if (is_connection_lost(r))
                        return;
                if (r < 0) {
                        /* Refused for another reason: said once, the key stays unrecorded. */
                        s->is_unrecorded = false;
                        s->jerr = err;
                        s->jr = r;
                        batch_emit(b, BATCH_JOURNAL_ERROR, s, &s->jerr, r);
                }
        }
        b->journal_lost_at = 0;
        count_without_key(b);
}

/* A key's end an earlier batch kept in the spool: recorded now (or refused: the file stays). */
static void on_spooled(void *userdata, const struct spool_entry *e, int r, const struct cart_error *error) {
        struct batch *b = userdata;
        struct batch_event ev = { .summary = &b->summary, .spool_path = e->path };
        struct journal_interrupted k = {
                .seq = -1, .time_usec = e->time_usec, .key_uid = e->key_uid,
                .key_serial = e->key_serial && e->key_serial[0] ? e->key_serial : NULL, .operator = e->operator,
        };
        char school[256] = "";
        const char *slash = e->pupil ? strchr(e->pupil, '/') : NULL;

        if (r < 0 || error->msg[0]) {
                if (r < 0 && r != -EEXIST && r != -ESRCH)
                        b->summary.n_spool_refused++;
                ev.kind = BATCH_JOURNAL_ERROR;
                ev.error = error;
                ev.error_r = r;
                if (b->o.on_event)
                        b->o.on_event(b->o.userdata, &ev);
                if (r < 0 && r != -EEXIST && r != -ESRCH)
                        return;
        }
        if (e->is_present)
                return;   /* the commit in doubt had recorded it: nothing to say */
        if (slash && (size_t) (slash - e->pupil) < sizeof(school)) {
                memcpy(school, e->pupil, (size_t) (slash - e->pupil));
                school[slash - e->pupil] = 0;
                k.pupil_school = school;
                k.pupil_id = slash + 1;
        }
        b->summary.n_spool_replayed++;
        ev = (struct batch_event) { .kind = BATCH_SPOOLED_BEFORE, .summary = &b->summary, .interrupted = &k,
                                    .spool_path = e->path };
        if (b->o.on_event)
                b->o.on_event(b->o.userdata, &ev);
}

/* The server did not come back: keep the ends left unrecorded in the spool, durably. */
static void spool_unrecorded(struct batch *b) {
        for (size_t i = 0; i < b->n_slots; i++) {
                struct slot *s = b->slots[i];
                struct cart_error err = {};
                int r;

                if (!s->is_unrecorded)
                        continue;
                _cleanup_(station_record_done) struct station_record rec = {};

                r = end_record(b, s, &rec);
                if (r >= 0)
                        r = spool_write(b->o.spool_dir, b->o.journal, &s->report, &rec.end, NULL, &err);
                if (r < 0) {
                        s->jerr = err;
                        s->jr = r;
                        batch_emit(b, BATCH_JOURNAL_ERROR, s, &s->jerr, r);
                        continue;
                }
                s->is_unrecorded = false;
                b->summary.n_spooled++;
        }
}

int batch_run(struct batch *b, struct cart_error *err) {
        double last_tick = 0;
        int r;

        b->started = b->last_activity = batch_mono();
        /* This run's identity and lock, before its first start: another batch of this station
         * never closes this one's keys, and closes them once this process is gone. */
        r = journal_run_begin(b->o.journal, err);
        if (r < 0)
                return r;
        /* First the ends an earlier batch kept locally: those keys are recorded with their
         * real outcome, not closed as interrupted just below. */
        if (b->o.spool_dir && journal_is_url(journal_name(b->o.journal))) {
                r = spool_replay(b->o.spool_dir, b->o.journal, on_spooled, b, err);
                if (r < 0)
                        return r;
        }
        r = journal_close_interrupted(b->o.journal, b->o.operator, on_interrupted, b, err);
        if (r < 0)
                return r;
        count_without_key(b);

        r = b->o.n_targets ? add_targets(b) : 0;
        if (r < 0)
                return cart_error_errno(err, r, NULL, "adding the targets");
        if (!b->o.n_targets) {
                r = device_monitor_new(b->o.devices, batch_on_device, b, &b->monitor, err);
                if (r < 0)
                        return r;
                /* An arrival is judged by its identity; its content is read by its own worker
                 * (station/held.h), not here, where it would hold up every other arrival. */
                device_monitor_set_flags(b->monitor, DEVICE_SCAN_NO_PROBE);
                r = batch_scan_present(b, err);
                if (r < 0)
                        return r;
        }

        for (;;) {
                double now = batch_mono();
                int timeout;

                if (b->stop_level >= 2)
                        for (size_t i = 0; i < b->n_slots; i++)
                                if (b->slots[i]->state == SLOT_RUNNING)
                                        atomic_store(&b->slots[i]->cancel, true);
                if (b->stop_level > 0)
                        for (size_t i = 0; i < b->n_slots; i++)
                                if (b->slots[i]->state == SLOT_QUEUED) {
                                        b->slots[i]->state = SLOT_ENDED;
                                        b->n_queued--;
                                }
                /* Keys plugged together are started in one go (the journal is this thread's):
                 * the steps the running ones queued meanwhile are told after, with their time. */
                for (size_t i = 0; i < b->n_slots && b->n_queued > 0 && may_start(b); i++)
                        if (b->slots[i]->state == SLOT_QUEUED) {
                                r = slot_start(b, b->slots[i]);
                                if (r < 0)
                                        return cart_error_errno(err, r, NULL, "cannot start a worker");
                        }
                if (b->o.count && b->summary.n_done >= b->o.count && b->stop_level == 0)
                        b->stop_level = 1;
                journal_retry(b, now);
                if (is_finished(b, now))
                        break;

                struct pollfd p[2] = {
                        { .fd = b->wake[0], .events = POLLIN },
                        { .fd = b->monitor ? device_monitor_fd(b->monitor) : -1, .events = POLLIN },
                };
                timeout = (int) b->o.tick_msec;
                if (poll(p, 2, timeout) < 0 && errno != EINTR)
                        return cart_error_errno(err, -errno, NULL, "poll");
                drain_msgs(b);
                if (b->n_stop && b->stop_level < MIN((unsigned) b->n_stop, 2u))
                        b->stop_level = MIN((unsigned) b->n_stop, 2u);
                if (b->monitor && (p[1].revents & POLLIN)) {
                        r = device_monitor_process(b->monitor, &b->monitor_err);
                        if (r < 0) {
                                *err = b->monitor_err;
                                return cart_error_prefix(err, r, "device monitor");
                        }
                }
                now = batch_mono();
                for (size_t i = 0; i < b->n_slots; i++)
                        if (b->slots[i]->end_by > 0 && (b->slots[i]->is_removed || now >= b->slots[i]->end_by))
                                slot_ended(b, b->slots[i]);
                if (now - last_tick >= (double) b->o.tick_msec / 1000.0) {
                        last_tick = now;
                        progress(b);
                        batch_emit(b, BATCH_TICK, NULL, NULL, 0);
                }
        }
        if (b->journal_lost_at > 0 && b->o.spool_dir && journal_is_url(journal_name(b->o.journal)))
                spool_unrecorded(b);
        progress(b);
        batch_emit(b, BATCH_TICK, NULL, NULL, 0);
        return 0;
}
