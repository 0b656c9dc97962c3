/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable lost | stolen: a pupil's issued key marked lost or stolen in the journal. */
#include "commands.h"
#include "journal-arg.h"
#include "journal/journal-life.h"
#include "station/keylife.h"

enum { OPT_JOURNAL = 0x100, OPT_PUPIL, OPT_KEY, OPT_OPERATOR };

static int run_mark(const struct command *cmd, int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "pupil", required_argument, NULL, OPT_PUPIL },
                { "key", required_argument, NULL, OPT_KEY },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_free_ char *uid = NULL;
        struct journal_mark m = { .kind = cmd->name };
        const char *journal = NULL, *op = NULL;
        struct cart_error err = {};
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_PUPIL: m.pupil = optarg; break;
                case OPT_KEY: m.key = optarg; break;
                case OPT_OPERATOR: op = optarg; break;
                default: return usage_bad_option(cmd, argv);
                }
        if (optind != argc)
                /* TRANSLATORS: the command ("lost"), the argument. */
                return usage_error(cmd, _("%s: unexpected argument '%s'"), cmd->name, argv[optind]);
        if (!m.pupil == !m.key)
                /* TRANSLATORS: the command ("lost", "stolen"). */
                return usage_error(cmd, _("%s needs --pupil ID or --key SERIAL, one of them"), cmd->name);
        m.operator = keylife_operator(op);
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_key_mark(j, &m, &uid, &err);
        if (r < 0)
                return journal_fail(r, &err);
        r = journal_key_find(j, uid, &k, &err);
        if (r < 0)
                return journal_fail(r, &err);
        _cleanup_free_ char *family = safe_text(k->family_name), *first = safe_text(k->first_name);
        const char *serial = k->serial ? k->serial : k->uid, *class_name = k->class_name ? k->class_name : "";
        if (streq(cmd->name, "lost"))
                /* TRANSLATORS: the key's serial, its journal uid, the pupil's school and id, family
                 * name, first name and class. */
                printf(_("lost %s: key %s of %s/%s (%s %s, %s); the pupil may be given a new key (cartable replace)\n"),
                       serial, k->uid, k->school, k->pupil_id, family ? family : "", first ? first : "", class_name);
        else
                printf(_("stolen %s: key %s of %s/%s (%s %s, %s); the pupil may be given a new key (cartable "
                         "replace)\n"), serial, k->uid, k->school, k->pupil_id, family ? family : "",
                       first ? first : "", class_name);
        return EXIT_OK;
}

static int run_lost(int argc, char **argv) {
        return run_mark(&command_lost, argc, argv);
}

static int run_stolen(int argc, char **argv) {
        return run_mark(&command_stolen, argc, argv);
}

const struct command command_lost = {
        .name = "lost",
        .summary = N_("mark a pupil's key lost in the journal"),
        .help = N_("Usage: cartable lost (--pupil ID | --key SERIAL) [--journal DB] [--operator NAME]\n"
                   "Mark a pupil's issued key lost. See cartable-lifecycle(1).\n"
                   "\n"
                   "Exit codes: 0 recorded; 64 usage; 65 the key is not issued to a pupil; 66 unknown\n"
                   "pupil or key, no journal; 69 the journal's server cannot be reached.\n"),
        .run = run_lost,
};

const struct command command_stolen = {
        .name = "stolen",
        .summary = N_("mark a pupil's key stolen in the journal"),
        .help = N_("Usage: cartable stolen (--pupil ID | --key SERIAL) [--journal DB] [--operator NAME]\n"
                   "Mark a pupil's issued key stolen. See cartable-lifecycle(1).\n"
                   "\n"
                   "Exit codes: 0 recorded; 64 usage; 65 the key is not issued to a pupil; 66 unknown\n"
                   "pupil or key, no journal; 69 the journal's server cannot be reached.\n"),
        .run = run_stolen,
};
