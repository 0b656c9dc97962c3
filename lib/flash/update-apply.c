/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An update or a repair written: the checks that refuse a key before the first write, the
 * space the whole plan needs, the writes in update.h's order, the read-back and verify.
 */
#include <inttypes.h>
#include <time.h>

#include "base/hash.h"
#include "flash/update-internal.h"
#include "flash/verify.h"

#define MANIFEST_MAX (16 * MIB)

/* The key's I/O, with the bytes written and read counted. */
struct counted {
        cart_read_fn read;
        cart_write_fn write;
        void *userdata;
        uint64_t written, read_bytes;
};

static int counted_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        struct counted *c = userdata;
        c->read_bytes += len;
        return c->read(c->userdata, buf, len, offset);
}

static int counted_write(void *userdata, const void *buf, size_t len, uint64_t offset) {
        struct counted *c = userdata;
        c->written += len;
        return c->write(c->userdata, buf, len, offset);
}

struct key_files {
        char *json, *sig, *pending_json, *pending_sig, *record;
        size_t json_len, sig_len, pending_len, pending_sig_len, record_len;
};

static void key_files_done(struct key_files *k) {
        free(k->json);
        free(k->sig);
        free(k->pending_json);
        free(k->pending_sig);
        free(k->record);
}

static int read_optional(struct fat_reader *r, const char *path, size_t max, char **ret, size_t *ret_len,
                         struct cart_error *err) {
        int k = fat_reader_read_small(r, path, max, ret, ret_len, err);
        return k == -ENOENT ? 0 : k;
}

static int read_key_files(struct fat_reader *r, struct key_files *k, struct cart_error *err) {
        int x = fat_reader_read_small(r, KEY_CARTABLE_DIR "/" RELEASE_MANIFEST_PATH, MANIFEST_MAX, &k->json,
                                      &k->json_len, err);

        if (x == -ENOENT)
                return cart_error_set(err, -EMEDIUMTYPE, "not a cartable key: no /%s/%s", KEY_CARTABLE_DIR,
                                      RELEASE_MANIFEST_PATH);
        if (x >= 0)
                x = fat_reader_read_small(r, KEY_CARTABLE_DIR "/" RELEASE_SIGNATURE_PATH, MANIFEST_MAX, &k->sig,
                                          &k->sig_len, err);
        if (x == -ENOENT)
                return cart_error_set(err, -EKEYREJECTED, "the key's manifest is not signed");
        if (x >= 0)
                x = read_optional(r, UPDATE_PENDING_PATH, MANIFEST_MAX, &k->pending_json, &k->pending_len, err);
        if (x >= 0)
                x = read_optional(r, UPDATE_PENDING_SIG_PATH, MANIFEST_MAX, &k->pending_sig, &k->pending_sig_len, err);
        if (x >= 0)
                x = fat_reader_read_small(r, KEY_RECORD_PATH, KEY_RECORD_MAX, &k->record, &k->record_len, err);
        if (x == -ENOENT)
                return cart_error_set(err, -EBADMSG, "no key record /%s: flash the key instead", KEY_RECORD_PATH);
        return x;
}

static bool same_bytes(const char *a, size_t a_len, const void *b, size_t b_len) {
        return a && a_len == b_len && memcmp(a, b, b_len) == 0;
}

/* A (the key's) against B: the same release, B newer (or A itself for a repair), no other intent. */
static int check_releases(struct update_ctx *u, const struct key_files *k, struct cart_error *err) {
        const struct update_options *o = u->o;
        const void *json;
        size_t len;
        const char *sig = release_signature_text(o->release);
        bool is_b_pending;

        release_manifest_bytes(o->release, &json, &len);
        /* The intent whole, or only its signature left by a cut at the very end. */
        is_b_pending = (same_bytes(k->pending_json, k->pending_len, json, len) ||
                        (!k->pending_json && same_bytes(k->json, k->json_len, json, len))) &&
                       same_bytes(k->pending_sig, k->pending_sig_len, sig, strlen(sig));
        if (k->pending_json && !is_b_pending)
                return cart_error_set(err, -EBUSY, "an update of this key to another release was interrupted: "
                                      "run it again with that release");
        u->rep->is_resumed = is_b_pending;
        if (!streq(manifest_name(u->ma), manifest_name(u->mb)))
                return cart_error_set(err, -EXDEV, "the key holds release %s, not %s", manifest_name(u->ma),
                                      manifest_name(u->mb));
        if (o->is_repair) {
                if (!same_bytes(k->json, k->json_len, json, len))
                        return cart_error_set(err, -ESTALE, "the key holds %s %s (serial %" PRIu64 "), "
                                              "the release given is %s (serial %" PRIu64 ")", manifest_name(u->ma),
                                              manifest_version(u->ma), manifest_serial(u->ma), manifest_version(u->mb),
                                              manifest_serial(u->mb));
                return 0;
        }
        /* Finishing an interrupted update of this very release is allowed whatever the manifest says. */
        if (!is_b_pending && manifest_serial(u->mb) <= manifest_serial(u->ma))
                return cart_error_set(err, -ESTALE, "release %s %s (serial %" PRIu64 ") is not newer than the key's "
                                      "%s (serial %" PRIu64 ")", manifest_name(u->mb), manifest_version(u->mb),
                                      manifest_serial(u->mb), manifest_version(u->ma), manifest_serial(u->ma));
        return 0;
}

static int load_key(struct update_ctx *u, const struct key_files *k, uint32_t volume_id, struct cart_error *err) {
        struct owner_fields f;
        int r;

        r = manifest_load(u->o->trust, k->json, k->json_len, k->sig, &u->ma, err);
        /* Cut between the manifest and its signature: the intent's manifest is what the key holds. */
        if ((r == -EKEYREJECTED || r == -EBADMSG) && k->pending_json && k->pending_sig &&
            manifest_load(u->o->trust, k->pending_json, k->pending_len, k->pending_sig, &u->ma, NULL) >= 0)
                r = 0;
        if (r < 0)
                return cart_error_prefix(err, r, "the key's manifest");
        r = key_record_parse(k->record, k->record_len, &u->rec, err);
        if (r < 0)
                return cart_error_prefix(err, r, "the key record /%s", KEY_RECORD_PATH);
        if (u->rec.volume_id != volume_id)
                return cart_error_set(err, -EBADMSG, "the key record names volume %04X-%04X, the key is %04X-%04X",
                                      u->rec.volume_id >> 16, u->rec.volume_id & 0xFFFF, volume_id >> 16,
                                      volume_id & 0xFFFF);
        if (!manifest_is_personalised(u->mb) || !u->rec.has_owner)
                return 0;
        f = (struct owner_fields) { .first_name = u->rec.owner_first_name, .last_name = u->rec.owner_last_name,
                                    .class_name = u->rec.owner_class, .school = u->rec.owner_school };
        return release_render_owner(u->o->release, &f, &u->owner_path, &u->owner_text, &u->owner_len, err);
}

/* ---- space ---- */

struct space {
        uint64_t cs;
        int64_t cur, peak;
};

static void take(struct space *s, uint64_t bytes) {
        s->cur += (int64_t) DIV_ROUND_UP(bytes, s->cs);
        s->peak = MAX(s->peak, s->cur);
}

static void give(struct space *s, uint64_t bytes) {
        s->cur -= (int64_t) DIV_ROUND_UP(bytes, s->cs);
}

static uint64_t key_size(const struct update_ctx *u, const char *path) {
        const struct key_entry *k = update_find(u, path);
        return k && !k->e.is_dir ? k->e.size : 0;
}

/* One cluster more for each directory that gets an entry, and for each made: a bound, never short. */
static uint64_t space_needed(const struct update_ctx *u, const struct key_files *k, const char *record,
                             uint64_t cs) {
        struct space s = { .cs = cs };
        const void *json;
        size_t len;
        const char *sig = release_signature_text(u->o->release);

        release_manifest_bytes(u->o->release, &json, &len);
        if (!u->rep->is_resumed) {
                take(&s, len);
                take(&s, strlen(sig));
        }
        take(&s, cs);      /* the rescue directory, or a directory grown */
        for (size_t i = 0; i < u->rep->n_actions; i++) {
                const struct update_action *a = &u->rep->actions[i];
                uint64_t old = key_size(u, a->path);

                switch (a->kind) {
                case UPDATE_RESCUE: take(&s, cs); take(&s, a->size); give(&s, a->size); break;
                case UPDATE_REMOVE: give(&s, a->size); break;
                case UPDATE_RMDIR: case UPDATE_ATTRS: break;
                case UPDATE_MKDIR: take(&s, 2 * cs); break;
                case UPDATE_PUT: case UPDATE_OWNER: take(&s, cs); take(&s, a->size); give(&s, old); break;
                }
        }
        take(&s, strlen(record));
        give(&s, k->record_len);
        take(&s, len);
        take(&s, strlen(sig));
        give(&s, k->json_len);
        give(&s, k->sig_len);
        return (uint64_t) MAX(s.peak, (int64_t) 0) * cs;
}

/* ---- writing ---- */

struct release_source { const struct release *rel; uint64_t offset; };

static int read_release_at(void *userdata, void *buf, size_t len, uint64_t offset) {
        struct release_source *s = userdata;
        /* release_read only reads: a cart_read_fn's userdata is not const. */
        return release_read((void *) s->rel, buf, len, s->offset + offset);
}

static int mkdir_parents_fat(struct fat_editor *ed, const char *path, int64_t mtime, struct cart_error *err) {
        _cleanup_free_ char *p = strdup(path);
        struct fat_dirent d;

        if (!p)
                return -ENOMEM;
        for (char *s = p;; s++) {
                bool is_last = !(s = strchr(s, '/'));
                int r;

                if (!is_last)
                        *s = 0;
                r = fat_reader_stat(fat_editor_reader(ed), p, &d, err);
                if (r >= 0)
                        fat_dirent_clear(&d);
                else if (r == -ENOENT)
                        r = fat_editor_mkdir(ed, p, 0, mtime, err);
                if (r < 0)
                        return r;
                if (is_last)
                        return 0;
                *s = '/';
        }
}

static int apply_action(struct update_ctx *u, struct fat_editor *ed, struct update_action *a, int64_t now,
                        struct cart_error *err) {
        const struct release_file *f = manifest_find(u->mb, a->path);
        struct update_report *rep = u->rep;
        int r;

        switch (a->kind) {
        case UPDATE_RESCUE:
                r = mkdir_parents_fat(ed, UPDATE_RESCUE_DIR, now, err);
                if (r >= 0)
                        r = fat_editor_move(ed, a->path, a->to, err);
                rep->n_rescued += r >= 0;
                return r;
        case UPDATE_REMOVE:
                rep->n_removed++;
                return fat_editor_remove(ed, a->path, err);
        case UPDATE_RMDIR:
                r = fat_editor_remove(ed, a->path, err);
                a->is_kept = r == -ENOTEMPTY;
                rep->n_dirs_removed += r >= 0;
                return a->is_kept ? 0 : r;
        case UPDATE_MKDIR:
                rep->n_dirs_created++;
                return fat_editor_mkdir(ed, f->path, f->attrs & UPDATE_ATTRS_KEPT, f->mtime, err);
        case UPDATE_PUT:
                r = fat_editor_put_stream(ed, f->path, f->size, read_release_at,
                                          &(struct release_source) { u->o->release, f->data_offset },
                                          f->attrs & UPDATE_ATTRS_KEPT, f->mtime, err);
                /* A file replaced keeps its entry's attributes: B's are set after. */
                if (r >= 0)
                        r = fat_editor_set_attrs(ed, f->path, (f->attrs & UPDATE_ATTRS_KEPT) | FAT_ATTR_ARCHIVE, err);
                rep->n_put += !a->is_restore;
                rep->n_restored += a->is_restore;
                return r;
        case UPDATE_ATTRS:
                rep->n_attrs++;
                return fat_editor_set_attrs(ed, f->path, a->attrs | (f->is_dir ? 0 : FAT_ATTR_ARCHIVE), err);
        case UPDATE_OWNER:
                return fat_editor_put_file(ed, a->path, u->owner_text, u->owner_len, 0, now, err);
        }
        return -EINVAL;
}

static int put_if_other(struct fat_editor *ed, const char *path, const char *old, size_t old_len, const void *data,
                        size_t len, int64_t now, struct cart_error *err) {
        if (same_bytes(old, old_len, data, len))
                return 0;
        return fat_editor_put_file(ed, path, data, len, FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM, now, err);
}

/* The intent, every action, then the key record and the manifest; the intent removed last. */
static int apply(struct update_ctx *u, struct fat_editor *ed, const struct key_files *k, const char *record,
                 int64_t now, struct cart_error *err) {
        const char *sig = release_signature_text(u->o->release);
        const void *json;
        size_t len;
        int r = 0;

        release_manifest_bytes(u->o->release, &json, &len);
        if (!u->rep->is_resumed) {
                r = fat_editor_put_file(ed, UPDATE_PENDING_SIG_PATH, sig, strlen(sig), FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM,
                                        now, err);
                if (r >= 0)
                        r = fat_editor_put_file(ed, UPDATE_PENDING_PATH, json, len, FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM,
                                                now, err);
        }
        for (size_t i = 0; r >= 0 && i < u->rep->n_actions; i++) {
                r = apply_action(u, ed, &u->rep->actions[i], now, err);
                if (r < 0)
                        return cart_error_prefix(err, r, "%s \"/%s\"", update_kind_to_string(u->rep->actions[i].kind),
                                                 u->rep->actions[i].path);
        }
        for (size_t i = 0; r >= 0 && i < u->n_touch; i++) {
                r = fat_editor_set_time(ed, u->touch[i]->path, u->touch[i]->mtime, err);
                if (r < 0)
                        return cart_error_prefix(err, r, "the time of \"/%s\"", u->touch[i]->path);
                u->rep->n_times++;
        }
        if (r >= 0)
                r = put_if_other(ed, KEY_RECORD_PATH, k->record, k->record_len, record, strlen(record), now, err);
        if (r >= 0)
                r = put_if_other(ed, KEY_CARTABLE_DIR "/" RELEASE_SIGNATURE_PATH, k->sig, k->sig_len, sig, strlen(sig),
                                 now, err);
        if (r >= 0)
                r = put_if_other(ed, KEY_CARTABLE_DIR "/" RELEASE_MANIFEST_PATH, k->json, k->json_len, json, len, now, err);
        /* The intent is there when written now, or when found (unless only its signature was). */
        if (r >= 0 && (!u->rep->is_resumed || k->pending_json))
                r = fat_editor_remove(ed, UPDATE_PENDING_PATH, err);
        if (r >= 0)
                r = fat_editor_remove(ed, UPDATE_PENDING_SIG_PATH, err);
        return r;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The paths of B's files written, sorted: the files the quick read-back reads. */
static int list_written(struct update_ctx *u) {
        u->written = calloc(u->rep->n_actions + 1, sizeof(*u->written));
        if (!u->written)
                return -ENOMEM;
        for (size_t i = 0; i < u->rep->n_actions; i++)
                if (u->rep->actions[i].kind == UPDATE_PUT)
                        u->written[u->n_written++] = u->rep->actions[i].path;
        if (u->n_written > 0)
                qsort(u->written, u->n_written, sizeof(*u->written), cmp_str);
        return 0;
}

/* verify's quick check: a file not written now is taken as intact when its entry is as B
 * wrote it (its size verify has compared); its attributes are counted when they are not B's. */
static bool is_trusted(void *userdata, const char *path, const struct fat_dirent *e, const struct release_file *f) {
        struct update_ctx *u = userdata;

        (void) path;
        if (u->n_written > 0 && bsearch(&f->path, u->written, u->n_written, sizeof(*u->written), cmp_str))
                return false;
        if ((e->attrs & UPDATE_ATTRS_KEPT) != (f->attrs & UPDATE_ATTRS_KEPT))
                u->n_entry_mismatch++;
        if (!update_is_as_written(e, f))
                u->n_entry_mismatch++;
        return true;
}

/*
 * After the writes: the key verified against B, with the files written now read and
 * compared with B's hashes and, quick, the others checked by their entries (content:
 * every file read, as verify does), the manifest verify checked being B's; then the
 * owner file read again.
 */
static int read_back(struct update_ctx *u, struct fat_reader *fr, cart_read_fn read, void *userdata, uint64_t size,
                     struct cart_error *err) {
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        /* Nothing written: the plan has checked the files as o->check says, not again here. */
        const struct verify_options vo = { .trust = u->o->trust,
                                           .is_trusted = u->is_quick || u->rep->is_intact ? is_trusted : NULL,
                                           .trusted_userdata = u };
        int r;

        r = list_written(u);
        if (r < 0)
                return r;
        r = verify_key_with(read, userdata, size, &vo, &v, err);
        if (r < 0)
                return cart_error_prefix(err, r, "verify after the update");
        if (!verify_result_is_intact(v) || u->n_entry_mismatch > 0)
                return cart_error_set(err, -EBADE, "verify after the update: %zu missing, %zu modified, %zu in sealed "
                                      "directories, %zu attributes changed, %zu entries not as written", v->n_missing,
                                      v->n_modified, v->n_sealed, v->n_attributes, u->n_entry_mismatch);
        /* The manifest verify read and checked is B's. */
        if (!streq(v->release_name, manifest_name(u->mb)) || !streq(v->release_version, manifest_version(u->mb)) ||
            v->release_serial != manifest_serial(u->mb) || !streq(v->release_key_id, manifest_key_id(u->mb)))
                return cart_error_set(err, -EBADE, "read-back: the key holds %s %s, not the release's %s",
                                      v->release_name, v->release_version, manifest_version(u->mb));
        if (u->owner_path) {
                struct fat_dirent d;
                uint8_t sha[32];
                struct key_entry k = { .path = u->owner_path };

                r = fat_reader_stat(fr, u->owner_path, &d, err);
                if (r >= 0) {
                        k.e = d;
                        r = hash_sha256(u->owner_text, u->owner_len, sha);
                        if (r >= 0)
                                r = update_holds(u, &k, u->owner_len, sha, err);
                        fat_dirent_clear(&d);
                }
                if (r < 0)
                        return cart_error_prefix(err, r, "read-back");
                if (r == 0)
                        return cart_error_set(err, -EBADE, "read-back: \"/%s\" holds other bytes than were written",
                                              u->owner_path);
        }
        return 0;
}

/* The payloads B's files to write come from, hashed against B's signed manifest before the
 * first write: B may have been opened without hashing them all (STATION_LAZY_HASH). */
static int check_payloads(struct update_ctx *u, struct cart_error *err) {
        _cleanup_free_ const struct release_file **v = calloc(u->rep->n_actions + 1, sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < u->rep->n_actions; i++)
                if (u->rep->actions[i].kind == UPDATE_PUT)
                        v[n++] = manifest_find(u->mb, u->rep->actions[i].path);
        return release_check_files(u->o->release, v, n, err);
}

static int prepare(struct update_ctx *u, struct fat_editor *ed, struct key_files *k, char **ret_record,
                   struct cart_error *err) {
        struct fat_volume_info vi;
        struct key_record rec;
        int r;

        r = fat_reader_info(u->r, &vi);
        if (r < 0)
                return r;
        r = read_key_files(u->r, k, err);
        if (r >= 0)
                r = load_key(u, k, vi.volume_id, err);
        if (r >= 0)
                r = check_releases(u, k, err);
        if (r >= 0)
                r = update_collect(u, err);
        if (r >= 0)
                r = update_plan(u, err);
        if (r < 0)
                return r;
        rec = u->rec;
        snprintf(rec.release_name, sizeof(rec.release_name), "%s", manifest_name(u->mb));
        snprintf(rec.release_version, sizeof(rec.release_version), "%s", manifest_version(u->mb));
        snprintf(rec.release_key_id, sizeof(rec.release_key_id), "%s", manifest_key_id(u->mb));
        rec.release_serial = manifest_serial(u->mb);
        r = key_record_to_json(&rec, ret_record, err);
        if (r < 0)
                return r;
        u->rep->volume_id = vi.volume_id;
        u->rep->bytes_free = vi.free_bytes;
        u->rep->bytes_needed = space_needed(u, k, *ret_record, vi.cluster_size);
        (void) ed;
        if (u->rep->bytes_needed > vi.free_bytes)
                return cart_error_set(err, -ENOSPC, "the update needs %" PRIu64 " bytes free, the key has %" PRIu64
                                      ": %" PRIu64 " bytes missing", u->rep->bytes_needed, vi.free_bytes,
                                      u->rep->bytes_needed - vi.free_bytes);
        return u->o->is_dry_run ? 0 : check_payloads(u, err);
}

/* The plan empty, no time to give, no intent on the key, its record and manifest already B's. */
static bool is_nothing_to_do(const struct update_ctx *u, const struct key_files *k, const char *record) {
        const char *sig = release_signature_text(u->o->release);
        const void *json;
        size_t len;

        release_manifest_bytes(u->o->release, &json, &len);
        return u->rep->n_actions == 0 && u->n_touch == 0 && !k->pending_json && !k->pending_sig &&
               same_bytes(k->record, k->record_len, record, strlen(record)) &&
               same_bytes(k->sig, k->sig_len, sig, strlen(sig)) && same_bytes(k->json, k->json_len, json, len);
}

int update_key(cart_read_fn read, cart_write_fn write, void *userdata, uint64_t size,
               const struct update_options *o, struct update_report **ret, struct cart_error *err) {
        _cleanup_(update_report_freep) struct update_report *rep = calloc(1, sizeof(*rep));
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_(fat_editor_freep) struct fat_editor *ed = NULL;
        _cleanup_(key_files_done) struct key_files k = {};
        _cleanup_(update_ctx_done) struct update_ctx u = { .o = o };
        _cleanup_free_ char *record = NULL;
        struct counted c = { .read = read, .write = write, .userdata = userdata };
        uint64_t offset, vsize;
        int64_t now;
        int r;

        if (!read || !o || !o->release || !o->trust || !ret || (!write && !o->is_dry_run))
                return -EINVAL;
        if (!rep)
                return -ENOMEM;
        now = o->time ? o->time : (int64_t) time(NULL);
        r = verify_open_volume(read, userdata, size, &fr, &offset, &vsize, err);
        if (r >= 0)
                r = fat_editor_open(counted_read, counted_write, &c, offset, vsize, &ed, err);
        if (r < 0)
                return r;
        u.r = fat_editor_reader(ed);
        u.mb = release_manifest(o->release);
        u.rep = rep;
        u.is_quick = o->check == UPDATE_CHECK_QUICK || (o->check == UPDATE_CHECK_DEFAULT && !o->is_repair);
        rep->is_repair = o->is_repair;
        rep->is_content_checked = !u.is_quick;
        r = prepare(&u, ed, &k, &record, err);
        if (r < 0)
                return r;
        rep->bytes_checked = u.bytes_read;
        snprintf(rep->release_name, sizeof(rep->release_name), "%s", manifest_name(u.mb));
        snprintf(rep->from_version, sizeof(rep->from_version), "%s", manifest_version(u.ma));
        snprintf(rep->to_version, sizeof(rep->to_version), "%s", manifest_version(u.mb));
        rep->from_serial = manifest_serial(u.ma);
        rep->to_serial = manifest_serial(u.mb);
        rep->is_intact = is_nothing_to_do(&u, &k, record);
        if (!o->is_dry_run && !rep->is_intact) {
                r = apply(&u, ed, &k, record, now, err);
                rep->bytes_written = c.written;
                if (r < 0)
                        return r;
                if (o->sync && (r = o->sync(userdata)) < 0)
                        return cart_error_set(err, r, "writing the key out before its read-back");
        }
        if (!o->is_dry_run) {
                c.read_bytes = 0;
                r = read_back(&u, u.r, counted_read, &c, size, err);
                if (r < 0)
                        return r;
                rep->bytes_read_back = c.read_bytes;
        }
        *ret = TAKE_PTR(rep);
        return 0;
}
