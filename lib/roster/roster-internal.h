/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by roster.c, the two readers and roster-util.c (their common helpers), and the fuzz
 * harnesses, which call a reader directly. */
#pragma once

#include "roster/roster.h"

/* What both readers share: the caller's options and callback, and the file's name for messages. */
struct roster_ctx {
        const char *path;
        const struct roster_options *o;
        roster_pupil_fn fn;
        void *userdata;
        struct roster_info info;
        char ine_hmac[ROSTER_INE_HMAC_LEN + 1];
};

int roster_csv_read(struct roster_ctx *c, struct cart_error *err);
/* is_zip: the file is a .zip holding the XML export. */
int roster_siecle_read(struct roster_ctx *c, bool is_zip, struct cart_error *err);

/* The school UAI of a file (may be NULL or ""), checked against o->school_uai and copied,
 * upper-cased, into c->info.school_uai. where names the line or element for messages. */
int roster_set_school(struct roster_ctx *c, const char *file_uai, const char *where, struct cart_error *err);

/* A row's or file's UAI checked (shape, and against o->school_uai) and upper-cased into ret. */
int roster_check_uai(struct roster_ctx *c, const char *uai, const char *where, char ret[16], struct cart_error *err);

/* Names, classes and ids handed on: at most this many bytes, no control characters. */
#define ROSTER_MAX_VALUE 256
int roster_check_value(struct roster_ctx *c, const char *what, const char *value, unsigned line, struct cart_error *err);

/* Fill p->school_uai, p->ine_hmac (from ine, may be NULL) and hand p to the callback. */
int roster_emit(struct roster_ctx *c, struct roster_pupil *p, const char *ine, struct cart_error *err);

/* Trim ASCII spaces (and tabs, CR, LF, NBSP U+00A0) at both ends, in place. */
char *roster_strip(char *s);
/* Line breaks and tabs inside a value (a spreadsheet cell on two lines) become one space,
 * in place: a value is one line of text. */
char *roster_squash_space(char *s);
/* A header name or a name folded for matching: Latin letters without accents, lower case,
 * only [a-z0-9] kept ("Prénom 1" -> "prenom1"); spaces kept (collapsed) when keep_spaces.
 * ret has room for strlen(s) + 1 bytes. */
void roster_fold(const char *s, bool keep_spaces, char *ret);

/* Make room for n elements of size each in *p (capacity *cap, in elements), doubling:
 * 0 or -ENOMEM (then *p is unchanged). */
int roster_grow(void *p, size_t *cap, size_t n, size_t size);
