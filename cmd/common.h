/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every subcommand shares: the exit codes, error reporting, the configuration. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "base/config.h"
#include "base/error.h"
#include "i18n.h"
#include "reason.h"

/* Exit codes, documented in cartable(1). Keep both in step. */
enum {
        EXIT_OK          = 0,
        EXIT_MODIFIED    = 1,   /* verify: the key differs from its release */
        EXIT_DOCTOR_BLOCKED = 1, /* doctor: a check failed, provisioning is blocked */
        EXIT_NOT_CARTABLE = 2,  /* verify: not a cartable key, or unreadable */
        EXIT_TRUST       = 3,   /* bad or untrusted signature, wrong passphrase, rollback */
        EXIT_REFUSED     = 4,   /* target refused: safety policy, too small, counterfeit */
        EXIT_IO          = 5,   /* I/O error or read-back mismatch on a key */
        EXIT_USAGE       = 64,  /* bad command line */
        EXIT_DATA        = 65,  /* bad input: archive, recipe, manifest, name FAT cannot hold */
        EXIT_NOINPUT     = 66,  /* an input file is missing or unreadable */
        EXIT_UNAVAILABLE = 69,  /* the journal server cannot be reached, or the connection was lost */
        EXIT_SOFTWARE    = 70,  /* internal error, out of memory */
        EXIT_CANTCREAT   = 73,  /* an output exists already or cannot be created */
        EXIT_CANCELLED   = 130, /* flash, image export: cancelled by SIGINT, SIGTERM or SIGHUP */
};

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

/* The exit code for a negative errno from lib/ (see lib/base/error.h for the conventions). */
int exit_code_for(int r);

/* The exit code for a failure: the reason's where it is more precise than the errno's. */
int exit_code_for_error(const struct cart_error *err, int r);
/* Print "cartable: CONTEXT: SENTENCE" (no context when fmt is NULL); returns its exit code. */
int log_fail_error(const struct cart_error *err, int r, const char *fmt, ...) _printf_(3, 4);

/* Print a command's help to stdout. */
void command_print_help(const struct command *c);
