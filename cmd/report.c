/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable report: keys per school and class, in CSV, JSON or HTML; the receipts sheet. */
#include <time.h>

#include "commands.h"
#include "journal-arg.h"
#include "output-arg.h"
#include "report/report.h"

static int run_report(int argc, char **argv);

const struct command command_report = {
        .name = "report",
        .summary = N_("report keys per school and class (CSV, JSON, HTML); receipts sheets"),
        .help = N_(
        "Usage: cartable report [--school UAI] [--class C] [--format csv|json|html] [--output FILE]\n"
        "       cartable report receipts --school UAI --class C [--output FILE.html]\n"
        "\n"
        "  report    per school and class: pupils, keys issued, pupils without a key, lost,\n"
        "            stolen, replaced, returned; releases in the field; lost and replaced\n"
        "            keys per month; every key with its pupil, status, release and last\n"
        "            verification. CSV is UTF-8 with a BOM and ';' (a French spreadsheet\n"
        "            opens it as is; cells that would be formulas start with a quote);\n"
        "            JSON follows manifests/schemas/report.schema.json; HTML is one\n"
        "            self-contained page with charts, printable on A4.\n"
        "  receipts  the feuille d'emargement of one class: a row per pupil with family\n"
        "            name, first name, class, key serial and a box to sign, on A4.\n"
        "\n"
        "HTML (the report and the receipts sheet) is in the user's language; CSV and JSON,\n"
        "meant for scripts, do not change with it.\n"
        "\n"
        "Options:\n"
        "  --journal DB     the journal (default: [journal] path, or STATE_DIR/journal.db)\n"
        "  --school UAI     one school\n"
        "  --class C        one class (with --school when several schools have it)\n"
        "  --format F       csv (default), json or html\n"
        "  --output FILE    write FILE (never overwritten) instead of stdout\n"
        "\n"
        "Exit codes: 0 success; 64 usage; 65 not a journal; 66 no journal, a school or class\n"
        "the journal does not hold, no pupil in the class; 73 output exists or cannot be\n"
        "created. See cartable-report(1).\n"),
        .run = run_report,
};

enum { OPT_JOURNAL = 0x100, OPT_SCHOOL, OPT_CLASS, OPT_FORMAT, OPT_OUTPUT };

/* The HTML documents are for the school's staff: their words follow the locale. lib/report
 * holds them in English (marked for xgettext); each is translated here, with its context
 * when it has one ("key status\004lost"). CSV and JSON have no words to translate. */
static void translate_words(const char *words[_REPORT_WORD_MAX]) {
        for (size_t i = 0; i < _REPORT_WORD_MAX; i++) {
                const char *en = report_words_english[i], *ctx_end = strchr(en, '\004');
                words[i] = ctx_end ? i18n_pgettext(en, ctx_end + 1) : gettext(en);
        }
}

static int run_report(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "school", required_argument, NULL, OPT_SCHOOL },
                { "class", required_argument, NULL, OPT_CLASS },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "output", required_argument, NULL, OPT_OUTPUT },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(output_arg_done) struct output_arg out = {};
        struct report_options o = { .format = REPORT_CSV };
        const char *journal = NULL, *output = NULL, *format = NULL;
        struct cart_error err = {};
        const char *words[_REPORT_WORD_MAX];
        bool receipts = false;
        int c, code, r;

        if (argc > 1 && streq(argv[1], "receipts")) {
                receipts = true;
                argc--;
                argv++;
        }
        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_SCHOOL: o.school = optarg; break;
                case OPT_CLASS: o.class_name = optarg; break;
                case OPT_FORMAT: format = optarg; break;
                case OPT_OUTPUT: output = optarg; break;
                default: return usage_bad_option(&command_report, argv);
                }
        if (optind != argc)
                return usage_error(&command_report, _("report: unexpected argument '%s'"), argv[optind]);
        if (format && report_format_from_string(format, &o.format) < 0)
                return usage_error(&command_report, _("report: --format is csv, json or html, not '%s'"), format);
        if (receipts && (!o.school || !o.class_name))
                return usage_error(&command_report, _("report receipts needs --school and --class"));
        if (receipts && format && o.format != REPORT_HTML)
                return usage_error(&command_report, _("report receipts is HTML only"));
        o.now_usec = (int64_t) time(NULL) * 1000000;
        translate_words(words);
        o.words = words;

        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_check_known(j, o.school, o.class_name);
        if (code != EXIT_OK)
                return code;
        code = output_arg_open(&out, output);
        if (code != EXIT_OK)
                return code;
        r = receipts ? report_receipts_write(j, &o, out.f, &err) : report_write(j, &o, out.f, &err);
        if (r == -EIO)
                return output_arg_fail(&out, r, &err);
        if (r < 0)
                return journal_fail(r, &err);
        return output_arg_finish(&out);
}
