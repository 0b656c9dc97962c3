/* SPDX-License-Identifier: GPL-2.0-or-later */
/* recipe_load() and recipe_check() on a recipe.ini. */
#include "fuzz.h"
#include "release/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct cart_error err = {};
        char path[64];
        int fd, r;

        fd = fuzz_memfd(data, size, path);
        FUZZ_ASSERT(recipe_new(&rc) == 0);
        r = recipe_load(rc, path, &err);
        fuzz_note("load", r, err.msg);
        if (r == 0) {
                r = recipe_check(rc, &err);
                fuzz_note("check", r, err.msg);
        }
        close(fd);
        return 0;
}
