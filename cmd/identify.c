/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable identify: whose a found key is, offline, from the journal. */
#include <inttypes.h>

#include "commands.h"
#include "fat/fat.h"
#include "journal-arg.h"
#include "key-io.h"
#include "key-life.h"

enum { OPT_JOURNAL = 0x100 };

/* A journal time (microseconds) as text in t. */
static const char *time_text(int64_t usec, char t[32]) {
        time_format(usec / 1000000, t);
        return t;
}
#define TIME_TEXT(usec) time_text((usec), (char[32]) {})

/* identify's pupil line: names and class, or what is left of them. */
static void print_pupil(const struct journal_key_info *k) {
        _cleanup_free_ char *family = safe_text(k->family_name), *first = safe_text(k->first_name);

        if (k->pupil_id && family && k->is_active)
                /* TRANSLATORS: the pupil's school (UAI) and id, family name, first name, class. */
                printf(_("pupil: %s/%s %s %s, class %s\n"), k->school, k->pupil_id, family, first ? first : "",
                       k->class_name);
        else if (k->pupil_id && family)
                printf(_("pupil: %s/%s %s %s, class %s (has left)\n"), k->school, k->pupil_id, family,
                       first ? first : "", k->class_name);
        else if (k->pupil_id && k->is_active)
                printf(_("pupil: %s/%s (personal data purged)\n"), k->school, k->pupil_id);
        else if (k->pupil_id)
                printf(_("pupil: %s/%s (personal data purged) (has left)\n"), k->school, k->pupil_id);
        else if (k->school && !streq(k->status, "stock"))
                printf(_("pupil: personal data purged (school %s)\n"), k->school);
        else
                puts(_("pupil: none (stock key)"));
}

static int run_identify(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct key_record rec = {};
        struct fat_volume_info vi;
        struct cart_error err = {};
        const char *journal = NULL;
        uint64_t size;
        bool has_record = false, is_swapped;
        char vid[16], usb[128];
        struct cart_error swap;
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                default: return usage_bad_option(&command_identify, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_identify, _("expected TARGET"));
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = key_open_read(argv[optind], &fd, &size, &err);
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return exit_code_for_target(&err, r);
        }
        r = keylife_read(fd_read_at, (void *) (intptr_t) fd, size, &vi, &rec, &has_record, &err);
        if (r == -ENOMEM)
                return log_fail(r, _("out of memory"));
        if (r < 0) {
                log_error(r, "%s: %s", argv[optind], ERROR_TEXT(&err, r));
                return exit_code_for_key(&err, r);
        }
        /* A key's own USB serial, as flash reads it: a deleted or edited record does not hide it. */
        key_usb_serial(fd, usb, sizeof(usb));
        r = keylife_find(j, &(struct keylife_target) { .volume_id = vi.volume_id, .record = has_record ? &rec : NULL,
                                                       .usb_serial = usb }, &k, &swap, &err);
        if (r == -ENOENT) {
                /* TRANSLATORS: why the key was not found, then the journal searched (a path or URL). */
                log_error(r, _("%s (journal searched: %s)"), ERROR_TEXT(&err, r), journal_name(j));
                return EXIT_NOINPUT;
        }
        if (r < 0)
                return journal_fail(r, &err);
        is_swapped = r > 0;
        key_format_volume_id(vi.volume_id, vid);
        /* TRANSLATORS: identify's lines: "label: value", the labels aligned by nothing. */
        printf(_("key: %s\n"), k->uid);
        printf(_("volume: %s \"%s\"\n"), vid, esc(vi.label));
        printf(_("status: %s\n"), key_status_words(k->status));
        print_pupil(k);
        if (k->release_serial >= 0)
                printf(_("release: %s %s (serial %" PRId64 ")\n"), k->release_name, k->release_version,
                       k->release_serial);
        if (k->flashed_usec >= 0)
                printf(_("flashed: %s\n"), TIME_TEXT(k->flashed_usec));
        if (k->verified_usec >= 0) {
                printf(_("last verified: %s\n"), TIME_TEXT(k->verified_usec));
                printf(_("last verification: %s\n"), k->verified_outcome ? key_status_words(k->verified_outcome) : "");
        } else
                puts(_("last verified: never"));
        if (usb[0])
                printf(_("USB serial: %s\n"), esc(usb));
        puts(has_record ? _("key record: present")
                        : _("key record: missing or unreadable (identified by its volume ID)"));
        /* TRANSLATORS: identify: the journal it read (a path, or a URL without password). */
        printf(_("journal: %s\n"), esc(journal_name(j)));
        if (is_swapped)
                printf(_("warning: %s\n"), LIB_WORDS(&swap));
        return EXIT_OK;
}

const struct command command_identify = {
        .name = "identify",
        .summary = N_("say whose a found key is, offline, from the journal"),
        .help = N_("Usage: cartable identify TARGET [--journal DB]\n"
                "\n"
                "Read a found key or image (never mounted, never written): its FAT volume ID, the\n"
                "USB serial the key reports and the one in /.cartable/key.json, and say from the\n"
                "journal whose it is (name, class, school), its status, release and last\n"
                "verification. A renamed volume or a deleted key record does not hide it.\n"
                "\n"
                "Exit codes: 0 found; 2 not a FAT32 key; 66 not in the journal (it names the journal),\n"
                "no journal, no target; 69 the journal's server cannot be reached.\n"
                "See cartable-lifecycle(1).\n"),
        .run = run_identify,
};
