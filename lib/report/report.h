/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reports for schools and auditors, from the journal: per school and class, pupils, keys
 * issued, pupils without a key, lost, stolen, replaced and returned; releases in the
 * field; lost and replaced keys per month; and every key with its pupil, status, release
 * and last verification. Three formats: CSV (UTF-8 with BOM, ';', formula cells
 * neutralised), JSON (manifests/schemas/report.schema.json) and one self-contained HTML
 * page (inline CSS and SVG, no script, printable on A4). And the receipts sheet ("feuille
 * d'émargement") of one class, and its sheet of key labels (report-labels.c).
 *
 * Memory: the per-class, per-release and per-month tables are held (a few thousand rows
 * at most); the key list, which grows with pupils, is streamed to the output.
 */
#pragma once

#include <stdio.h>

#include "journal/journal.h"

enum report_format {
        REPORT_CSV,
        REPORT_JSON,
        REPORT_HTML,
};
/* "csv", "json", "html": 0 and *ret set, or -EINVAL. */
int report_format_from_string(const char *s, enum report_format *ret);

/* The words of the HTML report and the receipts sheet, for people: report_words_english[]
 * holds them in English (marked for translation, lib/report/report-words.c is in
 * po/POTFILES); cmd/ passes each through gettext() and gives the result in
 * report_options.words, so the documents follow the reader's locale while lib/ never
 * translates. CSV and JSON have no words: their keys and values never change. */
enum report_word {
        REPORT_WORD_LANG,
        REPORT_WORD_TITLE,
        REPORT_WORD_HEADING,
        REPORT_WORD_REPORT_OF,
        REPORT_WORD_N_PUPILS,
        REPORT_WORD_N_ISSUED,
        REPORT_WORD_N_WITHOUT_KEY,
        REPORT_WORD_N_LOST,
        REPORT_WORD_N_STOLEN,
        REPORT_WORD_N_REPLACED,
        REPORT_WORD_N_RETURNED,
        REPORT_WORD_SEPARATOR,
        REPORT_WORD_CHART_PER_CLASS,
        REPORT_WORD_CHART_PER_SCHOOL,
        REPORT_WORD_CHART_ROSTER_LEGEND,
        REPORT_WORD_CHART_MONTHS,
        REPORT_WORD_CHART_LOST,
        REPORT_WORD_CHART_REPLACED,
        REPORT_WORD_CHART_RELEASES,
        REPORT_WORD_CHART_NONE,
        REPORT_WORD_H_CLASSES,
        REPORT_WORD_H_RELEASES,
        REPORT_WORD_H_KEYS,
        REPORT_WORD_COL_SCHOOL,
        REPORT_WORD_COL_CLASS,
        REPORT_WORD_COL_PUPILS,
        REPORT_WORD_COL_ISSUED,
        REPORT_WORD_COL_WITHOUT_KEY,
        REPORT_WORD_COL_LOST,
        REPORT_WORD_COL_STOLEN,
        REPORT_WORD_COL_REPLACED,
        REPORT_WORD_COL_RETURNED,
        REPORT_WORD_COL_LEFT,
        REPORT_WORD_TOTAL,
        REPORT_WORD_COL_RELEASE,
        REPORT_WORD_COL_SERIAL,
        REPORT_WORD_COL_FAMILY_NAME,
        REPORT_WORD_COL_FIRST_NAME,
        REPORT_WORD_COL_KEY,
        REPORT_WORD_COL_STATUS,
        REPORT_WORD_COL_VERIFIED,
        REPORT_WORD_COL_RELEASE_HELD,
        REPORT_WORD_STATUS_STOCK,
        REPORT_WORD_STATUS_ISSUED,
        REPORT_WORD_STATUS_LOST,
        REPORT_WORD_STATUS_STOLEN,
        REPORT_WORD_STATUS_REPLACED,
        REPORT_WORD_STATUS_RETURNED,
        REPORT_WORD_STATUS_FAILED,
        REPORT_WORD_STATUS_RETIRED,
        REPORT_WORD_OUTCOME_INTACT,
        REPORT_WORD_OUTCOME_MODIFIED,
        REPORT_WORD_OUTCOME_SWAPPED,
        REPORT_WORD_RECEIPTS_TITLE,
        REPORT_WORD_RECEIPTS_HEADING,
        REPORT_WORD_RECEIPTS_SCHOOL,
        REPORT_WORD_RECEIPTS_CLASS,
        REPORT_WORD_RECEIPTS_DATE,
        REPORT_WORD_RECEIPTS_ATTEST,
        REPORT_WORD_COL_KEY_NUMBER,
        REPORT_WORD_COL_SIGNATURE,
        REPORT_WORD_RECEIPTS_SIGNER,
        REPORT_WORD_CONFLICT,
        REPORT_WORD_P_STATION,
        REPORT_WORD_P_OPERATOR,
        REPORT_WORD_P_JOURNAL,
        REPORT_WORD_P_EVENTS,
        REPORT_WORD_P_LAST_HASH,
        REPORT_WORD_P_INTACT,
        REPORT_WORD_P_BROKEN,
        REPORT_WORD_P_PAGE,
        REPORT_WORD_H_WITHOUT_KEY,
        REPORT_WORD_NOBODY,
        REPORT_WORD_N_NEVER_VERIFIED,
        REPORT_WORD_CHART_AXIS_KEYS,
        REPORT_WORD_COL_ISSUED_ON,
        REPORT_WORD_RECEIPTS_SINCE,
        REPORT_WORD_RECEIPTS_RUN,
        REPORT_WORD_LABELS_TITLE,
        _REPORT_WORD_MAX,
};
extern const char *const report_words_english[_REPORT_WORD_MAX];

/* Where a printed report or sheet comes from, on each of its pages (cmd/ gathers it). */
struct report_provenance {
        const char *school_name;             /* the school's name, or NULL (its UAI only) */
        const char *station, *operator, *version;
        const char *journal;                 /* journal_name() */
        const struct journal_head *heads;    /* each station's chain head, from journal_verify */
        size_t n_heads;
        bool is_broken;                      /* journal_verify found an edited chain */
};

/* The documents' dates: a date and time, a date, a date in a table. */
enum report_time_form {
        REPORT_TIME_FULL,
        REPORT_TIME_DATE,
        REPORT_TIME_SHORT,
};
/* Formats usec in the reader's language and time zone into buf ("" when it cannot). */
typedef void (*report_time_fn)(enum report_time_form form, int64_t usec, char *buf, size_t len);

struct report_options {
        const char *school, *class_name;     /* NULL: every school, every class */
        enum report_format format;
        int64_t now_usec;                    /* the report's date */
        const struct report_provenance *provenance;   /* NULL: none shown */
        /* The receipts sheet and labels: only keys issued at or after since_usec (0: any),
         * and of this batch run (NULL: any). */
        int64_t since_usec;
        const char *run;
        /* The HTML documents' words, _REPORT_WORD_MAX of them (translated by cmd/); NULL:
         * report_words_english. */
        const char *const *words;
        /* The documents' dates (cmd/ formats them in the locale); NULL: ISO 8601, UTC. */
        report_time_fn format_time;
};
/* A word of the HTML documents: o->words[w], or the English one without its context. */
const char *report_word(const struct report_options *o, enum report_word w);

/* Write the report to out. -EIO when out fails; journal errors as lib/journal's. */
int report_write(struct journal *j, const struct report_options *o, FILE *out, struct cart_error *err);

/* The receipts sheet of one class (school and class_name required: -EINVAL), as HTML.
 * -ENOENT when the journal has no active pupil in that class. */
int report_receipts_write(struct journal *j, const struct report_options *o, FILE *out,
                          struct cart_error *err);

/* A sheet of sticker labels on A4, in millimetres: its maker's name, columns and rows,
 * a label's size, the first label's top left corner, and the step to the next one. */
struct report_layout {
        const char *name;
        int columns, rows;
        double width, height, top, left, pitch_x, pitch_y;
};
/* By name, in any case: "L7159" (3 x 8, 63.5 x 33.9 mm) or "L7163" (2 x 7, 99.1 x 38.1 mm);
 * NULL: the first. 0 and *ret, or -EINVAL. */
int report_layout_from_string(const char *s, const struct report_layout **ret);

/* The labels of one class's keys handed over (the receipts' filters apply), as HTML: one
 * A4 sheet per page. -EINVAL without school and class_name; -ENOENT when no key. */
int report_labels_write(struct journal *j, const struct report_options *o, const struct report_layout *l, FILE *out,
                        struct cart_error *err);

/* A document as HTML into out (report_write, report_receipts_write, report_labels_write
 * with their arguments bound). */
typedef int (*report_html_fn)(void *userdata, FILE *out, struct cart_error *err);
/* The document write_html makes, printed to PDF by headless Chromium (the first of chromium,
 * chromium-browser, google-chrome on $PATH) and copied to out: the same content, page
 * margins and numbers as printing the HTML. -ENOPKG: no browser; -EIO: it failed. */
int report_pdf(report_html_fn write_html, void *userdata, FILE *out, struct cart_error *err);

/* A key's short printed id, the same on the report, the receipts and its label: its FAT
 * volume ID (8 hex digits, which lost, stolen and return accept), else its USB serial;
 * never a journal uid (which may be a file path). "" when it has neither. */
const char *report_key_id(const char *volume_id, const char *serial);
