/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reads a FAT32 volume that may be hostile (a key a pupil brings back). Every index is
 * checked, every loop is bounded: a chain is followed at most as far as its file size (or
 * 65,536 directory entries) allows, so a loop shows up as a chain that does not end.
 * LFN anomalies (bad checksum, broken sequence, orphaned entries) are errors, never
 * ignored: a long name is attached only when its sequence and checksum are right.
 * Windows and Linux open the first entry whose long or 8.3 name matches: two entries
 * answering to one name are marked (collides_with) and a lookup they share fails, so
 * that what is checked is what a pupil's computer opens.
 * The FAT is cached in 64 KiB chunks, read on demand.
 */
#include <stdarg.h>
#include <inttypes.h>

#include "fat/fat-internal.h"

#define CACHE_CHUNK   (64 * 1024)
#define CACHE_SLOTS   16
#define DIR_MAX_BYTES ((uint64_t) FAT_DIR_ENTRIES_MAX * FAT_DIRENT_SIZE)
#define IO_CHUNK      (1024 * 1024)
#define WALK_DEPTH_MAX 1024
/* Linux's PATH_MAX: neither the kernel's vfat nor any tool can open a longer path, and
 * without a bound a 64 MiB volume of 1023 nested 255-unit names gives 400 MB of paths. */
#define WALK_PATH_MAX  4096
/* The walk holds the entries of every directory on its path: 1024 levels of 65536 would
 * be 5 GB. A million entries held at once (about 90 MB) is far beyond any key cartable
 * writes, and bounds the memory any key can make a walk take. */
#define WALK_HELD_MAX  (1 << 20)

struct fat_reader {
        cart_read_fn read;
        void *userdata;
        uint64_t offset, size;
        uint32_t sector_size, cluster_size, clusters, root_cluster;
        uint64_t fat_offset, fat_bytes, data_offset;
        uint32_t reserved_sectors, n_fats, fsinfo_sector, backup_boot_sector;
        bool is_mirrored;
        char label[FAT_LABEL_MAX + 1];
        uint32_t volume_id;
        struct cache_slot { uint64_t chunk; bool is_valid; uint8_t *buf; } cache[CACHE_SLOTS];
};

/* A cluster chain as runs of consecutive clusters. */
struct run { uint32_t first, count; };
struct chain { struct run *runs; size_t n; uint64_t clusters; };

static void chain_done(struct chain *c) { free(c->runs); }

struct fat_reader *fat_reader_free(struct fat_reader *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < CACHE_SLOTS; i++)
                free(r->cache[i].buf);
        free(r);
        return NULL;
}

/* Damage found on the volume: corrupt-volume, where it is (W_("boot sector")) as the
 * label; the words in msg, with their format for cmd/ to translate. */
static int corrupt_at(struct cart_error *err, const char *where, const char *fmt, ...) _printf_(3, 4);
static int corrupt_at(struct cart_error *err, const char *where, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = cart_error_vdiag(err, -EUCLEAN, CART_REASON_CORRUPT_VOLUME, NULL, where, where, fmt, ap);
        va_end(ap);
        return r;
}

/* The same for an entry: "\"/path\": ..." with /path as the label. */
static int corrupt_path(struct cart_error *err, const char *path, const char *fmt, ...) _printf_(3, 4);
static int corrupt_path(struct cart_error *err, const char *path, const char *fmt, ...) {
        char where[300];
        va_list ap;
        int r;

        snprintf(where, sizeof(where), "\"/%s\"", path);
        va_start(ap, fmt);
        r = cart_error_vdiag(err, -EUCLEAN, CART_REASON_CORRUPT_VOLUME, NULL, where, where, fmt, ap);
        va_end(ap);
        return r;
}

static int read_at(struct fat_reader *r, void *buf, size_t len, uint64_t at, struct cart_error *err) {
        int k = r->read(r->userdata, buf, len, r->offset + at);

        if (k < 0)
                return cart_error_io(err, k, NULL, at, "volume");
        return 0;
}

static int check_boot_sector(struct fat_reader *r, const uint8_t *b, struct cart_error *err) {
        uint32_t ss = get_le16(b + 11), spc = b[13], rs = get_le16(b + 14), nfats = b[16];
        uint32_t tot = get_le32(b + 32), fatsz = get_le32(b + 36), flags = get_le16(b + 40);
        uint64_t meta, clusters;

        if (b[510] != 0x55 || b[511] != 0xAA || (b[0] != 0xEB && b[0] != 0xE9))
                return cart_error_set(err, -EMEDIUMTYPE, "no FAT boot sector at byte %" PRIu64, r->offset);
        if (get_le16(b + 22) != 0 || get_le16(b + 17) != 0)
                return cart_error_set(err, -EMEDIUMTYPE, "FAT12 or FAT16, not FAT32 (root entries or 16-bit FAT size set)");
        if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096)
                return corrupt_at(err, W_("boot sector"), "%u bytes per sector", ss);
        if (!is_pow2(spc) || ss * spc > 64 * 1024)
                return corrupt_at(err, W_("boot sector"), "%u sectors per cluster", spc);
        if (rs == 0 || nfats == 0 || nfats > 2 || tot == 0 || fatsz == 0 || get_le16(b + 19) != 0)
                return corrupt_at(err, W_("boot sector"), "zero or impossible field (reserved %u, FATs %u, sectors %u, FAT sectors %u)",
                                      rs, nfats, tot, fatsz);
        if (get_le16(b + 42) != 0)
                return corrupt_at(err, W_("boot sector"), "unknown FAT32 version %u", get_le16(b + 42));
        meta = rs + (uint64_t) nfats * fatsz;
        if (meta >= tot)
                return corrupt_at(err, W_("boot sector"), "the data region (sector %" PRIu64 ") starts past the last sector %u",
                                      meta, tot);
        if ((uint64_t) tot * ss > r->size)
                return corrupt_at(err, W_("boot sector"), "%" PRIu64 " bytes of volume, past the %" PRIu64 " bytes available",
                                      (uint64_t) tot * ss, r->size);
        clusters = (tot - meta) / spc;
        if (clusters < FAT32_MIN_CLUSTERS || clusters >= FAT32_MAX_CLUSTERS)
                return corrupt_at(err, W_("boot sector"), "%" PRIu64 " clusters, impossible for FAT32", clusters);
        if ((uint64_t) fatsz * ss / 4 < clusters + 2)
                return corrupt_at(err, W_("boot sector"), "a FAT of %u sectors cannot map %" PRIu64 " clusters", fatsz, clusters);
        if ((flags & 0x80) && (flags & 0xF) >= nfats)
                return corrupt_at(err, W_("boot sector"), "active FAT %u of %u", flags & 0xF, nfats);
        r->sector_size = ss;
        r->cluster_size = ss * spc;
        r->clusters = (uint32_t) clusters;
        r->fat_offset = ((uint64_t) rs + ((flags & 0x80) ? (flags & 0xF) * (uint64_t) fatsz : 0)) * ss;
        r->fat_bytes = (uint64_t) fatsz * ss;
        r->data_offset = meta * ss;
        r->reserved_sectors = rs;
        r->n_fats = nfats;
        r->is_mirrored = !(flags & 0x80);
        r->fsinfo_sector = get_le16(b + 48);
        r->backup_boot_sector = get_le16(b + 50);
        r->root_cluster = get_le32(b + 44);
        if (r->root_cluster < 2 || r->root_cluster > r->clusters + 1)
                return corrupt_at(err, W_("boot sector"), "root cluster %u out of range", r->root_cluster);
        r->volume_id = get_le32(b + 67);
        if (b[66] == 0x29) {
                memcpy(r->label, b + 71, FAT_LABEL_MAX);
                for (int i = FAT_LABEL_MAX; i > 0 && (r->label[i - 1] == ' ' || r->label[i - 1] == 0); i--)
                        r->label[i - 1] = 0;
        }
        return 0;
}

int fat_reader_open(cart_read_fn read, void *userdata, uint64_t offset, uint64_t size,
                    struct fat_reader **ret, struct cart_error *err) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        uint8_t b[512];
        int k;

        if (!read || !ret)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->read = read;
        r->userdata = userdata;
        r->offset = offset;
        r->size = size;
        if (size < sizeof(b))
                return cart_error_set(err, -EMEDIUMTYPE, "%" PRIu64 " bytes: too small for a FAT volume", size);
        k = read_at(r, b, sizeof(b), 0, err);
        if (k < 0)
                return k;
        k = check_boot_sector(r, b, err);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}


/* FAT entry of cluster c (2 <= c <= clusters + 1), through the chunk cache. */
static int fat_get(struct fat_reader *r, uint32_t c, uint32_t *ret, struct cart_error *err) {
        uint64_t at = (uint64_t) c * 4, chunk = at / CACHE_CHUNK;
        struct cache_slot *s = &r->cache[chunk % CACHE_SLOTS];

        if (!s->is_valid || s->chunk != chunk) {
                size_t len = (size_t) MIN((uint64_t) CACHE_CHUNK, r->fat_bytes - chunk * CACHE_CHUNK);
                int k;

                if (!s->buf) {
                        s->buf = malloc(CACHE_CHUNK);
                        if (!s->buf)
                                return -ENOMEM;
                }
                s->is_valid = false;
                k = read_at(r, s->buf, len, r->fat_offset + chunk * CACHE_CHUNK, err);
                if (k < 0)
                        return cart_error_prefix(err, k, "FAT");
                s->chunk = chunk;
                s->is_valid = true;
        }
        *ret = get_le32(s->buf + (at - chunk * CACHE_CHUNK)) & FAT32_ENTRY_MASK;
        return 0;
}

static bool bitmap_test_and_set(uint8_t *bitmap, uint32_t c) {
        bool was = bitmap[c / 8] & (1u << (c % 8));
        bitmap[c / 8] |= (uint8_t) (1u << (c % 8));
        return was;
}

/*
 * Follow the chain from first, at most max clusters. With bitmap (a walk), each cluster
 * must not have been seen before: loops and cross-links both show up there.
 */
static int chain_follow(struct fat_reader *r, uint32_t first, uint64_t max, const char *path,
                        uint8_t *bitmap, struct chain *ret, struct cart_error *err) {
        struct chain c = {};
        size_t allocated = 0;
        uint32_t cl = first;
        int k;

        if (first < 2 || first > r->clusters + 1)
                return corrupt_path(err, path, "first cluster %u out of range", first);
        for (;;) {
                uint32_t next;

                if (c.clusters == max) {
                        chain_done(&c);
                        return corrupt_path(err, path, "cluster chain longer than %" PRIu64 " clusters (a loop, or longer than its size)", max);
                }
                if (bitmap && bitmap_test_and_set(bitmap, cl)) {
                        chain_done(&c);
                        return corrupt_path(err, path, "cluster %u is used twice (a cross-link or a loop)", cl);
                }
                if (c.n > 0 && c.runs[c.n - 1].first + c.runs[c.n - 1].count == cl)
                        c.runs[c.n - 1].count++;
                else {
                        if (c.n == allocated) {
                                size_t a = allocated ? allocated * 2 : 8;
                                struct run *x = realloc(c.runs, a * sizeof(*x));
                                if (!x) {
                                        chain_done(&c);
                                        return -ENOMEM;
                                }
                                c.runs = x;
                                allocated = a;
                        }
                        c.runs[c.n++] = (struct run) { cl, 1 };
                }
                c.clusters++;
                k = fat_get(r, cl, &next, err);
                if (k < 0) {
                        chain_done(&c);
                        return k;
                }
                if (next >= FAT32_EOC_MIN)
                        break;
                if (next < 2 || next > r->clusters + 1) {
                        chain_done(&c);
                        if (next == 0)
                                return corrupt_path(err, path, "cluster %u points to a free cluster (chain truncated)", cl);
                        return next == FAT32_BAD ? corrupt_path(err, path, "cluster %u points to a bad cluster %u", cl, next) :
                                                   corrupt_path(err, path, "cluster %u points to an out-of-range cluster %u", cl, next);
                }
                cl = next;
        }
        *ret = c;
        return 0;
}

static uint64_t cluster_offset(const struct fat_reader *r, uint32_t c) {
        return r->data_offset + (uint64_t) (c - 2) * r->cluster_size;
}

/* ---- directories ---- */

struct lfn_state {
        uint16_t name[20 * FAT_LFN_CHARS];
        unsigned total, expect;         /* expect: next ordinal wanted; 0 when none pending */
        uint8_t sum;
        bool is_complete;
};

static void short_name_string(const uint8_t *e, char out[13]) {
        size_t n = 0;

        for (int i = 0; i < 8 && e[i] != ' '; i++) {
                uint8_t c = i == 0 && e[0] == 0x05 ? 0xE5 : e[i];
                out[n++] = c >= 0x80 ? '?' : (e[12] & 0x08) && c >= 'A' && c <= 'Z' ? (char) (c + 0x20) : (char) c;
        }
        if (e[8] != ' ') {
                out[n++] = '.';
                for (int i = 8; i < 11 && e[i] != ' '; i++)
                        out[n++] = e[i] >= 0x80 ? '?' : (e[12] & 0x10) && e[i] >= 'A' && e[i] <= 'Z' ? (char) (e[i] + 0x20) : (char) e[i];
        }
        out[n] = 0;
}

static int lfn_take(struct lfn_state *s, const uint8_t *e, const char *path, struct cart_error *err) {
        static const uint8_t at[FAT_LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
        unsigned ord = e[0] & 0x3F;

        if (e[0] & 0x40) {
                if (s->expect > 0 || s->is_complete)
                        return corrupt_path(err, path, "long-name entries interrupted by a new sequence");
                if (ord < 1 || ord > 20)
                        return corrupt_path(err, path, "long-name entry with ordinal %u", ord);
                s->total = s->expect = ord;
                s->sum = e[13];
        } else if (s->expect == 0 || ord != s->expect || e[13] != s->sum)
                return corrupt_path(err, path, "long-name entry out of sequence (ordinal %u)", ord);
        for (unsigned j = 0; j < FAT_LFN_CHARS; j++)
                s->name[(ord - 1) * FAT_LFN_CHARS + j] = get_le16(e + at[j]);
        s->expect--;
        s->is_complete = s->expect == 0;
        return 0;
}

static int entry_name(struct lfn_state *s, const uint8_t *e, const char *path, struct fat_dirent *d,
                      struct cart_error *err) {
        size_t n = 0;
        int k;

        short_name_string(e, d->short_name);
        memcpy(d->raw_short_name, e, sizeof(d->raw_short_name));
        if (!s->is_complete) {
                d->name = strdup(d->short_name);
                return d->name ? 0 : -ENOMEM;
        }
        if (fat_lfn_checksum(e) != s->sum)
                return corrupt_path(err, path, "long name of %s has a bad checksum", d->short_name);
        while (n < s->total * FAT_LFN_CHARS && s->name[n] != 0)
                n++;
        if (n == 0 || n > FAT_NAME_MAX)
                return corrupt_path(err, path, "long name of %s is %zu units long", d->short_name, n);
        k = fat_utf16_to_utf8(s->name, n, &d->name);
        if (k < 0)
                return corrupt_path(err, path, "long name of %s is not valid UTF-16", d->short_name);
        return 0;
}

/* Parses one 32-byte short entry into d; *ret_skip when it is ".", ".." or the label. */
static int parse_entry(struct fat_reader *r, struct lfn_state *s, const uint8_t *e, const char *path,
                       struct fat_dirent *d, bool *ret_skip, struct cart_error *err) {
        uint8_t attrs = e[11];
        uint32_t cluster = ((uint32_t) get_le16(e + 20) << 16) | get_le16(e + 26);
        int k;

        *ret_skip = false;
        if (s->expect > 0)
                return corrupt_path(err, path, "long-name sequence missing %u entries", s->expect);
        /* Only the exact "." and ".." names are dot entries: Linux and Windows list any
         * other name starting with '.' as a file, so it must not be skipped here. */
        if (e[0] == '.' && memcmp(e, ".          ", 11) != 0 && memcmp(e, "..         ", 11) != 0)
                return corrupt_path(err, path, "short name starting with '.'");
        if ((attrs & FAT_ATTR_VOLUME_ID) || e[0] == '.') {
                if (s->is_complete)
                        return corrupt_path(err, path, "long-name entries before a label or dot entry");
                *ret_skip = true;
                return 0;
        }
        /* fatgen103 §6.1: DIR_Name[0] may not be a space. Such an entry would have an
         * empty name, and its children would be walked as if they sat in its parent. */
        if (e[0] == ' ')
                return corrupt_path(err, path, "short name starting with a space");
        for (int i = 0; i < 11; i++)
                if (e[i] < 0x20 && !(i == 0 && e[i] == 0x05))
                        return corrupt_path(err, path, "short name with control byte 0x%02x", e[i]);
        k = entry_name(s, e, path, d, err);
        s->is_complete = false;
        if (k < 0)
                return k;
        if (strchr(d->name, '/') || streq(d->name, ".") || streq(d->name, "..")) {
                k = corrupt_path(err, path, "entry named \"%s\"", d->name);
                fat_dirent_clear(d);
                return k;
        }
        d->attrs = attrs;
        d->is_dir = attrs & FAT_ATTR_DIRECTORY;
        d->size = d->is_dir ? 0 : get_le32(e + 28);
        d->mtime = fat_time_decode(get_le16(e + 24), get_le16(e + 22));
        d->first_cluster = cluster;
        if ((cluster != 0 && (cluster < 2 || cluster > r->clusters + 1)) ||
            (cluster == 0 && (d->is_dir || d->size > 0)) || (cluster != 0 && !d->is_dir && d->size == 0)) {
                k = d->is_dir ?
                        cart_error_set(err, -EUCLEAN, "\"/%s%s%s\": first cluster %u does not fit a directory of %" PRIu64 " bytes",
                                       path, path[0] ? "/" : "", d->name, cluster, d->size) :
                        cart_error_set(err, -EUCLEAN, "\"/%s%s%s\": first cluster %u does not fit a file of %" PRIu64 " bytes",
                                       path, path[0] ? "/" : "", d->name, cluster, d->size);
                fat_dirent_clear(d);
                return k;
        }
        return 0;
}

/* ---- the names an entry answers to ---- */

#define NAME_KEYS 3

/* The 8.3 name read through an OEM code page: "NAME.EXT" in UTF-8, padding removed. */
static void short_name_oem(const uint8_t raw[11], const uint16_t cp[128], char out[48]) {
        int base = 8, ext = 11;
        char *p = out;

        while (base > 0 && raw[base - 1] == ' ')
                base--;
        while (ext > 8 && raw[ext - 1] == ' ')
                ext--;
        for (int i = 0; i < ext; i++) {
                uint8_t c = i == 0 && raw[0] == 0x05 ? 0xE5 : raw[i];

                if (i >= base && i < 8)
                        continue;
                if (i == 8)
                        *p++ = '.';
                p += utf8_encode(c < 0x80 ? c : cp[c - 0x80], p);
        }
        *p = 0;
}

static void keys_free(char *keys[NAME_KEYS]) {
        for (size_t i = 0; i < NAME_KEYS; i++) {
                free(keys[i]);
                keys[i] = NULL;
        }
}

/*
 * The names d answers to on Windows and Linux, folded: its long name (when it has one),
 * its 8.3 name read in code page 437 (Linux' default) and 850 (Windows' in France). A
 * name equal to an earlier one is left NULL. The caller frees keys[].
 */
static int entry_keys(const struct fat_dirent *d, char *keys[NAME_KEYS]) {
        static const uint16_t *const pages[] = { fat_cp437, fat_cp850 };
        int k;

        for (size_t i = 0; i < NAME_KEYS; i++)
                keys[i] = NULL;
        /* Without an LFN, name is the short name: the code pages below read it exactly. */
        if (!streq(d->name, d->short_name)) {
                k = fat_fold(d->name, &keys[0]);
                if (k < 0)
                        return k;
        }
        for (size_t i = 0; i < ELEMENTSOF(pages); i++) {
                char oem[48];

                short_name_oem(d->raw_short_name, pages[i], oem);
                k = fat_fold(oem, &keys[1 + i]);
                if (k < 0)
                        goto fail;
                for (size_t j = 0; j < 1 + i; j++)
                        if (keys[j] && streq(keys[j], keys[1 + i])) {
                                free(keys[1 + i]);
                                keys[1 + i] = NULL;
                                break;
                        }
        }
        return 0;
fail:
        keys_free(keys);
        return k;
}

struct name_key { char *s; size_t entry; };

static int cmp_name_key(const void *a, const void *b) {
        const struct name_key *x = a, *y = b;
        int c = strcmp(x->s, y->s);
        return c ? c : x->entry < y->entry ? -1 : x->entry > y->entry;
}

static int note_collision(struct fat_dirent *d, const struct fat_dirent *other) {
        if (d->collides_with)
                return 0;
        d->collides_with = strdup(other->name);
        return d->collides_with ? 0 : -ENOMEM;
}

/* Marks every entry that shares a name (long or 8.3, folded) with another of v. */
static int mark_collisions(struct fat_dirent *v, size_t n) {
        _cleanup_free_ struct name_key *keys = NULL;
        size_t m = 0;
        int k = 0;

        if (n < 2)
                return 0;
        keys = calloc(n * NAME_KEYS, sizeof(*keys));
        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n && k >= 0; i++) {
                char *x[NAME_KEYS];

                k = entry_keys(&v[i], x);
                for (size_t j = 0; k >= 0 && j < NAME_KEYS; j++)
                        if (x[j])
                                keys[m++] = (struct name_key) { x[j], i };
        }
        if (k >= 0) {
                qsort(keys, m, sizeof(*keys), cmp_name_key);
                for (size_t i = 1; i < m && k >= 0; i++)
                        if (streq(keys[i].s, keys[i - 1].s) && keys[i].entry != keys[i - 1].entry) {
                                k = note_collision(&v[keys[i].entry], &v[keys[i - 1].entry]);
                                if (k >= 0)
                                        k = note_collision(&v[keys[i - 1].entry], &v[keys[i].entry]);
                        }
        }
        for (size_t i = 0; i < m; i++)
                free(keys[i].s);
        return k;
}

static int parse_dir(struct fat_reader *r, const uint8_t *buf, size_t len, const char *path, bool is_root,
                     struct fat_dirent **ret, size_t *ret_n, struct cart_error *err) {
        struct lfn_state s = {};
        struct fat_dirent *v = NULL;
        size_t n = 0, allocated = 0;
        int k = 0;

        for (size_t off = 0; off + FAT_DIRENT_SIZE <= len; off += FAT_DIRENT_SIZE) {
                const uint8_t *e = buf + off;
                bool skip;

                if (e[0] == 0)
                        break;
                if (e[0] == 0xE5) {
                        if (s.expect > 0 || s.is_complete) {
                                k = corrupt_path(err, path, "orphaned long-name entries before a deleted entry");
                                goto fail;
                        }
                        continue;
                }
                /* "." and ".." are the first two entries of a subdirectory, nowhere else:
                 * an entry skipped as a dot entry must not hide anything. */
                if (memcmp(e, ".          ", 11) == 0 || memcmp(e, "..         ", 11) == 0) {
                        size_t want = e[1] == '.' ? 1 : 0;
                        if (is_root || off / FAT_DIRENT_SIZE != want) {
                                k = want ?
                                        cart_error_set(err, -EUCLEAN, "\"/%s\": \"%s\" entry in slot %zu (only the second of a subdirectory)",
                                                       path, "..", off / FAT_DIRENT_SIZE) :
                                        cart_error_set(err, -EUCLEAN, "\"/%s\": \"%s\" entry in slot %zu (only the first of a subdirectory)",
                                                       path, ".", off / FAT_DIRENT_SIZE);
                                goto fail;
                        }
                }
                if ((e[11] & 0x3F) == FAT_ATTR_LFN) {
                        k = lfn_take(&s, e, path, err);
                        if (k < 0)
                                goto fail;
                        continue;
                }
                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 16;
                        struct fat_dirent *x = realloc(v, a * sizeof(*x));
                        if (!x) {
                                k = -ENOMEM;
                                goto fail;
                        }
                        v = x;
                        allocated = a;
                }
                v[n] = (struct fat_dirent) {};
                unsigned n_lfn = s.is_complete ? s.total : 0;
                k = parse_entry(r, &s, e, path, &v[n], &skip, err);
                if (k < 0)
                        goto fail;
                v[n].slot = (uint32_t) (off / FAT_DIRENT_SIZE);
                v[n].n_lfn = (uint8_t) n_lfn;
                if (!skip)
                        n++;
        }
        if (s.expect > 0 || s.is_complete) {
                k = corrupt_path(err, path, "directory ends inside a long-name sequence (truncated)");
                goto fail;
        }
        k = mark_collisions(v, n);
        if (k < 0)
                goto fail;
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        fat_dirents_free(v, n);
        return k;
}

static int read_dir(struct fat_reader *r, uint32_t first, const char *path, uint8_t *bitmap,
                    struct fat_dirent **ret, size_t *ret_n, struct cart_error *err) {
        _cleanup_(chain_done) struct chain c = {};
        _cleanup_free_ uint8_t *buf = NULL;
        size_t pos = 0;
        int k;

        k = chain_follow(r, first, MAX(1, DIR_MAX_BYTES / r->cluster_size), path, bitmap, &c, err);
        if (k < 0)
                return k;
        buf = malloc(c.clusters * r->cluster_size);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < c.n; i++) {
                size_t len = (size_t) c.runs[i].count * r->cluster_size;
                k = read_at(r, buf + pos, len, cluster_offset(r, c.runs[i].first), err);
                if (k < 0)
                        return cart_error_prefix(err, k, "directory \"/%s\"", path);
                pos += len;
        }
        return parse_dir(r, buf, pos, path, first == r->root_cluster, ret, ret_n, err);
}

void fat_dirent_clear(struct fat_dirent *e) {
        if (!e)
                return;
        free(e->name);
        free(e->collides_with);
        *e = (struct fat_dirent) {};
}

void fat_dirents_free(struct fat_dirent *entries, size_t n) {
        for (size_t i = 0; entries && i < n; i++)
                fat_dirent_clear(&entries[i]);
        free(entries);
}

/* ---- lookups ---- */

/* Does d answer to the folded component? */
static int name_matches(const char *folded, const struct fat_dirent *d) {
        char *keys[NAME_KEYS];
        bool is_match = false;
        int k = entry_keys(d, keys);

        if (k < 0)
                return k;
        for (size_t i = 0; i < NAME_KEYS; i++)
                is_match = is_match || (keys[i] && streq(keys[i], folded));
        keys_free(keys);
        return is_match;
}

/* The one entry of v that answers to the component; two are -ENOTUNIQ, never the first. */
static int find_entry(const struct fat_dirent *v, size_t n, const char *component, size_t len,
                      const char *path, size_t *ret, struct cart_error *err) {
        _cleanup_free_ char *c = strndup(component, len), *folded = NULL;
        size_t found = SIZE_MAX;
        int k;

        if (!c)
                return -ENOMEM;
        k = fat_fold(c, &folded);
        if (k == -EILSEQ)
                return cart_error_set(err, -ENOENT, "\"%s\": no such file or directory", path);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                k = name_matches(folded, &v[i]);
                if (k < 0)
                        return k;
                if (!k)
                        continue;
                if (found != SIZE_MAX)
                        return cart_error_set(err, -ENOTUNIQ, "\"%s\": \"%s\" and \"%s\" both answer to \"%s\" on FAT (a forged entry?)",
                                              path, v[found].name, v[i].name, c);
                found = i;
        }
        if (found == SIZE_MAX)
                return cart_error_set(err, -ENOENT, "\"%s\": no such file or directory", path);
        *ret = found;
        return 0;
}

static int lookup(struct fat_reader *r, const char *path, struct fat_dirent *ret, struct cart_error *err) {
        struct fat_dirent cur = { .is_dir = true, .attrs = FAT_ATTR_DIRECTORY, .first_cluster = r->root_cluster };
        _cleanup_free_ char *done = strdup("");
        const char *p = path;

        if (!done)
                return -ENOMEM;
        for (;;) {
                struct fat_dirent *v = NULL;
                size_t n = 0, len;
                const char *slash;
                char *x;
                int k;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                slash = strchr(p, '/');
                len = slash ? (size_t) (slash - p) : strlen(p);
                if (!cur.is_dir) {
                        fat_dirent_clear(&cur);
                        return cart_error_set(err, -ENOTDIR, "\"%s\": \"/%s\" is not a directory", path, done);
                }
                k = read_dir(r, cur.first_cluster, done, NULL, &v, &n, err);
                fat_dirent_clear(&cur);
                if (k < 0)
                        return k;
                size_t i = 0;
                k = find_entry(v, n, p, len, path, &i, err);
                if (k >= 0) {
                        cur = v[i];
                        v[i] = (struct fat_dirent) {};
                }
                fat_dirents_free(v, n);
                if (k < 0)
                        return k;
                if (asprintf(&x, "%s%s%s", done, done[0] ? "/" : "", cur.name) < 0) {
                        fat_dirent_clear(&cur);
                        return -ENOMEM;
                }
                free(done);
                done = x;
                p += len;
        }
        if (!cur.name) {
                cur.name = strdup("");
                if (!cur.name)
                        return -ENOMEM;
        }
        *ret = cur;
        return 0;
}

int fat_reader_stat(struct fat_reader *r, const char *path, struct fat_dirent *ret, struct cart_error *err) {
        if (!r || !path || !ret)
                return -EINVAL;
        return lookup(r, path, ret, err);
}

int fat_reader_list(struct fat_reader *r, const char *path, struct fat_dirent **ret_entries,
                    size_t *ret_n, struct cart_error *err) {
        struct fat_dirent d;
        int k;

        if (!r || !path || !ret_entries || !ret_n)
                return -EINVAL;
        k = lookup(r, path, &d, err);
        if (k < 0)
                return k;
        if (!d.is_dir) {
                fat_dirent_clear(&d);
                return cart_error_set(err, -ENOTDIR, "\"%s\": not a directory", path);
        }
        k = read_dir(r, d.first_cluster, path[0] == '/' ? path + 1 : path, NULL, ret_entries, ret_n, err);
        fat_dirent_clear(&d);
        return k;
}

/* The chain of a file, exactly as long as its size needs. */
static int file_chain(struct fat_reader *r, const struct fat_dirent *d, const char *path, uint8_t *bitmap,
                      struct chain *ret, struct cart_error *err) {
        uint64_t want = DIV_ROUND_UP(d->size, r->cluster_size);
        struct chain c = {};
        int k;

        if (want > 0) {
                k = chain_follow(r, d->first_cluster, want, path, bitmap, &c, err);
                if (k < 0)
                        return k;
        }
        if (c.clusters != want) {
                k = corrupt_path(err, path, "%" PRIu64 " bytes but a chain of %" PRIu64 " clusters of %u bytes", d->size, c.clusters, r->cluster_size);
                chain_done(&c);
                return k;
        }
        /* Only on success: callers free *ret, and must not free a chain twice. */
        *ret = c;
        return 0;
}

int fat_reader_read_entry(struct fat_reader *r, const char *path, const struct fat_dirent *e,
                          fat_sink_fn sink, void *userdata, struct cart_error *err) {
        _cleanup_(chain_done) struct chain c = {};
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t left = e->size;
        int k;

        if (!r || !path || !e || !sink)
                return -EINVAL;
        if (e->is_dir)
                return cart_error_set(err, -EISDIR, "\"%s\": is a directory", path);
        path += path[0] == '/';
        k = file_chain(r, e, path, NULL, &c, err);
        if (k < 0)
                return k;
        if (left == 0)
                return 0;
        buf = malloc((size_t) MIN(left, (uint64_t) IO_CHUNK));
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < c.n && left > 0; i++) {
                uint64_t at = cluster_offset(r, c.runs[i].first);
                uint64_t run = MIN(left, (uint64_t) c.runs[i].count * r->cluster_size);

                while (run > 0) {
                        size_t len = (size_t) MIN(run, (uint64_t) IO_CHUNK);

                        k = read_at(r, buf, len, at, err);
                        if (k < 0)
                                return cart_error_prefix(err, k, "\"/%s\"", path);
                        k = sink(userdata, buf, len);
                        if (k < 0)
                                return k;
                        at += len;
                        run -= len;
                        left -= len;
                }
        }
        return 0;
}

int fat_reader_read_file(struct fat_reader *r, const char *path, fat_sink_fn sink,
                         void *userdata, struct cart_error *err) {
        struct fat_dirent d;
        int k;

        if (!r || !path || !sink)
                return -EINVAL;
        k = lookup(r, path, &d, err);
        if (k < 0)
                return k;
        k = fat_reader_read_entry(r, path, &d, sink, userdata, err);
        fat_dirent_clear(&d);
        return k;
}

struct small { char *data; size_t len, max; };

static int small_sink(void *userdata, const void *buf, size_t len) {
        struct small *s = userdata;
        char *x;

        if (len > s->max - s->len)
                return -EFBIG;
        x = realloc(s->data, s->len + len + 1);
        if (!x)
                return -ENOMEM;
        memcpy(x + s->len, buf, len);
        s->data = x;
        s->len += len;
        s->data[s->len] = 0;
        return 0;
}

int fat_reader_read_small(struct fat_reader *r, const char *path, size_t max, char **ret, size_t *ret_len,
                          struct cart_error *err) {
        struct small s = { .data = calloc(1, 1), .max = max };
        int k;

        if (!s.data)
                return -ENOMEM;
        k = fat_reader_read_file(r, path, small_sink, &s, err);
        if (k == -EFBIG)
                k = cart_error_set(err, k, "\"/%s\": larger than %zu bytes", path[0] == '/' ? path + 1 : path, max);
        if (k < 0) {
                free(s.data);
                return k;
        }
        *ret = s.data;
        *ret_len = s.len;
        return 0;
}

static int volume_info(struct fat_reader *r, bool is_free_counted, struct fat_volume_info *ret) {
        uint32_t free_clusters = 0;

        if (!r || !ret)
                return -EINVAL;
        /* Counted in the FAT, chunk by chunk through the cache: FSInfo may lie. */
        for (uint32_t c = 2; is_free_counted && c <= r->clusters + 1; c++) {
                uint32_t v;
                int k = fat_get(r, c, &v, NULL);
                if (k < 0)
                        return k;
                free_clusters += v == 0;
        }
        *ret = (struct fat_volume_info) {
                .volume_id = r->volume_id,
                .sector_size = r->sector_size,
                .cluster_size = r->cluster_size,
                .clusters = r->clusters,
                .free_clusters = free_clusters,
                .free_bytes = (uint64_t) free_clusters * r->cluster_size,
                .data_offset = r->offset + r->data_offset,
        };
        memcpy(ret->label, r->label, sizeof(ret->label));
        return 0;
}

int fat_reader_info(struct fat_reader *r, struct fat_volume_info *ret) {
        return volume_info(r, true, ret);
}

int fat_reader_info_uncounted(struct fat_reader *r, struct fat_volume_info *ret) {
        return volume_info(r, false, ret);
}

/* ---- for the editor (fat-edit.c) ---- */

void fat_reader_geometry(const struct fat_reader *r, struct fat_geometry *ret) {
        *ret = (struct fat_geometry) {
                .offset = r->offset, .size = r->size, .sector_size = r->sector_size,
                .cluster_size = r->cluster_size, .clusters = r->clusters, .root_cluster = r->root_cluster,
                .reserved_sectors = r->reserved_sectors, .n_fats = r->n_fats,
                .fat_bytes = r->fat_bytes, .fsinfo_sector = r->fsinfo_sector,
                .backup_boot_sector = r->backup_boot_sector, .is_mirrored = r->is_mirrored,
                .data_offset = r->data_offset,
        };
}

int fat_reader_entry(struct fat_reader *r, uint32_t c, uint32_t *ret, struct cart_error *err) {
        if (c < 2 || c > r->clusters + 1)
                return -ERANGE;
        return fat_get(r, c, ret, err);
}

int fat_reader_read_raw(struct fat_reader *r, void *buf, size_t len, uint64_t at, struct cart_error *err) {
        if (at > r->size || len > r->size - at)
                return -ERANGE;
        return read_at(r, buf, len, at, err);
}

int fat_reader_chain(struct fat_reader *r, uint32_t first, uint64_t max, const char *path,
                     uint32_t **ret, size_t *ret_n, struct cart_error *err) {
        _cleanup_(chain_done) struct chain c = {};
        _cleanup_free_ uint32_t *v = NULL;
        size_t n = 0;
        int k;

        k = chain_follow(r, first, max, path, NULL, &c, err);
        if (k < 0)
                return k;
        v = malloc((size_t) c.clusters * sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < c.n; i++)
                for (uint32_t j = 0; j < c.runs[i].count; j++)
                        v[n++] = c.runs[i].first + j;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

void fat_reader_forget(struct fat_reader *r) {
        for (size_t i = 0; i < CACHE_SLOTS; i++)
                r->cache[i].is_valid = false;
}

/* ---- the whole volume ---- */

struct frame {
        char *path;
        struct fat_dirent *entries;
        size_t n, i;
};

int fat_reader_walk(struct fat_reader *r, fat_walk_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_free_ uint8_t *bitmap = NULL;
        struct frame stack[WALK_DEPTH_MAX];
        size_t depth = 0, held;
        int k;

        if (!r || !fn)
                return -EINVAL;
        bitmap = calloc(((size_t) r->clusters + 2) / 8 + 1, 1);
        if (!bitmap)
                return -ENOMEM;
        stack[0] = (struct frame) { .path = strdup("") };
        if (!stack[0].path)
                return -ENOMEM;
        depth = 1;
        k = read_dir(r, r->root_cluster, "", bitmap, &stack[0].entries, &stack[0].n, err);
        held = stack[0].n;
        while (k >= 0 && depth > 0) {
                struct frame *f = &stack[depth - 1];
                struct fat_dirent *e;
                _cleanup_free_ char *path = NULL;

                if (f->i == f->n) {
                        held -= f->n;
                        free(f->path);
                        fat_dirents_free(f->entries, f->n);
                        depth--;
                        continue;
                }
                e = &f->entries[f->i++];
                if (strlen(f->path) + 1 + strlen(e->name) >= WALK_PATH_MAX) {
                        k = cart_error_set(err, -EUCLEAN, "directory %zu deep, entry %s: a path of %d bytes or more",
                                           depth, e->short_name, WALK_PATH_MAX);
                        break;
                }
                if (asprintf(&path, "%s%s%s", f->path, f->path[0] ? "/" : "", e->name) < 0) {
                        k = -ENOMEM;
                        break;
                }
                if (!e->is_dir) {
                        struct chain c;

                        k = file_chain(r, e, path, bitmap, &c, err);
                        if (k >= 0) {
                                chain_done(&c);
                                k = fn(userdata, path, e);
                        }
                        continue;
                }
                if (depth == WALK_DEPTH_MAX) {
                        k = corrupt_path(err, path, "directories nested more than %d deep", WALK_DEPTH_MAX);
                        break;
                }
                k = fn(userdata, path, e);
                if (k < 0)
                        break;
                stack[depth] = (struct frame) { .path = TAKE_PTR(path) };
                k = read_dir(r, e->first_cluster, stack[depth].path, bitmap, &stack[depth].entries, &stack[depth].n, err);
                held += stack[depth].n;
                depth++;
                if (k >= 0 && held > WALK_HELD_MAX)
                        k = cart_error_set(err, -EUCLEAN, "\"/%s\": the directories on this path hold more than %d entries together",
                                           stack[depth - 1].path, WALK_HELD_MAX);
        }
        for (; depth > 0; depth--) {
                free(stack[depth - 1].path);
                fat_dirents_free(stack[depth - 1].entries, stack[depth - 1].n);
        }
        return k < 0 ? k : 0;
}
