/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The content tree of a FAT volume: names checked as they are added, case-insensitive
 * collisions found through one hash table keyed by (parent, upper-cased name), then, once,
 * children sorted and short names given (fatgen103 §7 basis name and numeric tail).
 */
#include <inttypes.h>

#include "fat/fat-internal.h"

#define ROOT 0u

int fat_tree_new(struct fat_tree **ret) {
        struct fat_tree *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->allocated = 64;
        t->nodes = calloc(t->allocated, sizeof(*t->nodes));
        t->n_slots = 128;
        t->slots = calloc(t->n_slots, sizeof(*t->slots));
        if (!t->nodes || !t->slots) {
                fat_tree_free(t);
                return -ENOMEM;
        }
        t->nodes[ROOT] = (struct fat_node) {
                .path = strdup(""), .is_dir = true, .is_explicit = true, .n_entries = 1, /* the label */
        };
        if (!t->nodes[ROOT].path) {
                fat_tree_free(t);
                return -ENOMEM;
        }
        t->n = 1;
        *ret = t;
        return 0;
}

struct fat_tree *fat_tree_free(struct fat_tree *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++) {
                free(t->nodes[i].path);
                free(t->nodes[i].name16);
        }
        free(t->nodes);
        free(t->slots);
        free(t->child_index);
        free(t->order);
        free(t);
        return NULL;
}

static uint32_t name_hash(uint32_t parent, const uint16_t *name, size_t n) {
        uint32_t h = 2166136261u ^ parent;

        for (size_t i = 0; i < n; i++) {
                h = (h ^ fat_upcase(name[i])) * 16777619u;
                h = (h ^ (h >> 15));
        }
        return h;
}

static bool name_equal_nocase(const uint16_t *a, size_t na, const uint16_t *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (a[i] != b[i] && fat_upcase(a[i]) != fat_upcase(b[i]))
                        return false;
        return true;
}

/* The node named name (any case) in directory parent, or UINT32_MAX. */
static uint32_t lookup(const struct fat_tree *t, uint32_t parent, const uint16_t *name, size_t n, uint32_t h) {
        for (size_t i = h & (t->n_slots - 1);; i = (i + 1) & (t->n_slots - 1)) {
                uint32_t s = t->slots[i];
                const struct fat_node *x;

                if (s == 0)
                        return UINT32_MAX;
                x = &t->nodes[s - 1];
                if (x->hash == h && x->parent == parent && name_equal_nocase(x->name16, x->len16, name, n))
                        return s - 1;
        }
}

static void insert_slot(uint32_t *slots, size_t n_slots, uint32_t h, uint32_t index) {
        size_t i = h & (n_slots - 1);

        while (slots[i])
                i = (i + 1) & (n_slots - 1);
        slots[i] = index + 1;
}

static int grow(struct fat_tree *t) {
        if (t->n == t->allocated) {
                size_t a = t->allocated * 2;
                struct fat_node *x = realloc(t->nodes, a * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                t->nodes = x;
                t->allocated = a;
        }
        if ((t->n + 1) * 2 > t->n_slots) {
                size_t ns = t->n_slots * 2;
                uint32_t *s = calloc(ns, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                for (size_t i = 1; i < t->n; i++)
                        insert_slot(s, ns, t->nodes[i].hash, (uint32_t) i);
                free(t->slots);
                t->slots = s;
                t->n_slots = ns;
        }
        return 0;
}

/* Adds one entry named by path[0, path_len) whose last component is name16 to parent. */
static int add_node(struct fat_tree *t, uint32_t parent, const char *path, size_t path_len,
                    const uint16_t *name16, size_t len16, uint32_t h, const struct fat_node *proto,
                    uint32_t *ret, struct cart_error *err) {
        struct fat_node *d = &t->nodes[parent], *x;
        unsigned lfn = fat_lfn_entries(name16, len16);
        int r;

        if (d->n_entries + 1 + lfn > FAT_DIR_ENTRIES_MAX)
                return cart_error_set(err, -E2BIG, "\"%.*s\": directory \"%s\" would hold more than %d entries of 32 bytes",
                                      (int) path_len, path, d->path[0] ? d->path : "/", FAT_DIR_ENTRIES_MAX);
        r = grow(t);
        if (r < 0)
                return r;
        x = &t->nodes[t->n];
        *x = *proto;
        x->path = strndup(path, path_len);
        x->name16 = malloc(len16 * sizeof(uint16_t));
        if (!x->path || !x->name16) {
                free(x->path);
                free(x->name16);
                return -ENOMEM;
        }
        memcpy(x->name16, name16, len16 * sizeof(uint16_t));
        x->len16 = (uint16_t) len16;
        x->lfn_count = (uint8_t) lfn;
        x->parent = parent;
        x->hash = h;
        if (x->is_dir)
                x->n_entries = 2;       /* "." and ".." */
        t->nodes[parent].n_entries += 1 + lfn;
        insert_slot(t->slots, t->n_slots, h, (uint32_t) t->n);
        t->is_prepared = false;
        *ret = (uint32_t) t->n++;
        return 0;
}

static int add_path(struct fat_tree *t, const char *path, bool is_dir, const struct fat_node *proto,
                    struct cart_error *err) {
        uint16_t name16[FAT_NAME_MAX + 1];
        uint32_t dir = ROOT;
        const char *p = path;
        int r;

        r = fat_check_path(path, err);
        if (r < 0)
                return r;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                size_t path_len = (size_t) (p - path) + len;
                int n = fat_utf8_to_utf16(p, len, name16, ELEMENTSOF(name16));
                uint32_t h, found;

                if (n < 0)
                        return cart_error_set(err, n, "\"%s\": cannot convert the name to UTF-16", path);
                h = name_hash(dir, name16, (size_t) n);
                found = lookup(t, dir, name16, (size_t) n, h);
                if (slash) {
                        if (found == UINT32_MAX) {
                                struct fat_node implicit = { .is_dir = true, .mtime = proto->mtime };
                                r = add_node(t, dir, path, path_len, name16, (size_t) n, h, &implicit, &found, err);
                                if (r < 0)
                                        return r;
                        } else if (!t->nodes[found].is_dir)
                                return cart_error_set(err, -ENOTDIR, "\"%s\": \"%s\" is a file, not a directory",
                                                      path, t->nodes[found].path);
                        else if (strncmp(t->nodes[found].path, path, path_len) != 0)
                                return cart_error_set(err, -EEXIST, "\"%s\": \"%.*s\" collides with \"%s\" (names differ only by case)",
                                                      path, (int) path_len, path, t->nodes[found].path);
                        dir = found;
                        p = slash + 1;
                        continue;
                }
                if (found != UINT32_MAX) {
                        struct fat_node *x = &t->nodes[found];

                        if (is_dir && x->is_dir && !x->is_explicit && streq(x->path, path)) {
                                x->is_explicit = true;
                                x->attrs = proto->attrs;
                                x->mtime = proto->mtime;
                                return 0;
                        }
                        if (streq(x->path, path))
                                return cart_error_set(err, -EEXIST, "\"%s\": added twice", path);
                        return cart_error_set(err, -EEXIST, "\"%s\" collides with \"%s\" (names differ only by case)",
                                              path, x->path);
                }
                return add_node(t, dir, path, strlen(path), name16, (size_t) n, h, proto, &found, err);
        }
}

int fat_tree_add_dir(struct fat_tree *t, const char *path, uint8_t attrs, int64_t mtime,
                     struct cart_error *err) {
        struct fat_node proto = {
                .is_dir = true, .is_explicit = true, .mtime = mtime,
                .attrs = attrs & (FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM),
        };

        if (!t || !path)
                return -EINVAL;
        return add_path(t, path, true, &proto, err);
}

int fat_tree_add_file(struct fat_tree *t, const char *path, uint64_t size, uint8_t attrs,
                      int64_t mtime, cart_read_fn read, void *userdata, uint64_t source_offset,
                      struct cart_error *err) {
        struct fat_node proto = {
                .is_explicit = true, .mtime = mtime, .size = size,
                .attrs = attrs & (FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM),
                .read = read, .userdata = userdata, .source_offset = source_offset,
        };
        int r;

        if (!t || !path || (size > 0 && !read))
                return -EINVAL;
        if (size > FAT_FILE_MAX)
                return cart_error_set(err, -EFBIG, "\"%s\": %" PRIu64 " bytes, FAT32 holds files of at most 4 GiB - 1",
                                      path, size);
        r = add_path(t, path, false, &proto, err);
        if (r < 0)
                return r;
        t->content_bytes += size;
        return 0;
}

/* ---- prepare: sorted children, short names, layout order ---- */

static int cmp_child(const void *a, const void *b, void *userdata) {
        const struct fat_tree *t = userdata;
        const struct fat_node *x = &t->nodes[*(const uint32_t *) a];
        const struct fat_node *y = &t->nodes[*(const uint32_t *) b];
        const char *nx = strrchr(x->path, '/'), *ny = strrchr(y->path, '/');

        return strcmp(nx ? nx + 1 : x->path, ny ? ny + 1 : y->path);
}

/* A set of 11-byte short names with, for basis names, the next numeric tail to try. */
struct short_set {
        struct short_slot { uint8_t name[11]; bool is_used; uint32_t next_tail; } *slots;
        size_t n_slots;
};

static struct short_slot *short_find(struct short_set *s, const uint8_t name[11]) {
        uint32_t h = 2166136261u;

        for (int i = 0; i < 11; i++)
                h = (h ^ name[i]) * 16777619u;
        for (size_t i = h & (s->n_slots - 1);; i = (i + 1) & (s->n_slots - 1))
                if (!s->slots[i].is_used || memcmp(s->slots[i].name, name, 11) == 0)
                        return &s->slots[i];
}

static void short_add(struct short_set *s, const uint8_t name[11]) {
        struct short_slot *x = short_find(s, name);

        memcpy(x->name, name, 11);
        x->is_used = true;
}

/*
 * Names that are 8.3 but for case own their upper-case form first; the others get the
 * lowest free numeric tail of their basis (fatgen103 §7), tried from where the previous
 * name of the same basis stopped, so thousands of similar names stay linear.
 */
static int assign_short_names(struct fat_tree *t, const struct fat_node *d, struct cart_error *err) {
        struct short_set names = {}, bases = {};
        const uint32_t *kids = t->child_index + d->children;
        int r = 0;

        names.n_slots = bases.n_slots = 16;
        while (names.n_slots < 4 * (size_t) d->n_children)
                names.n_slots *= 2;
        bases.n_slots = names.n_slots;
        names.slots = calloc(names.n_slots, sizeof(*names.slots));
        bases.slots = calloc(bases.n_slots, sizeof(*bases.slots));
        if (!names.slots || !bases.slots) {
                r = -ENOMEM;
                goto finish;
        }
        for (uint32_t i = 0; i < d->n_children; i++) {
                struct fat_node *x = &t->nodes[kids[i]];
                bool is_lossy;

                fat_basis_name(x->name16, x->len16, x->short_name, &is_lossy);
                if (!is_lossy)
                        short_add(&names, x->short_name);
                else
                        x->short_name[0] = 0;   /* to be given a tail below */
        }
        for (uint32_t i = 0; i < d->n_children; i++) {
                struct fat_node *x = &t->nodes[kids[i]];
                uint8_t basis[11];
                struct short_slot *b;
                bool is_lossy;

                if (x->short_name[0])
                        continue;
                fat_basis_name(x->name16, x->len16, basis, &is_lossy);
                b = short_find(&bases, basis);
                if (!b->is_used) {
                        memcpy(b->name, basis, 11);
                        b->is_used = true;
                        b->next_tail = 1;
                }
                for (;; b->next_tail++) {
                        if (b->next_tail > 999999) {
                                r = cart_error_set(err, -E2BIG, "\"%s\": no free short name left", x->path);
                                goto finish;
                        }
                        fat_apply_tail(basis, b->next_tail, x->short_name);
                        if (!short_find(&names, x->short_name)->is_used)
                                break;
                }
                b->next_tail++;
                short_add(&names, x->short_name);
        }
finish:
        free(names.slots);
        free(bases.slots);
        return r;
}

/* Depth-first, names sorted: directories first (root at the front), then files. */
static int compute_order(struct fat_tree *t) {
        _cleanup_free_ uint32_t *stack = malloc(t->n * sizeof(uint32_t));
        _cleanup_free_ uint32_t *pos = malloc(t->n * sizeof(uint32_t));
        size_t depth = 0, nd = 0, nf = 0, n_dirs = 0;

        if (!stack || !pos)
                return -ENOMEM;
        for (size_t i = 0; i < t->n; i++)
                n_dirs += t->nodes[i].is_dir;
        t->order[nd++] = ROOT;
        stack[depth] = ROOT;
        pos[depth++] = 0;
        while (depth > 0) {
                struct fat_node *d = &t->nodes[stack[depth - 1]];
                uint32_t c;

                if (pos[depth - 1] == d->n_children) {
                        depth--;
                        continue;
                }
                c = t->child_index[d->children + pos[depth - 1]++];
                if (t->nodes[c].is_dir) {
                        t->order[nd++] = c;
                        stack[depth] = c;
                        pos[depth++] = 0;
                } else
                        t->order[n_dirs + nf++] = c;
        }
        t->n_dirs = nd;
        t->n_files = nf;
        return 0;
}

int fat_tree_prepare(struct fat_tree *t, struct cart_error *err) {
        _cleanup_free_ uint32_t *fill = NULL;
        uint32_t at = 0;
        int r;

        if (t->is_prepared)
                return 0;
        free(t->child_index);
        free(t->order);
        t->child_index = malloc(t->n * sizeof(uint32_t));
        t->order = malloc(t->n * sizeof(uint32_t));
        fill = calloc(t->n, sizeof(uint32_t));
        if (!t->child_index || !t->order || !fill)
                return -ENOMEM;
        /* Counting sort by parent, then each directory's children sorted by name. */
        for (size_t i = 0; i < t->n; i++)
                t->nodes[i].n_children = 0;
        for (size_t i = 1; i < t->n; i++)
                t->nodes[t->nodes[i].parent].n_children++;
        for (size_t i = 0; i < t->n; i++) {
                t->nodes[i].children = at;
                at += t->nodes[i].n_children;
        }
        for (size_t i = 1; i < t->n; i++) {
                struct fat_node *p = &t->nodes[t->nodes[i].parent];
                t->child_index[p->children + fill[t->nodes[i].parent]++] = (uint32_t) i;
        }
        for (size_t i = 0; i < t->n; i++) {
                struct fat_node *d = &t->nodes[i];

                if (!d->is_dir || d->n_children == 0)
                        continue;
                qsort_r(t->child_index + d->children, d->n_children, sizeof(uint32_t), cmp_child, t);
                r = assign_short_names(t, d, err);
                if (r < 0)
                        return r;
        }
        r = compute_order(t);
        if (r < 0)
                return r;
        t->is_prepared = true;
        return 0;
}
