/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The minisign text formats that keys (sign.c) and trust (sign-trust.c) both read: a file
 * of lines walked by a cursor, "untrusted comment:" and base64 lines, key ids, and the
 * OpenSSL primitives they share (Ed25519 import and check, the BLAKE2b-512 prehash).
 */
#include <inttypes.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "base/base64.h"
#include "release/sign-internal.h"

int sign_openssl_error(struct cart_error *err, const char *what) {
        unsigned long e = ERR_get_error();

        ERR_clear_error();
        return cart_error_set(err, -ENOTRECOVERABLE, "%s failed in OpenSSL: %s", what,
                              e ? ERR_reason_error_string(e) : W_("unknown error"));
}

void sign_key_id_hex(const uint8_t id[SIGN_KEYID_LEN], char ret[2 * SIGN_KEYID_LEN + 1]) {
        /* minisign prints the key number as a little-endian 64-bit integer. */
        snprintf(ret, 2 * SIGN_KEYID_LEN + 1, "%016" PRIX64, le64_load(id));
}

void text_cursor_init(struct text_cursor *c, const char *text, size_t len) {
        *c = (struct text_cursor) { .p = text, .end = text + len };
}

int text_cursor_line(struct text_cursor *c, size_t max, const char **ret, size_t *ret_len,
                     struct cart_error *err) {
        const char *nl;
        size_t len;

        c->line++;
        if (c->p >= c->end)
                return cart_error_set(err, -EBADMSG, "line %u: missing (the text ends early)", c->line);
        nl = memchr(c->p, '\n', (size_t) (c->end - c->p));
        len = (size_t) ((nl ?: c->end) - c->p);
        *ret = c->p;
        c->p += len + (nl ? 1 : 0);
        if (len > 0 && (*ret)[len - 1] == '\r')
                len--;
        if (len > max)
                return cart_error_set(err, -EBADMSG, "line %u: too long (%zu bytes, at most %zu)",
                                      c->line, len, max);
        *ret_len = len;
        return 0;
}

int text_cursor_end(struct text_cursor *c, struct cart_error *err) {
        while (c->p < c->end) {
                const char *line;
                size_t len;
                int r = text_cursor_line(c, SIZE_MAX, &line, &len, err);
                if (r < 0)
                        return r;
                if (len > 0)
                        return cart_error_set(err, -EBADMSG, "line %u: unexpected text after the "
                                              "last expected line", c->line);
        }
        return 0;
}

int text_cursor_comment(struct text_cursor *c, const char **ret, size_t *ret_len,
                        struct cart_error *err) {
        const size_t n = strlen(COMMENT_PREFIX);
        const char *line;
        size_t len;
        int r;

        r = text_cursor_line(c, COMMENT_LINE_MAX, &line, &len, err);
        if (r < 0)
                return r;
        if (len < n || memcmp(line, COMMENT_PREFIX, n) != 0)
                return cart_error_set(err, -EBADMSG, "line %u: does not start with \"%s\"",
                                      c->line, COMMENT_PREFIX);
        *ret = line + n;
        *ret_len = len - n;
        return 0;
}

int text_cursor_base64(struct text_cursor *c, void *dst, size_t want, const char *what,
                       struct cart_error *err) {
        const char *line;
        size_t len;
        int r, n;

        r = text_cursor_line(c, BASE64_ENCODED_LEN(want), &line, &len, err);
        if (r < 0)
                return r;
        n = base64_decode(line, len, dst, want);
        if (n == -ENOBUFS || (n >= 0 && (size_t) n != want))
                return cart_error_set(err, -EBADMSG, "line %u: not %s (wrong length)", c->line, what);
        if (n < 0)
                return cart_error_set(err, -EBADMSG, "line %u: not base64", c->line);
        return 0;
}

int sign_read_key_file(const char *path, char **ret, size_t *ret_len, struct cart_error *err) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = read_small_file(path, KEY_FILE_MAX, &buf, &len);
        if (r == -EINVAL)
                return cart_error_set(err, -EBADMSG, "%s: not a regular file", path);
        if (r == -EFBIG)
                return cart_error_set(err, -EBADMSG, "%s: too large for a key file", path);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cart_error_errno(err, r, path, NULL);
        if (memchr(buf, 0, len)) {
                OPENSSL_cleanse(buf, len);
                return cart_error_set(err, -EBADMSG, "%s: a NUL byte: not a key file", path);
        }
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int sign_ed25519_public(const uint8_t pk[ED25519_PK_BYTES], EVP_PKEY **ret, struct cart_error *err) {
        EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, ED25519_PK_BYTES);

        if (!pkey)
                return sign_openssl_error(err, "Ed25519 public key import");
        *ret = pkey;
        return 0;
}

int sign_ed25519_verify(EVP_PKEY *pkey, const uint8_t sig[ED25519_SIG_BYTES], const void *msg,
                        size_t len) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok;

        ok = ctx && EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, pkey, NULL) == 1 &&
             EVP_DigestVerify(ctx, sig, ED25519_SIG_BYTES, msg, len) == 1;
        EVP_MD_CTX_free(ctx);
        /* A bad signature leaves an entry in OpenSSL's queue; it is not an error here. */
        ERR_clear_error();
        return ok;
}

int sign_blake2b512(const void *msg, size_t len, uint8_t ret[64], struct cart_error *err) {
        unsigned n = 0;

        if (EVP_Digest(msg, len, ret, &n, EVP_blake2b512(), NULL) != 1 || n != 64)
                return sign_openssl_error(err, "BLAKE2b-512");
        return 0;
}
