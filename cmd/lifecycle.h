/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the commands of a key's life share (lifecycle.c): who runs them, which key a target is. */
#pragma once

#include "flash/key-record.h"
#include "flash/verify.h"
#include "journal/journal-life.h"

/* --operator, else $SUDO_USER, else $USER, else "root". */
const char *lifecycle_operator(const char *arg);

/*
 * The journal's key for what a target shows: its FAT volume ID first (the volume proves
 * it), then the USB serial of its key record, then the USB serial the device itself
 * reports (usb_serial: key_usb_serial(); "" or NULL for an image file). -ENOENT when none
 * is known. When two of them name different keys, when the device's serial is not the one
 * the journal knows the volume's key by, or when the record's owner is not the journal's
 * holder, swapped (when not NULL) gets why, in words ("" when they agree): translated for
 * people when for_people, else English (what the journal records). Used by identify,
 * issue, return and verify --journal.
 */
int lifecycle_find_key(struct journal *j, uint32_t volume_id, const struct key_record *rec,
                       const char *usb_serial, struct journal_key_info **ret, char *swapped, size_t swapped_len,
                       bool for_people, struct cart_error *err);

/* A file's verify status (missing, modified...) in words, for people; defined in verify.c,
 * shared with return. */
const char *verify_status_words(enum verify_status st);

struct verify_result;
/*
 * verify --journal, return: record verification v of the key in the journal at
 * journal_arg. A key the journal gives to another pupil than its record names (or whose
 * volume and serials name two keys, see lifecycle_find_key) is recorded and reported
 * "swapped", never intact.
 * Logs its errors once. Returns an exit code: EXIT_OK recorded (*ret_swapped tells),
 * EXIT_NOINPUT a key unknown to the journal (nothing recorded), others as the journal's.
 * ret_uid (optional) gets the key's journal uid.
 */
int lifecycle_record_verify(const char *journal_arg, const char *operator, const struct verify_result *v,
                            const char *usb_serial, bool *ret_swapped, char **ret_uid);

/* cartable journal purge (dispatched by cmd/journal.c): argv[0] is "purge". */
int run_journal_purge(int argc, char **argv);
