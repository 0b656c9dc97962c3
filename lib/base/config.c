/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>

#include "base/config.h"
#include "base/ini-util.h"
#include "config-paths.h"

struct parse_state {
        struct cart_config *c;
        struct cart_error *err;
        int r;
        int line;       /* kept by ini_parse_file_counting() */
};

static int push(char ***list, size_t *n, const char *value) {
        char **l = realloc(*list, (*n + 1) * sizeof(char *));
        if (!l)
                return -ENOMEM;
        *list = l;
        l[*n] = strdup(value);
        if (!l[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

static int set_string(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static bool is_vid_pid(const char *s) {
        if (strlen(s) != 9 || s[4] != ':')
                return false;
        for (int i = 0; i < 9; i++)
                if (i != 4 && !isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static int push_vid_pid(struct parse_state *st, char ***list, size_t *n, const char *key, const char *value) {
        char lower[10];

        if (!is_vid_pid(value))
                return cart_error_set(st->err, -EBADMSG, "%s:%d: %s = %s: expected VID:PID as four hex digits each, such as 0781:5581",
                                      st->c->path, st->line, key, value);
        for (int i = 0; i < 10; i++)
                lower[i] = (char) tolower((unsigned char) value[i]);
        return push(list, n, lower);
}

int cart_erase_from_string(const char *s, enum cart_erase *ret) {
        static const char *const names[] = { "auto", "always", "never" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i])) {
                        *ret = (enum cart_erase) i;
                        return 0;
                }
        return -EINVAL;
}

const char *cart_erase_to_string(enum cart_erase e) {
        return e == CART_ERASE_ALWAYS ? "always" : e == CART_ERASE_NEVER ? "never" : "auto";
}

static int handler(void *user, const char *section, const char *name, const char *value) {
        struct parse_state *st = user;
        struct cart_config *c = st->c;
        int lineno = st->line;
        int r = 0;

        if (streq(section, "trust") && streq(name, "key"))
                r = push(&c->trust, &c->n_trust, value);
        else if (streq(section, "policy") && (streq(name, "min-size") || streq(name, "max-size"))) {
                uint64_t v;
                if (parse_size(value, &v) < 0)
                        r = cart_error_set(st->err, -EBADMSG, "%s:%d: %s = %s: not a size (such as 512M, 8G, 256G)",
                                           c->path, lineno, name, value);
                else if (name[1] == 'i')
                        c->min_size = v;
                else
                        c->max_size = v;
        } else if (streq(section, "policy") && streq(name, "allow"))
                r = push_vid_pid(st, &c->allow, &c->n_allow, name, value);
        else if (streq(section, "policy") && streq(name, "deny"))
                r = push_vid_pid(st, &c->deny, &c->n_deny, name, value);
        else if (streq(section, "station") && streq(name, "state-dir")) {
                free(c->state_dir);
                c->state_dir = strdup(value);
                if (!c->state_dir)
                        r = -ENOMEM;
        } else if (streq(section, "station") && streq(name, "name"))
                r = set_string(&c->station_name, value);
        else if (streq(section, "journal") && streq(name, "wait")) {
                char *end;
                unsigned long v;
                errno = 0;
                v = strtoul(value, &end, 10);
                if (errno || end == value || *end || value[0] == '-' || v == 0 || v > 86400)
                        r = cart_error_set(st->err, -EBADMSG, "%s:%d: wait = %s: not a number of seconds "
                                           "(1 to 86400)", c->path, lineno, value);
                else
                        c->journal_wait = (unsigned) v;
        } else if (streq(section, "journal") && (streq(name, "path") || streq(name, "url"))) {
                bool is_url = strncmp(value, "postgresql://", 13) == 0 || strncmp(value, "postgres://", 11) == 0;
                /* One journal: the last of path and url wins, as the example file lists both. */
                if (streq(name, "url") && !is_url)
                        r = cart_error_set(st->err, -EBADMSG, "%s:%d: url = %s: not a postgresql:// URL "
                                           "(a file is path = FILE)", c->path, lineno, value);
                else
                        r = set_string(&c->journal_path, value);
        } else if (streq(section, "schools")) {
                /* The rosters give a school's UAI, never its name: the station says it. */
                r = push(&c->school_uai, &c->n_schools, name);
                if (r >= 0) {
                        size_t n = c->n_schools - 1;
                        r = push(&c->school_name, &n, value);
                        if (r < 0)
                                free(c->school_uai[--c->n_schools]);
                }
        } else if (streq(section, "flash") && streq(name, "erase")) {
                if (cart_erase_from_string(value, &c->erase) < 0)
                        r = cart_error_set(st->err, -EBADMSG, "%s:%d: erase = %s: not auto, always or never",
                                           c->path, lineno, value);
        } else
                r = cart_error_set(st->err, -EBADMSG, "%s:%d: unknown setting \"%s\" in section [%s]",
                                   c->path, lineno, name, section);
        if (r < 0) {
                st->r = r;
                return 0; /* stop: inih reports the line, we keep our message */
        }
        return 1;
}

int config_load(const char *path, struct cart_config **ret, struct cart_error *err) {
        _cleanup_(config_freep) struct cart_config *c = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        bool is_default = false;
        struct parse_state st = { .err = err };
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->min_size = CONFIG_DEFAULT_MIN_SIZE;
        c->max_size = CONFIG_DEFAULT_MAX_SIZE;
        c->state_dir = strdup(CARTABLE_STATEDIR);
        if (!c->state_dir)
                return -ENOMEM;

        if (!path || !*path) {
                path = CARTABLE_SYSCONFDIR "/cartable.conf";
                is_default = true;
        }
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && is_default) {
                        *ret = TAKE_PTR(c);
                        return 0;
                }
                return cart_error_errno(err, -errno, path, NULL);
        }
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;
        st.c = c;
        r = ini_parse_file_counting(f, handler, &st, &st.line);
        if (st.r < 0)
                return st.r;
        if (r != 0)
                return cart_error_set(err, -EBADMSG, "%s:%d: not an INI line (expected [section] or key = value)", path, r);
        if (c->min_size > c->max_size)
                return cart_error_set(err, -EBADMSG, "%s: min-size is larger than max-size", path);
        *ret = TAKE_PTR(c);
        return 0;
}

static void strv_free(char **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
}

struct cart_config *config_free(struct cart_config *c) {
        if (!c)
                return NULL;
        strv_free(c->trust, c->n_trust);
        strv_free(c->allow, c->n_allow);
        strv_free(c->deny, c->n_deny);
        free(c->state_dir);
        free(c->station_name);
        free(c->journal_path);
        strv_free(c->school_uai, c->n_schools);
        strv_free(c->school_name, c->n_schools);
        free(c->path);
        free(c);
        return NULL;
}

const char *config_school_name(const struct cart_config *c, const char *uai) {
        for (size_t i = c && uai ? c->n_schools : 0; i > 0; i--)
                if (streq(c->school_uai[i - 1], uai))
                        return c->school_name[i - 1];
        return NULL;
}
