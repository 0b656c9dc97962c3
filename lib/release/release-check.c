/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a build refuses beyond names: links to domains the département does not control,
 * an autorun.inf that starts a program, template variables nobody defined, attributes or
 * sealed directories naming nothing, personal data in the owner template, and content
 * that cannot fit on the smallest key.
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <strings.h>
#include <sys/stat.h>

#include "release/release-build.h"

static bool has_suffix_ci(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool is_link_checked(const char *path) {
        return has_suffix_ci(path, ".html") || has_suffix_ci(path, ".htm") ||
               has_suffix_ci(path, ".url") || has_suffix_ci(path, ".txt");
}

static bool is_autorun(const char *path) {
        return strcasecmp(path, "autorun.inf") == 0;
}

bool builder_needs_whole(const struct builder *b, const char *path) {
        return strv_contains(&b->rc->templates, path) || is_autorun(path) ||
               (b->rc->domains.n > 0 && is_link_checked(path));
}

/* @NAME@ replaced by the recipe's variables; an undefined one is an error. */
static int substitute(struct builder *b, const char *origin, const char *path, const char *text, size_t len,
                      char **ret, size_t *ret_len) {
        _cleanup_free_ char *out = NULL;
        _cleanup_fclose_ FILE *s = NULL;
        size_t out_len = 0;

        s = open_memstream(&out, &out_len);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                size_t j = i + 1;
                const char *v;
                while (j < len && (isupper((unsigned char) text[j]) || isdigit((unsigned char) text[j]) || text[j] == '_'))
                        j++;
                if (text[i] != '@' || j == i + 1 || j >= len || text[j] != '@' || !isupper((unsigned char) text[i + 1])) {
                        fputc(text[i], s);
                        continue;
                }
                _cleanup_free_ char *name = strndup(text + i + 1, j - i - 1);
                if (!name)
                        return -ENOMEM;
                v = recipe_variable(b->rc, name);
                if (!v)
                        return cart_error_set(b->err, -EINVAL, "%s: %s: @%s@ is not defined (a [variables] entry or --set %s=...)",
                                              origin, path, name, name);
                fputs(v, s);
                i = j;
        }
        if (fflush(s) != 0)
                return -ENOMEM;
        fclose(TAKE_PTR(s));
        *ret_len = out_len;
        *ret = TAKE_PTR(out);
        return 0;
}

static bool domain_allowed(const struct strv *domains, const char *host) {
        size_t n = strlen(host);

        for (size_t i = 0; i < domains->n; i++) {
                size_t m = strlen(domains->v[i]);
                if (streq(host, domains->v[i]) ||
                    (n > m && host[n - m - 1] == '.' && streq(host + n - m, domains->v[i])))
                        return true;
        }
        return false;
}

/* Every http(s) link must go to an allowed domain (or one of its subdomains). */
static int check_links(struct builder *b, const char *origin, const char *path, const char *text, size_t len) {
        for (size_t i = 0; i < len; i++) {
                size_t start, end, host;
                char hostname[256];

                if (len - i >= 7 && strncasecmp(text + i, "http://", 7) == 0)
                        start = i + 7;
                else if (len - i >= 8 && strncasecmp(text + i, "https://", 8) == 0)
                        start = i + 8;
                else
                        continue;
                /* The authority ends at the path, query, fragment or anything that ends a URL in text. */
                for (end = start; end < len && !strchr("/?#\"'<>\\ \t\r\n()[]{}|", text[end]) && (unsigned char) text[end] >= 0x20; end++)
                        ;
                host = start;
                for (size_t k = start; k < end; k++)
                        if (text[k] == '@')
                                host = k + 1;    /* user@host: the host is what counts */
                size_t hlen = end - host;
                for (size_t k = host; k < end; k++)
                        if (text[k] == ':') {
                                hlen = k - host;
                                break;
                        }
                while (hlen > 0 && text[host + hlen - 1] == '.')
                        hlen--;
                if (hlen >= sizeof(hostname))
                        hlen = sizeof(hostname) - 1;
                for (size_t k = 0; k < hlen; k++)
                        hostname[k] = (char) tolower((unsigned char) text[host + k]);
                hostname[hlen] = 0;
                if (!domain_allowed(&b->rc->domains, hostname)) {
                        size_t shown = end - i;
                        while (i + shown < len && shown < 200 && !strchr("\"'<> \t\r\n", text[i + shown]))
                                shown++;
                        return cart_error_set(b->err, -EINVAL, "%s: %s: link to %.*s: %s is not an allowed domain (allow-domain)",
                                              origin, path, (int) shown, text + i, hlen ? hostname : "(no host)");
                }
                i = end - 1;
        }
        return 0;
}

/* AutoRun from USB has been off since 2009 and was a malware vector: icon and label only. */
static int check_autorun(struct builder *b, const char *origin, const char *path, const char *text, size_t len) {
        const char *p = text, *end = text + len;

        for (unsigned line = 1; p < end; line++) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)) ?: end;
                const char *k = p, *eq;

                while (k < eol && isspace((unsigned char) *k))
                        k++;
                eq = memchr(k, '=', (size_t) (eol - k));
                if (eq && *k != ';' && *k != '[') {
                        size_t n = (size_t) (eq - k);
                        while (n > 0 && isspace((unsigned char) k[n - 1]))
                                n--;
                        if ((n == 4 && strncasecmp(k, "open", 4) == 0) ||
                            (n == 12 && strncasecmp(k, "shellexecute", 12) == 0) ||
                            (n == 11 && strncasecmp(k, "useautoplay", 11) == 0) ||
                            (n > 6 && strncasecmp(k, "shell\\", 6) == 0))
                                return cart_error_set(b->err, -EINVAL,
                                                      "%s: %s: line %u: \"%.*s\" would start a program; an autorun.inf may only give an icon and a label",
                                                      origin, path, line, (int) n, k);
                }
                p = eol + 1;
        }
        return 0;
}

int builder_store_text(struct builder *b, struct build_entry *e, const char *origin, char *text, size_t len) {
        _cleanup_free_ char *subst = NULL;
        int r;

        if (strv_contains(&b->rc->templates, e->path)) {
                r = substitute(b, origin, e->path, text, len, &subst, &len);
                if (r < 0)
                        return r;
                text = subst;
        }
        if (b->rc->domains.n > 0 && is_link_checked(e->path)) {
                r = check_links(b, origin, e->path, text, len);
                if (r < 0)
                        return r;
        }
        if (is_autorun(e->path)) {
                r = check_autorun(b, origin, e->path, text, len);
                if (r < 0)
                        return r;
        }
        return builder_store(b, e, text, len);
}

static int add_recipe_directories(struct builder *b) {
        struct build_entry *e;
        int r;

        for (size_t i = 0; i < b->rc->directories.n; i++) {
                e = builder_find(b, b->rc->directories.v[i]);
                if (e && e->is_dir)
                        continue;
                r = builder_add(b, b->rc->directories.v[i], true, b->max_mtime, "recipe", &e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A path named by the recipe must be in the tree, spelt exactly (and be a directory if asked). */
static int find_named(struct builder *b, const char *setting, const char *path, bool want_dir,
                      struct build_entry **ret) {
        struct build_entry *e = builder_find(b, path);

        if (!e || !streq(e->path, path))
                return e ? cart_error_set(b->err, -EINVAL, "%s %s: not in the bundles; they spell it %s", setting, path, e->path) :
                           cart_error_set(b->err, -EINVAL, "%s %s: not in the bundles", setting, path);
        if (want_dir && !e->is_dir)
                return cart_error_set(b->err, -EINVAL, "%s %s: a file, not a directory", setting, path);
        if (ret)
                *ret = e;
        return 0;
}

/* An attribute on a directory applies to everything under it. */
static int apply_attribute(struct builder *b, const struct strv *paths, const char *setting, uint8_t bit) {
        for (size_t i = 0; i < paths->n; i++) {
                const char *p = paths->v[i];
                size_t n = strlen(p);
                int r = find_named(b, setting, p, false, NULL);

                if (r < 0)
                        return r;
                for (size_t j = 0; j < b->n; j++)
                        if (strncmp(b->entries[j].path, p, n) == 0 &&
                            (b->entries[j].path[n] == 0 || b->entries[j].path[n] == '/'))
                                b->entries[j].attrs |= bit;
        }
        return 0;
}

static int load_owner_template(struct builder *b) {
        const struct recipe *rc = b->rc;
        _cleanup_free_ char *text = NULL;
        const char *slash;
        size_t len;
        int r;

        if (!rc->owner_template)
                return 0;
        r = read_small_file(rc->owner_template, OWNER_TEMPLATE_MAX, &text, &len);
        if (r == -EINVAL || r == -EFBIG)
                return cart_error_set(b->err, -EFBIG, "%s: not a file of at most %" PRIu64 " bytes",
                                      rc->owner_template, (uint64_t) OWNER_TEMPLATE_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cart_error_errno(b->err, r, rc->owner_template, NULL);
        r = owner_template_check(text, len, rc->owner_template, b->err);
        if (r < 0)
                return r;
        if (builder_find(b, rc->owner_path))
                return cart_error_set(b->err, -EEXIST, "personalisation path %s: already a file of the bundles",
                                      rc->owner_path);
        slash = strrchr(rc->owner_path, '/');
        if (slash) {
                _cleanup_free_ char *dir = strndup(rc->owner_path, (size_t) (slash - rc->owner_path));
                if (!dir)
                        return -ENOMEM;
                r = find_named(b, "personalisation path's directory", dir, true, NULL);
                if (r < 0)
                        return r;
        }
        b->owner_template = TAKE_PTR(text);
        return 0;
}

/* UTF-16 units of a UTF-8 name: one per code point, two past U+FFFF. */
static size_t utf16_units(const char *s, size_t n) {
        size_t units = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if ((c & 0xC0) != 0x80)
                        units += c >= 0xF0 ? 2 : 1;
        }
        return units;
}

/*
 * A conservative estimate of what the tree takes on the smallest key: each file rounded
 * up to clusters, each directory with a long-name entry per child, both FATs, the reserved
 * sectors, the partition alignment (and GPT's backup at the end), /.cartable. The flasher
 * lays the volume out exactly; this only refuses what cannot possibly fit.
 */
static int check_fits(struct builder *b) {
        const struct recipe *rc = b->rc;
        uint64_t cs = rc->cluster_size ?: fat_default_cluster_size(rc->min_size);
        uint64_t *dir_bytes, clusters = 0, overhead, volume_clusters, avail;

        dir_bytes = calloc(b->n + 1, sizeof(uint64_t));    /* [n]: the root */
        if (!dir_bytes)
                return -ENOMEM;
        dir_bytes[b->n] = 3 * 32;   /* label entry; "." and ".." elsewhere */
        for (size_t i = 0; i < b->n; i++) {
                const struct build_entry *e = &b->entries[i];
                const char *slash = strrchr(e->path, '/'), *name = slash ? slash + 1 : e->path;
                size_t parent = b->n;

                if (slash) {
                        _cleanup_free_ char *dir = strndup(e->path, (size_t) (slash - e->path));
                        const struct build_entry *p = dir ? builder_find(b, dir) : NULL;
                        if (p)
                                parent = (size_t) (p - b->entries);
                }
                dir_bytes[parent] += 32 * (1 + DIV_ROUND_UP(utf16_units(name, strlen(name)), 13));
                if (e->is_dir)
                        dir_bytes[i] += 2 * 32;
                else
                        clusters += DIV_ROUND_UP(e->size, cs);
        }
        for (size_t i = 0; i <= b->n; i++) {
                if (i < b->n && !b->entries[i].is_dir)
                        continue;
                /* fatgen103 §6: a directory holds at most 65536 entries, long names included. */
                if (dir_bytes[i] > (uint64_t) FAT_DIR_ENTRIES_MAX * 32) {
                        free(dir_bytes);
                        return cart_error_set(b->err, -E2BIG, "%s: too many entries for one FAT directory (at most %d, long names count several)",
                                              i == b->n ? W_("the root directory") : b->entries[i].path, FAT_DIR_ENTRIES_MAX);
                }
                clusters += MAX(DIV_ROUND_UP(dir_bytes[i], cs), 1);
        }
        free(dir_bytes);
        /* /.cartable: the directory, manifest (about 300 bytes a file), signature, owner file. */
        clusters += 1 + DIV_ROUND_UP(4096 + 320 * b->n, cs) + 1 + 2;
        volume_clusters = rc->min_size / cs;
        overhead = rc->alignment + (rc->scheme && streq(rc->scheme, "gpt") ? MIB : 0) + 32 * 512 +
                   2 * ALIGN_POW2(4 * (volume_clusters + 2), 512) + rc->alignment;
        avail = rc->min_size > overhead ? (rc->min_size - overhead) / cs : 0;
        if (clusters > avail)
                return cart_error_set(b->err, -ENOSPC, "the content needs about %s but a %s key holds about %s (min-size)",
                                      size_arg(clusters * cs), size_arg(rc->min_size), size_arg(avail * cs));
        return 0;
}

int builder_check_tree(struct builder *b) {
        const struct recipe *rc = b->rc;
        int r;

        if ((r = add_recipe_directories(b)) < 0 ||
            (r = apply_attribute(b, &rc->hidden, "hidden", FAT_ATTR_HIDDEN)) < 0 ||
            (r = apply_attribute(b, &rc->system, "system", FAT_ATTR_SYSTEM)) < 0 ||
            (r = apply_attribute(b, &rc->read_only, "read-only", FAT_ATTR_READ_ONLY)) < 0)
                return r;
        for (size_t i = 0; i < rc->templates.n; i++) {
                struct build_entry *e;
                if ((r = find_named(b, "template", rc->templates.v[i], false, &e)) < 0)
                        return r;
                if (e->is_dir)
                        return cart_error_set(b->err, -EINVAL, "template %s: a directory", e->path);
        }
        for (size_t i = 0; i < rc->sealed.n; i++)
                if ((r = find_named(b, "sealed", rc->sealed.v[i], true, NULL)) < 0)
                        return r;
        if (builder_find(b, KEY_CARTABLE_DIR))
                return cart_error_set(b->err, -EEXIST, "%s: reserved for the release's proof on the key", KEY_CARTABLE_DIR);
        if ((r = load_owner_template(b)) < 0)
                return r;
        return check_fits(b);
}
