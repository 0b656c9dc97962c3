/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by roster.c, the two readers and roster-util.c (their common helpers), and the fuzz
 * harnesses, which call a reader directly. */
#pragma once

#include "roster/roster.h"

struct archive;

/* What both readers share: the caller's options and callback, and the file's name for messages. */
struct roster_ctx {
        const char *path;
        const struct roster_options *o;
        roster_pupil_fn fn;
        void *userdata;
        struct roster_info info;
        char ine_hmac[ROSTER_INE_HMAC_LEN + 1];
        char today[11];                          /* YYYY-MM-DD: o->today or the local date */
};

int roster_csv_read(struct roster_ctx *c, struct cart_error *err);
/* is_zip: the file is a .zip holding the XML export. */
int roster_siecle_read(struct roster_ctx *c, bool is_zip, struct cart_error *err);

/* ---- roster-source.c: a SIECLE export's bytes, guarded (see there why) ---- */

#define ROSTER_XML_MAX_TAG 4096          /* a start or end tag, a declaration, a processing instruction */
#define ROSTER_XML_MAX_RUN (64 * 1024)   /* text between two tags, a comment, a CDATA section */
#define ROSTER_XML_MAX_NAMES 512         /* distinct element and attribute names */
#define ROSTER_XML_MAX_NAME 64           /* bytes of one name */
#define ROSTER_XML_NAME_SLOTS 1024

enum roster_xml_limit {
        ROSTER_XML_OK,
        ROSTER_XML_LONG_TAG,
        ROSTER_XML_LONG_TEXT,
        ROSTER_XML_LONG_COMMENT,
        ROSTER_XML_LONG_NAME,
        ROSTER_XML_TOO_MANY_NAMES,
};

struct roster_xml_guard {
        enum { GUARD_TEXT, GUARD_LT, GUARD_BANG, GUARD_TAG, GUARD_PI, GUARD_COMMENT, GUARD_CDATA } state;
        unsigned line;
        uint32_t run;                    /* bytes of the current tag, text, comment... */
        char quote;                      /* inside a tag: the quote of the value being read, or 0 */
        char bang[8];                    /* what follows "<!", to tell a comment, CDATA or a declaration */
        uint8_t bang_len;
        unsigned char prev, prev2;       /* the last bytes, for "-->", "]]>" and "?>" */
        bool in_name, ws_only, is_end_tag;
        uint32_t name_len;
        uint64_t name_hash;              /* of the name, or of the text run (whitespace runs count as names) */
        uint64_t names[ROSTER_XML_NAME_SLOTS];
        unsigned n_names;
        enum roster_xml_limit failed;
        unsigned fail_line;
};

struct roster_utf8_scan {
        unsigned need;
        unsigned char lo, hi;
        bool is_invalid;
        uint64_t n_multibyte;
};
/* Every byte so far valid UTF-8, and at least one character past ASCII. */
bool roster_utf8_scan_is_utf8(const struct roster_utf8_scan *u);

struct roster_source {
        int fd;
        struct archive *a;
        uint64_t total;                  /* bytes inflated from the zip */
        char msg[256];                   /* a zip read error, for the message */
        int r;                           /* the first read error: -errno, -EBADMSG (guard or zip), -EFBIG */
        struct roster_xml_guard guard;
        struct roster_utf8_scan scan;
        bool want_scan;                  /* scan tells whether the bytes are UTF-8 (the first pass) */
};

/* The member of the zip at path that is a SIECLE pupils export: regular, named *.xml, not
 * hidden (dot files, macOS's __MACOSX/ AppleDouble files), root element <BEE_ELEVES>. None,
 * or several, is -EBADMSG naming what the zip holds; a damaged or truncated zip too. */
int roster_zip_choose(const char *path, int64_t *ret_index, char *ret_name, size_t name_size,
                      struct cart_error *err);
/* The file (zip_index < 0), or the zip's member number zip_index, ready to be read. */
int roster_source_open(struct roster_source *src, const char *path, int64_t zip_index, struct cart_error *err);
/* An xmlInputReadCallback: -1 with src->r set on an error or a guard's limit. */
int roster_source_read(void *ctx, char *buf, int len);
void roster_source_close(struct roster_source *src);

/* The school UAI of a file (may be NULL or ""), checked against o->school_uai and copied,
 * upper-cased, into c->info.school_uai. where names the line or element for messages. */
int roster_set_school(struct roster_ctx *c, const char *file_uai, const char *where, struct cart_error *err);

/* A row's or file's UAI checked (shape, and against o->school_uai) and upper-cased into ret. */
int roster_check_uai(struct roster_ctx *c, const char *uai, const char *where, char ret[16], struct cart_error *err);

/* Names, classes and ids handed on: at most this many bytes, no control characters. */
#define ROSTER_MAX_VALUE 256
int roster_check_value(struct roster_ctx *c, const char *what, const char *value, unsigned line, struct cart_error *err);

/* A leave date as the file gives it (may be "" or NULL): p->leave_date (normalised,
 * pointing into buf) and p->has_left (the date is today or before). A CSV's leaving
 * column may hold a mark rather than a date ("oui", "X"): with is_mark_ok, text that is no
 * date means left, undated; otherwise it is -EBADMSG naming what and line. */
int roster_leave_date(struct roster_ctx *c, const char *value, bool is_mark_ok, const char *what, unsigned line,
                      struct roster_pupil *p, char buf[static 11], struct cart_error *err);

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
