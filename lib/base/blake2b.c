/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BLAKE2b, written from RFC 7693 sections 2 and 3 (one-shot, unkeyed). */
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "base/blake2b.h"

#define BLOCK 128

/* RFC 7693 section 2.6: the SHA-512 initial values. */
static const uint64_t iv[8] = {
        0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
        0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* RFC 7693 section 2.7: message word permutations; rounds 10 and 11 reuse rows 0 and 1. */
static const uint8_t sigma[12][16] = {
        { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
        { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
        { 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
        { 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
        { 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
        { 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
        { 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
        { 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
        { 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
        { 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
        { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
        { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
};

static inline uint64_t rotr64(uint64_t x, unsigned n) {
        return (x >> n) | (x << (64 - n));
}

static inline uint64_t load64_le(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* RFC 7693 section 3.1: the mixing function G. */
static inline void mix(uint64_t v[16], int a, int b, int c, int d, uint64_t x, uint64_t y) {
        v[a] = v[a] + v[b] + x;
        v[d] = rotr64(v[d] ^ v[a], 32);
        v[c] = v[c] + v[d];
        v[b] = rotr64(v[b] ^ v[c], 24);
        v[a] = v[a] + v[b] + y;
        v[d] = rotr64(v[d] ^ v[a], 16);
        v[c] = v[c] + v[d];
        v[b] = rotr64(v[b] ^ v[c], 63);
}

/* RFC 7693 section 3.2: compression function F; t is the byte count so far (< 2^64 here). */
static void compress(uint64_t h[8], const uint8_t block[BLOCK], uint64_t t, bool is_last) {
        uint64_t v[16], m[16];

        for (int i = 0; i < 16; i++)
                m[i] = load64_le(block + 8 * i);
        for (int i = 0; i < 8; i++) {
                v[i] = h[i];
                v[i + 8] = iv[i];
        }
        v[12] ^= t;
        if (is_last)
                v[14] = ~v[14];
        for (int r = 0; r < 12; r++) {
                const uint8_t *s = sigma[r];
                mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
                mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
                mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
                mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
                mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
                mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
                mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
                mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for (int i = 0; i < 8; i++)
                h[i] ^= v[i] ^ v[i + 8];
}

void blake2b(void *out, size_t outlen, const void *in, size_t inlen) {
        const uint8_t *p = in;
        uint8_t block[BLOCK], digest[BLAKE2B_OUTBYTES_MAX];
        uint64_t h[8], t = 0;

        assert(outlen >= 1 && outlen <= BLAKE2B_OUTBYTES_MAX);
        memcpy(h, iv, sizeof(h));
        /* Parameter block word 0: digest length, no key, fanout 1, depth 1 (section 2.5). */
        h[0] ^= 0x01010000ULL ^ (uint64_t) outlen;

        /* Every block but the last; the last (possibly empty or partial) is flagged final. */
        while (inlen > BLOCK) {
                t += BLOCK;
                compress(h, p, t, false);
                p += BLOCK;
                inlen -= BLOCK;
        }
        memset(block, 0, sizeof(block));
        if (inlen > 0)
                memcpy(block, p, inlen);
        t += inlen;
        compress(h, block, t, true);

        for (int i = 0; i < 8; i++)
                for (int j = 0; j < 8; j++)
                        digest[8 * i + j] = (uint8_t) (h[i] >> (8 * j));
        memcpy(out, digest, outlen);
        /* The input may be secret (a key checksum): leave no copy on the stack. */
        explicit_bzero(block, sizeof(block));
        explicit_bzero(digest, sizeof(digest));
        explicit_bzero(h, sizeof(h));
}
