/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SHA-256 through OpenSSL's EVP interface, streamed, and its lower-case hex form (sha256sum's). */
#pragma once

#include <stdint.h>

#include "base/util.h"

#define HASH_SHA256_LEN 32
#define HASH_SHA256_HEX_LEN (2 * HASH_SHA256_LEN)

struct hash_sha256;

int hash_sha256_new(struct hash_sha256 **ret);
struct hash_sha256 *hash_sha256_free(struct hash_sha256 *h);
DEFINE_POINTER_CLEANUP(struct hash_sha256, hash_sha256_free);

/* Start over, so one context can hash many files. */
int hash_sha256_reset(struct hash_sha256 *h);
int hash_sha256_update(struct hash_sha256 *h, const void *buf, size_t len);
/* The digest of everything since the last reset. */
int hash_sha256_final(struct hash_sha256 *h, uint8_t ret[HASH_SHA256_LEN]);

/* One-shot. */
int hash_sha256(const void *buf, size_t len, uint8_t ret[HASH_SHA256_LEN]);

void hash_to_hex(const uint8_t *bytes, size_t len, char *ret);   /* ret: 2 * len + 1 bytes */
/* Exactly 2 * len hex digits (either case); -EINVAL otherwise. */
int hash_from_hex(const char *hex, uint8_t *ret, size_t len);
