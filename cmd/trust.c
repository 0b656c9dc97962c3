/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common.h"
#include "config-paths.h"
#include "trust.h"

int trust_load(char **paths, size_t n_paths, struct sign_trust **ret) {
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        const char *config_path = arg_config && arg_config->path ? arg_config->path :
                                  CARTABLE_SYSCONFDIR "/cartable.conf";
        struct cart_error err = {};
        int r;

        r = sign_trust_new(&t);
        if (r < 0)
                return log_error(r, "out of memory");
        for (size_t i = 0; i < n_paths; i++) {
                r = sign_trust_add_path(t, paths[i], &err);
                if (r < 0)
                        return log_error(r, "--trust: %s", ERROR_TEXT(&err, r));
        }
        for (size_t i = 0; arg_config && i < arg_config->n_trust; i++) {
                r = sign_trust_add_path(t, arg_config->trust[i], &err);
                if (r < 0)
                        return log_error(r, "%s: [trust] key: %s", config_path,
                                         ERROR_TEXT(&err, r));
        }
        if (sign_trust_count(t) == 0)
                return log_error(-ENOKEY, "no trusted key: give --trust FILE|DIR, or set "
                                 "'key = FILE|DIR' in the [trust] section of %s", config_path);
        *ret = TAKE_PTR(t);
        return 0;
}
