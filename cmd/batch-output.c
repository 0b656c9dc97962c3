/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch-output.h"
#include "common.h"
#include "reason.h"

struct batch_row {
        char target[160], serial[48], pupil[64], phase[24], result[300];
        uint64_t capacity, done, total;
        double rate, eta;
        int color;                     /* 0 none, 1 green, 2 red */
};

void batch_output_init(struct batch_output *out, bool is_json, FILE *f, const char *release) {
        const char *term = getenv("TERM");
        bool is_tty = isatty(fileno(f)) && !(term && streq(term, "dumb"));

        *out = (struct batch_output) {
                .mode = is_json ? BATCH_OUTPUT_JSON : is_tty ? BATCH_OUTPUT_TABLE : BATCH_OUTPUT_LINES,
                .f = f, .release = release,
        };
        out->has_color = out->mode == BATCH_OUTPUT_TABLE && !getenv("NO_COLOR");
}

void batch_output_done(struct batch_output *out) {
        for (size_t i = 0; i < out->n_lines; i++)
                free(out->lines[i]);
        free(out->lines);
        free(out->rows);
        out->lines = NULL;
        out->rows = NULL;
        out->n_lines = out->n_rows = 0;
}

/* Roster names and serials on a terminal: control characters become '?'. */
static void copy_safe(char *dst, size_t len, const char *src) {
        size_t i = 0;

        for (; src && *src && i + 1 < len; src++)
                dst[i++] = (unsigned char) *src < 0x20 || *src == 0x7f ? '?' : *src;
        dst[i] = 0;
}

static const char *pupil_words(const struct batch_slot *s, char *buf, size_t len) {
        char a[96], b[96];

        if (!s->pupil)
                return "";
        copy_safe(a, sizeof(a), s->pupil);
        copy_safe(b, sizeof(b), s->pupil_name);
        snprintf(buf, len, "%s%s%s", b, b[0] ? " " : "", a);
        return buf;
}

/* What an event says in words (the one place for batch's sentences); "" when nothing. */
static const char *event_words(const struct batch_event *ev, char *buf, size_t n) {
        const struct batch_slot *s = ev->slot;
        char e[1280];

        buf[0] = 0;
        switch (ev->kind) {
        case BATCH_REFUSED:
                snprintf(buf, n, "%s", s ? s->message : "");
                break;
        case BATCH_FAILED:
        case BATCH_JOURNAL_ERROR:
                snprintf(buf, n, "%s%s", ev->kind == BATCH_JOURNAL_ERROR ? "journal: " : "",
                         error_sentence(ev->error, ev->error_r ? ev->error_r : -EIO, e, sizeof(e)));
                break;
        case BATCH_CANCELLED:
                if (s && s->report)
                        snprintf(buf, n, "%s at step %s%s", s->is_removed ? "pulled out" : "interrupted",
                                 flash_step_to_string(s->report->step), s->report->step < FLASH_STEP_WRITE ?
                                 ": nothing was written" : ": not usable, flash it again");
                else
                        snprintf(buf, n, "stopped before it was written");
                break;
        case BATCH_SKIPPED:
                snprintf(buf, n, "already holds this release intact: left alone (--force to flash it)");
                break;
        case BATCH_NO_PUPIL:
                snprintf(buf, n, "every pupil of the class has a key: not touched");
                break;
        default:
                break;
        }
        return buf;
}

/* The reason code --json gives for a key that did not end well. */
static const char *event_reason(const struct batch_event *ev) {
        if (ev->kind == BATCH_FAILED && ev->slot && ev->slot->report)
                return station_report_reason(ev->slot->report, false);
        if (ev->kind == BATCH_CANCELLED && ev->slot && ev->slot->report)
                return station_report_reason(ev->slot->report, ev->slot->is_removed);
        if (ev->kind == BATCH_JOURNAL_ERROR)
                return cart_reason_to_string(cart_error_reason(ev->error, ev->error_r));
        return NULL;
}

/* ---- NDJSON ---- */

static void json_add_str(struct json_object *o, const char *k, const char *v) {
        if (v && v[0])
                json_object_object_add(o, k, json_object_new_string(v));
}

static void json_summary(struct json_object *o, const struct batch_summary *s) {
        json_object_object_add(o, "done", json_object_new_int64((int64_t) s->n_done));
        json_object_object_add(o, "failed", json_object_new_int64((int64_t) s->n_failed));
        json_object_object_add(o, "interrupted", json_object_new_int64((int64_t) s->n_cancelled));
        json_object_object_add(o, "skipped", json_object_new_int64((int64_t) s->n_skipped));
        json_object_object_add(o, "refused", json_object_new_int64((int64_t) s->n_refused));
        json_object_object_add(o, "running", json_object_new_int64((int64_t) s->n_running));
        if (s->n_without_key >= 0)
                json_object_object_add(o, "without_key", json_object_new_int64(s->n_without_key));
        json_object_object_add(o, "elapsed", json_object_new_double(s->elapsed));
        json_object_object_add(o, "keys_per_hour", json_object_new_double(s->keys_per_hour));
}

static void json_print(struct batch_output *out, struct json_object *o) {
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), out->f);
        fputc('\n', out->f);
        fflush(out->f);
        json_object_put(o);
}

static void json_event(struct batch_output *out, const struct batch_event *ev) {
        const struct batch_slot *s = ev->slot;
        struct json_object *o;

        if (ev->kind == BATCH_TICK)
                return;
        o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "event", json_object_new_string(batch_event_name(ev->kind)));
        if (ev->interrupted) {
                json_add_str(o, "key", ev->interrupted->key_uid);
                json_add_str(o, "serial", ev->interrupted->key_serial);
                if (ev->interrupted->pupil_id) {
                        char p[256];
                        snprintf(p, sizeof(p), "%s/%s", ev->interrupted->pupil_school, ev->interrupted->pupil_id);
                        json_add_str(o, "pupil", p);
                }
                json_object_object_add(o, "started_usec", json_object_new_int64(ev->interrupted->time_usec));
        }
        if (s) {
                json_object_object_add(o, "slot", json_object_new_int64(s->index));
                json_add_str(o, "target", s->target);
                json_add_str(o, "port", s->port);
                json_add_str(o, "serial", s->serial);
                if (s->capacity)
                        json_object_object_add(o, "capacity", json_object_new_int64((int64_t) s->capacity));
                json_add_str(o, "pupil", s->pupil);
                json_add_str(o, "name", s->pupil_name);
                if (ev->kind == BATCH_STEP || ev->kind == BATCH_PROGRESS)
                        json_object_object_add(o, "step", json_object_new_string(flash_step_to_string(s->step)));
                if (ev->kind == BATCH_PROGRESS) {
                        json_object_object_add(o, "done", json_object_new_int64((int64_t) s->done));
                        json_object_object_add(o, "total", json_object_new_int64((int64_t) s->total));
                        json_object_object_add(o, "rate", json_object_new_double(s->rate));
                        if (s->eta >= 0)
                                json_object_object_add(o, "eta", json_object_new_double(s->eta));
                }
                if (s->report && (ev->kind == BATCH_DONE || ev->kind == BATCH_FAILED || ev->kind == BATCH_CANCELLED)) {
                        const struct flash_report *r = s->report;
                        char vol[16];
                        json_object_object_add(o, "outcome", json_object_new_string(flash_outcome_to_string(r->outcome)));
                        json_object_object_add(o, "step", json_object_new_string(flash_step_to_string(r->step)));
                        if (r->outcome == FLASH_OUTCOME_OK) {
                                snprintf(vol, sizeof(vol), "%04X-%04X", r->volume_id >> 16, r->volume_id & 0xFFFF);
                                json_add_str(o, "volume_id", vol);
                        }
                        json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t) r->bytes_written));
                        json_object_object_add(o, "bytes_read", json_object_new_int64((int64_t) r->bytes_read));
                        json_object_object_add(o, "seconds", json_object_new_double(
                                (double) (r->finished_usec - r->started_usec) / 1e6));
                }
        }
        char words[1536];
        json_add_str(o, "reason", event_reason(ev));
        json_add_str(o, "message", event_words(ev, words, sizeof(words)));
        if (ev->kind == BATCH_DONE || ev->kind == BATCH_FAILED || ev->kind == BATCH_CANCELLED)
                json_summary(o, ev->summary);
        json_print(out, o);
}

/* ---- Plain lines ---- */

static void line_event(struct batch_output *out, const struct batch_event *ev) {
        const struct batch_slot *s = ev->slot;
        char who[200] = "", p[1536], a[32], t[200], w[1536];

        switch (ev->kind) {
        case BATCH_TICK: case BATCH_PROGRESS:
                return;
        case BATCH_INTERRUPTED_BEFORE:
                fprintf(out->f, "%s: left interrupted by an earlier batch (started %" PRId64 "), recorded interrupted\n",
                        ev->interrupted->key_uid, ev->interrupted->time_usec / 1000000);
                fflush(out->f);
                return;
        default:
                break;
        }
        if (!s) {
                fprintf(out->f, "batch: %s: %s\n", batch_event_name(ev->kind), event_words(ev, p, sizeof(p)));
                fflush(out->f);
                return;
        }
        copy_safe(t, sizeof(t), s->target);
        if (s->port[0] || s->serial[0])
                snprintf(who, sizeof(who), " (port %s, serial %s)", s->port[0] ? s->port : "?",
                         s->serial[0] ? s->serial : "?");
        fprintf(out->f, "%s%s: %s", t, who, batch_event_name(ev->kind));
        switch (ev->kind) {
        case BATCH_ADDED:
                if (s->capacity)
                        fprintf(out->f, ": %s", format_size(s->capacity, a, sizeof(a)));
                break;
        case BATCH_STARTED:
                if (s->pupil)
                        fprintf(out->f, ": for %s", pupil_words(s, p, sizeof(p)));
                break;
        case BATCH_STEP:
                fprintf(out->f, ": %s", flash_step_to_string(s->step));
                break;
        case BATCH_DONE:
                fprintf(out->f, ": %s written, %s read back in %.1f s%s%s; unplug",
                        format_size(s->report->bytes_written, a, sizeof(a)),
                        format_size(s->report->bytes_read, t, sizeof(t)),
                        (double) (s->report->finished_usec - s->report->started_usec) / 1e6,
                        s->pupil ? ", issued to " : "", s->pupil ? pupil_words(s, p, sizeof(p)) : "");
                break;
        default:
                if (event_words(ev, w, sizeof(w))[0]) {
                        fputs(": ", out->f);
                        copy_safe(w, sizeof(w), w);
                        fputs(w, out->f);
                }
                break;
        }
        fputc('\n', out->f);
        fflush(out->f);
}

/* ---- The live table ---- */

static struct batch_row *row_get(struct batch_output *out, unsigned index) {
        if (index >= out->n_rows) {
                struct batch_row *a = reallocarray(out->rows, index + 1, sizeof(*a));
                if (!a)
                        return NULL;
                memset(a + out->n_rows, 0, (index + 1 - out->n_rows) * sizeof(*a));
                out->rows = a;
                out->n_rows = index + 1;
        }
        return &out->rows[index];
}

static void row_update(struct batch_output *out, const struct batch_event *ev) {
        const struct batch_slot *s = ev->slot;
        struct batch_row *row = row_get(out, s->index);
        char p[256], w[1536];

        if (!row)
                return;
        copy_safe(row->target, sizeof(row->target), s->port[0] ? s->port : s->target);
        copy_safe(row->serial, sizeof(row->serial), s->serial);
        row->capacity = s->capacity;
        copy_safe(row->pupil, sizeof(row->pupil), pupil_words(s, p, sizeof(p)));
        row->done = s->done;
        row->total = s->total;
        row->rate = s->rate;
        row->eta = s->eta;
        switch (ev->kind) {
        case BATCH_ADDED: case BATCH_STARTED:
                snprintf(row->phase, sizeof(row->phase), "%s", ev->kind == BATCH_ADDED ? "waiting" : "check");
                row->result[0] = 0;
                row->color = 0;
                row->done = row->total = 0;
                break;
        case BATCH_STEP: case BATCH_PROGRESS:
                snprintf(row->phase, sizeof(row->phase), "%s", flash_step_to_string(s->step));
                break;
        case BATCH_DONE:
                snprintf(row->phase, sizeof(row->phase), "done");
                snprintf(row->result, sizeof(row->result), "ok, unplug");
                row->color = 1;
                break;
        case BATCH_SKIPPED:
                snprintf(row->phase, sizeof(row->phase), "intact");
                snprintf(row->result, sizeof(row->result), "already flashed, unplug");
                row->color = 1;
                break;
        case BATCH_FAILED: case BATCH_CANCELLED: case BATCH_REFUSED: case BATCH_NO_PUPIL:
        case BATCH_JOURNAL_ERROR:
                snprintf(row->phase, sizeof(row->phase), "%s", batch_event_name(ev->kind));
                event_words(ev, w, sizeof(w));
                copy_safe(p, sizeof(p), w);
                snprintf(row->result, sizeof(row->result), "%s, unplug", p);
                row->color = 2;
                break;
        case BATCH_REMOVED:
                if (!s->is_running) {
                        snprintf(row->phase, sizeof(row->phase), "empty");
                        row->result[0] = 0;
                        row->color = 0;
                }
                break;
        default:
                break;
        }
        out->is_dirty = true;
}

static char *row_text(const struct batch_output *out, const struct batch_row *row) {
        char cap[32] = "", pct[8] = "", rate[16] = "", eta[16] = "", *s = NULL;
        bool is_moving = row->total > 0 && (streq(row->phase, "write") || streq(row->phase, "read-back") ||
                                            streq(row->phase, "readback"));

        if (row->capacity)
                format_size(row->capacity, cap, sizeof(cap));
        if (is_moving) {
                snprintf(pct, sizeof(pct), "%3.0f%%", 100.0 * (double) row->done / (double) row->total);
                snprintf(rate, sizeof(rate), "%.1f", row->rate / 1e6);
                if (row->eta >= 0)
                        snprintf(eta, sizeof(eta), "%.0fs", row->eta);
        }
        if (asprintf(&s, "%-14.14s %-16.16s %8s %-24.24s %-10.10s %4s %6s %5s %s%s%s", row->target, row->serial,
                     cap, row->pupil, row->phase, pct, rate, eta,
                     out->has_color && row->color ? (row->color == 1 ? "\033[32m" : "\033[31m") : "",
                     row->result, out->has_color && row->color ? "\033[0m" : "") < 0)
                return NULL;
        return s;
}

static char *summary_text(const struct batch_summary *s) {
        char *t = NULL, w[48] = "";

        if (s->n_without_key >= 0)
                snprintf(w, sizeof(w), ", %" PRId64 " pupils without a key", s->n_without_key);
        if (asprintf(&t, "%" PRIu64 " done, %" PRIu64 " failed, %" PRIu64 " interrupted, %" PRIu64 " running%s, "
                     "%.0f s, %.0f keys/hour%s", s->n_done, s->n_failed, s->n_cancelled, s->n_running, w,
                     s->elapsed, s->keys_per_hour,
                     s->stop_level == 1 ? " (stopping: Ctrl-C again cancels the keys in progress)" :
                     s->stop_level >= 2 ? " (cancelling)" : "") < 0)
                return NULL;
        return t;
}

/* Redraw only the lines that changed: move up to the first line, rewrite or skip each. */
static void table_draw(struct batch_output *out, const struct batch_summary *sum) {
        size_t n = out->n_rows + 2;
        char **lines = calloc(n, sizeof(*lines));
        size_t up = out->n_lines;

        if (!lines)
                return;
        if (asprintf(&lines[0], "%-14s %-16s %8s %-24s %-10s %4s %6s %5s %s", "PORT", "SERIAL", "SIZE", "PUPIL",
                     "PHASE", "%", "MB/s", "ETA", "RESULT") < 0)
                lines[0] = NULL;
        for (size_t i = 0; i < out->n_rows; i++)
                lines[i + 1] = row_text(out, &out->rows[i]);
        lines[n - 1] = summary_text(sum);
        if (up)
                fprintf(out->f, "\033[%zuA", up);
        for (size_t i = 0; i < n; i++) {
                const char *old = i < out->n_lines ? out->lines[i] : NULL;
                if (lines[i] && (!old || !streq(old, lines[i])))
                        fprintf(out->f, "\r\033[K%s", lines[i]);
                fputc('\n', out->f);
        }
        fflush(out->f);
        for (size_t i = 0; i < out->n_lines; i++)
                free(out->lines[i]);
        free(out->lines);
        out->lines = lines;
        out->n_lines = n;
        out->is_dirty = false;
}

static void table_event(struct batch_output *out, const struct batch_event *ev) {
        if (ev->kind == BATCH_INTERRUPTED_BEFORE) {
                fprintf(out->f, "%s: left interrupted by an earlier batch, recorded interrupted\n",
                        ev->interrupted->key_uid);
                return;
        }
        if (ev->slot)
                row_update(out, ev);
        else if (ev->kind == BATCH_JOURNAL_ERROR)
                log_error(ev->error_r, "journal: %s", ERROR_TEXT(ev->error, ev->error_r));
        if (ev->kind == BATCH_DONE || ev->kind == BATCH_FAILED || ev->kind == BATCH_CANCELLED)
                fputc('\a', out->f);     /* swap the key */
        if (ev->kind == BATCH_TICK)
                table_draw(out, ev->summary);
}

void batch_output_event(void *userdata, const struct batch_event *ev) {
        struct batch_output *out = userdata;

        switch (out->mode) {
        case BATCH_OUTPUT_JSON: json_event(out, ev); break;
        case BATCH_OUTPUT_LINES: line_event(out, ev); break;
        case BATCH_OUTPUT_TABLE: table_event(out, ev); break;
        }
}

void batch_output_summary(struct batch_output *out, const struct batch_summary *s) {
        _cleanup_free_ char *t = NULL;

        if (out->mode == BATCH_OUTPUT_JSON) {
                struct json_object *o = json_object_new_object();
                if (!o)
                        return;
                json_object_object_add(o, "event", json_object_new_string("summary"));
                json_summary(o, s);
                json_print(out, o);
                return;
        }
        if (out->mode == BATCH_OUTPUT_TABLE) {
                table_draw(out, s);
                return;
        }
        t = summary_text(s);
        if (t)
                fprintf(out->f, "summary: %s\n", t);
        fflush(out->f);
}
