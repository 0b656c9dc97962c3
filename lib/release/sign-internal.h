/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by sign.c (keys, signing) and sign-trust.c (trust, verification), both built on
 * sign-format.c (text cursor, key files, OpenSSL primitives). Byte layouts from minisign's
 * src/minisign.h (PubkeyStruct, SeckeyStruct, SigStruct). */
#pragma once

#include <openssl/evp.h>

#include "release/sign.h"

#define SIG_ALG         "Ed"    /* key algorithm, and legacy signatures over the whole message */
#define SIG_ALG_HASHED  "ED"    /* signatures over BLAKE2b-512(message) */
#define KDF_ALG         "Sc"
#define KDF_NONE        "\0\0"
#define CHK_ALG         "B2"
#define COMMENT_PREFIX          "untrusted comment: "
#define TRUSTED_COMMENT_PREFIX  "trusted comment: "

#define ED25519_PK_BYTES   32
#define ED25519_SEED_BYTES 32
#define ED25519_SIG_BYTES  64
#define PUBKEY_BYTES   (2 + SIGN_KEYID_LEN + ED25519_PK_BYTES)                   /* 42 */
#define SIGBLOCK_BYTES (2 + SIGN_KEYID_LEN + ED25519_SIG_BYTES)                  /* 74 */
#define SECKEY_BYTES   (2 + 2 + 2 + 32 + 8 + 8 + SIGN_KEYID_LEN + 64 + 32)      /* 158 */

/* minisign reads a comment line with fgets() into 1024 bytes: 1022 characters and "\n". */
#define COMMENT_LINE_MAX 1022
/* Key and signature files are a few hundred bytes; refuse to slurp anything big. */
#define KEY_FILE_MAX (64 * 1024)

/* Walks a text line by line; line numbers for messages start at 1. */
struct text_cursor {
        const char *p, *end;
        unsigned line;
};

void text_cursor_init(struct text_cursor *c, const char *text, size_t len);
/* The next line without "\n" and one trailing "\r" (minisign strips it too). -EBADMSG when
 * there is none or it is longer than max. */
int text_cursor_line(struct text_cursor *c, size_t max, const char **ret, size_t *ret_len,
                     struct cart_error *err);
/* -EBADMSG unless only empty lines remain. */
int text_cursor_end(struct text_cursor *c, struct cart_error *err);
/* A "untrusted comment: ..." line; ret points past the prefix. */
int text_cursor_comment(struct text_cursor *c, const char **ret, size_t *ret_len,
                        struct cart_error *err);
/* A base64 line decoded into exactly want bytes (dst holds at least want). */
int text_cursor_base64(struct text_cursor *c, void *dst, size_t want, const char *what,
                       struct cart_error *err);

/* A small regular file, NUL-terminated; -EBADMSG when it holds a NUL or is too large. */
int sign_read_key_file(const char *path, char **ret, size_t *ret_len, struct cart_error *err);

/* OpenSSL failures that are not the input's fault: -ENOTRECOVERABLE (internal error). */
int sign_openssl_error(struct cart_error *err, const char *what);
int sign_ed25519_public(const uint8_t pk[ED25519_PK_BYTES], EVP_PKEY **ret, struct cart_error *err);
/* 1 when sig is pk's signature of msg, 0 when not. */
int sign_ed25519_verify(EVP_PKEY *pkey, const uint8_t sig[ED25519_SIG_BYTES], const void *msg,
                        size_t len);
int sign_blake2b512(const void *msg, size_t len, uint8_t ret[64], struct cart_error *err);

static inline uint64_t le64_load(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}
static inline void le64_store(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
