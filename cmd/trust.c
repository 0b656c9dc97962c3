/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common.h"
#include "config-paths.h"
#include "trust.h"

int trust_args_add(struct trust_args *t, const char *path) {
        char **l = reallocarray(t->paths, t->n_paths + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        t->paths = l;
        l[t->n_paths++] = (char *) path;
        return 0;
}

void trust_args_done(struct trust_args *t) {
        free(t->paths);
        t->paths = NULL;
        t->n_paths = 0;
}

int trust_load(const struct trust_args *t, struct sign_trust **ret) {
        struct cart_error err = {};
        int r;

        if (!trust_is_given(t)) {
                /* Nothing to check a signature with: a missing input (66), said once, not a
                 * signature that failed (3). */
                log_error(-ENOKEY, _("no trusted key: give --trust FILE|DIR, or set 'key = FILE|DIR' in the [trust] "
                                     "section of %s"), arg_config && arg_config->path ? arg_config->path : CARTABLE_SYSCONFDIR "/cartable.conf");
                return -ENOENT;
        }
        r = sign_trust_load(t->paths, t->n_paths, arg_config, ret, &err);
        return r < 0 ? log_error(r, "%s", ERROR_TEXT(&err, r)) : 0;
}

bool trust_is_given(const struct trust_args *t) {
        return t->n_paths > 0 || (arg_config && arg_config->n_trust > 0);
}
