/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "batch-output.h"
#include "flash/update.h"
#include "device/device.h"
#include "common.h"
#include "flash-output.h"
#include "reason.h"

#define P_(ctx, s) i18n_pgettext(ctx "\004" s, s)

struct batch_row {
        char target[160], serial[48], pupil[200], phase[64], result[300];
        uint64_t capacity, done, total;
        double rate, eta;
        bool is_moving;                /* writing or reading back: percent, rate, ETA shown */
        bool is_present;               /* a key is in the port (not pulled out) */
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
        case BATCH_NOT_UPDATABLE: return P_("batch event", "not-updatable");
        case BATCH_TICK: break;
        }
        return batch_event_name(k);
}


void batch_output_done(struct batch_output *out) {
        for (size_t i = 0; i < out->n_lines; i++)
                free(out->lines[i]);
        free(out->lines);
        free(out->rows);
        free(out->header);
        out->header = NULL;
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

/* What an event says in words (the one place for batch's sentences); "" when nothing.
 * For people, translated; for --json (is_people false), English whatever the locale. */
static const char *event_words(const struct batch_event *ev, bool is_people, char *buf, size_t n) {
        const struct batch_slot *s = ev->slot;
        char e[1280];
        int r = ev->error_r ? ev->error_r : -EIO;

        buf[0] = 0;
        switch (ev->kind) {
        case BATCH_REFUSED:
                /* For people, what lib/device found in words; lib/'s English for --json. */
                if (is_people && s && s->findings)
                        policy_words(s->refusals, s->findings, buf, n);
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
                if (s && s->is_in_place)
                        snprintf(buf, n, "%s", i18n_say(is_people, N_("already holds this release intact: left "
                                                                  "alone")));
                else
                        snprintf(buf, n, "%s", i18n_say(is_people, N_("already holds this release intact: left "
                                                                  "alone (--force to flash it)")));
                break;
        case BATCH_NO_PUPIL:
                snprintf(buf, n, "%s", i18n_say(is_people, N_("every pupil of the class has a key: not touched")));
                break;
        case BATCH_NOT_UPDATABLE:
                if (is_people)
                        error_sentence(ev->error, r, e, sizeof(e));
                else
                        error_sentence_untranslated(ev->error, r, e, sizeof(e));
                if (s && s->is_flashed_instead)
                        /* TRANSLATORS: %s says why the key cannot be updated in place. */
                        snprintf(buf, n, i18n_say(is_people, N_("%s: flashed instead (--flash-if-needed), "
                                                                "the pupil's files erased")), e);
                else
                        /* TRANSLATORS: %s says why the key cannot be updated in place. */
                        snprintf(buf, n, i18n_say(is_people, N_("%s: left alone, nothing written "
                                                                "(--flash-if-needed flashes it, erasing the "
                                                                "pupil's files)")), e);
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
        if (ev->kind == BATCH_JOURNAL_ERROR || ev->kind == BATCH_NOT_UPDATABLE)
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
        if (s->n_not_updatable)
                json_object_object_add(o, "not_updatable", json_object_new_int64((int64_t) s->n_not_updatable));
        json_object_object_add(o, "elapsed", json_object_new_double(s->elapsed));
        json_object_object_add(o, "keys_per_hour", json_object_new_double(s->keys_per_hour));
}

static void json_print(struct batch_output *out, struct json_object *o) {
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), out->f);
        fputc('\n', out->f);
        fflush(out->f);
        json_object_put(o);
}

/* What an update in place did (--update, --repair), and the pupil's files it moved. */
static struct json_object *update_json(const struct update_report *u) {
        struct json_object *o = json_object_new_object(), *moved = json_object_new_array();

        json_object_object_add(o, "kind", json_object_new_string(u->is_repair ? "repair" : "update"));
        json_add_str(o, "release", u->release_name);
        json_add_str(o, "from_version", u->from_version);
        json_add_str(o, "to_version", u->to_version);
        json_object_object_add(o, "from_serial", json_object_new_int64((int64_t) u->from_serial));
        json_object_object_add(o, "to_serial", json_object_new_int64((int64_t) u->to_serial));
        json_object_object_add(o, "written", json_object_new_int64((int64_t) u->n_put));
        json_object_object_add(o, "restored", json_object_new_int64((int64_t) u->n_restored));
        json_object_object_add(o, "removed", json_object_new_int64((int64_t) u->n_removed));
        json_object_object_add(o, "moved", json_object_new_int64((int64_t) u->n_rescued));
        json_object_object_add(o, "resumed", json_object_new_boolean(u->is_resumed));
        for (size_t i = 0; i < u->n_actions; i++)
                if (u->actions[i].kind == UPDATE_RESCUE) {
                        struct json_object *m = json_object_new_object();
                        json_add_str(m, "path", u->actions[i].path);
                        json_add_str(m, "to", u->actions[i].to);
                        json_object_array_add(moved, m);
                }
        json_object_object_add(o, "moved_files", moved);
        return o;
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
                /* When it happened: a step when its worker entered it, any other event now. */
                json_object_object_add(o, "at", json_object_new_double(ev->kind == BATCH_STEP ? s->step_at :
                                                                        ev->summary->elapsed));
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
                        if (!s->update)
                                json_object_object_add(o, "erase", flash_erase_json(r));
                        json_object_object_add(o, "seconds", json_object_new_double(
                                (double) (r->finished_usec - r->started_usec) / 1e6));
                }
                if (s->update && ev->kind == BATCH_DONE)
                        json_object_object_add(o, "update", update_json(s->update));
                if (s->is_flashed_instead)
                        json_object_object_add(o, "flashed_instead", json_object_new_boolean(true));
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

/* The "done" line of a key updated or repaired in place, then the pupil's files it moved. */
static void line_updated(struct batch_output *out, const struct batch_slot *s, const char *who) {
        const struct flash_report *r = s->report;
        const struct update_report *u = s->update;
        const char *secs = HUMAN_DECIMAL((double) (r->finished_usec - r->started_usec) / 1e6);
        char from[64], to[64];

        copy_safe(from, sizeof(from), u->from_version);
        copy_safe(to, sizeof(to), u->to_version);
        if (u->is_repair)
                /* TRANSLATORS: the key, the release's version, files written again, bytes written,
                 * bytes read back, seconds ("2.5"). */
                fprintf(out->f, _("%s: repaired: %s, %zu files restored, %s written, %s read back in %s s, "
                                  "verified intact; unplug"), who, to, u->n_restored, HUMAN_SIZE(r->bytes_written),
                        HUMAN_SIZE(r->bytes_read), secs);
        else
                /* TRANSLATORS: the key, the version it held, the version it holds now, files
                 * written, removed, bytes written, bytes read back, seconds ("2.5"). */
                fprintf(out->f, _("%s: updated: %s -> %s, %zu files written, %zu removed, %s written, %s read "
                                  "back in %s s, verified intact; unplug"), who, from, to, u->n_put, u->n_removed,
                        HUMAN_SIZE(r->bytes_written), HUMAN_SIZE(r->bytes_read), secs);
        for (size_t i = 0; i < u->n_actions; i++)
                if (u->actions[i].kind == UPDATE_RESCUE) {
                        char a[512], b[512];
                        copy_safe(a, sizeof(a), u->actions[i].path);
                        copy_safe(b, sizeof(b), u->actions[i].to);
                        /* TRANSLATORS: after an update's line: a pupil's file in the release's way, where it went. */
                        fprintf(out->f, _("\n%s: moved the pupil's /%s to /%s"), who, a, b);
                }
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
                if (s->update)
                        line_updated(out, s, who);
                else
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
        if (s->family_name)
                /* TRANSLATORS: a pupil in the batch table: family name, first name, class. */
                snprintf(p, sizeof(p), _("%s %s (%s)"), s->family_name, s->first_name ? s->first_name : "",
                         s->class_name ? s->class_name : "?");
        else
                pupil_words(s, p, sizeof(p));
        copy_safe(row->pupil, sizeof(row->pupil), s->pupil ? p : "");
        row->done = s->done;
        row->total = s->total;
        row->rate = s->rate;
        row->eta = s->eta;
        row->is_moving = false;
        row->is_present = true;
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
                snprintf(row->result, sizeof(row->result), "%s", s->update ?
                         /* TRANSLATORS: the RESULT of a key updated or repaired in place. */
                         (s->update->is_repair ? _("repaired, unplug") : _("updated, unplug")) : _("ok, unplug"));
                row->color = 1;
                break;
        case BATCH_SKIPPED:
                /* TRANSLATORS: the PHASE of a key that already holds the release intact. */
                snprintf(row->phase, sizeof(row->phase), "%s", _("intact"));
                snprintf(row->result, sizeof(row->result), "%s", _("already flashed, unplug"));
                row->color = 1;
                break;
        case BATCH_NOT_UPDATABLE: case BATCH_FAILED: case BATCH_CANCELLED: case BATCH_REFUSED: case BATCH_NO_PUPIL:
        case BATCH_JOURNAL_ERROR:
                if (ev->kind == BATCH_NOT_UPDATABLE && s->is_flashed_instead)
                        break;      /* its flash follows, in this row */
                snprintf(row->phase, sizeof(row->phase), "%s", event_name_words(ev->kind));
                event_words(ev, true, w, sizeof(w));
                copy_safe(p, sizeof(p), w);
                /* TRANSLATORS: the RESULT of a key that did not end well: why, then take it out. */
                snprintf(row->result, sizeof(row->result), _("%s, unplug"), p);
                row->color = 2;
                break;
        case BATCH_REMOVED:
                if (!s->is_running) {
                        row->is_present = false;
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

/* ---- Fitting the terminal ---- */

/* Display columns of the first bytes of s (UTF-8 under a UTF-8 locale), at most width:
 * returns the bytes that fit, *ret_w their columns. Escape sequences are not counted. */
static size_t fit_bytes(const char *s, int width, int *ret_w) {
        mbstate_t st = {};
        const char *p = s;
        int w = 0;

        while (*p) {
                wchar_t wc;
                size_t k;
                int cw;

                if (*p == '\033') {           /* a colour: ESC [ ... m, no width */
                        const char *m = strchr(p, 'm');
                        p = m ? m + 1 : p + strlen(p);
                        continue;
                }
                k = mbrtowc(&wc, p, MB_CUR_MAX, &st);
                if (k == 0 || k == (size_t) -1 || k == (size_t) -2) {
                        k = 1;
                        memset(&st, 0, sizeof(st));
                }
                cw = k == 1 && (unsigned char) *p < 0x80 ? 1 : wcwidth(wc);
                if (cw < 0)
                        cw = 1;
                if (w + cw > width)
                        break;
                w += cw;
                p += k;
        }
        *ret_w = w;
        return (size_t) (p - s);
}

static int text_width(const char *s) {
        int w;
        fit_bytes(s, INT_MAX, &w);
        return w;
}

/* The mark of a cut: an ellipsis where the terminal shows one, else "~". */
static const char *ellipsis(void) {
        return MB_CUR_MAX > 1 ? "\u2026" : "~";
}

/* s in a column of width characters (not bytes: French headers and pupils' names are
 * UTF-8): padded with spaces on the right (on the left when is_right), or cut with an
 * ellipsis at its end, or at its start when is_tail (a path: its end tells two apart). */
static void put_cell(FILE *f, const char *s, int width, bool is_right, bool is_tail) {
        int w, w2;
        size_t n;

        if (width <= 0)
                return;
        n = fit_bytes(s, width, &w);
        if (s[n]) {                    /* too long: cut, and say so */
                if (is_tail) {
                        const char *p = s + strlen(s);
                        int tw = 0;
                        /* the longest tail of width - 1 columns, on a character boundary */
                        for (const char *q = s; *q; q++) {
                                if (((unsigned char) *q & 0xC0) == 0x80)
                                        continue;
                                if (text_width(q) <= width - 1) {
                                        p = q;
                                        break;
                                }
                        }
                        tw = text_width(p);
                        fputs(ellipsis(), f);
                        fputs(p, f);
                        fprintf(f, "%*s", width - 1 - tw, "");
                } else {
                        n = fit_bytes(s, width - 1, &w2);
                        fwrite(s, 1, n, f);
                        fputs(ellipsis(), f);
                        fprintf(f, "%*s", width - 1 - w2, "");
                }
                fputc(' ', f);
                return;
        }
        if (is_right)
                fprintf(f, "%*s", width - w, "");
        fwrite(s, 1, n, f);
        if (!is_right)
                fprintf(f, "%*s", width - w, "");
        fputc(' ', f);
}

/* The columns, in the order shown; each has its natural width, the narrowest it may be
 * made, and a rank: when the terminal is too narrow, SERIAL, MB/s and SIZE go first, then
 * PUPIL and PORT are made narrower, then ETA, %, PHASE go. RESULT takes what is left. */
enum { COL_PORT, COL_SERIAL, COL_SIZE, COL_PUPIL, COL_PHASE, COL_PCT, COL_RATE, COL_ETA, N_COLS };
#define RESULT_MIN 16
#define PUPIL_MAX 40
#define PHASE_MAX 12
static const struct column {
        int natural, min, rank;
        bool is_right, is_tail;
} columns[N_COLS] = {
        [COL_PORT] = { 14, 8, 0, false, true },
        [COL_SERIAL] = { 16, 16, 7, false, true },
        [COL_SIZE] = { 9, 9, 5, true, false },
        [COL_PUPIL] = { 26, 14, 1, false, false },
        [COL_PHASE] = { 10, 10, 2, false, false },
        [COL_PCT] = { 4, 4, 3, true, false },
        [COL_RATE] = { 6, 6, 6, true, false },
        [COL_ETA] = { 5, 5, 4, true, false },
};

/* The terminal's width (columns), 80 when it cannot say. */
static int terminal_columns(FILE *f) {
        struct winsize ws;
        if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

static volatile sig_atomic_t is_resized;

static void on_winch(int sig) {
        (void) sig;
        is_resized = 1;
}

static int layout_need(const int w[N_COLS]) {
        int need = RESULT_MIN;
        for (int i = 0; i < N_COLS; i++)
                need += w[i] ? w[i] + 1 : 0;
        return need;
}

static void drop_ranks(int w[N_COLS], int from, int to, int avail) {
        for (int rank = from; rank >= to; rank--)
                for (int i = 0; i < N_COLS; i++)
                        if (columns[i].rank == rank && layout_need(w) > avail)
                                w[i] = 0;
}

/* The width of each column for a terminal of cols columns (0: not shown). A line is at
 * most cols - 1 wide, so that no terminal wraps it, whatever it does at the last column. */
static void layout(struct batch_output *out, int cols) {
        static const int shrink_order[] = { COL_PUPIL, COL_PORT };
        int *w = out->width, avail = cols - 1, need;

        for (int i = 0; i < N_COLS; i++)
                w[i] = columns[i].natural;
        w[COL_PHASE] = MIN(MAX(w[COL_PHASE], out->phase_width), PHASE_MAX);
        drop_ranks(w, 7, 5, avail);
        for (size_t k = 0; k < ELEMENTSOF(shrink_order); k++) {
                int i = shrink_order[k], cut = MIN(w[i] - columns[i].min, layout_need(w) - avail);
                if (cut > 0)
                        w[i] -= cut;
        }
        drop_ranks(w, 4, 1, avail);    /* then the line is cut at its end (fit_line) */
        need = layout_need(w);
        /* A wide terminal: the pupil's names in full, up to PUPIL_MAX. */
        if (w[COL_PUPIL] && need < avail)
                w[COL_PUPIL] += MIN(avail - need, PUPIL_MAX - w[COL_PUPIL]);
        out->cols = cols;
}

/* line cut to the terminal's width (cols - 1), its colour closed: never wrapped. */
static char *fit_line(const struct batch_output *out, char *line) {
        int w;
        size_t n;

        if (!line)
                return NULL;
        n = fit_bytes(line, out->cols - 1, &w);
        if (line[n]) {
                bool has_color = strchr(line, '\033') != NULL;
                size_t k = fit_bytes(line, out->cols - 2, &w);
                char *t = NULL;
                if (asprintf(&t, "%.*s%s%s", (int) k, line, ellipsis(), has_color ? "\033[0m" : "") < 0)
                        t = NULL;
                free(line);
                return t;
        }
        return line;
}

/* One line of the table: the cells shown, then the result (coloured), without a newline. */
static char *table_line(const struct batch_output *out, const char *const cells[N_COLS], const char *result, int color) {
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);
        int used = 0;

        if (!f)
                return NULL;
        for (size_t i = 0; i < N_COLS; i++)
                if (out->width[i]) {
                        put_cell(f, cells[i], out->width[i], columns[i].is_right, columns[i].is_tail);
                        used += out->width[i] + 1;
                }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        /* The result in what is left, cut with an ellipsis, coloured; no padding after it. */
        while (len > 0 && s[len - 1] == ' ')
                s[--len] = 0;
        int room = out->cols - 1 - used, w;
        size_t n = fit_bytes(result, room, &w);
        bool is_cut = result[n] != 0;
        char *t = NULL;
        if (is_cut)
                n = fit_bytes(result, room - 1, &w);
        if (asprintf(&t, "%s%*s%s%.*s%s%s", s, used > 0 && *result ? (int) (used - (int) text_width(s)) : 0, "",
                     out->has_color && color ? (color == 1 ? "\033[32m" : "\033[31m") : "", (int) n, result,
                     is_cut ? ellipsis() : "", out->has_color && color ? "\033[0m" : "") < 0)
                t = NULL;
        free(s);
        return fit_line(out, t);
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
        return table_line(out, (const char *const[N_COLS]) { row->target, row->serial, cap, row->pupil, row->phase,
                                                              pct, rate, eta }, row->result, row->color);
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
        else if (s->n_not_updatable)
                /* TRANSLATORS: --update: keys left alone, after a comma. */
                snprintf(items[4], sizeof(items[4]), ngettext(", %" PRIu64 " not updatable in place",
                                                              ", %" PRIu64 " not updatable in place",
                                                              s->n_not_updatable), s->n_not_updatable);
        /* A rate over less than a minute, or over no key, means nothing: it is left out. */
        char rate[96] = "", secs[48];
        human_decimal(s->elapsed, secs, sizeof(secs));
        if (s->elapsed >= 60 && s->n_done > 0)
                /* TRANSLATORS: keys done per hour, after a comma (batches of a minute or more). */
                snprintf(rate, sizeof(rate), _(", %.0f keys/hour"), s->keys_per_hour);
        /* TRANSLATORS: a batch's summary: done, failed, interrupted and running keys, the pupils
         * without a key (", 3 pupils without a key" or nothing), seconds since the start ("2.5"),
         * keys done per hour (", 410 keys/hour" or nothing), and the state of a stopping batch
         * (" (stopping: ...)" or nothing). */
        if (asprintf(&t, _("%s, %s, %s, %s%s, %s s%s%s"), items[0], items[1], items[2], items[3], items[4], secs, rate,
                     s->stop_level == 1 ? _(" (stopping: Ctrl-C again cancels the keys in progress)") :
                     s->stop_level >= 2 ? _(" (cancelling)") : "") < 0)
                return NULL;
        return t;
}

/* What no key shows: the batch waits for keys (and says why it may wait in vain). */
static char *waiting_line(const struct batch_output *out, const struct batch_summary *sum) {
        char *t = NULL;

        for (size_t i = 0; i < out->n_rows; i++)
                if (out->rows[i].is_present)
                        return NULL;
        if (sum->stop_level)
                return NULL;
        if (asprintf(&t, "%s", out->is_udev_missing ?
                     /* TRANSLATORS: the batch table while no key is plugged in, udevd not running. */
                     _("waiting for keys, but udevd is not running: keys plugged in are not seen (cartable doctor)") :
                     /* TRANSLATORS: the batch table while no key is plugged in. */
                     _("waiting for keys: plug them into the hub (Ctrl-C to stop)")) < 0)
                return NULL;
        return fit_line(out, t);
}

/* Redraw only the lines that changed: move up to the first line, rewrite or skip each. A
 * terminal resized since the last draw gets the table anew below the old one (a terminal
 * may have re-wrapped what it showed, so moving up would land elsewhere). */
static void table_draw(struct batch_output *out, const struct batch_summary *sum) {
        size_t n = out->n_rows + 4, k = 0;
        char **lines = calloc(n, sizeof(*lines));
        size_t up = out->n_lines;

        if (!lines)
                return;
        if (is_resized || !out->cols) {
                int cols = terminal_columns(out->f);
                is_resized = 0;
                if (cols != out->cols) {
                        if (out->cols)
                                up = 0;
                        for (size_t i = 0; i < out->n_lines; i++)
                                free(out->lines[i]);
                        out->n_lines = 0;
                        layout(out, cols);
                }
        }
        if (out->header && (lines[k] = strdup(out->header)))
                lines[k] = fit_line(out, lines[k]);
        k++;
        /* TRANSLATORS: the batch table's column headers, in capitals: PORT, SERIAL, SIZE, PUPIL,
         * PHASE, MB/s, ETA, RESULT (a header longer than its column is cut with an ellipsis). */
        lines[k++] = table_line(out, (const char *const[N_COLS]) { _("PORT"), _("SERIAL"), _("SIZE"), _("PUPIL"),
                                                                   _("PHASE"), "%", _("MB/s"), _("ETA") },
                                _("RESULT"), 0);
        for (size_t i = 0; i < out->n_rows; i++)
                lines[k++] = row_text(out, &out->rows[i]);
        lines[k] = summary_text(sum);
        lines[k] = fit_line(out, lines[k]);
        k++;
        lines[k] = waiting_line(out, sum);
        if (lines[k])
                k++;
        if (up)
                fprintf(out->f, "\033[%zuA", up);
        for (size_t i = 0; i < MAX(k, out->n_lines); i++) {
                const char *old = i < out->n_lines ? out->lines[i] : NULL;
                if (i >= k)
                        fputs("\r\033[K", out->f);      /* a line no longer shown */
                else if (lines[i] && (!old || !streq(old, lines[i])))
                        fprintf(out->f, "\r\033[K%s", lines[i]);
                fputc('\n', out->f);
        }
        /* Lines cleared at the bottom stay below: the cursor goes back to the table's end. */
        if (out->n_lines > k)
                fprintf(out->f, "\033[%zuA", out->n_lines - k);
        fflush(out->f);
        for (size_t i = 0; i < out->n_lines; i++)
                free(out->lines[i]);
        free(out->lines);
        out->lines = lines;
        out->n_lines = k;
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

void batch_output_init(struct batch_output *out, bool is_json, FILE *f, const char *release) {
        const char *term = getenv("TERM");
        bool is_tty = isatty(fileno(f)) && !(term && streq(term, "dumb"));

        *out = (struct batch_output) {
                .mode = is_json ? BATCH_OUTPUT_JSON : is_tty ? BATCH_OUTPUT_TABLE : BATCH_OUTPUT_LINES,
                .f = f, .release = release,
        };
        out->has_color = out->mode == BATCH_OUTPUT_TABLE && !getenv("NO_COLOR");
        out->is_udev_missing = access("/run/udev/control", F_OK) < 0;
        if (out->mode == BATCH_OUTPUT_TABLE) {
                struct sigaction sa = { .sa_handler = on_winch, .sa_flags = SA_RESTART };
                sigemptyset(&sa.sa_mask);
                (void) sigaction(SIGWINCH, &sa, NULL);
                /* The PHASE column as wide as its longest word in this language. */
                for (int st = 0; st <= FLASH_STEP_ERASE; st++)     /* the last step's number */
                        out->phase_width = MAX(out->phase_width, text_width(flash_step_words((enum flash_step) st)));
                for (int k = 0; k <= BATCH_NOT_UPDATABLE; k++)     /* the last event's number */
                        if (k != BATCH_TICK)
                                out->phase_width = MAX(out->phase_width,
                                                       text_width(event_name_words((enum batch_event_kind) k)));
        }
}

void batch_output_header(struct batch_output *out, const struct batch_output_context *c) {
        char release[256], where[256], *t = NULL;

        if (c->release_name)
                /* TRANSLATORS: the release in the batch header: name, version, serial. */
                snprintf(release, sizeof(release), _("%s %s (serial %" PRIu64 ")"), c->release_name,
                         c->release_version ? c->release_version : "?", c->serial);
        else
                snprintf(release, sizeof(release), "%s", out->release ? out->release : "");
        if (c->mode != BATCH_MODE_FLASH)
                snprintf(where, sizeof(where), "%s", c->mode == BATCH_MODE_REPAIR ?
                         /* TRANSLATORS: the batch repairs keys in place (--repair), in its header. */
                         _("keys repaired in place") :
                         /* TRANSLATORS: the batch updates keys in place (--update), in its header. */
                         _("keys updated in place, keeping the pupils' files"));
        else if (c->class_name)
                /* TRANSLATORS: who the batch's keys are for: a class and its school's UAI. */
                snprintf(where, sizeof(where), _("class %s of %s"), c->class_name, c->school ? c->school : "?");
        else
                /* TRANSLATORS: the batch flashes keys for no pupil (--stock). */
                snprintf(where, sizeof(where), "%s", _("stock keys"));
        /* TRANSLATORS: the batch table's first line: the release, the pupils (or stock), the
         * station, the journal. */
        if (asprintf(&t, _("%s · %s · station %s · journal %s"), release, where,
                     c->station ? c->station : "?", c->journal ? c->journal : "?") < 0)
                return;
        free(out->header);
        copy_safe(t, strlen(t) + 1, t);
        out->header = t;
        if (out->mode == BATCH_OUTPUT_LINES) {
                fprintf(out->f, "%s\n", t);
                if (out->is_udev_missing && !c->has_targets)
                        log_warn(_("udevd is not running: keys plugged in are not seen (cartable doctor)"));
                else if (!c->has_targets)
                        fprintf(out->f, "%s\n", _("waiting for keys: plug them into the hub (Ctrl-C to stop)"));
                fflush(out->f);
        }
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
