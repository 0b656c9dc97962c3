/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every subcommand shares: the exit codes, error reporting, the configuration. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "base/config.h"
#include "base/error.h"
#include "exit-code.h"
#include "i18n.h"
#include "reason.h"

struct command {
        const char *name;
        const char *summary;    /* one line, for cartable --help */
        const char *help;       /* full usage, for cartable help NAME and NAME --help */
        int (*run)(int argc, char **argv);   /* returns an exit code */
        /* Sub-commands ("image export"); the help of one that has its own is shown for
         * "cartable COMMAND SUB --help". NULL-terminated, or NULL. */
        const struct command *const *subs;
};

/* The configuration given by --config or the default one, loaded before the command runs. */
extern struct cart_config *arg_config;
/* True when stderr is a terminal (progress bars); false in pipes and CI. */
extern bool stderr_is_tty;

/*
 * s as it may reach a terminal: C0 controls and DEL as \xHH, C1 controls, bidirectional
 * overrides and line separators as \uHHHH, bytes that are not UTF-8 as \xHH; the rest
 * unchanged. For every name that comes from a key, a bundle or a recipe in human-readable
 * output (--json escapes by itself). The result lives until 8 more calls.
 */
const char *esc(const char *s);

/* Print "cartable: MESSAGE" once on stderr, escaped as esc() does; returns r unchanged. */
int log_error(int r, const char *fmt, ...) _printf_(2, 3);
/* Print a message and return the exit code for r. */
int log_fail(int r, const char *fmt, ...) _printf_(2, 3);
void log_warn(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
/* A usage error: message, hint, EXIT_USAGE. */
int usage_error(const struct command *c, const char *fmt, ...) _printf_(2, 3);

/* After getopt_long() returned '?' (opterr is 0): names the bad argument, EXIT_USAGE. */
int usage_bad_option(const struct command *c, char **argv);

/* Print "cartable: CONTEXT: SENTENCE" (no context when fmt is NULL); returns its exit code. */
int log_fail_error(const struct cart_error *err, int r, const char *fmt, ...) _printf_(3, 4);

/* Print a command's help to stdout. */
void command_print_help(const struct command *c);

/* "YYYY-MM-DD" (nothing after it) as the time 00:00 that day starts, local time, in
 * microseconds since 1970 (report --since, a roster's leave date); -EINVAL otherwise. */
int local_day_usec(const char *ymd, int64_t *ret);
