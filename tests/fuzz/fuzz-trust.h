/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A trust set holding only the fuzz test key (tests/fuzz/test.pub), made once. */
#pragma once

#include "fuzz.h"
#include "release/sign.h"

static inline const struct sign_trust *fuzz_trust(void) {
        static struct sign_trust *t;
        struct cart_error err = {};
        char path[64];
        int fd;

        if (t)
                return t;
        fd = fuzz_memfd((const uint8_t *) FUZZ_TEST_PUBKEY, strlen(FUZZ_TEST_PUBKEY), path);
        if (sign_trust_new(&t) < 0 || sign_trust_add_path(t, path, &err) != 1) {
                fprintf(stderr, "fuzz: cannot load the test key: %s\n", err.msg);
                abort();
        }
        close(fd);
        return t;
}
