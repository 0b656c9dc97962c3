/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "batch-output.h"
#include "device/device.h"
#include "common.h"
#include "flash-output.h"
#include "reason.h"

#define P_(ctx, s) i18n_pgettext(ctx "\004" s, s)

struct batch_row {
        char target[160], serial[48], pupil[64], phase[64], result[300];
        uint64_t capacity, done, total;
        double rate, eta;
        bool is_moving;                /* writing or reading back: percent, rate, ETA shown */
        int color;                     /* 0 none, 1 green, 2 red */
};

/* A batch event in words, for people: what a plain line and the table's PHASE column
 * show. --json keeps batch_event_name(). */
static const char *event_name_words(enum batch_event_kind k) {
        switch (k) {
        /* TRANSLATORS: what happened to a key in a batch (the key is the subject: "key added"),
         * shown after the key's name in plain lines ("k1.img: done: ...") and in the table. */
        case BATCH_INTERRUPTED_BEFORE: return P_("batch event", "interrupted-before");
        case BATCH_ADDED: return P_("batch event", "added");
        case BATCH_REFUSED: return P_("batch event", "refused");
        case BATCH_STARTED: return P_("batch event", "started");
        case BATCH_STEP: return P_("batch event", "step");
        case BATCH_PROGRESS: return P_("batch event", "progress");
        case BATCH_SKIPPED: return P_("batch event", "skipped");
        case BATCH_DONE: return P_("batch event", "done");
        case BATCH_FAILED: return P_("batch event", "failed");
        case BATCH_CANCELLED: return P_("batch event", "interrupted");
        case BATCH_REMOVED: return P_("batch event", "removed");
        case BATCH_NO_PUPIL: return P_("batch event", "no-pupil");
        case BATCH_JOURNAL_ERROR: return P_("batch event", "journal-error");
        case BATCH_SPOOLED_BEFORE: return P_("batch event", "recorded-from-spool");
        case BATCH_TICK: break;
        }
        return batch_event_name(k);
}


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

/* The sentence of a key cancelled at its step, in buf: pulled out or interrupted, before or
 * after its first byte was written. */
static void cancelled_words(const struct batch_slot *s, bool is_people, char *buf, size_t n) {
        const char *step = is_people ? flash_step_words(s->report->step) : flash_step_to_string(s->report->step);
        bool is_written = s->report->step >= FLASH_STEP_WRITE;

        /* TRANSLATORS: %s is the step of the flash where the key stopped ("write"). */
        if (s->is_removed && is_written)
                snprintf(buf, n, i18n_say(is_people, N_("pulled out at step %s: not usable, flash it again")), step);
        else if (s->is_removed)
                snprintf(buf, n, i18n_say(is_people, N_("pulled out at step %s: nothing was written")), step);
        else if (is_written)
                snprintf(buf, n, i18n_say(is_people, N_("interrupted at step %s: not usable, flash it again")), step);
        else
                snprintf(buf, n, i18n_say(is_people, N_("interrupted at step %s: nothing was written")), step);
}

/* A refused disk's reasons in people's words: lib/ gives "NAME (DETAIL); NAME...", one
 * piece per rule of the target policy; each is translated by its rule, as cartable devices
 * does (policy_rule_text()). A piece no rule names stays as it is. */
static void refused_words(const char *message, char *buf, size_t n) {
        const char *p = message;
        size_t len = 0;

        buf[0] = 0;
        while (p && *p) {
                const char *end = strstr(p, "; ");
                char piece[600], words[700];
                const char *text = piece;

                snprintf(piece, sizeof(piece), "%.*s", (int) (end ? (size_t) (end - p) : strlen(p)), p);
                for (unsigned i = 0; i < DEVICE_REFUSAL_MAX; i++) {
                        const char *name = device_refusal_name(1u << i);
                        size_t k = name ? strlen(name) : 0;
                        if (name && strncmp(piece, name, k) == 0 && (!piece[k] || strncmp(piece + k, " (", 2) == 0)) {
                                text = policy_rule_text(1u << i, piece, words, sizeof(words));
                                break;
                        }
                }
                len += (size_t) snprintf(buf + MIN(len, n - 1), n - MIN(len, n - 1), "%s%s", len ? "; " : "", text);
                p = end ? end + 2 : NULL;
        }
}

/* What an event says in words (the one place for batch's sentences); "" when nothing.
 * For people, translated; for --json (is_people false), English whatever the locale. */
static const char *event_words(const struct batch_event *ev, bool is_people, char *buf, size_t n) {
        const struct batch_slot *s = ev->slot;
        char e[1280];
        int r = ev->error_r ? ev->error_r : -EIO;

        buf[0] = 0;
        switch (ev->kind) {
        case BATCH_REFUSED:
                if (is_people && s)
                        refused_words(s->message, buf, n);
                else
                        snprintf(buf, n, "%s", s ? s->message : "");
                break;
        case BATCH_FAILED:
        case BATCH_JOURNAL_ERROR:
                if (is_people)
                        error_sentence(ev->error, r, e, sizeof(e));
                else
                        error_sentence_untranslated(ev->error, r, e, sizeof(e));
                if (ev->kind == BATCH_FAILED)
                        snprintf(buf, n, "%s", e);
                else
                        /* TRANSLATORS: %s says why the journal refused a record. */
                        snprintf(buf, n, i18n_say(is_people, N_("journal: %s")), e);
                break;
        case BATCH_CANCELLED:
                if (s && s->report)
                        cancelled_words(s, is_people, buf, n);
                else
                        snprintf(buf, n, "%s", i18n_say(is_people, N_("stopped before it was written")));
                break;
        case BATCH_SKIPPED:
                snprintf(buf, n, "%s", i18n_say(is_people, N_("already holds this release intact: left alone "
                                                          "(--force to flash it)")));
                break;
        case BATCH_NO_PUPIL:
                snprintf(buf, n, "%s", i18n_say(is_people, N_("every pupil of the class has a key: not touched")));
                break;
        default:
                break;
        }
        return buf;
}

/* The reason code --json gives for a key that did not end well. */
static const char *event_reason(const struct batch_event *ev) {
        enum cart_reason r = CART_REASON_NONE;

        if (ev->kind == BATCH_FAILED && ev->slot && ev->slot->report)
                r = station_report_reason(ev->slot->report, false);
        if (ev->kind == BATCH_CANCELLED && ev->slot && ev->slot->report)
                r = station_report_reason(ev->slot->report, ev->slot->is_removed);
        if (r != CART_REASON_NONE)
                return cart_reason_to_string(r);
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
                json_object_object_add(o, ev->kind == BATCH_SPOOLED_BEFORE ? "ended_usec" : "started_usec",
                                       json_object_new_int64(ev->interrupted->time_usec));
        }
        json_add_str(o, "file", ev->spool_path);
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
                        json_object_object_add(o, "erase", flash_erase_json(r));
                        json_object_object_add(o, "seconds", json_object_new_double(
                                (double) (r->finished_usec - r->started_usec) / 1e6));
                }
        }
        char words[1536];
        json_add_str(o, "reason", event_reason(ev));
        json_add_str(o, "message", event_words(ev, false, words, sizeof(words)));
        if (ev->kind == BATCH_DONE || ev->kind == BATCH_FAILED || ev->kind == BATCH_CANCELLED)
                json_summary(o, ev->summary);
        json_print(out, o);
}

/* ---- Plain lines ---- */

/* The "done" line: sizes and time in the locale's words, and the pupil when there is one. */
static void line_done(struct batch_output *out, const struct batch_slot *s, const char *who) {
        const struct flash_report *r = s->report;
        const char *secs = HUMAN_DECIMAL((double) (r->finished_usec - r->started_usec) / 1e6);
        char p[256];

        if (s->pupil)
                /* TRANSLATORS: the key, bytes written, bytes read back, seconds ("2.5"), the pupil. */
                fprintf(out->f, _("%s: done: %s written, %s read back in %s s, issued to %s; unplug"), who,
                        HUMAN_SIZE(r->bytes_written), HUMAN_SIZE(r->bytes_read), secs, pupil_words(s, p, sizeof(p)));
        else
                /* TRANSLATORS: the key, bytes written, bytes read back, seconds ("2.5"). */
                fprintf(out->f, _("%s: done: %s written, %s read back in %s s; unplug"), who,
                        HUMAN_SIZE(r->bytes_written), HUMAN_SIZE(r->bytes_read), secs);
        if (r->is_erased)
                /* TRANSLATORS: after a done line: bytes of zeros written over what the key held, seconds. */
                fprintf(out->f, _(" (erased first: %s of zeros in %s s)"), HUMAN_SIZE(r->erase_bytes),
                        HUMAN_DECIMAL(r->erase_seconds));
}

static void line_event(struct batch_output *out, const struct batch_event *ev) {
        const struct batch_slot *s = ev->slot;
        char who[400], p[1536], t[200], w[1536];

        switch (ev->kind) {
        case BATCH_TICK: case BATCH_PROGRESS:
                return;
        case BATCH_INTERRUPTED_BEFORE:
                /* TRANSLATORS: a key's journal uid, the time its flash started (seconds since 1970). */
                fprintf(out->f, _("%s: left interrupted by an earlier batch (started %" PRId64 "), recorded "
                                  "interrupted\n"), ev->interrupted->key_uid, ev->interrupted->time_usec / 1000000);
                fflush(out->f);
                return;
        case BATCH_SPOOLED_BEFORE:
                /* TRANSLATORS: a key's journal uid, the file it was kept in while the journal server was away. */
                fprintf(out->f, _("%s: its end, kept locally in %s by an earlier batch, is recorded\n"),
                        ev->interrupted->key_uid, ev->spool_path);
                fflush(out->f);
                return;
        default:
                break;
        }
        if (!s) {
                /* TRANSLATORS: what happened ("journal-error"), then why. */
                fprintf(out->f, _("batch: %s: %s\n"), event_name_words(ev->kind), event_words(ev, true, p, sizeof(p)));
                fflush(out->f);
                return;
        }
        copy_safe(t, sizeof(t), s->target);
        if (s->port[0] || s->serial[0])
                /* TRANSLATORS: a key in a batch: its target, USB port path and serial ("?" unknown). */
                snprintf(who, sizeof(who), _("%s (port %s, serial %s)"), t, s->port[0] ? s->port : "?",
                         s->serial[0] ? s->serial : "?");
        else
                snprintf(who, sizeof(who), "%s", t);
        switch (ev->kind) {
        case BATCH_ADDED:
                if (s->capacity)
                        /* TRANSLATORS: a key arrived: the key, its capacity ("7.5 GiB"). */
                        fprintf(out->f, _("%s: added: %s"), who, HUMAN_SIZE(s->capacity));
                else
                        fprintf(out->f, _("%s: added"), who);
                break;
        case BATCH_STARTED:
                if (s->pupil)
                        /* TRANSLATORS: a key starts: the key, the pupil it is for (names and UAI/ID). */
                        fprintf(out->f, _("%s: started: for %s"), who, pupil_words(s, p, sizeof(p)));
                else
                        fprintf(out->f, _("%s: started"), who);
                break;
        case BATCH_STEP:
                /* TRANSLATORS: the key, the step of the flash it entered ("write"). */
                fprintf(out->f, _("%s: step: %s"), who, flash_step_words(s->step));
                break;
        case BATCH_DONE:
                line_done(out, s, who);
                break;
        default:
                if (event_words(ev, true, w, sizeof(w))[0]) {
                        copy_safe(w, sizeof(w), w);
                        /* TRANSLATORS: the key, what happened to it ("failed"), why. */
                        fprintf(out->f, _("%s: %s: %s"), who, event_name_words(ev->kind), w);
                } else
                        /* TRANSLATORS: the key, what happened to it ("removed"). */
                        fprintf(out->f, _("%s: %s"), who, event_name_words(ev->kind));
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
        row->is_moving = false;
        switch (ev->kind) {
        case BATCH_ADDED: case BATCH_STARTED:
                /* TRANSLATORS: the PHASE of a key that waits for a worker (the table's column is
                 * 10 characters wide). */
                snprintf(row->phase, sizeof(row->phase), "%s", ev->kind == BATCH_ADDED ? _("waiting") :
                         flash_step_words(FLASH_STEP_CHECK));
                row->result[0] = 0;
                row->color = 0;
                row->done = row->total = 0;
                break;
        case BATCH_STEP: case BATCH_PROGRESS:
                snprintf(row->phase, sizeof(row->phase), "%s", flash_step_words(s->step));
                row->is_moving = s->step == FLASH_STEP_WRITE || s->step == FLASH_STEP_READBACK ||
                                 s->step == FLASH_STEP_ERASE;
                break;
        case BATCH_DONE:
                snprintf(row->phase, sizeof(row->phase), "%s", event_name_words(ev->kind));
                /* TRANSLATORS: the RESULT of a good key in the table: take it out of the hub. */
                snprintf(row->result, sizeof(row->result), "%s", _("ok, unplug"));
                row->color = 1;
                break;
        case BATCH_SKIPPED:
                /* TRANSLATORS: the PHASE of a key that already holds the release intact. */
                snprintf(row->phase, sizeof(row->phase), "%s", _("intact"));
                snprintf(row->result, sizeof(row->result), "%s", _("already flashed, unplug"));
                row->color = 1;
                break;
        case BATCH_FAILED: case BATCH_CANCELLED: case BATCH_REFUSED: case BATCH_NO_PUPIL:
        case BATCH_JOURNAL_ERROR:
                snprintf(row->phase, sizeof(row->phase), "%s", event_name_words(ev->kind));
                event_words(ev, true, w, sizeof(w));
                copy_safe(p, sizeof(p), w);
                /* TRANSLATORS: the RESULT of a key that did not end well: why, then take it out. */
                snprintf(row->result, sizeof(row->result), _("%s, unplug"), p);
                row->color = 2;
                break;
        case BATCH_REMOVED:
                if (!s->is_running) {
                        /* TRANSLATORS: the PHASE of a port whose key was pulled out. */
                        snprintf(row->phase, sizeof(row->phase), "%s", _("empty"));
                        row->result[0] = 0;
                        row->color = 0;
                }
                break;
        default:
                break;
        }
        out->is_dirty = true;
}

/* s in a column of width characters (not bytes: French headers and pupils' names are
 * UTF-8), cut or padded with spaces on the right (or on the left when is_right). */
static void put_cell(FILE *f, const char *s, int width, bool is_right) {
        mbstate_t st = {};
        const char *p = s;
        int w = 0;

        while (*p && w < width) {
                wchar_t wc;
                size_t k = mbrtowc(&wc, p, MB_CUR_MAX, &st);
                if (k == 0 || k == (size_t) -1 || k == (size_t) -2)
                        k = 1;
                int cw = k == 1 && (unsigned char) *p < 0x80 ? 1 : wcwidth(wc);
                if (cw < 0)
                        cw = 1;
                if (w + cw > width)
                        break;
                w += cw;
                p += k;
        }
        if (is_right)
                fprintf(f, "%*s", width - w, "");
        fwrite(s, 1, (size_t) (p - s), f);
        if (!is_right)
                fprintf(f, "%*s", width - w, "");
        fputc(' ', f);
}

/* One line of the table: the cells, then the result (coloured), ended without a newline. */
static char *table_line(const struct batch_output *out, const char *const cells[8], const char *result, int color) {
        static const int width[8] = { 14, 16, 8, 24, 10, 4, 6, 5 };
        static const bool is_right[8] = { false, false, true, false, false, true, true, true };
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < 8; i++)
                put_cell(f, cells[i], width[i], is_right[i]);
        fprintf(f, "%s%s%s", out->has_color && color ? (color == 1 ? "\033[32m" : "\033[31m") : "", result,
                out->has_color && color ? "\033[0m" : "");
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static char *row_text(const struct batch_output *out, const struct batch_row *row) {
        char cap[48] = "", pct[8] = "", rate[48] = "", eta[16] = "";
        bool is_moving = row->is_moving && row->total > 0;

        if (row->capacity)
                human_size(row->capacity, cap, sizeof(cap));
        if (is_moving) {
                snprintf(pct, sizeof(pct), "%3.0f%%", 100.0 * (double) row->done / (double) row->total);
                human_decimal(row->rate / 1e6, rate, sizeof(rate));
                if (row->eta >= 0)
                        /* TRANSLATORS: seconds left, in the table's ETA column (5 characters wide). */
                        snprintf(eta, sizeof(eta), _("%.0fs"), row->eta);
        }
        return table_line(out, (const char *const[8]) { row->target, row->serial, cap, row->pupil, row->phase, pct,
                                                         rate, eta }, row->result, row->color);
}

/* The summary's counters, one item each (a list, each with its plural), then time and rate. */
static char *summary_text(const struct batch_summary *s) {
        char items[5][96], *t = NULL;

        /* TRANSLATORS: counters of a batch's summary line, of keys. */
        snprintf(items[0], sizeof(items[0]), ngettext("%" PRIu64 " done", "%" PRIu64 " done", s->n_done), s->n_done);
        snprintf(items[1], sizeof(items[1]), ngettext("%" PRIu64 " failed", "%" PRIu64 " failed", s->n_failed),
                 s->n_failed);
        snprintf(items[2], sizeof(items[2]), ngettext("%" PRIu64 " interrupted", "%" PRIu64 " interrupted",
                                                      s->n_cancelled), s->n_cancelled);
        snprintf(items[3], sizeof(items[3]), ngettext("%" PRIu64 " running", "%" PRIu64 " running", s->n_running),
                 s->n_running);
        items[4][0] = 0;
        if (s->n_without_key >= 0)
                /* TRANSLATORS: pupils of the class who hold no key yet (roster mode), after a comma. */
                snprintf(items[4], sizeof(items[4]), ngettext(", %" PRId64 " pupil without a key",
                                                              ", %" PRId64 " pupils without a key",
                                                              (unsigned long) s->n_without_key), s->n_without_key);
        /* TRANSLATORS: a batch's summary: done, failed, interrupted and running keys, the pupils
         * without a key (", 3 pupils without a key" or nothing), seconds since the start, keys
         * done per hour, and the state of a stopping batch (" (stopping: ...)" or nothing). */
        if (asprintf(&t, _("%s, %s, %s, %s%s, %.0f s, %.0f keys/hour%s"), items[0], items[1], items[2], items[3],
                     items[4], s->elapsed, s->keys_per_hour,
                     s->stop_level == 1 ? _(" (stopping: Ctrl-C again cancels the keys in progress)") :
                     s->stop_level >= 2 ? _(" (cancelling)") : "") < 0)
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
        /* TRANSLATORS: the batch table's column headers, in capitals; each column is as wide
         * as the number in its comment: PORT 14, SERIAL 16, SIZE 8, PUPIL 24, PHASE 10, MB/s 6,
         * ETA 5 (a longer header is cut). */
        lines[0] = table_line(out, (const char *const[8]) { _("PORT"), _("SERIAL"), _("SIZE"), _("PUPIL"),
                                                            _("PHASE"), "%", _("MB/s"), _("ETA") }, _("RESULT"), 0);
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
                fprintf(out->f, _("%s: left interrupted by an earlier batch, recorded interrupted\n"),
                        ev->interrupted->key_uid);
                return;
        }
        if (ev->kind == BATCH_SPOOLED_BEFORE) {
                fprintf(out->f, _("%s: its end, kept locally in %s by an earlier batch, is recorded\n"),
                        ev->interrupted->key_uid, ev->spool_path);
                return;
        }
        if (ev->slot)
                row_update(out, ev);
        else if (ev->kind == BATCH_JOURNAL_ERROR)
                log_error(ev->error_r, _("journal: %s"), ERROR_TEXT(ev->error, ev->error_r));
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
                /* TRANSLATORS: the last line of a batch without a terminal. */
                fprintf(out->f, _("summary: %s\n"), t);
        fflush(out->f);
}
