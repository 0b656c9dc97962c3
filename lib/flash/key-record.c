/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "base/json-util.h"
#include "flash/key-record.h"

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), 0 if none. */
static size_t utf8_len(const unsigned char *p) {
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xC2 && p[0] <= 0xDF)
                return (p[1] & 0xC0) == 0x80 ? 2 : 0;
        if (p[0] >= 0xE0 && p[0] <= 0xEF) {
                if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))
                        return 0;
                return (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 ? 3 : 0;
        }
        if (p[0] >= 0xF0 && p[0] <= 0xF4) {
                if ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
                        return 0;
                return (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 ? 4 : 0;
        }
        return 0;
}

/*
 * Copy s into a field as the parser will accept it back: controls (C0, DEL, C1) and bytes
 * that are not UTF-8 become '?', and a value too long is cut at a character boundary. So a
 * record flash writes always reads back, whatever a device or an operator passed.
 */
static void copy_field(char *dst, size_t size, const char *s) {
        const unsigned char *p = (const unsigned char *) (s ? s : "");
        size_t n = 0;

        while (*p) {
                size_t k = utf8_len(p);
                bool is_control = k == 0 || *p < 0x20 || *p == 0x7F || (k == 2 && p[0] == 0xC2 && p[1] < 0xA0);

                if (n + (is_control ? 1 : k) >= size)
                        break;
                if (is_control)
                        dst[n++] = '?';
                else
                        memcpy(dst + n, p, k), n += k;
                p += k ? k : 1;
        }
        dst[n] = 0;
}

void key_record_from_report(const struct flash_report *r, const struct owner_fields *owner, int64_t time,
                            struct key_record *ret) {
        struct key_record k = {
                .release_serial = r->release_serial, .volume_id = r->volume_id,
                .key_capacity = r->key.capacity, .key_real_capacity = r->real_capacity,
                .flashed_at = time, .has_owner = owner != NULL,
        };

        copy_field(k.release_name, sizeof(k.release_name), r->release_name);
        copy_field(k.release_version, sizeof(k.release_version), r->release_version);
        copy_field(k.release_key_id, sizeof(k.release_key_id), r->release_key_id);
        copy_field(k.key_serial, sizeof(k.key_serial), r->key.serial);
        copy_field(k.key_vid_pid, sizeof(k.key_vid_pid), r->key.vid_pid);
        copy_field(k.key_port, sizeof(k.key_port), r->key.port);
        if (owner)
                key_record_set_owner(&k, owner);
        *ret = k;
}

void key_record_set_owner(struct key_record *k, const struct owner_fields *owner) {
        k->has_owner = true;
        copy_field(k->owner_first_name, sizeof(k->owner_first_name), owner->first_name);
        copy_field(k->owner_last_name, sizeof(k->owner_last_name), owner->last_name);
        copy_field(k->owner_class, sizeof(k->owner_class), owner->class_name);
        copy_field(k->owner_school, sizeof(k->owner_school), owner->school);
}

static int add(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* An object of string members; with skip_empty, an empty value is left out. */
static struct json_object *new_object(const char *const *keys, const char *const *values, bool skip_empty) {
        struct json_object *o = json_object_new_object();

        for (size_t i = 0; o && keys[i]; i++)
                if ((!skip_empty || values[i][0]) && add(o, keys[i], json_object_new_string(values[i])) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

struct json_object *key_record_to_json_object(const struct key_record *k) {
        static const char *const key_keys[] = { "serial", "vid_pid", "port", NULL };
        static const char *const rel_keys[] = { "name", "version", NULL };
        static const char *const own_keys[] = { "first_name", "last_name", "class", "school", NULL };
        const char *key_values[] = { k->key_serial, k->key_vid_pid, k->key_port };
        const char *rel_values[] = { k->release_name, k->release_version };
        const char *own_values[] = { k->owner_first_name, k->owner_last_name, k->owner_class, k->owner_school };
        struct json_object *root = json_object_new_object(), *key, *rel;
        char vid[16], t[32];
        int r;

        if (!root)
                return NULL;
        key = new_object(key_keys, key_values, false);
        r = add(root, "key", key);
        if (r >= 0) r = add(key, "capacity", json_object_new_int64((int64_t) k->key_capacity));
        if (r >= 0) r = add(key, "real_capacity", json_object_new_int64((int64_t) k->key_real_capacity));
        snprintf(vid, sizeof(vid), "%04X-%04X", k->volume_id >> 16, k->volume_id & 0xFFFF);
        if (r >= 0) r = add(root, "volume_id", json_object_new_string(vid));
        rel = new_object(rel_keys, rel_values, false);
        if (r >= 0) r = add(root, "release", rel);
        if (r >= 0) r = add(rel, "serial", json_object_new_int64((int64_t) k->release_serial));
        if (r >= 0) r = add(rel, "key_id", json_object_new_string(k->release_key_id));
        time_format(k->flashed_at, t);
        if (r >= 0) r = add(root, "flashed_at", json_object_new_string(t));
        if (r >= 0 && k->has_owner)
                /* Only the fields given (the release's template's): nothing more of the pupil. */
                r = add(root, "owner", new_object(own_keys, own_values, true));
        if (r < 0) {
                json_object_put(root);
                return NULL;
        }
        return root;
}

int key_record_to_json(const struct key_record *k, char **ret, struct cart_error *err) {
        struct json_object *o = key_record_to_json_object(k);
        char *s = NULL;

        if (o)
                s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (!s)
                return cart_error_errno(err, -ENOMEM, NULL, "key record");
        *ret = s;
        return 0;
}

int flash_key_json(const struct flash_report *r, const struct owner_fields *owner, int64_t time,
                   char **ret, struct cart_error *err) {
        struct key_record k;

        key_record_from_report(r, owner, time, &k);
        return key_record_to_json(&k, ret, err);
}

/* ---- parsing: the key is hostile, every field is checked ---- */

/* A string field into its array: the length is bounded, NUL bytes and controls refused.
 * An optional field that is absent is "". */
static int get_field(struct json_object *o, const char *key, bool required, char *dst, size_t size,
                     const char *where, struct cart_error *err) {
        struct json_object *v;
        const char *s;
        size_t n;
        int r = json_get(o, key, json_type_string, required, &v, where, err);

        if (r <= 0) {
                dst[0] = 0;
                return r;
        }
        s = json_object_get_string(v);
        n = (size_t) json_object_get_string_len(v);
        if (n >= size)
                return cart_error_set(err, -EBADMSG, "%s: \"%s\" is longer than %zu bytes", where, key, size - 1);
        /* C0, DEL and C1 (U+0080-U+009F, which some terminals obey as escapes). */
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7F ||
                    ((unsigned char) s[i] == 0xC2 && i + 1 < n && (unsigned char) s[i + 1] < 0xA0))
                        return cart_error_set(err, -EBADMSG, "%s: \"%s\" holds a control character", where, key);
        memcpy(dst, s, n);
        dst[n] = 0;
        return 0;
}

static int get_string(struct json_object *o, const char *key, char *dst, size_t size, const char *where,
                      struct cart_error *err) {
        return get_field(o, key, true, dst, size, where, err);
}

static bool is_hex(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static int parse_volume_id(const char *s, uint32_t *ret) {
        if (strlen(s) != 9 || s[4] != '-' || !is_hex(s, 4) || !is_hex(s + 5, 4))
                return -EBADMSG;
        *ret = (uint32_t) strtoul(s, NULL, 16) << 16 | (uint32_t) strtoul(s + 5, NULL, 16);
        return 0;
}

static int parse_key(struct json_object *o, struct key_record *k, struct cart_error *err) {
        static const char *const keys[] = { "serial", "vid_pid", "port", "capacity", "real_capacity", NULL };
        const char *w = "key record: key";
        int r;

        if ((r = json_only_keys(o, keys, w, err)) < 0 ||
            (r = get_string(o, "serial", k->key_serial, sizeof(k->key_serial), w, err)) < 0 ||
            (r = get_string(o, "vid_pid", k->key_vid_pid, sizeof(k->key_vid_pid), w, err)) < 0 ||
            (r = get_string(o, "port", k->key_port, sizeof(k->key_port), w, err)) < 0 ||
            (r = json_get_u64(o, "capacity", INT64_MAX, &k->key_capacity, w, err)) < 0 ||
            (r = json_get_u64(o, "real_capacity", INT64_MAX, &k->key_real_capacity, w, err)) < 0)
                return r;
        if (k->key_vid_pid[0] && (strlen(k->key_vid_pid) != 9 || k->key_vid_pid[4] != ':' ||
                                  !is_hex(k->key_vid_pid, 4) || !is_hex(k->key_vid_pid + 5, 4)))
                return cart_error_set(err, -EBADMSG, "%s: \"vid_pid\" is not VVVV:PPPP", w);
        return 0;
}

static int parse_release(struct json_object *o, struct key_record *k, struct cart_error *err) {
        static const char *const keys[] = { "name", "version", "serial", "key_id", NULL };
        const char *w = "key record: release";
        int r;

        if ((r = json_only_keys(o, keys, w, err)) < 0 ||
            (r = get_string(o, "name", k->release_name, sizeof(k->release_name), w, err)) < 0 ||
            (r = get_string(o, "version", k->release_version, sizeof(k->release_version), w, err)) < 0 ||
            (r = json_get_u64(o, "serial", INT64_MAX, &k->release_serial, w, err)) < 0 ||
            (r = get_string(o, "key_id", k->release_key_id, sizeof(k->release_key_id), w, err)) < 0)
                return r;
        if (strlen(k->release_key_id) != 16 || !is_hex(k->release_key_id, 16))
                return cart_error_set(err, -EBADMSG, "%s: \"key_id\" is not 16 hex digits", w);
        return 0;
}

static int parse_owner(struct json_object *o, struct key_record *k, struct cart_error *err) {
        static const char *const keys[] = { "first_name", "last_name", "class", "school", NULL };
        const char *w = "key record: owner";
        int r;

        if ((r = json_only_keys(o, keys, w, err)) < 0 ||
            (r = get_field(o, "first_name", false, k->owner_first_name, sizeof(k->owner_first_name), w, err)) < 0 ||
            (r = get_field(o, "last_name", false, k->owner_last_name, sizeof(k->owner_last_name), w, err)) < 0 ||
            (r = get_field(o, "class", false, k->owner_class, sizeof(k->owner_class), w, err)) < 0 ||
            (r = get_field(o, "school", false, k->owner_school, sizeof(k->owner_school), w, err)) < 0)
                return r;
        k->has_owner = true;
        return 0;
}

static int parse_root(struct json_object *root, struct key_record *k, struct cart_error *err) {
        static const char *const keys[] = { "key", "volume_id", "release", "flashed_at", "owner", NULL };
        const char *w = W_("key record");
        struct json_object *key, *rel, *own;
        char vid[16], t[32];
        int r;

        if (!json_object_is_type(root, json_type_object))
                return cart_error_set(err, -EBADMSG, "key record: not a JSON object");
        if ((r = json_only_keys(root, keys, w, err)) < 0 ||
            (r = json_get(root, "key", json_type_object, true, &key, w, err)) < 0 ||
            (r = json_get(root, "release", json_type_object, true, &rel, w, err)) < 0 ||
            (r = json_get(root, "owner", json_type_object, false, &own, w, err)) < 0 ||
            (r = get_string(root, "volume_id", vid, sizeof(vid), w, err)) < 0 ||
            (r = get_string(root, "flashed_at", t, sizeof(t), w, err)) < 0)
                return r;
        if (parse_volume_id(vid, &k->volume_id) < 0)
                return cart_error_set(err, -EBADMSG, "key record: \"volume_id\" is not XXXX-XXXX");
        if (time_parse(t, &k->flashed_at) < 0)
                return cart_error_set(err, -EBADMSG, "key record: \"flashed_at\" is not a UTC time such as 2026-09-01T08:00:00Z");
        if ((r = parse_key(key, k, err)) < 0 || (r = parse_release(rel, k, err)) < 0)
                return r;
        return own ? parse_owner(own, k, err) : 0;
}

int key_record_parse(const void *json, size_t len, struct key_record *ret, struct cart_error *err) {
        struct key_record k = {};
        struct json_object *root;
        int r;

        if (len == 0 || len > KEY_RECORD_MAX || memchr(json, 0, len))
                return cart_error_set(err, -EBADMSG, "key record: empty, larger than %zu KiB or holding NUL bytes",
                                      (size_t) (KEY_RECORD_MAX / KIB));
        /* root, key, release, owner: nothing deeper */
        r = json_parse_strict(json, len, 4, W_("key record"), &root, err);
        if (r < 0)
                return r;
        r = parse_root(root, &k, err);
        json_object_put(root);
        if (r < 0)
                return r;
        *ret = k;
        return 0;
}
