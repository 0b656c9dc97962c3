/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trusted public keys and signature verification, as `minisign -V` does it (src/minisign.c,
 * sig_load() and verify()), failing closed. A signature file:
 *   untrusted comment: TEXT
 *   base64("ED" or "Ed" || keynum[8] || sig[64])
 *   trusted comment: TEXT
 *   base64(Ed25519(sig || trusted comment text))
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "config-paths.h"
#include "release/sign-internal.h"

struct trusted_key {
        uint8_t keynum[SIGN_KEYID_LEN];
        EVP_PKEY *pkey;
};

struct sign_trust {
        struct trusted_key *keys;
        size_t n_keys;
};

int sign_trust_new(struct sign_trust **ret) {
        struct sign_trust *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

static void trust_truncate(struct sign_trust *t, size_t n) {
        while (t->n_keys > n)
                EVP_PKEY_free(t->keys[--t->n_keys].pkey);
}

struct sign_trust *sign_trust_free(struct sign_trust *t) {
        if (!t)
                return NULL;
        trust_truncate(t, 0);
        free(t->keys);
        free(t);
        return NULL;
}

size_t sign_trust_count(const struct sign_trust *t) {
        return t ? t->n_keys : 0;
}

/* A public key file: comment line, then base64("Ed" || keynum || pk). */
static int trust_add_file(struct sign_trust *t, const char *path, struct cart_error *err) {
        _cleanup_free_ char *text = NULL;
        uint8_t block[PUBKEY_BYTES];
        struct trusted_key *keys;
        struct text_cursor c;
        const char *comment;
        size_t len;
        EVP_PKEY *pkey;
        int r;

        r = sign_read_key_file(path, &text, &len, err);
        if (r < 0)
                return r;
        text_cursor_init(&c, text, len);
        r = text_cursor_comment(&c, &comment, &len, err);
        if (r >= 0)
                r = text_cursor_base64(&c, block, sizeof(block), W_("a minisign public key"), err);
        if (r >= 0)
                r = text_cursor_end(&c, err);
        if (r >= 0 && memcmp(block, SIG_ALG, 2) != 0)
                r = cart_error_set(err, -EBADMSG, "line 2: unsupported key algorithm (not Ed25519)");
        if (r >= 0)
                r = sign_ed25519_public(block + 2 + SIGN_KEYID_LEN, &pkey, err);
        if (r < 0)
                return cart_error_prefix(err, r, "%s", path);

        keys = reallocarray(t->keys, t->n_keys + 1, sizeof(*keys));
        if (!keys) {
                EVP_PKEY_free(pkey);
                return -ENOMEM;
        }
        t->keys = keys;
        memcpy(keys[t->n_keys].keynum, block + 2, SIGN_KEYID_LEN);
        keys[t->n_keys++].pkey = pkey;
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void free_names(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* The *.pub regular files of a directory (hidden ones skipped, as a shell glob would). */
static int list_pub_files(const char *path, char ***ret, size_t *ret_n, struct cart_error *err) {
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(path);
        if (!d)
                return cart_error_errno(err, -errno, path, NULL);
        while ((errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);
                struct stat st;
                char **l;

                if (de->d_name[0] == '.' || len <= 4 || !streq(de->d_name + len - 4, ".pub"))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                l = reallocarray(names, n + 1, sizeof(*names));
                if (!l || !(l[n] = strdup(de->d_name))) {
                        names = l ?: names;
                        r = -ENOMEM;
                        break;
                }
                names = l;
                n++;
        }
        if (r >= 0 && errno != 0)
                r = cart_error_errno(err, -errno, path, NULL);
        closedir(d);
        if (r < 0) {
                free_names(names, n);
                return r;
        }
        if (n > 0)
                qsort(names, n, sizeof(*names), compare_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

int sign_trust_add_path(struct sign_trust *t, const char *path, struct cart_error *err) {
        size_t n_before = t->n_keys, n = 0;
        char **names = NULL;
        struct stat st;
        int r = 0;

        if (stat(path, &st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (!S_ISDIR(st.st_mode)) {
                r = trust_add_file(t, path, err);
                return r < 0 ? r : 1;
        }

        r = list_pub_files(path, &names, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *file = NULL;
                if (asprintf(&file, "%s/%s", path, names[i]) < 0)
                        r = -ENOMEM;
                else
                        r = trust_add_file(t, file, err);
        }
        free_names(names, n);
        if (r < 0) {
                trust_truncate(t, n_before);
                return r;
        }
        return (int) (t->n_keys - n_before);
}

struct parsed_sig {
        uint8_t block[SIGBLOCK_BYTES];        /* algorithm, keynum, signature */
        uint8_t global[ED25519_SIG_BYTES];
        const char *trusted_comment;          /* inside the text, not NUL-terminated */
        size_t trusted_comment_len;
};

static int parse_signature(const char *text, struct parsed_sig *ret, struct cart_error *err) {
        const size_t n = strlen(TRUSTED_COMMENT_PREFIX);
        struct text_cursor c;
        const char *line;
        size_t len;
        int r;

        text_cursor_init(&c, text, strlen(text));
        r = text_cursor_comment(&c, &line, &len, err);
        if (r < 0)
                return r;
        r = text_cursor_base64(&c, ret->block, sizeof(ret->block), W_("a minisign signature"), err);
        if (r < 0)
                return r;
        if (memcmp(ret->block, SIG_ALG_HASHED, 2) != 0 && memcmp(ret->block, SIG_ALG, 2) != 0)
                return cart_error_set(err, -EBADMSG, "line 2: unsupported signature algorithm");
        r = text_cursor_line(&c, n + SIGN_TRUSTED_COMMENT_MAX, &line, &len, err);
        if (r < 0)
                return r;
        if (len < n || memcmp(line, TRUSTED_COMMENT_PREFIX, n) != 0)
                return cart_error_set(err, -EBADMSG, "line 3: does not start with \"%s\"",
                                      TRUSTED_COMMENT_PREFIX);
        if (memchr(line, '\r', len))
                return cart_error_set(err, -EBADMSG, "line 3: a carriage return in the trusted comment");
        ret->trusted_comment = line + n;
        ret->trusted_comment_len = len - n;
        r = text_cursor_base64(&c, ret->global, sizeof(ret->global), W_("a trusted comment signature"), err);
        if (r < 0)
                return r;
        return text_cursor_end(&c, err);
}

static int untrusted_key_error(const struct sign_trust *t, const uint8_t keynum[SIGN_KEYID_LEN],
                               struct cart_error *err) {
        char id[2 * SIGN_KEYID_LEN + 1], list[128] = "";
        size_t used = 0, n = sign_trust_count(t);

        for (size_t i = 0; i < n && i < 4; i++) {
                char other[2 * SIGN_KEYID_LEN + 1];
                sign_key_id_hex(t->keys[i].keynum, other);
                used += (size_t) snprintf(list + used, sizeof(list) - used, "%s%s",
                                          i ? ", " : "", other);
        }
        if (n > 4)
                snprintf(list + used, sizeof(list) - used, ", ...");
        sign_key_id_hex(keynum, id);
        cart_error_reason_set(err, -ENOKEY, CART_REASON_UNTRUSTED_SIGNER, NULL);
        if (err) {
                snprintf(err->have, sizeof(err->have), "%s", id);
                snprintf(err->want, sizeof(err->want), "%s", list);
        }
        return -ENOKEY;
}

int sign_verify(const struct sign_trust *t, const void *msg, size_t len, const char *sig_text,
                char **ret_trusted_comment, uint8_t ret_key_id[SIGN_KEYID_LEN],
                struct cart_error *err) {
        return sign_verify_flags(t, msg, len, sig_text, 0, ret_trusted_comment, ret_key_id, err);
}

int sign_verify_flags(const struct sign_trust *t, const void *msg, size_t len, const char *sig_text,
                      unsigned flags, char **ret_trusted_comment, uint8_t ret_key_id[SIGN_KEYID_LEN],
                      struct cart_error *err) {
        _cleanup_free_ uint8_t *signed_comment = NULL;
        const uint8_t *keynum, *sig;
        struct parsed_sig p;
        uint8_t digest[64];
        const void *signed_msg = msg;
        size_t signed_len = len;
        bool is_known = false, is_message_ok = false;
        char id[2 * SIGN_KEYID_LEN + 1];
        int r;

        r = parse_signature(sig_text, &p, err);
        if (r < 0) {
                if (err && r == -EBADMSG)
                        err->reason = CART_REASON_MALFORMED_SIGNATURE;   /* msg: the line at fault */
                return cart_error_prefix(err, r, "signature");
        }
        keynum = p.block + 2;
        sig = p.block + 2 + SIGN_KEYID_LEN;
        if ((flags & SIGN_VERIFY_PREHASHED_ONLY) && memcmp(p.block, SIG_ALG_HASHED, 2) != 0)
                return cart_error_set(err, -EKEYREJECTED, "a legacy signature (minisign -l, not prehashed): "
                                      "releases are signed prehashed, and nothing else is accepted");
        if (memcmp(p.block, SIG_ALG_HASHED, 2) == 0) {
                r = sign_blake2b512(msg, len, digest, err);
                if (r < 0)
                        return r;
                signed_msg = digest;
                signed_len = sizeof(digest);
        }
        signed_comment = malloc(ED25519_SIG_BYTES + p.trusted_comment_len);
        if (!signed_comment)
                return -ENOMEM;
        memcpy(signed_comment, sig, ED25519_SIG_BYTES);
        memcpy(signed_comment + ED25519_SIG_BYTES, p.trusted_comment, p.trusted_comment_len);

        /* Two trusted keys may share an id: either one may have signed. */
        for (size_t i = 0; i < sign_trust_count(t); i++) {
                EVP_PKEY *pkey = t->keys[i].pkey;

                if (memcmp(t->keys[i].keynum, keynum, SIGN_KEYID_LEN) != 0)
                        continue;
                is_known = true;
                if (!sign_ed25519_verify(pkey, sig, signed_msg, signed_len))
                        continue;
                is_message_ok = true;
                if (!sign_ed25519_verify(pkey, p.global, signed_comment,
                                         ED25519_SIG_BYTES + p.trusted_comment_len))
                        continue;

                if (ret_trusted_comment) {
                        char *tc = strndup(p.trusted_comment, p.trusted_comment_len);
                        if (!tc)
                                return -ENOMEM;
                        *ret_trusted_comment = tc;
                }
                if (ret_key_id)
                        memcpy(ret_key_id, keynum, SIGN_KEYID_LEN);
                return 0;
        }
        if (!is_known)
                return untrusted_key_error(t, keynum, err);
        /* label: which of the two signatures failed, "data" or "trusted-comment". */
        sign_key_id_hex(keynum, id);
        cart_error_reason_set(err, -EKEYREJECTED, CART_REASON_BAD_SIGNATURE, NULL);
        if (err) {
                snprintf(err->have, sizeof(err->have), "%s", id);
                snprintf(err->label, sizeof(err->label), "%s", is_message_ok ? "trusted-comment" : "data");
        }
        return -EKEYREJECTED;
}

/* One trusted path: a directory without any *.pub is an error naming it, not an empty set. */
static int trust_add_one(struct sign_trust *t, const char *path, const char *what, struct cart_error *err) {
        int r = sign_trust_add_path(t, path, err);

        if (r == 0)
                r = cart_error_set(err, -ENOKEY, "%s: no public key (*.pub) in this directory", path);
        return r < 0 ? cart_error_prefix(err, r, "%s", what) : 0;
}

int sign_trust_load(char *const *paths, size_t n_paths, const struct cart_config *config,
                    struct sign_trust **ret, struct cart_error *err) {
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        const char *config_path = config && config->path ? config->path : CARTABLE_SYSCONFDIR "/cartable.conf";
        _cleanup_free_ char *what = NULL;
        int r;

        r = sign_trust_new(&t);
        if (r < 0)
                return r;
        if (n_paths > 0) {
                for (size_t i = 0; i < n_paths; i++)
                        if ((r = trust_add_one(t, paths[i], "--trust", err)) < 0)
                                return r;
        } else if (config && config->n_trust > 0) {
                if (asprintf(&what, "%s: [trust] key", config_path) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < config->n_trust; i++)
                        if ((r = trust_add_one(t, config->trust[i], what, err)) < 0)
                                return r;
        } else
                return cart_error_set(err, -ENOKEY, "no trusted key: give --trust FILE|DIR, or set "
                                      "'key = FILE|DIR' in the [trust] section of %s", config_path);
        *ret = TAKE_PTR(t);
        return 0;
}
