/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/ never prints: where a failure needs words (an archive entry, a roster line, a path
 * FAT cannot hold), it fills a caller-provided struct cart_error and returns a negative
 * errno. cmd/ prints the message once. Conventions shared by every module:
 *
 *   -EBADMSG       malformed input: archive, recipe, manifest, signature file, roster line
 *   -EILSEQ        invalid encoding or a character FAT cannot hold
 *   -ENAMETOOLONG  name or path too long;  -EFBIG  file too large;  -E2BIG  too many entries
 *   -EEXIST        two names collide (or an output file already exists)
 *   -ENOSPC        content larger than the volume or key
 *   -EUCLEAN       on-disk structure corrupt (FAT reader): loops, cross-links, bad geometry
 *   -EMEDIUMTYPE   not a FAT32 volume / not a cartable key
 *   -EKEYREJECTED  signature invalid, wrong passphrase;  -ENOKEY  signer not trusted
 *   -ESTALE        release older than one already flashed (rollback)
 *   -EPERM         target refused by the safety policy (the message says why)
 *   -EIO, -ENODEV  device errors (ENODEV: the key was pulled)
 *   -EBADE         read-back found bytes that differ from what was written
 */
#pragma once

#include <stddef.h>
#include "base/util.h"

struct cart_error {
        char msg[1024];
};

/* Set err->msg (when err is not NULL) and return r, which must be a negative errno. */
int cart_error_set(struct cart_error *err, int r, const char *fmt, ...) _printf_(3, 4);
/* Prefix an existing message: "context: old message". Returns r. */
int cart_error_prefix(struct cart_error *err, int r, const char *fmt, ...) _printf_(3, 4);
/* The message, or strerror(-r) when no message was set. */
const char *cart_error_message(const struct cart_error *err, int r);
