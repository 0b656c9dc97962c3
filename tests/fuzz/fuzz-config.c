/* SPDX-License-Identifier: GPL-2.0-or-later */
/* config_load() on the station's configuration file. */
#include "base/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct cart_config *c = NULL;
        struct cart_error err = {};
        char path[64];
        int fd, r;

        fd = fuzz_memfd(data, size, path);
        r = config_load(path, &c, &err);
        fuzz_note("load", r, err.msg);
        if (r == 0)
                FUZZ_ASSERT(c != NULL);
        config_free(c);
        close(fd);
        return 0;
}
