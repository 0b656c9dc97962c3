/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test tool: sign or verify an arbitrary file with lib/sign, so the integration tests can
 * cross-check cartable's signatures with minisign and minisign's with cartable.
 *   signfile sign SECRET_KEY FILE SIG_OUT [PASSPHRASE_FILE] [TRUSTED_COMMENT]
 *   signfile verify PUBKEY_OR_DIR FILE SIG      (prints the key id and trusted comment)
 * Exit: 0 good, 3 trust failure, 65 malformed, 66 missing input, 1 anything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "reason.h"
#include "release/sign.h"

static int exit_for(int r) {
        switch (-r) {
        case ENOKEY: case EKEYREJECTED: return 3;
        case EBADMSG: return 65;
        case ENOENT: return 66;
        default: return 1;
        }
}

static int fail(int r, const struct cart_error *err) {
        fprintf(stderr, "signfile: %s\n", ERROR_TEXT(err, r));
        return exit_for(r);
}

/* The whole file, NUL-terminated. */
static int slurp(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t size = 0;
        FILE *mem;
        char chunk[65536];
        size_t n;

        if (!f)
                return -errno;
        mem = open_memstream(&buf, &size);
        if (!mem)
                return -ENOMEM;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, mem);
        fclose(mem);
        if (ferror(f)) {
                free(buf);
                return -EIO;
        }
        *ret = buf;
        *ret_len = size;
        return 0;
}

/* A file to sign or check, mapped (releases can be large). */
static int map(const char *path, void **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        void *p = NULL;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > 0) {
                p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (p == MAP_FAILED)
                        return -errno;
        }
        *ret = p;
        *ret_len = (size_t) st.st_size;
        return 0;
}

static int do_sign(int argc, char **argv) {
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        _cleanup_free_ char *pass = NULL, *sig = NULL;
        void *msg;
        struct cart_error err = {};
        size_t len, pass_len;
        FILE *out;
        int r;

        if (argc >= 6 && argv[5][0]) {
                r = slurp(argv[5], &pass, &pass_len);
                if (r < 0)
                        return fail(r, NULL);
                pass[strcspn(pass, "\r\n")] = 0;
        }
        r = sign_secret_key_load(argv[2], pass, &k, &err);
        if (r < 0)
                return fail(r, &err);
        r = map(argv[3], &msg, &len);
        if (r < 0)
                return fail(r, NULL);
        r = sign_message(k, msg, len, argc >= 7 ? argv[6] : NULL, &sig, &err);
        if (r < 0)
                return fail(r, &err);
        out = fopen(argv[4], "we");
        if (!out || fputs(sig, out) < 0 || fclose(out) != 0)
                return fail(-errno, NULL);
        return 0;
}

static int do_verify(char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        _cleanup_free_ char *sig = NULL, *comment = NULL;
        void *msg;
        uint8_t id[SIGN_KEYID_LEN];
        char hex[2 * SIGN_KEYID_LEN + 1];
        struct cart_error err = {};
        size_t len, sig_len;
        int r;

        r = sign_trust_new(&t);
        if (r >= 0)
                r = sign_trust_add_path(t, argv[2], &err);
        if (r < 0)
                return fail(r, &err);
        r = map(argv[3], &msg, &len);
        if (r >= 0)
                r = slurp(argv[4], &sig, &sig_len);
        if (r < 0)
                return fail(r, NULL);
        r = sign_verify(t, msg, len, sig, &comment, id, &err);
        if (r < 0)
                return fail(r, &err);
        sign_key_id_hex(id, hex);
        printf("key id: %s\ntrusted comment: %s\n", hex, comment);
        return 0;
}

int main(int argc, char **argv) {
        if (argc >= 5 && streq(argv[1], "sign"))
                return do_sign(argc, argv);
        if (argc == 5 && streq(argv[1], "verify"))
                return do_verify(argv);
        fprintf(stderr, "usage: signfile sign SECRET FILE SIG [PASSPHRASE_FILE] [COMMENT]\n"
                        "       signfile verify PUBKEY|DIR FILE SIG\n");
        return 64;
}
