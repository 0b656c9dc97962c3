/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What cartable batch shows: a live table on a terminal, one plain line per event
 * otherwise, or NDJSON (--json), as cartable-batch(1) documents. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
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
        /* The terminal: its width when last drawn, each column's width for it (0: not shown,
         * the terminal is too narrow), the PHASE column's longest word in this language. */
        int cols, width[8], phase_width;
        char *header;                  /* the first line: release, pupils, journal, station */
        bool is_udev_missing;          /* no /run/udev/control: keys plugged in are not seen */
};

/* What the header line names. */
struct batch_output_context {
        const char *release_name, *release_version;
        uint64_t serial;
        const char *school, *class_name;   /* class_name NULL: stock keys */
        const char *journal, *station;
        bool has_targets;                  /* --target: no key to wait for */
        enum batch_mode mode;              /* --update, --repair: keys written in place */
};

/* Mode from --json, and whether f is a terminal that moves its cursor (not TERM=dumb). */
void batch_output_init(struct batch_output *out, bool is_json, FILE *f, const char *release);
void batch_output_done(struct batch_output *out);
/* The header: the first line of the table, or printed once (plain lines) with "waiting for
 * keys" (or a warning when udevd is not running). Not in --json. */
void batch_output_header(struct batch_output *out, const struct batch_output_context *c);
/* A batch_event_fn: userdata is the struct batch_output. */
void batch_output_event(void *userdata, const struct batch_event *ev);
/* The final summary (a line, or the JSON "summary" object). */
void batch_output_summary(struct batch_output *out, const struct batch_summary *s);
