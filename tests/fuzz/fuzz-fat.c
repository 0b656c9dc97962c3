/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FAT32 reader on a hostile volume: fat_reader_open(), _info(), _walk() (reading every
 * file on the way, up to a budget), _list(), _stat(), _read_file(). The input is a sparse
 * 64 MiB volume (fuzz-volume.h).
 */
#include "fat/fat.h"
#include "fuzz-volume.h"

#define FUZZ_FAT_SIZE    (64 * MIB)
#define FUZZ_READ_BUDGET (256 * KIB)   /* bytes of files read per input: zeros are slow */

struct counter { uint64_t bytes; };

static int count_sink(void *userdata, const void *buf, size_t len) {
        ((struct counter *) userdata)->bytes += len;
        return 0;
}

struct walk { struct fat_reader *r; struct volume *v; };

static int walk_entry(void *userdata, const char *path, const struct fat_dirent *e) {
        struct walk *w = userdata;
        struct cart_error err = {};

        FUZZ_ASSERT(path && path[0] && e->name);
        FUZZ_ASSERT(strlen(path) < 4096);      /* fat.h: walked paths stay under 4096 bytes */
        if (e->is_dir) {
                struct fat_dirent *entries = NULL;
                size_t n = 0;

                if (fat_reader_list(w->r, path, &entries, &n, &err) == 0)
                        fat_dirents_free(entries, n);
        } else if (e->size <= w->v->budget) {
                struct counter c = {};

                w->v->budget -= e->size;
                if (fat_reader_read_entry(w->r, path, e, count_sink, &c, &err) == 0)
                        FUZZ_ASSERT(c.bytes == e->size);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct volume v = { .size = FUZZ_FAT_SIZE, .budget = FUZZ_READ_BUDGET };
        struct fat_volume_info info;
        struct fat_dirent *entries = NULL, d = {};
        struct cart_error err = {};
        struct counter c = {};
        size_t n = 0;

        int k;

        volume_parse(data, size, &v);
        k = fat_reader_open(volume_read, &v, 0, FUZZ_FAT_SIZE, &r, &err);
        fuzz_note("open", k, err.msg);
        if (k == 0) {
                struct walk w = { r, &v };

                FUZZ_ASSERT(fat_reader_info(r, &info) == 0);
                FUZZ_ASSERT(info.free_clusters <= info.clusters);
                k = fat_reader_walk(r, walk_entry, &w, &err);
                fuzz_note("walk", k, err.msg);
                /* Entries read without a walk first: their chains are unchecked. */
                if (fat_reader_list(r, "", &entries, &n, &err) == 0) {
                        for (size_t i = 0; i < n; i++)
                                if (!entries[i].is_dir && entries[i].size <= v.budget) {
                                        v.budget -= entries[i].size;
                                        (void) fat_reader_read_entry(r, entries[i].name, &entries[i],
                                                                     count_sink, &c, &err);
                                }
                        fat_dirents_free(entries, n);
                }
                if (fat_reader_stat(r, ".cartable/manifest.json", &d, &err) == 0) {
                        if (!d.is_dir && d.size <= FUZZ_READ_BUDGET)
                                (void) fat_reader_read_file(r, ".cartable/manifest.json", count_sink, &c, &err);
                        fat_dirent_clear(&d);
                }
        }
        free(v.records);
        return 0;
}
