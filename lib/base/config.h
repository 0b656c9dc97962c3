/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The station's configuration file (INI, read with inih), default
 * /etc/cartable/cartable.conf, or $CARTABLE_CONFIG, or --config FILE:
 *
 *   [trust]
 *   key = /etc/cartable/trusted/departement.pub     ; repeatable; a file or a directory
 *   [policy]
 *   min-size = 1G            ; smallest key accepted
 *   max-size = 256G          ; largest disk accepted as a key
 *   allow = 0781:5581        ; VID:PID allow list, repeatable (empty: any)
 *   deny = 13fe:4200         ; VID:PID deny list, repeatable
 *   [station]
 *   state-dir = /var/lib/cartable   ; rollback serials, the station secret, the journal
 *   name = atelier-1         ; this station in the journal (default: the host name)
 *   [journal]
 *   path = /srv/cartable/journal.db ; default: STATE_DIR/journal.db
 *   url = postgresql://journal.example/cartable?sslmode=verify-full ; or a PostgreSQL journal (last wins)
 *                            ; (no password here: ~/.pgpass, PGPASSFILE or a service file)
 *   wait = 60                ; seconds a batch waits for a journal server that went away
 *   [schools]
 *   0750001A = Collège Jean Moulin   ; a school's name, printed on reports, receipts, labels
 *   [flash]
 *   erase = auto             ; auto, always or never: erase what a key held (cartable-flash(1))
 */
#pragma once

#include "base/error.h"

#define CONFIG_DEFAULT_MAX_SIZE (256 * GIB)
#define CONFIG_DEFAULT_MIN_SIZE (64 * MIB)

/* Erasing what a key held before it is written (--erase, [flash] erase). */
enum cart_erase {
        CART_ERASE_AUTO,       /* unless the key is blank or holds only its pupil's key or a stock release */
        CART_ERASE_ALWAYS,
        CART_ERASE_NEVER,      /* asked explicitly; recorded */
};
int cart_erase_from_string(const char *s, enum cart_erase *ret);
const char *cart_erase_to_string(enum cart_erase e);

struct cart_config {
        char **trust;
        size_t n_trust;
        uint64_t min_size, max_size;
        char **allow, **deny;          /* "vvvv:pppp", lower-case hex */
        size_t n_allow, n_deny;
        char *state_dir;
        char *station_name;            /* NULL: the host name */
        char *journal_path;            /* [journal] path or url; NULL: STATE_DIR/journal.db */
        unsigned journal_wait;         /* [journal] wait: seconds a batch waits for a lost server; 0: default */
        char **school_uai, **school_name; /* [schools]: UAI = name, n_schools of each */
        size_t n_schools;
        enum cart_erase erase;         /* [flash] erase */
        char *path;                    /* the file read, NULL when none was */
};

/*
 * path NULL or empty: the default file (cmd/ resolves --config and $CARTABLE_CONFIG); a missing default file gives the
 * built-in defaults. A named file that is missing is -ENOENT. A bad line is -EBADMSG
 * with "FILE:LINE: ..." in err.
 */
int config_load(const char *path, struct cart_config **ret, struct cart_error *err);
struct cart_config *config_free(struct cart_config *c);
/* The name [schools] gives the school uai (the last line for it wins), or NULL. */
const char *config_school_name(const struct cart_config *c, const char *uai);
DEFINE_POINTER_CLEANUP(struct cart_config, config_free);
