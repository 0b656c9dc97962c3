/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable roster: what roster.c (options, list) and roster-import.c share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct roster_args {
        const char *school, *journal, *class_name;
        bool dry_run, keep_ine, json, without_key, all, force, match_names;
        char **files;
        size_t n_files;
};

/* cartable roster import, its arguments parsed. */
int roster_import_run(const struct roster_args *a);
