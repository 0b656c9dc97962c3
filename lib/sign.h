/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ed25519 keys and signatures through OpenSSL, in minisign's formats, so that the stock
 * `minisign -Vm FILE -p KEY.pub` checks what cartable signs:
 *   - public key: "untrusted comment: ..." + base64("Ed" || key id[8] || pk[32])
 *   - secret key: minisign's layout (scrypt-encrypted, or unencrypted on request)
 *   - signature: prehashed "ED" over BLAKE2b-512(message), with a trusted comment signed
 *     by a global signature over (signature || trusted comment).
 * Verification fails closed: any doubt is an error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

#define SIGN_KEYID_LEN 8

struct sign_secret_key;
struct sign_trust;

int sign_key_generate(struct sign_secret_key **ret);
struct sign_secret_key *sign_secret_key_free(struct sign_secret_key *k);
DEFINE_POINTER_CLEANUP(struct sign_secret_key, sign_secret_key_free);

/* Key id as minisign prints it: 16 upper-case hex digits. */
void sign_key_id_hex(const uint8_t id[SIGN_KEYID_LEN], char ret[2 * SIGN_KEYID_LEN + 1]);
void sign_secret_key_id(const struct sign_secret_key *k, uint8_t ret[SIGN_KEYID_LEN]);

/* Created with O_EXCL (never overwrites; -EEXIST names the file), secret 0600, public 0644.
 * passphrase NULL stores the secret key unencrypted. */
int sign_secret_key_save(const struct sign_secret_key *k, const char *path,
                         const char *passphrase, struct cart_error *err);
int sign_public_key_save(const struct sign_secret_key *k, const char *path, struct cart_error *err);

/* 1 when the secret key file is passphrase-protected, 0 when not, negative on error. */
int sign_secret_key_is_encrypted(const char *path, struct cart_error *err);
/* -EKEYREJECTED on a wrong passphrase, -EBADMSG on a malformed file. */
int sign_secret_key_load(const char *path, const char *passphrase,
                         struct sign_secret_key **ret, struct cart_error *err);

/* A minisign signature file's text for msg. */
int sign_message(const struct sign_secret_key *k, const void *msg, size_t len,
                 const char *trusted_comment, char **ret_sig_text, struct cart_error *err);

/* The set of accepted public keys. */
int sign_trust_new(struct sign_trust **ret);
struct sign_trust *sign_trust_free(struct sign_trust *t);
DEFINE_POINTER_CLEANUP(struct sign_trust, sign_trust_free);
/* A minisign public key file, or a directory: every *.pub file in it. */
int sign_trust_add_path(struct sign_trust *t, const char *path, struct cart_error *err);
size_t sign_trust_count(const struct sign_trust *t);

/*
 * Check a minisign signature text over msg against the trust set. On success returns 0
 * and, when asked, the trusted comment (malloc'd) and the signer's key id.
 * -ENOKEY: signed by a key not trusted (the message gives its id); -EKEYREJECTED: bad
 * signature or bad trusted comment; -EBADMSG: malformed signature text.
 */
int sign_verify(const struct sign_trust *t, const void *msg, size_t len, const char *sig_text,
                char **ret_trusted_comment, uint8_t ret_key_id[SIGN_KEYID_LEN],
                struct cart_error *err);
