/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Is this machine ready to provision keys? One result per check, in a fixed order: the
 * kernel's USB storage drivers, udevd, an automounter, the state directory, the trusted
 * keys, the journal (opens, chains intact), free space, the rollback state. lib/ only collects; cmd/doctor.c
 * prints. A FAIL blocks provisioning; a WARN is worth fixing but does not.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"

enum doctor_status {
        DOCTOR_OK,
        DOCTOR_WARN,
        DOCTOR_FAIL,
};

struct doctor_check {
        const char *name;       /* stable, for --json: "usb-storage", "udevd", ... */
        enum doctor_status status;
        char detail[512];       /* what was found; with has_error, the context of error */
        bool has_error;
        int error_r;            /* the failure's negative errno, with has_error */
        struct cart_error error;   /* its reason code and arguments: cmd/ words them */
        char fix[512];          /* what to do; empty when OK */
        /* detail and fix as lib/'s formats and arguments (their msg is the English text
         * above), for cmd/ to put in the person's words; --json keeps the English */
        struct cart_error detail_words, fix_words;
};

struct doctor_options {
        /* The station as seen under this directory (sys/, proc/, run/, lib/modules/, etc/):
         * tests give a prepared tree; NULL or "" is the real root. Paths from the
         * configuration (state-dir, keys) and tmpdir are taken as they are. */
        const char *root;
        const char *kernel_release;     /* NULL: uname(2) */
        const struct cart_config *config;
        char *const *trust_paths;       /* --trust, replacing the configured keys */
        size_t n_trust_paths;
        const char *tmpdir;             /* NULL: /tmp */
        uint64_t min_free;              /* below: FAIL; 0: DOCTOR_DEFAULT_MIN_FREE */
};

#define DOCTOR_DEFAULT_MIN_FREE (256 * MIB)

struct doctor_report {
        struct doctor_check *checks;
        size_t n_checks;
};

/* Runs every check. Only -ENOMEM fails; what a check finds is in its result. */
int doctor_run(const struct doctor_options *o, struct doctor_report **ret);
struct doctor_report *doctor_report_free(struct doctor_report *r);
DEFINE_POINTER_CLEANUP(struct doctor_report, doctor_report_free);

/* True when a check failed: provisioning would not work on this station. */
bool doctor_report_blocks(const struct doctor_report *r);
const char *doctor_status_to_string(enum doctor_status s);
