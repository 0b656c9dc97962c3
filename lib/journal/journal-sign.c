/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Each station signs what it writes: an Ed25519 key pair per station (OpenSSL), its secret
 * key in the station's state directory (PEM, 0600, made on the first event appended), its
 * public key registered with the station (journal station add). An event's signature is
 * over its hash, which covers its content and, through prev_hash, the chain up to it: a
 * database owner or a stolen station role can rewrite rows and recompute hashes, but not
 * make another station's signature. journal_verify checks each event of a station with a
 * registered key from its signed_from event on.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/hash.h"
#include "journal/journal-internal.h"

#define ED25519_PK_LEN 32
#define ED25519_SIG_LEN 64

/* What is signed: a domain line, then the event's hash (hex), so that a signature made for
 * an event is never one of anything else the key may sign. */
static const char sign_domain[] = "cartable-event-signature-1\n";

void journal_sign_key_free(struct evp_pkey_st *k) {
        EVP_PKEY_free(k);
}

static int hex_decode(const char *hex, uint8_t *out, size_t n) {
        if (!hex || strlen(hex) != 2 * n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int v = 0;
                for (int k = 0; k < 2; k++) {
                        char c = hex[2 * i + k];
                        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
                                c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                        if (d < 0)
                                return -EINVAL;
                        v = v * 16 + d;
                }
                out[i] = (uint8_t) v;
        }
        return 0;
}

static int public_hex(EVP_PKEY *k, char ret[65]) {
        uint8_t pk[ED25519_PK_LEN];
        size_t n = sizeof(pk);

        if (EVP_PKEY_get_raw_public_key(k, pk, &n) != 1 || n != sizeof(pk))
                return -EINVAL;
        hash_to_hex(pk, sizeof(pk), ret);
        return 0;
}

/* A new pair, written beside path and linked into place: two processes making it at once
 * end with one key, and no reader ever sees a half-written file. */
static int key_create(const char *path, struct cart_error *err) {
        _cleanup_free_ char *tmp = NULL, *dir = strdup(path);
        EVP_PKEY *k = NULL;
        FILE *f = NULL;
        int fd, r = 0;

        if (!dir || asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        r = mkdir_parents(dirname(dir), 0700);
        if (r < 0)
                return cart_error_errno(err, r, path, "cannot create its directory");
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!k)
                return cart_error_set(err, -EIO, "%s: cannot make an Ed25519 key pair", path);
        fd = mkostemp(tmp, O_CLOEXEC);     /* 0600 */
        if (fd < 0) {
                r = cart_error_errno(err, -errno, path, "cannot create the station's key");
                goto out;
        }
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                r = -ENOMEM;
        } else if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
                   fsync(fileno(f)) < 0)
                r = cart_error_set(err, -EIO, "%s: cannot write the station's key", path);
        if (f && fclose(f) != 0 && r >= 0)
                r = cart_error_set(err, -EIO, "%s: cannot write the station's key", path);
        if (r >= 0 && link(tmp, path) < 0 && errno != EEXIST)
                r = cart_error_errno(err, -errno, path, "cannot create the station's key");
        unlink(tmp);
out:
        EVP_PKEY_free(k);
        return r;
}

/* The secret key, checked as the station secret is: no symlink, a regular file of this
 * user, readable by nobody else. */
static int key_load(const char *path, bool create, EVP_PKEY **ret, struct cart_error *err) {
        struct stat st;
        EVP_PKEY *k;
        FILE *f;
        int fd, r;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
                r = key_create(path, err);
                if (r < 0)
                        return r;
                fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return cart_error_errno(err, errno == ELOOP ? -EPERM : -errno, path,
                                        errno == ELOOP ? "the station's key is a symbolic link: refused" :
                                        "cannot open the station's key");
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077)) {
                close(fd);
                return cart_error_set(err, -EPERM, "%s: the station's key must be a file of this user that "
                                      "nobody else may read or write (chmod 0600): refused", path);
        }
        f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(k);
                return cart_error_set(err, -EBADMSG, "%s: not an Ed25519 secret key (PEM)", path);
        }
        *ret = k;
        return 0;
}

int journal_sign_key_public(const char *sign_key, char ret[65], struct cart_error *err) {
        EVP_PKEY *k = NULL;
        int r;

        r = key_load(sign_key, true, &k, err);
        if (r < 0)
                return r;
        r = public_hex(k, ret);
        EVP_PKEY_free(k);
        return r;
}

int journal_public_key_read(const char *path, char ret[65], struct cart_error *err) {
        EVP_PKEY *k;
        FILE *f;
        int r;

        f = fopen(path, "re");
        if (!f)
                return cart_error_errno(err, -errno, path, "cannot open the public key");
        k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        fclose(f);
        if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(k);
                return cart_error_set(err, -EBADMSG, "%s: not an Ed25519 public key (PEM, as journal station key "
                                      "prints it)", path);
        }
        r = public_hex(k, ret);
        EVP_PKEY_free(k);
        return r;
}

static EVP_PKEY *public_from_hex(const char *hex) {
        uint8_t pk[ED25519_PK_LEN];

        if (hex_decode(hex, pk, sizeof(pk)) < 0)
                return NULL;
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, sizeof(pk));
}

int journal_public_key_pem(const char *public_key, char **ret) {
        EVP_PKEY *k = public_from_hex(public_key);
        char *data, *pem = NULL;
        BIO *b;
        long n;

        if (!k)
                return -EINVAL;
        b = BIO_new(BIO_s_mem());
        if (b && PEM_write_bio_PUBKEY(b, k) == 1 && (n = BIO_get_mem_data(b, &data)) > 0)
                pem = strndup(data, (size_t) n);
        BIO_free(b);
        EVP_PKEY_free(k);
        if (!pem)
                return -ENOMEM;
        *ret = pem;
        return 0;
}

int journal_event_sign(struct journal *j, const char *hash, char ret[129], struct cart_error *err) {
        uint8_t sig[ED25519_SIG_LEN];
        char msg[sizeof(sign_domain) + JOURNAL_HASH_HEX_LEN];
        size_t n = sizeof(sig);
        EVP_MD_CTX *ctx;
        int r = 0;

        if (!j->sign_key) {
                r = key_load(j->sign_key_path, true, &j->sign_key, err);
                if (r < 0)
                        return r;
        }
        snprintf(msg, sizeof(msg), "%s%s", sign_domain, hash);
        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, j->sign_key) != 1 ||
            EVP_DigestSign(ctx, sig, &n, (const uint8_t *) msg, strlen(msg)) != 1 || n != sizeof(sig))
                r = cart_error_set(err, -EIO, "%s: cannot sign an event", j->sign_key_path);
        EVP_MD_CTX_free(ctx);
        if (r >= 0)
                hash_to_hex(sig, sizeof(sig), ret);
        return r;
}

/* ---- Checking ---- */

struct journal_signers {
        struct signer {
                char *name;
                EVP_PKEY *key;
                int64_t signed_from;
        } *rows;
        size_t n;
        EVP_MD_CTX *ctx;
};

struct journal_signers *journal_signers_free(struct journal_signers *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++) {
                free(s->rows[i].name);
                EVP_PKEY_free(s->rows[i].key);
        }
        free(s->rows);
        EVP_MD_CTX_free(s->ctx);
        free(s);
        return NULL;
}

int journal_signers_load(struct journal *j, struct journal_signers **ret, struct cart_error *err) {
        _cleanup_(journal_signers_freep) struct journal_signers *s = calloc(1, sizeof(*s));
        _cleanup_(jdb_finalizep) struct jstmt *q = NULL;
        int r;

        if (!s || !(s->ctx = EVP_MD_CTX_new()))
                return -ENOMEM;
        r = jdb_prepare(j, "SELECT name, public_key, signed_from FROM stations WHERE public_key IS NOT NULL", &q, err);
        if (r < 0)
                return r;
        while ((r = jdb_step(j, q, err)) > 0) {
                struct signer *a = reallocarray(s->rows, s->n + 1, sizeof(*s->rows));
                if (!a)
                        return -ENOMEM;
                s->rows = a;
                a[s->n] = (struct signer) { .name = strdup(jdb_text(q, 0)), .key = public_from_hex(jdb_text(q, 1)),
                                            .signed_from = jdb_int64(q, 2) };
                if (!a[s->n].name) {
                        EVP_PKEY_free(a[s->n].key);
                        return -ENOMEM;
                }
                if (!a[s->n++].key)
                        return cart_error_set(err, -EBADMSG, "station %s: its registered public key is not an "
                                              "Ed25519 key", a[s->n - 1].name);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int journal_signature_check(const struct journal_signers *s, const struct journal_event_row *e,
                            struct cart_error *problems) {
        const struct signer *k = NULL;
        uint8_t sig[ED25519_SIG_LEN];
        char msg[sizeof(sign_domain) + JOURNAL_HASH_HEX_LEN];

        for (size_t i = 0; i < s->n && !k; i++)
                if (e->station && streq(s->rows[i].name, e->station))
                        k = &s->rows[i];
        if (!k || (e->station_seq < k->signed_from && !e->signature))
                return 0;
        if (!e->signature) {
                cart_error_set(problems, -EBADMSG, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s) is not "
                               "signed, though the station signs its events from event %" PRId64 ": written by "
                               "another than the station", e->station, e->station_seq, e->seq, e->uuid,
                               k->signed_from);
                return 1;
        }
        snprintf(msg, sizeof(msg), "%s%s", sign_domain, e->hash ? e->hash : "");
        /* A context initialised for one key is not set up again for another: reset first. */
        EVP_MD_CTX_reset(s->ctx);
        if (hex_decode(e->signature, sig, sizeof(sig)) < 0 ||
            EVP_DigestVerifyInit(s->ctx, NULL, NULL, NULL, k->key) != 1 ||
            EVP_DigestVerify(s->ctx, sig, sizeof(sig), (const uint8_t *) msg, strlen(msg)) != 1) {
                cart_error_set(problems, -EBADMSG, "station %s: event %" PRId64 " (row %" PRId64 ", uuid %s): its "
                               "signature is not the station's registered key's: forged, or the event rewritten",
                               e->station, e->station_seq, e->seq, e->uuid);
                return 1;
        }
        return 0;
}
