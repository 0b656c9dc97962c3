/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What cartable batch shows: a live table on a terminal, one plain line per event
 * otherwise, or NDJSON (--json), as cartable-batch(1) documents. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "batch/batch.h"

enum batch_output_mode { BATCH_OUTPUT_LINES, BATCH_OUTPUT_TABLE, BATCH_OUTPUT_JSON };

struct batch_output {
        enum batch_output_mode mode;
        bool has_color;
        FILE *f;
        const char *release;
        /* The table as last drawn: one line per slot, then the summary. */
        char **lines;
        size_t n_lines;
        /* The rows' state, kept between events (slot index order). */
        struct batch_row *rows;
        size_t n_rows;
        bool is_dirty;
};

/* Mode from --json, and whether f is a terminal that moves its cursor (not TERM=dumb). */
void batch_output_init(struct batch_output *out, bool is_json, FILE *f, const char *release);
void batch_output_done(struct batch_output *out);
/* A batch_event_fn: userdata is the struct batch_output. */
void batch_output_event(void *userdata, const struct batch_event *ev);
/* The final summary (a line, or the JSON "summary" object). */
void batch_output_summary(struct batch_output *out, const struct batch_summary *s);
