/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable issue: hand a stock key to a pupil, its owner file and key record rewritten in place. */
#include <inttypes.h>
#include <json-c/json.h>
#include <time.h>

#include "commands.h"
#include "journal-arg.h"
#include "key-io.h"
#include "station/keylife.h"
#include "station/station.h"
#include "trust.h"

enum { OPT_JOURNAL = 0x100, OPT_PUPIL, OPT_OPERATOR, OPT_JSON, OPT_YES };

/* ---- cartable issue ---- */

struct issue_args {
        const char *journal, *pupil, *op, *target;
        bool json, yes;
        struct trust_args trust;
};

static int parse(int argc, char **argv, struct issue_args *a) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "pupil", required_argument, NULL, OPT_PUPIL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "json", no_argument, NULL, OPT_JSON },
                { "yes", no_argument, NULL, OPT_YES },
                TRUST_OPTION('t'),
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_PUPIL: a->pupil = optarg; break;
                case OPT_OPERATOR: a->op = optarg; break;
                case OPT_JSON: a->json = true; break;
                case OPT_YES: a->yes = true; break;
                case 't':
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                default: return usage_bad_option(&command_issue, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_issue, _("expected TARGET"));
        if (!a->pupil)
                return usage_error(&command_issue, _("issue needs --pupil ID"));
        a->target = argv[optind];
        if (station_target_is_device(a->target) && !a->yes)
                return usage_error(&command_issue, _("issue writes the owner file on %s: add --yes"), a->target);
        return EXIT_OK;
}

static void print_result(const struct issue_args *a, const struct journal_key_info *k,
                         const struct journal_pupil_info *p, const struct verify_result *v, bool was_written) {
        char vid[16];

        key_format_volume_id(v->volume_id, vid);
        if (a->json) {
                struct json_object *o = json_object_new_object(), *pupil = json_object_new_object();

                json_object_object_add(o, "key", json_object_new_string(k->uid));
                json_object_object_add(o, "volume_id", json_object_new_string(vid));
                json_object_object_add(pupil, "school", json_object_new_string(p->school));
                json_object_object_add(pupil, "id", json_object_new_string(p->id));
                json_object_object_add(pupil, "class", json_object_new_string(p->class_name));
                json_object_object_add(o, "pupil", pupil);
                json_object_object_add(o, "owner_file", v->owner_path ? json_object_new_string(v->owner_path) : NULL);
                json_object_object_add(o, "written", json_object_new_boolean(was_written));
                json_object_object_add(o, "outcome", json_object_new_string("issued"));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return;
        }
        printf(_("issued key %s (volume %s) to %s/%s ("), k->uid, vid, p->school, p->id);
        fput_safe(p->family_name, stdout);
        putchar(' ');
        fput_safe(p->first_name, stdout);
        printf(_(", class %s)\n"), esc(p->class_name));
        if (!was_written)
                puts(_("the key already named this pupil: nothing written, the issue recorded"));
        else if (v->owner_path)
                printf(_("written in place: \"/%s\" and the key record; read back intact\n"), esc(v->owner_path));
        else
                puts(_("written in place: the key record (the release has no owner file); read back intact"));
}

/* Why the key was not issued, said once; its exit code. */
static int issue_failed(const struct issue_args *a, enum keylife_issue_step step, int r, const struct cart_error *err,
                        const struct journal_pupil_info *p) {
        switch (step) {
        case KEYLIFE_ISSUE_TARGET:
                return log_fail_error(err, r, _("%s: nothing written"), a->target);
        case KEYLIFE_ISSUE_KEY:
                if (exit_code_for_error(err, r) != EXIT_NOT_CARTABLE)
                        return log_fail_error(err, r, _("%s: nothing written"), a->target);
                log_error(r, _("%s: %s: nothing written"), a->target, ERROR_TEXT(err, r));
                return EXIT_NOT_CARTABLE;
        case KEYLIFE_ISSUE_INTACT:
                log_error(r, _("%s: %s: it cannot be issued (cartable verify says more); nothing written"),
                          a->target, ERROR_TEXT(err, r));
                return EXIT_MODIFIED;
        case KEYLIFE_ISSUE_FIND:
                return log_fail(r, _("%s: %s: nothing written"), a->target, ERROR_TEXT(err, r));
        case KEYLIFE_ISSUE_SWAPPED:
                log_error(r, _("SWAPPED: %s: %s; nothing written"), a->target, LIB_WORDS(err));
                return EXIT_MODIFIED;
        case KEYLIFE_ISSUE_PUPIL:
                if (r == -EEXIST || r == -EINVAL) {
                        log_error(r, _("%s; nothing written"), ERROR_TEXT(err, r));
                        return EXIT_DATA;
                }
                return journal_fail(r, err);
        case KEYLIFE_ISSUE_WRITE:
                return log_fail_error(err, r, _("%s: the key was not issued"), a->target);
        case KEYLIFE_ISSUE_RECORD:
                log_error(r, _("%s: the key now names %s/%s, but the journal did not record the issue: %s. Run the "
                               "same cartable issue again: it records it without writing the key again"),
                          a->target, p->school, p->id, ERROR_TEXT(err, r));
                /* One code for "written, not recorded", whatever the journal's reason: 69 when its server went away. */
                return exit_code_for(r) == EXIT_UNAVAILABLE ? EXIT_UNAVAILABLE : EXIT_SOFTWARE;
        }
        return EXIT_SOFTWARE;
}

static int run_issue(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(keylife_issue_freep) struct keylife_issue *ki = NULL;
        enum keylife_issue_step step;
        struct device_policy policy;
        struct issue_args a = {};
        struct cart_error err = {};
        bool was_written = false;
        int code, r;

        code = parse(argc, argv, &a);
        if (code == EXIT_OK)
                code = journal_arg_open(a.journal, false, &j);
        if (code == EXIT_OK && (r = trust_load(&a.trust, &trust)) < 0)
                code = exit_code_for(r);
        trust_args_done(&a.trust);
        if (code != EXIT_OK)
                return code;
        /* A policy that does not hold (min-size above max-size) refuses every USB key. */
        const struct device_policy *pp = device_policy_from_config(arg_config, &policy) >= 0 ? &policy : NULL;
        /* Everything that can refuse, before a write: the target, the key verified, the journal's word. */
        const struct verify_options vo = { .trust = trust, .state_dir = arg_config->state_dir };
        r = keylife_issue_open(j, a.target, pp, &vo, a.pupil, &ki, &step, &err);
        if (r < 0)
                return issue_failed(&a, step, r, &err, NULL);
        r = keylife_issue_write(ki, keylife_operator(a.op), (int64_t) time(NULL), &was_written, &step, &err);
        if (r < 0)
                return issue_failed(&a, step, r, &err, keylife_issue_pupil(ki));
        print_result(&a, keylife_issue_key(ki), keylife_issue_pupil(ki), keylife_issue_verification(ki), was_written);
        return EXIT_OK;
}

const struct command command_issue = {
        .name = "issue",
        .summary = N_("hand a stock key to a pupil: its owner file rewritten in place, recorded"),
        .help = N_("Usage: cartable issue TARGET --pupil ID [--trust KEY]... [--journal DB]\n"
                   "                      [--operator NAME] [--json] [--yes]\n"
                   "\n"
                   "Give a stock key (flashed for nobody) to a pupil: the key is verified\n"
                   "(signature, every release file, its key record), the journal must know it as\n"
                   "stock and the pupil as present and holding no key; then the owner file of a\n"
                   "personalised release and /.cartable/key.json are rewritten in place for the\n"
                   "pupil (nothing else on the key changes), read back and verified, and the issue\n"
                   "is recorded with the operator and the station. Anything refused writes\n"
                   "nothing. A USB key needs --yes.\n"
                   "\n"
                   "Exit codes: 0 issued; 1 the key is not intact, or swapped; 2 not a cartable key;\n"
                   "3 untrusted signature; 4 target refused, or no room for the owner file; 5 I/O;\n"
                   "64 usage; 65 the key is not stock, or the pupil left or holds a key; 66 unknown\n"
                   "key or pupil, no journal; 69, 70 the journal failed after the key was written\n"
                   "(run the same command again to record it). See cartable-lifecycle(1).\n"),
        .run = run_issue,
};
