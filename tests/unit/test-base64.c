/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/base64.h"
#include "base/util.h"

/* RFC 4648 section 10 test vectors, both ways. */
static void test_rfc4648_vectors(void **state) {
        static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
        static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
        char enc[16];
        uint8_t dec[16];

        for (size_t i = 0; i < ELEMENTSOF(plain); i++) {
                base64_encode(plain[i], strlen(plain[i]), enc);
                assert_string_equal(enc, coded[i]);
                assert_int_equal(strlen(enc), BASE64_ENCODED_LEN(strlen(plain[i])));
                assert_int_equal(base64_decode(coded[i], strlen(coded[i]), dec, sizeof(dec)),
                                 (int) strlen(plain[i]));
                assert_memory_equal(dec, plain[i], strlen(plain[i]));
        }
}

static void test_all_byte_values_round_trip(void **state) {
        uint8_t in[256], out[256];
        char enc[BASE64_ENCODED_LEN(256) + 1];

        for (int i = 0; i < 256; i++)
                in[i] = (uint8_t) (255 - i);
        for (size_t n = 0; n <= sizeof(in); n += 37) {
                base64_encode(in, n, enc);
                assert_int_equal(base64_decode(enc, strlen(enc), out, sizeof(out)), (int) n);
                assert_memory_equal(in, out, n);
        }
}

static void test_strict_decoding(void **state) {
        uint8_t out[16];

        assert_int_equal(base64_decode("Zm9", 3, out, sizeof(out)), -EINVAL);       /* length */
        assert_int_equal(base64_decode("Zm 9v", 5, out, sizeof(out)), -EINVAL);     /* space */
        assert_int_equal(base64_decode("Zm9v\n", 5, out, sizeof(out)), -EINVAL);
        assert_int_equal(base64_decode("Z=9v", 4, out, sizeof(out)), -EINVAL);      /* inner pad */
        assert_int_equal(base64_decode("Zg==Zg==", 8, out, sizeof(out)), -EINVAL);  /* pad, then more */
        assert_int_equal(base64_decode("=Zg=", 4, out, sizeof(out)), -EINVAL);
        assert_int_equal(base64_decode("Zm-v", 4, out, sizeof(out)), -EINVAL);      /* url alphabet */
        assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5), -ENOBUFS);
        assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 5), 5);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc4648_vectors),
                cmocka_unit_test(test_all_byte_values_round_trip),
                cmocka_unit_test(test_strict_decoding),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
