/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Making one key, in order: size check, capacity probe, plan (wipes, partition table,
 * FAT32 with the release and /.cartable/), write, read-back, partition re-read.
 *
 * Made for a batch engine with one worker thread per key: no globals, the release is
 * shared read-only (release_ref), each key has its own flash_target, options and report.
 * The report says everything a journal records about the key, filled as the steps run,
 * on success and on failure alike; the event callback sees it after each step and chunk.

 *
 * Threading: flash_key() may run in several threads at once, one key each. What crosses
 * threads is the release (release_ref/unref are atomic; it is read-only once opened) and
 * device_info references (see device/device.h); a flash_target, its options, report and
 * error, and the owner fields belong to the thread of that key, and on_event runs in it.
 * tests/unit/test-threads.c checks this under ThreadSanitizer.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "base/plan.h"
#include "flash/probe.h"
#include "release/release.h"

enum flash_step {
        FLASH_STEP_CHECK,       /* release against the key: minimum size */
        FLASH_STEP_PROBE,       /* capacity probe */
        FLASH_STEP_LAYOUT,      /* wipes, partition table, FAT32: the write plan */
        FLASH_STEP_WRITE,
        FLASH_STEP_READBACK,
        FLASH_STEP_REREAD,      /* BLKRRPART */
        FLASH_STEP_DONE,
        /* Zeros over every block the plan leaves alone (what a key held before): runs between
         * layout and write, numbered last so that stored step numbers (a batch's spool) keep
         * their meaning; the highest step number. */
        FLASH_STEP_ERASE,
};
const char *flash_step_to_string(enum flash_step s);

enum flash_outcome {
        FLASH_OUTCOME_NONE,     /* still running */
        FLASH_OUTCOME_OK,
        FLASH_OUTCOME_REFUSED,  /* too small, counterfeit: nothing written */
        FLASH_OUTCOME_FAILED,   /* I/O error or read-back mismatch */
        FLASH_OUTCOME_CANCELLED,/* the event callback stopped it: report.step says where */
};
const char *flash_outcome_to_string(enum flash_outcome o);

/* What a key held before it was written, as the station judged it for --erase auto. */
enum flash_held {
        FLASH_HELD_UNKNOWN,     /* not judged (--erase always or never) */
        FLASH_HELD_NOTHING,     /* a new or empty image file, a FAT volume without a file: blank */
        FLASH_HELD_RELEASE,     /* a cartable key of nobody, holding only its signed release */
        FLASH_HELD_SAME_PUPIL,  /* a key of the pupil it is written for */
        FLASH_HELD_OTHER_PUPIL, /* a key written for another pupil (its record or the journal) */
        FLASH_HELD_RETURNED,    /* returned, lost and found, stolen and found, replaced or retired */
        FLASH_HELD_FOREIGN,     /* files outside a signed release, or content cartable cannot read */
};
/* "unknown", "blank", "release", "same-pupil", "other-pupil", "returned", "foreign". */
const char *flash_held_to_string(enum flash_held h);
/* Whether --erase auto erases a key that held h. */
static inline bool flash_held_needs_erase(enum flash_held h) {
        return h == FLASH_HELD_OTHER_PUPIL || h == FLASH_HELD_RETURNED || h == FLASH_HELD_FOREIGN;
}

/* Who the key is; what device_target knows (empty for an image file). */
struct flash_identity {
        char serial[128];
        char vid_pid[10];        /* "0781:5581" */
        char port[64];           /* USB port path "2-1.3" */
        char device[128];        /* /dev/sdb, or the image file */
        uint64_t capacity;       /* advertised, bytes */
};

struct flash_report {
        struct flash_identity key;
        bool is_probed;
        enum probe_verdict probe_verdict;
        uint64_t real_capacity;          /* from the probe; = capacity when not probed */
        uint32_t volume_id;
        char release_name[128], release_version[64], release_key_id[17];
        uint64_t release_serial;
        int64_t started_usec, finished_usec;   /* CLOCK_REALTIME */
        int64_t flashed_at;                    /* seconds, as in the key record (flash/key-record.h) */
        uint64_t partition_offset, partition_size;
        uint32_t cluster_size;
        uint64_t content_bytes, plan_bytes;    /* files; everything the plan writes */
        uint64_t bytes_written, bytes_read;
        uint64_t bytes_read_in_all;            /* station_update(): every byte read from the key */
        double write_seconds, read_seconds;
        bool is_direct;
        /* The erase (flash_options.erase): asked how, what the key held, what it wrote, how,
         * how long, and what was read back. */
        enum cart_erase erase_mode;
        enum flash_held held;
        bool is_erased;
        uint64_t erase_bytes, erase_checked_bytes;
        double erase_seconds;
        const char *erase_method;              /* "zeros"; NULL: no erase */
        enum flash_outcome outcome;
        enum flash_step step;                  /* the running step, or the failing one */
        int error;                             /* negative errno of the failure, or 0 */
        bool has_failed_offset;
        uint64_t failed_offset;
        enum cart_reason reason;               /* the failure's reason code, or CART_REASON_NONE */
        struct cart_error failure;             /* its arguments (cmd/ makes the words) */
};

/*
 * step and report after each step; done/total bytes of the write and read-back phases.
 * Return 0 to go on, or a negative errno (-ECANCELED) to stop the key cleanly: nothing
 * more is written, sector 0 is left cleared (cleared again if the write had finished), so
 * a cut key is never taken for a good one; flash_key() returns that value with the
 * outcome FLASH_OUTCOME_CANCELLED and report.step the step it stopped in. A return at
 * FLASH_STEP_REREAD or FLASH_STEP_DONE is ignored: the key has been read back whole.
 */
typedef int (*flash_event_fn)(void *userdata, const struct flash_report *report,
                              enum flash_step step, uint64_t done, uint64_t total);

struct flash_target {
        int fd;                          /* read-write, without O_DIRECT (the writer sets it) */
        uint64_t size;
        uint32_t sector_size;            /* logical; 0 means 512 */
        bool is_block_device;            /* BLKRRPART at the end; probed unless no_probe */
        bool is_new;                     /* a new sparse file: nothing to wipe, zeros are holes */
        struct flash_identity identity;
};

struct flash_options {
        struct release *release;         /* opened with its signature checked; shared */
        bool no_probe;
        bool has_volume_id;
        uint32_t volume_id;              /* otherwise random */
        int64_t time;                    /* of the volume and key.json; 0: now */
        const struct owner_fields *owner;   /* personalised releases; NULL: none */
        size_t chunk_size;               /* 0: writer default */
        /* Erase what the key held: zeros over every block the new layout leaves alone, a
         * sample of them read back (cartable-flash(1), --erase): always, or in auto mode when
         * held says so (the station judges the key first). Never on a new file. */
        enum cart_erase erase_mode;
        enum flash_held held;
        flash_event_fn on_event;
        void *userdata;
};

/* Flash one key. On failure the report names the step, and the offset when there is one;
 * err holds the reason, with the step as context (a copy is in report->failure). Returns 0, or the negative errno of the failure. */
int flash_key(const struct flash_target *t, const struct flash_options *o,
              struct flash_report *report, struct cart_error *err);

/* Start a report for target t and release rel, as flash_key() does first: for callers that
 * refuse a key before flash_key() runs (a journal records every key). */
void flash_report_start(struct flash_report *report, const struct flash_target *t, const struct release *rel);
/* End a report with a failure: outcome, r, err's message prefixed with the step's name
 * (err is prefixed too). Returns r. */
int flash_report_fail(struct flash_report *report, enum flash_outcome outcome, int r, struct cart_error *err);
/* The failure r of the report: error, reason and a copy of err's arguments (err may be NULL). */
void flash_report_set_error(struct flash_report *report, int r, const struct cart_error *err);

/* The write plan alone (what flash_key would write), for image export and dry runs. */
struct flash_plan;
int flash_plan_build(const struct flash_target *t, const struct flash_options *o,
                     struct flash_report *report, struct flash_plan **ret, struct cart_error *err);
struct flash_plan *flash_plan_free(struct flash_plan *fp);
DEFINE_POINTER_CLEANUP(struct flash_plan, flash_plan_free);
const struct plan *flash_plan_get(const struct flash_plan *fp);
