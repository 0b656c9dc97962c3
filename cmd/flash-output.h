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

void flash_output_init(struct flash_output *out, bool is_json, const char *target);
/* A flash_event_fn: userdata is the struct flash_output. */
void flash_output_event(void *userdata, const struct flash_report *r, enum flash_step step,
                        uint64_t done, uint64_t total);
/* The report: one JSON line with --json, a summary line on success otherwise. */
void flash_output_result(struct flash_output *out, const struct flash_report *r);
/* A failure before the key's flash began (release, trust, rollback, the target refused):
 * with --json, one {"event":"error"} line with the reason code; always the sentence on
 * stderr. Returns the exit code. */
int flash_output_error(bool is_json, const char *target, const struct cart_error *err, int r,
                       const char *context);
