/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable update, cartable repair: a key brought to a newer release, or back to its own, in place. */
#include <getopt.h>
#include <inttypes.h>

#include "commands.h"
#include "fat/fat.h"
#include "journal-arg.h"
#include "key-io.h"
#include "station/keylife.h"
#include "station/station.h"
#include "trust.h"
#include "flash/update.h"

enum { OPT_YES = 0x100, OPT_DRY_RUN, OPT_JOURNAL, OPT_OPERATOR, OPT_CHECK_CONTENT, OPT_QUICK };

struct update_args {
        const char *release, *target;
        const char *journal, *operator;      /* --journal (NULL: nothing recorded), --operator */
        bool yes, dry_run;
        enum update_check check;
        struct trust_args trust;
};

static int parse(const struct command *c, int argc, char **argv, struct update_args *a) {
        static const struct option options[] = {
                { "yes", no_argument, NULL, OPT_YES },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "check-content", no_argument, NULL, OPT_CHECK_CONTENT },
                { "quick", no_argument, NULL, OPT_QUICK },
                TRUST_OPTION('t'),
                {}
        };
        int o;

        optind = 0;
        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case OPT_YES: a->yes = true; break;
                case OPT_DRY_RUN: a->dry_run = true; break;
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_OPERATOR: a->operator = optarg; break;
                case OPT_CHECK_CONTENT: a->check = UPDATE_CHECK_CONTENT; break;
                case OPT_QUICK: a->check = UPDATE_CHECK_QUICK; break;
                case 't':
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                default: return usage_bad_option(c, argv);
                }
        if (argc - optind != 2)
                return usage_error(c, _("expected RELEASE TARGET"));
        a->release = argv[optind];
        a->target = argv[optind + 1];
        if (station_target_is_device(a->target) && !a->yes && !a->dry_run)
                return usage_error(c, _("%s writes in place on %s: add --yes"), c->name, a->target);
        return EXIT_OK;
}

static const char *kind_words(enum update_kind k) {
        switch (k) {
        case UPDATE_RESCUE: return _("moved");
        case UPDATE_REMOVE: return _("removed");
        case UPDATE_RMDIR: return _("directory removed");
        case UPDATE_MKDIR: return _("directory created");
        case UPDATE_PUT: return _("written");
        case UPDATE_ATTRS: return _("attributes");
        case UPDATE_OWNER: return _("owner file");
        }
        return "?";
}

static void print_report(const struct update_args *a, const struct update_report *rep) {
        for (size_t i = 0; i < rep->n_actions; i++) {
                const struct update_action *x = &rep->actions[i];

                if (x->kind == UPDATE_RMDIR && x->is_kept)
                        printf(_("  kept      /%s (the pupil's files are in it)\n"), esc(x->path));
                else if (x->kind == UPDATE_RESCUE)
                        printf(_("  moved     /%s -> /%s (a pupil's file in the release's way)\n"), esc(x->path),
                               esc(x->to));
                else
                        printf("  %-9s /%s%s\n", kind_words(x->kind), esc(x->path), x->is_restore ? _(" (restored)") : "");
        }
        if (a->dry_run) {
                printf(_("%s: %s %s -> %s: %zu changes, %" PRIu64 " bytes free needed of %" PRIu64 "; nothing written "
                         "(--dry-run)\n"), a->target, esc(rep->release_name), esc(rep->from_version),
                       esc(rep->to_version), rep->n_actions, rep->bytes_needed, rep->bytes_free);
                return;
        }
        printf(_("%s: %s %s -> %s: %zu written, %zu restored, %zu removed, %zu moved, %zu directories created, "
                 "%zu removed, %zu attributes; %" PRIu64 " bytes written, %" PRIu64 " read back; verified intact\n"),
               a->target, esc(rep->release_name), esc(rep->from_version), esc(rep->to_version), rep->n_put,
               rep->n_restored, rep->n_removed, rep->n_rescued, rep->n_dirs_created, rep->n_dirs_removed, rep->n_attrs,
               rep->bytes_written, rep->bytes_read_back);
        if (rep->n_rescued > 0)
                printf(_("the pupil's files listed as moved are under /%s\n"), UPDATE_RESCUE_DIR);
}

/*
 * --journal: the journal's key for the target (by its volume ID, then its record's and the
 * device's USB serial, as verify --journal finds it), before anything is written: a key the
 * journal does not know is refused, nothing written. Returns an exit code.
 */
static int find_key(struct journal *j, const struct update_args *a, const struct key_target *t,
                    struct journal_key_info **ret) {
        struct fat_volume_info vi;
        struct key_record rec;
        struct cart_error err = {}, swap = {};
        bool has_record;
        char usb[128];
        int r;

        r = keylife_read(fd_read_at, (void *) (intptr_t) t->fd, t->size, &vi, &rec, &has_record, &err);
        if (r == -ENOMEM)
                return log_fail(r, _("out of memory"));
        if (r < 0) {
                log_error(r, _("%s: %s: nothing written"), a->target, ERROR_TEXT(&err, r));
                return exit_code_for_key(&err, r);
        }
        key_usb_serial(t->fd, usb, sizeof(usb));
        r = keylife_find(j, &(struct keylife_target) { .volume_id = vi.volume_id, .record = has_record ? &rec : NULL,
                                                       .usb_serial = usb }, ret, &swap, &err);
        if (r == -ENOENT) {
                /* TRANSLATORS: why the key is not in the journal, the journal searched (a path or URL). */
                log_error(r, _("%s (journal searched: %s): nothing written; update it without --journal, or "
                               "record its flash first"), ERROR_TEXT(&err, r), journal_name(j));
                return EXIT_NOINPUT;
        }
        if (r < 0)
                return journal_fail(r, &err);
        if (r > 0)
                log_warn(_("SWAPPED: %s"), LIB_WORDS(&swap));
        return EXIT_OK;
}

/* What was written, recorded as the key's "updated" or "repaired" event. */
static int record(struct journal *j, const struct update_args *a, const struct journal_key_info *k,
                  const struct station *st, const struct update_report *rep) {
        struct cart_error err = {};
        int r;

        r = keylife_record_update(j, keylife_operator(a->operator), k->uid, rep,
                                  manifest_key_id(release_manifest(station_release(st))), &err);
        if (r < 0) {
                /* TRANSLATORS: the target; the key was written, the journal failed (why follows). */
                log_error(r, _("%s: written, but not recorded in the journal"), a->target);
                return journal_fail(r, &err);
        }
        if (k->pupil_id && streq(k->status, "issued"))
                /* TRANSLATORS: the event ("updated", "repaired"), the key's uid, its pupil's school and id. */
                log_info(_("journal: %s recorded for key %s of %s/%s"), rep->is_repair ? _("repaired") : _("updated"),
                         k->uid, k->school, k->pupil_id);
        else
                /* TRANSLATORS: the event ("updated", "repaired"), the key's uid. */
                log_info(_("journal: %s recorded for key %s"), rep->is_repair ? _("repaired") : _("updated"), k->uid);
        return EXIT_OK;
}

/* An update that failed after it may have written: recorded "failed" (the key untouched
 * for the journal: it holds what it held). A journal failure here is said, not more. */
static void record_failure(struct journal *j, const struct update_args *a, const struct journal_key_info *k,
                           const struct station *st, bool is_repair, int error, const struct cart_error *why) {
        struct cart_error err = {};
        int r;

        r = keylife_record_update_failure(j, keylife_operator(a->operator), k->uid, station_release(st), is_repair,
                                          error, why, &err);
        if (r < 0)
                log_error(r, _("%s: the failure was not recorded in the journal: %s"), a->target, ERROR_TEXT(&err, r));
        else
                /* TRANSLATORS: the key's uid. */
                log_info(_("journal: the failure is recorded for key %s"), k->uid);
}

static int update_target(const struct update_args *a, bool is_repair, const struct sign_trust *trust,
                         struct journal *j, const struct station *st) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        _cleanup_(key_target_done) struct key_target t = { .fd = -EBADF };
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct cart_error err = {};
        int code, r;

        r = key_target_open(a->target, &t, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("%s: nothing written"), a->target);
        if (j) {
                code = find_key(j, a, &t, &k);
                if (code != EXIT_OK)
                        return code;
        }
        const struct update_options o = { .release = station_release(st), .trust = trust, .is_repair = is_repair,
                                          .is_dry_run = a->dry_run, .check = a->check, .sync = key_target_sync };
        r = update_key(fd_read_at, fd_write_at, (void *) (intptr_t) t.fd, t.size, &o, &rep, &err);
        if (r < 0) {
                log_error(r, _("%s: %s"), a->target, ERROR_TEXT(&err, r));
                if (r == -EBUSY || keylife_update_may_have_written(r))
                        log_info(_("if the key was written, it says \"update interrupted\": run the same command again "
                                   "to finish"));
                if (j && !a->dry_run && keylife_update_may_have_written(r))
                        record_failure(j, a, k, st, is_repair, r, &err);
                return exit_code_for_key_update(&err, r);
        }
        print_report(a, rep);
        return j && !a->dry_run ? record(j, a, k, st, rep) : EXIT_OK;
}

static int run(const struct command *c, bool is_repair, int argc, char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct update_args a = {};
        struct cart_error err = {};
        int code, r;

        code = parse(c, argc, argv, &a);
        if (code == EXIT_OK) {
                r = trust_load(&a.trust, &trust);
                code = r < 0 ? exit_code_for(r) : EXIT_OK;
        }
        trust_args_done(&a.trust);
        if (code != EXIT_OK)
                return code;
        /* The release's signature, and the station's rollback state, as flash checks them; its
         * payloads hashed by update_key, those it writes only. */
        r = station_new(a.release, arg_config, trust, STATION_LAZY_HASH | (is_repair ? STATION_NO_ROLLBACK : 0), &st,
                        &err);
        if (r < 0)
                return log_fail_error(&err, r, _("%s: nothing written"), a.release);
        if (a.journal) {
                code = journal_arg_open(a.journal, false, &j);
                if (code != EXIT_OK)
                        return code;
        }
        return update_target(&a, is_repair, trust, j, st);
}

static int run_update(int argc, char **argv) {
        return run(&command_update, false, argc, argv);
}

static int run_repair(int argc, char **argv) {
        return run(&command_repair, true, argc, argv);
}

const struct command command_update = {
        .name = "update",
        .summary = N_("bring a key to a newer release in place, keeping the pupil's files"),
        .help = N_("Usage: cartable update RELEASE TARGET [--trust KEY]... [--dry-run] [--check-content|--quick]\n"
                   "                       [--yes] [--journal DB [--operator NAME]]\n"
                   "\n"
                   "Bring a key (or image file) that holds an older serial of the same release to\n"
                   "RELEASE in place: only what differs is written (files added, changed or\n"
                   "removed, directories, attributes, the owner file, the key record and the\n"
                   "manifest). The pupil's files are kept; one that sits where the release needs\n"
                   "the path, or in a sealed directory, is moved under\n"
                   "\"Mes documents/Déplacés par cartable\" and listed. Nothing is written unless\n"
                   "the whole update fits in the free space. The key is read back and verified.\n"
                   "A cut key says \"update interrupted\" in cartable verify: run the same command\n"
                   "again to finish.\n"
                   "\n"
                   "Options:\n"
                   "  --trust KEY   trusted minisign public key, or a directory of them (repeatable)\n"
                   "  --dry-run     say what would be done; nothing written\n"
                   "  --check-content\n"
                   "                read every release file before and after the writes (repair's\n"
                   "                default); else a file whose entry is as cartable wrote it\n"
                   "                (size, time) is trusted unread\n"
                   "  --quick       trust such files, read only what changed (update's default)\n"
                   "  --yes         needed to write on a USB key\n"
                   "  --journal DB  record an \"updated\" event (A to B, what was written) for the key,\n"
                   "                which the journal must know: an unknown key is refused first\n"
                   "  --operator N  who did it (default: $SUDO_USER, $USER)\n"
                   "  -h, --help    show this help\n"
                   "\n"
                   "Exit codes: 0 updated; 2 not a cartable key, or an interrupted update to another\n"
                   "release; 3 signature not trusted, another release, not newer; 4 too little\n"
                   "space; 5 I/O error or read-back mismatch; 64 usage; 66 a key unknown to the\n"
                   "journal, no journal; 69 the journal's server cannot be reached.\n"
                   "See cartable-update(1).\n"),
        .run = run_update,
};

const struct command command_repair = {
        .name = "repair",
        .summary = N_("restore a key's missing and modified release files in place"),
        .help = N_("Usage: cartable repair RELEASE TARGET [--trust KEY]... [--dry-run] [--yes]\n"
                   "                       [--journal DB [--operator NAME]]\n"
                   "\n"
                   "Restore a key against its own release (RELEASE must be the very release the\n"
                   "key holds, which gives the content): missing and modified release files,\n"
                   "attributes and the owner file are written again in place, the pupil's files\n"
                   "kept as cartable update keeps them. The key is then read back and verified.\n"
                   "\n"
                   "Options: as cartable update; --journal records a \"repaired\" event (what was\n"
                   "restored).\n"
                   "\n"
                   "Exit codes: as cartable update; 3 also when RELEASE is not the key's own.\n"
                   "See cartable-update(1).\n"),
        .run = run_repair,
};
