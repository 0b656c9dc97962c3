/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside the batch engine: its slots (one per port or target) and the coordinator's state,
 * shared by batch.c (workers, journal, the loop) and batch-device.c (hot-plug). */
#pragma once

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "batch/batch.h"

enum slot_state { SLOT_QUEUED, SLOT_RUNNING, SLOT_ENDED };

/* What a worker sends the coordinator through the pipe, in order: its key's step
 * transitions (MSG_STEP, each once), then MSG_ENDED, its last message. */
enum { MSG_ENDED, MSG_WANT_START, MSG_STOP, MSG_STEP };
struct msg {
        uint32_t index, kind;
        uint32_t step;                  /* MSG_STEP: the enum flash_step entered */
        double at;                      /* MSG_STEP: batch_mono() when the worker entered it */
};

struct slot {
        struct batch_slot view;
        struct batch *b;
        enum slot_state state;
        char *target, *port, *serial, *pupil, *pupil_name;
        char *uid;                      /* the key's uid in the journal once its start is recorded */
        char vid_pid[10];
        char *vendor, *product;
        bool is_device;
        dev_t devnum;
        bool is_removed;
        uint32_t volume_id;
        struct journal_pupil_info *info;   /* roster mode: the pupil claimed, with its names */

        /* The worker's side. */
        pthread_t thread;
        bool has_thread;
        bool check_intact;
        uint32_t intact_volume_id;
        enum flash_held journal_held;   /* what the journal says the key held (--erase auto) */
        bool is_skipped;
        struct update_report *update;   /* --update, --repair: what station_update() did */
        bool is_not_updatable;          /* station_update() refused it: flashed next, or left alone */
        int sent_step;                  /* the last step queued to the coordinator; -1 none */
        atomic_int step;                /* the running step, for the sampled progress */
        atomic_uint_fast64_t done, total;
        atomic_bool cancel;
        /* Handshake after the intact check: the coordinator records the start first. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int go;                         /* 0 wait, 1 write the key, -1 give up */
        struct flash_report report;
        struct cart_error err;
        int r;

        /* The coordinator's view of the progress. */
        int seen_step;                  /* the last step emitted (BATCH_STEP); -1 none yet */
        double step_started;
        char message[1024];             /* a refused disk's reasons (lib/device's English) */
        struct cart_findings findings;  /* ... and what its rules found (view.findings) */
        struct cart_error jerr;         /* the journal's refusal, or the claim's */
        int jr;
        enum batch_event_kind abort_kind;   /* why a key ended without being written */
        bool is_unrecorded;             /* ended while the journal server was away */
        struct owner_fields owner;      /* the pupil's, for the owner file (strings: info's) */
        double end_by;                  /* its worker failed as a pulled key does: ended by then */
};

struct batch {
        struct batch_options o;
        struct slot **slots;
        size_t n_slots;
        int wake[2];
        atomic_bool is_freeing;         /* batch_free(): nobody reads the pipe any more */
        volatile sig_atomic_t n_stop;   /* batch_stop() calls */
        unsigned stop_level;
        struct device_monitor *monitor;
        struct batch_summary summary;
        double started, last_activity;
        uint64_t n_running, n_queued;
        struct cart_error monitor_err;
        double journal_lost_at, journal_retry_at;   /* batch_mono(); 0: connected */
};

double batch_mono(void);
void batch_emit(struct batch *b, enum batch_event_kind kind, struct slot *s, const struct cart_error *error, int r);
/* A slot for a new key: the port's slot again once its previous key ended, else a new one. */
int batch_slot_get(struct batch *b, const char *target, const char *port, struct slot **ret);
int batch_slot_queue(struct batch *b, struct slot *s);

/* Hot-plug (batch-device.c): the monitor's callback, and the keys present at start. */
int batch_on_device(const struct device_event *ev, void *userdata);
int batch_scan_present(struct batch *b, struct cart_error *err);
int batch_target_identify(struct batch *b, struct slot *s);
