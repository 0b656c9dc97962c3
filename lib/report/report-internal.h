/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside lib/report: the tables a report holds, shared by the three formats. */
#pragma once

#include "journal/journal-report.h"
#include "report/report.h"

struct report_class {
        char *school, *class_name;
        struct journal_class_counts n;       /* strings not used: see above */
};

struct report_release {
        char *name, *version;
        int64_t serial, keys;
};

struct report_month {
        int year, month;                     /* month 1..12 */
        int64_t lost, stolen, replaced;
};

struct report {
        const struct report_options *o;
        struct journal *j;
        struct report_class *classes;
        size_t n_classes;
        struct journal_class_counts total;   /* every class summed */
        struct report_release *releases;
        size_t n_releases;
        struct report_month *months;         /* in time order */
        size_t n_months;
        int64_t n_keys;                      /* keys listed, counted while streaming */
};

/* Stream the key list to fn (journal_report_keys with the report's filter). */
int report_keys(struct report *r, journal_report_key_fn fn, void *userdata, struct cart_error *err);

int report_write_html(struct report *r, FILE *out, struct cart_error *err);
int report_receipts_html(struct journal *j, const struct report_options *o, FILE *out, struct cart_error *err);

/* HTML text and attribute escaping: & < > " ' become entities. */
void html_put(FILE *f, const char *s);
/* A word of the documents, escaped. */
void html_word(FILE *f, const struct report_options *o, enum report_word w);
/* usec by o->format_time, else ISO 8601 in UTC ("" for a negative usec). */
void report_time(const struct report_options *o, enum report_time_form form, int64_t usec, char *buf, size_t len);
/* The document's head up to <body>: title, the common CSS and extra_css, and the printed
 * pages' margins (the school and class, the provenance, page N / M) when o has a provenance. */
void html_head(FILE *f, enum report_word title, const struct report_options *o, const char *extra_css);
/* The provenance block of a document's first page (nothing without one). */
void html_provenance(FILE *f, const struct report_options *o);
/* Does key k pass the receipts' and labels' filters (handed over, holder present, since, run)? */
bool report_key_is_handed_over(const struct report_options *o, const struct journal_report_key *k);
