/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The trusted keys a command checks signatures against. */
#pragma once

#include <stddef.h>

#include "release/sign.h"

/*
 * Every key from the command line's --trust FILE|DIR options (paths), then from the
 * configuration's [trust] key entries. Having no key at all is an error that says how to
 * give one. Logs its own error once and returns a negative errno (exit_code_for() maps it).
 */
int trust_load(char **paths, size_t n_paths, struct sign_trust **ret);
