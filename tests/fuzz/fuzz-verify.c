/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * verify_key() on a hostile key: partition table, FAT volume, /.cartable/manifest.json and
 * its signature (seeds are keys flashed with a release signed by tests/fuzz/test.key, so
 * mutations of the volume get past the signature), then every file. The input is a sparse
 * 80 MiB disk (fuzz-volume.h).
 */
#include "fuzz-trust.h"
#include "fuzz-volume.h"
#include "flash/verify.h"

#define FUZZ_DISK_SIZE (80 * MIB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(verify_result_freep) struct verify_result *res = NULL;
        struct volume v = { .size = FUZZ_DISK_SIZE };
        struct cart_error err = {};
        int r;

        volume_parse(data, size, &v);
        r = verify_key(volume_read, &v, FUZZ_DISK_SIZE, fuzz_trust(), &res, &err);
        fuzz_note("verify", r, err.msg);
        if (r == 0) {
                FUZZ_ASSERT(res->volume_size <= FUZZ_DISK_SIZE &&
                            res->volume_offset <= FUZZ_DISK_SIZE - res->volume_size);
                fuzz_note(verify_result_is_intact(res) ? "intact" : "not intact", 0, NULL);
                for (size_t i = 0; i < res->n_entries; i++)
                        FUZZ_ASSERT(res->entries[i].path != NULL);
        }
        free(v.records);
        return 0;
}
