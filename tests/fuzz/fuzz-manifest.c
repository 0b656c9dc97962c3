/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.json's JSON and schema layer, beneath manifest_load()'s signature check
 * (manifest_parse(), lib/release/release-internal.h). A manifest that parses must find each of
 * its files by path, and serialise to JSON that parses again to the same files.
 */
#include "fuzz.h"
#include "release/release-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(manifest_freep) struct manifest *m = NULL, *again = NULL;
        struct cart_error err = {};
        int r;

        r = manifest_parse(data, size, &m, &err);
        fuzz_note("parse", r, err.msg);
        if (r < 0) {
                FUZZ_ASSERT(err.msg[0] != 0);
                return 0;
        }
        for (size_t i = 0; i < manifest_n_files(m); i++) {
                const struct release_file *f = manifest_file(m, i);
                FUZZ_ASSERT(manifest_find(m, f->path) == f);
        }
        (void) manifest_name(m);
        (void) manifest_layout(m);
        FUZZ_ASSERT(manifest_serialise(m) == 0);
        r = manifest_parse(m->json, m->json_len, &again, &err);
        if (r < 0)
                fprintf(stderr, "re-parse: %s\n", err.msg);
        FUZZ_ASSERT(r == 0);
        FUZZ_ASSERT(manifest_n_files(again) == manifest_n_files(m));
        FUZZ_ASSERT(manifest_serial(again) == manifest_serial(m));
        return 0;
}
