/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The --trust FILE|DIR option, parsed the same way by every command that checks a
 * signature (flash, verify, image export, image verify and show, key verify): repeatable;
 * the paths given replace the configuration's [trust] keys.
 */
#pragma once

#include <stddef.h>

#include "release/sign.h"

struct trust_args {
        char **paths;
        size_t n_paths;
};

#define TRUST_OPTION(val) { "trust", required_argument, NULL, (val) }

/* One --trust argument (borrowed, from argv). -ENOMEM. */
int trust_args_add(struct trust_args *t, const char *path);
void trust_args_done(struct trust_args *t);

/* The command line's or the configuration's keys (sign_trust_load()). Logs its own error
 * once and returns a negative errno (exit_code_for() maps it). */
int trust_load(const struct trust_args *t, struct sign_trust **ret);

/* True when there is a key to check against: --trust given, or [trust] key configured. */
bool trust_is_given(const struct trust_args *t);
