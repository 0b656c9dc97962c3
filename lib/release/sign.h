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

#include "base/config.h"
#include "base/error.h"
#include "base/util.h"

#define SIGN_KEYID_LEN 8

/*
 * The scrypt cost written into new encrypted secret keys, in minisign's terms (libsodium's
 * opslimit and memlimit, which the file carries): N = 2^17, r = 8, p = 1, 128 MiB, about
 * a second. minisign's own default (opslimit 33554432, memlimit 1 GiB: N = 2^20) costs 8
 * times as much; either loads in both tools.
 */
#define SIGN_KDF_OPSLIMIT_DEFAULT UINT64_C(4194304)
#define SIGN_KDF_MEMLIMIT_DEFAULT UINT64_C(134217728)
/* The longest untrusted comment given to sign_secret_key_set_comment(). */
#define SIGN_COMMENT_MAX 512
/* The longest trusted comment minisign reads back (its 8192-byte line, less the prefix). */
#define SIGN_TRUSTED_COMMENT_MAX 8173

struct sign_secret_key;
struct sign_trust;

int sign_key_generate(struct sign_secret_key **ret);
struct sign_secret_key *sign_secret_key_free(struct sign_secret_key *k);
DEFINE_POINTER_CLEANUP(struct sign_secret_key, sign_secret_key_free);

/* Key id as minisign prints it: 16 upper-case hex digits. */
void sign_key_id_hex(const uint8_t id[SIGN_KEYID_LEN], char ret[2 * SIGN_KEYID_LEN + 1]);
void sign_secret_key_id(const struct sign_secret_key *k, uint8_t ret[SIGN_KEYID_LEN]);
/* A one-line text added to the untrusted comments of the key files saved next (-EINVAL
 * for a line break or more than SIGN_COMMENT_MAX bytes). NULL removes it. */
int sign_secret_key_set_comment(struct sign_secret_key *k, const char *comment);

/* Created with O_EXCL (never overwrites; -EEXIST names the file), secret 0600, public 0644.
 * passphrase NULL stores the secret key unencrypted. */
int sign_secret_key_save(const struct sign_secret_key *k, const char *path,
                         const char *passphrase, struct cart_error *err);
/* The same with an explicit scrypt cost (minisign's opslimit and memlimit). */
int sign_secret_key_save_kdf(const struct sign_secret_key *k, const char *path,
                             const char *passphrase, uint64_t opslimit, uint64_t memlimit,
                             struct cart_error *err);
int sign_public_key_save(const struct sign_secret_key *k, const char *path, struct cart_error *err);

/* 1 when the secret key file is passphrase-protected, 0 when not, negative on error. */
int sign_secret_key_is_encrypted(const char *path, struct cart_error *err);
/* -EKEYREJECTED on a wrong passphrase, -EBADMSG on a malformed file. */
int sign_secret_key_load(const char *path, const char *passphrase,
                         struct sign_secret_key **ret, struct cart_error *err);

/* scrypt's N = 2^n_log2, r and p for minisign's opslimit and memlimit. */
struct sign_scrypt {
        unsigned n_log2;
        uint32_t r, p;
};
void sign_scrypt_params(uint64_t opslimit, uint64_t memlimit, struct sign_scrypt *ret);

/* What a key file holds, read without a passphrase (cartable key show). */
struct sign_key_info {
        bool is_secret;
        bool is_encrypted;            /* secret keys */
        bool has_key_id;              /* false: an encrypted key whose comment gives no id */
        bool is_key_id_from_comment;  /* encrypted keys: the id is encrypted; the comment has it */
        uint8_t key_id[SIGN_KEYID_LEN];
        uint64_t kdf_opslimit, kdf_memlimit;   /* encrypted keys */
        char comment[1024];           /* the untrusted comment, without its prefix */
};
int sign_key_file_info(const char *path, struct sign_key_info *ret, struct cart_error *err);

/* A minisign signature file's text for msg. trusted_comment NULL: "timestamp:SECONDS". */
int sign_message(const struct sign_secret_key *k, const void *msg, size_t len,
                 const char *trusted_comment, char **ret_sig_text, struct cart_error *err);

/* The set of accepted public keys. */
int sign_trust_new(struct sign_trust **ret);
struct sign_trust *sign_trust_free(struct sign_trust *t);
DEFINE_POINTER_CLEANUP(struct sign_trust, sign_trust_free);
/*
 * A minisign public key file, or a directory: every *.pub file in it, in name order.
 * Returns the number of keys added (a directory may have none). A malformed file is
 * -EBADMSG naming it, and then nothing from path is added.
 */
int sign_trust_add_path(struct sign_trust *t, const char *path, struct cart_error *err);
size_t sign_trust_count(const struct sign_trust *t);

/*
 * The keys a station trusts: the --trust paths when there are any (they replace the
 * configuration's, so that "--trust x.pub" asks "is it signed by X?"), otherwise the
 * configuration's [trust] key entries (config may be NULL). A file or directory that
 * yields no key is -ENOKEY naming it; no key at all is -ENOKEY saying how to give one.
 */
int sign_trust_load(char *const *paths, size_t n_paths, const struct cart_config *config,
                    struct sign_trust **ret, struct cart_error *err);

/*
 * Check a minisign signature text over msg against the trust set. On success returns 0
 * and, when asked, the trusted comment (malloc'd) and the signer's key id.
 * -ENOKEY: signed by a key not trusted (the message gives its id); -EKEYREJECTED: bad
 * signature or bad trusted comment; -EBADMSG: malformed signature text (the message names
 * the line). Legacy "Ed" signatures (minisign -l, over the whole message) are accepted, as
 * `minisign -V` accepts them.
 */
int sign_verify(const struct sign_trust *t, const void *msg, size_t len, const char *sig_text,
                char **ret_trusted_comment, uint8_t ret_key_id[SIGN_KEYID_LEN],
                struct cart_error *err);

enum {
        /* Refuse legacy "Ed" signatures (-EKEYREJECTED): cartable signs releases prehashed
         * ("ED") and never makes them, so accepting them only widens what a forger may try. */
        SIGN_VERIFY_PREHASHED_ONLY = 1 << 0,
};
int sign_verify_flags(const struct sign_trust *t, const void *msg, size_t len, const char *sig_text,
                      unsigned flags, char **ret_trusted_comment, uint8_t ret_key_id[SIGN_KEYID_LEN],
                      struct cart_error *err);
