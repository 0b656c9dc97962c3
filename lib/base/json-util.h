/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON read from hostile sources (keys, releases): one strict way to parse it. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * Parse one JSON value of len bytes, strictly (json-c's STRICT and UTF-8 validation), at
 * most depth levels deep (0: json-c's default), with only white space after it. what names
 * the document in messages ("manifest: not JSON: ..."). -EBADMSG; *ret is a new reference.
 */
int json_parse_strict(const void *json, size_t len, int depth, const char *what, struct json_object **ret,
                      struct cart_error *err);

/* A field's diagnostic: -EBADMSG, "WHERE: text" in msg, reason bad-input, the field
 * ("files[3].sha256") as the label. */
int json_field_error(struct cart_error *err, const char *where, const char *key, const char *fmt, ...) _printf_(4, 5);

/* Every key of object o is one of keys (NULL-terminated); where names o in messages. */
int json_only_keys(struct json_object *o, const char *const *keys, const char *where, struct cart_error *err);
/* The member key of o, of that type: 1 found, 0 absent and not required, -EBADMSG. */
int json_get(struct json_object *o, const char *key, enum json_type type, bool required,
             struct json_object **ret, const char *where, struct cart_error *err);
/* A required integer member from 0 to max. */
int json_get_u64(struct json_object *o, const char *key, uint64_t max, uint64_t *ret, const char *where,
                 struct cart_error *err);
