/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable key: make and inspect the Ed25519 keys that sign releases (minisign's formats). */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "commands.h"
#include "passphrase.h"
#include "release/sign.h"
#include "trust.h"

/* A signature file is a few hundred bytes; a long trusted comment makes it 8 KiB. */
#define SIG_FILE_MAX (64 * 1024)

static int run_key(int argc, char **argv);

const struct command command_key = {
        .name = "key",
        .summary = N_("generate, show and check signing keys (minisign format)"),
        .help =
        N_("Usage: cartable key generate --secret FILE --public FILE\n"
        "                             [--passphrase-file FILE | --unencrypted] [--comment TEXT]\n"
        "       cartable key show [--unlock] [--passphrase-file FILE] KEYFILE\n"
        "       cartable key verify [--trust FILE|DIR]... [--signature SIG] FILE\n"
        "\n"
        "Make and inspect the Ed25519 keys that sign releases, in minisign's formats:\n"
        "minisign -V checks what cartable signs, and cartable reads minisign's keys.\n"
        "\n"
        "  generate  a new key pair. The secret key (mode 0600) is encrypted with a\n"
        "            passphrase asked twice at the terminal, or read from the first line\n"
        "            of --passphrase-file. Existing files are never overwritten.\n"
        "  show      the key id and type of a public or secret key file, and whether a\n"
        "            secret key is encrypted. --unlock decrypts it to check the passphrase.\n"
        "  verify    check FILE's minisign signature (FILE.minisig unless --signature)\n"
        "            against the trusted keys: --trust, or else [trust] key in the\n"
        "            configuration. Prints the signer's key id and the trusted comment.\n"
        "\n"
        "Options:\n"
        "  --secret FILE           generate: where to write the secret key\n"
        "  --public FILE           generate: where to write the public key\n"
        "  --passphrase-file FILE  the passphrase is the first line of FILE\n"
        "  --unencrypted           generate: store the secret key without a passphrase\n"
        "  --comment TEXT          generate: a label for both files' untrusted comments\n"
        "  --unlock                show: decrypt an encrypted secret key (asks the passphrase)\n"
        "  --trust FILE|DIR        verify: a trusted public key, or a directory of *.pub\n"
        "                          (repeatable; replaces [trust] key of the configuration)\n"
        "  --signature SIG         verify: the signature file\n"
        "\n"
        "Exit codes: 0 success; 3 wrong passphrase, bad or untrusted signature; 64 usage;\n"
        "65 malformed key or signature, empty or mismatched passphrase; 66 missing input;\n"
        "73 an output file exists or cannot be created. See cartable-key(1).\n"),
        .run = run_key,
};

enum {
        OPT_SECRET = 0x100,
        OPT_PUBLIC,
        OPT_PASSPHRASE_FILE,
        OPT_UNENCRYPTED,
        OPT_COMMENT,
        OPT_UNLOCK,
        OPT_TRUST,
        OPT_SIGNATURE,
};

static const struct option options[] = {
        { "secret",          required_argument, NULL, OPT_SECRET },
        { "public",          required_argument, NULL, OPT_PUBLIC },
        { "passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE },
        { "unencrypted",     no_argument,       NULL, OPT_UNENCRYPTED },
        { "comment",         required_argument, NULL, OPT_COMMENT },
        { "unlock",          no_argument,       NULL, OPT_UNLOCK },
        TRUST_OPTION(OPT_TRUST),
        { "signature",       required_argument, NULL, OPT_SIGNATURE },
        {}
};

struct key_args {
        const char *secret, *public, *passphrase_file, *comment, *signature;
        bool is_unencrypted, is_unlock;
        struct trust_args trust;
        char **rest;            /* positional arguments after the subcommand */
        int n_rest;
};

/* Options of every subcommand are parsed alike; each subcommand refuses the others'. */
static int parse_args(int argc, char **argv, struct key_args *a) {
        const struct command *c = &command_key;
        int opt;

        optind = 0;     /* a full reset of GNU getopt */
        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (opt) {
                case OPT_SECRET: a->secret = optarg; break;
                case OPT_PUBLIC: a->public = optarg; break;
                case OPT_PASSPHRASE_FILE: a->passphrase_file = optarg; break;
                case OPT_UNENCRYPTED: a->is_unencrypted = true; break;
                case OPT_COMMENT: a->comment = optarg; break;
                case OPT_UNLOCK: a->is_unlock = true; break;
                case OPT_SIGNATURE: a->signature = optarg; break;
                case OPT_TRUST:
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                default:
                        return usage_bad_option(c, argv);
                }
        }
        a->rest = argv + optind;
        a->n_rest = argc - optind;
        return EXIT_OK;
}

static bool path_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0 || errno != ENOENT;
}

static int key_generate(struct key_args *a) {
        const struct command *c = &command_key;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        _cleanup_(passphrase_freep) char *pass = NULL;
        struct cart_error err = {};
        uint8_t id[SIGN_KEYID_LEN];
        char hex[2 * SIGN_KEYID_LEN + 1];
        int r;

        if (a->is_unlock || a->trust.n_paths || a->signature || a->n_rest > 0)
                return usage_error(c, _("generate takes --secret, --public, --passphrase-file, "
                                   "--unencrypted and --comment only"));
        if (!a->secret || !a->public)
                return usage_error(c, _("generate needs --secret FILE and --public FILE"));
        if (streq(a->secret, a->public))
                return usage_error(c, _("--secret and --public name the same file"));
        if (a->passphrase_file && a->is_unencrypted)
                return usage_error(c, _("--passphrase-file and --unencrypted exclude each other"));
        if (a->comment && (strlen(a->comment) > SIGN_COMMENT_MAX || strpbrk(a->comment, "\r\n")))
                return usage_error(c, _("--comment: one line of at most %d bytes"), SIGN_COMMENT_MAX);
        /* Before asking a passphrase: the files are created with O_EXCL in the end anyway. */
        if (path_exists(a->secret))
                return log_fail(-EEXIST, _("%s: already exists, not overwritten"), a->secret);
        if (path_exists(a->public))
                return log_fail(-EEXIST, _("%s: already exists, not overwritten"), a->public);
        if (!a->is_unencrypted && !a->passphrase_file && !passphrase_can_ask())
                return usage_error(c, _("no terminal to ask a passphrase on: give "
                                   "--passphrase-file FILE, or --unencrypted"));

        if (!a->is_unencrypted) {
                r = passphrase_get(a->passphrase_file, true, _("Passphrase for the new secret key: "),
                                   &pass);
                if (r < 0)
                        return exit_code_for(r);
        }
        r = sign_key_generate(&k);
        if (r >= 0)
                r = sign_secret_key_set_comment(k, a->comment);
        if (r < 0)
                return log_fail(r, _("generating a key: %s"), strerror(-r));

        r = sign_secret_key_save(k, a->secret, pass, &err);
        if (r >= 0) {
                r = sign_public_key_save(k, a->public, &err);
                if (r < 0)
                        unlink(a->secret);      /* a pair or nothing */
        }
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return r == -ENOMEM || r == -ENOTRECOVERABLE ? EXIT_SOFTWARE : EXIT_CANTCREAT;
        }

        sign_secret_key_id(k, id);
        sign_key_id_hex(id, hex);
        printf(_("key id: %s\n"), hex);
        if (pass)
                printf(_("secret key: %s (encrypted)\n"), a->secret);
        else
                printf(_("secret key: %s (unencrypted)\n"), a->secret);
        printf(_("public key: %s\n"), a->public);
        return EXIT_OK;
}

static void print_kdf(const struct sign_key_info *info) {
        struct sign_scrypt s;
        char size[16];

        sign_scrypt_params(info->kdf_opslimit, info->kdf_memlimit, &s);
        /* 128 r N bytes; a hostile file may ask for more than 64 bits can say. */
        if (s.n_log2 < 48)
                human_size((UINT64_C(128) * s.r) << s.n_log2, size, sizeof(size));
        else
                snprintf(size, sizeof(size), "%s", _("too much"));
        /* TRANSLATORS: scrypt's parameters, then the memory it needs ("1.0 GiB"). */
        printf(_("encrypted: yes (scrypt N=2^%u r=%" PRIu32 " p=%" PRIu32 ", %s)\n"), s.n_log2, s.r,
               s.p, size);
}

static int key_show(struct key_args *a) {
        const struct command *c = &command_key;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        _cleanup_(passphrase_freep) char *pass = NULL;
        struct sign_key_info info;
        struct cart_error err = {};
        char hex[2 * SIGN_KEYID_LEN + 1];
        const char *path;
        int r;

        if (a->secret || a->public || a->is_unencrypted || a->comment || a->trust.n_paths || a->signature)
                return usage_error(c, _("show takes --unlock and --passphrase-file only"));
        if (a->n_rest != 1)
                return usage_error(c, _("show needs one key file"));
        path = a->rest[0];
        r = sign_key_file_info(path, &info, &err);
        if (r < 0)
                return log_fail_error(&err, r, NULL);

        if (info.is_secret && info.is_encrypted && (a->is_unlock || a->passphrase_file)) {
                r = passphrase_get(a->passphrase_file, false, _("Passphrase: "), &pass);
                if (r < 0)
                        return exit_code_for(r);
                r = sign_secret_key_load(path, pass, &k, &err);
                if (r < 0)
                        return log_fail_error(&err, r, NULL);
                sign_secret_key_id(k, info.key_id);
                info.has_key_id = true;
                info.is_key_id_from_comment = false;
        }

        printf(_("file: %s\n"), path);
        fputs(info.is_secret ? _("type: secret key (Ed25519, minisign format)\n") : _("type: public key (Ed25519, minisign format)\n"), stdout);
        if (info.has_key_id) {
                sign_key_id_hex(info.key_id, hex);
                printf(info.is_key_id_from_comment ? _("key id: %s (from the file's comment; --unlock to check it)\n") :
                       _("key id: %s\n"), hex);
        } else
                fputs(_("key id: unknown (encrypted with the key; --unlock to see it)\n"), stdout);
        if (info.is_secret) {
                if (info.is_encrypted)
                        print_kdf(&info);
                else
                        fputs(_("encrypted: no\n"), stdout);
                if (k)
                        fputs(_("passphrase: correct\n"), stdout);
        }
        printf(_("comment: %s\n"), esc(info.comment));
        return EXIT_OK;
}

/* The whole of a file, NUL-terminated; at most max bytes. */
static int read_all(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;
                if (len == size) {
                        char *b;
                        if (size >= max)
                                return -EFBIG;
                        size = MIN(MAX(size * 2, (size_t) 65536), max);
                        b = realloc(buf, size + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = read(fd, buf + len, size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* The signed file, mapped rather than copied when regular: a release may be large. */
struct file_data {
        void *data;
        size_t len;
        bool is_mapped;
};

static void file_data_done(struct file_data *f) {
        if (f->is_mapped)
                munmap(f->data, f->len);
        else
                free(f->data);
}

static int file_data_get(const char *path, struct file_data *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        void *p;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size == 0) {
                char *buf;
                int r = read_all(path, SIZE_MAX / 2, &buf, &ret->len);
                if (r < 0)
                        return r;
                ret->data = buf;
                ret->is_mapped = false;
                return 0;
        }
        if ((uint64_t) st.st_size > SIZE_MAX)
                return -EFBIG;
        p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        *ret = (struct file_data) { .data = p, .len = (size_t) st.st_size, .is_mapped = true };
        return 0;
}

static int key_verify(struct key_args *a) {
        const struct command *c = &command_key;
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        _cleanup_(file_data_done) struct file_data msg = {};
        _cleanup_free_ char *sig = NULL, *sig_path = NULL, *comment = NULL;
        uint8_t id[SIGN_KEYID_LEN];
        char hex[2 * SIGN_KEYID_LEN + 1];
        struct cart_error err = {};
        size_t sig_len;
        int r;

        if (a->secret || a->public || a->is_unencrypted || a->comment || a->is_unlock ||
            a->passphrase_file)
                return usage_error(c, _("verify takes --trust and --signature only"));
        if (a->n_rest != 1)
                return usage_error(c, _("verify needs one file"));
        if (a->signature)
                sig_path = strdup(a->signature);
        else if (asprintf(&sig_path, "%s.minisig", a->rest[0]) < 0)
                sig_path = NULL;
        if (!sig_path)
                return log_fail(-ENOMEM, _("out of memory"));

        r = trust_load(&a->trust, &t);
        if (r < 0)
                return exit_code_for(r);
        r = file_data_get(a->rest[0], &msg);
        if (r < 0)
                return log_fail(r, "%s: %s", a->rest[0], strerror(-r));
        r = read_all(sig_path, SIG_FILE_MAX, &sig, &sig_len);
        if (r < 0)
                return log_fail(r == -EFBIG ? -EBADMSG : r, "%s: %s", sig_path,
                                r == -EFBIG ? "too large for a signature" : strerror(-r));
        if (strlen(sig) != sig_len)
                return log_fail(-EBADMSG, _("%s: a NUL byte: not a signature"), sig_path);
        r = sign_verify(t, msg.data, msg.len, sig, &comment, id, &err);
        if (r < 0)
                return log_fail_error(&err, r, "%s", sig_path);
        sign_key_id_hex(id, hex);
        printf(_("good signature by key %s\n"), hex);
        printf(_("trusted comment: %s\n"), esc(comment));
        return EXIT_OK;
}

static int run_key(int argc, char **argv) {
        const struct command *c = &command_key;
        struct key_args a = {};
        const char *sub;
        int code;

        if (argc < 2)
                return usage_error(c, _("key needs a subcommand: generate, show or verify"));
        sub = argv[1];
        code = parse_args(argc - 1, argv + 1, &a);
        if (code == EXIT_OK) {
                if (streq(sub, "generate"))
                        code = key_generate(&a);
                else if (streq(sub, "show"))
                        code = key_show(&a);
                else if (streq(sub, "verify"))
                        code = key_verify(&a);
                else
                        code = usage_error(c, _("unknown subcommand '%s'"), sub);
        }
        trust_args_done(&a.trust);
        return code;
}
