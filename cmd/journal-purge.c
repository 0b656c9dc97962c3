/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable journal purge: the names and ids of pupils who left, erased from the journal. */
#include <inttypes.h>
#include <time.h>

#include "commands.h"
#include "journal-arg.h"
#include "journal/journal-purge.h"
#include "station/keylife.h"

enum { OPT_JOURNAL = 0x100, OPT_OPERATOR };

static int on_purged(void *userdata, const char *school, const char *id, const char *class_name, int64_t left_usec) {
        char t[32];

        _cleanup_free_ char *c = safe_text(class_name);

        time_format(left_usec / 1000000, t);
        t[10] = 0;
        /* TRANSLATORS: a pupil's school (UAI) and id, class, the day the pupil left (YYYY-MM-DD). */
        printf(_("would purge %s/%s, class %s, left %s\n"), school, id, c ? c : "", t);
        return 0;
}

int run_journal_purge(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "left-before", required_argument, NULL, 'l' },
                { "dry-run", no_argument, NULL, 'n' },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        const char *journal = NULL, *op = NULL, *date = NULL;
        struct journal_purge_counts n;
        struct cart_error err = {};
        bool dry_run = false;
        struct tm tm = {};
        const char *end;
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_OPERATOR: op = optarg; break;
                case 'l': date = optarg; break;
                case 'n': dry_run = true; break;
                default: return usage_bad_option(&command_journal, argv);
                }
        if (optind != argc)
                return usage_error(&command_journal, _("journal purge: unexpected argument '%s'"), argv[optind]);
        if (!date)
                return usage_error(&command_journal, _("journal purge needs --left-before YYYY-MM-DD"));
        end = strptime(date, "%Y-%m-%d", &tm);
        if (!end || *end)
                return usage_error(&command_journal, _("journal purge: '%s' is not a date YYYY-MM-DD"), date);
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_purge(j, (int64_t) timegm(&tm) * 1000000, keylife_operator(op), dry_run,
                          dry_run ? on_purged : NULL, NULL, &n, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (dry_run)
                /* TRANSLATORS: a count of pupils, a date (YYYY-MM-DD). */
                printf(ngettext("dry run: %" PRIu64 " pupil who left before %s: names and ids would be erased\n",
                                "dry run: %" PRIu64 " pupils who left before %s: names and ids would be erased\n",
                                (unsigned long) n.pupils), n.pupils, date);
        else {
                /* TRANSLATORS: a count of pupils, a date (YYYY-MM-DD); then a count of journal events. */
                printf(ngettext("%" PRIu64 " pupil who left before %s: names and ids erased\n",
                                "%" PRIu64 " pupils who left before %s: names and ids erased\n",
                                (unsigned long) n.pupils), n.pupils, date);
                printf(ngettext("%" PRIu64 " event lost its pupil id\n", "%" PRIu64 " events lost their pupil id\n",
                                (unsigned long) n.events), n.events);
        }
        if (n.kept_v1)
                printf(ngettext("%" PRIu64 " id kept, named by events written before journal schema v2\n",
                                "%" PRIu64 " ids kept, named by events written before journal schema v2\n",
                                (unsigned long) n.kept_v1), n.kept_v1);
        return EXIT_OK;
}
