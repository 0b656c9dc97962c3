/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bundle_open() / bundle_next() / bundle_read() over libarchive: tar or zip, plain or
 * compressed. The limits are smaller than the defaults (1 MiB of content), so that a
 * compression bomb costs milliseconds: the limit code is the same.
 */
#include "release/bundle.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(bundle_freep) struct bundle *b = NULL;
        struct bundle_limits limits;
        struct bundle_entry e;
        struct cart_error err = {};
        char path[64], buf[16384];
        int fd, r;

        fd = fuzz_memfd(data, size, path);
        bundle_limits_init(&limits);
        limits.max_files = 1000;
        limits.max_file_size = limits.max_total_size = 1024 * 1024;
        r = bundle_open(path, &limits, &b, &err);
        fuzz_note("open", r, err.msg);
        if (r == 0)
                while ((r = bundle_next(b, &e, &err)) > 0) {
                        ssize_t n;

                        FUZZ_ASSERT(e.path && e.path[0] && e.path[0] != '/');
                        if (e.is_dir)
                                continue;
                        while ((n = bundle_read(b, buf, sizeof(buf), &err)) > 0)
                                ;
                        if (n < 0)
                                break;
                }
        fuzz_note("entries", r, err.msg);
        close(fd);
        return 0;
}
