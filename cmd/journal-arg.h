/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the commands that use the journal share: finding it, opening it, printing names safely. */
#pragma once

#include <stdio.h>

#include "journal/journal.h"

/* --journal PATH or URL, else [journal] path or url of the configuration, else STATE_DIR/journal.db. */
const char *journal_arg_path(const char *arg, char *buf, size_t len);

/*
 * Open the journal for a command, station named by [station] name (or the host name).
 * create: make it when missing (roster import, flash). Logs its own error once and
 * returns the exit code (EXIT_OK on success).
 */
int journal_arg_open(const char *arg, bool create, struct journal **ret);

/* An unknown school (UAI) or class (of that school when one is given) is an error naming
 * the known ones, logged once: EXIT_NOINPUT, not an empty result. EXIT_OK when known. */
int journal_arg_check_known(struct journal *j, const char *school, const char *class_name);

/* The exit code for a negative errno from lib/journal. */
int journal_exit_code(int r);
/* Log err's message once and return journal_exit_code(r). */
int journal_fail(int r, const struct cart_error *err);

/* Roster values (names, classes) on a terminal, escaped by esc() (common.h) like every
 * name from a key or bundle, so a name can never move the cursor or recolour the screen. */
void fput_safe(const char *s, FILE *f);
/* The same text as a new string, for a whole sentence (free it); NULL for NULL. */
char *safe_text(const char *text);
