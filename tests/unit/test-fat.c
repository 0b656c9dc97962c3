/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FAT32 writer: geometry, FSInfo, short names, refusals. Reader corruption: test-fat-reader.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fat/fat-internal.h"
#include "fat-test.h"

static void test_geometry(void **state) {
        static const struct { uint64_t size; uint32_t cluster; } classes[] = {
                { 64 * MIB, 512 }, { 260 * MIB, 512 }, { 261 * MIB, 4096 }, { 8 * GIB, 4096 },
                { 8 * GIB + MIB, 8192 }, { 16 * GIB, 8192 }, { 32 * GIB, 16384 }, { 33 * GIB, 32768 },
                { 2 * TIB, 32768 },
        };

        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                for (uint64_t offset = 0; offset <= MIB; offset += MIB) {
                        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
                        _cleanup_(plan_freep) struct plan *p = NULL;
                        struct fat_params params = { .size = classes[i].size, .offset = offset, .volume_id = 1 };
                        struct fat_layout_info info;
                        struct cart_error err = {};
                        uint64_t fat_entries, end;

                        assert_int_equal(fat_default_cluster_size(classes[i].size), classes[i].cluster);
                        assert_int_equal(fat_tree_new(&t), 0);
                        assert_int_equal(plan_new(&p), 0);
                        assert_int_equal(fat_layout(t, &params, p, &info, &err), 0);
                        assert_int_equal(plan_finalize(p, offset + classes[i].size, &err), 0);
                        assert_int_equal(info.cluster_size, classes[i].cluster);
                        /* Cluster 2 on a 1 MiB boundary of the target. */
                        assert_int_equal(info.data_offset % MIB, 0);
                        assert_int_equal(info.data_offset, offset + (info.reserved_sectors + 2 * (uint64_t) info.fat_sectors) * 512);
                        assert_true(info.reserved_sectors >= 32);
                        assert_true(info.clusters >= 65525);
                        fat_entries = (uint64_t) info.fat_sectors * 512 / 4;
                        assert_true(fat_entries >= info.clusters + 2);
                        /* No bigger than needed but for the entries the alignment padding took. */
                        assert_true(fat_entries - (info.clusters + 2) < 128 + 2048);
                        /* Less than a cluster left unused at the end. */
                        end = info.data_offset + (uint64_t) info.clusters * info.cluster_size;
                        assert_true(offset + MIN(classes[i].size, (uint64_t) UINT32_MAX * 512) - end < info.cluster_size);
                        assert_int_equal(info.clusters_used, 1);
                        /* Only metadata is planned: boot area, two FATs, the root directory. */
                        assert_int_equal(plan_bytes(p), 8 * 512 + 2 * (uint64_t) info.fat_sectors * 512 + info.cluster_size);
                        assert_int_equal(info.metadata_bytes, plan_bytes(p));
                }
}

static void test_geometry_refused(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct fat_params params = { .size = 64 * MIB, .cluster_size = 4096 };
        struct cart_error err = {};

        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(fat_layout(t, &params, p, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "65525"));
        params = (struct fat_params) { .size = 2 * TIB, .cluster_size = 512 };
        assert_int_equal(fat_layout(t, &params, p, NULL, &err), -EINVAL);
        params = (struct fat_params) { .size = 32 * MIB };
        assert_int_equal(fat_layout(t, &params, p, NULL, &err), -EINVAL);
        params = (struct fat_params) { .size = 64 * MIB, .cluster_size = 3000 };
        assert_int_equal(fat_layout(t, &params, p, NULL, &err), -EINVAL);
        params = (struct fat_params) { .size = 64 * MIB };
        strcpy(params.label, "a.b");
        assert_int_equal(fat_layout(t, &params, p, NULL, &err), -EILSEQ);
}

static void test_boot_and_fsinfo(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        struct fat_params params = { .size = 64 * MIB, .volume_id = 0xCAFE1234, .time = 1700000000 };
        struct fat_layout_info info;
        struct fat_volume_info vi;
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        struct mem m;
        const uint8_t *b;

        strcpy(params.label, "cartable");
        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(fat_tree_add_file(t, "a/b/c.bin", 5000, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "big.bin", 100000, 0, 0, pattern_read, NULL, 0, &err), 0);
        build_image(t, &params, &m, &info);
        b = m.buf;
        assert_int_equal(b[510], 0x55);
        assert_int_equal(b[511], 0xAA);
        assert_memory_equal(b + 71, "CARTABLE   ", 11);
        assert_memory_equal(b + 82, "FAT32   ", 8);
        assert_int_equal(get_le32(b + 67), 0xCAFE1234);
        assert_non_null(memmem(b, 512, "not a bootable disk", 19));
        assert_memory_equal(b + 6 * 512, b, 1024);      /* backup boot sector and FSInfo */
        /* root + a + a/b, then 10 + 196 clusters of content */
        assert_int_equal(info.clusters_used, 3 + 10 + 196);
        assert_int_equal(get_le32(b + 512), 0x41615252);
        assert_int_equal(get_le32(b + 512 + 488), info.clusters - info.clusters_used);
        assert_int_equal(get_le32(b + 512 + 492), info.clusters_used + 2);
        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_info(r, &vi), 0);
        assert_int_equal(vi.free_clusters, info.clusters - info.clusters_used);
        assert_string_equal(vi.label, "CARTABLE");
        assert_int_equal(vi.volume_id, 0xCAFE1234);
        assert_int_equal(vi.data_offset, info.data_offset);
        free(m.buf);
}

static void test_deterministic(void **state) {
        struct fat_params params = { .size = 64 * MIB, .volume_id = 7, .time = 1600000000 };
        struct mem m[2];

        for (int k = 0; k < 2; k++) {
                _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
                struct cart_error err = {};

                assert_int_equal(fat_tree_new(&t), 0);
                for (int d = 0; d < 3; d++) {
                        char path[8];
                        snprintf(path, sizeof(path), "d%d", k ? 2 - d : d);
                        assert_int_equal(fat_tree_add_dir(t, path, 0, 1600000000, &err), 0);
                }
                /* Added in a different order each time: the layout sorts. */
                for (int i = 0; i < 50; i++) {
                        char path[64];
                        int j = k ? 49 - i : i;
                        snprintf(path, sizeof(path), "d%d/File number %d.txt", j % 3, j);
                        assert_int_equal(fat_tree_add_file(t, path, (uint64_t) j * 100, 0, 1600000000 + j, pattern_read, NULL, 0, &err), 0);
                }
                build_image(t, &params, &m[k], NULL);
        }
        assert_memory_equal(m[0].buf, m[1].buf, m[0].size);
        free(m[0].buf);
        free(m[1].buf);
}

static void expect_short(struct fat_reader *r, const char *dir, const char *name, const char *want) {
        struct fat_dirent *v;
        size_t n;
        struct cart_error err = {};
        bool found = false;

        assert_int_equal(fat_reader_list(r, dir, &v, &n, &err), 0);
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].name, name)) {
                        if (!streq(v[i].short_name, want))
                                fail_msg("\"%s\": short name %s, want %s", name, v[i].short_name, want);
                        found = true;
                }
        fat_dirents_free(v, n);
        if (!found)
                fail_msg("\"%s\" not listed", name);
}

static void test_short_names(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_params params = { .size = 64 * MIB };
        struct fat_layout_info info;
        struct cart_error err = {};
        struct mem m;
        static const char *const names[] = {
                "README.TXT", "readme2.txt", "Long File Name.txt", "longfi~1.txt", ".bashrc",
                "Élève.txt", "a.b.c", "x y", "TOOLONGEXT.html", "数学.pdf", "ok-name.TXT",
        };
        static const char *const shorts[] = {
                "README.TXT", "README2.TXT", "LONGFI~2.TXT", "LONGFI~1.TXT", "BASHRC~1",
                "_L_VE~1.TXT", "AB~1.C", "XY~1", "TOOLON~1.HTM", "__~1.PDF", "OK-NAME.TXT",
        };
        const uint8_t *root;

        assert_int_equal(fat_tree_new(&t), 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_int_equal(fat_tree_add_file(t, names[i], 1, 0, 0, pattern_read, NULL, 0, &err), 0);
        for (int i = 1; i <= 1000; i++) {
                char path[64];
                snprintf(path, sizeof(path), "tails/Long File Name %d.txt", i);
                assert_int_equal(fat_tree_add_file(t, path, 0, 0, 0, NULL, NULL, 0, &err), 0);
        }
        build_image(t, &params, &m, &info);
        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                expect_short(r, "", names[i], shorts[i]);
        /* Sorted by name: "Long File Name 1", "10", "100", "1000", "101"... get ~1, ~2, ... in turn. */
        expect_short(r, "tails", "Long File Name 1.txt", "LONGFI~1.TXT");
        expect_short(r, "tails", "Long File Name 10.txt", "LONGFI~2.TXT");
        expect_short(r, "tails", "Long File Name 105.txt", "LONGFI~9.TXT");
        expect_short(r, "tails", "Long File Name 106.txt", "LONGF~10.TXT");
        expect_short(r, "tails", "Long File Name 999.txt", "LON~1000.TXT");

        /* An exact upper-case 8.3 name has no LFN entry; the others do, with the right checksum. */
        root = m.buf + info.data_offset;
        for (size_t off = 0; root[off]; off += 32) {
                if (memcmp(root + off, "README  TXT", 11) == 0)
                        assert_int_not_equal(root[off - 32 + 11], FAT_ATTR_LFN);
                if (memcmp(root + off, "LONGFI~1TXT", 11) == 0) {
                        assert_int_equal(root[off - 32 + 11], FAT_ATTR_LFN);
                        assert_int_equal(root[off - 32 + 13], 0xD4);
                }
        }
        assert_int_equal(fat_lfn_checksum((const uint8_t *) "LONGFI~1TXT"), 0xD4);
        assert_int_equal(fat_lfn_checksum((const uint8_t *) "README  TXT"), 0x73);
        free(m.buf);
}

static void test_short_names_unique(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        struct cart_error err = {};
        const struct fat_node *d;

        /* Names that share every basis: tails must never collide, whatever the order. */
        assert_int_equal(fat_tree_new(&t), 0);
        for (int i = 0; i < 3000; i++) {
                char path[64];
                snprintf(path, sizeof(path), i % 3 == 0 ? "LONGFI~%d.TXT" : i % 3 == 1 ? "longfile %d.txt" : "Long.File.%d.txt", i);
                assert_int_equal(fat_tree_add_file(t, path, 0, 0, 0, NULL, NULL, 0, &err), 0);
        }
        assert_int_equal(fat_tree_prepare(t, &err), 0);
        d = &t->nodes[0];
        for (uint32_t i = 0; i + 1 < d->n_children; i++)
                for (uint32_t j = i + 1; j < d->n_children; j++)
                        assert_memory_not_equal(t->nodes[t->child_index[d->children + i]].short_name,
                                                t->nodes[t->child_index[d->children + j]].short_name, 11);
}

static void expect_refused(struct fat_tree *t, const char *path, uint64_t size, int want, const char *in_msg) {
        struct cart_error err = {};
        int r = fat_tree_add_file(t, path, size, 0, 0, pattern_read, NULL, 0, &err);

        if (r != want)
                fail_msg("adding \"%s\": %d, want %d (%s)", path, r, want, err.msg);
        if (!strstr(err.msg, in_msg))
                fail_msg("adding \"%s\": message \"%s\" lacks \"%s\"", path, err.msg, in_msg);
}

static void test_refusals(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        struct cart_error err = {};
        char path[700];

        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(fat_tree_add_file(t, "Cours/Élève.txt", 1, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "Cours/Ωmega", 1, 0, 0, pattern_read, NULL, 0, &err), 0);
        expect_refused(t, "Cours/ÉLÈVE.TXT", 1, -EEXIST, "Cours/Élève.txt");
        expect_refused(t, "cours/x", 1, -EEXIST, "Cours");
        expect_refused(t, "Cours/ωMEGA", 1, -EEXIST, "Cours/Ωmega");
        expect_refused(t, "Cours/Élève.txt", 1, -EEXIST, "added twice");
        expect_refused(t, "Cours/Élève.txt/x", 1, -ENOTDIR, "Cours/Élève.txt/x");
        expect_refused(t, "Cours/a?b", 1, -EILSEQ, "Cours/a?b");
        expect_refused(t, "Cours/a:b", 1, -EILSEQ, "Cours/a:b");
        expect_refused(t, "Cours/tab\there", 1, -EILSEQ, "Cours/tab");
        expect_refused(t, "Cours/trailing.", 1, -EINVAL, "Cours/trailing.");
        expect_refused(t, "Cours/trailing ", 1, -EINVAL, "Cours/trailing ");
        expect_refused(t, "Cours/com1.txt", 1, -EINVAL, "Cours/com1.txt");
        expect_refused(t, "NUL", 1, -EINVAL, "NUL");
        expect_refused(t, "Cours/big.iso", FAT_FILE_MAX + 1, -EFBIG, "Cours/big.iso");
        assert_int_equal(fat_tree_add_file(t, "Cours/max.iso", FAT_FILE_MAX, 0, 0, pattern_read, NULL, 0, &err), 0);
        memset(path, 'n', 256);
        path[256] = 0;
        expect_refused(t, path, 1, -ENAMETOOLONG, "nnnn");
        memcpy(path, "Cours/", 6);
        memset(path + 6, 'p', 250);
        path[256] = 0;          /* 256 units: the limit */
        assert_int_equal(fat_tree_add_file(t, path, 0, 0, 0, NULL, NULL, 0, &err), 0);
        {
                char longer[sizeof(path) + 1];
                snprintf(longer, sizeof(longer), "X%s", path);     /* 257 units */
                expect_refused(t, longer, 1, -ENAMETOOLONG, "XCours");
        }
}

static void test_dir_entries_limit(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        struct cart_error err = {};
        char path[32];
        int i;

        /* "d/" holds ".", "..", then 8.3 names (one entry each) and one long name (two). */
        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(fat_tree_add_file(t, "d/long name", 0, 0, 0, NULL, NULL, 0, &err), 0);
        for (i = 0; i < 65536 - 2 - 2; i++) {
                snprintf(path, sizeof(path), "d/F%05d", i);
                assert_int_equal(fat_tree_add_file(t, path, 0, 0, 0, NULL, NULL, 0, &err), 0);
        }
        snprintf(path, sizeof(path), "d/F%05d", i);
        assert_int_equal(fat_tree_add_file(t, path, 0, 0, 0, NULL, NULL, 0, &err), -E2BIG);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "65536"));
}

static void test_enospc(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct fat_params params = { .size = 64 * MIB };
        struct cart_error err = {};

        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(fat_tree_add_file(t, "a.bin", 40 * MIB, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "b.bin", 40 * MIB, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_layout(t, &params, p, NULL, &err), -ENOSPC);
        assert_non_null(strstr(err.msg, "too many"));
        assert_non_null(strstr(err.msg, "80.0 MiB"));
}

static void test_choose_cluster_size(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *small = NULL, *big = NULL;
        struct cart_error err = {};

        /* Many tiny files: small clusters waste less than a longer FAT costs. */
        assert_int_equal(fat_tree_new(&small), 0);
        for (int i = 0; i < 5000; i++) {
                char path[32];
                snprintf(path, sizeof(path), "f%d", i);
                assert_int_equal(fat_tree_add_file(small, path, 100, 0, 0, pattern_read, NULL, 0, &err), 0);
        }
        assert_int_equal(fat_choose_cluster_size(small, 256 * MIB, 512), 512);
        /* On 8 GiB, 512-byte clusters need 128 MiB of FATs: 4 KiB (36 MiB in all) wins. */
        assert_int_equal(fat_choose_cluster_size(small, 8 * GIB, 512), 4096);
        /* One large file on a large volume: the shortest FAT wins. */
        assert_int_equal(fat_tree_new(&big), 0);
        assert_int_equal(fat_tree_add_file(big, "x", GIB, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_choose_cluster_size(big, 8 * GIB, 512), 32768);
        /* Too big for the volume at any size. */
        assert_int_equal(fat_choose_cluster_size(big, 64 * MIB, 512), 0);
}

static void test_largest_file(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct fat_params params = { .size = 8 * GIB };
        struct fat_layout_info info;
        struct cart_error err = {};
        const struct plan_extent *e;
        uint8_t fat[8];

        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(plan_new(&p), 0);
        assert_int_equal(fat_tree_add_file(t, "big.iso", FAT_FILE_MAX, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_layout(t, &params, p, &info, &err), 0);
        assert_int_equal(plan_finalize(p, params.size, &err), 0);
        assert_int_equal(info.clusters_used, 1 + (FAT_FILE_MAX + 4095) / 4096);
        /* Content is one source extent, cluster-aligned, its slack zero-filled. */
        e = plan_get(p, plan_count(p) - 1);
        assert_int_equal(e->kind, PLAN_SOURCE);
        assert_int_equal(e->offset, info.data_offset + 4096);
        assert_int_equal(e->length, 4 * GIB);
        assert_int_equal(e->source_length, FAT_FILE_MAX);
        /* Its last FAT entry ends the chain; the next one is free. */
        uint64_t last = info.clusters_used + 1;
        assert_int_equal(plan_read(p, (uint64_t) info.reserved_sectors * 512 + last * 4, fat, 8, NULL), 0);
        assert_int_equal(get_le32(fat), 0x0FFFFFFF);
        assert_int_equal(get_le32(fat + 4), 0);
}

static void test_time(void **state) {
        uint16_t d, t;
        uint8_t tenths;

        fat_time_encode(1700000001, &d, &t, &tenths);    /* 2023-11-14 22:13:21 UTC */
        assert_int_equal(d, ((2023 - 1980) << 9) | (11 << 5) | 14);
        assert_int_equal(t, (22 << 11) | (13 << 5) | 10);
        assert_int_equal(tenths, 100);
        assert_int_equal(fat_time_decode(d, t), 1700000000);
        fat_time_encode(0, &d, &t, NULL);                /* before 1980: clamped */
        assert_int_equal(d, (0 << 9) | (1 << 5) | 1);
        assert_int_equal(t, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_geometry),
                cmocka_unit_test(test_geometry_refused),
                cmocka_unit_test(test_boot_and_fsinfo),
                cmocka_unit_test(test_deterministic),
                cmocka_unit_test(test_short_names),
                cmocka_unit_test(test_short_names_unique),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_dir_entries_limit),
                cmocka_unit_test(test_enospc),
                cmocka_unit_test(test_choose_cluster_size),
                cmocka_unit_test(test_largest_file),
                cmocka_unit_test(test_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
