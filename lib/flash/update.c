/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an update or a repair does to a key: the plan (update.h says how it is found),
 * computed without writing. update-apply.c writes it.
 */
#include <inttypes.h>
#include <time.h>

#include "base/hash.h"
#include "flash/update-internal.h"

const char *update_kind_to_string(enum update_kind k) {
        switch (k) {
        case UPDATE_RESCUE: return "moved";
        case UPDATE_REMOVE: return "removed";
        case UPDATE_RMDIR: return "directory removed";
        case UPDATE_MKDIR: return "directory created";
        case UPDATE_PUT: return "written";
        case UPDATE_ATTRS: return "attributes";
        case UPDATE_OWNER: return "owner file";
        }
        return "unknown";
}

struct update_report *update_report_free(struct update_report *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_actions; i++) {
                free(r->actions[i].path);
                free(r->actions[i].to);
        }
        free(r->actions);
        free(r);
        return NULL;
}

void update_forget_keys(struct update_ctx *u) {
        for (size_t i = 0; i < u->n_keys; i++) {
                free(u->keys[i].path);
                free(u->keys[i].folded);
        }
        free(u->keys);
        u->keys = NULL;
        u->n_keys = 0;
}

void update_ctx_done(struct update_ctx *u) {
        update_forget_keys(u);
        free(u->touch);
        free(u->written);
        free(u->owner_text);
        free(u->owner_path);
        manifest_free(u->ma);
}

/* ---- the key as it is ---- */

static int cmp_key(const void *a, const void *b) {
        return strcmp(((const struct key_entry *) a)->folded, ((const struct key_entry *) b)->folded);
}

static int on_entry(void *userdata, const char *path, const struct fat_dirent *e) {
        struct update_ctx *u = userdata;
        struct key_entry *k;

        if (e->collides_with)
                return cart_error_set(u->err, -ENOTUNIQ, "\"/%s\" and \"%s\" answer to one name: repair the volume first",
                                      path, e->collides_with);
        if ((u->n_keys & 255) == 0) {
                k = realloc(u->keys, (u->n_keys + 256) * sizeof(*k));
                if (!k)
                        return -ENOMEM;
                u->keys = k;
        }
        k = &u->keys[u->n_keys];
        *k = (struct key_entry) { .e = *e };
        k->e.name = NULL;
        k->e.collides_with = NULL;
        k->path = strdup(path);
        if (!k->path || fat_fold(path, &k->folded) < 0) {
                free(k->path);
                return -ENOMEM;
        }
        u->n_keys++;
        return 0;
}

int update_collect(struct update_ctx *u, struct cart_error *err) {
        int r;

        u->err = err;
        r = fat_reader_walk(u->r, on_entry, u, err);
        if (r < 0)
                return r;
        if (u->n_keys > 0)
                qsort(u->keys, u->n_keys, sizeof(*u->keys), cmp_key);
        return 0;
}

const struct key_entry *update_find(const struct update_ctx *u, const char *path) {
        _cleanup_free_ char *folded = NULL;
        struct key_entry x;

        if (fat_fold(path, &folded) < 0 || u->n_keys == 0)
                return NULL;
        x.folded = folded;
        return bsearch(&x, u->keys, u->n_keys, sizeof(*u->keys), cmp_key);
}

static int hash_sink(void *userdata, const void *buf, size_t len) {
        return hash_sha256_update(userdata, buf, len);
}

/* Does the key's file hold these bytes (size and SHA-256)? */
int update_holds(struct update_ctx *u, const struct key_entry *k, uint64_t size, const uint8_t sha[32],
                 struct cart_error *err) {
        _cleanup_(hash_sha256_freep) struct hash_sha256 *h = NULL;
        uint8_t got[HASH_SHA256_LEN];
        int r;

        if (k->e.is_dir || k->e.size != size)
                return 0;
        r = hash_sha256_new(&h);
        if (r >= 0)
                r = fat_reader_read_entry(u->r, k->path, &k->e, hash_sink, h, err);
        if (r >= 0)
                r = hash_sha256_final(h, got);
        if (r < 0)
                return r;
        u->bytes_read += size;
        return memcmp(got, sha, 32) == 0;
}

/* The walk has checked that the entry's chain holds its size, ends, and crosses no other. */
bool update_is_as_written(const struct fat_dirent *e, const struct release_file *f) {
        return f && !f->is_dir && !e->is_dir && e->size == f->size && e->mtime == fat_time_as_stored(f->mtime);
}

static bool is_same_content(const struct release_file *a, const struct release_file *b) {
        return a && b && !a->is_dir && !b->is_dir && a->size == b->size && memcmp(a->sha256, b->sha256, 32) == 0;
}

/*
 * Does the key's file hold fb's bytes? Quick: trusted when its entry is as A or B wrote
 * content they share; known not to when it is as A wrote other content (and not as B
 * would); read otherwise, so a file an OS changed (its size or time) is found.
 */
static int holds_b(struct update_ctx *u, const struct key_entry *k, const struct release_file *fa,
                   const struct release_file *fb, struct cart_error *err) {
        if (u->is_quick && is_same_content(fa, fb) &&
            (update_is_as_written(&k->e, fa) || update_is_as_written(&k->e, fb))) {
                u->rep->n_trusted++;
                return 1;
        }
        if (u->is_quick && !is_same_content(fa, fb) && update_is_as_written(&k->e, fa) &&
            !update_is_as_written(&k->e, fb))
                return 0;
        return update_holds(u, k, fb->size, fb->sha256, err);
}

/* Still A's file of B, its content right: its entry given B's time, as a flash of B writes it. */
static int add_touch(struct update_ctx *u, const struct key_entry *k, const struct release_file *fb) {
        const struct release_file **t;

        if (k->e.mtime == fat_time_as_stored(fb->mtime))
                return 0;
        if ((u->n_touch & 63) == 0) {
                t = realloc(u->touch, (u->n_touch + 64) * sizeof(*t));
                if (!t)
                        return -ENOMEM;
                u->touch = t;
        }
        u->touch[u->n_touch++] = fb;
        return 0;
}

/* ---- the plan ---- */

static int add_action(struct update_ctx *u, enum update_kind kind, const char *path, uint64_t size,
                      struct update_action **ret) {
        struct update_report *rep = u->rep;
        struct update_action *a;

        if ((rep->n_actions & 63) == 0) {
                a = realloc(rep->actions, (rep->n_actions + 64) * sizeof(*a));
                if (!a)
                        return -ENOMEM;
                rep->actions = a;
        }
        a = &rep->actions[rep->n_actions];
        *a = (struct update_action) { .kind = kind, .path = strdup(path), .size = size };
        if (!a->path)
                return -ENOMEM;
        rep->n_actions++;
        if (ret)
                *ret = a;
        return 0;
}

static bool is_under(const char *folded_path, const char *dir) {
        _cleanup_free_ char *f = NULL;
        size_t n;

        if (fat_fold(dir, &f) < 0)
                return false;
        n = strlen(f);
        while (n > 0 && f[n - 1] == '/')
                n--;
        return n > 0 && strncmp(folded_path, f, n) == 0 && folded_path[n] == '/';
}

static bool is_sealed_in_b(const struct update_ctx *u, const char *folded_path) {
        const struct release_layout *lay = manifest_layout(u->mb);

        for (size_t i = 0; i < lay->n_sealed; i++)
                if (is_under(folded_path, lay->sealed[i]))
                        return true;
        return false;
}

/* B has a file where one of path's parent directories is. */
static bool is_below_b_file(const struct update_ctx *u, const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return false;
        for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
                const struct release_file *f;

                *s = 0;
                f = manifest_find(u->mb, p);
                *s = '/';
                if (f && !f->is_dir)
                        return true;
        }
        return false;
}

static bool is_cartable_own(const struct update_ctx *u, const struct key_entry *k) {
        return streq(k->folded, ".CARTABLE") || is_under(k->folded, KEY_CARTABLE_DIR) ||
               (u->owner_path && update_find(u, u->owner_path) == k) ||
               (manifest_owner_path(u->ma) && update_find(u, manifest_owner_path(u->ma)) == k);
}

/* The name a pupil's file moved out of the way takes: free on the key and in the plan. */
static int rescue_name(struct update_ctx *u, const char *path, char **ret) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        const char *dot = strrchr(base, '.');
        size_t stem = dot && dot != base ? (size_t) (dot - base) : strlen(base);

        for (unsigned n = 1; n < 10000; n++) {
                _cleanup_free_ char *to = NULL, *folded = NULL;
                bool is_taken;
                int r = n == 1 ? asprintf(&to, "%s/%s", UPDATE_RESCUE_DIR, base) :
                                 asprintf(&to, "%s/%.*s (%u)%s", UPDATE_RESCUE_DIR, (int) stem, base, n, base + stem);

                if (r < 0 || fat_fold(to, &folded) < 0)
                        return -ENOMEM;
                is_taken = update_find(u, to) != NULL;
                for (size_t i = 0; i < u->rep->n_actions && !is_taken; i++) {
                        _cleanup_free_ char *x = NULL;
                        const struct update_action *a = &u->rep->actions[i];
                        if (a->kind == UPDATE_RESCUE && a->to && fat_fold(a->to, &x) >= 0)
                                is_taken = streq(x, folded);
                }
                if (!is_taken) {
                        *ret = TAKE_PTR(to);
                        return 0;
                }
        }
        return -EEXIST;
}

static int add_rescue(struct update_ctx *u, const struct key_entry *k) {
        struct update_action *a;
        int r = add_action(u, UPDATE_RESCUE, k->path, k->e.size, &a);

        if (r < 0)
                return r;
        return rescue_name(u, k->path, &a->to);
}

/* An entry of the key that B does not name as a file: kept, moved, or removed. */
static int plan_key_entry(struct update_ctx *u, const struct key_entry *k, struct cart_error *err) {
        const struct release_file *fb = manifest_find(u->mb, k->path), *fa = manifest_find(u->ma, k->path);
        bool is_in_way = (fb && fb->is_dir != k->e.is_dir) || is_below_b_file(u, k->path) ||
                         (!fb && is_sealed_in_b(u, k->folded));
        int r;

        if (k->e.is_dir) {
                /* Emptied by the moves and removals of the files below it, or kept. */
                if (is_in_way || (fa && !fb))
                        return add_action(u, UPDATE_RMDIR, k->path, 0, NULL);
                return 0;
        }
        if (fb && !fb->is_dir)
                return 0;       /* B's file: plan_b_file */
        if (fa && !fa->is_dir) {
                /* Quick: as A wrote it, A's bytes (removed unread). */
                r = u->is_quick && update_is_as_written(&k->e, fa) ? 1 : update_holds(u, k, fa->size, fa->sha256, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        return add_action(u, UPDATE_REMOVE, k->path, k->e.size, NULL);
        }
        /* The pupil's file, or A's changed by the pupil: kept, or moved when in B's way. */
        return is_in_way ? add_rescue(u, k) : 0;
}

static bool attrs_differ(const struct key_entry *k, const struct release_file *f) {
        return (k->e.attrs & UPDATE_ATTRS_KEPT) != (f->attrs & UPDATE_ATTRS_KEPT);
}

static int add_attrs(struct update_ctx *u, const struct release_file *fb, bool is_restore) {
        struct update_action *a;
        int r = add_action(u, UPDATE_ATTRS, fb->path, 0, &a);

        if (r >= 0) {
                a->attrs = fb->attrs & UPDATE_ATTRS_KEPT;
                a->is_restore = is_restore;
        }
        return r;
}

static int plan_b_file(struct update_ctx *u, const struct release_file *fb, struct cart_error *err) {
        const struct release_file *fa = manifest_find(u->ma, fb->path);
        const struct key_entry *k = update_find(u, fb->path);
        bool is_same_in_a = is_same_content(fa, fb);
        struct update_action *a;
        int r;

        if (fb->is_dir) {
                if (!k || !k->e.is_dir)
                        return add_action(u, UPDATE_MKDIR, fb->path, 0, NULL);
                return attrs_differ(k, fb) ? add_attrs(u, fb, fa && fa->is_dir && !attrs_differ(k, fa)) : 0;
        }
        if (k && !k->e.is_dir) {
                r = holds_b(u, k, fa, fb, err);
                if (r < 0)
                        return r;
                /* FAT folds case: a name whose case B changes is written again under B's. */
                if (r > 0 && !streq(strrchr(k->path, '/') ? strrchr(k->path, '/') : k->path,
                                    strrchr(fb->path, '/') ? strrchr(fb->path, '/') : fb->path)) {
                        r = add_action(u, UPDATE_REMOVE, k->path, k->e.size, NULL);
                        if (r < 0)
                                return r;
                } else if (r > 0) {
                        r = add_touch(u, k, fb);
                        if (r >= 0 && attrs_differ(k, fb))
                                r = add_attrs(u, fb, is_same_in_a);
                        return r;
                }
                else if (!fa) {
                        r = add_rescue(u, k);   /* the pupil's own file where B puts one */
                        if (r < 0)
                                return r;
                }
        }
        r = add_action(u, UPDATE_PUT, fb->path, fb->size, &a);
        if (r >= 0)
                a->is_restore = is_same_in_a;
        return r;
}

static int plan_owner(struct update_ctx *u, struct cart_error *err) {
        const struct key_entry *k;
        uint8_t sha[32];
        int r;

        if (!u->owner_path)
                return 0;
        k = update_find(u, u->owner_path);
        if (k) {
                r = hash_sha256(u->owner_text, u->owner_len, sha);
                if (r >= 0)
                        r = update_holds(u, k, u->owner_len, sha, err);
                if (r != 0)
                        return r;
        }
        return add_action(u, UPDATE_OWNER, u->owner_path, u->owner_len, NULL);
}

static int phase(const struct update_action *a) {
        static const int order[] = {
                [UPDATE_RESCUE] = 0, [UPDATE_REMOVE] = 1, [UPDATE_RMDIR] = 2, [UPDATE_MKDIR] = 3,
                [UPDATE_PUT] = 4, [UPDATE_ATTRS] = 5, [UPDATE_OWNER] = 6,
        };
        return order[a->kind];
}

/* Phases in order; directories removed deepest first, made parents first. */
static int cmp_action(const void *x, const void *y) {
        const struct update_action *a = x, *b = y;
        int d = phase(a) - phase(b);

        if (d)
                return d;
        return a->kind == UPDATE_RMDIR ? strcmp(b->path, a->path) : strcmp(a->path, b->path);
}

int update_plan(struct update_ctx *u, struct cart_error *err) {
        int r;

        for (size_t i = 0; i < u->n_keys; i++) {
                if (is_cartable_own(u, &u->keys[i]))
                        continue;
                r = plan_key_entry(u, &u->keys[i], err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < manifest_n_files(u->mb); i++) {
                r = plan_b_file(u, manifest_file(u->mb, i), err);
                if (r < 0)
                        return r;
        }
        r = plan_owner(u, err);
        if (r < 0)
                return r;
        if (u->rep->n_actions > 0)
                qsort(u->rep->actions, u->rep->n_actions, sizeof(*u->rep->actions), cmp_action);
        return 0;
}
