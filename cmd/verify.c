/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable verify: is a returned key still what its release made it? */
#include <inttypes.h>
#include <json-c/json.h>

#include "commands.h"
#include "key-io.h"
#include "trust.h"
#include "flash/verify.h"

static const char help[] =
        "Usage: cartable verify TARGET [--trust KEY]... [--json]\n"
        "\n"
        "Check a key or image file against the signed manifest it carries, without mounting\n"
        "it: the manifest's signature, then every release file's size and SHA-256. Missing\n"
        "and modified files are reported; extra files are the pupil's own and allowed,\n"
        "except in the release's sealed directories.\n"
        "\n"
        "Options:\n"
        "  --trust KEY   trusted minisign public key, or a directory of them (repeatable;\n"
        "                replaces the [trust] keys of the configuration)\n"
        "  --json        one JSON object on stdout\n"
        "  -h, --help    show this help\n"
        "\n"
        "Exit codes: 0 intact; 1 modified (missing, changed, or added in a sealed directory);\n"
        "2 not a cartable key, or unreadable; 3 manifest signature not trusted; 64 usage.\n"
        "See cartable-verify(1).\n";

static int verify_exit_code(int r) {
        switch (-r) {
        case ENOKEY: case EKEYREJECTED:
                return EXIT_TRUST;
        case ENOMEM:
                return EXIT_SOFTWARE;   /* the station's trouble, not the key's */
        default:
                return EXIT_NOT_CARTABLE;
        }
}

static void print_json(const char *target, const struct verify_result *v) {
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
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
        json_object_object_add(o, "files_checked", json_object_new_int64((int64_t) v->n_files_checked));
        json_object_object_add(o, "bytes_checked", json_object_new_int64((int64_t) v->bytes_checked));
        json_object_object_add(o, "missing", json_object_new_int64((int64_t) v->n_missing));
        json_object_object_add(o, "modified", json_object_new_int64((int64_t) v->n_modified));
        json_object_object_add(o, "extra", json_object_new_int64((int64_t) v->n_extra));
        json_object_object_add(o, "sealed", json_object_new_int64((int64_t) v->n_sealed));
        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                struct json_object *x = json_object_new_object();
                json_object_object_add(x, "path", json_object_new_string(e->path));
                json_object_object_add(x, "status", json_object_new_string(verify_status_to_string(e->status)));
                json_object_object_add(x, "directory", json_object_new_boolean(e->is_dir));
                if (e->collides_with)
                        json_object_object_add(x, "collides_with", json_object_new_string(e->collides_with));
                if (e->status == VERIFY_MODIFIED && !e->is_dir) {
                        json_object_object_add(x, "expected_size", json_object_new_int64((int64_t) e->expected_size));
                        json_object_object_add(x, "size", json_object_new_int64((int64_t) e->actual_size));
                }
                json_object_array_add(a, x);
        }
        json_object_object_add(o, "entries", a);
        if (v->key_json) {
                struct json_object *k = json_tokener_parse(v->key_json);
                if (k)
                        json_object_object_add(o, "key_record", k);
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static void print_text(const char *target, const struct verify_result *v) {
        char vid[16], a[32];

        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                printf("%-9s %s%s", verify_status_to_string(e->status), esc(e->path), e->is_dir ? "/" : "");
                if (e->collides_with)
                        printf(" (same name on FAT as \"%s\" in its directory)", esc(e->collides_with));
                else if (e->status == VERIFY_MODIFIED && !e->is_dir && e->expected_size != e->actual_size)
                        printf(" (%" PRIu64 " bytes, expected %" PRIu64 ")", e->actual_size, e->expected_size);
                putchar('\n');
        }
        key_format_volume_id(v->volume_id, vid);
        printf("%s: %s: %s %s (serial %" PRIu64 ", signed by %s), volume %s \"%s\", %zu file%s (%s) checked",
               esc(target), verify_result_is_intact(v) ? "intact" : "MODIFIED",
               esc(v->release_name), esc(v->release_version), v->release_serial, v->release_key_id, vid, esc(v->label),
               v->n_files_checked, v->n_files_checked == 1 ? "" : "s", format_size(v->bytes_checked, a, sizeof(a)));
        if (v->n_missing + v->n_modified + v->n_extra + v->n_sealed)
                printf("; %zu missing, %zu modified, %zu extra (allowed), %zu in sealed directories",
                       v->n_missing, v->n_modified, v->n_extra, v->n_sealed);
        putchar('\n');
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                TRUST_OPTION('t'),
                { "json", no_argument, NULL, 'j' },
                {}
        };
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_(trust_args_done) struct trust_args trust_args = {};
        _cleanup_close_ int fd = -EBADF;
        struct cart_error err = {};
        bool json = false;
        uint64_t size;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        if (trust_args_add(&trust_args, optarg) < 0)
                                return log_fail(-ENOMEM, "out of memory");
                        break;
                case 'j': json = true; break;
                default: return usage_bad_option(&command_verify, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_verify, "expected TARGET");

        r = trust_load(&trust_args, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = key_open_read(argv[optind], &fd, &size, &err);
        if (r < 0) {
                log_error(r, "%s", cart_error_message(&err, r));
                return EXIT_NOT_CARTABLE;
        }
        r = verify_key(fd_read_at, (void *) (intptr_t) fd, size, trust, &v, &err);
        if (r < 0) {
                log_error(r, "%s: %s", argv[optind], cart_error_message(&err, r));
                return verify_exit_code(r);
        }
        if (json)
                print_json(argv[optind], v);
        else
                print_text(argv[optind], v);
        return verify_result_is_intact(v) ? EXIT_OK : EXIT_MODIFIED;
}

const struct command command_verify = {
        .name = "verify",
        .summary = "check a key or image against its signed manifest",
        .help = help,
        .run = run,
};
