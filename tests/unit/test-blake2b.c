/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "base/blake2b.h"
#include "base/util.h"

static void hex(const uint8_t *p, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", p[i]);
}

/* RFC 7693 appendix A: BLAKE2b-512("abc"). */
static void test_rfc7693_vector(void **state) {
        uint8_t d[64];
        char h[129];

        blake2b(d, 64, "abc", 3);
        hex(d, 64, h);
        assert_string_equal(h, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                               "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

/* Shorter digests (what minisign's checksum uses), checked against coreutils' b2sum -l. */
static void test_short_digests_match_b2sum(void **state) {
        static const struct { size_t len, outlen; int fill; const char *want; } v[] = {
                { 0, 32, -1, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8" },
                { 128, 32, 0, "378d0caaaa3855f1b38693c1d6ef004fd118691c95c959d4efa950d6d6fcf7c1" },
                { 129, 32, 0, "baadfb64c3bd2cd187b54accc5e61a0720ed86bf48c28017873536cf9015d1b8" },
                { 200, 32, 251, "63c3d97a9f8894d5e043a707b0fee7f7ec4c049a23bbf1079df20b4165f9e22d" },
                { 256, 20, 0, "1b168ae9e60ecc324dd66e9ce387638fa3087cfc" },
        };
        uint8_t in[256], d[64];
        char h[129];

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                for (size_t j = 0; j < v[i].len; j++)
                        in[j] = v[i].fill > 0 ? (uint8_t) (j % (size_t) v[i].fill) : 0;
                blake2b(d, v[i].outlen, in, v[i].len);
                hex(d, v[i].outlen, h);
                assert_string_equal(h, v[i].want);
        }
        blake2b(d, 32, "abc", 3);
        hex(d, 32, h);
        assert_string_equal(h, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

/* Every length across several block boundaries agrees with OpenSSL's BLAKE2b-512. */
static void test_matches_openssl_at_every_length(void **state) {
        uint8_t in[600], mine[64], theirs[64];
        unsigned n;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t) (i * 7 + 3);
        for (size_t len = 0; len <= sizeof(in); len++) {
                blake2b(mine, 64, in, len);
                assert_int_equal(EVP_Digest(in, len, theirs, &n, EVP_blake2b512(), NULL), 1);
                assert_memory_equal(mine, theirs, 64);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc7693_vector),
                cmocka_unit_test(test_short_digests_match_b2sum),
                cmocka_unit_test(test_matches_openssl_at_every_length),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
