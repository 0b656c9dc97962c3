/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.json: what a release holds, signed. Written with json-c in one fixed key order
 * so the same release gives the same bytes; read back strictly: unknown keys, wrong types,
 * paths out of layout order or FAT-invalid, missing parent directories are all errors.
 */
#include <stdarg.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <strings.h>
#include <time.h>

#include "fat/fat.h"
#include "base/hash.h"
#include "base/json-util.h"
#include "release/release-internal.h"

/* The end of a path sorts first, then '/', then every other byte: a directory's
 * children come right after it. */
static int layout_rank(unsigned char c) {
        return c == 0 ? 0 : c == '/' ? 1 : c + 1;
}

int path_layout_cmp(const char *a, const char *b) {
        const unsigned char *x = (const unsigned char *) a, *y = (const unsigned char *) b;

        for (; *x && *x == *y; x++, y++)
                ;
        return layout_rank(*x) - layout_rank(*y);
}

static void index_entry_free(struct lh_entry *e) {
        free(lh_entry_k(e));
}

int manifest_new(struct manifest **ret) {
        struct manifest *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->index = lh_kchar_table_new(256, index_entry_free);
        if (!m->index) {
                free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

struct manifest *manifest_free(struct manifest *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_files; i++)
                free((char *) m->files[i].path);
        free(m->files);
        for (size_t i = 0; i < m->layout.n_sealed; i++)
                free((char *) m->layout.sealed[i]);
        free((void *) m->layout.sealed);
        free((char *) m->layout.scheme);
        free((char *) m->layout.label);
        if (m->index)
                lh_table_free(m->index);
        free(m->json);
        free(m->name);
        free(m->version);
        free(m->key_id);
        free(m->owner_path);
        free(m->owner_template);
        free(m);
        return NULL;
}

/* The index maps a folded path to its position + 1 (the array moves as it grows). */
static struct release_file *lookup_folded(const struct manifest *m, const char *folded) {
        void *v;

        if (!lh_table_lookup_ex(m->index, folded, &v))
                return NULL;
        return &m->files[(uintptr_t) v - 1];
}

/*
 * Append a file or directory, in layout order, after its parent directory. The index
 * (folded paths) catches names that collide on FAT. Returns -EEXIST or -EBADMSG naming
 * the path.
 */
static int add_file(struct manifest *m, const struct release_file *f, struct cart_error *err) {
        _cleanup_free_ char *folded = NULL;
        struct release_file *l;
        const char *slash;
        int r;

        if (m->n_files >= MANIFEST_MAX_FILES)
                return cart_error_set(err, -E2BIG, "more than %d files", MANIFEST_MAX_FILES);
        if (m->n_files > 0 && path_layout_cmp(m->files[m->n_files - 1].path, f->path) >= 0)
                return cart_error_set(err, -EBADMSG, "%s: out of layout order (after %s)", f->path,
                                      m->files[m->n_files - 1].path);
        r = fat_fold(f->path, &folded);
        if (r < 0)
                return cart_error_set(err, r, "%s: cannot compare this name", f->path);
        l = lookup_folded(m, folded);
        if (l)
                return cart_error_set(err, -EEXIST, "%s: same name on FAT as %s (FAT ignores case)",
                                      f->path, l->path);
        slash = strrchr(folded, '/');
        if (slash) {
                _cleanup_free_ char *parent = strndup(folded, (size_t) (slash - folded));
                if (!parent)
                        return -ENOMEM;
                l = lookup_folded(m, parent);
                if (!l || !l->is_dir)
                        return cart_error_set(err, -EBADMSG, "%s: its directory is not listed before it", f->path);
                size_t n = (size_t) (strrchr(f->path, '/') - f->path);
                if (strlen(l->path) != n || strncmp(l->path, f->path, n) != 0)
                        return cart_error_set(err, -EEXIST, "%s: its directory is spelt %s (FAT ignores case)",
                                              f->path, l->path);
        }
        if ((m->n_files & (m->n_files - 1)) == 0 && m->n_files >= 16) {
                l = realloc(m->files, 2 * m->n_files * sizeof(*l));
                if (!l)
                        return -ENOMEM;
                m->files = l;
        } else if (!m->files) {
                m->files = malloc(16 * sizeof(*l));
                if (!m->files)
                        return -ENOMEM;
        }
        l = &m->files[m->n_files];
        *l = *f;
        l->path = strdup(f->path);
        if (!l->path)
                return -ENOMEM;
        if (lh_table_insert(m->index, folded, (void *) (uintptr_t) (m->n_files + 1)) < 0) {
                free((char *) l->path);
                return -ENOMEM;
        }
        TAKE_PTR(folded);
        m->n_files++;
        return 0;
}

int manifest_add_file(struct manifest *m, const struct release_file *f, struct cart_error *err) {
        return add_file(m, f, err);
}

static const struct {
        uint8_t bit;
        const char *name;
} attr_names[] = {
        { FAT_ATTR_READ_ONLY, "read-only" },
        { FAT_ATTR_HIDDEN, "hidden" },
        { FAT_ATTR_SYSTEM, "system" },
};

/* json-c takes ownership of what is added; a NULL value (out of memory) fails the add. */
static int add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int push(struct json_object *a, struct json_object *v) {
        if (!v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_time(struct json_object *o, const char *key, int64_t t) {
        char buf[32];

        time_format(t, buf);
        return add(o, key, json_object_new_string(buf));
}

static struct json_object *file_to_json(const struct release_file *f) {
        struct json_object *o = json_object_new_object(), *attrs = NULL;
        char hex[HASH_SHA256_HEX_LEN + 1];
        int r;

        if (!o)
                return NULL;
        r = add(o, "path", json_object_new_string(f->path));
        if (r >= 0)
                r = add(o, "type", json_object_new_string(f->is_dir ? "directory" : "file"));
        if (r >= 0 && !f->is_dir) {
                hash_to_hex(f->sha256, sizeof(f->sha256), hex);
                r = add(o, "size", json_object_new_int64((int64_t) f->size));
                if (r >= 0)
                        r = add(o, "sha256", json_object_new_string(hex));
        }
        if (r >= 0)
                r = add_time(o, "mtime", f->mtime);
        if (r >= 0 && f->attrs) {
                attrs = json_object_new_array();
                for (size_t i = 0; attrs && r >= 0 && i < ELEMENTSOF(attr_names); i++)
                        if (f->attrs & attr_names[i].bit)
                                r = push(attrs, json_object_new_string(attr_names[i].name));
                if (r >= 0)
                        r = add(o, "attributes", TAKE_PTR(attrs));
        }
        json_object_put(attrs);
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *layout_to_json(const struct release_layout *l) {
        struct json_object *o = json_object_new_object(), *sealed = json_object_new_array();
        int r = o && sealed ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < l->n_sealed; i++)
                r = push(sealed, json_object_new_string(l->sealed[i]));
        if (r >= 0) r = add(o, "scheme", json_object_new_string(l->scheme));
        if (r >= 0) r = add(o, "label", json_object_new_string(l->label));
        if (r >= 0) r = add(o, "alignment", json_object_new_int64((int64_t) l->alignment));
        if (r >= 0) r = add(o, "min-size", json_object_new_int64((int64_t) l->min_size));
        if (r >= 0) r = add(o, "cluster-size", json_object_new_int64(l->cluster_size));
        if (r >= 0) r = add(o, "sealed", TAKE_PTR(sealed));
        json_object_put(sealed);
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *owner_to_json(const struct manifest *m) {
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        int fields = owner_template_check(m->owner_template, strlen(m->owner_template), "", NULL);
        struct json_object *list = json_object_new_array();

        if (!list || fields < 0)
                r = -ENOMEM;
        for (unsigned i = 0; r >= 0 && owner_field_name(i); i++)
                if (fields & (1 << i))
                        r = push(list, json_object_new_string(owner_field_name(i)));
        if (r >= 0) r = add(o, "path", json_object_new_string(m->owner_path));
        if (r >= 0) r = add(o, "fields", TAKE_PTR(list));
        if (r >= 0) r = add(o, "template", json_object_new_string(m->owner_template));
        json_object_put(list);
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int manifest_serialise(struct manifest *m) {
        struct json_object *root = json_object_new_object(), *files = json_object_new_array();
        const char *text;
        int r = root && files ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < m->n_files; i++)
                r = push(files, file_to_json(&m->files[i]));
        if (r >= 0) r = add(root, "schema", json_object_new_int(MANIFEST_SCHEMA));
        if (r >= 0) r = add(root, "name", json_object_new_string(m->name));
        if (r >= 0) r = add(root, "version", json_object_new_string(m->version));
        if (r >= 0) r = add(root, "serial", json_object_new_int64((int64_t) m->serial));
        if (r >= 0) r = add_time(root, "created", m->created);
        if (r >= 0) r = add(root, "key-id", json_object_new_string(m->key_id));
        if (r >= 0) r = add(root, "layout", layout_to_json(&m->layout));
        if (r >= 0 && m->owner_path)
                r = add(root, "personalisation", owner_to_json(m));
        if (r >= 0) r = add(root, "files", TAKE_PTR(files));
        if (r >= 0) {
                text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
                free(m->json);
                m->json = text ? malloc(strlen(text) + 2) : NULL;
                if (m->json) {
                        m->json_len = strlen(text) + 1;
                        memcpy(m->json, text, m->json_len - 1);
                        m->json[m->json_len - 1] = '\n';
                        m->json[m->json_len] = 0;
                } else
                        r = -ENOMEM;
        }
        json_object_put(files);
        json_object_put(root);
        return r;
}

int manifest_trusted_comment(const struct manifest *m, char **ret) {
        return asprintf(ret, "cartable release name:%s version:%s serial:%" PRIu64,
                        m->name, m->version, m->serial) < 0 ? -ENOMEM : 0;
}

/* ---- parsing: every field checked, anything unknown refused ---- */

static int get_string(struct json_object *o, const char *key, const char **ret, const char *where,
                      struct cart_error *err) {
        struct json_object *v;
        int r = json_get(o, key, json_type_string, true, &v, where, err);

        if (r < 0)
                return r;
        *ret = json_object_get_string(v);
        if (strlen(*ret) != (size_t) json_object_get_string_len(v))
                return json_field_error(err, where, key, "\"%s\" holds a NUL byte", key);
        return 0;
}

static int dup_string(struct json_object *o, const char *key, char **ret, const char *where,
                      struct cart_error *err) {
        const char *s;
        int r = get_string(o, key, &s, where, err);

        if (r < 0)
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_time(struct json_object *o, const char *key, int64_t *ret, const char *where,
                    struct cart_error *err) {
        const char *s;
        int r = get_string(o, key, &s, where, err);

        if (r < 0)
                return r;
        if (time_parse(s, ret) < 0)
                return json_field_error(err, where, key, "\"%s\" is not a UTC time such as 2026-09-01T08:00:00Z", key);
        return 0;
}

static int parse_attrs(struct json_object *o, uint8_t *ret, const char *where, struct cart_error *err) {
        struct json_object *a;
        uint8_t attrs = 0;
        int r = json_get(o, "attributes", json_type_array, false, &a, where, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *v = json_object_array_get_idx(a, i);
                uint8_t bit = 0;
                for (size_t j = 0; j < ELEMENTSOF(attr_names) && json_object_is_type(v, json_type_string); j++)
                        if (streq(json_object_get_string(v), attr_names[j].name))
                                bit = attr_names[j].bit;
                if (!bit || (attrs & bit))
                        return cart_error_set(err, -EBADMSG, "%s: bad attribute list", where);
                attrs |= bit;
        }
        *ret = attrs;
        return 0;
}

static int parse_file(struct manifest *m, struct json_object *o, size_t i, struct cart_error *err) {
        static const char *const keys[] = { "path", "type", "size", "sha256", "mtime", "attributes", NULL };
        struct release_file f = {};
        const char *type, *hex;
        char where[64];
        int r;

        snprintf(where, sizeof(where), "files[%zu]", i);
        if (!json_object_is_type(o, json_type_object))
                return cart_error_set(err, -EBADMSG, "%s: not an object", where);
        if ((r = json_only_keys(o, keys, where, err)) < 0 ||
            (r = get_string(o, "path", &f.path, where, err)) < 0 ||
            (r = get_string(o, "type", &type, where, err)) < 0 ||
            (r = get_time(o, "mtime", &f.mtime, where, err)) < 0 ||
            (r = parse_attrs(o, &f.attrs, where, err)) < 0)
                return r;
        r = fat_check_path(f.path, err);
        if (r < 0)
                return cart_error_prefix(err, -EBADMSG, "%s", where);
        f.is_dir = streq(type, "directory");
        if (!f.is_dir && !streq(type, "file"))
                return cart_error_set(err, -EBADMSG, "%s: %s: type is neither file nor directory", where, f.path);
        if (f.is_dir) {
                if (json_object_object_get_ex(o, "size", NULL) || json_object_object_get_ex(o, "sha256", NULL))
                        return cart_error_set(err, -EBADMSG, "%s: %s: a directory has no size or sha256", where, f.path);
        } else {
                if ((r = json_get_u64(o, "size", FAT_FILE_MAX, &f.size, where, err)) < 0 ||
                    (r = get_string(o, "sha256", &hex, where, err)) < 0)
                        return r;
                if (hash_from_hex(hex, f.sha256, sizeof(f.sha256)) < 0)
                        return cart_error_set(err, -EBADMSG, "%s: %s: sha256 is not 64 hex digits", where, f.path);
        }
        r = add_file(m, &f, err);
        return r == -EEXIST ? -EBADMSG : r;   /* a signed manifest FAT cannot hold is malformed */
}

static bool is_pow2(uint64_t v) {
        return v && !(v & (v - 1));
}

static int parse_layout(struct manifest *m, struct json_object *o, struct cart_error *err) {
        static const char *const keys[] = { "scheme", "label", "alignment", "min-size", "cluster-size", "sealed", NULL };
        struct release_layout *l = &m->layout;
        struct json_object *sealed;
        uint64_t cluster;
        const char **list;
        int r;

        if ((r = json_only_keys(o, keys, "layout", err)) < 0 ||
            (r = dup_string(o, "scheme", (char **) &l->scheme, "layout", err)) < 0 ||
            (r = dup_string(o, "label", (char **) &l->label, "layout", err)) < 0 ||
            (r = json_get_u64(o, "alignment", 64 * MIB, &l->alignment, "layout", err)) < 0 ||
            (r = json_get_u64(o, "min-size", FAT_VOLUME_MAX, &l->min_size, "layout", err)) < 0 ||
            (r = json_get_u64(o, "cluster-size", 32 * KIB, &cluster, "layout", err)) < 0 ||
            (r = json_get(o, "sealed", json_type_array, true, &sealed, "layout", err)) < 0)
                return r;
        l->cluster_size = (uint32_t) cluster;
        if (!streq(l->scheme, "mbr") && !streq(l->scheme, "gpt"))
                return cart_error_set(err, -EBADMSG, "layout: scheme \"%s\" is neither mbr nor gpt", l->scheme);
        if (fat_check_label(l->label, err) < 0)
                return cart_error_prefix(err, -EBADMSG, "layout: label");
        if (!is_pow2(l->alignment) || l->alignment < 512 || (cluster && (!is_pow2(cluster) || cluster < 512)))
                return cart_error_set(err, -EBADMSG, "layout: alignment and cluster size must be powers of two");
        list = calloc(json_object_array_length(sealed) + 1, sizeof(char *));
        if (!list)
                return -ENOMEM;
        l->sealed = list;
        for (size_t i = 0; i < json_object_array_length(sealed); i++) {
                struct json_object *v = json_object_array_get_idx(sealed, i);
                if (!json_object_is_type(v, json_type_string) || fat_check_path(json_object_get_string(v), NULL) < 0)
                        return cart_error_set(err, -EBADMSG, "layout: sealed[%zu] is not a path", i);
                list[i] = strdup(json_object_get_string(v));
                if (!list[i])
                        return -ENOMEM;
                l->n_sealed++;
        }
        return 0;
}

/* The fields listed must be exactly those the template uses: what an auditor reads is true. */
static int parse_owner(struct manifest *m, struct json_object *o, struct cart_error *err) {
        static const char *const keys[] = { "path", "fields", "template", NULL };
        struct json_object *fields;
        int r, used, listed = 0;

        if ((r = json_only_keys(o, keys, "personalisation", err)) < 0 ||
            (r = dup_string(o, "path", &m->owner_path, "personalisation", err)) < 0 ||
            (r = json_get(o, "fields", json_type_array, true, &fields, "personalisation", err)) < 0 ||
            (r = dup_string(o, "template", &m->owner_template, "personalisation", err)) < 0)
                return r;
        if (fat_check_path(m->owner_path, err) < 0)
                return cart_error_prefix(err, -EBADMSG, "personalisation: path");
        used = owner_template_check(m->owner_template, strlen(m->owner_template), "personalisation", err);
        if (used < 0)
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(fields); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(fields, i));
                unsigned j = 0;
                while (owner_field_name(j) && (!name || !streq(name, owner_field_name(j))))
                        j++;
                if (!owner_field_name(j) || (listed & (1 << j)))
                        return cart_error_set(err, -EBADMSG, "personalisation: bad fields list");
                listed |= 1 << j;
        }
        if (listed != used)
                return cart_error_set(err, -EBADMSG, "personalisation: the fields listed are not those of the template");
        return 0;
}

/* After the files are known: what refers to them must exist. */
static int check_references(struct manifest *m, struct cart_error *err) {
        const struct release_file *f;

        for (size_t i = 0; i < m->layout.n_sealed; i++) {
                f = manifest_find(m, m->layout.sealed[i]);
                if (!f || !f->is_dir)
                        return cart_error_set(err, -EBADMSG, "layout: sealed directory %s is not in the files",
                                              m->layout.sealed[i]);
        }
        if (m->owner_path) {
                const char *slash = strrchr(m->owner_path, '/');
                if (manifest_find(m, m->owner_path))
                        return cart_error_set(err, -EBADMSG, "personalisation: %s is also a release file", m->owner_path);
                if (slash) {
                        _cleanup_free_ char *dir = strndup(m->owner_path, (size_t) (slash - m->owner_path));
                        if (!dir)
                                return -ENOMEM;
                        f = manifest_find(m, dir);
                        if (!f || !f->is_dir)
                                return cart_error_set(err, -EBADMSG, "personalisation: directory %s is not in the files", dir);
                }
        }
        return 0;
}

static int parse_root(struct manifest *m, struct json_object *root, struct cart_error *err) {
        static const char *const keys[] = { "schema", "name", "version", "serial", "created", "key-id",
                                            "layout", "personalisation", "files", NULL };
        struct json_object *layout, *owner, *files;
        uint64_t schema;
        uint8_t id[SIGN_KEYID_LEN];
        int r;

        if (!json_object_is_type(root, json_type_object))
                return cart_error_set(err, -EBADMSG, "not a JSON object");
        if ((r = json_get_u64(root, "schema", UINT32_MAX, &schema, "manifest", err)) < 0)
                return r;
        if (schema != MANIFEST_SCHEMA)
                return cart_error_set(err, -EBADMSG, "schema %" PRIu64 " is not supported (this cartable reads %d)",
                                      schema, MANIFEST_SCHEMA);
        if ((r = json_only_keys(root, keys, "manifest", err)) < 0 ||
            (r = dup_string(root, "name", &m->name, "manifest", err)) < 0 ||
            (r = dup_string(root, "version", &m->version, "manifest", err)) < 0 ||
            (r = json_get_u64(root, "serial", INT64_MAX, &m->serial, "manifest", err)) < 0 ||
            (r = get_time(root, "created", &m->created, "manifest", err)) < 0 ||
            (r = dup_string(root, "key-id", &m->key_id, "manifest", err)) < 0 ||
            (r = json_get(root, "layout", json_type_object, true, &layout, "manifest", err)) < 0 ||
            (r = json_get(root, "personalisation", json_type_object, false, &owner, "manifest", err)) < 0 ||
            (r = json_get(root, "files", json_type_array, true, &files, "manifest", err)) < 0)
                return r;
        if (!*m->name || strpbrk(m->name, " \t\n/") || !*m->version || strpbrk(m->version, " \t\n") ||
            m->serial == 0)
                return cart_error_set(err, -EBADMSG, "manifest: bad name, version or serial");
        if (strlen(m->key_id) != 2 * SIGN_KEYID_LEN || hash_from_hex(m->key_id, id, sizeof(id)) < 0)
                return cart_error_set(err, -EBADMSG, "manifest: key-id is not %d hex digits", 2 * SIGN_KEYID_LEN);
        if ((r = parse_layout(m, layout, err)) < 0)
                return r;
        if (owner && (r = parse_owner(m, owner, err)) < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(files); i++)
                if ((r = parse_file(m, json_object_array_get_idx(files, i), i, err)) < 0)
                        return r;
        return check_references(m, err);
}

int manifest_parse(const void *json, size_t len, struct manifest **ret, struct cart_error *err) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        struct json_object *root;
        int r;

        if (len == 0 || len > 512 * MIB || memchr(json, 0, len))
                return cart_error_set(err, -EBADMSG, "manifest: empty, too large or holding NUL bytes");
        r = json_parse_strict(json, len, 0, "manifest", &root, err);
        if (r < 0)
                return r;
        r = manifest_new(&m);
        if (r >= 0)
                r = parse_root(m, root, err);
        json_object_put(root);
        if (r < 0)
                return r;
        m->json = malloc(len + 1);
        if (!m->json)
                return -ENOMEM;
        memcpy(m->json, json, len);
        m->json[len] = 0;
        m->json_len = len;
        *ret = TAKE_PTR(m);
        return 0;
}

int manifest_load(const struct sign_trust *trust, const void *json, size_t json_len,
                  const char *sig_text, struct manifest **ret, struct cart_error *err) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        _cleanup_free_ char *comment = NULL, *expected = NULL;
        uint8_t id[SIGN_KEYID_LEN];
        char id_hex[2 * SIGN_KEYID_LEN + 1];
        int r;

        if (!trust)
                return cart_error_reason_set(err, -ENOKEY, CART_REASON_NO_TRUST, NULL);
        /* Fail closed: nothing of the JSON is looked at before its signature holds. */
        r = sign_verify_flags(trust, json, json_len, sig_text, SIGN_VERIFY_PREHASHED_ONLY, &comment, id, err);
        /* A signature that cannot even be parsed proves nothing: a trust failure, like a
         * wrong one, not a data error. */
        if (r == -EBADMSG)
                return cart_error_prefix(err, -EKEYREJECTED, "malformed signature");
        if (r < 0)
                return r;
        r = manifest_parse(json, json_len, &m, err);
        if (r < 0)
                return r;
        sign_key_id_hex(id, id_hex);
        if (strcasecmp(id_hex, m->key_id) != 0)
                return cart_error_set(err, -EKEYREJECTED, "manifest names key %s but was signed by %s", m->key_id, id_hex);
        r = manifest_trusted_comment(m, &expected);
        if (r < 0)
                return r;
        if (!streq(comment, expected))
                return cart_error_set(err, -EKEYREJECTED, "the signed comment \"%s\" does not match the manifest (%s)",
                                      comment, expected);
        m->is_verified = true;
        *ret = TAKE_PTR(m);
        return 0;
}

const char *manifest_name(const struct manifest *m) { return m->name; }
const char *manifest_version(const struct manifest *m) { return m->version; }
uint64_t manifest_serial(const struct manifest *m) { return m->serial; }
int64_t manifest_created(const struct manifest *m) { return m->created; }
const char *manifest_key_id(const struct manifest *m) { return m->key_id; }
bool manifest_is_personalised(const struct manifest *m) { return m->owner_path != NULL; }
const char *manifest_owner_path(const struct manifest *m) { return m->owner_path; }
const char *manifest_owner_template(const struct manifest *m) { return m->owner_template; }
const struct release_layout *manifest_layout(const struct manifest *m) { return &m->layout; }
size_t manifest_n_files(const struct manifest *m) { return m->n_files; }
bool manifest_is_verified(const struct manifest *m) { return m->is_verified; }

const struct release_file *manifest_file(const struct manifest *m, size_t i) {
        return i < m->n_files ? &m->files[i] : NULL;
}

const struct release_file *manifest_find(const struct manifest *m, const char *path) {
        _cleanup_free_ char *folded = NULL;

        while (*path == '/')
                path++;
        if (fat_fold(path, &folded) < 0)
                return NULL;
        return lookup_folded(m, folded);
}
