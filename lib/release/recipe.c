/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <libgen.h>
#include <time.h>

#include "base/ini-util.h"
#include "release/recipe.h"
#include "release/release.h"

int strv_push(struct strv *l, const char *s) {
        char **v = realloc(l->v, (l->n + 2) * sizeof(char *));

        if (!v)
                return -ENOMEM;
        l->v = v;
        v[l->n] = strdup(s);
        if (!v[l->n])
                return -ENOMEM;
        v[++l->n] = NULL;
        return 0;
}

void strv_clear(struct strv *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (struct strv) {};
}

bool strv_contains(const struct strv *l, const char *s) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->v[i], s))
                        return true;
        return false;
}

enum kind { K_STRING, K_LIST, K_SERIAL, K_SIZE, K_CLUSTER, K_TIME, K_PATH, K_PATH_LIST };

static const struct setting {
        const char *section, *key, *option;
        enum kind kind;
        size_t offset;
} settings[] = {
#define S(sec, key, opt, kind, field) { sec, key, opt, kind, offsetof(struct recipe, field) }
        S("release", "name", "name", K_STRING, name),
        S("release", "version", "version", K_STRING, version),
        S("release", "serial", "serial", K_SERIAL, serial),
        S("release", "time", "time", K_TIME, time),
        S("layout", "scheme", "scheme", K_STRING, scheme),
        S("layout", "label", "label", K_STRING, label),
        S("layout", "min-size", "min-size", K_SIZE, min_size),
        S("layout", "alignment", "alignment", K_SIZE, alignment),
        S("layout", "cluster-size", "cluster-size", K_CLUSTER, cluster_size),
        S("layout", "sealed", "sealed", K_LIST, sealed),
        S("content", "bundle", "bundle", K_PATH_LIST, bundles),
        S("content", "directory", "directory", K_LIST, directories),
        S("content", "hidden", "hidden", K_LIST, hidden),
        S("content", "system", "system", K_LIST, system),
        S("content", "read-only", "read-only", K_LIST, read_only),
        S("content", "template", "template", K_LIST, templates),
        S("content", "allow-domain", "allow-domain", K_LIST, domains),
        S("personalisation", "template", "owner-template", K_PATH, owner_template),
        S("personalisation", "path", "owner-path", K_STRING, owner_path),
#undef S
};

int recipe_new(struct recipe **ret) {
        struct recipe *rc = calloc(1, sizeof(*rc));

        if (!rc)
                return -ENOMEM;
        rc->min_size = RECIPE_DEFAULT_MIN_SIZE;
        rc->alignment = RECIPE_DEFAULT_ALIGNMENT;
        bundle_limits_init(&rc->limits);
        *ret = rc;
        return 0;
}

struct recipe *recipe_free(struct recipe *rc) {
        if (!rc)
                return NULL;
        free(rc->path);
        free(rc->name);
        free(rc->version);
        free(rc->scheme);
        free(rc->label);
        free(rc->owner_template);
        free(rc->owner_path);
        struct strv *lists[] = { &rc->sealed, &rc->bundles, &rc->directories, &rc->hidden, &rc->system,
                                 &rc->read_only, &rc->templates, &rc->domains, &rc->var_names, &rc->var_values };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                strv_clear(lists[i]);
        free(rc);
        return NULL;
}

int recipe_parse_time(const char *s, int64_t *ret) {
        struct tm tm = {};
        const char *end;
        char *e;

        if (!*s)
                return -EINVAL;
        if (strspn(s, "0123456789") == strlen(s)) {
                errno = 0;
                unsigned long long v = strtoull(s, &e, 10);
                if (errno || v > INT64_MAX / 2)
                        return -EINVAL;
                *ret = (int64_t) v;
                return 0;
        }
        end = strptime(s, "%Y-%m-%d", &tm);
        if (end && *end == 'T')
                end = strptime(end, "T%H:%M:%SZ", &tm);
        if (!end || *end)
                return -EINVAL;
        *ret = (int64_t) timegm(&tm);
        return 0;
}

/* A relative path in a recipe file is relative to the recipe's directory. */
static int resolve(const char *base_dir, const char *value, char **ret) {
        if (!base_dir || value[0] == '/')
                *ret = strdup(value);
        else if (asprintf(ret, "%s/%s", base_dir, value) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

static int set_variable(struct recipe *rc, const char *name, const char *value, struct cart_error *err) {
        if (!isupper((unsigned char) name[0]) || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(name))
                return cart_error_set(err, -EINVAL, "variable \"%s\": names are upper-case letters, digits and '_'", name);
        for (size_t i = 0; i < rc->var_names.n; i++)
                if (streq(rc->var_names.v[i], name)) {
                        char *v = strdup(value);
                        if (!v)
                                return -ENOMEM;
                        free(rc->var_values.v[i]);
                        rc->var_values.v[i] = v;
                        return 0;
                }
        if (strv_push(&rc->var_names, name) < 0 || strv_push(&rc->var_values, value) < 0)
                return -ENOMEM;
        return 0;
}

static int apply(struct recipe *rc, const struct setting *s, const char *value, const char *base_dir,
                 struct cart_error *err) {
        void *field = (char *) rc + s->offset;
        _cleanup_free_ char *resolved = NULL;
        uint64_t v;
        int r;

        switch (s->kind) {
        case K_STRING:
        case K_PATH:
                if (s->kind == K_PATH)
                        r = resolve(base_dir, value, &resolved);
                else
                        r = (resolved = strdup(value)) ? 0 : -ENOMEM;
                if (r < 0)
                        return r;
                free(*(char **) field);
                *(char **) field = TAKE_PTR(resolved);
                return 0;
        case K_LIST:
                return strv_push(field, value);
        case K_PATH_LIST:
                r = resolve(base_dir, value, &resolved);
                return r < 0 ? r : strv_push(field, resolved);
        case K_SERIAL:
                if (!isdigit((unsigned char) value[0]) || strspn(value, "0123456789") != strlen(value) ||
                    parse_size(value, &v) < 0 || v == 0 || v > INT64_MAX)
                        return cart_error_set(err, -EINVAL, "serial = %s: expected a positive integer", value);
                rc->serial = v;
                return 0;
        case K_SIZE:
        case K_CLUSTER:
                if (parse_size(value, &v) < 0 || (s->kind == K_CLUSTER && v > UINT32_MAX))
                        return cart_error_set(err, -EINVAL, "%s = %s: not a size (such as 512, 32K, 1M, 8G)", s->key, value);
                if (s->kind == K_CLUSTER)
                        rc->cluster_size = (uint32_t) v;
                else
                        *(uint64_t *) field = v;
                return 0;
        case K_TIME:
                if (recipe_parse_time(value, &rc->time) < 0)
                        return cart_error_set(err, -EINVAL, "time = %s: expected seconds since 1970 or 2026-09-01[T08:00:00Z]", value);
                rc->has_time = true;
                return 0;
        }
        return -EINVAL;
}

int recipe_set(struct recipe *rc, const char *option, const char *value, struct cart_error *err) {
        if (streq(option, "set")) {
                _cleanup_free_ char *name = strdup(value);
                char *eq;

                if (!name)
                        return -ENOMEM;
                eq = strchr(name, '=');
                if (!eq)
                        return cart_error_set(err, -EINVAL, "--set %s: expected NAME=value", value);
                *eq = 0;
                return set_variable(rc, name, eq + 1, err);
        }
        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                if (streq(settings[i].option, option))
                        return apply(rc, &settings[i], value, NULL, err);
        return cart_error_set(err, -ENOENT, "unknown recipe setting \"%s\"", option);
}

struct parse_state {
        struct recipe *rc;
        const char *dir;
        struct cart_error *err;
        int r;
        int line;       /* kept by ini_parse_file_counting() */
};

/* A recipe diagnostic: bad-input, the recipe file and its line as arguments. */
static int recipe_where(struct cart_error *err, const char *path, int line) {
        cart_error_where(err, -EBADMSG, CART_REASON_BAD_INPUT, path, NULL);
        if (err && err->reason == CART_REASON_BAD_INPUT)
                err->line = (unsigned) line;
        return -EBADMSG;
}

static int handler(void *user, const char *section, const char *key, const char *value) {
        struct parse_state *st = user;
        int r = -ENOENT;

        if (streq(section, "variables"))
                r = set_variable(st->rc, key, value, st->err);
        else
                for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                        if (streq(settings[i].section, section) && streq(settings[i].key, key)) {
                                r = apply(st->rc, &settings[i], value, st->dir, st->err);
                                break;
                        }
        if (r == -ENOENT)
                r = cart_error_set(st->err, -EBADMSG, "unknown setting \"%s\" in section [%s]", key, section);
        if (r < 0) {
                st->r = cart_error_prefix(st->err, r == -ENOMEM ? r : -EBADMSG, "%s:%d", st->rc->path, st->line);
                if (st->r == -EBADMSG)
                        recipe_where(st->err, st->rc->path, st->line);
                return 0;
        }
        return 1;
}

int recipe_load(struct recipe *rc, const char *path, struct cart_error *err) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *copy = NULL;
        struct parse_state st = { .rc = rc, .err = err };
        int r;

        f = fopen(path, "re");
        if (!f)
                return cart_error_errno(err, -errno, path, NULL);
        free(rc->path);
        rc->path = strdup(path);
        copy = strdup(path);
        if (!rc->path || !copy)
                return -ENOMEM;
        st.dir = dirname(copy);
        r = ini_parse_file_counting(f, handler, &st, &st.line);
        if (st.r < 0)
                return st.r;
        if (r != 0) {
                cart_error_set(err, -EBADMSG, "%s:%d: not an INI line (expected [section] or key = value)", path, r);
                return recipe_where(err, path, r);
        }
        return 0;
}

const char *recipe_variable(const struct recipe *rc, const char *name) {
        for (size_t i = 0; i < rc->var_names.n; i++)
                if (streq(rc->var_names.v[i], name))
                        return rc->var_values.v[i];
        return NULL;
}

/* Names that end up in the state file and the trusted comment: no spaces, tabs or quotes. */
static bool is_token(const char *s) {
        if (!*s || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("._+-~", *s))
                        return false;
        return true;
}

static bool is_domain(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || strstr(s, ".."))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static int check_paths(const struct strv *l, const char *what, struct cart_error *err) {
        for (size_t i = 0; i < l->n; i++) {
                int r = fat_check_path(l->v[i], err);
                if (r < 0)
                        return cart_error_prefix(err, r, "%s %s", what, l->v[i]);
        }
        return 0;
}

int recipe_check(const struct recipe *rc, struct cart_error *err) {
        const char *where = rc->path ?: "recipe";
        uint64_t floor;
        int r;

        if (!rc->name)
                return cart_error_set(err, -EINVAL, "%s: name: missing (--name)", where);
        if (!is_token(rc->name))
                return cart_error_set(err, -EINVAL, "%s: name: letters, digits and . _ + - ~ only (at most 64)", where);
        if (!rc->version)
                return cart_error_set(err, -EINVAL, "%s: version: missing (--version)", where);
        if (!is_token(rc->version))
                return cart_error_set(err, -EINVAL, "%s: version: letters, digits and . _ + - ~ only (at most 64)", where);
        if (rc->serial == 0)
                return cart_error_set(err, -EINVAL, "%s: serial: missing (--serial)", where);
        if (rc->scheme && !streq(rc->scheme, "mbr") && !streq(rc->scheme, "gpt"))
                return cart_error_set(err, -EINVAL, "%s: scheme = %s: expected mbr or gpt", where, rc->scheme);
        r = fat_check_label(rc->label ?: RECIPE_DEFAULT_LABEL, err);
        if (r < 0)
                return cart_error_prefix(err, r, "%s: label", where);
        if (rc->min_size < RECIPE_MIN_SIZE_MIN || rc->min_size > FAT_VOLUME_MAX)
                return cart_error_set(err, -EINVAL, "%s: min-size: between 64M and 2T", where);
        if (rc->alignment < 512 || rc->alignment > 64 * MIB || (rc->alignment & (rc->alignment - 1)))
                return cart_error_set(err, -EINVAL, "%s: alignment: a power of two from 512 to 64M", where);
        floor = release_layout_floor(rc->alignment, rc->scheme && streq(rc->scheme, "gpt"));
        if (rc->min_size < floor) {
                return cart_error_set(err, -EINVAL, "%s: min-size %s: a key that small cannot hold a partition aligned to %s "
                                      "and a FAT32 volume; give min-size %" PRIu64 "M or more, or a smaller alignment",
                                      where, size_arg(rc->min_size), size_arg(rc->alignment),
                                      DIV_ROUND_UP(floor, MIB));
        }
        if (rc->cluster_size && (rc->cluster_size < 512 || rc->cluster_size > 32 * KIB ||
                                 (rc->cluster_size & (rc->cluster_size - 1))))
                return cart_error_set(err, -EINVAL, "%s: cluster-size: a power of two from 512 to 32K", where);
        if (rc->bundles.n == 0)
                return cart_error_set(err, -EINVAL, "%s: no bundle (bundle = in [content], or arguments)", where);
        if (!!rc->owner_template != !!rc->owner_path)
                return cart_error_set(err, -EINVAL, "%s: personalisation needs both template and path", where);
        if (rc->owner_path && (r = fat_check_path(rc->owner_path, err)) < 0)
                return cart_error_prefix(err, r, "%s: personalisation path", where);
        for (size_t i = 0; i < rc->domains.n; i++)
                if (!is_domain(rc->domains.v[i]))
                        return cart_error_set(err, -EINVAL, "%s: allow-domain = %s: a lower-case host name such as ent.example.fr",
                                              where, rc->domains.v[i]);
        if ((r = check_paths(&rc->sealed, "sealed", err)) < 0 ||
            (r = check_paths(&rc->directories, "directory", err)) < 0 ||
            (r = check_paths(&rc->hidden, "hidden", err)) < 0 ||
            (r = check_paths(&rc->system, "system", err)) < 0 ||
            (r = check_paths(&rc->read_only, "read-only", err)) < 0 ||
            (r = check_paths(&rc->templates, "template", err)) < 0)
                return cart_error_prefix(err, r, "%s", where);
        if (rc->limits.max_file_size > FAT_FILE_MAX)
                return cart_error_set(err, -EINVAL, "max-file-size: at most 4 GiB - 1 (FAT32)");
        return 0;
}

uint64_t release_layout_floor(uint64_t alignment, bool is_gpt) {
        alignment = alignment ? alignment : MIB;
        /* libfdisk ends a GPT partition on an alignment boundary before the backup table. */
        return alignment + FAT_VOLUME_MIN + (is_gpt ? MAX(alignment, MIB) : MIB);
}
