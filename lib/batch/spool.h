/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal spool: the ends of keys that a batch could not record because its PostgreSQL
 * journal server went away and did not come back within [journal] wait. Each end is one
 * JSON file in STATE_DIR/journal-spool/ (mode 0600, written to a temporary, fsync'd, renamed,
 * the directory fsync'd), holding all that the key's end record needs: the report's fields
 * the journal stores, who and for whom (operator, pupil, USB strings, reason), the journal's
 * name and the station's, and the key's end time. The station's next batch against that journal replays them before it
 * closes the keys left interrupted, so those keys are recorded with their real outcome.
 */
#pragma once

#include "base/error.h"
#include "flash/flash.h"
#include "journal/journal.h"

#define SPOOL_DIR_NAME "journal-spool"
#define SPOOL_FILE_MAX (16 * KIB)       /* larger is refused unread */

/* Keep one key's end in dir (created, 0700, when missing): its report, and the rest of its
 * end record (station_record_end()'s, completed by the batch). ret_path: the file (malloc'd). */
int spool_write(const char *dir, struct journal *j, const struct flash_report *rep, const struct journal_key_end *end,
                char **ret_path, struct cart_error *err);

/* One spooled end replayed (r == 0, recorded or found already recorded: the file is gone;
 * r == -EEXIST or -ESRCH: recorded, its pupil not given the key, err says why) or refused
 * (r < 0 otherwise: err names the file, which is left in place). */
struct spool_entry {
        const char *path, *key_uid, *key_serial, *pupil, *operator;
        int64_t time_usec;
        bool is_present;   /* r == 0: the journal held it already, nothing recorded (file removed) */
};
typedef void (*spool_fn)(void *userdata, const struct spool_entry *e, int r, const struct cart_error *err);

/*
 * Record every end spooled in dir for this journal and station, oldest first, each in its
 * own transaction; an end the journal already holds (the commit in doubt went through) is
 * not recorded twice. Files for another journal are left for it. A missing dir is empty.
 * Returns how many were recorded, or -ECONNRESET/-ECONNREFUSED (the server went away
 * again: what is left stays spooled), or another negative errno when dir cannot be read.
 */
int spool_replay(const char *dir, struct journal *j, spool_fn fn, void *userdata, struct cart_error *err);

/* Parse a spool file's content as the replay does (bounded, strict, the key it names being
 * the key its fields make): 0, or -EBADMSG naming the field. For tests and fuzzing. */
int spool_parse(const void *json, size_t len, struct cart_error *err);
