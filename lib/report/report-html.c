/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HTML report and the receipts sheet: one self-contained file each (inline CSS and
 * SVG, no script, no external resource), readable on screen and printed on A4. Every
 * value that came from a roster, a key or the journal goes through html_put().
 */
#include <inttypes.h>

#include "report/report-internal.h"

/* Above this many classes, the roster chart shows schools instead (one bar each). */
#define CHART_MAX_CLASSES 60
#define CHART_MAX_MONTHS 24

void html_put(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '&': fputs("&amp;", f); break;
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&#39;", f); break;
                default:
                        /* Controls would make the page invalid XML-wise and unreadable. */
                        fputc((unsigned char) *s < 0x20 && *s != '\t' ? '?' : *s, f);
                }
}

static const char css[] =
        "body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:11pt;color:#111;margin:1.5em auto;max-width:60em}"
        "h1{font-size:16pt;margin:0 0 .2em}h2{font-size:13pt;margin:1.2em 0 .4em;border-bottom:1px solid #888}"
        "table{border-collapse:collapse;width:100%;margin:.3em 0}"
        "th,td{border:1px solid #999;padding:2px 5px;text-align:left;vertical-align:top}"
        "th{background:#e8e8e8}td.n{text-align:right;font-variant-numeric:tabular-nums}"
        "thead{display:table-header-group}tr{page-break-inside:avoid}"
        ".meta{color:#444}.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}"
        "figcaption{font-weight:bold;font-size:10pt}svg text{font-size:9px;font-family:inherit}"
        ".legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}"
        ".s-issued{color:#1a7f37}.s-lost,.s-stolen,.conflict{color:#b3261e;font-weight:bold}"
        "@page{size:A4;margin:14mm 12mm}"
        "@media print{body{margin:0;max-width:none;font-size:9pt}.charts{display:block}"
        "figure{page-break-inside:avoid;margin-bottom:.5em}h2{page-break-after:avoid}}";

/* A word of the documents, escaped: translations are text like any other. */
static void put_word(FILE *f, const struct report_options *o, enum report_word w) {
        html_put(f, report_word(o, w));
}
#define PUT(f, o, w) put_word((f), (o), REPORT_WORD_##w)

/* <th>word</th> for each word, in order. */
static void put_headers(FILE *f, const struct report_options *o, const enum report_word *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                fputs("<th>", f);
                put_word(f, o, w[i]);
                fputs("</th>", f);
        }
}

static void head(FILE *f, enum report_word title, const struct report_options *o, const char *extra_css) {
        fputs("<!DOCTYPE html>\n<html lang=\"", f);
        PUT(f, o, LANG);
        fputs("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>", f);
        put_word(f, o, title);
        if (o->school) {
                fputs(" ", f);
                html_put(f, o->school);
        }
        if (o->class_name) {
                fputs(" ", f);
                html_put(f, o->class_name);
        }
        fprintf(f, "</title><style>%s%s</style></head><body>\n", css, extra_css);
}

static void td_int(FILE *f, int64_t v) {
        fprintf(f, "<td class=\"n\">%" PRId64 "</td>", v);
}

static void td_text(FILE *f, const char *s) {
        fputs("<td>", f);
        html_put(f, s);
        fputs("</td>", f);
}

/* Keys issued against roster size: one pair of bars per class (per school when many). */
static void chart_roster(FILE *f, struct report *r) {
        bool by_school = r->n_classes > CHART_MAX_CLASSES;
        size_t n = 0, i, k;
        int64_t max = 1;
        struct { const char *school, *label; int64_t pupils, issued; } *bars;

        bars = calloc(r->n_classes ? r->n_classes : 1, sizeof(*bars));
        if (!bars)
                return;
        for (i = 0; i < r->n_classes; i++) {
                const char *label = by_school ? r->classes[i].school : r->classes[i].class_name;
                if (!(by_school && n > 0 && streq(bars[n - 1].label, label))) {
                        bars[n].school = r->classes[i].school;
                        bars[n++].label = label;
                }
                bars[n - 1].pupils += r->classes[i].n.pupils;
                bars[n - 1].issued += r->classes[i].n.issued;
        }
        for (k = 0; k < n; k++)
                max = MAX(max, bars[k].pupils);
        fputs("<figure><figcaption>", f);
        put_word(f, r->o, by_school ? REPORT_WORD_CHART_PER_SCHOOL : REPORT_WORD_CHART_PER_CLASS);
        fprintf(f, "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"460\" height=\"%zu\" role=\"img\">",
                14 * n + 20);
        for (k = 0; k < n; k++) {
                double wp = 300.0 * (double) bars[k].pupils / (double) max;
                double wi = 300.0 * (double) bars[k].issued / (double) max;
                fprintf(f, "<text x=\"0\" y=\"%zu\">", 14 * k + 11);
                /* Classes of several schools: each named with its school. */
                if (!by_school && !r->o->school) {
                        html_put(f, bars[k].school);
                        fputc(' ', f);
                }
                html_put(f, bars[k].label);
                fprintf(f, "</text><rect x=\"110\" y=\"%zu\" width=\"%.1f\" height=\"11\" fill=\"#c9d4e3\"/>"
                        "<rect x=\"110\" y=\"%zu\" width=\"%.1f\" height=\"11\" fill=\"#1f5fa8\"/>"
                        "<text x=\"%.1f\" y=\"%zu\">%" PRId64 "/%" PRId64 "</text>",
                        14 * k + 2, wp, 14 * k + 2, wi, 114 + wp, 14 * k + 11, bars[k].issued, bars[k].pupils);
        }
        fprintf(f, "<text x=\"0\" y=\"%zu\">", 14 * n + 14);
        PUT(f, r->o, CHART_ROSTER_LEGEND);
        fputs("</text></svg></figure>\n", f);
        free(bars);
}

/* Lost, stolen and replaced keys per month: the last CHART_MAX_MONTHS months that had any. */
static void chart_months(FILE *f, struct report *r) {
        size_t first = r->n_months > CHART_MAX_MONTHS ? r->n_months - CHART_MAX_MONTHS : 0;
        int64_t max = 1;

        for (size_t i = first; i < r->n_months; i++)
                max = MAX(max, MAX(r->months[i].lost + r->months[i].stolen, r->months[i].replaced));
        fputs("<figure><figcaption>", f);
        PUT(f, r->o, CHART_MONTHS);
        fprintf(f, "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%zu\" height=\"150\" role=\"img\">",
                MAX((size_t) 200, 30 * (r->n_months - first) + 20));
        if (r->n_months == 0) {
                fputs("<text x=\"0\" y=\"20\">", f);
                PUT(f, r->o, CHART_NONE);
                fputs("</text>", f);
        }
        for (size_t i = first; i < r->n_months; i++) {
                size_t x = 30 * (i - first);
                double hl = 110.0 * (double) (r->months[i].lost + r->months[i].stolen) / (double) max;
                double hr = 110.0 * (double) r->months[i].replaced / (double) max;
                fprintf(f, "<rect x=\"%zu\" y=\"%.1f\" width=\"11\" height=\"%.1f\" fill=\"#b3261e\"/>"
                        "<rect x=\"%zu\" y=\"%.1f\" width=\"11\" height=\"%.1f\" fill=\"#1f5fa8\"/>"
                        "<text x=\"%zu\" y=\"128\">%02d/%02d</text>"
                        "<text x=\"%zu\" y=\"140\">%" PRId64 "/%" PRId64 "</text>",
                        x, 115 - hl, hl, x + 12, 115 - hr, hr, x, r->months[i].month, r->months[i].year % 100,
                        x, r->months[i].lost + r->months[i].stolen, r->months[i].replaced);
        }
        fputs("</svg><div class=\"legend\"><span style=\"background:#b3261e\"></span>", f);
        PUT(f, r->o, CHART_LOST);
        fputs("<span style=\"background:#1f5fa8\"></span>", f);
        PUT(f, r->o, CHART_REPLACED);
        fputs("</div></figure>\n", f);
}

static void chart_releases(FILE *f, struct report *r) {
        int64_t max = 1;

        for (size_t i = 0; i < r->n_releases; i++)
                max = MAX(max, r->releases[i].keys);
        fputs("<figure><figcaption>", f);
        PUT(f, r->o, CHART_RELEASES);
        fprintf(f, "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"420\" height=\"%zu\" role=\"img\">",
                16 * r->n_releases + 20);
        if (r->n_releases == 0) {
                fputs("<text x=\"0\" y=\"12\">", f);
                PUT(f, r->o, CHART_NONE);
                fputs("</text>", f);
        }
        for (size_t i = 0; i < r->n_releases; i++) {
                double w = 220.0 * (double) r->releases[i].keys / (double) max;
                fprintf(f, "<text x=\"0\" y=\"%zu\">", 16 * i + 11);
                html_put(f, r->releases[i].name);
                fputc(' ', f);
                html_put(f, r->releases[i].version);
                fprintf(f, " #%" PRId64 "</text><rect x=\"150\" y=\"%zu\" width=\"%.1f\" height=\"12\" fill=\"#1a7f37\"/>"
                        "<text x=\"%.1f\" y=\"%zu\">%" PRId64 "</text>",
                        r->releases[i].serial, 16 * i + 2, w, 154 + w, 16 * i + 11, r->releases[i].keys);
        }
        fputs("</svg></figure>\n", f);
}

static void counts_cells(FILE *f, const struct journal_class_counts *c) {
        td_int(f, c->pupils);
        td_int(f, c->issued);
        td_int(f, c->without_key);
        td_int(f, c->lost);
        td_int(f, c->stolen);
        td_int(f, c->replaced);
        td_int(f, c->returned);
        td_int(f, c->left);
}

/* A key's status or last verification outcome in words; an unknown value as it is. */
static const char *value_words(const struct report_options *o, const char *v) {
        static const struct { const char *value; enum report_word word; } words[] = {
                { "stock", REPORT_WORD_STATUS_STOCK }, { "issued", REPORT_WORD_STATUS_ISSUED },
                { "lost", REPORT_WORD_STATUS_LOST }, { "stolen", REPORT_WORD_STATUS_STOLEN },
                { "replaced", REPORT_WORD_STATUS_REPLACED }, { "returned", REPORT_WORD_STATUS_RETURNED },
                { "failed", REPORT_WORD_STATUS_FAILED }, { "retired", REPORT_WORD_STATUS_RETIRED },
                { "intact", REPORT_WORD_OUTCOME_INTACT }, { "modified", REPORT_WORD_OUTCOME_MODIFIED },
                { "swapped", REPORT_WORD_OUTCOME_SWAPPED },
        };
        for (size_t i = 0; v && i < ELEMENTSOF(words); i++)
                if (streq(v, words[i].value))
                        return report_word(o, words[i].word);
        return v;
}

struct html_keys {
        FILE *f;
        const struct report_options *o;
};

static int html_key(void *userdata, const struct journal_report_key *k) {
        struct html_keys *h = userdata;
        FILE *f = h->f;
        char t[32] = "";

        fputs("<tr>", f);
        td_text(f, k->school);
        td_text(f, k->class_name);
        td_text(f, k->family_name);
        td_text(f, k->first_name);
        td_text(f, k->serial ? k->serial : k->volume_id);
        fputs("<td class=\"s-", f);
        html_put(f, k->status);
        fputs("\">", f);
        html_put(f, value_words(h->o, k->status));
        /* Issued on two stations while apart (journal merge): to settle. */
        if (k->is_conflict) {
                fputs(" <span class=\"conflict\">⚠ ", f);
                html_put(f, report_word(h->o, REPORT_WORD_CONFLICT));
                fputs("</span>", f);
        }
        fputs("</td><td>", f);
        if (k->release_serial >= 0) {
                html_put(f, k->release_name);
                fputc(' ', f);
                html_put(f, k->release_version);
                fprintf(f, " #%" PRId64, k->release_serial);
        }
        fputs("</td><td>", f);
        if (k->verified_usec >= 0) {
                time_format(k->verified_usec / 1000000, t);
                t[10] = 0;
                fprintf(f, "%s ", t);
                html_put(f, value_words(h->o, k->verified_outcome));
        }
        fputs("</td></tr>\n", f);
        return ferror(f) ? -EIO : 0;
}

/* "Pupils: 30; keys issued: 28; ...": each total after its label. */
static void put_totals(FILE *f, const struct report_options *o, const struct journal_class_counts *n) {
        const struct { enum report_word word; int64_t v; } totals[] = {
                { REPORT_WORD_N_PUPILS, n->pupils }, { REPORT_WORD_N_ISSUED, n->issued },
                { REPORT_WORD_N_WITHOUT_KEY, n->without_key }, { REPORT_WORD_N_LOST, n->lost },
                { REPORT_WORD_N_STOLEN, n->stolen }, { REPORT_WORD_N_REPLACED, n->replaced },
                { REPORT_WORD_N_RETURNED, n->returned },
        };
        for (size_t i = 0; i < ELEMENTSOF(totals); i++) {
                if (i > 0)
                        PUT(f, o, SEPARATOR);
                put_word(f, o, totals[i].word);
                fprintf(f, " %" PRId64, totals[i].v);
        }
}

int report_write_html(struct report *r, FILE *f, struct cart_error *err) {
        static const enum report_word class_headers[] = {
                REPORT_WORD_COL_SCHOOL, REPORT_WORD_COL_CLASS, REPORT_WORD_COL_PUPILS, REPORT_WORD_COL_ISSUED,
                REPORT_WORD_COL_WITHOUT_KEY, REPORT_WORD_COL_LOST, REPORT_WORD_COL_STOLEN, REPORT_WORD_COL_REPLACED,
                REPORT_WORD_COL_RETURNED, REPORT_WORD_COL_LEFT,
        }, release_headers[] = {
                REPORT_WORD_COL_RELEASE, REPORT_WORD_COL_SERIAL, REPORT_WORD_COL_ISSUED,
        }, key_headers[] = {
                REPORT_WORD_COL_SCHOOL, REPORT_WORD_COL_CLASS, REPORT_WORD_COL_FAMILY_NAME,
                REPORT_WORD_COL_FIRST_NAME, REPORT_WORD_COL_KEY, REPORT_WORD_COL_STATUS, REPORT_WORD_COL_RELEASE,
                REPORT_WORD_COL_VERIFIED,
        };
        struct html_keys h = { .f = f, .o = r->o };
        char t[32];
        int k;

        head(f, REPORT_WORD_TITLE, r->o, "");
        time_format(r->o->now_usec / 1000000, t);
        fputs("<h1>", f);
        PUT(f, r->o, HEADING);
        if (r->o->school) {
                fputs(" — ", f);
                html_put(f, r->o->school);
        }
        if (r->o->class_name) {
                fputs(" — ", f);
                html_put(f, r->o->class_name);
        }
        fputs("</h1><p class=\"meta\">", f);
        PUT(f, r->o, REPORT_OF);
        fprintf(f, " %s. ", t);
        put_totals(f, r->o, &r->total);
        fputs(".</p>\n<div class=\"charts\">\n", f);
        chart_roster(f, r);
        chart_months(f, r);
        chart_releases(f, r);
        fputs("</div>\n<h2>", f);
        PUT(f, r->o, H_CLASSES);
        fputs("</h2><table><thead><tr>", f);
        put_headers(f, r->o, class_headers, ELEMENTSOF(class_headers));
        fputs("</tr></thead><tbody>\n", f);
        for (size_t i = 0; i < r->n_classes; i++) {
                fputs("<tr>", f);
                td_text(f, r->classes[i].school);
                td_text(f, r->classes[i].class_name);
                counts_cells(f, &r->classes[i].n);
                fputs("</tr>\n", f);
        }
        fputs("<tr><th colspan=\"2\">", f);
        PUT(f, r->o, TOTAL);
        fputs("</th>", f);
        counts_cells(f, &r->total);
        fputs("</tr></tbody></table>\n<h2>", f);
        PUT(f, r->o, H_RELEASES);
        fputs("</h2><table><thead><tr>", f);
        put_headers(f, r->o, release_headers, ELEMENTSOF(release_headers));
        fputs("</tr></thead><tbody>\n", f);
        for (size_t i = 0; i < r->n_releases; i++) {
                fputs("<tr><td>", f);
                html_put(f, r->releases[i].name);
                fputc(' ', f);
                html_put(f, r->releases[i].version);
                fputs("</td>", f);
                td_int(f, r->releases[i].serial);
                td_int(f, r->releases[i].keys);
                fputs("</tr>\n", f);
        }
        fputs("</tbody></table>\n<h2>", f);
        PUT(f, r->o, H_KEYS);
        fputs("</h2><table><thead><tr>", f);
        put_headers(f, r->o, key_headers, ELEMENTSOF(key_headers));
        fputs("</tr></thead><tbody>\n", f);
        k = report_keys(r, html_key, &h, err);
        if (k < 0)
                return k;
        fputs("</tbody></table>\n</body></html>\n", f);
        return 0;
}

/* ---- The receipts sheet ---- */

struct receipts {
        FILE *f;
        size_t n;
};

static int receipt_row(void *userdata, const struct journal_pupil_row *p) {
        struct receipts *rc = userdata;

        rc->n++;
        fputs("<tr>", rc->f);
        td_text(rc->f, p->family_name);
        td_text(rc->f, p->first_name);
        td_text(rc->f, p->class_name);
        td_text(rc->f, p->key_serial ? p->key_serial : p->key_uid ? p->key_uid : "");
        fputs("<td class=\"sig\"></td></tr>\n", rc->f);
        return ferror(rc->f) ? -EIO : 0;
}

int report_receipts_html(struct journal *j, const struct report_options *o, FILE *f, struct cart_error *err) {
        struct journal_report_filter rf = { .school = o->school, .class_name = o->class_name };
        struct receipts rc = { .f = f };
        char t[32];
        int k;

        static const enum report_word headers[] = {
                REPORT_WORD_COL_FAMILY_NAME, REPORT_WORD_COL_FIRST_NAME, REPORT_WORD_COL_CLASS,
                REPORT_WORD_COL_KEY_NUMBER, REPORT_WORD_COL_SIGNATURE,
        };

        head(f, REPORT_WORD_RECEIPTS_TITLE, o,
             "td.sig{width:38%}tbody tr{height:12mm}td{vertical-align:middle}"
             ".sign{margin-top:1.5em}@media print{body{font-size:10pt}}");
        time_format(o->now_usec / 1000000, t);
        t[10] = 0;
        fputs("<h1>", f);
        PUT(f, o, RECEIPTS_HEADING);
        fputs("</h1><p class=\"meta\">", f);
        PUT(f, o, RECEIPTS_SCHOOL);
        fputc(' ', f);
        html_put(f, o->school);
        fputs(". ", f);
        PUT(f, o, RECEIPTS_CLASS);
        fputc(' ', f);
        html_put(f, o->class_name);
        fputs(". ", f);
        PUT(f, o, RECEIPTS_DATE);
        fprintf(f, " %s.</p>\n<p>", t);
        PUT(f, o, RECEIPTS_ATTEST);
        fputs("</p>\n<table><thead><tr>", f);
        put_headers(f, o, headers, ELEMENTSOF(headers));
        fputs("</tr></thead><tbody>\n", f);
        k = journal_report_receipts(j, &rf, receipt_row, &rc, err);
        if (k < 0)
                return k;
        if (rc.n == 0)
                return cart_error_set(err, -ENOENT, "no pupil in class %s of school %s", o->class_name, o->school);
        fputs("</tbody></table>\n<p class=\"sign\">", f);
        PUT(f, o, RECEIPTS_SIGNER);
        fputs("</p>\n</body></html>\n", f);
        return 0;
}
