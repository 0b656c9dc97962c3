/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Passphrases for secret keys: the first line of a file, or asked at the terminal. */
#pragma once

#include <stdbool.h>

/* minisign reads a passphrase line into 1024 bytes: at most 1023 bytes survive. */
#define PASSPHRASE_MAX 1023

/* Whether a passphrase can be asked: the process has a controlling terminal. */
bool passphrase_can_ask(void);

/*
 * With passphrase_file: its first line (without "\n" or "\r\n"). Without: asked on
 * /dev/tty with echo off, twice when confirm (both must match). An empty passphrase is
 * refused. Logs its own error once and returns a negative errno: -ENOENT for a missing
 * file, -EINVAL for an empty, too long or mismatched passphrase, -ENOTTY when there is
 * no file and no terminal (the message says to give --passphrase-file).
 * exit_code_for() gives the exit code for those (-ENOTTY: 64, usage).
 */
int passphrase_get(const char *passphrase_file, bool confirm, const char *prompt, char **ret);

/* Erase, then free. */
char *passphrase_free(char *p);
static inline void passphrase_freep(char **p) { passphrase_free(*p); }
