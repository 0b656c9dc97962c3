/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a key held before it is written, for --erase auto (cartable-flash(1)): read from
 * the key itself (its volume, its files against the signed release it carries, its key
 * record's owner) and from the journal (whose key it was, and whether it came back).
 * A key of another pupil, a key that came back, or files outside a signed release are
 * erased; a blank key, a stock key and a key of the same pupil are not.
 */
#pragma once

#include "flash/flash.h"
#include "journal/journal.h"
#include "release/sign.h"

/*
 * Judge the key open on t (read through t->fd, before the writer sets O_DIRECT): owner is
 * the pupil the key is written for (NULL: a stock key). Reads the volume's directories and
 * the release files' content (their SHA-256 against the signed manifest the key carries).
 */
enum flash_held held_judge_key(const struct flash_target *t, const struct sign_trust *trust,
                               const struct owner_fields *owner);

/*
 * What the journal says of key (a journal uid, a USB serial or a volume ID): returned, lost,
 * stolen, replaced or retired, issued to pupil ("ID" or "UAI/ID") or to another; FOREIGN when
 * its last "erased" event is not "ok" (written over with --erase never, or an erase that
 * failed or was cut short); UNKNOWN when the journal does not know the key or holds it as
 * stock. pupil NULL: a stock key is being made, any holder is another pupil.
 */
int held_in_journal(struct journal *j, const char *key, const char *pupil, enum flash_held *ret,
                    struct cart_error *err);

/* The journal's word wins where it knows whose the key was; the key's own content otherwise. */
static inline enum flash_held held_combine(enum flash_held journal, enum flash_held content) {
        return journal == FLASH_HELD_UNKNOWN ? content : journal;
}
