/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one CSV writer of what cartable hands to spreadsheets and scripts (the report, the
 * journal export): RFC 4180 (cells joined by the separator, rows ending CR LF, a cell
 * holding the separator, '"', CR or LF quoted with its quotes doubled), and a guard against
 * formula injection (OWASP): a cell starting with = + - @, a tab or CR, which a spreadsheet
 * would run as a formula, is quoted and starts with an apostrophe.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct csv_writer {
        FILE *f;
        char separator;         /* ',' for scripts (RFC 4180), ';' for French spreadsheets */
        bool is_in_row;
};

static inline struct csv_writer csv_writer_make(FILE *f, char separator) {
        return (struct csv_writer) { .f = f, .separator = separator };
}

/* A cell; NULL is an empty cell. */
void csv_cell(struct csv_writer *w, const char *s);
/* A number; a negative one (unknown) is an empty cell. */
void csv_int(struct csv_writer *w, int64_t v);
/* End the row (an empty row is an empty line). -EIO once the stream has failed. */
int csv_row_end(struct csv_writer *w);
/* A whole row of n cells, such as a header. */
int csv_row(struct csv_writer *w, const char *const *cells, size_t n);
