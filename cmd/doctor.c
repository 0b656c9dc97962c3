/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable doctor: is this station ready to provision keys, and if not, what to fix. */
#include <json-c/json.h>

#include "commands.h"
#include "reason.h"
#include "trust.h"
#include "station/doctor.h"

static const char help[] =
        N_("Usage: cartable doctor [--trust KEY]... [--json] [--min-free SIZE] [--root DIR]\n"
        "\n"
        "Check the station, one line per check with OK, WARN or FAIL and what to fix: the\n"
        "kernel's USB storage driver, udevd, an automounter, the state directory (0700,\n"
        "root), the trusted keys, the journal (its hash chains), free space in the state\n"
        "directory and TMPDIR, the rollback state. A FAIL blocks provisioning; a WARN\n"
        "does not.\n"
        "\n"
        "Options:\n"
        "  --trust KEY      trusted minisign public key, or a directory of them (repeatable;\n"
        "                   replaces the [trust] keys of the configuration)\n"
        "  --json           one JSON object on stdout\n"
        "  --min-free SIZE  free space the state directory and TMPDIR need (default 256M)\n"
        "  --root DIR       look for sys/, proc/, run/, lib/modules/ and etc/udev/ under DIR\n"
        "                   (a chroot or a test tree) instead of /\n"
        "  -h, --help       show this help\n"
        "\n"
        "Exit codes: 0 nothing blocks provisioning (warnings allowed); 78 a check failed;\n"
        "64 usage; 70 internal error. See cartable-doctor(1).\n");

/* What a check found: its detail, and the sentence of its error when it failed on one. */
static const char *check_text(const struct doctor_check *k, bool is_json, char *buf, size_t n) {
        /* --json keeps lib/'s English whatever the locale; people read it in their words. */
        const char *detail = is_json || !k->detail[0] ? k->detail : LIB_WORDS(&k->detail_words);

        if (!k->has_error) {
                snprintf(buf, n, "%s", detail);
                return buf;
        }
        snprintf(buf, n, "%s%s%s", detail, detail[0] ? ": " : "",
                 is_json ? ERROR_TEXT_C(&k->error, k->error_r) : ERROR_TEXT(&k->error, k->error_r));
        return buf;
}

static void print_json(const struct doctor_report *r) {
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();

        for (size_t i = 0; i < r->n_checks; i++) {
                const struct doctor_check *k = &r->checks[i];
                struct json_object *x = json_object_new_object();
                json_object_object_add(x, "check", json_object_new_string(k->name));
                json_object_object_add(x, "status", json_object_new_string(doctor_status_to_string(k->status)));
                char text[2048];
                json_object_object_add(x, "detail", json_object_new_string(check_text(k, true, text, sizeof(text))));
                if (k->has_error)
                        json_object_object_add(x, "reason", json_object_new_string(
                                cart_reason_to_string(cart_error_reason(&k->error, k->error_r))));
                json_object_object_add(x, "fix", k->fix[0] ? json_object_new_string(k->fix) : NULL);
                json_object_array_add(a, x);
        }
        json_object_object_add(o, "ready", json_object_new_boolean(!doctor_report_blocks(r)));
        json_object_object_add(o, "checks", a);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

#define P_(ctx, s) i18n_pgettext(ctx "\004" s, s)

/* A check's status for people, in their language (--json keeps doctor_status_to_string()). */
static const char *status_words(enum doctor_status s) {
        switch (s) {
        /* TRANSLATORS: the status of one of doctor's checks, at the start of its line, in
         * capitals: passed, a warning, failed (the column is as wide as the longest). */
        case DOCTOR_OK:   return P_("doctor status", "OK");
        case DOCTOR_WARN: return P_("doctor status", "WARN");
        case DOCTOR_FAIL: return P_("doctor status", "FAIL");
        }
        return "?";
}

/* The width of s in columns (UTF-8: "ÉCHEC" is 5). */
static int columns(const char *s) {
        int n = 0;
        for (; *s; s++)
                n += ((unsigned char) *s & 0xC0) != 0x80;
        return n;
}

static void print_text(const struct doctor_report *r) {
        size_t n_warn = 0, n_fail = 0;
        int width = 0;

        for (enum doctor_status st = DOCTOR_OK; st <= DOCTOR_FAIL; st++)
                width = MAX(width, columns(status_words(st)));
        for (size_t i = 0; i < r->n_checks; i++) {
                const struct doctor_check *k = &r->checks[i];
                const char *status = status_words(k->status);
                char text[2048];
                printf("%s%*s  %-16s %s\n", status, width - columns(status), "", k->name,
                       esc(check_text(k, false, text, sizeof(text))));
                if (k->fix[0]) {
                        printf("%*s", width - 4, "");     /* the status column past its English width */
                        /* TRANSLATORS: what to do about a check that warned or failed. */
                        printf(_("      %-16s fix: %s\n"), "", LIB_WORDS(&k->fix_words));
                }
                n_warn += k->status == DOCTOR_WARN;
                n_fail += k->status == DOCTOR_FAIL;
        }
        char warnings[64];

        /* TRANSLATORS: a count of warnings, used in the two sentences below. */
        snprintf(warnings, sizeof(warnings), ngettext("%zu warning", "%zu warnings", n_warn), n_warn);
        if (n_fail > 0)
                /* TRANSLATORS: %zu checks failed; %s is the count of warnings ("2 warnings"). */
                printf(ngettext("\nNot ready: %zu check failed, %s.\n", "\nNot ready: %zu checks failed, %s.\n", n_fail),
                       n_fail, warnings);
        else
                /* TRANSLATORS: %s is the count of warnings ("0 warnings"). */
                printf(_("\nReady to provision keys (%s).\n"), warnings);
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                TRUST_OPTION('t'),
                { "json",     no_argument,       NULL, 'j' },
                { "min-free", required_argument, NULL, 'm' },
                { "root",     required_argument, NULL, 'r' },
                {}
        };
        _cleanup_(doctor_report_freep) struct doctor_report *report = NULL;
        _cleanup_(trust_args_done) struct trust_args trust_args = {};
        struct doctor_options o = { .config = arg_config };
        bool json = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        if (trust_args_add(&trust_args, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                case 'j': json = true; break;
                case 'm':
                        if (parse_size(optarg, &o.min_free) < 0)
                                return usage_error(&command_doctor, _("--min-free %s: not a size (such as 256M, 1G)"), optarg);
                        break;
                case 'r': o.root = optarg; break;
                default: return usage_bad_option(&command_doctor, argv);
                }
        if (argc - optind != 0)
                return usage_error(&command_doctor, _("unexpected argument '%s'"), argv[optind]);

        o.trust_paths = trust_args.paths;
        o.n_trust_paths = trust_args.n_paths;
        o.tmpdir = getenv("TMPDIR");
        if (!o.tmpdir || !*o.tmpdir)
                o.tmpdir = "/tmp";
        r = doctor_run(&o, &report);
        if (r < 0)
                return log_fail_error(NULL, r, "doctor");
        if (json)
                print_json(report);
        else
                print_text(report);
        return doctor_report_blocks(report) ? EXIT_NOT_READY : EXIT_OK;
}

const struct command command_doctor = {
        .name = "doctor",
        .summary = N_("check that this station is ready to provision keys"),
        .help = help,
        .run = run,
};
