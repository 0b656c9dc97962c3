/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable return: a key taken back, verified, recorded returned. */
#include <inttypes.h>

#include "commands.h"
#include "journal-arg.h"
#include "key-io.h"
#include "key-life.h"
#include "trust.h"

enum { OPT_JOURNAL = 0x100, OPT_OPERATOR };

static bool is_reason(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || *s == '-'))
                        return false;
        return true;
}

/* What return says: the key and its outcome, the release files that are not intact, then
 * the pupil's own files by name and size, never their content. */
static void print_returned(const struct keylife_verdict *d, const char *reason, const struct verify_result *v) {
        const struct journal_key_info *k = d->key;
        const char *outcome = key_status_words(keylife_outcome_to_string(d->outcome)), *serial = k->serial ? k->serial : k->uid;
        size_t n_own = 0, n;

        if (verify_result_is_intact(v))
                /* TRANSLATORS: the key's serial, the --reason word ("left"), its uid, the pupil's school
                 * and id, the outcome ("intact", "swapped"). */
                printf(_("returned %s (%s): key %s of %s/%s, %s: every release file intact\n"), serial, reason,
                       k->uid, k->school, k->pupil_id, outcome);
        else
                printf(_("returned %s (%s): key %s of %s/%s, %s: release files missing or changed\n"), serial, reason,
                       k->uid, k->school, k->pupil_id, outcome);
        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                if (e->status == VERIFY_EXTRA) {
                        n_own++;
                        continue;
                }
                printf("  %-9s %s\n", verify_status_words(e->status), esc(e->path));
        }
        n = n_own + v->n_unlisted;
        if (n_own)
                printf(ngettext("pupil's own files: %zu (give them back or erase them)\n",
                                "pupil's own files: %zu (give them back or erase them)\n", n), n);
        else
                printf(ngettext("pupil's own files: %zu\n", "pupil's own files: %zu\n", n), n);
        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                if (e->status != VERIFY_EXTRA)
                        continue;
                if (e->is_dir)
                        /* TRANSLATORS: a folder the pupil added (its path). */
                        printf(_("  dir  %s\n"), esc(e->path));
                else
                        /* TRANSLATORS: a file the pupil added: its path, its size in bytes. */
                        printf(ngettext("  file %s (%" PRIu64 " byte)\n", "  file %s (%" PRIu64 " bytes)\n",
                                        (unsigned long) e->actual_size), esc(e->path), e->actual_size);
        }
}

static int run_return(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "reason", required_argument, NULL, 'r' },
                TRUST_OPTION('t'),
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(keylife_verdict_done) struct keylife_verdict d = {};
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_(trust_args_done) struct trust_args trust_args = {};
        char usb[128];
        _cleanup_close_ int fd = -EBADF;
        const char *journal = NULL, *op = NULL, *reason = "returned";
        struct cart_error err = {};
        uint64_t size;
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_OPERATOR: op = optarg; break;
                case 'r': reason = optarg; break;
                case 't':
                        if (trust_args_add(&trust_args, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                default: return usage_bad_option(&command_return, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_return, _("expected TARGET"));
        if (!is_reason(reason))
                return usage_error(&command_return, _("--reason is a word of a-z and '-' (left, broken...), not '%s'"),
                                   reason);
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = trust_load(&trust_args, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = key_open_read(argv[optind], &fd, &size, &err);
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return exit_code_for_target(&err, r);
        }
        const struct verify_options vo = { .trust = trust, .state_dir = arg_config->state_dir };
        r = verify_key_with(fd_read_at, (void *) (intptr_t) fd, size, &vo, &v, &err);
        if (r < 0) {
                /* TRANSLATORS: the key, why it could not be verified. */
                log_error(r, _("%s: %s: nothing recorded"), argv[optind], ERROR_TEXT(&err, r));
                /* As verify: a bad or malformed signature on the key is a trust failure (3). */
                return exit_code_for_key(&err, r);
        }
        key_usb_serial(fd, usb, sizeof(usb));
        r = keylife_return(j, keylife_operator(op), reason, v, usb, &d, &err);
        if (r == -EINVAL && d.key)
                /* TRANSLATORS: the key's uid, its status ("stock", "lost"). */
                return log_fail(r, _("key %s is %s, not issued to a pupil: it cannot be returned; nothing "
                                     "recorded"), d.key->uid, key_status_words(d.key->status));
        if (r < 0)
                return journal_fail(r, &err);
        key_life_say_verdict(&d);
        print_returned(&d, reason, v);
        return d.outcome == KEYLIFE_INTACT ? EXIT_OK : EXIT_MODIFIED;
}

const struct command command_return = {
        .name = "return",
        .summary = N_("take a key back: verify it, record it returned"),
        .help = N_("Usage: cartable return TARGET [--reason left|broken|end-of-year|...] [--trust KEY]...\n"
                "                       [--journal DB] [--operator NAME]\n"
                "\n"
                "A key comes back: it is verified (missing, modified and extra files, sealed\n"
                "directories, partition table), the verification and the return are recorded in\n"
                "the journal, and the pupil's own files are listed by name and size, never printed.\n"
                "Only a key issued to a pupil can be returned; anything else changes nothing.\n"
                "\n"
                "Exit codes: 0 returned intact; 1 returned, modified or swapped; 2 not a cartable\n"
                "key; 3 a bad, untrusted or malformed signature; 64 usage; 65 the key is not\n"
                "issued; 66 unknown key, no journal, no target; 69 the journal's server cannot be\n"
                "reached. See cartable-lifecycle(1).\n"),
        .run = run_return,
};
