/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keys and signing in minisign's formats (jedisct1/minisign, src/minisign.c and .h).
 * Secret key file, after its comment line, base64 of 158 bytes:
 *   sig_alg "Ed" | kdf_alg "Sc" or "\0\0" | chk_alg "B2" | kdf_salt[32] |
 *   kdf_opslimit LE64 | kdf_memlimit LE64 | keynum[8] | sk[64] = seed || pk | chk[32]
 * chk = BLAKE2b-256(sig_alg || keynum || sk); keynum, sk and chk are XORed with the scrypt
 * output when kdf_alg is "Sc", so a wrong passphrase shows as a checksum mismatch.
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "base/base64.h"
#include "base/blake2b.h"
#include "release/sign-internal.h"

/* Offsets in the secret key block (minisign's SeckeyStruct). */
enum {
        SK_SIG_ALG = 0,
        SK_KDF_ALG = 2,
        SK_CHK_ALG = 4,
        SK_SALT = 6,
        SK_OPSLIMIT = 38,
        SK_MEMLIMIT = 46,
        SK_KEYNUM = 54,         /* keynum, sk and chk: the encrypted part */
        SK_SK = 62,
        SK_CHK = 126,
        SK_ENCRYPTED_LEN = SECKEY_BYTES - SK_KEYNUM,   /* 104 */
};
_Static_assert(SK_CHK + 32 == SECKEY_BYTES, "minisign secret key layout");

/* A key file that asks for more than this is refused rather than allowed to exhaust the
 * station; minisign's default (N = 2^20, r = 8) needs 1 GiB and a little more. */
#define SCRYPT_MEM_MAX (GIB + 16 * MIB)
/* Work bound (N * p): twice minisign's default. */
#define SCRYPT_WORK_MAX (UINT64_C(1) << 21)

struct sign_secret_key {
        uint8_t keynum[SIGN_KEYID_LEN];
        uint8_t seed[ED25519_SEED_BYTES];
        uint8_t pk[ED25519_PK_BYTES];
        EVP_PKEY *pkey;
        char *comment;
};

int sign_openssl_error(struct cart_error *err, const char *what) {
        unsigned long e = ERR_get_error();

        ERR_clear_error();
        return cart_error_set(err, -ENOTRECOVERABLE, "%s failed in OpenSSL: %s", what,
                              e ? ERR_reason_error_string(e) : "unknown error");
}

void sign_key_id_hex(const uint8_t id[SIGN_KEYID_LEN], char ret[2 * SIGN_KEYID_LEN + 1]) {
        /* minisign prints the key number as a little-endian 64-bit integer. */
        snprintf(ret, 2 * SIGN_KEYID_LEN + 1, "%016" PRIX64, le64_load(id));
}

struct sign_secret_key *sign_secret_key_free(struct sign_secret_key *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k->comment);
        OPENSSL_cleanse(k, sizeof(*k));
        free(k);
        return NULL;
}

/* Fills pkey and pk from seed; the caller has filled seed. */
static int secret_key_derive(struct sign_secret_key *k, struct cart_error *err) {
        size_t n = ED25519_PK_BYTES;

        k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, sizeof(k->seed));
        if (!k->pkey)
                return sign_openssl_error(err, "Ed25519 key import");
        if (EVP_PKEY_get_raw_public_key(k->pkey, k->pk, &n) != 1 || n != ED25519_PK_BYTES)
                return sign_openssl_error(err, "Ed25519 public key");
        return 0;
}

int sign_key_generate(struct sign_secret_key **ret) {
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        int r;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        /* The seed is the whole Ed25519 private key (RFC 8032 section 5.1.5). */
        if (RAND_priv_bytes(k->seed, sizeof(k->seed)) != 1 ||
            RAND_bytes(k->keynum, sizeof(k->keynum)) != 1) {
                ERR_clear_error();
                return -ENOTRECOVERABLE;
        }
        r = secret_key_derive(k, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(k);
        return 0;
}

void sign_secret_key_id(const struct sign_secret_key *k, uint8_t ret[SIGN_KEYID_LEN]) {
        memcpy(ret, k->keynum, SIGN_KEYID_LEN);
}

int sign_secret_key_set_comment(struct sign_secret_key *k, const char *comment) {
        char *c = NULL;

        if (comment) {
                if (strlen(comment) > SIGN_COMMENT_MAX || strpbrk(comment, "\r\n"))
                        return -EINVAL;
                c = strdup(comment);
                if (!c)
                        return -ENOMEM;
        }
        free(k->comment);
        k->comment = c;
        return 0;
}

/* libsodium's pickparams() (src/libsodium/crypto_pwhash/scryptsalsa208sha256/
 * pwhash_scryptsalsa208sha256.c), which crypto_pwhash_scryptsalsa208sha256() and so
 * minisign use to turn opslimit and memlimit into scrypt's N, r and p. */
void sign_scrypt_params(uint64_t opslimit, uint64_t memlimit, struct sign_scrypt *ret) {
        uint64_t max_n, max_rp;
        unsigned n_log2;

        opslimit = MAX(opslimit, UINT64_C(32768));
        ret->r = 8;
        if (opslimit < memlimit / 32) {
                /* Bound by operations: one p, the largest N with 4 * r * N <= opslimit. */
                ret->p = 1;
                max_n = opslimit / (ret->r * 4);
                for (n_log2 = 1; n_log2 < 63; n_log2++)
                        if (UINT64_C(1) << n_log2 > max_n / 2)
                                break;
        } else {
                /* Bound by memory: the largest N with 128 * r * N <= memlimit, then p. */
                max_n = memlimit / (ret->r * 128);
                for (n_log2 = 1; n_log2 < 63; n_log2++)
                        if (UINT64_C(1) << n_log2 > max_n / 2)
                                break;
                max_rp = (opslimit / 4) / (UINT64_C(1) << n_log2);
                max_rp = MIN(max_rp, UINT64_C(0x3fffffff));
                ret->p = (uint32_t) max_rp / ret->r;
        }
        ret->n_log2 = n_log2;
}

/* crypto_pwhash_scryptsalsa208sha256(): scrypt with the parameters above. */
static int scrypt_stream(const char *passphrase, const uint8_t salt[32], uint64_t opslimit,
                         uint64_t memlimit, uint8_t *out, size_t len, struct cart_error *err) {
        struct sign_scrypt s;
        uint64_t n, mem, maxmem;
        EVP_KDF_CTX *ctx;
        EVP_KDF *kdf;
        int ok;

        sign_scrypt_params(opslimit, memlimit, &s);
        if (s.p == 0 || s.n_log2 >= 40)
                return cart_error_set(err, -EBADMSG, "unusable scrypt parameters "
                                      "(opslimit %" PRIu64 ", memlimit %" PRIu64 ")",
                                      opslimit, memlimit);
        n = UINT64_C(1) << s.n_log2;
        /* What OpenSSL allocates: 128 r p for B, 128 r (N + 2) for V. */
        mem = 128 * (uint64_t) s.r * s.p + 128 * (uint64_t) s.r * (n + 2);
        if (mem > SCRYPT_MEM_MAX || n * s.p > SCRYPT_WORK_MAX)
                return cart_error_set(err, -E2BIG, "scrypt parameters too costly "
                                      "(N = 2^%u, r = %" PRIu32 ", p = %" PRIu32 ")",
                                      s.n_log2, s.r, s.p);
        maxmem = mem + MIB;

        kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
        ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
        EVP_KDF_free(kdf);
        if (!ctx)
                return sign_openssl_error(err, "scrypt");
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *) passphrase,
                                                  strlen(passphrase)),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, 32),
                OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
                OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &s.r),
                OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &s.p),
                OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
                OSSL_PARAM_construct_end(),
        };
        ok = EVP_KDF_derive(ctx, out, len, params);
        EVP_KDF_CTX_free(ctx);
        if (ok != 1)
                return sign_openssl_error(err, "scrypt");
        return 0;
}

static void seckey_checksum(const uint8_t block[SECKEY_BYTES], uint8_t ret[32]) {
        uint8_t in[2 + SIGN_KEYID_LEN + 64];

        memcpy(in, block + SK_SIG_ALG, 2);
        memcpy(in + 2, block + SK_KEYNUM, SIGN_KEYID_LEN + 64);
        blake2b(ret, 32, in, sizeof(in));
        OPENSSL_cleanse(in, sizeof(in));
}

static int seckey_crypt(uint8_t block[SECKEY_BYTES], const char *passphrase, struct cart_error *err) {
        uint8_t stream[SK_ENCRYPTED_LEN];
        int r;

        r = scrypt_stream(passphrase, block + SK_SALT, le64_load(block + SK_OPSLIMIT),
                          le64_load(block + SK_MEMLIMIT), stream, sizeof(stream), err);
        if (r >= 0)
                for (size_t i = 0; i < sizeof(stream); i++)
                        block[SK_KEYNUM + i] ^= stream[i];
        OPENSSL_cleanse(stream, sizeof(stream));
        return r;
}

/* Create path with O_EXCL, write text, fsync; on any failure remove what was created. */
static int write_new_file(const char *path, mode_t mode, const char *text, struct cart_error *err) {
        _cleanup_free_ char *dir_path = NULL;
        size_t len = strlen(text);
        int fd, r = 0;

        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) {
                if (errno == EEXIST)
                        return cart_error_reason_set(err, -EEXIST, CART_REASON_OUTPUT_EXISTS, path);
                return cart_error_errno(err, -errno, path, NULL);
        }
        r = pwrite_full(fd, text, len, 0);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r < 0) {
                unlink(path);
                return cart_error_errno(err, r, path, NULL);
        }
        /* Make the new name durable too; a failure here loses nothing already written. */
        dir_path = strdup(path);
        if (dir_path) {
                int dfd = open(dirname(dir_path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0) {
                        (void) fsync(dfd);
                        close(dfd);
                }
        }
        return 0;
}

static int key_file_text(const char *comment_head, const char *comment, const uint8_t *block,
                         size_t len, char **ret) {
        char b64[BASE64_ENCODED_LEN(SECKEY_BYTES) + 1];
        int n;

        base64_encode(block, len, b64);
        n = asprintf(ret, COMMENT_PREFIX "%s%s%s\n%s\n", comment_head, comment ? " - " : "",
                     comment ?: "", b64);
        OPENSSL_cleanse(b64, sizeof(b64));
        return n < 0 ? -ENOMEM : 0;
}

int sign_secret_key_save_kdf(const struct sign_secret_key *k, const char *path,
                             const char *passphrase, uint64_t opslimit, uint64_t memlimit,
                             struct cart_error *err) {
        uint8_t block[SECKEY_BYTES] = {};
        char head[64], id[2 * SIGN_KEYID_LEN + 1];
        char *text = NULL;
        int r;

        memcpy(block + SK_SIG_ALG, SIG_ALG, 2);
        memcpy(block + SK_KDF_ALG, passphrase ? KDF_ALG : KDF_NONE, 2);
        memcpy(block + SK_CHK_ALG, CHK_ALG, 2);
        memcpy(block + SK_KEYNUM, k->keynum, SIGN_KEYID_LEN);
        memcpy(block + SK_SK, k->seed, ED25519_SEED_BYTES);
        memcpy(block + SK_SK + ED25519_SEED_BYTES, k->pk, ED25519_PK_BYTES);
        seckey_checksum(block, block + SK_CHK);
        if (passphrase) {
                if (RAND_bytes(block + SK_SALT, 32) != 1) {
                        r = sign_openssl_error(err, "random salt");
                        goto out;
                }
                le64_store(block + SK_OPSLIMIT, opslimit);
                le64_store(block + SK_MEMLIMIT, memlimit);
                r = seckey_crypt(block, passphrase, err);
                if (r < 0) {
                        cart_error_prefix(err, r, "%s", path);
                        goto out;
                }
        }
        /* The id in the comment lets `cartable key show` name an encrypted key. */
        sign_key_id_hex(k->keynum, id);
        snprintf(head, sizeof(head), "cartable secret key %s", id);
        r = key_file_text(head, k->comment, block, sizeof(block), &text);
        if (r < 0)
                goto out;
        r = write_new_file(path, 0600, text, err);
out:
        if (text) {
                OPENSSL_cleanse(text, strlen(text));
                free(text);
        }
        OPENSSL_cleanse(block, sizeof(block));
        return r;
}

int sign_secret_key_save(const struct sign_secret_key *k, const char *path,
                         const char *passphrase, struct cart_error *err) {
        return sign_secret_key_save_kdf(k, path, passphrase, SIGN_KDF_OPSLIMIT_DEFAULT,
                                        SIGN_KDF_MEMLIMIT_DEFAULT, err);
}

int sign_public_key_save(const struct sign_secret_key *k, const char *path, struct cart_error *err) {
        uint8_t block[PUBKEY_BYTES];
        char head[64], id[2 * SIGN_KEYID_LEN + 1];
        _cleanup_free_ char *text = NULL;
        int r;

        memcpy(block, SIG_ALG, 2);
        memcpy(block + 2, k->keynum, SIGN_KEYID_LEN);
        memcpy(block + 2 + SIGN_KEYID_LEN, k->pk, ED25519_PK_BYTES);
        /* minisign's own comment line: "minisign public key ID". */
        sign_key_id_hex(k->keynum, id);
        snprintf(head, sizeof(head), "minisign public key %s", id);
        r = key_file_text(head, k->comment, block, sizeof(block), &text);
        if (r < 0)
                return r;
        return write_new_file(path, 0644, text, err);
}

/* A key file's comment and decoded block: 42 bytes for a public key, 158 for a secret one. */
static int key_file_parse(const char *path, uint8_t block[SECKEY_BYTES], size_t *ret_len,
                          char comment[1024], struct cart_error *err) {
        _cleanup_free_ char *text = NULL;
        struct text_cursor c;
        const char *line;
        size_t text_len, line_len;
        int r, n = 0;

        r = sign_read_key_file(path, &text, &text_len, err);
        if (r < 0)
                return r;
        text_cursor_init(&c, text, text_len);
        r = text_cursor_comment(&c, &line, &line_len, err);
        if (r >= 0) {
                if (comment)
                        snprintf(comment, 1024, "%.*s", (int) line_len, line);
                r = text_cursor_line(&c, BASE64_ENCODED_LEN(SECKEY_BYTES), &line, &line_len, err);
        }
        if (r >= 0) {
                n = base64_decode(line, line_len, block, SECKEY_BYTES);
                if (n != PUBKEY_BYTES && n != SECKEY_BYTES)
                        r = cart_error_set(err, -EBADMSG, "line %u: %s", c.line,
                                           n < 0 && n != -ENOBUFS ? "not base64" :
                                           "not a minisign key (wrong length)");
        }
        if (r >= 0)
                r = text_cursor_end(&c, err);
        if (r >= 0 && memcmp(block, SIG_ALG, 2) != 0)
                r = cart_error_set(err, -EBADMSG, "line 2: unsupported key algorithm (not Ed25519)");
        if (r >= 0 && n == SECKEY_BYTES) {
                if (memcmp(block + SK_CHK_ALG, CHK_ALG, 2) != 0)
                        r = cart_error_set(err, -EBADMSG, "line 2: unsupported checksum algorithm");
                else if (memcmp(block + SK_KDF_ALG, KDF_ALG, 2) != 0 &&
                         memcmp(block + SK_KDF_ALG, KDF_NONE, 2) != 0)
                        r = cart_error_set(err, -EBADMSG, "line 2: unsupported key derivation function");
        }
        OPENSSL_cleanse(text, text_len);
        if (r < 0)
                return cart_error_prefix(err, r, "%s", path);
        *ret_len = (size_t) n;
        return 0;
}

/* The 16 hex digits after "secret key " in a comment cartable wrote, if any. */
static bool comment_key_id(const char *comment, uint8_t ret[SIGN_KEYID_LEN]) {
        const char *p = strstr(comment, "secret key ");
        uint64_t v = 0;

        if (!p)
                return false;
        p += strlen("secret key ");
        for (int i = 0; i < 2 * SIGN_KEYID_LEN; i++, p++) {
                if (!isxdigit((unsigned char) *p) || islower((unsigned char) *p))
                        return false;
                v = v << 4 | (uint64_t) (isdigit((unsigned char) *p) ? *p - '0' : *p - 'A' + 10);
        }
        if (isxdigit((unsigned char) *p))
                return false;
        le64_store(ret, v);
        return true;
}

int sign_key_file_info(const char *path, struct sign_key_info *ret, struct cart_error *err) {
        uint8_t block[SECKEY_BYTES];
        struct sign_key_info info = {};
        size_t len;
        int r;

        r = key_file_parse(path, block, &len, info.comment, err);
        if (r < 0)
                return r;
        info.is_secret = len == SECKEY_BYTES;
        if (!info.is_secret) {
                info.has_key_id = true;
                memcpy(info.key_id, block + 2, SIGN_KEYID_LEN);
        } else if (memcmp(block + SK_KDF_ALG, KDF_ALG, 2) == 0) {
                info.is_encrypted = true;
                info.kdf_opslimit = le64_load(block + SK_OPSLIMIT);
                info.kdf_memlimit = le64_load(block + SK_MEMLIMIT);
                info.has_key_id = info.is_key_id_from_comment = comment_key_id(info.comment, info.key_id);
        } else {
                info.has_key_id = true;
                memcpy(info.key_id, block + SK_KEYNUM, SIGN_KEYID_LEN);
        }
        OPENSSL_cleanse(block, sizeof(block));
        *ret = info;
        return 0;
}

int sign_secret_key_is_encrypted(const char *path, struct cart_error *err) {
        struct sign_key_info info;
        int r;

        r = sign_key_file_info(path, &info, err);
        if (r < 0)
                return r;
        if (!info.is_secret)
                return cart_error_set(err, -EBADMSG, "%s: a public key, not a secret key", path);
        return info.is_encrypted;
}

static int secret_key_from_block(uint8_t block[SECKEY_BYTES], const char *passphrase,
                                 struct sign_secret_key **ret, struct cart_error *err) {
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        bool is_encrypted = memcmp(block + SK_KDF_ALG, KDF_ALG, 2) == 0;
        uint8_t chk[32];
        int r;

        if (is_encrypted) {
                if (!passphrase) {
                        cart_error_set(err, -EKEYREJECTED, "the secret key is encrypted: a passphrase is needed");
                        return cart_error_where(err, -EKEYREJECTED, CART_REASON_WRONG_PASSPHRASE, NULL, NULL);
                }
                r = seckey_crypt(block, passphrase, err);
                if (r < 0)
                        return r;
        }
        /* `minisign -G -W` leaves the checksum of an unencrypted key zero (it computes it
         * only to encrypt) and never checks it then: accept zero there, nowhere else. */
        seckey_checksum(block, chk);
        r = CRYPTO_memcmp(chk, block + SK_CHK, sizeof(chk));
        if (r != 0 && !is_encrypted) {
                memset(chk, 0, sizeof(chk));
                r = CRYPTO_memcmp(chk, block + SK_CHK, sizeof(chk));
        }
        OPENSSL_cleanse(chk, sizeof(chk));
        if (r != 0)
                return is_encrypted ?
                        cart_error_reason_set(err, -EKEYREJECTED, CART_REASON_WRONG_PASSPHRASE, NULL) :
                        cart_error_set(err, -EBADMSG, "checksum mismatch: the key is damaged");

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        memcpy(k->keynum, block + SK_KEYNUM, SIGN_KEYID_LEN);
        memcpy(k->seed, block + SK_SK, ED25519_SEED_BYTES);
        r = secret_key_derive(k, err);
        if (r < 0)
                return r;
        /* sk is seed || pk: a pk that the seed does not give is a forged or broken file. */
        if (CRYPTO_memcmp(k->pk, block + SK_SK + ED25519_SEED_BYTES, ED25519_PK_BYTES) != 0)
                return cart_error_set(err, -EBADMSG, "the public half does not match the secret key");
        *ret = TAKE_PTR(k);
        return 0;
}

int sign_secret_key_load(const char *path, const char *passphrase,
                         struct sign_secret_key **ret, struct cart_error *err) {
        uint8_t block[SECKEY_BYTES];
        size_t len;
        int r;

        r = key_file_parse(path, block, &len, NULL, err);
        if (r < 0)
                return r;
        if (len != SECKEY_BYTES)
                r = cart_error_set(err, -EBADMSG, "a public key, not a secret key");
        else
                r = secret_key_from_block(block, passphrase, ret, err);
        OPENSSL_cleanse(block, sizeof(block));
        if (r < 0)
                return cart_error_prefix(err, r, "%s", path);
        return 0;
}

static int ed25519_sign(EVP_PKEY *pkey, const void *msg, size_t len, uint8_t sig[ED25519_SIG_BYTES],
                        struct cart_error *err) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t n = ED25519_SIG_BYTES;
        int ok;

        /* Ed25519 is one-shot: no digest, EVP_DigestSign() over the whole input. */
        ok = ctx && EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, pkey, NULL) == 1 &&
             EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == ED25519_SIG_BYTES;
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : sign_openssl_error(err, "Ed25519 signature");
}

int sign_message(const struct sign_secret_key *k, const void *msg, size_t len,
                 const char *trusted_comment, char **ret_sig_text, struct cart_error *err) {
        uint8_t sig[SIGBLOCK_BYTES], digest[64], global[ED25519_SIG_BYTES];
        char sig_b64[BASE64_ENCODED_LEN(SIGBLOCK_BYTES) + 1];
        char global_b64[BASE64_ENCODED_LEN(ED25519_SIG_BYTES) + 1];
        char id[2 * SIGN_KEYID_LEN + 1], stamp[64];
        _cleanup_free_ uint8_t *signed_comment = NULL;
        char *text;
        size_t tc_len;
        int r;

        if (!trusted_comment) {
                snprintf(stamp, sizeof(stamp), "timestamp:%lld", (long long) time(NULL));
                trusted_comment = stamp;
        }
        tc_len = strlen(trusted_comment);
        if (tc_len > SIGN_TRUSTED_COMMENT_MAX || strpbrk(trusted_comment, "\r\n"))
                return cart_error_set(err, -EINVAL, "trusted comment: a line break, or longer "
                                      "than %d bytes", SIGN_TRUSTED_COMMENT_MAX);

        /* The prehashed "ED" form: Ed25519 over BLAKE2b-512(msg). */
        r = sign_blake2b512(msg, len, digest, err);
        if (r < 0)
                return r;
        memcpy(sig, SIG_ALG_HASHED, 2);
        memcpy(sig + 2, k->keynum, SIGN_KEYID_LEN);
        r = ed25519_sign(k->pkey, digest, sizeof(digest), sig + 2 + SIGN_KEYID_LEN, err);
        if (r < 0)
                return r;

        /* The global signature binds the trusted comment to this signature. */
        signed_comment = malloc(ED25519_SIG_BYTES + tc_len);
        if (!signed_comment)
                return -ENOMEM;
        memcpy(signed_comment, sig + 2 + SIGN_KEYID_LEN, ED25519_SIG_BYTES);
        memcpy(signed_comment + ED25519_SIG_BYTES, trusted_comment, tc_len);
        r = ed25519_sign(k->pkey, signed_comment, ED25519_SIG_BYTES + tc_len, global, err);
        if (r < 0)
                return r;

        base64_encode(sig, sizeof(sig), sig_b64);
        base64_encode(global, sizeof(global), global_b64);
        sign_key_id_hex(k->keynum, id);
        if (asprintf(&text, COMMENT_PREFIX "signature from cartable secret key %s\n%s\n"
                     TRUSTED_COMMENT_PREFIX "%s\n%s\n", id, sig_b64, trusted_comment, global_b64) < 0)
                return -ENOMEM;
        *ret_sig_text = text;
        return 0;
}
