/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pupil rosters: a school's SIECLE "Élèves sans adresses" export (XML, or the .zip it comes
 * in) or a CSV export (an ENT's, a spreadsheet's), streamed one pupil at a time.
 *
 * Data minimisation: a reader hands on only the pupil id, family name, first name, class,
 * school UAI and whether the pupil has left. The INE is handed on only as a keyed hash
 * (keep_ine), the birth date only ever enters a derived id; addresses, phones, e-mails and
 * every other column or element are read past and never copied.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum roster_format { ROSTER_FORMAT_SIECLE, ROSTER_FORMAT_CSV };
/* "siecle", "csv". */
const char *roster_format_to_string(enum roster_format f);

/* One CSV record, quoted newlines included, is at most this long: a longer one (a 10 MB
 * line) is refused with -EBADMSG before it is buffered. */
#define ROSTER_CSV_MAX_RECORD (64 * 1024)
/* The station secret's length (roster_secret_load), and the shortest secret accepted. */
#define ROSTER_SECRET_LEN 32
/* Derived ids: 32 lower-case hex digits (128 bits of HMAC-SHA256). */
#define ROSTER_DERIVED_ID_LEN 32
/* ine_hmac: 64 lower-case hex digits (HMAC-SHA256). */
#define ROSTER_INE_HMAC_LEN 64

/* One pupil, valid only during the callback. Strings are UTF-8 (NFC as given), never NULL ("" when absent). */
struct roster_pupil {
        const char *id;            /* ELEVE_ID, the CSV's id column, or the derived id (see roster_derive_id) */
        const char *family_name;
        const char *first_name;
        const char *class_name;    /* SIECLE: the STRUCTURE with TYPE_STRUCTURE D; CSV: classe/division */
        const char *school_uai;    /* the file's UAI (SIECLE PARAMETRES/UAJ, CSV column) or options->school_uai */
        bool has_left;             /* SIECLE DATE_SORTIE present (CSV: a non-empty "date de sortie" column) */
        const char *ine_hmac;      /* hex HMAC-SHA256(station secret, INE) when keep_ine and an INE is given; else NULL */
        bool has_derived_id;
        unsigned line;             /* line of the record in the file (CSV line, or XML line of <ELEVE>) */
};

struct roster_info {
        enum roster_format format;
        char school_uai[16];       /* "" when the file names none (or a CSV names several) */
        char year[16];             /* SIECLE ANNEE_SCOLAIRE, "" otherwise */
        char encoding[32];         /* as detected/declared: "UTF-8", "ISO-8859-15"... */
        size_t n_pupils;
        bool is_zip;               /* SIECLE read from inside a .zip */
        char separator;            /* CSV: ';', ',' or '\t'; 0 for SIECLE */
};

struct roster_options {
        const char *school_uai;            /* --school: used when the file names none; a mismatch with the file's is -EBADMSG */
        bool keep_ine;                      /* store the INE as HMAC only when true */
        const uint8_t *secret; size_t secret_len;   /* station secret: key of ine_hmac and of derived ids */
};

/* Called once per pupil in file order; a negative return stops the read and is returned (err filled by the callee). */
typedef int (*roster_pupil_fn)(void *userdata, const struct roster_pupil *p, struct cart_error *err);

/*
 * Detect the format (SIECLE XML, SIECLE zip, CSV) from the bytes, stream the file, call fn
 * per pupil. Memory does not grow with the number of pupils beyond what a SIECLE join of
 * class to pupil needs: SIECLE lists STRUCTURES after ELEVES, so a first pass keeps only
 * ELEVE_ID -> class (ids in one buffer, classes interned), and a second pass streams the
 * pupils one <ELEVE> at a time (a .zip is reopened for each pass). A CSV is read twice too:
 * once to decide its encoding from the bytes, once to parse it, one record at a time.
 *
 * Every pupil must end up with a school UAI (the file's or o->school_uai): a file naming
 * none, read without o->school_uai, is -EBADMSG before any callback. A secret is needed
 * when ids are derived (a CSV without an id column) or keep_ine is set: -EINVAL otherwise.
 *
 * Errors name the file and the line or element: -EBADMSG bad content, -EILSEQ bad
 * encoding, -ENOENT (and other -errno) the file cannot be opened, -ENOMEM. ret_info is
 * written only on success.
 */
int roster_read(const char *path, const struct roster_options *o, roster_pupil_fn fn, void *userdata,
                struct roster_info *ret_info, struct cart_error *err);

/*
 * The station secret (32 random bytes) kept in STATE_DIR/station.secret, created 0600 with
 * O_EXCL when missing (written to a temporary file first, then linked into place, so a
 * crash never leaves a short secret). An existing file must be a regular file of exactly 32
 * bytes not readable by group or others (-EBADMSG, -EPERM otherwise). Losing it makes every
 * derived id and INE hash change: back it up with the journal.
 */
int roster_secret_load(const char *state_dir, uint8_t secret[32], struct cart_error *err);

/*
 * Derived id for a CSV without an id column: documented keyed hash of school UAI, family name, first name and
 * the birth date when the file has one (the birth date itself is never stored or returned).
 *
 * ret = the first 16 bytes, in hex, of HMAC-SHA256(secret, "cartable-pupil-id-v1" NUL
 * UAI NUL family NUL first NUL birth), where UAI is upper-cased, names are folded (case,
 * accents of Latin letters, composed or not, runs of spaces, leading and trailing spaces:
 * a re-export that only changes those keeps the id) and birth is YYYY-MM-DD (from DD/MM/YYYY, DD/MM/YY is
 * refused, or YYYY-MM-DD), empty when NULL or "". Two pupils of the same school with the
 * same names get distinct ids only when the file gives their (different) birth dates; the
 * same id twice in a file is for the caller to report as homonyms.
 * -EINVAL without a secret (fewer than 16 bytes), -EBADMSG on a birth date not in those forms.
 */
int roster_derive_id(const uint8_t *secret, size_t secret_len, const char *uai, const char *family, const char *first,
                     const char *birth_date, char ret[static 33], struct cart_error *err);

/* A UAI as the Éducation nationale writes it: 7 digits and a letter ("0750001A"). The
 * letter is case-insensitive here; its check digit is not verified (test rosters invent UAIs). */
bool roster_uai_is_valid(const char *uai);
