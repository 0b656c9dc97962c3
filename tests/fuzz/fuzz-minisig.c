/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sign_verify(): a minisign signature text over a fixed message, against the test key. */
#include "fuzz-trust.h"

static const char message[] = "cartable fuzz message\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_strndup(data, size), *comment = NULL;
        struct cart_error err = {};
        uint8_t key_id[SIGN_KEYID_LEN];
        int r;

        r = sign_verify(fuzz_trust(), message, sizeof(message) - 1, text, &comment, key_id, &err);
        fuzz_note("verify", r, err.msg);
        FUZZ_ASSERT(r <= 0);
        FUZZ_ASSERT(r == 0 ? comment != NULL : err.msg[0] != 0);
        free(comment);
        free(text);
        return 0;
}
