/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --output FILE of a text output (a report, a receipts sheet, a journal export), or stdout. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/output-file.h"

struct output_arg {
        const char *path;              /* NULL: stdout */
        struct output_file file;
        FILE *f;                       /* where to write */
        mode_t mode;                   /* the file's, 0600 unless the caller says (report --mode) */
};

/*
 * A file is written through lib/base/output-file: it appears under its name complete, mode
 * 0600 (it holds pupils' names), or not at all, and never replaces a file. Logs its own error
 * once and returns the exit code (EXIT_OK on success; 73 the file exists or cannot be created).
 */
int output_arg_open(struct output_arg *o, const char *path);
/* The same, and with force an existing regular FILE is replaced (report --force) by a rename
 * once the new one is complete and on disk: a failed output leaves the old one whole; a
 * symbolic link is never followed nor replaced. */
int output_arg_open_forced(struct output_arg *o, const char *path, bool force);
/* All written: flush, and give the file its name. EXIT_OK, or the error said once and 73. */
int output_arg_finish(struct output_arg *o);
/* Writing it failed (r, err): said once, with the output's name; returns 73. */
int output_arg_fail(const struct output_arg *o, int r, const struct cart_error *err);
/* What was not finished disappears. */
void output_arg_done(struct output_arg *o);
