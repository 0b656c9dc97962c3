/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pupil rosters: a school's SIECLE "Élèves sans adresses" export (XML, or the .zip it comes
 * in) or a CSV export (an ENT's, a spreadsheet's), streamed one pupil at a time.
 *
 * Data minimisation: a reader hands on only the pupil id, family name, first name, class,
 * school UAI, whether the pupil has left and the leave date. The INE is handed on only as a keyed hash
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

/* A SIECLE pupil's structures are odd (GEPI calls these anomalies): the pupil is still
 * handed on, with the class of the first block, and the caller says so. Bits of
 * roster_pupil.anomalies. */
enum {
        ROSTER_ANOMALY_STRUCTURES = 1 << 0,  /* several STRUCTURES_ELEVE blocks for one ELEVE_ID */
        ROSTER_ANOMALY_CLASSES = 1 << 1,     /* several divisions (TYPE_STRUCTURE D): other_class is the second */
};

/* One pupil, valid only during the callback. Strings are UTF-8 (NFC as given), never NULL ("" when absent). */
struct roster_pupil {
        const char *id;            /* ELEVE_ID, the CSV's id column, or the derived id (see roster_derive_id) */
        const char *family_name;
        const char *first_name;
        const char *class_name;    /* SIECLE: the STRUCTURE with TYPE_STRUCTURE D; CSV: classe/division */
        const char *school_uai;    /* the file's UAI (SIECLE PARAMETRES/UAJ, CSV column) or options->school_uai */
        bool has_left;             /* the leave date has come (see leave_date), or is_inactive */
        const char *leave_date;    /* YYYY-MM-DD from SIECLE DATE_SORTIE or a CSV leaving date column, or "";
                                    * a date after options->today leaves has_left false: the pupil is
                                    * still there and leaves on that day */
        bool is_inactive;          /* SIECLE's "Inactifs" pseudo-division: in no class, not active (has_left) */
        unsigned anomalies;        /* ROSTER_ANOMALY_* */
        const char *other_class;   /* with ROSTER_ANOMALY_CLASSES: the division not taken; else "" */
        const char *ine_hmac;      /* hex HMAC-SHA256(station secret, INE) when keep_ine and an INE is given; else NULL */
        bool has_derived_id;
        unsigned line;             /* line of the record in the file (CSV line, or XML line of <ELEVE>) */
};

/* Where a file's pupil ids come from: a change between two imports of one school means the
 * same children under new ids (a SIECLE export, then an ENT's CSV). */
enum roster_id_scheme {
        ROSTER_IDS_SIECLE,         /* ELEVE_ID */
        ROSTER_IDS_COLUMN,         /* a CSV's id column (an ENT login, a register number...) */
        ROSTER_IDS_DERIVED,        /* derived from names (and birth dates): roster_derive_id */
};
/* "siecle", "column", "derived". */
const char *roster_id_scheme_to_string(enum roster_id_scheme s);

struct roster_info {
        enum roster_format format;
        char school_uai[16];       /* "" when the file names none (or a CSV names several) */
        char year[16];             /* SIECLE ANNEE_SCOLAIRE (the first year: "2026" for 2026-2027), "" otherwise */
        char exported[24];         /* SIECLE HORODATAGE (or DATE_EXPORT) as "YYYY-MM-DD HH:MM:SS" ("...
                                    * 00:00:00" from a date alone), "" when the file says none */
        char encoding[32];         /* as read: "UTF-8", "ISO-8859-15", "Windows-1252"... */
        char declared_encoding[32];/* SIECLE: the prolog's encoding when the bytes contradict it and were
                                    * read as encoding instead (UTF-8 re-saved under an ISO-8859-15 prolog); else "" */
        size_t n_pupils;
        bool is_zip;               /* SIECLE read from inside a .zip */
        char zip_member[128];      /* the member read ("" when not a zip) */
        char separator;            /* CSV: ';', ',' or '\t'; 0 for SIECLE */
        enum roster_id_scheme id_scheme;
        unsigned header_line;      /* CSV: the line of the header (after a title or blank lines) */
};

struct roster_options {
        const char *school_uai;            /* --school: used when the file names none; a mismatch with the file's is -EBADMSG */
        bool keep_ine;                      /* store the INE as HMAC only when true */
        const uint8_t *secret; size_t secret_len;   /* station secret: key of ine_hmac and of derived ids */
        const char *today;                  /* YYYY-MM-DD that leave dates are compared with; NULL: the local date */
};

/* Called once per pupil in file order; a negative return stops the read and is returned (err filled by the callee). */
typedef int (*roster_pupil_fn)(void *userdata, const struct roster_pupil *p, struct cart_error *err);

/*
 * Detect the format (SIECLE XML, SIECLE zip, CSV) from the bytes, stream the file, call fn
 * per pupil. Memory is bounded by constants whatever the file holds, and time is linear in
 * its size: SIECLE lists STRUCTURES after ELEVES, so a first pass keeps only ELEVE_ID ->
 * class (ids in one buffer, classes interned; at most 500,000 structures, 8 MiB of ids),
 * and a second pass streams the pupils node by node, never expanding an element (a .zip
 * is reopened for each pass); tags, texts and names past roster-source.c's bounds are
 * refused before libxml2 holds them. A CSV is read twice too: once to decide its encoding
 * from the bytes, once to parse it, one record (at most ROSTER_CSV_MAX_RECORD) at a time.
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

/* A UAI as the Éducation nationale writes it: 7 digits and a letter ("0750001A"), the
 * letter in either case. The shape only: see roster_uai_check_letter(). */
bool roster_uai_is_valid(const char *uai);

/* The check letter of a UAI of valid shape: the 7 digits modulo 23 index the letters
 * "ABCDEFGHJKLMNPRSTUVWXYZ" (no I, O or Q). True when uai's letter is that one; the right
 * letter (upper case) into *ret_letter either way. A wrong letter is a typing error, or an
 * invented UAI (test rosters): the caller decides whether it is fatal. */
bool roster_uai_check_letter(const char *uai, char *ret_letter);

/* A name folded as derived ids fold it (case, accents of Latin letters, runs of spaces):
 * to match pupils of two exports by name. ret has room for strlen(s) + 1 bytes. */
void roster_fold_name(const char *s, char *ret);

/* A date as rosters write it, DD/MM/YYYY (or with - or .) or YYYY-MM-DD, into YYYY-MM-DD:
 * 0, or -EBADMSG (DD/MM/YY, impossible days and months, years outside 1900-2200). */
int roster_date_normalise(const char *s, char ret[static 11]);
