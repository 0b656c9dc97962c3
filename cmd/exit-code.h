/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The exit codes, and the one table that gives a failure its code: the reason code lib/
 * set where it set one (enum cart_reason), else the class of its errno. Documented once,
 * in cartable(1) (EXIT STATUS) and its French page: keep the three in step (a unit test
 * walks every reason and checks the page names its code).
 */
#pragma once

#include "base/error.h"

enum {
        EXIT_OK          = 0,
        EXIT_MODIFIED    = 1,   /* the key is not what it should be: modified, swapped; a broken chain */
        EXIT_NOT_CARTABLE = 2,  /* not a cartable key (not FAT32, no manifest), or unreadable */
        EXIT_TRUST       = 3,   /* bad or untrusted signature, wrong passphrase, rollback */
        EXIT_REFUSED     = 4,   /* target refused: safety policy, too small, counterfeit */
        EXIT_IO          = 5,   /* I/O error or read-back mismatch on a key */
        EXIT_USAGE       = 64,  /* bad command line; no terminal to ask on; a pupil id that needs its school */
        EXIT_DATA        = 65,  /* bad input: archive, recipe, manifest, name FAT cannot hold */
        EXIT_NOINPUT     = 66,  /* an input file is missing or unreadable */
        EXIT_UNAVAILABLE = 69,  /* the journal server cannot be reached, or the connection was lost */
        EXIT_SOFTWARE    = 70,  /* internal error, out of memory */
        EXIT_CANTCREAT   = 73,  /* an output exists already or cannot be created; a journal role lacks the right */
        EXIT_NOT_READY   = 78,  /* doctor: a check failed, the station cannot provision keys (sysexits' EX_CONFIG) */
        EXIT_CANCELLED   = 130, /* flash, image export: cancelled by SIGINT, SIGTERM or SIGHUP */
};

/* The exit code of a reason code; -1 for a reason whose errno decides (system-error,
 * bad-input...: their errno says more, see exit_code_for()). */
int exit_code_for_reason(enum cart_reason reason);

/* The exit code of a negative errno from lib/ (lib/base/error.h's conventions). */
int exit_code_for(int r);

/* The exit code for a failure: err's reason where lib/ set one (err may be NULL), else r's. */
int exit_code_for_error(const struct cart_error *err, int r);

/* The same for a failure to read what a key holds (verify): the table's code where it is
 * trust's (3, a malformed signature on the key too) or an internal error's (70: out of
 * memory), else "not a cartable key, or unreadable" (2). */
int exit_code_for_key(const struct cart_error *err, int r);

/* A target (a key or an image file) that could not be opened to read: missing or
 * unreadable is a missing input (66), anything else the table's code. */
int exit_code_for_target(const struct cart_error *err, int r);

/* A path on a readable key's volume (ls, cat): one that names nothing to show (no such
 * path, a file where a directory should be or the reverse) is a missing input (66), any
 * other failure as exit_code_for_key(). */
int exit_code_for_key_path(const struct cart_error *err, int r);

/* Updating or repairing a key (update, repair): what the key holds that an update cannot
 * take (not a key, a damaged volume, no readable key record, another update's intent, two
 * names that answer to one) is "not a cartable key" (2); a key of another release, like a
 * signature not trusted or a rollback, is a trust failure (3); the rest, too little room
 * (4), an I/O error or a read-back mismatch (5) included, the table's code. */
int exit_code_for_key_update(const struct cart_error *err, int r);
