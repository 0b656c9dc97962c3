/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * release_open() on a .cart file: first against the test key (seeds are signed with
 * tests/fuzz/test.key, so mutations of the tar and payload pass the signature), then
 * unverified, as `cartable image show` opens it. Every payload of an opened release is
 * read back through release_read().
 */
#include "fuzz-trust.h"
#include "release/release.h"

static void read_all(struct release *rel) {
        const struct manifest *m = release_manifest(rel);
        uint8_t buf[4096];

        for (size_t i = 0; i < manifest_n_files(m); i++) {
                const struct release_file *f = manifest_file(m, i);

                for (uint64_t pos = 0; !f->is_dir && pos < f->size; pos += sizeof(buf)) {
                        size_t n = (size_t) MIN((uint64_t) sizeof(buf), f->size - pos);
                        FUZZ_ASSERT(release_read(rel, buf, n, f->data_offset + pos) == 0);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const unsigned modes[] = { 0, RELEASE_OPEN_UNVERIFIED };
        struct cart_error err = {};
        char path[64];
        int fd;

        fd = fuzz_memfd(data, size, path);
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                _cleanup_(release_unrefp) struct release *rel = NULL;
                const struct sign_trust *trust = modes[i] ? NULL : fuzz_trust();

                int r = release_open(path, trust, modes[i], &rel, &err);

                fuzz_note(trust ? "open" : "open unverified", r, err.msg);
                if (r == 0) {
                        FUZZ_ASSERT(manifest_is_verified(release_manifest(rel)) == !modes[i]);
                        read_all(rel);
                }
        }
        close(fd);
        return 0;
}
