/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable flash: one key (or image file) from a signed release, read back in full. */
#include <inttypes.h>

#include "commands.h"
#include "erase-arg.h"
#include "flash-output.h"
#include "journal-arg.h"
#include "key-io.h"
#include "batch/batch.h"
#include "station/keylife.h"
#include "station/station.h"
#include "trust.h"

static const char help[] =
        N_("Usage: cartable flash RELEASE TARGET [--trust KEY]... [OPTIONS]\n"
        "\n"
        "Write a signed release onto one USB key, or into an image file, and read every\n"
        "written byte back. In order: the release's signature and rollback are checked, the\n"
        "key's real capacity is probed, old signatures are wiped, a partition table and a\n"
        "FAT32 volume are laid out, the content is written (sector 0 last) and read back.\n"
        "\n"
        "TARGET is a USB key (/dev/sdX, /dev/disk/by-id/usb-...) that the target policy\n"
        "accepts, or an image file, created or grown to --size. An existing file is\n"
        "overwritten only if it is a key image (empty, a zero first sector, or a FAT32 key\n"
        "with /.cartable), unless --force; never the release itself, a link, a directory,\n"
        "or anything under /dev, /proc or /sys.\n"
        "\n"
        "Options:\n"
        "  --trust KEY         trusted minisign public key, or a directory of them (repeatable;\n"
        "                      replaces the [trust] keys of the configuration)\n"
        "  --yes               really write a block device (without it: say what would be done)\n"
        "  --size SIZE         image file: create or grow it to SIZE (64M, 8G...)\n"
        "  --force             image file: overwrite an existing file that is not a key image\n"
        "  --serial SERIAL     refuse the key unless its USB serial is SERIAL\n"
        "  --no-probe          skip the capacity probe of a key\n"
        "  --volume-id XXXX-XXXX  FAT volume ID (default: random, unique to the key)\n"
        "  --time TIME         time of the volume and key record (seconds or YYYY-MM-DDTHH:MM:SSZ)\n"
        "  --allow-downgrade   accept a release older than one already flashed here\n"
        "  --owner FIELD=VALUE personalised releases: the owner file's fields, once each;\n"
        "                      FIELD is first-name, last-name, class or school\n"
        "  --journal DB        record the key in the journal, failed or not (default with\n"
        "                      --pupil: [journal] path, or STATE_DIR/journal.db)\n"
        "  --pupil ID          issue the key to this pupil (ID or UAI/ID) of the journal; the\n"
        "                      roster's names fill the owner file (instead of --owner)\n"
        "  --replace           --pupil: the pupil's previous key is marked replaced\n"
        "  --operator NAME     who flashes, for the journal (default: $SUDO_USER, $USER)\n"
        "  --erase MODE        auto (default, or [flash] erase): zeros over what the new\n"
        "                      layout leaves, when the key held another pupil's key, a key\n"
        "                      that came back, or files outside a signed release; always;\n"
        "                      never (recorded in the journal)\n"
        "  --json              JSON lines on stdout: step events, then the key's report\n"
        "  -h, --help          show this help\n"
        "\n"
        "SIGINT (Ctrl-C), SIGTERM and SIGHUP cancel the key cleanly: writing stops, its first\n"
        "sector stays cleared, so it is never taken for a good key; flash it again.\n"
        "\n"
        "Exit codes: 0 flashed and read back; 3 bad signature or rollback; 4 target refused\n"
        "(policy, absent key, not a key image, too small, counterfeit); 5 I/O error, read-back\n"
        "mismatch or a full file system; 64 usage; 65 a pupil who has left, or a journal\n"
        "refusal; 66 missing release, journal or pupil; 69 the journal's server cannot be reached;\n"
        "73 the pupil already holds a key (--replace); 130 cancelled.\n"
        "See cartable-flash(1).\n");

struct args {
        const char *release, *target, *serial;
        const char *journal, *pupil, *operator;
        bool replace;
        enum cart_erase erase;
        struct trust_args trust;
        bool yes, no_probe, allow_downgrade, json, force;
        uint64_t size;
        bool has_volume_id;
        uint32_t volume_id;
        int64_t time;
        struct owner_fields owner;
        bool has_owner;
};

/* --owner FIELD=VALUE: only the fields a school may print on a key (never INE, birth date). */
static int parse_owner(const char *arg, struct owner_fields *o) {
        static const struct { const char *name; size_t offset; } fields[] = {
                { "first-name", offsetof(struct owner_fields, first_name) },
                { "last-name", offsetof(struct owner_fields, last_name) },
                { "class", offsetof(struct owner_fields, class_name) },
                { "school", offsetof(struct owner_fields, school) },
        };
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg || !eq[1])
                return usage_error(&command_flash, _("--owner %s: expected FIELD=VALUE"), arg);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (strlen(fields[i].name) == (size_t) (eq - arg) &&
                    strncmp(arg, fields[i].name, (size_t) (eq - arg)) == 0) {
                        const char **field = (const char **) ((char *) o + fields[i].offset);
                        if (*field)
                                return usage_error(&command_flash, _("--owner %s given twice (\"%s\", then \"%s\")"),
                                                   fields[i].name, *field, eq + 1);
                        *field = eq + 1;
                        return 0;
                }
        return usage_error(&command_flash, _("--owner %s: unknown field (first-name, last-name, class, school)"), arg);
}

static int parse_args(int argc, char **argv, struct args *a) {
        enum { OPT_TRUST = 0x100, OPT_YES, OPT_SIZE, OPT_SERIAL, OPT_NO_PROBE, OPT_VOLUME_ID,
               OPT_TIME, OPT_DOWNGRADE, OPT_JSON, OPT_OWNER, OPT_FORCE, OPT_JOURNAL, OPT_PUPIL,
               OPT_REPLACE, OPT_OPERATOR, OPT_ERASE };
        static const struct option options[] = {
                TRUST_OPTION(OPT_TRUST),
                { "yes", no_argument, NULL, OPT_YES },
                { "size", required_argument, NULL, OPT_SIZE },
                { "serial", required_argument, NULL, OPT_SERIAL },
                { "no-probe", no_argument, NULL, OPT_NO_PROBE },
                { "volume-id", required_argument, NULL, OPT_VOLUME_ID },
                { "time", required_argument, NULL, OPT_TIME },
                { "allow-downgrade", no_argument, NULL, OPT_DOWNGRADE },
                { "json", no_argument, NULL, OPT_JSON },
                { "owner", required_argument, NULL, OPT_OWNER },
                { "force", no_argument, NULL, OPT_FORCE },
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "pupil", required_argument, NULL, OPT_PUPIL },
                { "replace", no_argument, NULL, OPT_REPLACE },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "erase", required_argument, NULL, OPT_ERASE },
                {}
        };
        int c;

        a->erase = erase_arg_default();
        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_ERASE:
                        if (erase_arg_parse(&command_flash, optarg, &a->erase) != 0)
                                return EXIT_USAGE;
                        break;
                case OPT_TRUST:
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return -ENOMEM;
                        break;
                case OPT_YES: a->yes = true; break;
                case OPT_FORCE: a->force = true; break;
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_PUPIL: a->pupil = optarg; break;
                case OPT_REPLACE: a->replace = true; break;
                case OPT_OPERATOR: a->operator = optarg; break;
                case OPT_SIZE:
                        if (parse_size(optarg, &a->size) < 0 || a->size == 0)
                                return usage_error(&command_flash, _("invalid size '%s'"), optarg);
                        break;
                case OPT_SERIAL: a->serial = optarg; break;
                case OPT_NO_PROBE: a->no_probe = true; break;
                case OPT_VOLUME_ID:
                        if (key_parse_volume_id(optarg, &a->volume_id) < 0)
                                return usage_error(&command_flash, _("invalid volume ID '%s' (XXXX-XXXX, hexadecimal)"), optarg);
                        a->has_volume_id = true;
                        break;
                case OPT_TIME:
                        if (key_parse_time(optarg, &a->time) < 0)
                                return usage_error(&command_flash, _("invalid time '%s'"), optarg);
                        break;
                case OPT_DOWNGRADE: a->allow_downgrade = true; break;
                case OPT_JSON: a->json = true; break;
                case OPT_OWNER:
                        if (parse_owner(optarg, &a->owner) != 0)
                                return EXIT_USAGE;
                        a->has_owner = true;
                        break;
                default: return usage_bad_option(&command_flash, argv);
                }
        if (argc - optind != 2)
                return usage_error(&command_flash, _("expected RELEASE and TARGET"));
        a->release = argv[optind];
        a->target = argv[optind + 1];
        if (a->pupil && a->has_owner)
                return usage_error(&command_flash, "--owner and --pupil: the pupil's owner fields come from the journal");
        if (a->replace && !a->pupil)
                return usage_error(&command_flash, "--replace goes with --pupil");
        if (a->operator && !a->journal && !a->pupil)
                return usage_error(&command_flash, "--operator goes with --journal or --pupil");
        a->operator = keylife_operator(a->operator);
        return 0;
}

/* Without --yes: what would be written, from the plan itself; nothing is written. */
static int dry_run(struct station *st, const struct station_key *k) {
        struct flash_report report;
        struct cart_error err = {};
        char a[32], b[32], c[32];
        size_t n_extents;
        int r;

        r = station_plan(st, k, &report, &n_extents, &err);
        if (r < 0)
                return log_fail_error(&err, r, NULL);
        char key[300], probe[64];

        if (report.key.serial[0])
                /* TRANSLATORS: a key's capacity, then its USB serial number. */
                snprintf(key, sizeof(key), _("%s, serial %s"), human_size(report.key.capacity, a, sizeof(a)), report.key.serial);
        else
                snprintf(key, sizeof(key), "%s", human_size(report.key.capacity, a, sizeof(a)));
        snprintf(probe, sizeof(probe), "%s", k->no_probe ? _("capacity probe skipped") : _("capacity probe"));
        /* TRANSLATORS: release name, version, serial, the target, its capacity (and serial), then
         * "capacity probe" or "capacity probe skipped", the partition's offset in bytes, its size,
         * the FAT cluster size, the content's size, all bytes written, the number of extents. */
        printf(ngettext("Would flash %s %s (serial %" PRIu64 ") onto %s (%s):\n"
                        "  %s, then a partition at byte %" PRIu64 " of %s, FAT32 with %s clusters,\n"
                        "  %s of content, %s written in all (%zu extent), then read back.\n"
                        "Nothing was written: add --yes to flash the key.\n",
                        "Would flash %s %s (serial %" PRIu64 ") onto %s (%s):\n"
                        "  %s, then a partition at byte %" PRIu64 " of %s, FAT32 with %s clusters,\n"
                        "  %s of content, %s written in all (%zu extents), then read back.\n"
                        "Nothing was written: add --yes to flash the key.\n", n_extents),
               report.release_name, report.release_version, report.release_serial, k->target, key, probe,
               report.partition_offset, human_size(report.partition_size, b, sizeof(b)),
               human_size(report.cluster_size, c, sizeof(c)), human_size(report.content_bytes, a, sizeof(a)),
               HUMAN_SIZE(report.plan_bytes), n_extents);
        return EXIT_OK;
}

static int run(int argc, char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *pupil = NULL;
        struct args a = {};
        struct flash_report report;
        struct flash_output out = {};
        struct cart_error err = {};
        bool is_device;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0) {
                trust_args_done(&a.trust);
                return r < 0 ? log_fail(r, "%s", strerror(-r)) : r;
        }
        is_device = station_target_is_device(a.target);
        if (is_device && a.size)
                r = usage_error(&command_flash, _("--size applies to image files, not to USB keys"));
        else if (!is_device && a.serial)
                r = usage_error(&command_flash, _("--serial applies to USB keys, not to image files"));
        else if (is_device && a.force)
                r = usage_error(&command_flash, _("--force applies to image files, not to USB keys"));
        else if ((r = trust_load(&a.trust, &trust)) < 0)
                r = exit_code_for(r);
        trust_args_done(&a.trust);
        if (r != 0)
                return r;

        /* The release first: nothing is opened for writing before its signature holds. */
        r = station_new(a.release, arg_config, trust, a.allow_downgrade ? STATION_ALLOW_DOWNGRADE : 0, &st, &err);
        if (r < 0)
                return flash_output_error(a.json, a.target, &err, r, NULL);

        /* The pupil before the key: one who left or holds a key already is refused unwritten. */
        if (a.journal || a.pupil) {
                r = journal_arg_open(a.journal, false, &j);
                if (r != EXIT_OK)
                        return r;
        }
        if (a.pupil) {
                r = journal_pupil_for_issue(j, a.pupil, a.replace, &pupil, &err);
                if (r < 0)
                        return journal_fail(r, &err);
        }

        const struct manifest *m = release_manifest(station_release(st));
        struct owner_fields owner = pupil ? station_owner(pupil) : (struct owner_fields) {};
        if (a.has_owner && !manifest_is_personalised(m))
                return usage_error(&command_flash, _("--owner: release %s %s is not personalised (it has no owner file)"),
                                   manifest_name(m), manifest_version(m));
        if (!a.has_owner && !pupil && manifest_is_personalised(m) && !a.json)
                log_info(_("note: %s is personalised; without --owner this key gets no \"%s\""),
                         a.release, manifest_owner_path(m));

        struct station_key k = {
                .target = a.target, .serial = a.serial, .image_size = a.size, .force = a.force,
                .no_probe = a.no_probe, .has_volume_id = a.has_volume_id, .volume_id = a.volume_id,
                .time = a.time, .owner = pupil ? &owner : a.has_owner ? &a.owner : NULL,
                .erase = a.erase, .journal_held = a.erase == CART_ERASE_AUTO ? erase_arg_journal_held(j, a.target, a.pupil) :
                                                  FLASH_HELD_UNKNOWN,
                .on_event = flash_output_event, .userdata = &out,
        };
        if (is_device && !a.yes)
                return dry_run(st, &k);

        /* From here a signal cancels the key cleanly; before, nothing was opened for writing. */
        flash_output_catch_signals();
        flash_output_init(&out, a.json, a.target);
        r = station_flash(st, &k, &report, &err);
        if (report.outcome != FLASH_OUTCOME_NONE)
                flash_output_result(&out, &report);
        /* The journal records the key whatever r is: a failed key is part of its history. */
        if (j && report.outcome != FLASH_OUTCOME_NONE) {
                _cleanup_(station_record_done) struct station_record rec = {};
                struct cart_error jerr = {};
                int jr = station_record_end(&rec, &report, false);

                rec.end.operator = a.operator;
                rec.end.pupil = a.pupil;
                rec.end.replace = a.replace;
                if (jr >= 0)
                        jr = journal_key_end(j, &rec.end, NULL, &jerr);
                if (jr < 0 && r >= 0 && report.outcome != FLASH_OUTCOME_CANCELLED)
                        return journal_fail(jr, &jerr);
                if (jr < 0)
                        log_error(jr, "journal: %s", ERROR_TEXT(&jerr, jr));
        }
        if (report.outcome == FLASH_OUTCOME_CANCELLED)
                return flash_output_cancelled(&out, &report);
        if (r < 0)
                return flash_output_failed(&out, &report, &err, r);
        if (r > 0)
                log_warn(_("rollback state not recorded: %s"), ERROR_TEXT(&err, -EIO));
        return EXIT_OK;
}

const struct command command_flash = {
        .name = "flash",
        .summary = N_("write a signed release onto a key or image file and read it back"),
        .help = help,
        .run = run,
};
