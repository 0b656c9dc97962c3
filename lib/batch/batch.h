/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The batch engine: many keys at once, each flashed and read back by its own worker thread
 * the moment it arrives, against one station (the release opened and checked once, shared
 * read-only), each key logged to its pupil in the journal.
 *
 * Threads: batch_run() is the coordinator. It alone touches the journal (one transaction per
 * key event: started, then flashed/issued), the device monitor and the caller's event
 * callback. Workers only run station_flash() (or a read-only verify). Each queues its key's
 * step transitions to the coordinator through a pipe, in order, with the time it entered
 * each (batch_slot.step_at), so BATCH_STEP is lossless (one per step the key enters) and
 * dated at its source; its progress goes through atomics, which the coordinator
 * samples (BATCH_PROGRESS). Workers never take a lock another worker holds, so a slow or
 * dead key never slows the others. A finished worker wakes the coordinator through the pipe.
 * An arrival costs the coordinator its identity and verdict (no read of the key: its worker
 * reads what it needs) and the journal's records.
 *
 * Memory per key in flight: the writer's aligned buffers (3 chunks of 4 MiB, plus a 4 MiB
 * comparison chunk during read-back: 16 MiB, flash/writer.c), its write plan (O(files) of
 * the release, which is shared), its slot (about 16 KiB: the report and two error records, each with room for a refused
 * disk's findings)
 * and a worker stack of BATCH_STACK_SIZE. Measured: 15.4 MB of peak RSS per extra key (1 key 29 MB, 8 keys 137 MB).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "device/device.h"
#include "flash/flash.h"
#include "journal/journal.h"
#include "release/sign.h"
#include "station/station.h"

struct update_report;

#define BATCH_STACK_SIZE (512 * 1024)
#define BATCH_JOURNAL_WAIT 60

enum batch_event_kind {
        BATCH_INTERRUPTED_BEFORE,  /* a key a previous batch left interrupted (journal), now closed */
        BATCH_ADDED,               /* a key (or target) arrived: eligible or not */
        BATCH_REFUSED,             /* not eligible: reasons in slot->message; never touched */
        BATCH_STARTED,             /* a worker starts: pupil assigned (roster mode) */
        BATCH_STEP,                /* the key entered a new step: each step once, in order, never sampled */
        BATCH_PROGRESS,            /* a few times a second while writing or reading back */
        BATCH_SKIPPED,             /* already holds this release intact: left alone */
        BATCH_DONE,                /* flashed, read back, recorded */
        BATCH_FAILED,              /* refused at open, too small, counterfeit, I/O error... recorded */
        BATCH_CANCELLED,           /* pulled out or stopped (second Ctrl-C): recorded interrupted */
        BATCH_REMOVED,             /* the key was pulled out */
        BATCH_NO_PUPIL,            /* roster mode: every pupil of the class has a key; not touched */
        BATCH_JOURNAL_ERROR,       /* the journal refused a record: message says why */
        BATCH_TICK,                /* a few times a second: redraw */
        BATCH_SPOOLED_BEFORE,      /* a key's end an earlier batch kept locally (spool.h), now recorded */
        /* --update, --repair: the key cannot be updated in place (its reason in the event's
         * error: not-a-key, too-small...); left alone, or with flash_if_needed flashed next
         * (BATCH_STARTED, then its steps and end as a flashed key's). */
        BATCH_NOT_UPDATABLE,       /* the last: cmd/batch-output.c and the tests count up to it */
};
const char *batch_event_name(enum batch_event_kind k);

/* What a port or target shows. Strings belong to the engine until the callback returns. */
struct batch_slot {
        unsigned index;
        const char *target;            /* /dev/sdX or the image file */
        const char *port, *serial;     /* "" when unknown */
        uint64_t capacity;
        const char *pupil;             /* "UAI/ID" or NULL */
        const char *pupil_name;        /* "First LAST" or NULL */
        const char *family_name, *first_name, *class_name;   /* the pupil's, or NULL */
        bool is_running;
        enum flash_step step;
        /* BATCH_STEP: seconds since the batch started when the worker entered the step (its
         * own clock: the event itself may be told later, while the coordinator is busy). */
        double step_at;
        uint64_t done, total;          /* bytes of the running step */
        double rate;                   /* bytes/s of the running step */
        double eta;                    /* seconds left in the running step; < 0 unknown */
        enum batch_event_kind last;    /* the key's last event: its result once it ended */
        const struct flash_report *report;   /* valid once the key ended */
        bool is_removed;               /* pulled out while it was written */
        const char *message;           /* a refused disk: its reasons (lib/device's English); "" otherwise */
        unsigned refusals;             /* a refused disk: its failing rules (enum device_refusal)... */
        const struct cart_findings *findings;   /* ... and what they found, for cmd/'s words; or NULL */
        /* --update, --repair: what was done to a key updated in place, valid once it ended
         * (BATCH_DONE); NULL for a key flashed (flash_if_needed) or skipped. */
        const struct update_report *update;
        bool is_flashed_instead;       /* not updatable in place, being flashed (flash_if_needed) */
        bool is_in_place;              /* the batch updates or repairs (BATCH_MODE_UPDATE, _REPAIR) */
};

struct batch_summary {
        uint64_t n_done, n_failed, n_cancelled, n_skipped, n_refused, n_running;
        int64_t n_without_key;         /* pupils of the class still without a key; -1 stock mode */
        double elapsed;                /* seconds */
        double keys_per_hour;          /* done keys */
        unsigned stop_level;           /* 0 running, 1 no new keys, 2 cancelling */
        /* A journal server that went away (PostgreSQL): the batch takes no new key until it is
         * back; keys that ended meanwhile are recorded when it comes back (n_recorded_late),
         * or, after journal_wait seconds, left unrecorded (their start stays in the journal)
         * and kept in spool_dir, from which the station's next batch records them (spool.h);
         * one that could not be spooled is closed as interrupted by that batch. */
        bool is_journal_lost;          /* the connection was lost during the batch */
        uint64_t n_recorded_late, n_unrecorded;
        /* Of n_unrecorded, those kept in spool_dir (spool.h): the next batch records them. */
        uint64_t n_spooled;
        /* At the start: key ends of earlier batches recorded from spool_dir, files refused. */
        uint64_t n_spool_replayed, n_spool_refused;
        /* --update, --repair: keys left alone because they cannot be updated in place (those
         * flashed instead with flash_if_needed count as done or failed). */
        uint64_t n_not_updatable;
};

struct batch_event {
        enum batch_event_kind kind;
        const struct batch_slot *slot;    /* NULL for BATCH_TICK and BATCH_INTERRUPTED_BEFORE */
        const struct batch_summary *summary;
        const struct journal_interrupted *interrupted;   /* BATCH_INTERRUPTED_BEFORE, BATCH_SPOOLED_BEFORE */
        const char *spool_path;                          /* BATCH_SPOOLED_BEFORE: the file it came from */
        /* BATCH_FAILED: the key's failure (its report's); BATCH_JOURNAL_ERROR: the journal's.
         * cmd/ makes the words (cmd/reason.c), --json and the journal store the reason code. */
        const struct cart_error *error;
        int error_r;
};
typedef void (*batch_event_fn)(void *userdata, const struct batch_event *ev);

enum batch_mode {
        BATCH_MODE_FLASH,       /* each key flashed (with its pupil in roster mode) */
        /* Each key updated in place to the station's release, keeping its pupil's files and
         * owner (station_update()); a key already holding it, repaired; one intact, skipped.
         * No pupil is claimed and no key is issued: the key stays whose it was. */
        BATCH_MODE_UPDATE,
        BATCH_MODE_REPAIR,      /* each key repaired against the station's release, its own */
};

struct batch_options {
        struct station *station;               /* borrowed */
        enum batch_mode mode;
        /* BATCH_MODE_UPDATE, _REPAIR: a key that cannot be updated in place is flashed as a
         * stock key instead (its pupil's files erased: cmd/ asks the pupil's consent in its
         * words), recorded as a flash in the journal; its old holder's issue is closed there
         * as for any key flashed as stock. false: it is left alone (BATCH_NOT_UPDATABLE). */
        bool flash_if_needed;
        enum update_check check;               /* BATCH_MODE_UPDATE, _REPAIR: station_update()'s */
        struct journal *journal;               /* borrowed; used from batch_run()'s thread only */
        const struct sign_trust *trust;        /* for the "already intact" check */
        const char *school, *class_name;       /* roster mode when class_name is set */
        const char *operator;
        unsigned jobs;                         /* at most this many workers; 0: no cap */
        uint64_t count;                        /* stop after this many keys done; 0: no limit */
        unsigned idle_exit;                    /* seconds without a running key; 0: never */
        bool force;                            /* flash keys that already hold the release */
        /* Fixed targets (image files or devices) instead of hot-plug. */
        const char *const *targets;
        size_t n_targets;
        uint64_t image_size;                   /* image files: create or grow them to this size */
        /* Hot-plug (when n_targets == 0): keys arrive through this context's monitor. */
        struct device_context *devices;
        bool no_probe;
        /* Erase what each key held (station_key.erase): auto asks the journal whose key it was
         * before its worker starts, then the worker reads the key (station/held.h). */
        enum cart_erase erase;
        unsigned tick_msec;                    /* BATCH_TICK and progress period; 0: 250 */
        /* Seconds to wait for a journal server that went away, to record the keys that ended
         * meanwhile; 0: BATCH_JOURNAL_WAIT. */
        unsigned journal_wait;
        /* A PostgreSQL journal: where the ends of keys left unrecorded after journal_wait are
         * kept (spool.h), and replayed from at the start of the batch; NULL: nowhere. */
        const char *spool_dir;
        batch_event_fn on_event;
        void *userdata;
};

struct batch;
int batch_new(const struct batch_options *o, struct batch **ret, struct cart_error *err);
struct batch *batch_free(struct batch *b);
DEFINE_POINTER_CLEANUP(struct batch, batch_free);

/*
 * Run until: every fixed target ended; or count keys done; or idle_exit seconds without a
 * running key; or batch_stop() and the keys in progress ended. Returns 0, or a negative
 * errno when the engine itself failed (the monitor, a thread): keys that fail are events,
 * never an error of the batch.
 */
int batch_run(struct batch *b, struct cart_error *err);

/*
 * Async-signal-safe. First call: take no new key, let those in progress finish. Second:
 * cancel them too (each is recorded interrupted).
 */
void batch_stop(struct batch *b);

const struct batch_summary *batch_get_summary(const struct batch *b);

