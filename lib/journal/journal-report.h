/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What reports read from the journal (lib/report formats it): counts per school and
 * class, releases in the field, lost/stolen/replaced events over time, and the keys with
 * their holder, release and last verification. Every query streams rows to a callback in
 * a fixed order, so a report over 100,000 pupils holds one row at a time; strings belong
 * to the journal until the callback returns.
 */
#pragma once

#include "journal/journal.h"

struct journal_report_filter {
        const char *school, *class_name;     /* NULL: any */
};

struct journal_class_counts {
        const char *school, *class_name;
        int64_t pupils;           /* active pupils */
        int64_t left;             /* pupils of the class who have left */
        int64_t issued;           /* active pupils holding an issued key */
        int64_t without_key;      /* active pupils holding none */
        int64_t lost, stolen, replaced, returned;   /* events of the class's pupils */
};
typedef int (*journal_class_fn)(void *userdata, const struct journal_class_counts *c);
/* By school, then class. */
int journal_report_classes(struct journal *j, const struct journal_report_filter *f,
                           journal_class_fn fn, void *userdata, struct cart_error *err);

struct journal_release_count {
        const char *name, *version;
        int64_t serial;
        int64_t keys;             /* keys issued whose last good flash wrote this release */
};
typedef int (*journal_release_fn)(void *userdata, const struct journal_release_count *c);
/* Newest serial first. */
int journal_report_releases(struct journal *j, const struct journal_report_filter *f,
                            journal_release_fn fn, void *userdata, struct cart_error *err);

/* Lost, stolen and replaced events of the filter's pupils, in journal order. */
typedef int (*journal_incident_fn)(void *userdata, const char *kind, int64_t time_usec);
int journal_report_incidents(struct journal *j, const struct journal_report_filter *f,
                             journal_incident_fn fn, void *userdata, struct cart_error *err);

struct journal_report_key {
        const char *uid, *serial, *volume_id, *status;
        int64_t updated_usec;
        const char *school, *class_name, *pupil_id, *family_name, *first_name;
        bool is_active;           /* the pupil */
        const char *release_name, *release_version;
        int64_t release_serial;   /* -1: never flashed well here */
        int64_t verified_usec;    /* -1: never verified */
        const char *verified_outcome;
        bool is_conflict;         /* issued, and the pupil holds another issued key too (two
                                   * stations issued one each while apart: journal merge) */
        int64_t issued_usec;      /* its last issue to a pupil; -1: none recorded */
        const char *run;          /* the batch run of its last start (schema v5), or NULL */
};
typedef int (*journal_report_key_fn)(void *userdata, const struct journal_report_key *k);
/* Keys that were ever issued (they name a pupil), in roster order of their pupil. */
int journal_report_keys(struct journal *j, const struct journal_report_filter *f,
                        journal_report_key_fn fn, void *userdata, struct cart_error *err);

/* The batch run of the newest key start among the filter's pupils: 0 and *ret (free it),
 * or -ENOENT when none was recorded by a batch. */
int journal_report_last_run(struct journal *j, const struct journal_report_filter *f, char **ret,
                            struct cart_error *err);

/* The receipts sheet: active pupils in roster order, with the serial of the key held. */
int journal_report_receipts(struct journal *j, const struct journal_report_filter *f,
                            journal_pupil_fn fn, void *userdata, struct cart_error *err);
