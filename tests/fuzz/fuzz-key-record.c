/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * key_record_parse(): /.cartable/key.json as a pupil may have edited it. A record that
 * parses must serialise and parse back to the same record.
 */
#include "fuzz.h"
#include "flash/key-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct key_record k, again;
        _cleanup_free_ char *json = NULL, *json_again = NULL;
        struct cart_error err = {};
        int r;

        r = key_record_parse(data, size, &k, &err);
        fuzz_note("parse", r, err.msg);
        if (r < 0) {
                FUZZ_ASSERT(err.msg[0] != 0);
                return 0;
        }
        FUZZ_ASSERT(key_record_to_json(&k, &json, &err) == 0);
        r = key_record_parse(json, strlen(json), &again, &err);
        if (r < 0)
                fprintf(stderr, "re-parse: %s\n", err.msg);
        FUZZ_ASSERT(r == 0);
        FUZZ_ASSERT(key_record_to_json(&again, &json_again, &err) == 0);
        FUZZ_ASSERT(streq(json, json_again));
        return 0;
}
