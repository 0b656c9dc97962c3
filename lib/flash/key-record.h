/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The key record: what flash writes as /.cartable/key.json and what verify reads back
 * (the release, the volume ID, the key's identity, when, and the owner fields of a
 * personalised key). One serializer and one strict parser; the schema is
 * manifests/schemas/key.schema.json.
 *
 * The record is NOT signed: anyone holding the key can edit it. verify reports it as
 * unsigned and checks its volume ID against the volume's; only the station's journal
 * (next stage) can vouch for it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "flash/flash.h"

#define KEY_RECORD_PATH ".cartable/key.json"
#define KEY_RECORD_MAX  (64 * KIB)      /* larger is refused unread */
/* An update's intent (flash/update.h): the manifest it brings and its signature, beside the
 * key's own until the update is finished. verify says "update interrupted" while it is there. */
#define KEY_PENDING_PATH     ".cartable/pending.json"
#define KEY_PENDING_SIG_PATH ".cartable/pending.json.minisig"

struct key_record {
        char release_name[128], release_version[64], release_key_id[17];
        uint64_t release_serial;
        uint32_t volume_id;
        char key_serial[128], key_vid_pid[10], key_port[64];
        uint64_t key_capacity, key_real_capacity;
        int64_t flashed_at;                    /* seconds since the epoch, UTC */
        bool has_owner;
        char owner_first_name[128], owner_last_name[128], owner_class[64], owner_school[256];
};

/* The record of a key being flashed. Strings too long for the record are cut at a UTF-8
 * boundary (release_render_owner has the full owner fields); control characters and bytes
 * that are not UTF-8 become '?', so that the record always parses back. owner may be NULL. */
void key_record_from_report(const struct flash_report *r, const struct owner_fields *owner, int64_t time,
                            struct key_record *ret);

/* Give the record an owner (cartable issue), its fields cut and cleaned as above. */
void key_record_set_owner(struct key_record *k, const struct owner_fields *owner);

/* As stored on the key: pretty-printed JSON, malloc'd, NUL-terminated. */
int key_record_to_json(const struct key_record *k, char **ret, struct cart_error *err);

/* The same object for callers that embed it in their own JSON (a json-c object, new reference). */
struct json_object;
struct json_object *key_record_to_json_object(const struct key_record *k);

/*
 * Parse a record, strictly: at most KEY_RECORD_MAX bytes, one JSON object of exactly the
 * fields above (types, lengths, "XXXX-XXXX" volume ID, 16 hex digit key id, UTC time),
 * nothing else. -EBADMSG naming the field.
 */
int key_record_parse(const void *json, size_t len, struct key_record *ret, struct cart_error *err);

/* The record stored as /.cartable/key.json for this flash (malloc'd, NUL-terminated). */
int flash_key_json(const struct flash_report *r, const struct owner_fields *owner, int64_t time,
                   char **ret, struct cart_error *err);
