/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable image: build, verify and show signed releases (.cart files). */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "base/output-file.h"
#include "fat/fat.h"
#include "base/hash.h"
#include "passphrase.h"
#include "release/recipe.h"
#include "release/release.h"
#include "trust.h"

static int run_image(int argc, char **argv);

static int run_build(int argc, char **argv);
static int run_verify(int argc, char **argv);
static int run_show(int argc, char **argv);

static const struct command image_build_command = { .name = "build", .run = run_build };
static const struct command image_verify_command = { .name = "verify", .run = run_verify };
static const struct command image_show_command = { .name = "show", .run = run_show };

/* One line per sub-command. */
static const struct command *const image_commands[] = {
        &image_build_command,
        &image_verify_command,
        &image_show_command,
        &image_export_command,
        NULL
};

const struct command command_image = {
        .name = "image",
        .summary = N_("build, verify and show signed releases"),
        .help =
        N_("Usage: cartable image build [RECIPE] --key SECRET --output NAME.cart [OPTIONS] [BUNDLE...]\n"
        "       cartable image verify NAME.cart [--trust FILE|DIR]... [--json]\n"
        "       cartable image show NAME.cart [--trust FILE|DIR]... [--json]\n"
        "       cartable image export NAME.cart --size SIZE --output KEY.img [OPTIONS] (see cartable-image-export(1))\n"
        "\n"
        "A release is one signed file (an uncompressed tar: manifest.json, its minisign\n"
        "signature, the payload) built from content bundles: tar or zip archives (gzip, xz,\n"
        "zstd, bzip2) or directories, overlaid in order.\n"
        "\n"
        "  build   RECIPE is an INI file (or a directory holding recipe.ini); every other\n"
        "          argument is a bundle. Options override the recipe's settings.\n"
        "  verify  the signature, then every payload's size and SHA-256, then that the\n"
        "          release holds nothing else.\n"
        "  show    the release's metadata and files; the signature is checked only with\n"
        "          trusted keys (--trust, or else the configuration's).\n"
        "\n"
        "Build options:\n"
        "  --key SECRET            the secret key that signs (minisign format)\n"
        "  --passphrase-file FILE  its passphrase is the first line of FILE\n"
        "  --output NAME.cart      the release to write (never overwritten)\n"
        "  --name, --version, --serial N, --time T, --label, --scheme mbr|gpt,\n"
        "  --min-size SIZE, --alignment SIZE, --cluster-size SIZE, --sealed DIR,\n"
        "  --directory DIR, --hidden PATH, --system PATH, --read-only PATH,\n"
        "  --template PATH, --allow-domain HOST, --set NAME=VALUE,\n"
        "  --owner-template FILE, --owner-path PATH\n"
        "                          recipe settings (see cartable-image(1))\n"
        "  --max-files N           at most N entries in all bundles (default 100000)\n"
        "  --max-file-size SIZE    largest file (default and maximum 4G - 1)\n"
        "  --max-total-size SIZE   all content (default 16G, and never over --min-size)\n"
        "  -q, --quiet             no build log\n"
        "\n"
        "Verify and show options:\n"
        "  --trust FILE|DIR        a trusted public key or a directory of *.pub (repeatable;\n"
        "                          replaces [trust] key of the configuration)\n"
        "  --json                  machine-readable output\n"
        "\n"
        "Exit codes: 0 success; 3 bad or untrusted signature, wrong passphrase, tampered\n"
        "content; 4 content larger than min-size; 5 the release could not be written\n"
        "(I/O error, no space left); 64 usage; 65 bad bundle, recipe or release; 66 missing\n"
        "input; 73 output exists or cannot be created.\n"
        "See cartable-image(1).\n"),
        .run = run_image,
        .subs = image_commands,
};

static int run_image(int argc, char **argv) {
        if (argc < 2)
                return usage_error(&command_image, _("missing sub-command (build, verify, show)"));
        for (const struct command *const *c = image_commands; *c; c++)
                if (streq((*c)->name, argv[1]))
                        return (*c)->run(argc - 1, argv + 1);
        return usage_error(&command_image, _("unknown sub-command '%s'"), argv[1]);
}

/* ---- build ---- */

enum {
        OPT_KEY = 0x100, OPT_PASSPHRASE_FILE, OPT_OUTPUT, OPT_MAX_FILES, OPT_MAX_FILE_SIZE,
        OPT_MAX_TOTAL_SIZE, OPT_TRUST, OPT_JSON, OPT_RECIPE,   /* OPT_RECIPE + i: recipe_set() */
};

/* Recipe settings given as options: the option name is the setting's. */
static const char *const recipe_options[] = {
        "name", "version", "serial", "time", "label", "scheme", "min-size", "alignment",
        "cluster-size", "sealed", "directory", "hidden", "system", "read-only", "template",
        "allow-domain", "set", "owner-template", "owner-path", "bundle",
};

struct build_args {
        const char *key, *passphrase_file, *output;
        bool is_quiet;
        char **settings;           /* option name, value pairs, applied after the recipe */
        size_t n_settings;
        uint64_t max_files, max_file_size, max_total_size;
        bool has_max_files, has_max_file_size, has_max_total_size;
};

/* Removed by the signal handler: a failed build leaves no file. Only the fallback of
 * output_file_open() has a name to remove; an O_TMPFILE output vanishes by itself. */
static const char *volatile temp_output;
static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig) {
        const char *p = temp_output;

        if (p)
                unlink(p);
        signal(sig, SIG_DFL);
        raise(sig);
}

static void note(void *userdata, const struct cart_error *message) {
        if (!*(bool *) userdata)
                log_info("%s", LIB_WORDS(message));
}

static int parse_size_option(const char *name, const char *value, uint64_t *ret) {
        if (parse_size(value, ret) < 0)
                return usage_error(&command_image, _("--%s %s: not a size (such as 100000, 64M, 4G)"), name, value);
        return 0;
}

static int parse_build_args(int argc, char **argv, struct build_args *a, char ***ret_rest, int *ret_n) {
        struct option options[ELEMENTSOF(recipe_options) + 10] = {
                { "key", required_argument, NULL, OPT_KEY },
                { "passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "max-files", required_argument, NULL, OPT_MAX_FILES },
                { "max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE },
                { "max-total-size", required_argument, NULL, OPT_MAX_TOTAL_SIZE },
                { "quiet", no_argument, NULL, 'q' },
        };
        int opt, n = 7;

        for (size_t i = 0; i < ELEMENTSOF(recipe_options); i++)
                options[n++] = (struct option) { recipe_options[i], required_argument, NULL, OPT_RECIPE + (int) i };
        optind = 0;
        while ((opt = getopt_long(argc, argv, "q", options, NULL)) != -1) {
                int r = 0;
                switch (opt) {
                case OPT_KEY: a->key = optarg; break;
                case OPT_PASSPHRASE_FILE: a->passphrase_file = optarg; break;
                case OPT_OUTPUT: a->output = optarg; break;
                case 'q': a->is_quiet = true; break;
                case OPT_MAX_FILES:
                        r = parse_size_option("max-files", optarg, &a->max_files);
                        a->has_max_files = true;
                        break;
                case OPT_MAX_FILE_SIZE:
                        r = parse_size_option("max-file-size", optarg, &a->max_file_size);
                        a->has_max_file_size = true;
                        break;
                case OPT_MAX_TOTAL_SIZE:
                        r = parse_size_option("max-total-size", optarg, &a->max_total_size);
                        a->has_max_total_size = true;
                        break;
                case '?':
                        return usage_bad_option(&command_image, argv);
                default: {
                        char **l = realloc(a->settings, (a->n_settings + 2) * sizeof(char *));
                        if (!l)
                                return log_fail(-ENOMEM, _("out of memory"));
                        a->settings = l;
                        l[a->n_settings++] = (char *) recipe_options[opt - OPT_RECIPE];
                        l[a->n_settings++] = optarg;
                }
                }
                if (r != 0)
                        return r;
        }
        if (!a->key)
                return usage_error(&command_image, _("image build needs --key SECRET"));
        if (!a->output)
                return usage_error(&command_image, _("image build needs --output NAME.cart"));
        *ret_rest = argv + optind;
        *ret_n = argc - optind;
        return 0;
}

static bool is_recipe_argument(const char *arg, char **ret_path) {
        struct stat st;
        size_t n = strlen(arg);

        if (n > 4 && streq(arg + n - 4, ".ini")) {
                *ret_path = strdup(arg);
                return true;
        }
        if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/recipe.ini", arg) < 0)
                        return false;
                if (access(p, F_OK) == 0) {
                        *ret_path = TAKE_PTR(p);
                        return true;
                }
        }
        return false;
}

/* The recipe from its file, the options, the bundle arguments and SOURCE_DATE_EPOCH. */
static int make_recipe(struct build_args *a, char **rest, int n_rest, struct recipe **ret) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        _cleanup_free_ char *recipe_path = NULL;
        struct cart_error err = {};
        const char *epoch;
        int r, first = 0;

        r = recipe_new(&rc);
        if (r < 0)
                return log_fail(r, _("out of memory"));
        if (n_rest > 0 && is_recipe_argument(rest[0], &recipe_path)) {
                if (!recipe_path)
                        return log_fail(-ENOMEM, _("out of memory"));
                r = recipe_load(rc, recipe_path, &err);
                if (r < 0)
                        return log_fail_error(&err, r, NULL);
                first = 1;
        }
        for (size_t i = 0; i < a->n_settings; i += 2) {
                r = recipe_set(rc, a->settings[i], a->settings[i + 1], &err);
                if (r < 0)
                        return usage_error(&command_image, "--%s: %s", a->settings[i], ERROR_TEXT(&err, r));
        }
        for (int i = first; i < n_rest; i++)
                if ((r = recipe_set(rc, "bundle", rest[i], &err)) < 0)
                        return log_fail(r, _("out of memory"));
        epoch = getenv("SOURCE_DATE_EPOCH");
        if (!rc->has_time && epoch && *epoch) {
                if (recipe_parse_time(epoch, &rc->time) < 0 || strspn(epoch, "0123456789") != strlen(epoch))
                        return usage_error(&command_image, _("SOURCE_DATE_EPOCH=%s: not seconds since 1970"), epoch);
                rc->has_time = true;
        }
        if (a->has_max_files)
                rc->limits.max_files = a->max_files;
        if (a->has_max_file_size)
                rc->limits.max_file_size = a->max_file_size;
        if (a->has_max_total_size)
                rc->limits.max_total_size = a->max_total_size;
        r = recipe_check(rc, &err);
        if (r < 0)
                return r == -ENOMEM ? log_fail(r, _("out of memory")) : log_fail(-EBADMSG, "%s", ERROR_TEXT(&err, r));
        *ret = TAKE_PTR(rc);
        return 0;
}

static int load_key(const struct build_args *a, struct sign_secret_key **ret) {
        _cleanup_(passphrase_freep) char *passphrase = NULL;
        struct cart_error err = {};
        int r;

        r = sign_secret_key_is_encrypted(a->key, &err);
        if (r < 0)
                return log_fail_error(&err, r, NULL);
        if (r > 0) {
                r = passphrase_get(a->passphrase_file, false, "Passphrase for the signing key: ", &passphrase);
                if (r < 0)
                        return exit_code_for(r);
        }
        r = sign_secret_key_load(a->key, passphrase, ret, &err);
        if (r < 0)
                return log_fail_error(&err, r, "%s", a->key);
        return 0;
}

/* Write the release as an unnamed file beside its final name, then link it there
 * without overwriting: a build that fails or is killed leaves nothing. */
static int write_release(const struct recipe *rc, const struct sign_secret_key *key, const struct build_args *a) {
        _cleanup_free_ char *dir_copy = strdup(a->output);
        struct output_file out;
        struct cart_error err = {};
        bool quiet = a->is_quiet;
        int r;

        if (!dir_copy)
                return log_fail(-ENOMEM, _("out of memory"));
        r = output_file_open(a->output, 0, &out, &err);
        if (r < 0)
                return log_fail_error(&err, r == -ENOMEM ? r : -EEXIST, NULL);
        if (out.n_stale > 0)
                log_info(ngettext("%s: removed %u temporary file left by an interrupted build",
                                  "%s: removed %u temporary files left by an interrupted build", out.n_stale),
                         a->output, out.n_stale);
        temp_output = output_file_temp_path(&out);
        for (size_t i = 0; i < ELEMENTSOF(cleanup_signals); i++)
                signal(cleanup_signals[i], on_signal);
        r = release_build(rc, key, out.fd, dirname(dir_copy), note, &quiet, &err);
        if (r == -EEXIST)
                r = -EBADMSG;   /* two bundle names that FAT takes for one: bad input */
        if (r >= 0)
                r = output_file_link(&out, 0644, &err);
        output_file_done(&out);
        temp_output = NULL;
        for (size_t i = 0; i < ELEMENTSOF(cleanup_signals); i++)
                signal(cleanup_signals[i], SIG_DFL);
        if (r < 0)
                return log_fail_error(&err, r, NULL);
        if (!quiet)
                log_info(_("%s: release %s %s, serial %" PRIu64), a->output, rc->name, rc->version, rc->serial);
        return EXIT_OK;
}

static int run_build(int argc, char **argv) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *key = NULL;
        struct build_args a = {};
        char **rest = NULL;
        int n_rest = 0, r;

        r = parse_build_args(argc, argv, &a, &rest, &n_rest);
        if (r == 0)
                r = make_recipe(&a, rest, n_rest, &rc);
        if (r == 0)
                r = load_key(&a, &key);
        if (r == 0)
                r = write_release(rc, key, &a);
        free(a.settings);
        return r;
}

/* ---- verify and show ---- */

struct read_args {
        const char *path;
        struct trust_args trust;
        bool is_json;
};

static int parse_read_args(int argc, char **argv, struct read_args *a) {
        static const struct option options[] = {
                TRUST_OPTION(OPT_TRUST),
                { "json", no_argument, NULL, OPT_JSON },
                {}
        };
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
                switch (opt) {
                case OPT_TRUST:
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                case OPT_JSON:
                        a->is_json = true;
                        break;
                default:
                        return usage_bad_option(&command_image, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_image, _("image %s needs one release file"), argv[0]);
        a->path = argv[optind];
        return 0;
}

static uint64_t content_bytes(const struct manifest *m, size_t *ret_files, size_t *ret_dirs) {
        uint64_t bytes = 0;

        *ret_files = *ret_dirs = 0;
        for (size_t i = 0; i < manifest_n_files(m); i++) {
                const struct release_file *f = manifest_file(m, i);
                if (f->is_dir)
                        (*ret_dirs)++;
                else {
                        (*ret_files)++;
                        bytes += f->size;
                }
        }
        return bytes;
}

static void print_json(struct json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int verify_fail_json(const char *path, const struct cart_error *err, int r) {
        struct json_object *o = json_object_new_object();
        const char *msg = ERROR_TEXT_C(err, r);

        json_object_object_add(o, "file", json_object_new_string(path));
        json_object_object_add(o, "valid", json_object_new_boolean(false));
        json_object_object_add(o, "reason", json_object_new_string(cart_reason_to_string(cart_error_reason(err, r))));
        json_object_object_add(o, "error", json_object_new_string(msg));
        print_json(o);
        json_object_put(o);
        log_error(r, "%s", ERROR_TEXT(err, r));
        return exit_code_for_error(err, r);
}

static int run_verify(int argc, char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(release_unrefp) struct release *rel = NULL;
        struct read_args a = {};
        struct cart_error err = {};
        const struct manifest *m;
        size_t files, dirs;
        uint64_t bytes;
        char size_s[32];
        int r;

        r = parse_read_args(argc, argv, &a);
        if (r == 0) {
                r = trust_load(&a.trust, &trust);
                r = r < 0 ? exit_code_for(r) : 0;
        }
        trust_args_done(&a.trust);
        if (r != 0)
                return r;
        r = release_open(a.path, trust, 0, &rel, &err);
        if (r < 0 && a.is_json)
                return verify_fail_json(a.path, &err, r);
        if (r < 0)
                return log_fail_error(&err, r, NULL);
        m = release_manifest(rel);
        bytes = content_bytes(m, &files, &dirs);
        if (a.is_json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_object_new_string(a.path));
                json_object_object_add(o, "valid", json_object_new_boolean(true));
                json_object_object_add(o, "name", json_object_new_string(manifest_name(m)));
                json_object_object_add(o, "version", json_object_new_string(manifest_version(m)));
                json_object_object_add(o, "serial", json_object_new_int64((int64_t) manifest_serial(m)));
                json_object_object_add(o, "key-id", json_object_new_string(manifest_key_id(m)));
                json_object_object_add(o, "files", json_object_new_int64((int64_t) files));
                json_object_object_add(o, "directories", json_object_new_int64((int64_t) dirs));
                json_object_object_add(o, "bytes", json_object_new_int64((int64_t) bytes));
                json_object_object_add(o, "personalised", json_object_new_boolean(manifest_is_personalised(m)));
                print_json(o);
                json_object_put(o);
        } else
                /* TRANSLATORS: the release file, its name, version, serial, signing key id, counts of
                 * files and directories, their total size. */
                printf(_("%s: OK: release %s %s, serial %" PRIu64 ", signed by %s; %zu files and %zu directories (%s), every hash matches\n"),
                       esc(a.path), esc(manifest_name(m)), esc(manifest_version(m)), manifest_serial(m), manifest_key_id(m),
                       files, dirs, human_size(bytes, size_s, sizeof(size_s)));
        return EXIT_OK;
}

static void attrs_string(uint8_t attrs, bool is_dir, char ret[5]) {
        ret[0] = is_dir ? 'd' : '-';
        ret[1] = attrs & FAT_ATTR_READ_ONLY ? 'r' : '-';
        ret[2] = attrs & FAT_ATTR_HIDDEN ? 'h' : '-';
        ret[3] = attrs & FAT_ATTR_SYSTEM ? 's' : '-';
        ret[4] = 0;
}

static void show_text(const char *path, const struct manifest *m) {
        const struct release_layout *l = manifest_layout(m);
        char t[32], s1[32], s2[32], attrs[5];
        size_t files, dirs;
        uint64_t bytes = content_bytes(m, &files, &dirs);

        time_format(manifest_created(m), t);
        /* TRANSLATORS: image show's lines: labels padded to 13 columns, keep them aligned. */
        printf(_("File:        %s\n"), esc(path));
        printf(_("Release:     %s %s, serial %" PRIu64 "\n"), esc(manifest_name(m)), esc(manifest_version(m)), manifest_serial(m));
        printf(_("Created:     %s\n"), t);
        printf(manifest_is_verified(m) ? _("Signed by:   %s (signature verified)\n") :
               _("Signed by:   %s (signature NOT checked: give --trust)\n"), manifest_key_id(m));
        /* TRANSLATORS: partition scheme (mbr, gpt), volume label, smallest key, alignment. */
        printf(_("Layout:      %s, label \"%s\", keys of %s or more, alignment %s\n"), esc(l->scheme), esc(l->label),
               human_size(l->min_size, s1, sizeof(s1)), human_size(l->alignment, s2, sizeof(s2)));
        for (size_t i = 0; i < l->n_sealed; i++)
                printf(_("Sealed:      %s\n"), esc(l->sealed[i]));
        if (manifest_is_personalised(m))
                printf(_("Owner file:  %s (different on each key)\n"), esc(manifest_owner_path(m)));
        printf(_("Content:     %zu files, %zu directories, %s\n\n"), files, dirs, human_size(bytes, s1, sizeof(s1)));
        for (size_t i = 0; i < manifest_n_files(m); i++) {
                const struct release_file *f = manifest_file(m, i);
                time_t mt = (time_t) f->mtime;
                attrs_string(f->attrs, f->is_dir, attrs);
                strftime(t, sizeof(t), "%Y-%m-%d %H:%M", gmtime(&mt));
                printf("%s %12" PRIu64 " %s %s%s\n", attrs, f->size, t, esc(f->path), f->is_dir ? "/" : "");
        }
}

static int show_json(const char *path, const struct release *rel) {
        const struct manifest *m = release_manifest(rel);
        struct json_object *o = json_object_new_object(), *manifest;
        const void *json;
        size_t len;

        release_manifest_bytes(rel, &json, &len);
        manifest = json_tokener_parse(json);
        if (!o || !manifest) {
                json_object_put(o);
                return log_fail(-ENOMEM, _("out of memory"));
        }
        json_object_object_add(o, "file", json_object_new_string(path));
        json_object_object_add(o, "signature", json_object_new_string(manifest_is_verified(m) ? "verified" : "not-checked"));
        json_object_object_add(o, "manifest", manifest);
        print_json(o);
        json_object_put(o);
        return EXIT_OK;
}

static int run_show(int argc, char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(release_unrefp) struct release *rel = NULL;
        struct read_args a = {};
        struct cart_error err = {};
        int r;

        r = parse_read_args(argc, argv, &a);
        /* Keys given or configured: check the signature; none: show, and say it was not checked. */
        if (r == 0 && trust_is_given(&a.trust)) {
                r = trust_load(&a.trust, &trust);
                r = r < 0 ? exit_code_for(r) : 0;
        }
        trust_args_done(&a.trust);
        if (r != 0)
                return r;
        r = release_open(a.path, trust, RELEASE_OPEN_SKIP_HASH | (trust ? 0 : RELEASE_OPEN_UNVERIFIED), &rel, &err);
        if (r < 0)
                return log_fail_error(&err, r, NULL);
        if (a.is_json)
                return show_json(a.path, rel);
        show_text(a.path, release_manifest(rel));
        return EXIT_OK;
}
