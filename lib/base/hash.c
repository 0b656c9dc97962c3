/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <openssl/evp.h>

#include "base/hash.h"

struct hash_sha256 {
        EVP_MD_CTX *ctx;
};

int hash_sha256_new(struct hash_sha256 **ret) {
        struct hash_sha256 *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || hash_sha256_reset(h) < 0) {
                hash_sha256_free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

struct hash_sha256 *hash_sha256_free(struct hash_sha256 *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

int hash_sha256_reset(struct hash_sha256 *h) {
        return EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

int hash_sha256_update(struct hash_sha256 *h, const void *buf, size_t len) {
        return EVP_DigestUpdate(h->ctx, buf, len) == 1 ? 0 : -EIO;
}

int hash_sha256_final(struct hash_sha256 *h, uint8_t ret[HASH_SHA256_LEN]) {
        unsigned n = 0;

        if (EVP_DigestFinal_ex(h->ctx, ret, &n) != 1 || n != HASH_SHA256_LEN)
                return -EIO;
        return 0;
}

int hash_sha256(const void *buf, size_t len, uint8_t ret[HASH_SHA256_LEN]) {
        return EVP_Digest(buf, len, ret, NULL, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

void hash_to_hex(const uint8_t *bytes, size_t len, char *ret) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                ret[2 * i] = digits[bytes[i] >> 4];
                ret[2 * i + 1] = digits[bytes[i] & 15];
        }
        ret[2 * len] = 0;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hash_from_hex(const char *hex, uint8_t *ret, size_t len) {
        uint8_t buf[64];

        if (len > sizeof(buf) || strlen(hex) != 2 * len)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                buf[i] = (uint8_t) (hi << 4 | lo);
        }
        memcpy(ret, buf, len);
        return 0;
}
