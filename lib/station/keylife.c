/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

#include "fat/fat.h"
#include "flash/key-issue.h"
#include "station/keylife.h"
#include "station/station.h"

const char *keylife_operator(const char *name) {
        const char *s = name;

        if (!s || !*s)
                s = getenv("SUDO_USER");
        if (!s || !*s)
                s = getenv("USER");
        return s && *s ? s : "root";
}

/* ---- what a target shows ---- */

struct record_buf {
        char data[KEY_RECORD_MAX];
        size_t len;
};

static int record_sink(void *userdata, const void *p, size_t len) {
        struct record_buf *b = userdata;

        if (len > sizeof(b->data) - b->len)
                return -EFBIG;
        memcpy(b->data + b->len, p, len);
        b->len += len;
        return 0;
}

int keylife_read(cart_read_fn read, void *userdata, uint64_t size, struct fat_volume_info *ret_volume,
                 struct key_record *ret_record, bool *ret_has_record, struct cart_error *err) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_free_ struct record_buf *b = NULL;
        struct fat_volume_info vi;
        struct key_record rec = {};
        bool has_record = false;
        int r;

        r = verify_open_volume(read, userdata, size, &fr, NULL, NULL, err);
        if (r >= 0)
                r = fat_reader_info(fr, &vi);
        if (r < 0)
                return r;
        /* The key record may be gone or edited: it only helps when the volume ID is unknown. */
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        if (fat_reader_read_file(fr, KEY_RECORD_PATH, record_sink, b, NULL) >= 0 &&
            key_record_parse(b->data, b->len, &rec, NULL) >= 0)
                has_record = true;
        *ret_volume = vi;
        *ret_record = rec;
        *ret_has_record = has_record;
        return 0;
}

/* ---- which key, and is it swapped ---- */

/* A field of the record against the journal's, as the record would carry the journal's
 * (cut and cleaned): a field the record leaves empty proves nothing. */
static bool is_other_name(const char *recorded, const char *as_recorded) {
        return recorded[0] && strcasecmp(recorded, as_recorded) != 0;
}

/* The journal's holder of the volume is not the owner its record names. */
static bool is_other_owner(const struct journal_key_info *k, const struct key_record *rec) {
        struct key_record expected = {};

        if (!k->family_name || !rec || !rec->has_owner)
                return false;       /* a purged pupil, a stock key: no names to compare */
        key_record_set_owner(&expected, &(struct owner_fields) {
                .first_name = k->first_name, .last_name = k->family_name,
                .class_name = k->class_name, .school = k->school,
        });
        return is_other_name(rec->owner_last_name, expected.owner_last_name) ||
               is_other_name(rec->owner_first_name, expected.owner_first_name);
}

static int find_one(struct journal *j, const char *key, struct journal_key_info **ret, struct cart_error *err) {
        int r;

        if (!key || !key[0])
                return 0;
        r = journal_key_find(j, key, ret, err);
        return r == -ENOENT ? 0 : r;
}

static int swap_said(struct cart_error *swap, const char *kind, const char *fmt, ...) _printf_(3, 4);
static int swap_said(struct cart_error *swap, const char *kind, const char *fmt, ...) {
        va_list ap;

        if (!swap)
                return 1;
        va_start(ap, fmt);
        cart_error_vset(swap, 0, fmt, ap);
        va_end(ap);
        cart_error_where(swap, 0, CART_REASON_SWAPPED, NULL, kind);
        return 1;
}

int keylife_find(struct journal *j, const struct keylife_target *t, struct journal_key_info **ret,
                 struct cart_error *swap, struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *by_vol = NULL, *by_serial = NULL, *by_usb = NULL;
        const char *rec_serial = t->record ? t->record->key_serial : NULL, *usb = t->usb_serial;
        char vid[16];
        int r;

        if (swap)
                *swap = (struct cart_error) {};
        snprintf(vid, sizeof(vid), "%08" PRIX32, t->volume_id);
        r = find_one(j, vid, &by_vol, err);
        if (r >= 0)
                r = find_one(j, rec_serial, &by_serial, err);
        if (r >= 0)
                r = find_one(j, usb, &by_usb, err);
        if (r < 0)
                return r;
        if (!by_vol && !by_serial && !by_usb) {
                if (usb && usb[0])
                        return cart_error_set(err, -ENOENT, "volume %s and USB serial %s are not in the journal", vid,
                                              usb);
                if (rec_serial && rec_serial[0])
                        return cart_error_set(err, -ENOENT, "volume %s and key serial %s are not in the journal", vid,
                                              rec_serial);
                return cart_error_set(err, -ENOENT, "volume %s is not in the journal", vid);
        }
        r = 0;
        if (by_vol && by_serial && !streq(by_vol->uid, by_serial->uid))
                r = swap_said(swap, "two-keys", "its volume %s is key %s's in the journal but its key record names key %s",
                            vid, by_vol->uid, by_serial->uid);
        else if (by_vol && is_other_owner(by_vol, t->record))
                r = swap_said(swap, "other-owner", "the journal gives volume %s to %s/%s, not to the owner its key "
                            "record names", vid, by_vol->school, by_vol->pupil_id);
        else if (by_vol && by_usb && !streq(by_vol->uid, by_usb->uid))
                /* The serial the device itself reports (a block device) names another key. */
                r = swap_said(swap, "usb-other-key", "its volume %s is key %s's in the journal but its USB serial is "
                            "key %s's", vid, by_vol->uid, by_usb->uid);
        else if (by_vol && !by_usb && by_vol->serial && usb && usb[0] && !streq(by_vol->serial, usb))
                r = swap_said(swap, "usb-serial", "its volume %s is key %s's in the journal, whose USB serial is %s, "
                            "not %s", vid, by_vol->uid, by_vol->serial, usb);
        *ret = by_vol ? TAKE_PTR(by_vol) : by_serial ? TAKE_PTR(by_serial) : TAKE_PTR(by_usb);
        return r;
}

/* ---- verifications and returns ---- */

const char *keylife_outcome_to_string(enum keylife_outcome o) {
        switch (o) {
        case KEYLIFE_INTACT:   return "intact";
        case KEYLIFE_MODIFIED: return "modified";
        case KEYLIFE_SWAPPED:  return "swapped";
        }
        return NULL;
}

void keylife_verdict_done(struct keylife_verdict *v) {
        v->key = journal_key_info_free(v->key);
}

/* Find the key of v and tell its outcome, nothing recorded yet. */
static int judge(struct journal *j, const struct verify_result *v, const char *usb_serial,
                 struct keylife_verdict *ret, struct cart_error *err) {
        const struct keylife_target t = {
                .volume_id = v->volume_id, .record = v->is_key_record_valid ? &v->key_record : NULL,
                .usb_serial = usb_serial,
        };
        int r;

        *ret = (struct keylife_verdict) {};
        r = keylife_find(j, &t, &ret->key, &ret->swap, err);
        if (r < 0)
                return r;
        ret->outcome = r > 0 ? KEYLIFE_SWAPPED : verify_result_is_intact(v) ? KEYLIFE_INTACT : KEYLIFE_MODIFIED;
        return 0;
}

static int record(struct journal *j, const char *operator, const struct verify_result *v,
                  const struct keylife_verdict *d, struct cart_error *err) {
        char vid[16], msg[sizeof(d->swap.msg)] = "";

        if (d->outcome == KEYLIFE_SWAPPED)
                snprintf(msg, sizeof(msg), "%s", d->swap.msg);
        else if (d->outcome == KEYLIFE_MODIFIED)
                snprintf(msg, sizeof(msg), "%zu missing, %zu modified, %zu sealed, %zu attributes%s%s", v->n_missing,
                         v->n_modified, v->n_sealed, v->n_attributes, v->table_problem[0] ? "; table: " : "",
                         v->table_problem);
        snprintf(vid, sizeof(vid), "%08" PRIX32, v->volume_id);
        const struct journal_verification jv = {
                .key_uid = d->key->uid, .operator = operator, .outcome = keylife_outcome_to_string(d->outcome),
                .message = msg[0] ? msg : NULL, .release_name = v->release_name,
                .release_version = v->release_version, .release_serial = (int64_t) v->release_serial,
                .volume_id = vid,
        };
        return journal_record_verification(j, &jv, err);
}

int keylife_record_verify(struct journal *j, const char *operator, const struct verify_result *v,
                          const char *usb_serial, struct keylife_verdict *ret, struct cart_error *err) {
        struct keylife_verdict d;
        int r;

        r = judge(j, v, usb_serial, &d, err);
        if (r >= 0)
                r = record(j, operator, v, &d, err);
        if (r < 0) {
                keylife_verdict_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

int keylife_return(struct journal *j, const char *operator, const char *reason, const struct verify_result *v,
                   const char *usb_serial, struct keylife_verdict *ret, struct cart_error *err) {
        struct keylife_verdict d;
        int r;

        r = judge(j, v, usb_serial, &d, err);
        if (r < 0)
                return r;
        /* Refuse before writing anything: only an issued key comes back. */
        if (!streq(d.key->status, "issued")) {
                *ret = (struct keylife_verdict) { .key = TAKE_PTR(d.key) };
                return cart_error_set(err, -EINVAL, "key %s is %s, not issued to a pupil: it cannot be returned",
                                      ret->key->uid, ret->key->status);
        }
        r = record(j, operator, v, &d, err);
        if (r >= 0)
                r = journal_key_mark(j, &(struct journal_mark) { .kind = "returned", .key = d.key->uid,
                                         .operator = operator, .reason = reason,
                                         .outcome = keylife_outcome_to_string(d.outcome) }, NULL, err);
        if (r < 0) {
                keylife_verdict_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

/* ---- issue ---- */

struct keylife_issue {
        struct journal *journal;        /* borrowed */
        struct station_target target;
        struct key_issue *key_issue;
        struct journal_key_info *key;
        struct journal_pupil_info *pupil;
        char *pupil_arg;
};

struct keylife_issue *keylife_issue_free(struct keylife_issue *ki) {
        if (!ki)
                return NULL;
        key_issue_free(ki->key_issue);
        station_target_close(&ki->target);
        journal_key_info_free(ki->key);
        journal_pupil_info_free(ki->pupil);
        free(ki->pupil_arg);
        free(ki);
        return NULL;
}

static int issue_fail(enum keylife_issue_step *ret_step, enum keylife_issue_step step, int r) {
        *ret_step = step;
        return r;
}

int keylife_issue_open(struct journal *j, const char *target, const struct device_policy *policy,
                       const struct verify_options *o, const char *pupil, struct keylife_issue **ret,
                       enum keylife_issue_step *ret_step, struct cart_error *err) {
        _cleanup_(keylife_issue_freep) struct keylife_issue *ki = NULL;
        const struct verify_result *v;
        struct cart_error swap;
        int r;

        ki = calloc(1, sizeof(*ki));
        if (!ki)
                return issue_fail(ret_step, KEYLIFE_ISSUE_TARGET, -ENOMEM);
        ki->journal = j;
        ki->target.fd = -EBADF;
        ki->pupil_arg = strdup(pupil);
        if (!ki->pupil_arg)
                return issue_fail(ret_step, KEYLIFE_ISSUE_TARGET, -ENOMEM);
        r = station_target_open(target, policy, &ki->target, err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_TARGET, r);
        r = key_issue_open(fd_read_at, fd_write_at, (void *) (intptr_t) ki->target.fd, ki->target.size, o,
                           &ki->key_issue, err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_KEY, r);
        r = key_issue_check(ki->key_issue, err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_INTACT, r);
        v = key_issue_verification(ki->key_issue);
        r = keylife_find(j, &(struct keylife_target) { .volume_id = v->volume_id, .record = &v->key_record,
                                                       .usb_serial = ki->target.serial }, &ki->key, &swap, err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_FIND, r);
        if (r > 0) {
                if (err)
                        *err = swap;
                return issue_fail(ret_step, KEYLIFE_ISSUE_SWAPPED, -EBADE);
        }
        r = journal_key_issue(j, &(struct journal_issue) { .key = ki->key->uid, .pupil = pupil }, true, &ki->pupil,
                              err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_PUPIL, r);
        *ret = TAKE_PTR(ki);
        return 0;
}

const struct verify_result *keylife_issue_verification(const struct keylife_issue *ki) {
        return key_issue_verification(ki->key_issue);
}

const struct journal_key_info *keylife_issue_key(const struct keylife_issue *ki) {
        return ki->key;
}

const struct journal_pupil_info *keylife_issue_pupil(const struct keylife_issue *ki) {
        return ki->pupil;
}

int keylife_issue_write(struct keylife_issue *ki, const char *operator, int64_t mtime, bool *ret_was_written,
                        enum keylife_issue_step *ret_step, struct cart_error *err) {
        const struct verify_result *v = key_issue_verification(ki->key_issue);
        struct owner_fields pupil = station_owner(ki->pupil);
        /* The key record carries only what the owner file prints (none without one). */
        struct owner_fields owner = owner_fields_only(&pupil, owner_template_fields(v->owner_template));
        bool was_written = false;
        int r;

        /* The key first: a key that cannot be written is issued to nobody. */
        r = key_issue_write(ki->key_issue, &owner, mtime, station_target_sync, &was_written, err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_WRITE, r);
        const struct journal_issue is = {
                .key = ki->key->uid, .pupil = ki->pupil_arg, .operator = operator,
                .release_name = v->release_name, .release_version = v->release_version,
                .release_key_id = v->release_key_id, .release_serial = (int64_t) v->release_serial,
        };
        r = journal_key_issue(ki->journal, &is, false, NULL, err);
        if (r < 0)
                return issue_fail(ret_step, KEYLIFE_ISSUE_RECORD, r);
        *ret_was_written = was_written;
        return 0;
}

/* ---- an update or repair in place ---- */

int keylife_record_update(struct journal *j, const char *operator, const char *uid, const struct update_report *rep,
                          const char *release_key_id, struct cart_error *err) {
        _cleanup_free_ const char **restored = NULL;
        size_t n = 0;
        char vid[16];

        if (rep->n_restored > 0) {
                restored = calloc(rep->n_restored, sizeof(*restored));
                if (!restored)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < rep->n_actions && n < rep->n_restored; i++)
                if (rep->actions[i].kind == UPDATE_PUT && rep->actions[i].is_restore)
                        restored[n++] = rep->actions[i].path;
        snprintf(vid, sizeof(vid), "%08" PRIX32, rep->volume_id);
        const struct journal_update u = {
                .key = uid, .operator = operator, .is_repair = rep->is_repair,
                .release_name = rep->release_name, .release_version = rep->to_version,
                .release_key_id = release_key_id, .release_serial = (int64_t) rep->to_serial,
                .from_version = rep->from_version, .from_serial = (int64_t) rep->from_serial,
                .n_put = rep->n_put + rep->n_restored, .n_removed = rep->n_removed, .n_rescued = rep->n_rescued,
                .restored = restored, .n_restored = rep->n_restored, .volume_id = vid,
                .bytes_written = (int64_t) rep->bytes_written, .bytes_read = (int64_t) rep->bytes_read_back,
        };
        return journal_record_update(j, &u, NULL, err);
}

bool keylife_update_may_have_written(int r) {
        switch (-r) {
        case ENOKEY: case EKEYREJECTED: case EMEDIUMTYPE: case EXDEV: case ESTALE: case EBUSY: case EBADMSG:
        case ENOSPC: case EUCLEAN: case ENOTUNIQ: case ENOMEM:
                return false;
        default:
                return r < 0;
        }
}

int keylife_record_update_failure(struct journal *j, const char *operator, const char *uid, const struct release *b,
                                  bool is_repair, int error, const struct cart_error *why, struct cart_error *err) {
        const struct manifest *m = release_manifest(b);
        char words[512];

        cart_error_detail(why, error, words, sizeof(words));
        const struct journal_update u = {
                .key = uid, .operator = operator, .is_repair = is_repair,
                .outcome = error == -ECANCELED ? "cancelled" : "failed",
                .reason = cart_reason_to_string(cart_error_reason(why, error)),
                .failure = words[0] ? words : NULL, .release_name = manifest_name(m),
                .release_version = manifest_version(m), .release_key_id = manifest_key_id(m),
                .release_serial = (int64_t) manifest_serial(m), .from_serial = -1, .bytes_written = -1,
                .bytes_read = -1,
        };
        return journal_record_update(j, &u, NULL, err);
}
