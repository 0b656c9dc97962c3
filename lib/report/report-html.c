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
        "th{background:#e8e8e8}td.n{text-align:right;font-variant-numeric:tabular-nums}td,th{overflow-wrap:anywhere}"
        "thead{display:table-header-group}tr{page-break-inside:avoid}"
        ".meta{color:#444}.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}"
        "figcaption{font-weight:bold;font-size:10pt}svg{max-width:100%;height:auto}svg text{font-size:12px;font-family:inherit}"
        ".prov{display:grid;grid-template-columns:max-content 1fr;gap:0 .6em;font-size:9pt;color:#333;margin:.4em 0}"
        ".prov dt{font-weight:bold}.prov dd{margin:0;overflow-wrap:anywhere}.prov code{font-size:8pt}"
        ".intact{color:#1a7f37}.broken{color:#b3261e}ul.nokey{columns:14em;padding-left:1.2em}"
        ".legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}"
        ".s-issued{color:#1a7f37}.s-lost,.s-stolen,.conflict{color:#b3261e;font-weight:bold}"
        "@page{size:A4;margin:14mm 12mm}"
        "@media print{body{margin:0;max-width:none;font-size:9pt}.charts{display:block}svg{max-width:none}"
        "figure{page-break-inside:avoid;margin-bottom:.5em}h2{page-break-after:avoid}}";

/* A word of the documents, escaped: translations are text like any other. */
void html_word(FILE *f, const struct report_options *o, enum report_word w) {
        html_put(f, report_word(o, w));
}
#define put_word html_word
#define PUT(f, o, w) put_word((f), (o), REPORT_WORD_##w)

/* <th>word</th> for each word, in order. */
static void put_headers(FILE *f, const struct report_options *o, const enum report_word *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                fputs("<th>", f);
                put_word(f, o, w[i]);
                fputs("</th>", f);
        }
}

void report_time(const struct report_options *o, enum report_time_form form, int64_t usec, char *buf, size_t len) {
        char t[32];

        buf[0] = 0;
        if (usec < 0)
                return;
        if (o->format_time) {
                o->format_time(form, usec, buf, len);
                return;
        }
        time_format(usec / 1000000, t);
        if (form != REPORT_TIME_FULL)
                t[10] = 0;
        snprintf(buf, len, "%s", t);
}

/* A CSS string for a page margin's content: every character that could end the string or
 * the <style> element (" \ < > &, controls) as a CSS escape. */
static void css_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; s && *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 || c == 0x7f || strchr("\"\\<>&'", c))
                        fprintf(f, "\\%x ", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

/* The school as people name it: "Collège Jean Moulin (0750001A)", or its UAI. */
static void school_text(const struct report_options *o, char *buf, size_t len) {
        const struct report_provenance *p = o->provenance;

        if (p && p->school_name && o->school)
                snprintf(buf, len, "%s (%s)", p->school_name, o->school);
        else
                snprintf(buf, len, "%s", o->school ? o->school : "");
}

/* Every printed page carries the school and class, the journal's state, where and when it
 * was made, and its number (CSS paged media margin boxes, which Chromium prints). */
static void page_margins(FILE *f, const struct report_options *o) {
        const struct report_provenance *p = o->provenance;
        char school[512], when[128], line[1024];

        school_text(o, school, sizeof(school));
        report_time(o, REPORT_TIME_FULL, o->now_usec, when, sizeof(when));
        fputs("@page{size:A4;margin:16mm 12mm;@top-left{font-size:8pt;color:#333;content:", f);
        snprintf(line, sizeof(line), "%s%s%s", school, o->class_name ? " — " : "", o->class_name ? o->class_name : "");
        css_string(f, line);
        fprintf(f, "}@top-right{font-size:8pt;%scontent:", p->is_broken ? "color:#b3261e;font-weight:bold;" : "color:#333;");
        css_string(f, report_word(o, p->is_broken ? REPORT_WORD_P_BROKEN : REPORT_WORD_P_INTACT));
        fputs("}@bottom-left{font-size:8pt;color:#333;content:", f);
        snprintf(line, sizeof(line), "cartable %s — %s %s — %s %s — %s", p->version ? p->version : "",
                 report_word(o, REPORT_WORD_P_STATION), p->station ? p->station : "",
                 report_word(o, REPORT_WORD_P_OPERATOR), p->operator ? p->operator : "", when);
        css_string(f, line);
        fputs("}@bottom-right{font-size:8pt;color:#333;content:", f);
        snprintf(line, sizeof(line), "%s ", report_word(o, REPORT_WORD_P_PAGE));
        css_string(f, line);
        fputs(" counter(page) \" / \" counter(pages)}}", f);
}

void html_head(FILE *f, enum report_word title, const struct report_options *o, const char *extra_css) {
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
        fprintf(f, "</title><style>%s%s", css, extra_css);
        if (o->provenance)
                page_margins(f, o);
        fputs("</style></head><body>\n", f);
}

/* <dt>word</dt><dd>value, escaped (the <dd> left open). */
static void dl_open(FILE *f, const struct report_options *o, enum report_word w, const char *value) {
        fputs("<dt>", f);
        put_word(f, o, w);
        fputs("</dt><dd>", f);
        html_put(f, value);
}

void html_provenance(FILE *f, const struct report_options *o) {
        const struct report_provenance *p = o->provenance;
        char school[512], when[128];

        if (!p)
                return;
        school_text(o, school, sizeof(school));
        report_time(o, REPORT_TIME_FULL, o->now_usec, when, sizeof(when));
        fputs("<dl class=\"prov\">", f);
        if (o->school) {
                dl_open(f, o, REPORT_WORD_RECEIPTS_SCHOOL, school);
                fputs("</dd>", f);
        }
        dl_open(f, o, REPORT_WORD_RECEIPTS_DATE, when);
        fputs("</dd>", f);
        dl_open(f, o, REPORT_WORD_P_STATION, p->station);
        fputs(" (cartable ", f);
        html_put(f, p->version);
        fputs(")</dd>", f);
        dl_open(f, o, REPORT_WORD_P_OPERATOR, p->operator);
        fputs("</dd>", f);
        dl_open(f, o, REPORT_WORD_P_JOURNAL, p->journal);
        fprintf(f, " — <b class=\"%s\">", p->is_broken ? "broken" : "intact");
        put_word(f, o, p->is_broken ? REPORT_WORD_P_BROKEN : REPORT_WORD_P_INTACT);
        fputs("</b>", f);
        for (size_t i = 0; i < p->n_heads; i++) {
                fputs("<br><span class=\"head\">", f);
                html_put(f, p->heads[i].station);
                fprintf(f, ": %" PRId64 " ", p->heads[i].n_events);
                PUT(f, o, P_EVENTS);
                fputs(", ", f);
                PUT(f, o, P_LAST_HASH);
                fputs(" <code>", f);
                html_put(f, p->heads[i].hash);
                fputs("</code></span>", f);
        }
        fputs("</dd></dl>\n", f);
}

static void td_int(FILE *f, int64_t v) {
        fprintf(f, "<td class=\"n\">%" PRId64 "</td>", v);
}

static void td_text(FILE *f, const char *s) {
        fputs("<td>", f);
        html_put(f, s);
        fputs("</td>", f);
}

/* The charts: SVG in CSS pixels with a viewBox (they shrink to a narrow screen), text at
 * 12 px, 9 pt when printed at their size: nothing under 8 pt on paper. */
#define SVG_OPEN "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %zu %zu\" width=\"%zu\" height=\"%zu\" role=\"img\">"
#define ROW 18

/* Keys issued against roster size: one pair of bars per class (per school when many). */
static void chart_roster(FILE *f, struct report *r) {
        bool by_school = r->n_classes > CHART_MAX_CLASSES;
        size_t n = 0, i, k, w = 520, h;
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
        h = ROW * n + 24;
        fputs("<figure><figcaption>", f);
        put_word(f, r->o, by_school ? REPORT_WORD_CHART_PER_SCHOOL : REPORT_WORD_CHART_PER_CLASS);
        fprintf(f, "</figcaption>" SVG_OPEN, w, h, w, h);
        for (k = 0; k < n; k++) {
                double wp = 300.0 * (double) bars[k].pupils / (double) max;
                double wi = 300.0 * (double) bars[k].issued / (double) max;
                fprintf(f, "<text x=\"0\" y=\"%zu\">", ROW * k + 13);
                /* Classes of several schools: each named with its school. */
                if (!by_school && !r->o->school) {
                        html_put(f, bars[k].school);
                        fputc(' ', f);
                }
                html_put(f, bars[k].label);
                fprintf(f, "</text><rect x=\"140\" y=\"%zu\" width=\"%.1f\" height=\"14\" fill=\"#c9d4e3\"/>"
                        "<rect x=\"140\" y=\"%zu\" width=\"%.1f\" height=\"14\" fill=\"#1f5fa8\"/>"
                        "<text x=\"%.1f\" y=\"%zu\">%" PRId64 "/%" PRId64 "</text>",
                        ROW * k + 2, wp, ROW * k + 2, wi, 145 + wp, ROW * k + 13, bars[k].issued, bars[k].pupils);
        }
        fprintf(f, "<text x=\"0\" y=\"%zu\">", ROW * n + 18);
        PUT(f, r->o, CHART_ROSTER_LEGEND);
        fputs("</text></svg></figure>\n", f);
        free(bars);
}

/* Lost, stolen and replaced keys per month: the last CHART_MAX_MONTHS months that had any,
 * on a vertical axis of keys (0, half, most) and a time axis of months, each year named
 * under its first month. */
static void chart_months(FILE *f, struct report *r) {
        size_t first = r->n_months > CHART_MAX_MONTHS ? r->n_months - CHART_MAX_MONTHS : 0;
        const size_t left = 44, top = 10, plot = 110, slot = 26;
        size_t w = MAX((size_t) 240, left + slot * (r->n_months - first) + 10), h = top + plot + 40;
        int64_t max = 1;

        for (size_t i = first; i < r->n_months; i++)
                max = MAX(max, MAX(r->months[i].lost + r->months[i].stolen, r->months[i].replaced));
        fputs("<figure><figcaption>", f);
        PUT(f, r->o, CHART_MONTHS);
        fprintf(f, "</figcaption>" SVG_OPEN, w, h, w, h);
        if (r->n_months == 0) {
                fputs("<text x=\"0\" y=\"20\">", f);
                PUT(f, r->o, CHART_NONE);
                fputs("</text></svg></figure>\n", f);
                return;
        }
        /* The axes, the ticks of the key axis and its name. */
        fprintf(f, "<path d=\"M%zu %zuV%zuH%zu\" stroke=\"#333\" fill=\"none\"/>", left, top, top + plot, w - 4);
        const int64_t ticks[] = { 0, max / 2, max };
        for (size_t t = 0; t < ELEMENTSOF(ticks); t++) {
                double y = (double) (top + plot) - (double) plot * (double) ticks[t] / (double) max;
                if (t == 1 && max < 2)
                        continue;
                fprintf(f, "<path d=\"M%zu %.1fH%zu\" stroke=\"#ccc\"/><text x=\"%zu\" y=\"%.1f\" "
                        "text-anchor=\"end\">%" PRId64 "</text>", left - 3, y, w - 4, left - 6, y + 4, ticks[t]);
        }
        fprintf(f, "<text transform=\"rotate(-90)\" x=\"%d\" y=\"11\" text-anchor=\"middle\">",
                -(int) (top + plot / 2));
        PUT(f, r->o, CHART_AXIS_KEYS);
        fputs("</text>", f);
        for (size_t i = first; i < r->n_months; i++) {
                const struct report_month *m = &r->months[i];
                size_t x = left + 4 + slot * (i - first);
                double hl = (double) plot * (double) (m->lost + m->stolen) / (double) max;
                double hr = (double) plot * (double) m->replaced / (double) max;
                fprintf(f, "<rect x=\"%zu\" y=\"%.1f\" width=\"10\" height=\"%.1f\" fill=\"#b3261e\"/>"
                        "<rect x=\"%zu\" y=\"%.1f\" width=\"10\" height=\"%.1f\" fill=\"#1f5fa8\"/>"
                        "<text x=\"%zu\" y=\"%zu\" text-anchor=\"middle\">%02d</text>",
                        x, (double) (top + plot) - hl, hl, x + 10, (double) (top + plot) - hr, hr,
                        x + 10, top + plot + 15, m->month);
                if (i == first || m->month == 1)
                        fprintf(f, "<text x=\"%zu\" y=\"%zu\">%04d</text>", x, top + plot + 31, m->year);
        }
        fputs("</svg><div class=\"legend\"><span style=\"background:#b3261e\"></span>", f);
        PUT(f, r->o, CHART_LOST);
        fputs("<span style=\"background:#1f5fa8\"></span>", f);
        PUT(f, r->o, CHART_REPLACED);
        fputs("</div></figure>\n", f);
}

static void chart_releases(FILE *f, struct report *r) {
        size_t w = 520, h = ROW * r->n_releases + 24;
        int64_t max = 1;

        for (size_t i = 0; i < r->n_releases; i++)
                max = MAX(max, r->releases[i].keys);
        fputs("<figure><figcaption>", f);
        PUT(f, r->o, CHART_RELEASES);
        fprintf(f, "</figcaption>" SVG_OPEN, w, h, w, h);
        if (r->n_releases == 0) {
                fputs("<text x=\"0\" y=\"14\">", f);
                PUT(f, r->o, CHART_NONE);
                fputs("</text>", f);
        }
        for (size_t i = 0; i < r->n_releases; i++) {
                double bw = 240.0 * (double) r->releases[i].keys / (double) max;
                fprintf(f, "<text x=\"0\" y=\"%zu\">", ROW * i + 13);
                html_put(f, r->releases[i].name);
                fputc(' ', f);
                html_put(f, r->releases[i].version);
                fprintf(f, " #%" PRId64 "</text><rect x=\"200\" y=\"%zu\" width=\"%.1f\" height=\"14\" fill=\"#1a7f37\"/>"
                        "<text x=\"%.1f\" y=\"%zu\">%" PRId64 "</text>",
                        r->releases[i].serial, ROW * i + 2, bw, 205 + bw, ROW * i + 13, r->releases[i].keys);
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
        int64_t n_issued, n_never_verified;
};

static int html_key(void *userdata, const struct journal_report_key *k) {
        struct html_keys *h = userdata;
        FILE *f = h->f;
        char t[64];

        fputs("<tr>", f);
        td_text(f, k->school);
        td_text(f, k->class_name);
        td_text(f, k->family_name);
        td_text(f, k->first_name);
        td_text(f, report_key_id(k->volume_id, k->serial));
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
                report_time(h->o, REPORT_TIME_SHORT, k->verified_usec, t, sizeof(t));
                html_put(f, t);
                fputc(' ', f);
                html_put(f, value_words(h->o, k->verified_outcome));
        }
        fputs("</td></tr>\n", f);
        return ferror(f) ? -EIO : 0;
}

/* The first pass over the keys: how many issued keys were never verified. */
static int count_key(void *userdata, const struct journal_report_key *k) {
        struct html_keys *h = userdata;

        if (k->status && streq(k->status, "issued")) {
                h->n_issued++;
                h->n_never_verified += k->verified_usec < 0;
        }
        return 0;
}

/* "Pupils: 30; keys issued: 28; ...": each total after its label. */
static void put_totals(FILE *f, const struct report_options *o, const struct journal_class_counts *n,
                       int64_t n_never_verified) {
        const struct { enum report_word word; int64_t v; } totals[] = {
                { REPORT_WORD_N_PUPILS, n->pupils }, { REPORT_WORD_N_ISSUED, n->issued },
                { REPORT_WORD_N_WITHOUT_KEY, n->without_key }, { REPORT_WORD_N_LOST, n->lost },
                { REPORT_WORD_N_STOLEN, n->stolen }, { REPORT_WORD_N_REPLACED, n->replaced },
                { REPORT_WORD_N_RETURNED, n->returned }, { REPORT_WORD_N_NEVER_VERIFIED, n_never_verified },
        };
        for (size_t i = 0; i < ELEMENTSOF(totals); i++) {
                if (i > 0)
                        PUT(f, o, SEPARATOR);
                put_word(f, o, totals[i].word);
                fprintf(f, " %" PRId64, totals[i].v);
        }
}

/* The pupils of the report still without a key, by name, class after class. */
struct without_key {
        FILE *f;
        const struct report_options *o;
        char *school, *class_name;      /* of the open list */
        size_t n;
};

static int without_key_row(void *userdata, const struct journal_pupil_row *p) {
        struct without_key *w = userdata;
        FILE *f = w->f;

        if (!p->is_active || p->key_uid)
                return 0;
        if (!w->class_name || !streq(w->class_name, p->class_name) || !streq(w->school, p->school)) {
                if (w->class_name)
                        fputs("</ul>\n", f);
                free(w->school);
                free(w->class_name);
                w->school = strdup(p->school);
                w->class_name = strdup(p->class_name);
                if (!w->school || !w->class_name)
                        return -ENOMEM;
                fputs("<h3>", f);
                if (!w->o->school) {
                        html_put(f, p->school);
                        fputs(" — ", f);
                }
                html_put(f, p->class_name);
                fputs("</h3><ul class=\"nokey\">", f);
        }
        fputs("<li>", f);
        html_put(f, p->family_name);
        fputc(' ', f);
        html_put(f, p->first_name);
        fputs("</li>", f);
        w->n++;
        return ferror(f) ? -EIO : 0;
}

static int put_without_key(FILE *f, struct report *r, struct cart_error *err) {
        struct journal_report_filter rf = { .school = r->o->school, .class_name = r->o->class_name };
        struct without_key w = { .f = f, .o = r->o };
        int k;

        fputs("<h2>", f);
        PUT(f, r->o, H_WITHOUT_KEY);
        fprintf(f, " (%" PRId64 ")</h2>\n", r->total.without_key);
        k = journal_report_receipts(r->j, &rf, without_key_row, &w, err);
        if (w.class_name)
                fputs("</ul>\n", f);
        else if (k >= 0) {
                fputs("<p>", f);
                PUT(f, r->o, NOBODY);
                fputs("</p>\n", f);
        }
        free(w.school);
        free(w.class_name);
        return k;
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
                REPORT_WORD_COL_FIRST_NAME, REPORT_WORD_COL_KEY, REPORT_WORD_COL_STATUS,
                REPORT_WORD_COL_RELEASE_HELD, REPORT_WORD_COL_VERIFIED,
        };
        struct html_keys h = { .f = f, .o = r->o };
        char t[128];
        int k;

        k = report_keys(r, count_key, &h, err);
        if (k < 0)
                return k;
        html_head(f, REPORT_WORD_TITLE, r->o, "");
        report_time(r->o, REPORT_TIME_FULL, r->o->now_usec, t, sizeof(t));
        fputs("<h1>", f);
        PUT(f, r->o, HEADING);
        if (r->o->school) {
                fputs(" — ", f);
                html_put(f, r->o->provenance && r->o->provenance->school_name ? r->o->provenance->school_name
                                                                             : r->o->school);
        }
        if (r->o->class_name) {
                fputs(" — ", f);
                html_put(f, r->o->class_name);
        }
        fputs("</h1>\n", f);
        html_provenance(f, r->o);
        fputs("<p class=\"meta\">", f);
        PUT(f, r->o, REPORT_OF);
        fputc(' ', f);
        html_put(f, t);
        fputs(". ", f);
        put_totals(f, r->o, &r->total, h.n_never_verified);
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
        fputs("</tr></tbody></table>\n", f);
        k = put_without_key(f, r, err);
        if (k < 0)
                return k;
        fputs("<h2>", f);
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

/* ---- The receipts sheet: one line per key handed over ---- */

bool report_key_is_handed_over(const struct report_options *o, const struct journal_report_key *k) {
        if (!k->is_active || !k->status || !streq(k->status, "issued"))
                return false;
        if (o->since_usec > 0 && k->issued_usec < o->since_usec)
                return false;
        return !o->run || (k->run && streq(k->run, o->run));
}

struct receipts {
        FILE *f;
        const struct report_options *o;
        size_t n;
};

static int receipt_row(void *userdata, const struct journal_report_key *k) {
        struct receipts *rc = userdata;
        char t[64];

        if (!report_key_is_handed_over(rc->o, k))
                return 0;
        rc->n++;
        fputs("<tr>", rc->f);
        td_text(rc->f, k->family_name);
        td_text(rc->f, k->first_name);
        td_text(rc->f, k->class_name);
        report_time(rc->o, REPORT_TIME_SHORT, k->issued_usec, t, sizeof(t));
        td_text(rc->f, t);
        td_text(rc->f, report_key_id(k->volume_id, k->serial));
        fputs("<td class=\"sig\"></td></tr>\n", rc->f);
        return ferror(rc->f) ? -EIO : 0;
}

int report_receipts_html(struct journal *j, const struct report_options *o, FILE *f, struct cart_error *err) {
        struct journal_report_filter rf = { .school = o->school, .class_name = o->class_name };
        struct receipts rc = { .f = f, .o = o };
        char t[128], school[512];
        int k;

        static const enum report_word headers[] = {
                REPORT_WORD_COL_FAMILY_NAME, REPORT_WORD_COL_FIRST_NAME, REPORT_WORD_COL_CLASS,
                REPORT_WORD_COL_ISSUED_ON, REPORT_WORD_COL_KEY_NUMBER, REPORT_WORD_COL_SIGNATURE,
        };

        html_head(f, REPORT_WORD_RECEIPTS_TITLE, o,
                  "td.sig{width:34%}tbody tr{height:12mm}td{vertical-align:middle}"
                  ".sign{margin-top:1.5em}@media print{body{font-size:10pt}}");
        report_time(o, REPORT_TIME_DATE, o->now_usec, t, sizeof(t));
        school_text(o, school, sizeof(school));
        fputs("<h1>", f);
        PUT(f, o, RECEIPTS_HEADING);
        fputs("</h1><p class=\"meta\">", f);
        PUT(f, o, RECEIPTS_SCHOOL);
        fputc(' ', f);
        html_put(f, school);
        fputs(". ", f);
        PUT(f, o, RECEIPTS_CLASS);
        fputc(' ', f);
        html_put(f, o->class_name);
        fputs(". ", f);
        PUT(f, o, RECEIPTS_DATE);
        fputc(' ', f);
        html_put(f, t);
        fputc('.', f);
        if (o->since_usec > 0) {
                report_time(o, REPORT_TIME_DATE, o->since_usec, t, sizeof(t));
                fputc(' ', f);
                PUT(f, o, RECEIPTS_SINCE);
                fputc(' ', f);
                html_put(f, t);
                fputc('.', f);
        }
        if (o->run) {
                fputc(' ', f);
                PUT(f, o, RECEIPTS_RUN);
                fputs(" <code>", f);
                html_put(f, o->run);
                fputs("</code>.", f);
        }
        fputs("</p>\n", f);
        html_provenance(f, o);
        fputs("<p>", f);
        PUT(f, o, RECEIPTS_ATTEST);
        fputs("</p>\n<table><thead><tr>", f);
        put_headers(f, o, headers, ELEMENTSOF(headers));
        fputs("</tr></thead><tbody>\n", f);
        k = journal_report_keys(j, &rf, receipt_row, &rc, err);
        if (k < 0)
                return k;
        if (rc.n == 0 && (o->since_usec > 0 || o->run))
                return cart_error_set(err, -ENOENT, "no key handed over to a pupil of class %s of school %s "
                                      "since that date or in that batch run", o->class_name, o->school);
        if (rc.n == 0)
                return cart_error_set(err, -ENOENT, "no key handed over to a pupil of class %s of school %s",
                                      o->class_name, o->school);
        fputs("</tbody></table>\n<p class=\"sign\">", f);
        PUT(f, o, RECEIPTS_SIGNER);
        fputs("</p>\n</body></html>\n", f);
        return 0;
}
