/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>

#include "flash/key-issue.h"

struct key_issue {
        cart_read_fn read;
        cart_write_fn write;
        void *userdata;
        uint64_t size;
        struct verify_options o;
        struct verify_result *v;
};

struct key_issue *key_issue_free(struct key_issue *k) {
        if (!k)
                return NULL;
        verify_result_free(k->v);
        free(k);
        return NULL;
}

int key_issue_open(cart_read_fn read, cart_write_fn write, void *userdata, uint64_t size,
                   const struct verify_options *o, struct key_issue **ret, struct cart_error *err) {
        _cleanup_(key_issue_freep) struct key_issue *k = calloc(1, sizeof(*k));
        int r;

        if (!k)
                return -ENOMEM;
        *k = (struct key_issue) { .read = read, .write = write, .userdata = userdata, .size = size, .o = *o };
        r = verify_key_with(read, userdata, size, o, &k->v, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(k);
        return 0;
}

const struct verify_result *key_issue_verification(const struct key_issue *k) {
        return k->v;
}

static int check_result(const struct verify_result *v, struct cart_error *err) {
        if (!verify_result_is_intact(v)) {
                if (v->is_key_record_mismatch)
                        return cart_error_set(err, -EBADE, "its key record does not fit the key: %s", v->key_record_problem);
                if (v->table_problem[0])
                        return cart_error_set(err, -EBADE, "not intact: %zu missing, %zu modified, %zu in sealed "
                                              "directories, %zu attributes changed; partition table: %s",
                                              v->n_missing, v->n_modified, v->n_sealed, v->n_attributes,
                                              v->table_problem);
                return cart_error_set(err, -EBADE, "not intact: %zu missing, %zu modified, %zu in sealed directories, "
                                      "%zu attributes changed", v->n_missing, v->n_modified, v->n_sealed,
                                      v->n_attributes);
        }
        if (!v->has_key_record)
                return cart_error_set(err, -EBADMSG, "no key record /%s: flash the key again", KEY_RECORD_PATH);
        if (!v->is_key_record_valid)
                return cart_error_set(err, -EBADMSG, "its key record /%s cannot be read: %s", KEY_RECORD_PATH,
                                      v->key_record_problem);
        return 0;
}

int key_issue_check(const struct key_issue *k, struct cart_error *err) {
        return check_result(k->v, err);
}

struct membuf { char *data; size_t len, max; };

static int mem_sink(void *userdata, const void *p, size_t len) {
        struct membuf *b = userdata;
        char *x;

        if (len > b->max - b->len)
                return -EFBIG;
        x = realloc(b->data, b->len + len + 1);
        if (!x)
                return -ENOMEM;
        memcpy(x + b->len, p, len);
        b->data = x;
        b->len += len;
        b->data[b->len] = 0;
        return 0;
}

/* Does the file at path hold exactly text? Absent or larger: no. */
static int holds(struct fat_reader *fr, const char *path, const char *text, size_t len, struct cart_error *err) {
        struct membuf b = { .max = len };
        int r = fat_reader_read_file(fr, path, mem_sink, &b, err);
        bool is_same = r >= 0 && b.len == len && (len == 0 || memcmp(b.data, text, len) == 0);

        free(b.data);
        if (r < 0 && r != -ENOENT && r != -EFBIG)
                return r;
        return is_same;
}

static bool same_owner(const struct key_record *a, const struct key_record *b) {
        return a->has_owner == b->has_owner && streq(a->owner_first_name, b->owner_first_name) &&
               streq(a->owner_last_name, b->owner_last_name) && streq(a->owner_class, b->owner_class) &&
               streq(a->owner_school, b->owner_school);
}

/* The key read again: intact, its record this one, its owner file this text. */
static int read_back(struct key_issue *k, const struct key_record *rec, const char *text, size_t len,
                     struct cart_error *err) {
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        int r;

        r = verify_key_with(k->read, k->userdata, k->size, &k->o, &v, err);
        if (r < 0)
                return cart_error_prefix(err, r, "read-back");
        r = check_result(v, err);
        if (r < 0)
                return cart_error_prefix(err, -EBADE, "read-back");
        if (!same_owner(&v->key_record, rec))
                return cart_error_set(err, -EBADE, "read-back: the key record does not name the owner written");
        if (!text)
                return 0;
        r = fat_reader_open(k->read, k->userdata, v->volume_offset, v->volume_size, &fr, err);
        if (r >= 0)
                r = holds(fr, v->owner_path, text, len, err);
        if (r < 0)
                return cart_error_prefix(err, r, "read-back");
        if (r == 0)
                return cart_error_set(err, -EBADE, "read-back: /%s holds other bytes than were written", v->owner_path);
        return 0;
}

int key_issue_write(struct key_issue *k, const struct owner_fields *owner, int64_t mtime, key_issue_sync_fn sync,
                    bool *ret_was_written, struct cart_error *err) {
        _cleanup_(fat_editor_freep) struct fat_editor *ed = NULL;
        _cleanup_free_ char *text = NULL, *json = NULL;
        const struct verify_result *v = k->v;
        struct key_record rec;
        size_t len = 0;
        int r;

        if (!k->write)
                return -EBADF;
        r = check_result(v, err);
        if (r < 0)
                return r;
        rec = v->key_record;
        key_record_set_owner(&rec, owner);
        r = key_record_to_json(&rec, &json, err);
        if (r < 0)
                return r;
        if (v->owner_path) {
                r = owner_render(v->owner_template, v->owner_path, owner, &text, &len, err);
                if (r < 0)
                        return r;
        }
        r = fat_editor_open(k->read, k->write, k->userdata, v->volume_offset, v->volume_size, &ed, err);
        if (r < 0)
                return r;
        /* Already this owner's (a first issue whose journal record failed): nothing to write. */
        if (same_owner(&v->key_record, &rec)) {
                r = text ? holds(fat_editor_reader(ed), v->owner_path, text, len, err) : 1;
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = read_back(k, &rec, text, len, err);
                        if (r >= 0)
                                *ret_was_written = false;
                        return r;
                }
        }
        /* The owner file first: until key.json names the owner, verify shows the key as
         * it was, and a second issue writes both again. */
        if (text) {
                r = fat_editor_put_file(ed, v->owner_path, text, len, 0, mtime, err);
                if (r < 0)
                        return r;
        }
        r = fat_editor_put_file(ed, KEY_RECORD_PATH, json, strlen(json), FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM, mtime, err);
        if (r < 0)
                return r;
        if (sync) {
                r = sync(k->userdata);
                if (r < 0)
                        return cart_error_io(err, r, NULL, 0, "flush");
        }
        r = read_back(k, &rec, text, len, err);
        if (r >= 0)
                *ret_was_written = true;
        return r;
}
