/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable replace: flash a new key for a pupil and issue it, the old one marked replaced. */
#include <inttypes.h>

#include "commands.h"
#include "erase-arg.h"
#include "reason.h"
#include "flash-output.h"
#include "journal-arg.h"
#include "key-io.h"
#include "station/keylife.h"
#include "station/station.h"
#include "trust.h"

enum { OPT_JOURNAL = 0x100, OPT_PUPIL, OPT_OPERATOR, OPT_SIZE, OPT_VOLUME_ID, OPT_YES, OPT_ERASE };

struct replace_args {
        const char *journal, *pupil, *op, *release, *target;
        uint64_t size;
        bool has_volume_id, yes;
        uint32_t volume_id;
        enum cart_erase erase;
        struct trust_args trust;
};

static void replace_args_done(struct replace_args *a) {
        trust_args_done(&a->trust);
}

static int parse(int argc, char **argv, struct replace_args *a) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "pupil", required_argument, NULL, OPT_PUPIL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "size", required_argument, NULL, OPT_SIZE },
                { "volume-id", required_argument, NULL, OPT_VOLUME_ID },
                { "yes", no_argument, NULL, OPT_YES },
                { "erase", required_argument, NULL, OPT_ERASE },
                TRUST_OPTION('t'),
                {}
        };
        int c;

        a->erase = erase_arg_default();
        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_ERASE:
                        if (erase_arg_parse(&command_replace, optarg, &a->erase) != 0)
                                return EXIT_USAGE;
                        break;
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_PUPIL: a->pupil = optarg; break;
                case OPT_OPERATOR: a->op = optarg; break;
                case OPT_SIZE:
                        if (parse_size(optarg, &a->size) < 0 || a->size == 0)
                                return usage_error(&command_replace, _("--size: '%s' is not a size"), optarg);
                        break;
                case OPT_VOLUME_ID:
                        if (key_parse_volume_id(optarg, &a->volume_id) < 0)
                                return usage_error(&command_replace, _("--volume-id: '%s' is not XXXX-XXXX"), optarg);
                        a->has_volume_id = true;
                        break;
                case OPT_YES: a->yes = true; break;
                case 't':
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                default: return usage_bad_option(&command_replace, argv);
                }
        if (argc - optind != 2)
                return usage_error(&command_replace, _("expected RELEASE TARGET"));
        if (!a->pupil)
                return usage_error(&command_replace, _("replace needs --pupil ID"));
        a->release = argv[optind];
        a->target = argv[optind + 1];
        if (station_target_is_device(a->target) && a->size)
                return usage_error(&command_replace, _("--size applies to image files, not to USB keys"));
        if (station_target_is_device(a->target) && !a->yes)
                return usage_error(&command_replace, _("replace writes %s: add --yes (cartable flash without --yes "
                                                       "shows what it would write)"), a->target);
        return EXIT_OK;
}

static int run_replace(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(replace_args_done) struct replace_args a = {};
        _cleanup_free_ char *old = NULL, *lost = NULL;
        struct flash_output out = {};
        struct flash_report report;
        struct cart_error err = {};
        int code, r;

        code = parse(argc, argv, &a);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        /* The pupil first: one who left, or who is unknown, gets no key and nothing is written. */
        r = journal_pupil_for_issue(j, a.pupil, true, &p, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (p->key_uid) {
                old = strdup(p->key_uid);
                if (!old)
                        return log_fail(-ENOMEM, _("out of memory"));
        } else {
                /* A pupil without a key may have lost it: that key is the one replaced. */
                r = journal_pupil_lost_key(j, a.pupil, &lost, &err);
                if (r < 0)
                        return journal_fail(r, &err);
        }
        r = trust_load(&a.trust, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = station_new(a.release, arg_config, trust, 0, &st, &err);
        if (r < 0)
                return log_fail(r, "%s", ERROR_TEXT(&err, r));
        if (!manifest_is_personalised(release_manifest(station_release(st))))
                log_info(_("note: %s is not personalised: the key carries no owner file"), a.release);

        const struct owner_fields owner = station_owner(p);
        const struct station_key k = {
                .target = a.target, .image_size = a.size, .has_volume_id = a.has_volume_id, .volume_id = a.volume_id,
                .owner = manifest_is_personalised(release_manifest(station_release(st))) ? &owner : NULL,
                .erase = a.erase, .journal_held = a.erase == CART_ERASE_AUTO ? erase_arg_journal_held(j, a.target, a.pupil) :
                                                  FLASH_HELD_UNKNOWN,
                .on_event = flash_output_event, .userdata = &out,
        };
        flash_output_catch_signals();
        flash_output_init(&out, false, a.target);
        r = station_flash(st, &k, &report, &err);
        if (report.outcome != FLASH_OUTCOME_NONE) {
                _cleanup_(station_record_done) struct station_record rec = {};
                struct cart_error jerr = {};
                int k2;

                flash_output_result(&out, &report);
                /* Recorded whatever the outcome: a failed key is in the journal too, issued to nobody. */
                k2 = station_record_end(&rec, &report, false);
                rec.end.operator = keylife_operator(a.op);
                rec.end.pupil = a.pupil;
                rec.end.replace = true;
                if (k2 >= 0)
                        k2 = journal_key_end(j, &rec.end, NULL, &jerr);
                if (k2 < 0)
                        return journal_fail(k2, &jerr);
        }
        if (report.outcome == FLASH_OUTCOME_CANCELLED)
                return flash_output_cancelled(&out, &report);
        if (r < 0)
                /* TRANSLATORS: the target, why its flash failed. */
                return log_fail(r, _("%s: %s (the pupil keeps the key held before, if any)"), a.target,
                                ERROR_TEXT(&err, r));
        if (lost) {
                r = journal_key_mark(j, &(struct journal_mark) { .kind = "replaced", .key = lost,
                                         .operator = keylife_operator(a.op) }, NULL, &err);
                if (r < 0)
                        return journal_fail(r, &err);
        }
        _cleanup_free_ char *family = safe_text(p->family_name), *first = safe_text(p->first_name);
        if (old || lost)
                /* TRANSLATORS: the pupil's school (UAI) and id, family name, first name, class, then the
                 * journal uid of the key the new one replaces. */
                printf(_("issued to %s/%s (%s %s, %s); key %s marked replaced\n"), p->school, p->id,
                       family ? family : "", first ? first : "", p->class_name, old ? old : lost);
        else
                /* TRANSLATORS: the pupil's school (UAI) and id, family name, first name, class. */
                printf(_("issued to %s/%s (%s %s, %s)\n"), p->school, p->id, family ? family : "", first ? first : "",
                       p->class_name);
        return EXIT_OK;
}

const struct command command_replace = {
        .name = "replace",
        .summary = N_("flash a new key for a pupil and issue it; the old one is marked replaced"),
        .help = N_("Usage: cartable replace --pupil ID RELEASE TARGET [--trust KEY]... [--size SIZE]\n"
                "                        [--volume-id XXXX-XXXX] [--yes] [--journal DB] [--operator NAME]\n"
                "                        [--erase auto|always|never]\n"
                "\n"
                "Flash RELEASE onto TARGET through the station (signature, rollback, capacity probe,\n"
                "read-back, as cartable flash does), personalised with the pupil's owner fields from\n"
                "the journal, and issue it to the pupil in the same step: the key the pupil held,\n"
                "or else the one last lost or stolen, is marked replaced. A pupil who has left, or is\n"
                "unknown, is refused before anything is written. A USB key needs --yes; an image\n"
                "file takes --size. --erase as cartable flash: auto (the default) zeroes what the\n"
                "new layout leaves when TARGET held another pupil's key, a key that came back, or\n"
                "files outside a signed release.\n"
                "\n"
                "Exit codes: as cartable flash (0 issued; 3 trust; 4 target refused; 5 I/O;\n"
                "130 cancelled); 64 usage; 65 the pupil has left; 66 unknown pupil, no journal;\n"
                "69 the journal's server cannot be reached.\n"
                "See cartable-lifecycle(1).\n"),
        .run = run_replace,
};
