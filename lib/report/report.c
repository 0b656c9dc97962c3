/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reports: the tables read from the journal, and the CSV and JSON writers (HTML: report-html.c). */
#include <inttypes.h>
#include <time.h>

#include "base/csv.h"
#include "report/report-internal.h"

int report_format_from_string(const char *s, enum report_format *ret) {
        static const char *const names[] = { [REPORT_CSV] = "csv", [REPORT_JSON] = "json", [REPORT_HTML] = "html" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (s && streq(s, names[i])) {
                        *ret = (enum report_format) i;
                        return 0;
                }
        return -EINVAL;
}

static void report_done(struct report *r) {
        for (size_t i = 0; i < r->n_classes; i++) {
                free(r->classes[i].school);
                free(r->classes[i].class_name);
        }
        free(r->classes);
        for (size_t i = 0; i < r->n_releases; i++) {
                free(r->releases[i].name);
                free(r->releases[i].version);
        }
        free(r->releases);
        free(r->months);
}

static char *strdup_or_empty(const char *s) {
        return strdup(s ? s : "");
}

static int add_class(void *userdata, const struct journal_class_counts *c) {
        struct report *r = userdata;
        struct report_class *n;

        n = reallocarray(r->classes, r->n_classes + 1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        r->classes = n;
        n = &r->classes[r->n_classes];
        *n = (struct report_class) { .school = strdup_or_empty(c->school), .class_name = strdup_or_empty(c->class_name),
                                     .n = *c };
        n->n.school = n->n.class_name = NULL;
        r->n_classes++;
        if (!n->school || !n->class_name)
                return -ENOMEM;
        r->total.pupils += c->pupils;
        r->total.left += c->left;
        r->total.issued += c->issued;
        r->total.without_key += c->without_key;
        r->total.lost += c->lost;
        r->total.stolen += c->stolen;
        r->total.replaced += c->replaced;
        r->total.returned += c->returned;
        return 0;
}

static int add_release(void *userdata, const struct journal_release_count *c) {
        struct report *r = userdata;
        struct report_release *n;

        n = reallocarray(r->releases, r->n_releases + 1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        r->releases = n;
        n = &r->releases[r->n_releases++];
        *n = (struct report_release) { .name = strdup_or_empty(c->name), .version = strdup_or_empty(c->version),
                                       .serial = c->serial, .keys = c->keys };
        return n->name && n->version ? 0 : -ENOMEM;
}

static int add_incident(void *userdata, const char *kind, int64_t time_usec) {
        struct report *r = userdata;
        time_t t = (time_t) (time_usec / 1000000);
        struct report_month *m = NULL;
        struct tm tm;
        size_t i;

        if (!gmtime_r(&t, &tm))
                return 0;
        /* Events come in journal order, nearly time order: search from the end. */
        for (i = r->n_months; i > 0; i--) {
                struct report_month *x = &r->months[i - 1];
                if (x->year == tm.tm_year + 1900 && x->month == tm.tm_mon + 1) {
                        m = x;
                        break;
                }
                if (x->year * 12 + x->month < (tm.tm_year + 1900) * 12 + tm.tm_mon + 1)
                        break;
        }
        if (!m) {
                struct report_month *n = reallocarray(r->months, r->n_months + 1, sizeof(*n));
                if (!n)
                        return -ENOMEM;
                r->months = n;
                memmove(&n[i + 1], &n[i], (r->n_months - i) * sizeof(*n));
                n[i] = (struct report_month) { .year = tm.tm_year + 1900, .month = tm.tm_mon + 1 };
                m = &n[i];
                r->n_months++;
        }
        if (streq(kind, "lost"))
                m->lost++;
        else if (streq(kind, "stolen"))
                m->stolen++;
        else
                m->replaced++;
        return 0;
}

static int report_load(struct report *r, struct cart_error *err) {
        struct journal_report_filter f = { .school = r->o->school, .class_name = r->o->class_name };
        int k;

        k = journal_report_classes(r->j, &f, add_class, r, err);
        if (k >= 0)
                k = journal_report_releases(r->j, &f, add_release, r, err);
        if (k >= 0)
                k = journal_report_incidents(r->j, &f, add_incident, r, err);
        return k;
}

int report_keys(struct report *r, journal_report_key_fn fn, void *userdata, struct cart_error *err) {
        struct journal_report_filter f = { .school = r->o->school, .class_name = r->o->class_name };
        return journal_report_keys(r->j, &f, fn, userdata, err);
}

static void iso_time(int64_t usec, char ret[32]) {
        if (usec < 0)
                ret[0] = 0;
        else
                time_format(usec / 1000000, ret);
}

/* ---- CSV (base/csv.h): ';' between cells, for French spreadsheets ---- */

static void csv_counts(struct csv_writer *w, const struct journal_class_counts *c) {
        csv_int(w, c->pupils);
        csv_int(w, c->issued);
        csv_int(w, c->without_key);
        csv_int(w, c->lost);
        csv_int(w, c->stolen);
        csv_int(w, c->replaced);
        csv_int(w, c->returned);
        csv_int(w, c->left);
        csv_row_end(w);
}

static int csv_key(void *userdata, const struct journal_report_key *k) {
        struct csv_writer *w = userdata;
        char t[32];

        csv_cell(w, k->school);
        csv_cell(w, k->class_name);
        csv_cell(w, k->pupil_id);
        csv_cell(w, k->family_name);
        csv_cell(w, k->first_name);
        csv_cell(w, k->serial);
        csv_cell(w, k->volume_id);
        csv_cell(w, k->status);
        csv_cell(w, k->release_name);
        csv_cell(w, k->release_version);
        csv_int(w, k->release_serial);
        iso_time(k->verified_usec, t);
        csv_cell(w, t);
        csv_cell(w, k->verified_outcome);
        csv_int(w, k->is_conflict);
        return csv_row_end(w);
}

static int write_csv(struct report *r, FILE *f, struct cart_error *err) {
        static const char *const classes[] = { "school", "class", "pupils", "issued", "without_key", "lost",
                                               "stolen", "replaced", "returned", "left" };
        static const char *const releases[] = { "release", "version", "serial", "keys" };
        static const char *const months[] = { "month", "lost", "stolen", "replaced" };
        static const char *const keys[] = { "school", "class", "pupil_id", "family_name", "first_name",
                                            "key_serial", "volume_id", "status", "release", "release_version",
                                            "release_serial", "last_verified", "last_verification", "conflict" };
        struct csv_writer w = csv_writer_make(f, ';');
        char month[16];

        /* Four tables, each under its own header line, separated by an empty line. */
        fputs("\xEF\xBB\xBF", f);
        csv_row(&w, classes, ELEMENTSOF(classes));
        for (size_t i = 0; i < r->n_classes; i++) {
                csv_cell(&w, r->classes[i].school);
                csv_cell(&w, r->classes[i].class_name);
                csv_counts(&w, &r->classes[i].n);
        }
        csv_cell(&w, "total");
        csv_cell(&w, NULL);
        csv_counts(&w, &r->total);
        csv_row_end(&w);
        csv_row(&w, releases, ELEMENTSOF(releases));
        for (size_t i = 0; i < r->n_releases; i++) {
                csv_cell(&w, r->releases[i].name);
                csv_cell(&w, r->releases[i].version);
                csv_int(&w, r->releases[i].serial);
                csv_int(&w, r->releases[i].keys);
                csv_row_end(&w);
        }
        csv_row_end(&w);
        csv_row(&w, months, ELEMENTSOF(months));
        for (size_t i = 0; i < r->n_months; i++) {
                snprintf(month, sizeof(month), "%04d-%02d", r->months[i].year, r->months[i].month);
                csv_cell(&w, month);
                csv_int(&w, r->months[i].lost);
                csv_int(&w, r->months[i].stolen);
                csv_int(&w, r->months[i].replaced);
                csv_row_end(&w);
        }
        csv_row_end(&w);
        if (csv_row(&w, keys, ELEMENTSOF(keys)) < 0)
                return -EIO;
        return report_keys(r, csv_key, &w, err);
}

/* ---- JSON, streamed by hand: a json-c tree of 100,000 keys would not stay flat ---- */

static void json_str(FILE *f, const char *s) {
        if (!s) {
                fputs("null", f);
                return;
        }
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static void json_counts(FILE *f, const struct journal_class_counts *c) {
        fprintf(f, "\"pupils\":%" PRId64 ",\"issued\":%" PRId64 ",\"without_key\":%" PRId64 ",\"lost\":%" PRId64
                ",\"stolen\":%" PRId64 ",\"replaced\":%" PRId64 ",\"returned\":%" PRId64 ",\"left\":%" PRId64,
                c->pupils, c->issued, c->without_key, c->lost, c->stolen, c->replaced, c->returned, c->left);
}

struct json_keys {
        FILE *f;
        bool first;
};

static int json_key(void *userdata, const struct journal_report_key *k) {
        struct json_keys *jk = userdata;
        FILE *f = jk->f;
        char t[32];

        fputs(jk->first ? "\n{\"school\":" : ",\n{\"school\":", f);
        jk->first = false;
        json_str(f, k->school);
        fputs(",\"class\":", f);
        json_str(f, k->class_name);
        fputs(",\"pupil_id\":", f);
        json_str(f, k->pupil_id);
        fputs(",\"family_name\":", f);
        json_str(f, k->family_name);
        fputs(",\"first_name\":", f);
        json_str(f, k->first_name);
        fprintf(f, ",\"pupil_active\":%s,\"key\":", k->is_active ? "true" : "false");
        json_str(f, k->uid);
        fputs(",\"serial\":", f);
        json_str(f, k->serial);
        fputs(",\"volume_id\":", f);
        json_str(f, k->volume_id);
        fputs(",\"status\":", f);
        json_str(f, k->status);
        fputs(",\"release\":", f);
        if (k->release_serial < 0)
                fputs("null", f);
        else {
                fputs("{\"name\":", f);
                json_str(f, k->release_name);
                fputs(",\"version\":", f);
                json_str(f, k->release_version);
                fprintf(f, ",\"serial\":%" PRId64 "}", k->release_serial);
        }
        fputs(",\"last_verification\":", f);
        if (k->verified_usec < 0)
                fputs("null", f);
        else {
                iso_time(k->verified_usec, t);
                fprintf(f, "{\"time\":\"%s\",\"result\":", t);
                json_str(f, k->verified_outcome);
                fputs("}", f);
        }
        fprintf(f, ",\"conflict\":%s}", k->is_conflict ? "true" : "false");
        return ferror(f) ? -EIO : 0;
}

static int write_json(struct report *r, FILE *f, struct cart_error *err) {
        struct json_keys jk = { .f = f, .first = true };
        char t[32];
        int k;

        iso_time(r->o->now_usec, t);
        fprintf(f, "{\"report\":\"cartable-keys\",\"version\":1,\"generated\":\"%s\",\"school\":", t);
        json_str(f, r->o->school);
        fputs(",\"class\":", f);
        json_str(f, r->o->class_name);
        fputs(",\n\"totals\":{", f);
        json_counts(f, &r->total);
        fputs("},\n\"classes\":[", f);
        for (size_t i = 0; i < r->n_classes; i++) {
                fputs(i ? ",\n{\"school\":" : "\n{\"school\":", f);
                json_str(f, r->classes[i].school);
                fputs(",\"class\":", f);
                json_str(f, r->classes[i].class_name);
                fputc(',', f);
                json_counts(f, &r->classes[i].n);
                fputc('}', f);
        }
        fputs("],\n\"releases\":[", f);
        for (size_t i = 0; i < r->n_releases; i++) {
                fputs(i ? ",{\"name\":" : "{\"name\":", f);
                json_str(f, r->releases[i].name);
                fputs(",\"version\":", f);
                json_str(f, r->releases[i].version);
                fprintf(f, ",\"serial\":%" PRId64 ",\"keys\":%" PRId64 "}", r->releases[i].serial, r->releases[i].keys);
        }
        fputs("],\n\"months\":[", f);
        for (size_t i = 0; i < r->n_months; i++)
                fprintf(f, "%s{\"month\":\"%04d-%02d\",\"lost\":%" PRId64 ",\"stolen\":%" PRId64 ",\"replaced\":%" PRId64 "}",
                        i ? "," : "", r->months[i].year, r->months[i].month, r->months[i].lost, r->months[i].stolen,
                        r->months[i].replaced);
        fputs("],\n\"keys\":[", f);
        k = report_keys(r, json_key, &jk, err);
        if (k < 0)
                return k;
        fputs("]}\n", f);
        return 0;
}

int report_write(struct journal *j, const struct report_options *o, FILE *out, struct cart_error *err) {
        struct report r = { .o = o, .j = j };
        int k;

        k = report_load(&r, err);
        if (k >= 0) {
                if (o->format == REPORT_CSV)
                        k = write_csv(&r, out, err);
                else if (o->format == REPORT_JSON)
                        k = write_json(&r, out, err);
                else
                        k = report_write_html(&r, out, err);
        }
        report_done(&r);
        /* A failed write (a full disk too) is the output's -EIO, not a key too small. */
        if ((k >= 0 || k == -EIO) && (fflush(out) != 0 || ferror(out)))
                return cart_error_errno(err, -EIO, NULL, "writing the report");
        return k;
}

int report_receipts_write(struct journal *j, const struct report_options *o, FILE *out, struct cart_error *err) {
        int k;

        if (!o->school || !o->class_name)
                return cart_error_set(err, -EINVAL, "a receipts sheet is for one class: give its school and class");
        k = report_receipts_html(j, o, out, err);
        if ((k >= 0 || k == -EIO) && (fflush(out) != 0 || ferror(out)))
                return cart_error_errno(err, -EIO, NULL, "writing the receipts");
        return k;
}
