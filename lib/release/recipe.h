/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A release recipe: an INI file under images/NAME/ (read with inih), or the same settings
 * given as command-line options. Paths in a recipe file are relative to its directory.
 *
 *   [release]    name, version, serial (integer that only goes up), time
 *   [layout]     scheme (mbr|gpt), label, min-size, alignment, cluster-size, sealed (rep.)
 *   [content]    bundle (rep., overlay order), directory, hidden, system, read-only,
 *                template (files with @VARIABLE@ placeholders), allow-domain (rep.)
 *   [variables]  NAME = value, substituted for @NAME@ in template files
 *   [personalisation]  template (file in the recipe directory), path (of the file on the key)
 *
 * Each setting also has an option name (recipe_set()): the key itself, except
 * "owner-template" and "owner-path" for [personalisation], "set" (NAME=value) for
 * [variables].
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "release/bundle.h"
#include "base/error.h"

#define RECIPE_DEFAULT_MIN_SIZE   (1 * GIB)
#define RECIPE_MIN_SIZE_MIN       (64 * MIB)    /* the smallest key a release may ask for */
#define RECIPE_DEFAULT_ALIGNMENT  (1 * MIB)
#define RECIPE_DEFAULT_LABEL      "CARTABLE"

struct strv {
        char **v;
        size_t n;
};

struct recipe {
        char *path;                  /* the recipe file, NULL when none */
        char *name, *version;
        uint64_t serial;             /* 0: not set */
        int64_t time;                /* of every entry and the manifest; valid when has_time */
        bool has_time;
        char *scheme, *label;
        uint64_t min_size, alignment;
        uint32_t cluster_size;       /* 0: the flasher chooses */
        struct strv sealed, bundles, directories, hidden, system, read_only, templates, domains;
        struct strv var_names, var_values;
        char *owner_template, *owner_path;
        struct bundle_limits limits;
};

int recipe_new(struct recipe **ret);
struct recipe *recipe_free(struct recipe *rc);
DEFINE_POINTER_CLEANUP(struct recipe, recipe_free);

/* Read a recipe file into rc. -EBADMSG with "FILE:LINE: ..." for a bad line. */
int recipe_load(struct recipe *rc, const char *path, struct cart_error *err);
/* One setting by its option name ("label", "bundle", "set" with "NAME=value"...), with
 * paths relative to the current directory. -EINVAL for a bad value, -ENOENT unknown name. */
int recipe_set(struct recipe *rc, const char *option, const char *value, struct cart_error *err);
/* Everything a build needs is there and well-formed. */
int recipe_check(const struct recipe *rc, struct cart_error *err);

/* The value of variable name, or NULL. */
const char *recipe_variable(const struct recipe *rc, const char *name);

/* "1788220800", "2026-09-01" or "2026-09-01T08:00:00Z" into seconds since the epoch. */
int recipe_parse_time(const char *s, int64_t *ret);

int strv_push(struct strv *l, const char *s);
void strv_clear(struct strv *l);
bool strv_contains(const struct strv *l, const char *s);
