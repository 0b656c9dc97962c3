/* SPDX-License-Identifier: GPL-2.0-or-later */
/* roster_csv_read(): encoding pass, separator detection, libcsv records, header matching. */
#include "fuzz-roster.h"

static int read_csv(struct roster_ctx *c, const uint8_t *data, size_t size, struct cart_error *err) {
        return roster_csv_read(c, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* With --school, so files without a UAI column reach their rows. */
        fuzz_roster_run(data, size, "0750001A", read_csv);
        return 0;
}
