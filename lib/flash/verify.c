/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <openssl/evp.h>
#include <strings.h>

#include "flash/layout.h"
#include "release/release.h"
#include "flash/verify.h"

#define MANIFEST_MAX (16 * MIB)
#define ATTRS_CHECKED (FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM)

const char *verify_status_to_string(enum verify_status s) {
        switch (s) {
        case VERIFY_MISSING: return "missing";
        case VERIFY_MODIFIED: return "modified";
        case VERIFY_EXTRA: return "extra";
        case VERIFY_SEALED: return "sealed";
        case VERIFY_ATTRIBUTES: return "attributes";
        }
        return "unknown";
}

struct verify_result *verify_result_free(struct verify_result *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_entries; i++) {
                free(r->entries[i].path);
                free(r->entries[i].collides_with);
        }
        free(r->entries);
        free(r->owner_path);
        free(r->owner_template);
        free(r);
        return NULL;
}

int verify_open_volume(cart_read_fn read, void *userdata, uint64_t size, struct fat_reader **ret,
                       uint64_t *ret_offset, uint64_t *ret_size, struct cart_error *err) {
        uint64_t offset, vsize;
        int r;

        r = layout_find_volume(read, userdata, size, &offset, &vsize, err);
        if (r < 0)
                return r;
        r = fat_reader_open(read, userdata, offset, vsize, ret, err);
        if (r < 0)
                return r;
        if (ret_offset)
                *ret_offset = offset;
        if (ret_size)
                *ret_size = vsize;
        return 0;
}

struct membuf {
        uint8_t *data;
        size_t len, allocated, max;
};

static int membuf_sink(void *userdata, const void *buf, size_t len) {
        struct membuf *m = userdata;

        if (m->len + len + 1 > m->max)
                return -EFBIG;
        if (m->len + len + 1 > m->allocated) {
                size_t n = MAX(m->allocated * 2, m->len + len + 1);
                uint8_t *d = realloc(m->data, n);
                if (!d)
                        return -ENOMEM;
                m->data = d;
                m->allocated = n;
        }
        memcpy(m->data + m->len, buf, len);
        m->len += len;
        m->data[m->len] = 0;
        return 0;
}

/* A small file of the key into memory, NUL-terminated, at most max bytes. */
static int slurp(struct fat_reader *fr, const char *path, size_t max, struct membuf *ret, struct cart_error *err) {
        struct membuf m = { .max = max };
        int r = membuf_sink(&m, "", 0);

        if (r >= 0)
                r = fat_reader_read_file(fr, path, membuf_sink, &m, err);
        if (r == -EFBIG)   /* the sink's refusal: the reader has no words for it */
                r = max >= MIB ? cart_error_set(err, r, "\"/%s\": larger than %zu MiB", path, max / MIB) :
                                 cart_error_set(err, r, "\"/%s\": larger than %zu KiB", path, max / KIB);
        if (r < 0) {
                free(m.data);
                return r;
        }
        *ret = m;
        return 0;
}

static int sha_sink(void *userdata, const void *buf, size_t len) {
        return EVP_DigestUpdate(userdata, buf, len) == 1 ? 0 : -EIO;
}

/* The entry in hand from the walk: no path lookup, which would re-read every directory
 * on the way for each file (quadratic in the files of a directory). */
static int hash_entry(struct fat_reader *fr, const char *path, const struct fat_dirent *e, uint8_t ret[32],
                      struct cart_error *err) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned len = 0;
        int r;

        if (!ctx)
                return -ENOMEM;
        r = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
        if (r >= 0)
                r = fat_reader_read_entry(fr, path, e, sha_sink, ctx, err);
        if (r >= 0 && EVP_DigestFinal_ex(ctx, ret, &len) != 1)
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        return r;
}

/* A file whose size matched, to hash after the walk: the entry as the walk found it. */
struct pending {
        const struct release_file *f;
        struct fat_dirent e;            /* without its name */
        char path[];
};

struct walk {
        const struct verify_options *o;
        struct verify_result *res;
        const struct manifest *m;
        const struct release_layout *lay;
        const struct release_file **seen;
        size_t n_seen, allocated_seen;
        struct pending **to_hash;       /* files whose size matched: contents checked after the walk */
        size_t n_hash, allocated_hash;
        size_t n_foreign_collisions;    /* listed colliding entries the manifest does not name */
};

static void count_entry(struct verify_result *res, enum verify_status s) {
        switch (s) {
        case VERIFY_MISSING: res->n_missing++; break;
        case VERIFY_MODIFIED: res->n_modified++; break;
        case VERIFY_EXTRA: res->n_extra++; break;
        case VERIFY_SEALED: res->n_sealed++; break;
        case VERIFY_ATTRIBUTES: res->n_attributes++; break;
        }
}

static int add_entry(struct verify_result *res, const char *path, enum verify_status s, bool is_dir,
                     uint64_t expected, uint64_t actual) {
        struct verify_entry *e;

        count_entry(res, s);
        /* The pupil's side is unbounded (a key may hold millions of entries): count, list a few. */
        if (s == VERIFY_EXTRA || s == VERIFY_SEALED) {
                if (res->n_extra + res->n_sealed - res->n_unlisted > VERIFY_LISTED_MAX) {
                        res->n_unlisted++;
                        return 0;
                }
        }
        if ((res->n_entries & 63) == 0) {
                e = realloc(res->entries, (res->n_entries + 64) * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                res->entries = e;
        }
        e = &res->entries[res->n_entries];
        *e = (struct verify_entry) { .path = strdup(path), .status = s, .is_dir = is_dir,
                                     .expected_size = expected, .actual_size = actual };
        if (!e->path)
                return -ENOMEM;
        res->n_entries++;
        return 0;
}

static bool has_prefix_dir(const char *path, const char *dir) {
        size_t n = strlen(dir);
        while (n > 0 && dir[n - 1] == '/')
                n--;
        return n > 0 && strncasecmp(path, dir, n) == 0 && path[n] == '/';
}

/* The files flash writes into /.cartable/. */
static bool is_key_record(const char *path) {
        static const char *const names[] = {
                KEY_CARTABLE_DIR "/" RELEASE_MANIFEST_PATH,
                KEY_CARTABLE_DIR "/" RELEASE_SIGNATURE_PATH,
                KEY_CARTABLE_DIR "/key.json",
                KEY_PENDING_PATH,
                KEY_PENDING_SIG_PATH,
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(path, names[i]) == 0)
                        return true;
        return false;
}

static bool is_sealed(const struct release_layout *lay, const char *path) {
        for (size_t i = 0; i < lay->n_sealed; i++)
                if (has_prefix_dir(path, lay->sealed[i]))
                        return true;
        return false;
}

static int push(void ***a, size_t *n, size_t *allocated, void *v) {
        if (*n == *allocated) {
                size_t k = *allocated ? *allocated * 2 : 256;
                void **x = realloc(*a, k * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                *a = x;
                *allocated = k;
        }
        (*a)[(*n)++] = v;
        return 0;
}

/* Two entries of a directory answer to one name: which one Windows or Linux opens is not
 * the one the walk checked. Both are reported modified, each naming the other. */
static int add_collision(struct walk *w, const char *path, const struct fat_dirent *e) {
        const struct release_file *f = manifest_find(w->m, path);
        struct verify_entry *x;
        int r;

        if (f && push((void ***) &w->seen, &w->n_seen, &w->allocated_seen, (void *) f) < 0)
                return -ENOMEM;
        /* Entries the manifest does not name are the key's to multiply: bounded as extras. */
        if (!f && ++w->n_foreign_collisions > VERIFY_LISTED_MAX) {
                count_entry(w->res, VERIFY_MODIFIED);
                w->res->n_unlisted++;
                return 0;
        }
        r = add_entry(w->res, path, VERIFY_MODIFIED, e->is_dir, f ? f->size : 0, e->size);
        if (r < 0)
                return r;
        x = &w->res->entries[w->res->n_entries - 1];
        x->collides_with = strdup(e->collides_with);
        return x->collides_with ? 0 : -ENOMEM;
}

static int on_entry(void *userdata, const char *path, const struct fat_dirent *e) {
        struct walk *w = userdata;
        const char *owner = manifest_owner_path(w->m);
        const struct release_file *f;
        struct pending *p;

        if (path[0] == '/')
                path++;
        if (e->collides_with)
                return add_collision(w, path, e);
        if (strcasecmp(path, KEY_CARTABLE_DIR) == 0 || is_key_record(path))
                return 0;
        /* /.cartable/ is cartable's own: anything else there is reported, as in a sealed
         * directory, never skipped. */
        if (has_prefix_dir(path, KEY_CARTABLE_DIR))
                return add_entry(w->res, path, VERIFY_SEALED, e->is_dir, 0, e->size);
        if (owner && strcasecmp(path, owner) == 0)
                return 0;
        f = manifest_find(w->m, path);
        if (!f)
                return add_entry(w->res, path, is_sealed(w->lay, path) ? VERIFY_SEALED : VERIFY_EXTRA,
                                 e->is_dir, 0, e->size);
        if (push((void ***) &w->seen, &w->n_seen, &w->allocated_seen, (void *) f) < 0)
                return -ENOMEM;
        if (f->is_dir != e->is_dir || (!f->is_dir && f->size != e->size))
                return add_entry(w->res, path, VERIFY_MODIFIED, e->is_dir, f->size, e->size);
        /* Hiding a course file or making it writable is a change in a sealed directory. */
        if (is_sealed(w->lay, path) && (e->attrs & ATTRS_CHECKED) != (f->attrs & ATTRS_CHECKED)) {
                int r = add_entry(w->res, path, VERIFY_ATTRIBUTES, e->is_dir, f->size, e->size);
                if (r < 0)
                        return r;
                w->res->entries[w->res->n_entries - 1].expected_attrs = f->attrs & ATTRS_CHECKED;
                w->res->entries[w->res->n_entries - 1].actual_attrs = e->attrs & ATTRS_CHECKED;
        }
        if (f->is_dir || (w->o->is_trusted && w->o->is_trusted(w->o->trusted_userdata, path, e, f)))
                return 0;
        p = malloc(sizeof(*p) + strlen(path) + 1);
        if (!p)
                return -ENOMEM;
        *p = (struct pending) { .f = f, .e = *e };
        p->e.name = NULL;
        p->e.collides_with = NULL;
        strcpy(p->path, path);
        if (push((void ***) &w->to_hash, &w->n_hash, &w->allocated_hash, p) < 0) {
                free(p);
                return -ENOMEM;
        }
        return 0;
}

static int cmp_ptr(const void *a, const void *b) {
        uintptr_t x = (uintptr_t) *(void *const *) a, y = (uintptr_t) *(void *const *) b;
        return x < y ? -1 : x > y;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const struct verify_entry *) a)->path, ((const struct verify_entry *) b)->path);
}

static int check_files(struct walk *w, struct fat_reader *fr, struct cart_error *err) {
        int r;

        for (size_t i = 0; i < w->n_hash; i++) {
                const struct pending *p = w->to_hash[i];
                const struct release_file *f = p->f;
                uint8_t sha[32];

                r = hash_entry(fr, p->path, &p->e, sha, err);
                if (r < 0)
                        return cart_error_prefix(err, r, "%s", p->path);
                w->res->n_files_checked++;
                w->res->bytes_checked += f->size;
                if (memcmp(sha, f->sha256, 32) != 0) {
                        r = add_entry(w->res, p->path, VERIFY_MODIFIED, false, f->size, f->size);
                        if (r < 0)
                                return r;
                }
        }
        if (w->n_seen > 0)   /* seen is NULL then, which qsort() may not be given */
                qsort(w->seen, w->n_seen, sizeof(*w->seen), cmp_ptr);
        for (size_t i = 0; i < manifest_n_files(w->m); i++) {
                const struct release_file *f = manifest_file(w->m, i);
                if (w->n_seen && bsearch(&f, w->seen, w->n_seen, sizeof(*w->seen), cmp_ptr))
                        continue;
                r = add_entry(w->res, f->path, VERIFY_MISSING, f->is_dir, f->size, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_manifest(struct fat_reader *fr, const struct sign_trust *trust, struct manifest **ret,
                         struct cart_error *err) {
        struct membuf json = {}, sig = {};
        int r;

        r = slurp(fr, KEY_CARTABLE_DIR "/" RELEASE_MANIFEST_PATH, MANIFEST_MAX, &json, err);
        if (r == -ENOENT)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no /%s/%s",
                                      KEY_CARTABLE_DIR, RELEASE_MANIFEST_PATH);
        if (r < 0)
                return r;
        r = slurp(fr, KEY_CARTABLE_DIR "/" RELEASE_SIGNATURE_PATH, MANIFEST_MAX, &sig, err);
        if (r == -ENOENT)
                r = cart_error_set(err, -EKEYREJECTED, "the key's manifest is not signed: no /%s/%s",
                                   KEY_CARTABLE_DIR, RELEASE_SIGNATURE_PATH);
        if (r >= 0)
                r = manifest_load(trust, json.data, json.len, (const char *) sig.data, ret, err);
        free(json.data);
        free(sig.data);
        /* An update cut between writing the manifest and its signature: the one it brings,
         * signed, stands in (check_pending says the update was interrupted). */
        if (r == -EKEYREJECTED || r == -EBADMSG) {
                struct membuf pj = {}, ps = {};
                struct cart_error e = {};

                if (slurp(fr, KEY_PENDING_PATH, MANIFEST_MAX, &pj, &e) >= 0 &&
                    slurp(fr, KEY_PENDING_SIG_PATH, MANIFEST_MAX, &ps, &e) >= 0 &&
                    manifest_load(trust, pj.data, pj.len, (const char *) ps.data, ret, &e) >= 0)
                        r = 0;
                free(pj.data);
                free(ps.data);
        }
        return r;
}

/*
 * The volume to check: the first FAT volume that carries a manifest. A key with others
 * is not as flashed (the table check says so), but what its release holds is still told.
 */
static int open_cartable_volume(cart_read_fn read, void *userdata, uint64_t size, const struct sign_trust *trust,
                                struct fat_reader **ret_fr, struct manifest **ret_m, struct verify_result *res,
                                struct cart_error *err) {
        struct layout_volume vols[LAYOUT_VOLUMES_MAX];
        size_t n;
        int r = layout_find_volumes(read, userdata, size, vols, &n, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
                struct cart_error e = {};

                r = fat_reader_open(read, userdata, vols[i].offset, vols[i].size, &fr, &e);
                if (r >= 0)
                        r = load_manifest(fr, trust, ret_m, &e);
                /* Another volume may be the cartable one: go on unless this one is it. */
                if ((r == -EMEDIUMTYPE || r == -EUCLEAN) && i + 1 < n)
                        continue;
                if (r < 0) {
                        if (err)
                                *err = e;
                        return r;
                }
                res->volume_offset = vols[i].offset;
                res->volume_size = vols[i].size;
                *ret_fr = TAKE_PTR(fr);
                return 0;
        }
        return -EMEDIUMTYPE;   /* not reached: the last volume's error is returned */
}

static int check_table(cart_read_fn read, void *userdata, uint64_t size, const struct manifest *m,
                       struct verify_result *res, struct cart_error *err) {
        const struct release_layout *lay = manifest_layout(m);
        struct layout_expect e = { .alignment = lay->alignment, .volume_offset = res->volume_offset };
        int r;

        if (layout_scheme_from_string(lay->scheme, &e.scheme) < 0) {
                snprintf(res->table_problem, sizeof(res->table_problem),
                         "the release's layout has an unknown scheme \"%s\"", lay->scheme);
                return 0;
        }
        r = layout_check_table(read, userdata, size, &e, res->table_problem, sizeof(res->table_problem), err);
        return r < 0 ? r : 0;
}

/*
 * The unsigned key record: parsed strictly, and held against what the volume proves.
 * Seam for the journal (next issue): look the key up there first (volume ID, key serial)
 * and, when found, fill res->key_record from the journal and report where the key's
 * own key.json differs from it.
 */
static void check_key_record(struct fat_reader *fr, struct verify_result *res) {
        struct membuf key = {};
        struct cart_error e = {};
        int r;

        r = slurp(fr, KEY_RECORD_PATH, KEY_RECORD_MAX, &key, &e);
        if (r == -ENOENT)
                return;
        res->has_key_record = true;
        if (r >= 0)
                r = key_record_parse(key.data, key.len, &res->key_record, &e);
        free(key.data);
        if (r < 0) {
                res->is_key_record_mismatch = true;
                res->key_record_error = e;
                cart_error_detail(&e, r, res->key_record_problem, sizeof(res->key_record_problem));
                /* The message may quote the key's bytes (an unknown field's name): no C0, DEL
                 * or C1 control reaches a terminal. */
                for (unsigned char *p = (unsigned char *) res->key_record_problem; *p; p++)
                        if (*p < 0x20 || *p == 0x7F)
                                *p = '?';
                        else if (*p == 0xC2 && p[1] >= 0x80 && p[1] < 0xA0)
                                p[0] = p[1] = '?';
                return;
        }
        res->is_key_record_valid = true;
        if (res->key_record.volume_id != res->volume_id) {
                res->is_key_record_mismatch = true;
                snprintf(res->key_record_problem, sizeof(res->key_record_problem),
                         "the record names volume %04X-%04X, the volume is %04X-%04X",
                         res->key_record.volume_id >> 16, res->key_record.volume_id & 0xFFFF,
                         res->volume_id >> 16, res->volume_id & 0xFFFF);
        } else if (!streq(res->key_record.release_name, res->release_name) ||
                   res->key_record.release_serial != res->release_serial) {
                res->is_key_record_mismatch = true;
                snprintf(res->key_record_problem, sizeof(res->key_record_problem),
                         "the record names release %s serial %" PRIu64 ", the manifest %s serial %" PRIu64,
                         res->key_record.release_name, res->key_record.release_serial,
                         res->release_name, res->release_serial);
        }
}

/* An update's intent on the key: the release it brings, when its signature checks. */
static void check_pending(struct fat_reader *fr, const struct sign_trust *trust, struct verify_result *res) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        struct membuf json = {}, sig = {};
        struct cart_error e = {};

        if (slurp(fr, KEY_PENDING_PATH, MANIFEST_MAX, &json, &e) < 0)
                return;
        res->is_update_interrupted = true;
        if (slurp(fr, KEY_PENDING_SIG_PATH, MANIFEST_MAX, &sig, &e) >= 0 &&
            manifest_load(trust, json.data, json.len, (const char *) sig.data, &m, &e) >= 0) {
                snprintf(res->pending_version, sizeof(res->pending_version), "%s", manifest_version(m));
                res->pending_serial = manifest_serial(m);
                res->is_interrupted_repair = streq(manifest_name(m), res->release_name) &&
                                             manifest_serial(m) == res->release_serial;
        }
        free(json.data);
        free(sig.data);
}

int verify_key_with(cart_read_fn read, void *userdata, uint64_t size, const struct verify_options *o,
                    struct verify_result **ret, struct cart_error *err) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        _cleanup_(verify_result_freep) struct verify_result *res = calloc(1, sizeof(*res));
        struct fat_volume_info vi;
        struct walk w = {};
        int r;

        if (!res)
                return -ENOMEM;
        r = open_cartable_volume(read, userdata, size, o->trust, &fr, &m, res, err);
        if (r < 0)
                return r;
        r = fat_reader_info_uncounted(fr, &vi);      /* the label and volume ID: no FAT read */
        if (r < 0)
                return r;
        memcpy(res->label, vi.label, sizeof(res->label));
        res->volume_id = vi.volume_id;
        snprintf(res->release_name, sizeof(res->release_name), "%s", manifest_name(m));
        snprintf(res->release_version, sizeof(res->release_version), "%s", manifest_version(m));
        snprintf(res->release_key_id, sizeof(res->release_key_id), "%s", manifest_key_id(m));
        res->release_serial = manifest_serial(m);
        if (manifest_owner_path(m)) {
                res->owner_path = strdup(manifest_owner_path(m));
                res->owner_template = strdup(manifest_owner_template(m));
                if (!res->owner_path || !res->owner_template)
                        return -ENOMEM;
        }
        r = check_table(read, userdata, size, m, res, err);
        if (r < 0)
                return r;
        check_key_record(fr, res);
        check_pending(fr, o->trust, res);
        if (o->state_dir) {
                struct cart_error e = {};
                /* The station's trouble, not the key's: said, and the rest is checked. */
                r = release_recorded_serial(o->state_dir, manifest_name(m), &res->station_serial, &e);
                if (r < 0) {
                        res->state_error = e;
                        cart_error_detail(&e, r, res->state_problem, sizeof(res->state_problem));
                }
                res->is_outdated = r >= 0 && res->station_serial > res->release_serial;
        }

        w.o = o;
        w.res = res;
        w.m = m;
        w.lay = manifest_layout(m);
        r = fat_reader_walk(fr, on_entry, &w, err);
        if (r >= 0)
                r = check_files(&w, fr, err);
        for (size_t i = 0; i < w.n_hash; i++)
                free(w.to_hash[i]);
        free(w.to_hash);
        free(w.seen);
        if (r < 0)
                return r;
        if (res->n_entries > 0)
                qsort(res->entries, res->n_entries, sizeof(*res->entries), cmp_entry);
        *ret = TAKE_PTR(res);
        return 0;
}

int verify_key_release(cart_read_fn read, void *userdata, uint64_t size, const struct sign_trust *trust,
                       struct manifest **ret, struct cart_error *err) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        struct verify_result res = {};

        if (!read || !ret)
                return -EINVAL;
        return open_cartable_volume(read, userdata, size, trust, &fr, ret, &res, err);
}

int verify_key(cart_read_fn read, void *userdata, uint64_t size, const struct sign_trust *trust,
               struct verify_result **ret, struct cart_error *err) {
        const struct verify_options o = { .trust = trust };
        return verify_key_with(read, userdata, size, &o, ret, err);
}
