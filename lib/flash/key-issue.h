/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Handing a stock key to a pupil (cartable issue), on the key's side: the key is verified
 * (trusted, intact, with a key record that parses), then two files are rewritten in place
 * with the FAT editor (fat.h): the owner file the signed manifest's template gives for
 * the pupil (its path is never checked by verify: any content is the owner's), and the
 * unsigned key record /.cartable/key.json with the owner fields. The manifest, its
 * signature and every release file keep their bytes. Then the key is read again and
 * verified: intact, naming the owner, the owner file as rendered.
 */
#pragma once

#include "flash/verify.h"
#include "release/release.h"

struct key_issue;

/* The key of size bytes through read/write (write may be NULL: check only), verified with o.
 * -EMEDIUMTYPE not a cartable key, -EUCLEAN a damaged volume, trust errors as verify_key's. */
int key_issue_open(cart_read_fn read, cart_write_fn write, void *userdata, uint64_t size,
                   const struct verify_options *o, struct key_issue **ret, struct cart_error *err);
struct key_issue *key_issue_free(struct key_issue *k);
DEFINE_POINTER_CLEANUP(struct key_issue, key_issue_free);

/* The verification of the key as it was opened. */
const struct verify_result *key_issue_verification(const struct key_issue *k);

/*
 * Why the key cannot be issued as it is, or 0: not intact (-EBADE: verify's findings), no
 * key record or one that does not parse (-EBADMSG).
 */
int key_issue_check(const struct key_issue *k, struct cart_error *err);

/* Called between the writes and their read-back: flush the device and drop what the page
 * cache holds of it, so that what is read again is what the key holds. May be NULL. */
typedef int (*key_issue_sync_fn)(void *userdata);

/*
 * Write owner's files (mtime: of both files, seconds since the epoch) and read them back.
 * *ret_was_written false: the key held exactly these already (a second issue completing
 * the first's journal record), nothing written. -EBADE when the key reads back otherwise;
 * the editor's errors (-ENOSPC...) before anything is written.
 */
int key_issue_write(struct key_issue *k, const struct owner_fields *owner, int64_t mtime, key_issue_sync_fn sync,
                    bool *ret_was_written, struct cart_error *err);
