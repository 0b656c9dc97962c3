/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/random.h>
#include <unistd.h>

#include "fat/fat.h"
#include "flash/key-record.h"
#include "flash/verify.h"
#include "journal/journal-life.h"
#include "station/held.h"

/* An image file whose every byte is a hole has never been written. */
static bool is_all_holes(const struct flash_target *t) {
        return !t->is_block_device && lseek(t->fd, 0, SEEK_DATA) < 0 && errno == ENXIO;
}

#define ZERO_HEAD (4 * MIB)
#define ZERO_SAMPLES 256
#define ZERO_SAMPLE (64 * KIB)

static bool is_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* A key without a FAT volume is blank when its first 4 MiB and 256 blocks of 64 KiB drawn
 * at random across it read as zeros (16 MiB read, whatever its size); anything else is
 * content cartable cannot read. */
static bool reads_as_zeros(const struct flash_target *t) {
        _cleanup_free_ uint8_t *buf = malloc(ZERO_HEAD);
        uint64_t seed, n = MIN(t->size, (uint64_t) ZERO_HEAD);

        if (!buf || getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
                return false;
        if (pread_full(t->fd, buf, (size_t) n, 0) < 0 || !is_zero(buf, (size_t) n))
                return false;
        for (unsigned i = 0; i < ZERO_SAMPLES && t->size > ZERO_SAMPLE; i++) {
                uint64_t at;
                seed = seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
                at = (seed >> 11) % (t->size / ZERO_SAMPLE) * ZERO_SAMPLE;
                if (pread_full(t->fd, buf, ZERO_SAMPLE, at) < 0 || !is_zero(buf, ZERO_SAMPLE))
                        return false;
        }
        return true;
}

static int count_entry(void *userdata, const char *path, const struct fat_dirent *e) {
        (void) path;
        (void) e;
        (*(size_t *) userdata)++;
        return 0;
}

static bool field_differs(const char *on_key, const char *now) {
        return on_key[0] && !streq(on_key, now);
}

/* The record's owner against the pupil's fields, cut and cleaned as the record stores them
 * (only the fields the record holds: a release's template may use fewer). */
static bool is_same_owner(const struct key_record *rec, const struct owner_fields *owner) {
        struct key_record now = {};

        if (!owner)
                return false;
        key_record_set_owner(&now, owner);
        return !field_differs(rec->owner_first_name, now.owner_first_name) &&
               !field_differs(rec->owner_last_name, now.owner_last_name) &&
               !field_differs(rec->owner_class, now.owner_class) &&
               !field_differs(rec->owner_school, now.owner_school);
}

enum flash_held held_judge_key(const struct flash_target *t, const struct sign_trust *trust,
                               const struct owner_fields *owner) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_(verify_result_freep) struct verify_result *res = NULL;
        void *fd = (void *) (intptr_t) t->fd;
        struct cart_error ignored = {};
        struct fat_dirent de;
        size_t n = 0;

        if (t->is_new || is_all_holes(t))
                return FLASH_HELD_NOTHING;
        if (verify_open_volume(fd_read_at, fd, t->size, &fr, NULL, NULL, &ignored) < 0)
                return reads_as_zeros(t) ? FLASH_HELD_NOTHING : FLASH_HELD_FOREIGN;
        if (fat_reader_stat(fr, KEY_CARTABLE_DIR, &de, &ignored) < 0) {
                /* Not a cartable key: blank only when its volume holds no file at all. */
                if (fat_reader_walk(fr, count_entry, &n, &ignored) < 0 || n > 0)
                        return FLASH_HELD_FOREIGN;
                return FLASH_HELD_NOTHING;
        }
        fat_dirent_clear(&de);
        if (!trust || verify_key(fd_read_at, fd, t->size, trust, &res, &ignored) < 0)
                return FLASH_HELD_FOREIGN;
        if (res->n_extra + res->n_modified + res->n_sealed + res->n_unlisted > 0)
                return FLASH_HELD_FOREIGN;
        if (res->is_key_record_valid && res->key_record.has_owner)
                return is_same_owner(&res->key_record, owner) ? FLASH_HELD_SAME_PUPIL : FLASH_HELD_OTHER_PUPIL;
        if (!res->is_key_record_valid)
                return FLASH_HELD_FOREIGN;
        return FLASH_HELD_RELEASE;
}

/* "ID" or "UAI/ID" against the holder's school and id. */
static bool is_holder(const struct journal_key_info *k, const char *pupil) {
        const char *slash = strchr(pupil, '/');

        if (!k->pupil_id)
                return false;
        if (!slash)
                return streq(k->pupil_id, pupil);
        return k->school && strlen(k->school) == (size_t) (slash - pupil) &&
               strncmp(k->school, pupil, (size_t) (slash - pupil)) == 0 && streq(k->pupil_id, slash + 1);
}

int held_in_journal(struct journal *j, const char *key, const char *pupil, enum flash_held *ret,
                    struct cart_error *err) {
        static const char *const came_back[] = { "returned", "lost", "stolen", "replaced", "retired" };
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        int r;

        r = journal_key_find(j, key, &k, err);
        if (r == -ENOENT) {
                *ret = FLASH_HELD_UNKNOWN;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = FLASH_HELD_UNKNOWN;
        for (size_t i = 0; i < ELEMENTSOF(came_back); i++)
                if (streq(k->status, came_back[i]))
                        *ret = FLASH_HELD_RETURNED;
        if (streq(k->status, "issued"))
                *ret = pupil && is_holder(k, pupil) ? FLASH_HELD_SAME_PUPIL : FLASH_HELD_OTHER_PUPIL;
        if (*ret == FLASH_HELD_UNKNOWN || *ret == FLASH_HELD_SAME_PUPIL) {
                /* Written over without an erase (--erase never), or an erase cut short: what the
                 * key held before may still be in its free space, whatever its files say now. */
                _cleanup_free_ char *last = NULL;
                r = journal_key_last_erase(j, k->uid, &last, err);
                if (r < 0)
                        return r;
                if (last && !streq(last, "ok"))
                        *ret = FLASH_HELD_FOREIGN;
        }
        return 0;
}
