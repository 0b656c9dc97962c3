/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How flash and image export show a key's progress: a bar on a terminal, plain lines
 * otherwise, JSON lines (--json) for machines. The final report is printed once. */
#pragma once

#include <stdbool.h>

#include "flash/flash.h"

struct flash_output {
        bool is_json;
        const char *target;
        enum flash_step step;
        double step_started, last_print;
        bool has_bar;
};

/* A step of the flash in words, for people (translated); machines get flash_step_to_string(). */
const char *flash_step_words(enum flash_step step);
/* What a key held (--erase auto's judgment) in words, for people. */
const char *flash_held_words(enum flash_held h);
/* The erase of a report as a JSON object (--json, batch's NDJSON): mode, held, erased,
 * method, bytes, checked_bytes, seconds. */
struct json_object;
struct json_object *flash_erase_json(const struct flash_report *r);

void flash_output_init(struct flash_output *out, bool is_json, const char *target);
/* A flash_event_fn: userdata is the struct flash_output. Returns -ECANCELED once one of
 * the signals flash_output_catch_signals() catches has arrived, which stops the key. */
int flash_output_event(void *userdata, const struct flash_report *r, enum flash_step step,
                       uint64_t done, uint64_t total);
/* SIGINT, SIGTERM and SIGHUP cancel the key through flash_output_event() instead of
 * killing the process midway. */
void flash_output_catch_signals(void);
/* The signal that cancelled, or 0. */
int flash_output_signal(void);
/* A cancelled key, in words, once: where it stopped and whether it is usable. EXIT_CANCELLED. */
int flash_output_cancelled(const struct flash_output *out, const struct flash_report *r);
/* The report: one JSON line with --json, a summary line on success otherwise. */
void flash_output_result(struct flash_output *out, const struct flash_report *r);
/* A failure before the key's flash began (release, trust, rollback, the target refused):
 * with --json, one {"event":"error"} line with the reason code; always the sentence on
 * stderr. Returns the exit code. */
int flash_output_error(bool is_json, const char *target, const struct cart_error *err, int r,
                       const char *context);
/* A flash or export that failed (r < 0): said once, as an error event when no report was
 * begun (the target refused before the flash), else on stderr after the result; returns
 * the exit code. */
int flash_output_failed(const struct flash_output *out, const struct flash_report *report,
                        const struct cart_error *err, int r);
