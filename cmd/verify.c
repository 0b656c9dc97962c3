/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable verify: is a returned key still what its release made it? */
#include <inttypes.h>
#include <json-c/json.h>

#include "commands.h"
#include "key-io.h"
#include "key-life.h"
#include "trust.h"
#include "flash/verify.h"

static const char help[] =
        N_("Usage: cartable verify TARGET [--trust KEY]... [--json] [--journal DB [--operator NAME]]\n"
        "\n"
        "Check a key or image file against the signed manifest it carries, without mounting\n"
        "it: the manifest's signature, the partition table, then every release file's size\n"
        "and SHA-256. Missing and modified files are reported; extra files are the pupil's\n"
        "own and allowed, except in the release's sealed directories. The key record\n"
        "(/.cartable/key.json) is shown as unsigned, and checked against the volume.\n"
        "\n"
        "Options:\n"
        "  --trust KEY   trusted minisign public key, or a directory of them (repeatable;\n"
        "                replaces the [trust] keys of the configuration)\n"
        "  --json        one JSON object on stdout\n"
        "  --journal DB  record the result in the journal; a key whose volume ID or serial\n"
        "                the journal gives to another pupil than its record names is\n"
        "                'swapped', never intact (exit 1); an unknown key: exit 66\n"
        "  --operator N  who verified (default: $SUDO_USER, $USER)\n"
        "  -h, --help    show this help\n"
        "\n"
        "Exit codes: 0 intact; 1 modified (missing, changed, or added in a sealed directory,\n"
        "partition table not as flashed, key record contradicting the volume);\n"
        "2 not a cartable key, or unreadable; 3 manifest signature not trusted; 64 usage; 66 missing\n"
        "target, no trusted key, no journal (--journal); 69 the journal's server cannot be\n"
        "reached.\n"
        "See cartable-verify(1).\n");

/* "rhs" letters of the read-only, hidden and system bits, '-' when clear. */
static const char *attrs_string(uint8_t a, char ret[4]) {
        ret[0] = a & FAT_ATTR_READ_ONLY ? 'r' : '-';
        ret[1] = a & FAT_ATTR_HIDDEN ? 'h' : '-';
        ret[2] = a & FAT_ATTR_SYSTEM ? 's' : '-';
        ret[3] = 0;
        return ret;
}

static struct json_object *entry_json(const struct verify_entry *e) {
        struct json_object *x = json_object_new_object();
        char a[4];

        json_object_object_add(x, "path", json_object_new_string(e->path));
        json_object_object_add(x, "status", json_object_new_string(verify_status_to_string(e->status)));
        json_object_object_add(x, "directory", json_object_new_boolean(e->is_dir));
        if (e->collides_with)
                json_object_object_add(x, "collides_with", json_object_new_string(e->collides_with));
        if (e->status == VERIFY_MODIFIED && !e->is_dir) {
                json_object_object_add(x, "expected_size", json_object_new_int64((int64_t) e->expected_size));
                json_object_object_add(x, "size", json_object_new_int64((int64_t) e->actual_size));
        }
        if (e->status == VERIFY_ATTRIBUTES) {
                json_object_object_add(x, "expected_attributes", json_object_new_string(attrs_string(e->expected_attrs, a)));
                json_object_object_add(x, "attributes", json_object_new_string(attrs_string(e->actual_attrs, a)));
        }
        return x;
}

/* The record as the key carries it: never proof, since nothing signs it. */
static struct json_object *key_record_json(const struct verify_result *v) {
        struct json_object *k = json_object_new_object();

        json_object_object_add(k, "found", json_object_new_boolean(v->has_key_record));
        json_object_object_add(k, "signed", json_object_new_boolean(false));
        json_object_object_add(k, "valid", json_object_new_boolean(v->is_key_record_valid));
        json_object_object_add(k, "matches_volume", json_object_new_boolean(v->has_key_record && !v->is_key_record_mismatch));
        if (v->key_record_problem[0])
                json_object_object_add(k, "problem", json_object_new_string(v->key_record_problem));
        if (v->is_key_record_valid)
                json_object_object_add(k, "record", key_record_to_json_object(&v->key_record));
        return k;
}

static void print_json(const char *target, const struct verify_result *v) {
        struct json_object *o = json_object_new_object(), *a = json_object_new_array(), *t = json_object_new_object();
        char vid[16];

        key_format_volume_id(v->volume_id, vid);
        json_object_object_add(o, "target", json_object_new_string(target));
        json_object_object_add(o, "intact", json_object_new_boolean(verify_result_is_intact(v)));
        json_object_object_add(o, "release", json_object_new_string(v->release_name));
        json_object_object_add(o, "version", json_object_new_string(v->release_version));
        json_object_object_add(o, "release_serial", json_object_new_int64((int64_t) v->release_serial));
        json_object_object_add(o, "key_id", json_object_new_string(v->release_key_id));
        json_object_object_add(o, "label", json_object_new_string(v->label));
        json_object_object_add(o, "volume_id", json_object_new_string(vid));
        json_object_object_add(o, "volume_offset", json_object_new_int64((int64_t) v->volume_offset));
        json_object_object_add(t, "as_flashed", json_object_new_boolean(!v->table_problem[0]));
        if (v->table_problem[0])
                json_object_object_add(t, "problem", json_object_new_string(v->table_problem));
        json_object_object_add(o, "partition_table", t);
        json_object_object_add(o, "outdated", json_object_new_boolean(v->is_outdated));
        if (v->station_serial)
                json_object_object_add(o, "station_serial", json_object_new_int64((int64_t) v->station_serial));
        json_object_object_add(o, "update_interrupted", json_object_new_boolean(v->is_update_interrupted));
        if (v->pending_version[0])
                json_object_object_add(o, "pending_version", json_object_new_string(v->pending_version));
        json_object_object_add(o, "files_checked", json_object_new_int64((int64_t) v->n_files_checked));
        json_object_object_add(o, "bytes_checked", json_object_new_int64((int64_t) v->bytes_checked));
        json_object_object_add(o, "missing", json_object_new_int64((int64_t) v->n_missing));
        json_object_object_add(o, "modified", json_object_new_int64((int64_t) v->n_modified));
        json_object_object_add(o, "extra", json_object_new_int64((int64_t) v->n_extra));
        json_object_object_add(o, "sealed", json_object_new_int64((int64_t) v->n_sealed));
        json_object_object_add(o, "attributes", json_object_new_int64((int64_t) v->n_attributes));
        json_object_object_add(o, "unlisted", json_object_new_int64((int64_t) v->n_unlisted));
        for (size_t i = 0; i < v->n_entries; i++)
                json_object_array_add(a, entry_json(&v->entries[i]));
        json_object_object_add(o, "entries", a);
        json_object_object_add(o, "key_record", key_record_json(v));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* A key that could not be verified: its reason code for scripts, and the sentence. */
static void print_failure_json(const char *target, const struct cart_error *err, int r) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "target", json_object_new_string(target));
        json_object_object_add(o, "intact", json_object_new_boolean(false));
        json_object_object_add(o, "reason", json_object_new_string(cart_reason_to_string(cart_error_reason(err, r))));
        json_object_object_add(o, "error", json_object_new_string(ERROR_TEXT_C(err, r)));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* A problem verify keeps as text (lib/'s English, made safe for a terminal) in the person's
 * words: lib/'s words translated and escaped when they say something else, else the text. */
static const char *problem_words(const struct cart_error *e, const char *problem) {
        const char *words = e->msg[0] && !e->context[0] ? LIB_WORDS(e) : e->msg;

        return streq(words, e->msg) ? problem : esc(words);
}
static void print_key_record(const struct verify_result *v) {
        const struct key_record *k = &v->key_record;
        char vid[16], t[32], owner[512] = "";

        if (!v->has_key_record) {
                fputs(_("key record: none\n"), stdout);
                return;
        }
        if (v->is_key_record_valid) {
                const char *const parts[] = { k->owner_first_name, k->owner_last_name, k->owner_class, k->owner_school };
                size_t used = 0;

                key_format_volume_id(k->volume_id, vid);
                time_format(k->flashed_at, t);
                if (k->has_owner) {
                        const char *sep = "";
                        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                                if (parts[i][0] && used < sizeof(owner)) {
                                        used += (size_t) snprintf(owner + used, sizeof(owner) - used, "%s%s", sep, parts[i]);
                                        sep = i == 0 && parts[1][0] ? " " : ", ";
                                }
                }
                /* TRANSLATORS: the key record (/.cartable/key.json): release name, version, serial,
                 * FAT volume ID, time it was flashed. */
                printf(_("key record (unsigned, not proof): %s %s serial %" PRIu64 ", volume %s, flashed %s"),
                       k->release_name, k->release_version, k->release_serial, vid, t);
                if (k->key_serial[0])
                        /* TRANSLATORS: continues the key record's line: the key's VID:PID and USB serial. */
                        printf(_(", key %s %s"), k->key_vid_pid, k->key_serial);
                if (owner[0])
                        /* TRANSLATORS: continues the key record's line: first name, last name, class, school. */
                        printf(_(", owner %s"), owner);
                putchar('\n');
        }
        if (v->key_record_problem[0])
                /* TRANSLATORS: %s says what is wrong with the key record (lib/'s words or a code). */
                printf(_("key-record %s\n"), problem_words(&v->key_record_error, v->key_record_problem));
}

static void print_text(const char *target, const struct verify_result *v) {
        char vid[16], x[4], y[4];
        const char *size = HUMAN_SIZE(v->bytes_checked);
        unsigned long n = v->n_files_checked;

        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                printf("%-9s %s%s", verify_status_words(e->status), esc(e->path), e->is_dir ? "/" : "");
                if (e->collides_with)
                        /* TRANSLATORS: another entry of the same directory whose name FAT takes for this one. */
                        printf(_(" (same name on FAT as \"%s\" in its directory)"), esc(e->collides_with));
                else if (e->status == VERIFY_MODIFIED && !e->is_dir && e->expected_size != e->actual_size)
                        printf(_(" (%" PRIu64 " bytes, expected %" PRIu64 ")"), e->actual_size, e->expected_size);
                if (e->status == VERIFY_ATTRIBUTES)
                        /* TRANSLATORS: the attributes found, then those expected ("R-S", "-H-"). */
                        printf(_(" (%s, expected %s)"), attrs_string(e->actual_attrs, x), attrs_string(e->expected_attrs, y));
                putchar('\n');
        }
        if (v->n_unlisted)
                printf(ngettext("...       %zu more extra, sealed or colliding entry, not listed\n",
                                "...       %zu more extra, sealed or colliding entries, not listed\n", v->n_unlisted),
                       v->n_unlisted);
        if (v->table_problem[0])
                printf(_("not as flashed: %s\n"), v->table_problem);
        print_key_record(v);
        if (v->is_outdated)
                /* TRANSLATORS: a release serial number, then the release's name. */
                printf(_("outdated: this station has flashed serial %" PRIu64 " of %s\n"), v->station_serial, esc(v->release_name));
        if (v->is_update_interrupted && v->is_interrupted_repair)
                printf(_("repair interrupted: run cartable repair with release %s %s again to finish it\n"),
                       esc(v->release_name), esc(v->pending_version));
        else if (v->is_update_interrupted)
                /* TRANSLATORS: the release the interrupted update brings: name, version, serial. */
                printf(_("update interrupted: run cartable update with release %s %s (serial %" PRIu64 ") again to "
                         "finish it\n"), esc(v->release_name), v->pending_version[0] ? esc(v->pending_version) : "?",
                       v->pending_serial);
        key_format_volume_id(v->volume_id, vid);
        if (v->is_update_interrupted)
                /* TRANSLATORS: the same as the intact line, for a key whose update was cut. */
                printf(ngettext("%s: UPDATE INTERRUPTED: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %lu file (%s) checked",
                                "%s: UPDATE INTERRUPTED: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %lu files (%s) checked", n),
                       esc(target), esc(v->release_name), esc(v->release_version), v->release_serial, v->release_key_id, vid,
                       esc(v->label), n, size);
        else if (verify_result_is_intact(v))
                /* TRANSLATORS: the key checked, release name, version, serial, signing key id, FAT volume ID,
                 * volume label, number of files, their total size. */
                printf(ngettext("%s: intact: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %lu file (%s) checked",
                                "%s: intact: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %lu files (%s) checked", n),
                       esc(target), esc(v->release_name), esc(v->release_version), v->release_serial, v->release_key_id, vid,
                       esc(v->label), n, size);
        else
                /* TRANSLATORS: the same as the intact line, for a key that differs from its release. */
                printf(ngettext("%s: MODIFIED: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %lu file (%s) checked",
                                "%s: MODIFIED: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %lu files (%s) checked", n),
                       esc(target), esc(v->release_name), esc(v->release_version), v->release_serial, v->release_key_id, vid,
                       esc(v->label), n, size);
        if (v->n_missing + v->n_modified + v->n_extra + v->n_sealed + v->n_attributes)
                /* TRANSLATORS: continues the summary line: counts of files missing, modified, added by the
                 * pupil (allowed), and added in sealed directories (not allowed). */
                printf(_("; %zu missing, %zu modified, %zu extra (allowed), %zu in sealed directories"),
                       v->n_missing, v->n_modified, v->n_extra, v->n_sealed);
        if (v->n_attributes)
                printf(ngettext(", %zu with changed attributes", ", %zu with changed attributes", v->n_attributes),
                       v->n_attributes);
        if (v->table_problem[0])
                fputs(_("; partition table not as flashed"), stdout);
        if (v->is_outdated)
                fputs(_("; outdated"), stdout);
        putchar('\n');
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                TRUST_OPTION('t'),
                { "json", no_argument, NULL, 'j' },
                { "journal", required_argument, NULL, 'J' },
                { "operator", required_argument, NULL, 'o' },
                {}
        };
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_(trust_args_done) struct trust_args trust_args = {};
        _cleanup_close_ int fd = -EBADF;
        struct cart_error err = {};
        const char *journal = NULL, *operator = NULL;
        bool json = false, swapped = false;
        uint64_t size;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        if (trust_args_add(&trust_args, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                case 'j': json = true; break;
                case 'J': journal = optarg; break;
                case 'o': operator = optarg; break;
                default: return usage_bad_option(&command_verify, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_verify, _("expected TARGET"));

        r = trust_load(&trust_args, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = key_open_read(argv[optind], &fd, &size, &err);
        if (r < 0) {
                if (json)
                        print_failure_json(argv[optind], &err, r);
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return exit_code_for_target(&err, r);
        }
        const struct verify_options vo = { .trust = trust, .state_dir = arg_config->state_dir };
        r = verify_key_with(fd_read_at, (void *) (intptr_t) fd, size, &vo, &v, &err);
        if (r < 0) {
                if (json)
                        print_failure_json(argv[optind], &err, r);
                log_error(r, "%s: %s", argv[optind], ERROR_TEXT(&err, r));
                return exit_code_for_key(&err, r);
        }
        if (v->state_problem[0])
                log_warn(_("rollback state not read, outdated keys not told: %s"),
                         problem_words(&v->state_error, v->state_problem));
        if (json)
                print_json(argv[optind], v);
        else
                print_text(argv[optind], v);
        if (journal) {
                char usb[128];
                int code;

                /* A USB key's own serial, beside its volume ID and key record (a swapped key). */
                key_usb_serial(fd, usb, sizeof(usb));
                code = key_life_record_verify(journal, operator, v, usb, &swapped);
                if (code != EXIT_OK)
                        return code;
        }
        return verify_result_is_intact(v) && !swapped ? EXIT_OK : EXIT_MODIFIED;
}

const struct command command_verify = {
        .name = "verify",
        .summary = N_("check a key or image against its signed manifest"),
        .help = help,
        .run = run,
};
