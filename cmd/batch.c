/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable batch: many keys at once, each started as it is plugged in, logged to its pupil. */
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>

#include "batch-output.h"
#include "commands.h"
#include "erase-arg.h"
#include "journal-arg.h"
#include "batch/batch.h"
#include "batch/spool.h"
#include "station/keylife.h"
#include "trust.h"

static const char help[] =
        N_("Usage: cartable batch RELEASE --journal DB (--school UAI --class C | --stock)\n"
        "                      [--trust KEY]... [--jobs N] [--count N] [--idle-exit SECONDS]\n"
        "                      [--operator NAME] [--target PATH]... [--size SIZE] [--force] [--json]\n"
        "       cartable batch RELEASE --journal DB (--update | --repair) [--check-content|--quick]\n"
        "                      [--flash-if-needed] ...\n"
        "\n"
        "Flash a signed release onto every USB key plugged in, many at once: each eligible key\n"
        "starts the moment it arrives, in its own worker, and is read back in full. With\n"
        "--class, each key goes to the next pupil of the class without a key, in roster order,\n"
        "whose names fill the owner file; with --stock, keys are flashed unassigned. Every key\n"
        "is recorded in the journal: its start, then done, failed (with its reason) or\n"
        "interrupted. Ineligible disks are shown with their reasons and never touched; a key\n"
        "that already holds this release intact is left alone unless --force.\n"
        "\n"
        "With --update, keys brought back by pupils are brought to RELEASE in place, each by\n"
        "its own worker, as cartable update does: only what differs is written, the pupil's\n"
        "files and the key's owner are kept, the key is read back and verified (a key that\n"
        "already holds RELEASE is repaired; one intact is left alone). With --repair, keys\n"
        "that hold RELEASE are repaired against it. A key that cannot be updated in place\n"
        "(not a cartable key, another release, a newer serial, an untrusted manifest, too\n"
        "little free space) is shown with its reason and left alone, nothing written.\n"
        "\n"
        "Options:\n"
        "  --journal DB        the journal (default: [journal] path, or STATE_DIR/journal.db)\n"
        "  --school UAI        the class's school\n"
        "  --class C           roster mode: keys for the pupils of class C without a key\n"
        "  --stock             stock mode: keys flashed unassigned, issued later\n"
        "  --trust KEY         trusted minisign public key or directory (repeatable)\n"
        "  --jobs N            at most N keys at once (default: no cap)\n"
        "  --count N           stop after N keys done\n"
        "  --idle-exit S       stop after S seconds without a key in progress\n"
        "  --operator NAME     who runs the batch, for the journal (default: $SUDO_USER, $USER)\n"
        "  --target PATH       flash PATH (an image file or a key) instead of waiting for keys\n"
        "                      (repeatable; all at once)\n"
        "  --size SIZE         image-file targets: create or grow them to SIZE (64M, 1G...)\n"
        "  --force             flash keys that already hold this release, and image files that\n"
        "                      are not key images\n"
        "  --no-probe          skip the capacity probe of keys\n"
        "  --allow-downgrade   accept a release older than one already flashed here\n"
        "  --erase MODE        auto (default, or [flash] erase), always or never: as\n"
        "                      cartable flash, zeros over what a key held before\n"
        "  --update            update each key in place to RELEASE, keeping the pupil's files\n"
        "  --repair            repair each key in place against RELEASE, its own\n"
        "  --flash-if-needed   with --update or --repair: flash a key that cannot be updated\n"
        "                      in place, as --stock does, which ERASES its pupil's files: only\n"
        "                      with the pupil's consent\n"
        "  --check-content     with --update or --repair: read every release file of each key\n"
        "                      before and after the writes (--repair's default); else a file\n"
        "                      whose entry is as cartable wrote it (size, time) is trusted unread\n"
        "  --quick             with --update or --repair: trust such files, read only what\n"
        "                      changed (--update's default)\n"
        "  --json              one JSON object per event on stdout (NDJSON)\n"
        "  -h, --help          show this help\n"
        "\n"
        "Ctrl-C (SIGINT, or SIGTERM) stops taking new keys and lets those in progress finish; a\n"
        "second one cancels them (recorded interrupted: their first sector stays cleared).\n"
        "\n"
        "Exit codes: 0 every key started ended done or was left intact; 2 --update or\n"
        "--repair: a key could not be updated in place (left alone); 3 bad signature or\n"
        "rollback; 5 a key failed or was interrupted (each recorded in the journal); 64 usage;\n"
        "65 unknown class, bad journal, or a spooled key end refused; 66 missing release or\n"
        "journal; 69 the journal's server went away (key ends recorded when it came back, or\n"
        "kept in the spool); 130 keys cancelled by a second Ctrl-C. See cartable-batch(1).\n");

struct args {
        const char *release, *journal, *school, *class_name, *operator;
        struct trust_args trust;
        bool stock, force, json, no_probe, allow_downgrade, flash_if_needed;
        enum batch_mode mode;
        enum update_check check;
        enum cart_erase erase;
        uint64_t jobs, count, idle_exit, size;
        const char **targets;
        size_t n_targets;
};

static int parse_count(const char *opt, const char *arg, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v > UINT32_MAX)
                return usage_error(&command_batch, _("--%s %s: expected a positive whole number"), opt, arg);
        *ret = v;
        return 0;
}

static int parse_args(int argc, char **argv, struct args *a) {
        enum { OPT_TRUST = 0x100, OPT_JOURNAL, OPT_SCHOOL, OPT_CLASS, OPT_STOCK, OPT_JOBS, OPT_COUNT,
               OPT_IDLE, OPT_OPERATOR, OPT_TARGET, OPT_SIZE, OPT_FORCE, OPT_JSON, OPT_NO_PROBE, OPT_DOWNGRADE,
               OPT_ERASE, OPT_UPDATE, OPT_REPAIR, OPT_FLASH_IF_NEEDED, OPT_CHECK_CONTENT, OPT_QUICK };
        static const struct option options[] = {
                TRUST_OPTION(OPT_TRUST),
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "school", required_argument, NULL, OPT_SCHOOL },
                { "class", required_argument, NULL, OPT_CLASS },
                { "stock", no_argument, NULL, OPT_STOCK },
                { "jobs", required_argument, NULL, OPT_JOBS },
                { "count", required_argument, NULL, OPT_COUNT },
                { "idle-exit", required_argument, NULL, OPT_IDLE },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "target", required_argument, NULL, OPT_TARGET },
                { "size", required_argument, NULL, OPT_SIZE },
                { "force", no_argument, NULL, OPT_FORCE },
                { "json", no_argument, NULL, OPT_JSON },
                { "no-probe", no_argument, NULL, OPT_NO_PROBE },
                { "allow-downgrade", no_argument, NULL, OPT_DOWNGRADE },
                { "erase", required_argument, NULL, OPT_ERASE },
                { "update", no_argument, NULL, OPT_UPDATE },
                { "repair", no_argument, NULL, OPT_REPAIR },
                { "flash-if-needed", no_argument, NULL, OPT_FLASH_IF_NEEDED },
                { "check-content", no_argument, NULL, OPT_CHECK_CONTENT },
                { "quick", no_argument, NULL, OPT_QUICK },
                {}
        };
        int c, r;

        a->erase = erase_arg_default();
        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_ERASE:
                        if (erase_arg_parse(&command_batch, optarg, &a->erase) != 0)
                                return EXIT_USAGE;
                        break;
                case OPT_TRUST:
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return -ENOMEM;
                        break;
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_SCHOOL: a->school = optarg; break;
                case OPT_CLASS: a->class_name = optarg; break;
                case OPT_STOCK: a->stock = true; break;
                case OPT_JOBS: if ((r = parse_count("jobs", optarg, &a->jobs))) return r; break;
                case OPT_COUNT: if ((r = parse_count("count", optarg, &a->count))) return r; break;
                case OPT_IDLE: if ((r = parse_count("idle-exit", optarg, &a->idle_exit))) return r; break;
                case OPT_OPERATOR: a->operator = optarg; break;
                case OPT_TARGET: {
                        const char **t = reallocarray(a->targets, a->n_targets + 1, sizeof(*t));
                        if (!t)
                                return -ENOMEM;
                        a->targets = t;
                        a->targets[a->n_targets++] = optarg;
                        break;
                }
                case OPT_SIZE:
                        if (parse_size(optarg, &a->size) < 0 || a->size == 0)
                                return usage_error(&command_batch, _("invalid size '%s'"), optarg);
                        break;
                case OPT_FORCE: a->force = true; break;
                case OPT_JSON: a->json = true; break;
                case OPT_NO_PROBE: a->no_probe = true; break;
                case OPT_DOWNGRADE: a->allow_downgrade = true; break;
                case OPT_UPDATE: case OPT_REPAIR: {
                        enum batch_mode m = c == OPT_UPDATE ? BATCH_MODE_UPDATE : BATCH_MODE_REPAIR;
                        if (a->mode != BATCH_MODE_FLASH && a->mode != m)
                                return usage_error(&command_batch, _("give either --update or --repair"));
                        a->mode = m;
                        break;
                }
                case OPT_FLASH_IF_NEEDED: a->flash_if_needed = true; break;
                case OPT_CHECK_CONTENT: a->check = UPDATE_CHECK_CONTENT; break;
                case OPT_QUICK: a->check = UPDATE_CHECK_QUICK; break;
                default: return usage_bad_option(&command_batch, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_batch, _("expected RELEASE"));
        a->release = argv[optind];
        if (a->flash_if_needed && a->mode == BATCH_MODE_FLASH)
                return usage_error(&command_batch, _("--flash-if-needed goes with --update or --repair"));
        if (a->check != UPDATE_CHECK_DEFAULT && a->mode == BATCH_MODE_FLASH)
                return usage_error(&command_batch, _("--check-content and --quick go with --update or --repair"));
        if (a->mode != BATCH_MODE_FLASH && (a->stock || a->class_name || a->school))
                return usage_error(&command_batch, _("--update and --repair keep each key's pupil: no --class, "
                                                     "--school or --stock"));
        if (a->mode != BATCH_MODE_FLASH && a->size)
                return usage_error(&command_batch, _("--size does not apply to --update or --repair"));
        if (a->mode != BATCH_MODE_FLASH)
                a->stock = true;    /* a key flashed instead (--flash-if-needed) is a stock key */
        if (a->stock == !!a->class_name)
                return usage_error(&command_batch, _("give either --class C (with --school UAI) or --stock"));
        if (a->class_name && !a->school)
                return usage_error(&command_batch, _("--class needs --school UAI"));
        if (a->stock && a->school)
                return usage_error(&command_batch, _("--school goes with --class, not --stock"));
        if (a->size && !a->n_targets)
                return usage_error(&command_batch, _("--size applies to --target image files"));
        a->operator = keylife_operator(a->operator);
        return 0;
}

static struct batch *running_batch;

static void on_signal(int sig) {
        (void) sig;
        if (running_batch)
                batch_stop(running_batch);
}

static void catch_signals(void) {
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
}

static int count_pupil(void *userdata, const struct journal_pupil_row *p) {
        (void) p;
        (*(uint64_t *) userdata)++;
        return 0;
}

/* A typo in --class would flash nothing and say nothing: the class must have pupils. */
static int class_exists(struct journal *j, const struct args *a) {
        struct journal_pupil_filter f = { .school = a->school, .class_name = a->class_name };
        struct cart_error err = {};
        uint64_t n = 0;
        int r;

        r = journal_pupils_list(j, &f, count_pupil, &n, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (n == 0) {
                log_error(-ENOENT, _("class %s of school %s: no pupil in the journal (cartable roster import first)"),
                          a->class_name, a->school);
                return EXIT_DATA;
        }
        return EXIT_OK;
}

static int run(int argc, char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(batch_freep) struct batch *b = NULL;
        struct args a = {};
        struct batch_output out;
        struct cart_error err = {};
        const struct batch_summary *sum;
        _cleanup_free_ char *spool_dir = NULL;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0) {
                trust_args_done(&a.trust);
                free(a.targets);
                return r < 0 ? log_fail(r, "%s", strerror(-r)) : r;
        }
        r = trust_load(&a.trust, &trust);
        trust_args_done(&a.trust);
        if (r < 0) {
                free(a.targets);
                return exit_code_for(r);
        }
        /* The release once for the whole batch: signature, every hash (an update or a repair
         * that flashes no key: those of the payloads it writes only, hashed by update_key),
         * rollback. A repair puts no newer release on a key: the rollback state is neither
         * checked nor recorded. */
        r = station_new(a.release, arg_config, trust,
                        (a.mode == BATCH_MODE_FLASH || a.flash_if_needed ? 0 : STATION_LAZY_HASH) |
                        (a.mode == BATCH_MODE_REPAIR ? STATION_NO_ROLLBACK :
                         a.allow_downgrade ? STATION_ALLOW_DOWNGRADE : 0), &st, &err);
        if (r < 0) {
                free(a.targets);
                return log_fail_error(&err, r, NULL);
        }
        r = journal_arg_open(a.journal, false, &j);
        if (r == EXIT_OK && a.class_name)
                r = class_exists(j, &a);
        if (r == EXIT_OK && !a.n_targets) {
                struct device_policy policy;
                int k = device_policy_from_config(arg_config, &policy);
                if (k >= 0)
                        k = device_context_new(&policy, NULL, &ctx, &err);
                if (k < 0)
                        r = log_fail_error(&err, k, _("devices"));
        }
        if (r != EXIT_OK) {
                free(a.targets);
                return r;
        }

        if (arg_config->state_dir && asprintf(&spool_dir, "%s/%s", arg_config->state_dir, SPOOL_DIR_NAME) < 0) {
                free(a.targets);
                return log_fail(-ENOMEM, "%s", strerror(ENOMEM));
        }
        batch_output_init(&out, a.json, stdout, a.release);
        const struct manifest *m = release_manifest(station_release(st));
        batch_output_header(&out, &(struct batch_output_context) {
                .release_name = manifest_name(m), .release_version = manifest_version(m),
                .serial = manifest_serial(m), .school = a.school, .class_name = a.class_name,
                .journal = journal_name(j), .station = journal_station(j), .has_targets = a.n_targets > 0,
                .mode = a.mode });
        if (a.flash_if_needed)
                log_warn(_("--flash-if-needed: a key that cannot be updated in place is flashed, and its pupil's "
                           "files are erased: only with the pupil's consent"));
        struct batch_options o = {
                .station = st, .journal = j, .trust = trust, .mode = a.mode, .flash_if_needed = a.flash_if_needed,
                .check = a.check,
                .school = a.school, .class_name = a.class_name, .operator = a.operator,
                .jobs = (unsigned) a.jobs, .count = a.count, .idle_exit = (unsigned) a.idle_exit,
                .force = a.force, .targets = a.targets, .n_targets = a.n_targets, .image_size = a.size,
                .devices = ctx, .no_probe = a.no_probe, .erase = a.erase, .journal_wait = arg_config->journal_wait,
                .spool_dir = spool_dir,
                .on_event = batch_output_event, .userdata = &out,
        };
        r = batch_new(&o, &b, &err);
        if (r < 0) {
                free(a.targets);
                return log_fail_error(&err, r, NULL);
        }
        running_batch = b;
        catch_signals();
        r = batch_run(b, &err);
        sum = batch_get_summary(b);
        batch_output_summary(&out, sum);
        batch_output_done(&out);
        running_batch = NULL;
        free(a.targets);
        if (r == -ECONNRESET || r == -ECONNREFUSED)
                return journal_fail(r, &err);
        if (r < 0)
                return log_fail_error(&err, r, NULL);
        /* Each end is either kept in the spool or, if that failed (said above), left to the
         * next batch to close as interrupted. */
        if (sum->n_spooled)
                log_error(-ECONNRESET, ngettext("the journal server %s went away and did not come back: %" PRIu64
                                                " key's end is kept locally in %s, and the next batch of this "
                                                "station against this journal records it (or cartable journal "
                                                "push-spool)",
                                                "the journal server %s went away and did not come back: %" PRIu64
                                                " keys' ends are kept locally in %s, and the next batch of this "
                                                "station against this journal records them (or cartable journal "
                                                "push-spool)", sum->n_spooled),
                          journal_name(j), sum->n_spooled, spool_dir);
        if (sum->n_unrecorded > sum->n_spooled)
                log_error(-ECONNRESET, ngettext("the journal server %s went away and did not come back: %" PRIu64
                                                " key's end is not recorded (its start is: the next batch of this "
                                                "station records it interrupted, and its pupil gets a new key)",
                                                "the journal server %s went away and did not come back: %" PRIu64
                                                " keys' ends are not recorded (their starts are: the next batch of "
                                                "this station records them interrupted, and their pupils get new "
                                                "keys)", sum->n_unrecorded - sum->n_spooled),
                          journal_name(j), sum->n_unrecorded - sum->n_spooled);
        if (sum->n_unrecorded)
                return EXIT_UNAVAILABLE;
        if (sum->is_journal_lost) {
                log_error(-ECONNRESET, _("the journal server %s went away during the batch and came back: every "
                                         "key that ended was recorded once it was back; a key whose start could "
                                         "not be recorded was not flashed"), journal_name(j));
                return EXIT_UNAVAILABLE;
        }
        if (sum->n_spool_refused) {
                log_error(-EBADMSG, ngettext("%" PRIu64 " file of the journal spool %s was refused and left in "
                                             "place (see above)",
                                             "%" PRIu64 " files of the journal spool %s were refused and left in "
                                             "place (see above)", sum->n_spool_refused),
                          sum->n_spool_refused, spool_dir);
                return EXIT_DATA;
        }
        if (sum->stop_level >= 2 && sum->n_cancelled)
                return EXIT_CANCELLED;
        if (sum->n_failed || sum->n_cancelled)
                return EXIT_IO;
        if (sum->n_not_updatable)
                return EXIT_NOT_CARTABLE;
        return EXIT_OK;
}

const struct command command_batch = {
        .name = "batch",
        .summary = N_("flash many keys at once, each logged to its pupil"),
        .help = help,
        .run = run,
};
