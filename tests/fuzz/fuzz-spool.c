/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spool_parse(): a key's end kept in STATE_DIR/journal-spool/ while the journal server was
 * away. Local, but still input (a disk that filled up, a hand edit): refused with words,
 * never a crash.
 */
#include "fuzz.h"
#include "batch/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct cart_error err = {};
        int r;

        r = spool_parse(data, size, &err);
        fuzz_note("parse", r, err.msg);
        if (r < 0)
                FUZZ_ASSERT(r == -ENOMEM || err.msg[0] != 0);
        return 0;
}
