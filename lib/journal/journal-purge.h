/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Retention (RGPD): erase the personal data of pupils who left before a date, keep what
 * an audit needs. Per purged pupil: the pupils row goes (names, id, INE hash, salt), its
 * class keeps an anonymous count (purged_counts); its keys and events stay, without the
 * id, and (events of form 4, schema v8) without a message that names the pupil (its id or
 * family name) or belongs to its events. Events of schema v2 hash a salted commitment of the
 * id, form 4 one of the message (see journal.h), so erasing
 * the id and the salt leaves every hash as it was: journal verify still says intact, and
 * still catches an edit. Events written before v2 hash the id itself: for a pupil named
 * by such events, the row stays with its names blanked and its id kept (counted apart).
 */
#pragma once

#include "journal/journal.h"

struct journal_purge_counts {
        uint64_t pupils;          /* pupils whose personal data went */
        uint64_t events;          /* events that lost a pupil id */
        uint64_t kept_v1;         /* pupils whose id stays, named by events written before v2 */
        uint64_t messages;        /* event messages erased (form 4): they named a purged pupil */
};

/* One pupil to be purged, for --dry-run listings. Strings belong to the journal. */
typedef int (*journal_purge_fn)(void *userdata, const char *school, const char *id, const char *class_name,
                                int64_t left_usec);

/*
 * Purge the pupils who left before left_before_usec (not those who left after, nor
 * active ones), in one transaction that also appends a "purged" event (no pupil, the
 * counts in its message) to the station's chain. dry_run: fn sees each pupil, nothing
 * is written. fn may be NULL. Then the erased bytes leave the disk (jdb_checkpoint): -EBUSY,
 * reason checkpoint-incomplete (value: the log's pages not copied back), when a reader's open
 * transaction keeps them in an SQLite journal's write-ahead log: the purge is recorded, and
 * running it again once the reader is gone finishes it.
 */
int journal_purge(struct journal *j, int64_t left_before_usec, const char *operator, bool dry_run,
                  journal_purge_fn fn, void *userdata, struct journal_purge_counts *ret,
                  struct cart_error *err);
