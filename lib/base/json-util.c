/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <stdarg.h>

#include "base/json-util.h"
#include "base/util.h"

int json_field_error(struct cart_error *err, const char *where, const char *key, const char *fmt, ...) {
        char field[64];
        va_list ap;
        int r;

        snprintf(field, sizeof(field), "%s.%s", where, key);
        va_start(ap, fmt);
        r = cart_error_vdiag(err, -EBADMSG, CART_REASON_BAD_INPUT, NULL, field, where, fmt, ap);
        va_end(ap);
        return r;
}

int json_parse_strict(const void *json, size_t len, int depth, const char *what, struct json_object **ret,
                      struct cart_error *err) {
        struct json_tokener *tok = depth > 0 ? json_tokener_new_ex(depth) : json_tokener_new();
        struct json_object *root;
        enum json_tokener_error jerr;
        size_t end;

        if (!tok)
                return -ENOMEM;
        if (len > INT_MAX) {
                json_tokener_free(tok);
                return cart_error_set(err, -EBADMSG, "%s: too large", what);
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, json, (int) len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!root || jerr != json_tokener_success) {
                json_object_put(root);
                return cart_error_set(err, -EBADMSG, "%s: not JSON: %s", what, json_tokener_error_desc(jerr));
        }
        /* Only white space may follow the value. */
        for (const char *p = (const char *) json + end; p < (const char *) json + len; p++)
                if (!strchr(" \t\r\n", *p)) {
                        json_object_put(root);
                        return cart_error_set(err, -EBADMSG, "%s: data after the JSON object", what);
                }
        *ret = root;
        return 0;
}

int json_only_keys(struct json_object *o, const char *const *keys, const char *where, struct cart_error *err) {
        json_object_object_foreach(o, key, val) {
                bool known = false;
                (void) val;
                for (size_t i = 0; keys[i] && !known; i++)
                        known = streq(keys[i], key);
                if (!known)
                        return json_field_error(err, where, key, "unknown key \"%s\"", key);
        }
        return 0;
}

int json_get(struct json_object *o, const char *key, enum json_type type, bool required,
             struct json_object **ret, const char *where, struct cart_error *err) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v)) {
                *ret = NULL;
                return required ? json_field_error(err, where, key, "missing \"%s\"", key) : 0;
        }
        if (!json_object_is_type(v, type))
                return json_field_error(err, where, key, "\"%s\" has the wrong type", key);
        *ret = v;
        return 1;
}

int json_get_u64(struct json_object *o, const char *key, uint64_t max, uint64_t *ret, const char *where,
                 struct cart_error *err) {
        struct json_object *v;
        int64_t i;
        int r = json_get(o, key, json_type_int, true, &v, where, err);

        if (r < 0)
                return r;
        errno = 0;
        i = json_object_get_int64(v);
        if (errno || i < 0 || (uint64_t) i > max)
                return json_field_error(err, where, key, "\"%s\" is out of range", key);
        *ret = (uint64_t) i;
        return 0;
}
