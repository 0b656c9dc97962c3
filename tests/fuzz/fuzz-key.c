/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key files: sign_trust_add_path() (public), sign_key_file_info(), and
 * sign_secret_key_load() without a passphrase (an encrypted key is refused before scrypt,
 * whose cost is bounded in lib/release/sign.c but far too slow for fuzzing).
 */
#include "fuzz.h"
#include "release/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        struct sign_secret_key *k = NULL;
        struct sign_key_info info;
        struct cart_error err = {};
        char path[64];
        int fd, r;

        fd = fuzz_memfd(data, size, path);
        FUZZ_ASSERT(sign_trust_new(&t) == 0);
        r = sign_trust_add_path(t, path, &err);
        FUZZ_ASSERT(r < 0 ? sign_trust_count(t) == 0 : sign_trust_count(t) == (size_t) r);
        fuzz_note("trust", r, err.msg);
        r = sign_key_file_info(path, &info, &err);
        fuzz_note("info", r, err.msg);
        if (r == 0 && info.is_secret && !info.is_encrypted) {
                r = sign_secret_key_load(path, NULL, &k, &err);
                fuzz_note("secret", r, err.msg);
                if (r == 0) {
                        char *sig = NULL;

                        FUZZ_ASSERT(sign_message(k, "x", 1, NULL, &sig, &err) == 0);
                        free(sig);
                }
                sign_secret_key_free(k);
        }
        close(fd);
        return 0;
}
