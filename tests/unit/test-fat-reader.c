/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FAT32 reader on images built in memory, then corrupted one way at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fat-test.h"

static struct mem image;          /* pristine, built once */
static struct mem m;              /* the copy each test corrupts */
static struct fat_layout_info info;

static int setup(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        struct fat_params params = { .size = 64 * MIB, .volume_id = 1, .time = 1700000000 };
        struct cart_error err = {};

        assert_int_equal(fat_tree_new(&t), 0);
        /* Root, in name order: "A much longer name.txt" (2 LFN entries), "Long name.txt"
         * (1 LFN entry), "dir/", "file2.bin". */
        assert_int_equal(fat_tree_add_file(t, "Long name.txt", 100, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "A much longer name.txt", 512, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "dir/inner.txt", 2000, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "file2.bin", 3000, 0, 0, pattern_read, NULL, 0, &err), 0);
        build_image(t, &params, &image, &info);
        m.size = image.size;
        m.buf = malloc(m.size);
        assert_non_null(m.buf);
        return 0;
}

static int teardown(void **state) {
        free(image.buf);
        free(m.buf);
        return 0;
}

static int reset(void **state) {
        memcpy(m.buf, image.buf, m.size);
        return 0;
}

static uint8_t *fat_entry(uint32_t c) { return m.buf + (uint64_t) info.reserved_sectors * 512 + (uint64_t) c * 4; }
static uint8_t *cluster(uint32_t c) { return m.buf + info.data_offset + (uint64_t) (c - 2) * 512; }

/* The short entry named n (11 bytes) in the directory at cluster c. */
static uint8_t *dirent(uint32_t c, const char *n) {
        for (uint8_t *e = cluster(c); e[0]; e += 32)
                if (memcmp(e, n, 11) == 0)
                        return e;
        fail_msg("no entry %s", n);
        return NULL;
}

static uint32_t first_cluster(const char *path) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_dirent d;
        struct cart_error err = {};
        uint32_t c;

        assert_int_equal(fat_reader_open(mem_read, &image, 0, image.size, &r, &err), 0);
        assert_int_equal(fat_reader_stat(r, path, &d, &err), 0);
        c = d.first_cluster;
        fat_dirent_clear(&d);
        return c;
}

static int count(void *userdata, const char *path, const struct fat_dirent *e) {
        (*(int *) userdata)++;
        return 0;
}

/* Walks the corrupted copy: want -EUCLEAN (or another error) with in_msg in the message. */
static void expect_walk(int want, const char *in_msg) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        int n = 0, k;

        k = fat_reader_open(mem_read, &m, 0, m.size, &r, &err);
        if (k >= 0)
                k = fat_reader_walk(r, count, &n, &err);
        if (k != want)
                fail_msg("walk: %d, want %d (%s)", k, want, err.msg);
        if (in_msg && !strstr(err.msg, in_msg))
                fail_msg("message \"%s\" lacks \"%s\"", err.msg, in_msg);
        /* Damage is corrupt-volume, whatever the words; where it is, when said, is the label. */
        if (want == -EUCLEAN && cart_error_reason(&err, want) != CART_REASON_CORRUPT_VOLUME)
                fail_msg("reason %s for \"%s\"", cart_reason_to_string(cart_error_reason(&err, want)), err.msg);
        if (want == -EUCLEAN && err.label[0] && !strstr(err.msg, err.label))
                fail_msg("label \"%s\" is not where \"%s\" says", err.label, err.msg);
}

struct sink { uint8_t buf[4096]; size_t n; };

static int collect(void *userdata, const void *buf, size_t len) {
        struct sink *s = userdata;

        assert_true(s->n + len <= sizeof(s->buf));
        memcpy(s->buf + s->n, buf, len);
        s->n += len;
        return 0;
}

static void test_valid(void **state) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        struct fat_dirent *v;
        struct sink s = {};
        uint8_t want[3000];
        size_t n;
        int entries = 0;

        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_walk(r, count, &entries, &err), 0);
        assert_int_equal(entries, 5);
        assert_int_equal(fat_reader_list(r, "/", &v, &n, &err), 0);
        assert_int_equal(n, 4);
        assert_string_equal(v[0].name, "A much longer name.txt");
        assert_string_equal(v[0].short_name, "AMUCHL~1.TXT");
        assert_string_equal(v[2].name, "dir");
        assert_true(v[2].is_dir);
        assert_int_equal(v[3].size, 3000);
        assert_int_equal(v[3].mtime, 315532800);      /* time 0, clamped to 1980 */
        fat_dirents_free(v, n);
        /* Case-insensitive, by long or short name. */
        assert_int_equal(fat_reader_read_file(r, "FILE2.BIN", collect, &s, &err), 0);
        pattern_read(NULL, want, sizeof(want), 0);
        assert_int_equal(s.n, 3000);
        assert_memory_equal(s.buf, want, 3000);
        s.n = 0;
        assert_int_equal(fat_reader_read_file(r, "/DIR/Inner.TXT", collect, &s, &err), 0);
        assert_int_equal(s.n, 2000);
        assert_int_equal(fat_reader_read_file(r, "dir/nothing", collect, &s, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "dir/nothing"));
        assert_int_equal(fat_reader_read_file(r, "dir", collect, &s, &err), -EISDIR);
        assert_int_equal(fat_reader_list(r, "file2.bin/x", &v, &n, &err), -ENOTDIR);
}

static void test_loop(void **state) {
        uint32_t c = first_cluster("file2.bin");

        put_le32(fat_entry(c + 5), c);          /* the last cluster points back to the first */
        expect_walk(-EUCLEAN, "file2.bin");
        put_le32(fat_entry(c + 5), FAT32_EOC);
        put_le32(fat_entry(c + 2), c + 1);      /* a loop of two in the middle */
        expect_walk(-EUCLEAN, "loop");
}

static void test_cross_link(void **state) {
        uint32_t inner = first_cluster("dir/inner.txt");
        uint8_t *e = dirent(2, "FILE2   BIN");

        /* file2.bin now shares inner.txt's chain, with a matching size. */
        put_le16(e + 20, (uint16_t) (inner >> 16));
        put_le16(e + 26, (uint16_t) inner);
        put_le32(e + 28, 2000);
        expect_walk(-EUCLEAN, "cross-link");
        /* A file that runs into a directory's cluster. */
        reset(NULL);
        put_le32(fat_entry(first_cluster("Long name.txt")), first_cluster("dir"));
        e = dirent(2, "LONGNA~1TXT");
        put_le32(e + 28, 1024);
        expect_walk(-EUCLEAN, "cross-link");
}

static void test_out_of_range(void **state) {
        uint32_t c = first_cluster("dir/inner.txt");

        put_le32(fat_entry(c + 1), info.clusters + 100);
        expect_walk(-EUCLEAN, "out-of-range");
        put_le32(fat_entry(c + 1), FAT32_BAD);
        expect_walk(-EUCLEAN, "bad cluster");
        reset(NULL);
        put_le16(dirent(2, "FILE2   BIN") + 26, 1);
        expect_walk(-EUCLEAN, "file2.bin");
}

static void test_size_mismatch(void **state) {
        put_le32(dirent(2, "FILE2   BIN") + 28, 5000);
        expect_walk(-EUCLEAN, "a chain of 6 clusters");
        put_le32(dirent(2, "FILE2   BIN") + 28, 1000);
        expect_walk(-EUCLEAN, "longer than");
        put_le32(dirent(2, "FILE2   BIN") + 28, 0);
        expect_walk(-EUCLEAN, "does not fit");
}

/* Names that would be read as empty or skipped as dot entries: corrupt. */
static void test_bad_short_name(void **state) {
        uint8_t *e = dirent(first_cluster("dir"), ".          ");

        /* Without long-name entries in front: a file Linux and Windows would list. */
        memcpy(e, ".HIDDEN    ", 11);
        expect_walk(-EUCLEAN, "starting with '.'");
        memcpy(e, "           ", 11);
        expect_walk(-EUCLEAN, "starting with a space");
}

static void test_bad_lfn(void **state) {
        uint8_t *root = cluster(2);

        /* Entries: [0..1] LFN of "A much longer name.txt", [2] its short entry, [3] LFN, [4] short... */
        root[3 * 32 + 13] ^= 0x01;
        expect_walk(-EUCLEAN, "checksum");
        reset(NULL);
        root[1 * 32] = 0x02;                     /* the second part claims ordinal 2 again */
        expect_walk(-EUCLEAN, "sequence");
        reset(NULL);
        root[0] = 0x03;                          /* the first part lacks its 0x40 flag */
        expect_walk(-EUCLEAN, "sequence");
        reset(NULL);
        root[1 * 32 + 13] ^= 0x10;               /* checksums differ within the sequence */
        expect_walk(-EUCLEAN, "sequence");
        reset(NULL);
        root[0] = 0xE5;                          /* half deleted: an orphan */
        expect_walk(-EUCLEAN, NULL);
}

static void test_truncated_dir(void **state) {
        uint32_t d = first_cluster("dir");
        uint8_t *e = cluster(d);

        put_le32(fat_entry(d), 0);               /* the directory's chain runs into a free cluster */
        expect_walk(-EUCLEAN, "free cluster");
        reset(NULL);
        /* An LFN entry where the directory ends. */
        while (e[0])
                e += 32;
        memcpy(e, cluster(2) + 3 * 32, 32);
        expect_walk(-EUCLEAN, "truncated");
}

static void test_endless_dir(void **state) {
        uint32_t d = first_cluster("dir");

        put_le32(fat_entry(d), d);
        expect_walk(-EUCLEAN, "\"/dir\"");
        /* A chain that goes on without a loop past 65536 entries' worth of clusters. */
        for (uint32_t c = d; c < d + 5000; c++)
                put_le32(fat_entry(c), c + 1);
        {
                _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
                struct cart_error err = {};
                struct fat_dirent *v;
                size_t n;

                assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
                assert_int_equal(fat_reader_list(r, "dir", &v, &n, &err), -EUCLEAN);
                assert_non_null(strstr(err.msg, "longer than 4096 clusters"));
        }
}

static void expect_open(int want, const char *in_msg) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        int k = fat_reader_open(mem_read, &m, 0, m.size, &r, &err);

        if (k != want)
                fail_msg("open: %d, want %d (%s)", k, want, err.msg);
        if (in_msg && !strstr(err.msg, in_msg))
                fail_msg("message \"%s\" lacks \"%s\"", err.msg, in_msg);
}

static void test_bad_geometry(void **state) {
        static const struct { size_t at, width; uint32_t value; int want; const char *msg; } cases[] = {
                { 13, 1, 3, -EUCLEAN, "sectors per cluster" },
                { 13, 1, 0, -EUCLEAN, "sectors per cluster" },
                { 11, 2, 0, -EUCLEAN, "bytes per sector" },
                { 11, 2, 700, -EUCLEAN, "bytes per sector" },
                { 14, 2, 0, -EUCLEAN, "reserved 0" },
                { 16, 1, 0, -EUCLEAN, "FATs 0" },
                { 32, 4, 0, -EUCLEAN, "sectors 0" },
                { 32, 4, 0xFFFFFFF0, -EUCLEAN, "past the" },
                { 36, 4, 1, -EUCLEAN, "cannot map" },
                { 36, 4, 0x10000000, -EUCLEAN, "data region" },
                { 44, 4, 0, -EUCLEAN, "root cluster" },
                { 44, 4, 0x0FFFFFF0, -EUCLEAN, "root cluster" },
                { 42, 2, 1, -EUCLEAN, "version" },
                { 22, 2, 9, -EMEDIUMTYPE, "FAT16" },
                { 510, 2, 0, -EMEDIUMTYPE, "no FAT boot sector" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                reset(NULL);
                if (cases[i].width == 1)
                        m.buf[cases[i].at] = (uint8_t) cases[i].value;
                else if (cases[i].width == 2)
                        put_le16(m.buf + cases[i].at, (uint16_t) cases[i].value);
                else
                        put_le32(m.buf + cases[i].at, cases[i].value);
                expect_open(cases[i].want, cases[i].msg);
        }
        /* A region shorter than the volume the boot sector describes. */
        reset(NULL);
        m.size = image.size / 2;
        expect_open(-EUCLEAN, "past the");
        m.size = image.size;
}

static void test_nt_case_bits(void **state) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        struct fat_dirent d;
        uint8_t *root = cluster(2);

        /* Delete file2.bin's LFN entry, as a tool that only writes short names would leave
         * it, and mark base and extension lower case (Windows NT, Linux shortname=mixed). */
        assert_int_equal(root[7 * 32 + 11], FAT_ATTR_LFN);
        root[7 * 32] = 0xE5;
        root[8 * 32 + 12] = 0x18;
        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_stat(r, "FILE2.BIN", &d, &err), 0);
        assert_string_equal(d.name, "file2.bin");
        fat_dirent_clear(&d);
        expect_walk(0, NULL);
}

static int discard(void *userdata, const void *buf, size_t len) { return 0; }

static int count_collisions(void *userdata, const char *path, const struct fat_dirent *e) {
        (*(int *) userdata) += e->collides_with != NULL;
        return 0;
}

/* "Long name.txt" given the 8.3 name of file2.bin: both answer to FILE2.BIN. */
static void test_short_name_collision(void **state) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        struct fat_dirent *v, d;
        uint8_t *e = dirent(2, "LONGNA~1TXT");
        size_t n;
        int collisions = 0;

        memcpy(e, "FILE2   BIN", 11);
        assert_int_equal(e[-32 + 11], FAT_ATTR_LFN);
        e[-32 + 13] = fat_lfn_checksum(e);
        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_list(r, "/", &v, &n, &err), 0);
        assert_int_equal(n, 4);
        assert_string_equal(v[1].name, "Long name.txt");
        assert_string_equal(v[1].collides_with, "file2.bin");
        assert_string_equal(v[3].collides_with, "Long name.txt");
        assert_null(v[0].collides_with);
        assert_null(v[2].collides_with);
        fat_dirents_free(v, n);
        /* Never the first: a name two entries answer to is refused, naming both. */
        assert_int_equal(fat_reader_stat(r, "file2.BIN", &d, &err), -ENOTUNIQ);
        assert_non_null(strstr(err.msg, "\"Long name.txt\" and \"file2.bin\" both answer to"));
        assert_int_equal(fat_reader_read_file(r, "FILE2.BIN", discard, NULL, &err), -ENOTUNIQ);
        /* A name only one of them answers to is that one. */
        assert_int_equal(fat_reader_stat(r, "long NAME.txt", &d, &err), 0);
        assert_int_equal(d.size, 100);
        fat_dirent_clear(&d);
        assert_int_equal(fat_reader_walk(r, count_collisions, &collisions, &err), 0);
        assert_int_equal(collisions, 2);
}

/* "." and ".." are skipped: only in the first two slots of a subdirectory. */
static void test_misplaced_dot(void **state) {
        uint8_t *e = cluster(first_cluster("dir"));

        assert_memory_equal(e, ".          ", 11);
        assert_memory_equal(e + 32, "..         ", 11);
        while (e[0])
                e += 32;
        memcpy(e, "..         ", 11);
        e[11] = FAT_ATTR_DIRECTORY;
        expect_walk(-EUCLEAN, "\"..\" entry in slot");
        reset(state);
        e = cluster(2);
        while (e[0])
                e += 32;
        memcpy(e, ".          ", 11);
        e[11] = FAT_ATTR_DIRECTORY;
        expect_walk(-EUCLEAN, "\".\" entry in slot");
}

struct damage_walk { struct fat_reader *r; struct cart_error *err; };

static int read_each(void *userdata, const char *path, const struct fat_dirent *e) {
        struct damage_walk *w = userdata;

        return e->is_dir ? 0 : fat_reader_read_entry(w->r, path, e, discard, NULL, w->err);
}

/* Random bytes of metadata damaged, many times over: errors, never a crash or a hang. */
static void test_random_damage(void **state) {
        const uint64_t fat = (uint64_t) info.reserved_sectors * 512;
        const uint64_t regions[][2] = { { 0, 512 }, { fat, fat + 64 }, { info.data_offset, info.data_offset + 6 * 512 } };
        uint64_t seed = 12345;

        for (int i = 0; i < 400; i++) {
                _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
                struct cart_error err = {};
                struct fat_volume_info vi;
                int k;

                for (size_t j = 0; j < ELEMENTSOF(regions); j++)
                        memcpy(m.buf + regions[j][0], image.buf + regions[j][0], regions[j][1] - regions[j][0]);
                for (int j = 0; j < 1 + i % 6; j++) {
                        seed = seed * 6364136223846793005u + 1442695040888963407u;
                        const uint64_t *g = regions[(seed >> 33) % ELEMENTSOF(regions)];
                        m.buf[g[0] + (seed >> 40) % (g[1] - g[0])] = (uint8_t) (seed >> 24);
                }
                k = fat_reader_open(mem_read, &m, 0, m.size, &r, &err);
                if (k >= 0) {
                        struct damage_walk w = { r, &err };
                        assert_int_equal(fat_reader_info(r, &vi), 0);
                        k = fat_reader_walk(r, read_each, &w, &err);
                }
                if (k < 0 && k != -EUCLEAN && k != -EMEDIUMTYPE && k != -ENODATA)
                        fail_msg("damage %d: %d (%s)", i, k, err.msg);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_valid, reset),
                cmocka_unit_test_setup(test_loop, reset),
                cmocka_unit_test_setup(test_cross_link, reset),
                cmocka_unit_test_setup(test_out_of_range, reset),
                cmocka_unit_test_setup(test_size_mismatch, reset),
                cmocka_unit_test_setup(test_bad_lfn, reset),
                cmocka_unit_test_setup(test_truncated_dir, reset),
                cmocka_unit_test_setup(test_endless_dir, reset),
                cmocka_unit_test_setup(test_bad_geometry, reset),
                cmocka_unit_test_setup(test_nt_case_bits, reset),
                cmocka_unit_test_setup(test_random_damage, reset),
                cmocka_unit_test_setup(test_bad_short_name, reset),
                cmocka_unit_test_setup(test_short_name_collision, reset),
                cmocka_unit_test_setup(test_misplaced_dot, reset),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
