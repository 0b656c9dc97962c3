/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One file of an existing FAT32 volume replaced or created in place (fat.h says in which
 * order the bytes go and what a cut leaves). Everything is read through fat-reader.c,
 * which checked the whole volume before the first write: every chain the editor follows
 * ends, every cluster it writes is in range and was free.
 */
#include <inttypes.h>

#include "fat/fat-internal.h"

#define SLOTS_MAX     FAT_DIR_ENTRIES_MAX
#define SHORT_TAIL_MAX 999999u
#define WRITE_CHUNK   (1024 * 1024)
#define FAT_RUN_MAX   1024       /* FAT entries written at once */

struct fat_editor {
        struct fat_reader *r;
        cart_write_fn write;
        void *userdata;
        struct fat_geometry g;
        uint32_t free_clusters;     /* counted in the FAT at open, kept up to date */
};

/* A directory as it is on disk: its clusters and their bytes. */
struct dir {
        uint32_t *clusters;
        size_t n;
        uint8_t *buf;
        size_t slots;
};

static void dir_done(struct dir *d) {
        free(d->clusters);
        free(d->buf);
}

struct fat_editor *fat_editor_free(struct fat_editor *e) {
        if (!e)
                return NULL;
        fat_reader_free(e->r);
        free(e);
        return NULL;
}

struct fat_reader *fat_editor_reader(struct fat_editor *e) {
        return e->r;
}

static int walk_nothing(void *userdata, const char *path, const struct fat_dirent *d) {
        (void) userdata, (void) path, (void) d;
        return 0;
}

int fat_editor_open(cart_read_fn read, cart_write_fn write, void *userdata, uint64_t offset, uint64_t size,
                    struct fat_editor **ret, struct cart_error *err) {
        _cleanup_(fat_editor_freep) struct fat_editor *e = NULL;
        struct fat_volume_info vi;
        int k;

        if (!read || !write || !ret)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->write = write;
        e->userdata = userdata;
        k = fat_reader_open(read, userdata, offset, size, &e->r, err);
        if (k < 0)
                return k;
        fat_reader_geometry(e->r, &e->g);
        if (!e->g.is_mirrored)
                return cart_error_set(err, -EUCLEAN, "the volume uses one FAT of %u (mirroring disabled): "
                                      "not a volume cartable wrote", e->g.n_fats);
        /* The whole volume first: a hostile chain is refused before anything is written. */
        k = fat_reader_walk(e->r, walk_nothing, NULL, err);
        if (k < 0)
                return k;
        k = fat_reader_info(e->r, &vi);
        if (k < 0)
                return k;
        e->free_clusters = vi.free_clusters;
        *ret = TAKE_PTR(e);
        return 0;
}

static uint64_t cluster_at(const struct fat_editor *e, uint32_t c) {
        return e->g.offset + e->g.data_offset + (uint64_t) (c - 2) * e->g.cluster_size;
}

static int write_at(struct fat_editor *e, const void *buf, size_t len, uint64_t at, const char *what,
                    struct cart_error *err) {
        int k = e->write(e->userdata, buf, len, at);

        if (k < 0)
                return cart_error_io(err, k, NULL, at - e->g.offset, what);
        return 0;
}

/* FAT entry c := v in every FAT, keeping its upper 4 bits (fatgen103 §4). */
static int fat_set(struct fat_editor *e, uint32_t c, uint32_t v, struct cart_error *err) {
        uint64_t at = (uint64_t) e->g.reserved_sectors * e->g.sector_size + (uint64_t) c * 4;
        uint8_t b[4];
        int k;

        if (c < 2 || c > e->g.clusters + 1)
                return -ERANGE;
        for (uint32_t i = 0; i < e->g.n_fats; i++) {
                uint64_t x = e->g.offset + at + i * e->g.fat_bytes;

                put_le32(b, v & FAT32_ENTRY_MASK);
                k = write_at(e, b, sizeof(b), x, "FAT", err);
                if (k < 0)
                        return k;
        }
        return 0;
}

/*
 * The entries of clusters c[0..n) in every FAT: c[i] := c[i + 1], the last := EOC, or all
 * := 0 when is_free. Consecutive clusters have consecutive entries: one write per run (at
 * most FAT_RUN_MAX entries) and per FAT, first FAT first.
 */
static int fat_set_chain(struct fat_editor *e, const uint32_t *c, size_t n, bool is_free, struct cart_error *err) {
        uint8_t b[FAT_RUN_MAX * 4];

        for (size_t i = 0, j; i < n; i = j) {
                uint64_t at = (uint64_t) e->g.reserved_sectors * e->g.sector_size + (uint64_t) c[i] * 4;

                if (c[i] < 2 || c[i] > e->g.clusters + 1)
                        return -ERANGE;
                for (j = i + 1; j < n && j - i < FAT_RUN_MAX && c[j] == c[j - 1] + 1 && c[j] <= e->g.clusters + 1; j++)
                        ;
                for (size_t x = i; x < j; x++)
                        put_le32(b + (x - i) * 4, is_free ? 0 : x + 1 < n ? c[x + 1] : FAT32_EOC);
                for (uint32_t f = 0; f < e->g.n_fats; f++) {
                        int k = write_at(e, b, (j - i) * 4, e->g.offset + at + f * e->g.fat_bytes, "FAT", err);
                        if (k < 0)
                                return k;
                }
        }
        fat_reader_forget(e->r);
        return 0;
}

static int chain_set(struct fat_editor *e, const uint32_t *c, size_t n, struct cart_error *err) {
        return fat_set_chain(e, c, n, false, err);
}

static int dir_load(struct fat_editor *e, uint32_t first, const char *path, struct dir *ret, struct cart_error *err) {
        struct dir d = {};
        size_t max = MAX((size_t) 1, (size_t) SLOTS_MAX * FAT_DIRENT_SIZE / e->g.cluster_size);
        int k;

        k = fat_reader_chain(e->r, first, max, path, &d.clusters, &d.n, err);
        if (k < 0)
                return k;
        d.buf = malloc(d.n * e->g.cluster_size);
        if (!d.buf) {
                dir_done(&d);
                return -ENOMEM;
        }
        for (size_t i = 0; i < d.n; i++) {
                k = fat_reader_read_raw(e->r, d.buf + i * e->g.cluster_size, e->g.cluster_size,
                                        cluster_at(e, d.clusters[i]) - e->g.offset, err);
                if (k < 0) {
                        dir_done(&d);
                        return k;
                }
        }
        d.slots = d.n * e->g.cluster_size / FAT_DIRENT_SIZE;
        *ret = d;
        return 0;
}

/* Slots [from, from + n) of d, written where they are on disk (one write per cluster). */
static int dir_write_slots(struct fat_editor *e, const struct dir *d, size_t from, size_t n,
                           struct cart_error *err) {
        size_t per = e->g.cluster_size / FAT_DIRENT_SIZE;

        while (n > 0) {
                size_t in = MIN(n, per - from % per);
                uint64_t at = cluster_at(e, d->clusters[from / per]) + (uint64_t) (from % per) * FAT_DIRENT_SIZE;
                int k = write_at(e, d->buf + from * FAT_DIRENT_SIZE, in * FAT_DIRENT_SIZE, at, "directory", err);

                if (k < 0)
                        return k;
                from += in;
                n -= in;
        }
        return 0;
}

/*
 * n free clusters: the first run of n consecutive ones if there is one, else the first n
 * free. The FAT is read through the reader's cache.
 */
static int allocate(struct fat_editor *e, size_t n, uint32_t **ret, struct cart_error *err) {
        _cleanup_free_ uint32_t *v = NULL;
        uint32_t run = 0, last = e->g.clusters + 1;
        size_t got = 0;

        *ret = NULL;
        if (n == 0)
                return 0;
        if (n > e->free_clusters)
                return cart_error_set(err, -ENOSPC, "%zu clusters needed, %u free: %zu bytes missing",
                                      n, e->free_clusters, (n - e->free_clusters) * (size_t) e->g.cluster_size);
        v = malloc(n * sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (uint32_t c = 2; c <= last && run < n; c++) {
                uint32_t x;
                int k = fat_reader_entry(e->r, c, &x, err);
                if (k < 0)
                        return k;
                run = x == 0 ? run + 1 : 0;
                if (run == n)
                        for (size_t i = 0; i < n; i++)
                                v[i] = c + 1 - (uint32_t) n + (uint32_t) i;
        }
        if (run < n)
                for (uint32_t c = 2; c <= last && got < n; c++) {
                        uint32_t x;
                        int k = fat_reader_entry(e->r, c, &x, err);
                        if (k < 0)
                                return k;
                        if (x == 0)
                                v[got++] = c;
                }
        *ret = TAKE_PTR(v);
        return 0;
}

/*
 * The content, read through read(userdata, ..., offset) and written one run of
 * consecutive clusters at a time (at most WRITE_CHUNK per write), the last cluster padded
 * with zeros.
 */
static int write_data(struct fat_editor *e, const uint32_t *c, size_t n, uint64_t len, cart_read_fn read,
                      void *userdata, struct cart_error *err) {
        size_t cs = e->g.cluster_size, per = MAX((size_t) 1, (size_t) WRITE_CHUNK / cs);
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t pos = 0;
        int k;

        if (n == 0)
                return 0;
        buf = malloc(MIN(n, per) * cs);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0, j; i < n; i = j) {
                size_t want, got;

                for (j = i + 1; j < n && j - i < per && c[j] == c[j - 1] + 1; j++)
                        ;
                want = (j - i) * cs;
                got = (size_t) MIN((uint64_t) want, len - pos);
                k = read(userdata, buf, got, pos);
                if (k < 0)
                        return cart_error_set(err, k, "reading the content at byte %" PRIu64, pos);
                memset(buf + got, 0, want - got);
                k = write_at(e, buf, want, cluster_at(e, c[i]), "file content", err);
                if (k < 0)
                        return k;
                pos += got;
        }
        return 0;
}

/* fatgen103 §5: the free count and the next-free hint, in FSInfo and its backup. */
static int fsinfo_update(struct fat_editor *e, uint32_t next_free, struct cart_error *err) {
        uint32_t sectors[2] = { e->g.fsinfo_sector, e->g.backup_boot_sector + e->g.fsinfo_sector };
        _cleanup_free_ uint8_t *b = malloc(e->g.sector_size);
        int k;

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(sectors); i++) {
                uint64_t at = (uint64_t) sectors[i] * e->g.sector_size;

                /* No FSInfo, or no backup (0 or 0xFFFF), or not in the reserved area: nothing to keep up. */
                if (sectors[i] == 0 || (i == 1 && (e->g.backup_boot_sector == 0 || e->g.backup_boot_sector == 0xFFFF)) ||
                    sectors[i] >= e->g.reserved_sectors)
                        continue;
                k = fat_reader_read_raw(e->r, b, e->g.sector_size, at, err);
                if (k < 0)
                        return k;
                if (get_le32(b) != 0x41615252 || get_le32(b + 484) != 0x61417272)
                        continue;
                put_le32(b + 488, e->free_clusters);
                put_le32(b + 492, next_free);
                k = write_at(e, b + 488, 8, e->g.offset + at + 488, "FSInfo", err);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* ---- names ---- */

static bool short_is_taken(const struct fat_dirent *v, size_t n, const uint8_t name[11]) {
        char s[13], *folded = NULL;
        size_t len = 0;
        bool is_taken = false;

        for (int i = 0; i < 8 && name[i] != ' '; i++)
                s[len++] = (char) name[i];
        if (name[8] != ' ') {
                s[len++] = '.';
                for (int i = 8; i < 11 && name[i] != ' '; i++)
                        s[len++] = (char) name[i];
        }
        s[len] = 0;
        if (fat_fold(s, &folded) < 0)
                return true;
        for (size_t i = 0; i < n && !is_taken; i++) {
                char *f = NULL;
                is_taken = memcmp(v[i].raw_short_name, name, 11) == 0;
                if (!is_taken && fat_fold(v[i].name, &f) >= 0)
                        is_taken = streq(f, folded);
                free(f);
        }
        free(folded);
        return is_taken;
}

/* The short name a new entry gets among v: its own when it is 8.3 and free, else a numeric tail. */
static int short_name_for(const uint16_t *name16, size_t len16, const struct fat_dirent *v, size_t n,
                          const char *path, uint8_t ret[11], struct cart_error *err) {
        uint8_t basis[11];
        bool is_lossy;

        if (fat_is_exact_short(name16, len16, ret))
                return 0;
        fat_basis_name(name16, len16, basis, &is_lossy);
        if (!is_lossy && !short_is_taken(v, n, basis)) {
                memcpy(ret, basis, 11);
                return 0;
        }
        for (uint32_t t = 1; t <= SHORT_TAIL_MAX; t++) {
                fat_apply_tail(basis, t, ret);
                if (!short_is_taken(v, n, ret))
                        return 0;
        }
        return cart_error_set(err, -E2BIG, "\"%s\": no free short name left", path);
}

/*
 * The first run of want free slots (deleted, or at and after the end marker), inside one
 * sector when there is such a run (one sector is written at once). SIZE_MAX when none.
 */
static size_t find_slots(const struct dir *d, size_t want, uint32_t sector_size) {
        size_t per_sector = sector_size / FAT_DIRENT_SIZE;

        for (int pass = 0; pass < 2; pass++) {
                size_t run = 0;
                bool is_end = false;

                for (size_t i = 0; i < d->slots; i++) {
                        uint8_t b = d->buf[i * FAT_DIRENT_SIZE];

                        is_end = is_end || b == 0;
                        if (pass == 0 && i % per_sector == 0)
                                run = 0;
                        run = is_end || b == 0xE5 ? run + 1 : 0;
                        if (run == want)
                                return i + 1 - want;
                }
        }
        return SIZE_MAX;
}

static void split_path(const char *path, char **ret_parent, const char **ret_name) {
        const char *slash = strrchr(path, '/');

        *ret_parent = slash ? strndup(path, (size_t) (slash - path)) : strdup("");
        *ret_name = slash ? slash + 1 : path;
}

/* ---- putting a file ---- */

struct put {
        struct fat_editor *e;
        const char *path, *name;
        struct fat_dirent parent, old;
        bool has_old;
        struct dir dir;
        struct fat_dirent *entries;     /* of the parent */
        size_t n_entries;
        uint16_t name16[FAT_NAME_MAX + 1];
        size_t len16;
        uint8_t short_name[11];
        unsigned n_lfn;
        size_t slot;                    /* first slot of the new entries; SIZE_MAX: a new cluster */
        bool is_new_only;               /* a directory or a move: an existing entry is -EEXIST */
};

static void put_done(struct put *p) {
        fat_dirent_clear(&p->parent);
        fat_dirent_clear(&p->old);
        dir_done(&p->dir);
        fat_dirents_free(p->entries, p->n_entries);
}

/* Where the file goes, read and checked; nothing written. */
static int put_prepare(struct put *p, struct cart_error *err) {
        _cleanup_free_ char *parent = NULL;
        int k;

        split_path(p->path, &parent, &p->name);
        if (!parent)
                return -ENOMEM;
        k = fat_reader_stat(p->e->r, parent, &p->parent, err);
        if (k < 0)
                return k;
        if (!p->parent.is_dir)
                return cart_error_set(err, -ENOTDIR, "\"/%s\": not a directory", parent);
        k = fat_reader_stat(p->e->r, p->path, &p->old, err);
        if (k >= 0 && p->is_new_only)
                return cart_error_set(err, -EEXIST, "\"/%s\": exists already", p->path);
        if (k >= 0 && p->old.is_dir)
                return cart_error_set(err, -EISDIR, "\"/%s\": is a directory", p->path);
        if (k < 0 && k != -ENOENT)
                return k;
        p->has_old = k >= 0;
        k = fat_reader_list(p->e->r, parent, &p->entries, &p->n_entries, err);
        if (k < 0)
                return k;
        k = dir_load(p->e, p->parent.first_cluster, parent, &p->dir, err);
        if (k < 0)
                return k;
        if (p->has_old)
                return p->old.slot < p->dir.slots ? 0 :
                       cart_error_set(err, -EUCLEAN, "\"/%s\": entry beyond its directory", p->path);
        k = fat_utf8_to_utf16(p->name, strlen(p->name), p->name16, FAT_NAME_MAX);
        if (k < 0)
                return cart_error_set(err, k, "\"%s\": cannot be a FAT name", p->path);
        p->len16 = (size_t) k;
        k = short_name_for(p->name16, p->len16, p->entries, p->n_entries, p->path, p->short_name, err);
        if (k < 0)
                return k;
        p->n_lfn = fat_lfn_entries(p->name16, p->len16);
        p->slot = find_slots(&p->dir, p->n_lfn + 1, p->e->g.sector_size);
        if (p->slot == SIZE_MAX && p->dir.slots + p->e->g.cluster_size / FAT_DIRENT_SIZE > SLOTS_MAX)
                return cart_error_set(err, -E2BIG, "\"/%s\": its directory holds %d entries already", p->path, SLOTS_MAX);
        return 0;
}

/* The new entries of a created file at slot s of buf (a directory's bytes, slots long). */
static void put_entries(const struct put *p, uint8_t *buf, size_t s, uint8_t attrs, int64_t mtime,
                        uint32_t first, uint32_t size) {
        uint8_t *x = buf + s * FAT_DIRENT_SIZE;

        memset(x, 0, (p->n_lfn + 1) * FAT_DIRENT_SIZE);
        x += fat_put_lfn_entries(x, p->name16, p->len16, p->n_lfn, p->short_name);
        fat_put_short_entry(x, p->short_name, attrs, mtime, first, size);
}

/* Do the slots [s, s + n) reach the end marker (fatgen103 §6: nothing after it is read)? */
static bool slots_reach_end(const struct dir *d, size_t s, size_t n) {
        for (size_t i = s; i < s + n; i++)
                if (d->buf[i * FAT_DIRENT_SIZE] == 0)
                        return true;
        return false;
}

/* Step 3, the commit: the entry replaced or added (in a new cluster linked last). attrs is
 * the whole attribute byte of a new entry. */
static int put_commit(struct put *p, uint8_t attrs, int64_t mtime, uint32_t first, uint32_t size,
                      uint32_t new_dir_cluster, struct cart_error *err) {
        struct fat_editor *e = p->e;
        int k;

        if (p->has_old) {
                fat_entry_set_content(p->dir.buf + (size_t) p->old.slot * FAT_DIRENT_SIZE, mtime, first, size);
                return dir_write_slots(e, &p->dir, p->old.slot, 1, err);
        }
        if (p->slot != SIZE_MAX) {
                /* Entries in deleted slots among others keep what follows; entries from the
                 * end marker on are followed by a new one. */
                bool has_end = slots_reach_end(&p->dir, p->slot, p->n_lfn + 1) && p->slot + p->n_lfn + 1 < p->dir.slots;
                put_entries(p, p->dir.buf, p->slot, attrs, mtime, first, size);
                /* The new end marker first: until the entries are written it hides nothing. */
                if (has_end) {
                        p->dir.buf[(p->slot + p->n_lfn + 1) * FAT_DIRENT_SIZE] = 0;
                        k = dir_write_slots(e, &p->dir, p->slot + p->n_lfn + 1, 1, err);
                        if (k < 0)
                                return k;
                }
                return dir_write_slots(e, &p->dir, p->slot, p->n_lfn + 1, err);
        }
        _cleanup_free_ uint8_t *c = calloc(1, e->g.cluster_size);
        if (!c)
                return -ENOMEM;
        /* An end marker in the last cluster would hide the new one (fatgen103 §6: no entry
         * follows it): the free slots from it on are marked deleted first, which hides nothing. */
        for (size_t i = 0, end = SIZE_MAX; i < p->dir.slots; i++) {
                if (end == SIZE_MAX && p->dir.buf[i * FAT_DIRENT_SIZE] == 0)
                        end = i;
                if (end == SIZE_MAX)
                        continue;
                p->dir.buf[i * FAT_DIRENT_SIZE] = 0xE5;
                if (i + 1 == p->dir.slots) {
                        k = dir_write_slots(e, &p->dir, end, i + 1 - end, err);
                        if (k < 0)
                                return k;
                }
        }
        put_entries(p, c, 0, attrs, mtime, first, size);
        k = write_at(e, c, e->g.cluster_size, cluster_at(e, new_dir_cluster), "directory", err);
        if (k >= 0)
                k = fat_set(e, new_dir_cluster, FAT32_EOC, err);
        if (k >= 0)
                k = fat_set(e, p->dir.clusters[p->dir.n - 1], new_dir_cluster, err);
        fat_reader_forget(e->r);
        return k;
}

/* Steps 4 and 5: the chain an entry no longer reaches freed, then FSInfo. */
static int release_chain(struct fat_editor *e, const uint32_t *c, size_t n, uint32_t next_free,
                         const char *path, struct cart_error *err) {
        int k;

        k = fat_set_chain(e, c, n, true, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\": freeing its old clusters", path);
        e->free_clusters += (uint32_t) n;
        k = fsinfo_update(e, next_free, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\": FSInfo", path);
        return 0;
}

static int check_edit_path(struct fat_editor *e, const char **path, struct cart_error *err) {
        if (!e || !*path)
                return -EINVAL;
        *path += (*path)[0] == '/';
        return fat_check_path(*path, err);
}

int fat_editor_put_stream(struct fat_editor *e, const char *path, uint64_t len, cart_read_fn read, void *userdata,
                          uint8_t attrs, int64_t mtime, struct cart_error *err) {
        _cleanup_(put_done) struct put p = { .e = e };
        _cleanup_free_ uint32_t *alloc = NULL, *old = NULL;
        size_t n_data, n_new, n_old = 0;
        int k;

        k = check_edit_path(e, &path, err);
        if (k < 0)
                return k;
        if (!read && len > 0)
                return -EINVAL;
        p.path = path;
        if (len > FAT_FILE_MAX)
                return cart_error_set(err, -EFBIG, "\"/%s\": %" PRIu64 " bytes, more than a FAT file holds", path, len);
        k = put_prepare(&p, err);
        if (k < 0)
                return k;
        n_data = (size_t) DIV_ROUND_UP(len, (uint64_t) e->g.cluster_size);
        n_new = n_data + (!p.has_old && p.slot == SIZE_MAX);
        if (p.has_old && p.old.size > 0) {
                k = fat_reader_chain(e->r, p.old.first_cluster, DIV_ROUND_UP(p.old.size, e->g.cluster_size), path,
                                     &old, &n_old, err);
                if (k < 0)
                        return k;
        }
        /* Nothing is written before the space is known to be there. */
        k = allocate(e, n_new, &alloc, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\"", path);

        /* 1. data, 2. its chain in every FAT */
        k = write_data(e, alloc, n_data, len, read, userdata, err);
        if (k >= 0)
                k = chain_set(e, alloc, n_data, err);
        /* 3. the entry: from here on the new file is the file */
        if (k >= 0)
                k = put_commit(&p, attrs | FAT_ATTR_ARCHIVE, mtime, n_data ? alloc[0] : 0, (uint32_t) len,
                               n_new > n_data ? alloc[n_data] : 0, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\"", path);
        e->free_clusters -= (uint32_t) n_new;
        /* 4. the old chain freed, 5. FSInfo */
        return release_chain(e, old, n_old, n_new && alloc[n_new - 1] <= e->g.clusters ? alloc[n_new - 1] + 1 : 0xFFFFFFFF,
                             path, err);
}

static int read_memory(void *userdata, void *buf, size_t len, uint64_t offset) {
        memcpy(buf, (const uint8_t *) userdata + offset, len);
        return 0;
}

int fat_editor_put_file(struct fat_editor *e, const char *path, const void *data, size_t len, uint8_t attrs,
                        int64_t mtime, struct cart_error *err) {
        if (!data && len > 0)
                return -EINVAL;
        return fat_editor_put_stream(e, path, len, read_memory, (void *) data, attrs, mtime, err);
}

/* ---- directories, removal, attributes, moves ---- */

int fat_editor_mkdir(struct fat_editor *e, const char *path, uint8_t attrs, int64_t mtime, struct cart_error *err) {
        static const uint8_t dot[11] = ".          ", dotdot[11] = "..         ";
        _cleanup_(put_done) struct put p = { .e = e, .is_new_only = true };
        _cleanup_free_ uint32_t *alloc = NULL;
        _cleanup_free_ uint8_t *c = NULL;
        size_t n_new;
        int k;

        k = check_edit_path(e, &path, err);
        if (k < 0)
                return k;
        p.path = path;
        k = put_prepare(&p, err);
        if (k < 0)
                return k;
        n_new = 1 + (p.slot == SIZE_MAX);
        k = allocate(e, n_new, &alloc, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\"", path);
        c = calloc(1, e->g.cluster_size);
        if (!c)
                return -ENOMEM;
        /* fatgen103 §6.3: "." and "..", the latter 0 for a directory of the root. */
        fat_put_short_entry(c, dot, FAT_ATTR_DIRECTORY | attrs, mtime, alloc[0], 0);
        fat_put_short_entry(c + FAT_DIRENT_SIZE, dotdot, FAT_ATTR_DIRECTORY, mtime,
                            p.parent.first_cluster == e->g.root_cluster ? 0 : p.parent.first_cluster, 0);
        /* 1. its cluster, 2. its chain, 3. its entry */
        k = write_at(e, c, e->g.cluster_size, cluster_at(e, alloc[0]), "directory", err);
        if (k >= 0)
                k = chain_set(e, alloc, 1, err);
        if (k >= 0)
                k = put_commit(&p, FAT_ATTR_DIRECTORY | attrs, mtime, alloc[0], 0, n_new > 1 ? alloc[1] : 0, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\"", path);
        e->free_clusters -= (uint32_t) n_new;
        return release_chain(e, NULL, 0, alloc[n_new - 1] <= e->g.clusters ? alloc[n_new - 1] + 1 : 0xFFFFFFFF, path, err);
}

/* The entry at path and its parent directory as on disk; the root is -EBUSY. */
static int entry_load(struct fat_editor *e, const char *path, struct fat_dirent *ret_d, struct dir *ret_dir,
                      struct cart_error *err) {
        _cleanup_free_ char *parent = NULL;
        struct fat_dirent pd = {}, d = {};
        const char *name;
        int k;

        if (!path[0])
                return cart_error_set(err, -EBUSY, "the root directory cannot be changed");
        split_path(path, &parent, &name);
        if (!parent)
                return -ENOMEM;
        k = fat_reader_stat(e->r, path, &d, err);
        if (k < 0)
                return k;
        k = fat_reader_stat(e->r, parent, &pd, err);
        if (k >= 0)
                k = dir_load(e, pd.first_cluster, parent, ret_dir, err);
        fat_dirent_clear(&pd);
        if (k >= 0 && (d.slot >= ret_dir->slots || d.n_lfn > d.slot)) {
                dir_done(ret_dir);
                k = cart_error_set(err, -EUCLEAN, "\"/%s\": entry beyond its directory", path);
        }
        if (k < 0) {
                fat_dirent_clear(&d);
                return k;
        }
        *ret_d = d;
        return 0;
}

int fat_editor_remove(struct fat_editor *e, const char *path, struct cart_error *err) {
        _cleanup_(fat_dirent_clear) struct fat_dirent d = {};
        _cleanup_(dir_done) struct dir dir = {};
        _cleanup_free_ uint32_t *chain = NULL;
        size_t n_chain = 0, first;
        int k;

        k = check_edit_path(e, &path, err);
        if (k < 0)
                return k;
        k = entry_load(e, path, &d, &dir, err);
        if (k < 0)
                return k;
        if (d.is_dir) {
                struct fat_dirent *v = NULL;
                size_t n = 0;

                k = fat_reader_list(e->r, path, &v, &n, err);
                fat_dirents_free(v, n);
                if (k < 0)
                        return k;
                if (n > 0)
                        return cart_error_set(err, -ENOTEMPTY, "\"/%s\": directory not empty", path);
        }
        if (d.first_cluster != 0 && (d.is_dir || d.size > 0)) {
                uint64_t max = d.is_dir ? MAX((uint64_t) 1, (uint64_t) SLOTS_MAX * FAT_DIRENT_SIZE / e->g.cluster_size) :
                                          DIV_ROUND_UP(d.size, e->g.cluster_size);
                k = fat_reader_chain(e->r, d.first_cluster, max, path, &chain, &n_chain, err);
                if (k < 0)
                        return k;
        }
        /* 3. the entries marked deleted, long-name ones first: a cut between them leaves the
         * entry under its 8.3 name, never an orphaned long name. 4. its chain freed, 5. FSInfo. */
        first = d.slot - d.n_lfn;
        for (size_t i = first; i <= d.slot; i++)
                dir.buf[i * FAT_DIRENT_SIZE] = 0xE5;
        k = dir_write_slots(e, &dir, first, d.slot + 1 - first, err);
        if (k < 0)
                return cart_error_prefix(err, k, "\"/%s\"", path);
        return release_chain(e, chain, n_chain, 0xFFFFFFFF, path, err);
}

/* The short entry at path with its attributes (has_attrs) and times (has_time) set: one
 * write, none when they are already so. */
static int entry_rewrite(struct fat_editor *e, const char *path, bool has_attrs, uint8_t attrs, bool has_time,
                         int64_t mtime, struct cart_error *err) {
        _cleanup_(fat_dirent_clear) struct fat_dirent d = {};
        _cleanup_(dir_done) struct dir dir = {};
        uint8_t *x, old[FAT_DIRENT_SIZE];
        int k;

        k = check_edit_path(e, &path, err);
        if (k < 0)
                return k;
        if (attrs & ~(FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM | FAT_ATTR_ARCHIVE))
                return -EINVAL;
        k = entry_load(e, path, &d, &dir, err);
        if (k < 0)
                return k;
        x = dir.buf + (size_t) d.slot * FAT_DIRENT_SIZE;
        memcpy(old, x, sizeof(old));
        if (has_attrs)
                x[11] = attrs | (x[11] & FAT_ATTR_DIRECTORY);
        if (has_time)
                fat_entry_set_times(x, mtime);
        if (memcmp(old, x, sizeof(old)) == 0)
                return 0;
        k = dir_write_slots(e, &dir, d.slot, 1, err);
        return k < 0 ? cart_error_prefix(err, k, "\"/%s\"", path) : 0;
}

int fat_editor_set_attrs(struct fat_editor *e, const char *path, uint8_t attrs, struct cart_error *err) {
        return entry_rewrite(e, path, true, attrs, false, 0, err);
}

int fat_editor_set_time(struct fat_editor *e, const char *path, int64_t mtime, struct cart_error *err) {
        return entry_rewrite(e, path, false, 0, true, mtime, err);
}

/* A file's bytes read at an offset through its chain (the source of a move). */
struct chain_source {
        struct fat_editor *e;
        uint32_t *c;
        size_t n;
};

static int read_chain(void *userdata, void *buf, size_t len, uint64_t offset) {
        struct chain_source *s = userdata;
        size_t cs = s->e->g.cluster_size;
        uint8_t *p = buf;

        while (len > 0) {
                size_t i = (size_t) (offset / cs), in = (size_t) (offset % cs), n = MIN(len, cs - in);
                int k;

                if (i >= s->n)
                        return -ERANGE;
                k = fat_reader_read_raw(s->e->r, p, n, cluster_at(s->e, s->c[i]) - s->e->g.offset + in, NULL);
                if (k < 0)
                        return k;
                p += n;
                offset += n;
                len -= n;
        }
        return 0;
}

int fat_editor_move(struct fat_editor *e, const char *from, const char *to, struct cart_error *err) {
        _cleanup_(fat_dirent_clear) struct fat_dirent d = {}, t = {};
        struct chain_source src = { .e = e };
        int k;

        k = check_edit_path(e, &from, err);
        if (k >= 0)
                k = check_edit_path(e, &to, err);
        if (k < 0)
                return k;
        k = fat_reader_stat(e->r, from, &d, err);
        if (k < 0)
                return k;
        if (d.is_dir)
                return cart_error_set(err, -EISDIR, "\"/%s\": is a directory", from);
        k = fat_reader_stat(e->r, to, &t, err);
        if (k >= 0)
                return cart_error_set(err, -EEXIST, "\"/%s\": exists already", to);
        if (k != -ENOENT)
                return k;
        if (d.size > 0) {
                k = fat_reader_chain(e->r, d.first_cluster, DIV_ROUND_UP(d.size, e->g.cluster_size), from,
                                     &src.c, &src.n, err);
                if (k < 0)
                        return k;
        }
        /* A copy first, then the original removed: a cut leaves the file under one name or
         * both, never a chain two entries share. */
        k = fat_editor_put_stream(e, to, d.size, read_chain, &src,
                                  d.attrs & (FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM), d.mtime, err);
        free(src.c);
        if (k < 0)
                return k;
        return fat_editor_remove(e, from, err);
}
