/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A station: one signed release to put on keys, the keys it trusts, its configuration
 * (target policy, state directory) and its rollback state; then one call per key, which
 * opens the target (a USB key through the device policy, or an image file), probes,
 * flashes, reads back and fills the key's struct flash_report.
 *
 * The release is opened, and its signature and every payload's SHA-256 checked, once, in
 * station_new(); keys then share it read-only (release_ref, pread).
 *
 * Threading: station_new() and station_free() in one thread, when no per-key call runs.
 * station_flash(), station_plan() and station_export() may run at the same time in
 * several threads (a batch engine's one worker per key), each with its own station_key and
 * report: the configuration, trust and release are only read, and the one shared write,
 * recording the release's serial in the state directory, is under the station's mutex.
 * A key's event callback runs in the thread that flashes that key.
 *
 * The journal: every per-key call fills the whole report, on success and on failure alike
 * (a refused target included): identity, release, outcome, step, error and message. A
 * journal records it right after station_flash() returns, whatever it returned.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "device/device.h"
#include "flash/flash.h"
#include "flash/update.h"
#include "journal/journal.h"
#include "release/release.h"
#include "release/sign.h"

struct station;

enum {
        STATION_ALLOW_DOWNGRADE = 1u << 0,  /* accept a release older than one already flashed here */
        STATION_NO_ROLLBACK     = 1u << 1,  /* exports: no key of this station, rollback state neither checked nor recorded */
        /* The release's payloads not hashed at open (only its signature, structure and
         * sizes): for cartable update, which hashes those it writes before the first write
         * (release_check_files). station_flash and station_export refuse such a station. */
        STATION_LAZY_HASH       = 1u << 2,
};

/*
 * Open the release at release_path against trust (its signature, every payload's hash),
 * then check its serial against the rollback state of config's state directory (-ESTALE).
 * config and trust are borrowed: they must outlive the station. config NULL: no rollback
 * state, and no target policy (block devices refused) unless station_set_policy().
 */
int station_new(const char *release_path, const struct cart_config *config, const struct sign_trust *trust,
                unsigned flags, struct station **ret, struct cart_error *err);
struct station *station_free(struct station *s);
DEFINE_POINTER_CLEANUP(struct station, station_free);

const struct release *station_release(const struct station *s);

/*
 * Judge block devices by policy (copied; its lists are borrowed) instead of the
 * configuration's: for tests, whose loop devices need test_waive_usb_rule. Without a
 * configuration and without this, every block device is refused.
 */
void station_set_policy(struct station *s, const struct device_policy *policy);

/* The identity of the block device at path as the station's policy sees it (udev: serial,
 * USB ids, port), the disk neither opened nor read: what a key's journal start needs before
 * its worker opens it. -EPERM without a policy; else device_info_new_from_path()'s. */
int station_target_info(const struct station *s, const char *path, struct device_info **ret,
                        struct cart_error *err);

/* One key's job. */
struct station_key {
        const char *target;              /* a block device (/dev/sdX, /dev/disk/by-id/...) or an image file */
        const char *serial;              /* block device: refuse unless its USB serial is this; NULL: any */
        uint64_t image_size;             /* image file: create or grow it to this many bytes; 0: its size */
        bool force;                      /* image file: overwrite an existing file that is not a key image */
        bool no_probe;                   /* skip the capacity probe of a block device */
        bool has_volume_id;
        uint32_t volume_id;              /* otherwise random */
        int64_t time;                    /* of the volume and key record; 0: now */
        const struct owner_fields *owner;   /* personalised releases; NULL: none */
        size_t chunk_size;               /* 0: the writer's default */
        /* Erase what the key held (zeros over every block the new layout leaves alone):
         * always, never, or auto: when journal_held (what the caller's journal says, station/
         * held.h) or else the key's own content says another pupil's, a returned key or
         * foreign files (flash_held_needs_erase). An image file created here is never erased. */
        enum cart_erase erase;
        enum flash_held journal_held;
        flash_event_fn on_event;         /* may return -ECANCELED to stop the key (see flash.h) */
        void *userdata;
};

/* True when path names a block device (symlinks such as /dev/disk/by-id/... followed). */
bool station_target_is_device(const char *path);

/*
 * An image file target, "a key image" being an empty file, a file whose first 512 bytes
 * are zeros (a blank image, or a key cut off mid-flash), or a partition table whose first
 * partition holds a FAT32 volume with a /.cartable directory. Anything else is refused
 * (-EPERM) unless force. Always refused (-EPERM), force or not: the release's own file,
 * symbolic links, directories and other non-regular files, and any path under /dev (an
 * absent key: "is the key plugged in?"), /proc or /sys.
 */

/*
 * A key or image file opened for an edit in place (cartable issue), by the checks a flash
 * opens it with: a block device through device_target_open() and policy (O_EXCL, flock,
 * its identity checked again; policy NULL refuses it), or an existing image file (a
 * regular file, never a link nor under /dev, /proc or /sys, flock'ed, the same file after
 * open; whether it is a key is the caller's to verify). serial: the USB serial the device reports, "" for
 * an image file. station_target_close() accepts a target never opened (fd -EBADF).
 */
struct station_target {
        int fd;
        uint64_t size;
        char serial[128];
        struct device_target *dt;
};
int station_target_open(const char *path, const struct device_policy *policy, struct station_target *ret,
                        struct cart_error *err);
void station_target_close(struct station_target *t);
/* Between writes and their read-back (userdata: the target's fd, as fd_read_at() takes it):
 * fsync, and the page cache dropped, so that what is read again is what the key holds. */
int station_target_sync(void *userdata);

/*
 * Flash one key: open k->target (a block device through device_target_open() and the
 * configuration's policy, or an image file, created or grown to k->image_size and removed
 * again if it was created and the flash fails), probe, lay out, write, read back. Fills
 * report in every case. Returns 0; 1 when the key is good but the rollback state could
 * not be recorded (err says why); or a negative errno: -EPERM/-EBUSY refused target,
 * -ENOSPC key too small, -EIO (an image file's file system full too), -EBADE read-back
 * mismatch, -ECANCELED (or the callback's value) cancelled.
 */
int station_flash(struct station *s, const struct station_key *k, struct flash_report *report,
                  struct cart_error *err);

/*
 * What station_flash() would write, without writing: the target is opened as for a flash
 * (a block device exclusively, through the policy), an image file only read; report gets
 * the layout's figures and ret_n_extents the number of write-plan extents.
 */
int station_plan(struct station *s, const struct station_key *k, struct flash_report *report,
                 size_t *ret_n_extents, struct cart_error *err);

/*
 * The sparse raw image of a key of k->image_size bytes into the new file k->target, never
 * probed: written to a temporary file beside it, renamed at the end. -EEXIST when the
 * output exists; -EPERM under /dev, /proc or /sys. A failure leaves nothing.
 */
int station_export(struct station *s, const struct station_key *k, struct flash_report *report,
                   struct cart_error *err);

/*
 * Update k->target in place to the station's release, keeping the pupil's files
 * (flash/update.h), or with want_repair repair it against that release, which must be the
 * one the key holds. A key that already holds this very release is repaired by an update.
 * The key is judged by its signed manifest alone, then update_key() plans from its files
 * as check says (UPDATE_CHECK_DEFAULT: quick for an update, content for want_repair, a
 * key that already holds the release included), and an empty plan writes nothing. With
 * STATION_LAZY_HASH only the payloads written are hashed.
 * The target is opened as station_flash() opens it (a block device through the policy and
 * k->serial; an image file must exist and is never created or grown); k->on_event is told
 * the steps CHECK (the key read and judged), WRITE and READBACK (update_key()'s read-back
 * and verify), never DONE; k->owner, erase and probe do not apply (the owner stays the
 * key's). Fills report in every case (bytes written and read back on success).
 * Returns STATION_UPDATED (*ret: what was done); STATION_UPDATE_INTACT: it already holds
 * this release intact, nothing written; STATION_UPDATE_REFUSED: it cannot be updated in
 * place, nothing written, err and report say why with a reason code (not-a-key,
 * corrupt-volume, untrusted-signer, bad-signature, rollback: the key holds a newer serial,
 * too-small: not enough free space, refused: another release); or a negative errno: the
 * target refused at open (-EPERM, -EBUSY...), an I/O error or read-back mismatch after
 * writing began (the key then says "update interrupted" and the same update finishes it).
 */
enum { STATION_UPDATED, STATION_UPDATE_INTACT, STATION_UPDATE_REFUSED };
int station_update(struct station *s, const struct station_key *k, bool want_repair, enum update_check check,
                   struct flash_report *report, struct update_report **ret, struct cart_error *err);

/*
 * The reason code a journal stores for a key that did not end well (io-error, too-small,
 * counterfeit... from the report's reason, lib/base/error.h), key-removed for a key pulled
 * out mid-write, interrupted for a key stopped on request; CART_REASON_NONE for a good key.
 * The one place where flash and batch choose it.
 */
enum cart_reason station_report_reason(const struct flash_report *r, bool is_removed);

/* ---- What the journal records of a key (it takes records, and knows no flash report) ---- */

/*
 * The key's identity in the journal: "usb:VID:PID:SERIAL" for a key with a serial,
 * "file:PATH" for an image file (PATH absolute, its directory resolved: the same file named
 * from anywhere is one key), "volume:XXXXXXXX" for a key without serial.
 */
int station_key_uid(const struct flash_report *r, char **ret);

/* A key's start and end records, made from its report: they point into the report and into
 * this holder, which must outlive them. The caller adds who and for whom (operator, pupil,
 * class, USB strings) before handing one to the journal. */
struct station_record {
        char *uid;
        char message[sizeof(((struct flash_report *) 0)->failure.msg)];
        struct journal_key_start start;
        struct journal_key_end end;
};
/* The start of the key of r (identity and release filled, as flash_report_start() does). */
int station_record_start(struct station_record *rec, const struct flash_report *r);
/* The end of the key of r: outcome, reason (station_report_reason()), step, the failure's
 * words, figures. */
int station_record_end(struct station_record *rec, const struct flash_report *r, bool is_removed);
void station_record_done(struct station_record *rec);

/* The owner file's fields of a pupil as the journal holds them (pointing into p). */
struct owner_fields station_owner(const struct journal_pupil_info *p);
