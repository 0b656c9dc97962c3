/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reports for schools and auditors, from the journal: per school and class, pupils, keys
 * issued, pupils without a key, lost, stolen, replaced and returned; releases in the
 * field; lost and replaced keys per month; and every key with its pupil, status, release
 * and last verification. Three formats: CSV (UTF-8 with BOM, ';', formula cells
 * neutralised), JSON (manifests/schemas/report.schema.json) and one self-contained HTML
 * page (inline CSS and SVG, no script, printable on A4). And the receipts sheet ("feuille
 * d'émargement") of one class.
 *
 * Memory: the per-class, per-release and per-month tables are held (a few thousand rows
 * at most); the key list, which grows with pupils, is streamed to the output.
 */
#pragma once

#include <stdio.h>

#include "journal/journal.h"

enum report_format {
        REPORT_CSV,
        REPORT_JSON,
        REPORT_HTML,
};
/* "csv", "json", "html": 0 and *ret set, or -EINVAL. */
int report_format_from_string(const char *s, enum report_format *ret);

struct report_options {
        const char *school, *class_name;     /* NULL: every school, every class */
        enum report_format format;
        int64_t now_usec;                    /* the report's date */
};

/* Write the report to out. -EIO when out fails; journal errors as lib/journal's. */
int report_write(struct journal *j, const struct report_options *o, FILE *out, struct cart_error *err);

/* The receipts sheet of one class (school and class_name required: -EINVAL), as HTML.
 * -ENOENT when the journal has no active pupil in that class. */
int report_receipts_write(struct journal *j, const struct report_options *o, FILE *out,
                          struct cart_error *err);
