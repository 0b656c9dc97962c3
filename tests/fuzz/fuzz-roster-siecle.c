/* SPDX-License-Identifier: GPL-2.0-or-later */
/* roster_siecle_read(): both passes over SIECLE XML, or over the XML inside a zip when the
 * input starts with a zip's magic (libarchive is not instrumented: cartable's side guides). */
#include "fuzz-roster.h"

static int read_siecle(struct roster_ctx *c, const uint8_t *data, size_t size, struct cart_error *err) {
        bool is_zip = size >= 4 && memcmp(data, "PK\3\4", 4) == 0;

        return roster_siecle_read(c, is_zip, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_roster_run(data, size, NULL, read_siecle);
        return 0;
}
