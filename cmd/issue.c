/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable issue: hand a stock key to a pupil, its owner file and key record rewritten in place. */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "device/device.h"
#include "flash/key-issue.h"
#include "journal-arg.h"
#include "key-io.h"
#include "lifecycle.h"
#include "station/station.h"
#include "trust.h"

enum { OPT_JOURNAL = 0x100, OPT_PUPIL, OPT_OPERATOR, OPT_JSON, OPT_YES };

/* ---- the target, opened for writing ---- */

struct target {
        struct device_target *dt;
        int fd;
        uint64_t size;
        char serial[128];
};

static void target_done(struct target *t) {
        if (t->dt)
                device_target_close(t->dt);
        else if (t->fd >= 0)
                close(t->fd);
}

/* A USB key through the target policy (as flash: O_EXCL, flock, identity checked again), or
 * an image file (a regular file, not a link, locked). */
static int target_open(const char *path, struct target *t, struct cart_error *err) {
        struct stat st;

        t->fd = -EBADF;
        if (station_target_is_device(path)) {
                struct device_policy policy;
                int r = device_policy_from_config(arg_config, &policy);

                if (r >= 0)
                        r = device_target_open(path, &policy, NULL, &t->dt, err);
                if (r < 0)
                        return r;
                t->fd = t->dt->fd;
                t->size = t->dt->size;
                if (t->dt->info->serial)
                        snprintf(t->serial, sizeof(t->serial), "%s", t->dt->info->serial);
                return 0;
        }
        t->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (t->fd < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (fstat(t->fd, &st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (!S_ISREG(st.st_mode))
                return cart_error_set(err, -EPERM, _("%s: not a USB key or an image file"), path);
        if (flock(t->fd, LOCK_EX | LOCK_NB) < 0)
                return cart_error_errno(err, -errno, path, "flock");
        t->size = (uint64_t) st.st_size;
        (void) posix_fadvise(t->fd, 0, 0, POSIX_FADV_DONTNEED);
        return 0;
}

/* Between the writes and their read-back: on the key, and out of the page cache. */
static int target_sync(void *userdata) {
        int fd = (int) (intptr_t) userdata;

        if (fsync(fd) < 0)
                return -errno;
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        return 0;
}

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

/* The key, verified, and the journal's word on it: everything that can refuse, before a write. */
static int check(const struct issue_args *a, struct journal *j, struct target *t, struct sign_trust **trust,
                 struct key_issue **ret_ki, struct journal_key_info **ret_key, struct journal_pupil_info **ret_pupil) {
        _cleanup_(key_issue_freep) struct key_issue *ki = NULL;
        const struct verify_result *v;
        struct cart_error err = {};
        char swapped[512];
        int r;

        r = trust_load(&a->trust, trust);
        if (r < 0)
                return exit_code_for(r);
        r = target_open(a->target, t, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("%s: nothing written"), a->target);
        const struct verify_options vo = { .trust = *trust, .state_dir = arg_config->state_dir };
        r = key_issue_open(fd_read_at, fd_write_at, (void *) (intptr_t) t->fd, t->size, &vo, &ki, &err);
        if (r == -EMEDIUMTYPE || r == -EUCLEAN) {
                log_error(r, _("%s: %s: nothing written"), a->target, ERROR_TEXT(&err, r));
                return EXIT_NOT_CARTABLE;
        }
        if (r < 0)
                return log_fail_error(&err, r, _("%s: nothing written"), a->target);
        r = key_issue_check(ki, &err);
        if (r < 0) {
                log_error(r, _("%s: %s: it cannot be issued (cartable verify says more); nothing written"),
                          a->target, ERROR_TEXT(&err, r));
                return EXIT_MODIFIED;
        }
        v = key_issue_verification(ki);
        r = lifecycle_find_key(j, v->volume_id, &v->key_record, t->serial, ret_key, swapped, sizeof(swapped), true, &err);
        if (r < 0)
                return log_fail(r, _("%s: %s: nothing written"), a->target, ERROR_TEXT(&err, r));
        if (swapped[0]) {
                log_error(-EBADE, _("SWAPPED: %s: %s; nothing written"), a->target, swapped);
                return EXIT_MODIFIED;
        }
        const struct journal_issue is = { .key = (*ret_key)->uid, .pupil = a->pupil };
        r = journal_key_issue(j, &is, true, ret_pupil, &err);
        if (r == -EEXIST || r == -EINVAL) {
                log_error(r, _("%s; nothing written"), ERROR_TEXT(&err, r));
                return EXIT_DATA;
        }
        if (r < 0)
                return journal_fail(r, &err);
        *ret_ki = TAKE_PTR(ki);
        return EXIT_OK;
}

static int run_issue(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(key_issue_freep) struct key_issue *ki = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        _cleanup_(target_done) struct target t = { .fd = -EBADF };
        struct issue_args a = {};
        struct cart_error err = {};
        const struct verify_result *v;
        bool was_written = false;
        int code, r;

        code = parse(argc, argv, &a);
        if (code == EXIT_OK)
                code = journal_arg_open(a.journal, false, &j);
        if (code == EXIT_OK)
                code = check(&a, j, &t, &trust, &ki, &k, &p);
        trust_args_done(&a.trust);
        if (code != EXIT_OK)
                return code;
        v = key_issue_verification(ki);

        /* The key first: a key that cannot be written is issued to nobody. */
        struct owner_fields owner = station_owner(p);
        r = key_issue_write(ki, &owner, (int64_t) time(NULL), target_sync, &was_written, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("%s: the key was not issued"), a.target);
        const struct journal_issue is = {
                .key = k->uid, .pupil = a.pupil, .operator = lifecycle_operator(a.op),
                .release_name = v->release_name, .release_version = v->release_version,
                .release_key_id = v->release_key_id, .release_serial = (int64_t) v->release_serial,
        };
        r = journal_key_issue(j, &is, false, NULL, &err);
        if (r < 0) {
                log_error(r, _("%s: the key now names %s/%s, but the journal did not record the issue: %s. Run the "
                               "same cartable issue again: it records it without writing the key again"),
                          a.target, p->school, p->id, ERROR_TEXT(&err, r));
                /* One code for "written, not recorded", whatever the journal's reason: 69 when its server went away. */
                return journal_exit_code(r) == EXIT_UNAVAILABLE ? EXIT_UNAVAILABLE : EXIT_SOFTWARE;
        }
        print_result(&a, k, p, v, was_written);
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
