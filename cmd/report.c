/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable report: keys per school and class, in CSV, JSON or HTML; the receipts sheet. */
#include <strings.h>
#include <time.h>

#include "commands.h"
#include "config-paths.h"
#include "journal-arg.h"
#include "output-arg.h"
#include "journal/journal-report.h"
#include "station/keylife.h"
#include "report/report.h"

static int run_report(int argc, char **argv);

const struct command command_report = {
        .name = "report",
        .summary = N_("report keys per school and class (CSV, JSON, HTML, PDF); receipts sheets, key labels"),
        .help = N_(
        "Usage: cartable report [--school UAI] [--class C] [--format csv|json|html|pdf] [--output FILE]\n"
        "                       [--mode MODE] [--force]\n"
        "       cartable report receipts --school UAI --class C [--since DATE] [--batch RUN]\n"
        "                                [--format html|pdf] [--output FILE]\n"
        "       cartable report labels --school UAI --class C [--layout L7159|L7163]\n"
        "                              [--since DATE] [--batch RUN] [--format html|pdf] [--output FILE]\n"
        "\n"
        "  report    per school and class: pupils, keys issued, pupils without a key (by\n"
        "            name in HTML), lost, stolen, replaced, returned; releases in the field;\n"
        "            lost and replaced keys per month; every key with its pupil, short id,\n"
        "            status, release and last verification. CSV is UTF-8 with a BOM and ';'\n"
        "            (a French spreadsheet opens it as is; cells that would be formulas\n"
        "            start with a quote); JSON follows manifests/schemas/report.schema.json;\n"
        "            HTML is one self-contained page with charts, printable on A4.\n"
        "  receipts  the feuille d'emargement of one class: a row per key handed over to a\n"
        "            pupil still there, with family name, first name, class, date of issue,\n"
        "            the key's short id and a box to sign, on A4.\n"
        "  labels    an A4 sheet of sticker labels, one per key handed over: first name,\n"
        "            family name, class, the key's short id and a QR code of that id only.\n"
        "            L7159: 3 x 8 labels of 63.5 x 33.9 mm (default); L7163: 2 x 7 of\n"
        "            99.1 x 38.1 mm.\n"
        "\n"
        "HTML (the report, the receipts sheet, the labels) is in the user's language, its\n"
        "dates in the user's time zone; each printed page of the report and the receipts\n"
        "names the school (its name from [schools] of the configuration), the class, the\n"
        "station, the operator, cartable's version, the journal (verified: intact or\n"
        "BROKEN) and its page number. PDF (--format pdf, or an output FILE.pdf) is that\n"
        "HTML printed by headless Chromium. CSV and JSON, meant for scripts, do not change\n"
        "with the language.\n"
        "\n"
        "Options:\n"
        "  --journal DB     the journal (default: [journal] path, or STATE_DIR/journal.db)\n"
        "  --school UAI     one school\n"
        "  --class C        one class (with --school when several schools have it)\n"
        "  --format F       csv (default), json, html or pdf\n"
        "  --output FILE    write FILE instead of stdout (an existing FILE is refused)\n"
        "  --force          replace an existing FILE (never a symbolic link)\n"
        "  --mode MODE      FILE's mode, 0600 unless given, for a shared folder (0640: the\n"
        "                   group reads it)\n"
        "  --operator NAME  who prints it (default: $SUDO_USER, $USER)\n"
        "  --since DATE     receipts, labels: only keys issued since DATE (YYYY-MM-DD, or today)\n"
        "  --batch RUN      receipts, labels: only keys of this batch run (its id, as journal\n"
        "                   show gives it, or last: the newest run that started a key of the class)\n"
        "  --layout NAME    labels: the sheet, L7159 or L7163\n"
        "\n"
        "Exit codes: 0 success; 64 usage; 65 not a journal; 66 no journal, a school or class\n"
        "the journal does not hold, no key handed over in the class; 69 PDF without\n"
        "Chromium; 73 output exists or cannot be\n"
        "created. See cartable-report(1).\n"),
        .run = run_report,
};

enum { OPT_JOURNAL = 0x100, OPT_SCHOOL, OPT_CLASS, OPT_FORMAT, OPT_OUTPUT, OPT_OPERATOR, OPT_FORCE, OPT_SINCE,
       OPT_BATCH, OPT_LAYOUT, OPT_MODE };

/* The HTML documents are for the school's staff: their words follow the locale. lib/report
 * holds them in English (marked for xgettext); each is translated here, with its context
 * when it has one ("key status\004lost"). CSV and JSON have no words to translate. */
static void translate_words(const char *words[_REPORT_WORD_MAX]) {
        for (size_t i = 0; i < _REPORT_WORD_MAX; i++) {
                const char *en = report_words_english[i], *ctx_end = strchr(en, '\004');
                words[i] = ctx_end ? i18n_pgettext(en, ctx_end + 1) : gettext(en);
        }
}

/* The documents' dates in the reader's language and time zone (TZ): French readers see
 * "7 décembre 2026, 15 h 16 CET", not 2026-12-07T14:16:58Z. */
static void format_time(enum report_time_form form, int64_t usec, char *buf, size_t len) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        size_t n = 0;

        if (!localtime_r(&t, &tm)) {
                buf[0] = 0;
                return;
        }
        switch (form) {
        /* TRANSLATORS: strftime(3) formats of the report's and receipts' dates: a date and
         * time (French: "%-d %B %Y, %H h %M %Z", 7 décembre 2026, 15 h 16 CET), a date
         * ("%-d %B %Y") and a date in a table ("%d/%m/%Y"). */
        case REPORT_TIME_FULL: n = strftime(buf, len, _("%B %-d, %Y, %H:%M %Z"), &tm); break;
        case REPORT_TIME_DATE: n = strftime(buf, len, _("%B %-d, %Y"), &tm); break;
        case REPORT_TIME_SHORT: n = strftime(buf, len, _("%Y-%m-%d"), &tm); break;
        }
        if (n == 0)
                buf[0] = 0;
}

/* Each station's chain head, kept past journal_verify's callback. */
struct heads {
        struct journal_head *v;
        size_t n;
        int r;
};

static void add_head(void *userdata, const struct journal_head *h) {
        struct heads *hs = userdata;
        struct journal_head *n;

        if (hs->r < 0)
                return;
        n = reallocarray(hs->v, hs->n + 1, sizeof(*n));
        if (!n) {
                hs->r = -ENOMEM;
                return;
        }
        hs->v = n;
        n[hs->n] = (struct journal_head) { .station = strdup(h->station), .n_events = h->n_events,
                                           .hash = strdup(h->hash) };
        if (!n[hs->n].station || !n[hs->n].hash)
                hs->r = -ENOMEM;
        hs->n++;
}

static void heads_done(struct heads *hs) {
        for (size_t i = 0; i < hs->n; i++) {
                free((char *) hs->v[i].station);
                free((char *) hs->v[i].hash);
        }
        free(hs->v);
}

/* Where the documents come from: the school's name from the configuration ([schools]: the
 * rosters carry only its UAI), this station, the operator, this cartable, and the journal
 * with its heads, verified now. A broken chain is printed on every page, not refused: the
 * auditor must see it. */
static int provenance(struct journal *j, const char *school, const char *operator, struct heads *hs,
                      struct report_provenance *ret) {
        struct cart_error err = {};
        int r;

        r = journal_verify(j, add_head, hs, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (hs->r < 0)
                return log_fail(hs->r, _("out of memory"));
        *ret = (struct report_provenance) {
                .school_name = config_school_name(arg_config, school), .station = journal_station(j),
                .operator = keylife_operator(operator), .version = CARTABLE_VERSION, .journal = journal_name(j),
                .heads = hs->v, .n_heads = hs->n, .is_broken = r == 1,
        };
        return EXIT_OK;
}

/* --since: YYYY-MM-DD or "today", from local midnight. */
static int parse_since(const char *s, int64_t *ret) {
        char today[16];
        time_t t = time(NULL);
        struct tm tm;

        if (streq(s, "today")) {
                if (!localtime_r(&t, &tm) || strftime(today, sizeof(today), "%Y-%m-%d", &tm) == 0)
                        return -EINVAL;
                s = today;
        }
        return local_day_usec(s, ret);
}

enum mode { MODE_REPORT, MODE_RECEIPTS, MODE_LABELS };

struct args {
        enum mode mode;
        const char *journal, *output, *format, *operator, *since, *layout;
        bool force, pdf;
        mode_t file_mode;              /* --output's, 0600 unless --mode */
        const struct report_layout *l;
        struct report_options o;
};

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "school", required_argument, NULL, OPT_SCHOOL },
                { "class", required_argument, NULL, OPT_CLASS },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "force", no_argument, NULL, OPT_FORCE },
                { "since", required_argument, NULL, OPT_SINCE },
                { "batch", required_argument, NULL, OPT_BATCH },
                { "layout", required_argument, NULL, OPT_LAYOUT },
                { "mode", required_argument, NULL, OPT_MODE },
                {}
        };
        struct report_options *o = &a->o;
        size_t n;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_SCHOOL: o->school = optarg; break;
                case OPT_CLASS: o->class_name = optarg; break;
                case OPT_FORMAT: a->format = optarg; break;
                case OPT_OUTPUT: a->output = optarg; break;
                case OPT_OPERATOR: a->operator = optarg; break;
                case OPT_FORCE: a->force = true; break;
                case OPT_SINCE: a->since = optarg; break;
                case OPT_BATCH: o->run = optarg; break;
                case OPT_LAYOUT: a->layout = optarg; break;
                case OPT_MODE:
                        if (output_mode_parse(optarg, &a->file_mode) < 0)
                                return usage_error(&command_report, _("report: --mode is an octal mode such as "
                                                                      "0640, read and write bits only, not '%s'"),
                                                   optarg);
                        break;
                default: return usage_bad_option(&command_report, argv);
                }
        if (optind != argc)
                return usage_error(&command_report, _("report: unexpected argument '%s'"), argv[optind]);
        /* PDF: the HTML document, printed; asked for by --format pdf or an output FILE.pdf. */
        n = a->output ? strlen(a->output) : 0;
        a->pdf = a->format ? streq(a->format, "pdf") : n > 4 && strcasecmp(a->output + n - 4, ".pdf") == 0;
        o->format = a->mode == MODE_REPORT ? REPORT_CSV : REPORT_HTML;
        if (a->pdf)
                o->format = REPORT_HTML;
        else if (a->format && report_format_from_string(a->format, &o->format) < 0)
                return usage_error(&command_report, _("report: --format is csv, json, html or pdf, not '%s'"), a->format);
        if (a->mode != MODE_REPORT && (!o->school || !o->class_name))
                return usage_error(&command_report, _("report receipts and report labels need --school and --class"));
        if (a->mode != MODE_REPORT && o->format != REPORT_HTML)
                return usage_error(&command_report, _("report receipts and report labels are HTML or PDF"));
        if (a->mode == MODE_REPORT && (a->since || o->run))
                return usage_error(&command_report, _("report: --since and --batch are options of report receipts and labels"));
        if (a->since && parse_since(a->since, &o->since_usec) < 0)
                return usage_error(&command_report, _("report: --since is a date YYYY-MM-DD or today, not '%s'"), a->since);
        if (a->mode != MODE_LABELS && a->layout)
                return usage_error(&command_report, _("report: --layout is an option of report labels"));
        if (a->mode == MODE_LABELS && report_layout_from_string(a->layout, &a->l) < 0)
                return usage_error(&command_report, _("report labels: --layout is L7159 (3 x 8) or L7163 (2 x 7), not '%s'"),
                                   a->layout);
        return EXIT_OK;
}

/* The document, for report_pdf() or straight to a file. */
struct document {
        struct journal *j;
        const struct args *a;
};

static int write_document(void *userdata, FILE *out, struct cart_error *err) {
        const struct document *d = userdata;

        switch (d->a->mode) {
        case MODE_RECEIPTS: return report_receipts_write(d->j, &d->a->o, out, err);
        case MODE_LABELS: return report_labels_write(d->j, &d->a->o, d->a->l, out, err);
        default: return report_write(d->j, &d->a->o, out, err);
        }
}

/* --batch last: the newest batch run that started a key of the class. */
static int resolve_last_run(struct journal *j, struct report_options *o, char **ret) {
        struct journal_report_filter f = { .school = o->school, .class_name = o->class_name };
        struct cart_error err = {};
        int r;

        if (!o->run || !streq(o->run, "last"))
                return EXIT_OK;
        r = journal_report_last_run(j, &f, ret, &err);
        if (r == -ENOENT) {
                log_error(r, _("no batch run started a key of class %s of school %s"), o->class_name, o->school);
                return EXIT_NOINPUT;
        }
        if (r < 0)
                return journal_fail(r, &err);
        o->run = *ret;
        return EXIT_OK;
}

static int run_report(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(output_arg_done) struct output_arg out = {};
        _cleanup_free_ char *last_run = NULL;
        struct args a = { .file_mode = 0600 };
        struct report_provenance prov;
        struct heads hs = {};
        struct document d = { .a = &a };
        struct cart_error err = {};
        const char *words[_REPORT_WORD_MAX];
        int code, r;

        if (argc > 1 && (streq(argv[1], "receipts") || streq(argv[1], "labels"))) {
                a.mode = streq(argv[1], "receipts") ? MODE_RECEIPTS : MODE_LABELS;
                argc--;
                argv++;
        }
        code = parse_args(argc, argv, &a);
        if (code != EXIT_OK)
                return code;
        a.o.now_usec = (int64_t) time(NULL) * 1000000;
        translate_words(words);
        a.o.words = words;
        a.o.format_time = format_time;

        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_check_known(j, a.o.school, a.o.class_name);
        if (code != EXIT_OK)
                return code;
        d.j = j;
        /* The report and the receipts say where they come from; a label has no room for it. */
        if (a.o.format == REPORT_HTML && a.mode != MODE_LABELS) {
                code = provenance(j, a.o.school, a.operator, &hs, &prov);
                if (code != EXIT_OK) {
                        heads_done(&hs);
                        return code;
                }
                a.o.provenance = &prov;
        }
        code = resolve_last_run(j, &a.o, &last_run);
        if (code != EXIT_OK) {
                heads_done(&hs);
                return code;
        }
        code = output_arg_open_forced(&out, a.output, a.force);
        if (code != EXIT_OK) {
                heads_done(&hs);
                return code;
        }
        out.mode = a.file_mode;
        r = a.pdf ? report_pdf(write_document, &d, out.f, &err) : write_document(&d, out.f, &err);
        heads_done(&hs);
        if (r == -EIO)
                return output_arg_fail(&out, r, &err);
        if (r == -ENOPKG)
                return log_error(r, "%s", err.msg), EXIT_UNAVAILABLE;
        if (r < 0)
                return journal_fail(r, &err);
        return output_arg_finish(&out);
}
