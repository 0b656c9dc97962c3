/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <time.h>

#include "common.h"
#include "flash-output.h"
#include "flash/key-record.h"

static double mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void flash_output_init(struct flash_output *out, bool is_json, const char *target) {
        *out = (struct flash_output) { .is_json = is_json, .target = target, .step = FLASH_STEP_DONE };
}

static void end_bar(struct flash_output *out) {
        if (out->has_bar) {
                fputc('\n', stderr);
                out->has_bar = false;
        }
}

static void print_json(struct json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        fflush(stdout);
        json_object_put(o);
}

/* A step of the flash in words (--json and the journal keep flash_step_to_string()). */
const char *flash_step_words(enum flash_step step) {
        switch (step) {
        /* TRANSLATORS: the steps of a flash, shown in progress lines and when it stops. */
        case FLASH_STEP_CHECK: return _("check");
        case FLASH_STEP_PROBE: return _("capacity probe");
        case FLASH_STEP_LAYOUT: return _("layout");
        case FLASH_STEP_WRITE: return _("write");
        case FLASH_STEP_READBACK: return _("read-back");
        case FLASH_STEP_REREAD: return _("partition re-read");
        case FLASH_STEP_DONE: return _("done");
        case FLASH_STEP_ERASE: return _("erase");
        }
        return flash_step_to_string(step);
}

static void step_started(struct flash_output *out, enum flash_step step, uint64_t total) {
        char a[32];

        if (out->is_json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "event", json_object_new_string("step"));
                json_object_object_add(o, "target", json_object_new_string(out->target));
                json_object_object_add(o, "step", json_object_new_string(flash_step_to_string(step)));
                if (total)
                        json_object_object_add(o, "bytes", json_object_new_int64((int64_t) total));
                print_json(o);
        } else if (step != FLASH_STEP_DONE && (!stderr_is_tty || total == 0)) {
                if (total)
                        /* TRANSLATORS: the key, the step of the flash, the bytes it will handle. */
                        fprintf(stderr, _("%s: %s: %s\n"), out->target, flash_step_words(step), human_size(total, a, sizeof(a)));
                else
                        fprintf(stderr, "%s: %s\n", out->target, flash_step_words(step));
        }
}

static volatile sig_atomic_t cancel_signal;

static void on_signal(int sig) {
        cancel_signal = sig;
}

void flash_output_catch_signals(void) {
        struct sigaction sa = { .sa_handler = on_signal };

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGHUP, &sa, NULL);
}

int flash_output_signal(void) {
        return cancel_signal;
}

int flash_output_cancelled(const struct flash_output *out, const struct flash_report *r) {
        const char *sig = cancel_signal ? sigabbrev_np(cancel_signal) : NULL;

        if (sig && r->step < FLASH_STEP_WRITE)
                /* TRANSLATORS: the key, the signal's name ("INT", "TERM"), the step of the flash. */
                log_error(r->error, _("%s: cancelled by SIG%s at step %s: nothing was written"), out->target, sig,
                          flash_step_words(r->step));
        else if (sig)
                log_error(r->error, _("%s: cancelled by SIG%s at step %s: the key is not usable (its partition table "
                                      "is cleared); flash it again"), out->target, sig, flash_step_words(r->step));
        else if (r->step < FLASH_STEP_WRITE)
                log_error(r->error, _("%s: cancelled at step %s: nothing was written"), out->target, flash_step_words(r->step));
        else
                log_error(r->error, _("%s: cancelled at step %s: the key is not usable (its partition table is "
                                      "cleared); flash it again"), out->target, flash_step_words(r->step));
        return EXIT_CANCELLED;
}

int flash_output_event(void *userdata, const struct flash_report *r, enum flash_step step,
                       uint64_t done, uint64_t total) {
        struct flash_output *out = userdata;
        double t = mono(), elapsed, rate;
        char a[32], b[32];

        if (cancel_signal)
                return -ECANCELED;
        if (step != out->step) {
                end_bar(out);
                out->step = step;
                out->step_started = t;
                out->last_print = 0;
                step_started(out, step, total);
                return 0;
        }
        if (out->is_json || !stderr_is_tty || total == 0)
                return 0;
        if (done < total && t - out->last_print < 0.2)
                return 0;
        out->last_print = t;
        elapsed = t - out->step_started;
        rate = elapsed > 0 ? (double) done / elapsed : 0;
        fputs("\r\033[K", stderr);
        /* TRANSLATORS: a progress bar: the key, the step, percent done, bytes done, bytes in all,
         * megabytes per second, seconds left. */
        fprintf(stderr, _("%s: %s %5s%%  %s / %s  %s MB/s  ETA %.0f s"),
                out->target, flash_step_words(step), HUMAN_DECIMAL(100.0 * (double) done / (double) total),
                human_size(done, a, sizeof(a)), human_size(total, b, sizeof(b)), HUMAN_DECIMAL(rate / 1e6),
                rate > 0 ? (double) (total - done) / rate : 0.0);
        out->has_bar = true;
        return 0;
}

struct json_object *flash_erase_json(const struct flash_report *r) {
        struct json_object *e = json_object_new_object();

        json_object_object_add(e, "mode", json_object_new_string(cart_erase_to_string(r->erase_mode)));
        json_object_object_add(e, "held", json_object_new_string(flash_held_to_string(r->held)));
        json_object_object_add(e, "erased", json_object_new_boolean(r->is_erased));
        if (r->erase_method) {
                json_object_object_add(e, "method", json_object_new_string(r->erase_method));
                json_object_object_add(e, "bytes", json_object_new_int64((int64_t) r->erase_bytes));
                json_object_object_add(e, "checked_bytes", json_object_new_int64((int64_t) r->erase_checked_bytes));
                json_object_object_add(e, "seconds", json_object_new_double(r->erase_seconds));
        }
        return e;
}

const char *flash_held_words(enum flash_held h) {
        switch (h) {
        /* TRANSLATORS: what a key held before it was written (--erase auto's judgment). */
        case FLASH_HELD_UNKNOWN: return _("not judged");
        case FLASH_HELD_NOTHING: return _("a blank key");
        case FLASH_HELD_RELEASE: return _("a stock key holding only its signed release");
        case FLASH_HELD_SAME_PUPIL: return _("a key of the same pupil");
        case FLASH_HELD_OTHER_PUPIL: return _("a key of another pupil");
        case FLASH_HELD_RETURNED: return _("a key that came back (returned, lost, stolen, replaced or retired)");
        case FLASH_HELD_FOREIGN: return _("files outside a signed release");
        }
        return flash_held_to_string(h);
}

/* The key record (the same object as /.cartable/key.json, owner fields left out of stdout),
 * plus what only the flash knows: device, probe, bytes, times, outcome. */
static struct json_object *report_json(const struct flash_report *r) {
        struct key_record rec;
        struct json_object *o = json_object_new_object(), *record, *key;

        key_record_from_report(r, NULL, r->flashed_at, &rec);
        record = key_record_to_json_object(&rec);
        if (!o || !record) {
                json_object_put(o);
                json_object_put(record);
                return NULL;
        }
        json_object_object_add(o, "event", json_object_new_string("result"));
        json_object_object_foreach(record, name, v)
                json_object_object_add(o, name, json_object_get(v));
        json_object_put(record);
        json_object_object_get_ex(o, "key", &key);
        json_object_object_add(key, "device", json_object_new_string(r->key.device));
        json_object_object_add(key, "probed", json_object_new_boolean(r->is_probed));
        if (r->is_probed)
                json_object_object_add(key, "probe", json_object_new_string(probe_verdict_to_string(r->probe_verdict)));
        json_object_object_add(o, "started_usec", json_object_new_int64(r->started_usec));
        json_object_object_add(o, "finished_usec", json_object_new_int64(r->finished_usec));
        json_object_object_add(o, "partition_offset", json_object_new_int64((int64_t) r->partition_offset));
        json_object_object_add(o, "partition_size", json_object_new_int64((int64_t) r->partition_size));
        json_object_object_add(o, "cluster_size", json_object_new_int64(r->cluster_size));
        json_object_object_add(o, "content_bytes", json_object_new_int64((int64_t) r->content_bytes));
        json_object_object_add(o, "plan_bytes", json_object_new_int64((int64_t) r->plan_bytes));
        json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t) r->bytes_written));
        json_object_object_add(o, "bytes_read", json_object_new_int64((int64_t) r->bytes_read));
        json_object_object_add(o, "write_seconds", json_object_new_double(r->write_seconds));
        json_object_object_add(o, "read_seconds", json_object_new_double(r->read_seconds));
        json_object_object_add(o, "direct_io", json_object_new_boolean(r->is_direct));
        json_object_object_add(o, "erase", flash_erase_json(r));
        json_object_object_add(o, "outcome", json_object_new_string(flash_outcome_to_string(r->outcome)));
        if (r->outcome != FLASH_OUTCOME_OK) {
                json_object_object_add(o, "step", json_object_new_string(flash_step_to_string(r->step)));
                json_object_object_add(o, "reason", json_object_new_string(cart_reason_to_string(r->reason)));
                json_object_object_add(o, "error", json_object_new_string(ERROR_TEXT_C(&r->failure, r->error)));
                if (r->has_failed_offset)
                        json_object_object_add(o, "offset", json_object_new_int64((int64_t) r->failed_offset));
        }
        return o;
}

void flash_output_result(struct flash_output *out, const struct flash_report *r) {
        char a[32], b[32];

        end_bar(out);
        if (out->is_json) {
                struct json_object *o = report_json(r);
                if (o)
                        print_json(o);
                else
                        log_error(-ENOMEM, _("%s: report: out of memory"), out->target);
                return;
        }
        if (r->outcome != FLASH_OUTCOME_OK)
                return;
        /* TRANSLATORS: the key, release name, version, serial, FAT volume ID (two hex halves),
         * bytes written, seconds, bytes read back, seconds, then " (buffered I/O)" or nothing. */
        printf(_("%s: ok: %s %s (serial %" PRIu64 "), volume %04X-%04X, %s written in %s s, %s read back in %s s%s\n"),
               out->target, r->release_name, r->release_version, r->release_serial,
               r->volume_id >> 16, r->volume_id & 0xFFFF,
               human_size(r->bytes_written, a, sizeof(a)), HUMAN_DECIMAL(r->write_seconds),
               human_size(r->bytes_read, b, sizeof(b)), HUMAN_DECIMAL(r->read_seconds),
               r->is_direct ? "" : _(" (buffered I/O)"));
        if (r->is_erased)
                /* TRANSLATORS: the key, bytes of zeros written, seconds, bytes read back, what the key held. */
                printf(_("%s: erased: %s of zeros in %s s, %s read back as zeros (it held %s)\n"), out->target,
                       human_size(r->erase_bytes, a, sizeof(a)), HUMAN_DECIMAL(r->erase_seconds),
                       human_size(r->erase_checked_bytes, b, sizeof(b)), flash_held_words(r->held));
        else if (r->erase_mode == CART_ERASE_NEVER)
                /* TRANSLATORS: the key; --erase never was given. */
                printf(_("%s: not erased (--erase never): what the key held before may still be read from it\n"),
                       out->target);
}

int flash_output_error(bool is_json, const char *target, const struct cart_error *err, int r,
                       const char *context) {
        if (is_json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "event", json_object_new_string("error"));
                json_object_object_add(o, "target", json_object_new_string(target));
                json_object_object_add(o, "reason", json_object_new_string(cart_reason_to_string(cart_error_reason(err, r))));
                json_object_object_add(o, "error", json_object_new_string(ERROR_TEXT_C(err, r)));
                print_json(o);
        }
        if (context)
                return log_fail_error(err, r, "%s", context);
        return log_fail_error(err, r, NULL);
}

int flash_output_failed(const struct flash_output *out, const struct flash_report *report,
                        const struct cart_error *err, int r) {
        if (report->outcome == FLASH_OUTCOME_NONE)
                return flash_output_error(out->is_json, out->target, err, r, NULL);
        return log_fail_error(err, r, NULL);
}
