/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The in-place editor on volumes built by the engine: each result is checked by the
 * engine's reader, by fsck.fat -n (its two usual lines, nothing more) and by mtools.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "fat-test.h"

#define VOLUME (64 * MIB)

static struct mem image;          /* pristine, built once */
static struct mem m;              /* the copy each test edits */
static struct fat_layout_info info;
static char img_path[64];

/* Writes of the editor; a test can make the n-th one fail (a cut). */
static int writes, fail_at = -1;

static int mem_write(void *userdata, const void *buf, size_t len, uint64_t offset) {
        struct mem *x = userdata;

        if (writes++ == fail_at)
                return -EIO;
        if (offset > x->size || len > x->size - offset)
                return -ENOSPC;
        memcpy(x->buf + offset, buf, len);
        return 0;
}

static void add_names(struct fat_tree *t, const char *dir, unsigned n) {
        struct cart_error err = {};
        char p[64];

        for (unsigned i = 0; i < n; i++) {
                snprintf(p, sizeof(p), "%s/F%u.TXT", dir, i);
                assert_int_equal(fat_tree_add_file(t, p, 10, 0, 0, pattern_read, NULL, 0, &err), 0);
        }
}

static int setup(void **state) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        struct fat_params params = { .size = VOLUME, .volume_id = 0x12345678, .time = 1700000000, .label = "EDIT" };
        struct cart_error err = {};
        int fd;

        (void) state;
        assert_int_equal(fat_tree_new(&t), 0);
        assert_int_equal(fat_tree_add_file(t, "a.txt", 700, 0, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, "Guide/guide.html", 3000, FAT_ATTR_READ_ONLY, 0, pattern_read, NULL, 0, &err), 0);
        assert_int_equal(fat_tree_add_file(t, ".cartable/key.json", 300, FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM, 0,
                                           pattern_read, NULL, 0, &err), 0);
        /* 512-byte clusters: "." and ".." and 14 short entries fill "Full" exactly. */
        add_names(t, "Full", 14);
        build_image(t, &params, &image, &info);
        assert_int_equal(info.cluster_size, 512);
        m.size = image.size;
        m.buf = malloc(m.size);
        assert_non_null(m.buf);
        snprintf(img_path, sizeof(img_path), "/tmp/test-fat-edit-XXXXXX");
        fd = mkstemp(img_path);
        assert_true(fd >= 0);
        close(fd);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        unlink(img_path);
        free(image.buf);
        free(m.buf);
        return 0;
}

static int reset(void **state) {
        (void) state;
        memcpy(m.buf, image.buf, m.size);
        writes = 0;
        fail_at = -1;
        return 0;
}

/* ---- checks ---- */

static void save(void) {
        FILE *f = fopen(img_path, "w");

        assert_non_null(f);
        assert_int_equal(fwrite(m.buf, 1, m.size, f), m.size);
        assert_int_equal(fclose(f), 0);
}

/* The output of "pre IMAGE post" on the saved image, and its exit status. */
static int run(const char *pre, const char *post, char *out, size_t size) {
        char cmd[512];
        size_t n = 0;
        FILE *p;
        int st;

        snprintf(cmd, sizeof(cmd), "%s %s %s", pre, img_path, post);
        p = popen(cmd, "r");
        assert_non_null(p);
        while (n + 1 < size) {
                size_t k = fread(out + n, 1, size - 1 - n, p);
                if (k == 0)
                        break;
                n += k;
        }
        out[n] = 0;
        st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fsck.fat -n says exactly its two usual lines: its version and the summary. */
static void check_fsck(void) {
        char out[8192];
        int lines = 0;

        save();
        if (run("fsck.fat -n", "2>&1", out, sizeof(out)) != 0)
                fail_msg("fsck.fat -n:\n%s", out);
        for (char *p = out; *p; p++)
                lines += *p == '\n';
        if (lines != 2 || !strstr(out, " files, "))
                fail_msg("fsck.fat -n said more than its two lines:\n%s", out);
}

/* The engine's reader walks the whole volume and finds path holding data. */
static void check_content(const char *path, const void *data, size_t len) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        struct buf b = {};

        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        if (fat_reader_read_file(r, path, buf_sink, &b, &err) < 0)
                fail_msg("%s: %s", path, err.msg);
        assert_int_equal(b.len, len);
        if (len)
                assert_memory_equal(b.data, data, len);
        free(b.data);
}

static int walk_ok(void *userdata, const char *path, const struct fat_dirent *e) {
        (void) path;
        (*(unsigned *) userdata) += !e->is_dir;
        return 0;
}

static unsigned count_files(void) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        unsigned n = 0;

        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        if (fat_reader_walk(r, walk_ok, &n, &err) < 0)
                fail_msg("walk: %s", err.msg);
        return n;
}

/* mtools reads path back as data. */
static void check_mtype(const char *path, const void *data, size_t len) {
        char post[300], out[16384];

        save();
        snprintf(post, sizeof(post), "'::%s'", path);
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mtype -i", post, out, sizeof(out)), 0);
        assert_int_equal(strlen(out), len);
        assert_memory_equal(out, data, len);
}

static void pattern(char *p, size_t len, char c) {
        for (size_t i = 0; i < len; i++)
                p[i] = (char) ('a' + (c + i) % 26);
        if (len)
                p[len - 1] = '\n';
}

static int put(const char *path, const void *data, size_t len, struct cart_error *err) {
        _cleanup_(fat_editor_freep) struct fat_editor *e = NULL;
        int k = fat_editor_open(mem_read, mem_write, &m, 0, m.size, &e, err);

        if (k < 0)
                return k;
        return fat_editor_put_file(e, path, data, len, 0, 1700000100, err);
}

static void put_ok(const char *path, const void *data, size_t len) {
        struct cart_error err = {};

        if (put(path, data, len, &err) < 0)
                fail_msg("put %s: %s", path, err.msg);
}

/* ---- tests ---- */

static void test_replace_sizes(void **state) {
        static const size_t sizes[] = { 700, 100, 5000, 512, 0, 1024, 3 };
        char data[5000];
        unsigned n = count_files();

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                pattern(data, sizes[i], (char) i);
                put_ok("a.txt", data, sizes[i]);
                check_content("a.txt", data, sizes[i]);
                check_fsck();
                check_mtype("a.txt", data, sizes[i]);
                assert_int_equal(count_files(), n);
        }
}

/* Only the file's entry, its clusters and the FATs change: another file keeps every byte. */
static void test_others_untouched(void **state) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};
        struct buf before = {};
        char data[2000];

        (void) state;
        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_read_file(r, "Guide/guide.html", buf_sink, &before, &err), 0);
        pattern(data, sizeof(data), 3);
        put_ok("a.txt", data, sizeof(data));
        check_content("Guide/guide.html", before.data, before.len);
        /* The boot sector and the data region before the first free cluster: as built. */
        assert_memory_equal(m.buf, image.buf, 512);
        free(before.data);
}

static void test_create_long_name(void **state) {
        const char *text = "Cette clé USB appartient à :\n    Léa\n";
        char out[4096];
        unsigned n = count_files();

        (void) state;
        put_ok("CETTE CLE APPARTIENT A.txt", text, strlen(text));
        check_content("CETTE CLE APPARTIENT A.txt", text, strlen(text));
        check_content("cette cle appartient a.txt", text, strlen(text));
        assert_int_equal(count_files(), n + 1);
        check_fsck();
        check_mtype("CETTE CLE APPARTIENT A.txt", text, strlen(text));
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mdir -i", "::/", out, sizeof(out)), 0);
        if (!strstr(out, "CETTE CLE APPARTIENT A.txt") || !strstr(out, "CETTEC~1 TXT"))
                fail_msg("mdir:\n%s", out);
        /* And once more: now it is replaced, not added. */
        put_ok("CETTE CLE APPARTIENT A.txt", "x\n", 2);
        check_content("CETTE CLE APPARTIENT A.txt", "x\n", 2);
        assert_int_equal(count_files(), n + 1);
        check_fsck();
}

static void test_create_short_and_tail(void **state) {
        (void) state;
        put_ok("NEW.TXT", "one\n", 4);
        put_ok("Full/f1 copy.txt", "two\n", 4);
        check_content("NEW.TXT", "one\n", 4);
        check_content("Full/f1 copy.txt", "two\n", 4);
        check_fsck();
        check_mtype("Full/f1 copy.txt", "two\n", 4);
}

/* The 10 bytes flash wrote for Full/F<i>.TXT: the pattern at source offset 0. */
static void check_small(const char *path) {
        uint8_t want[10];

        pattern_read(NULL, want, sizeof(want), 0);
        check_content(path, want, sizeof(want));
}

/* "Full" has no free slot: it grows by one cluster, linked in both FATs. */
static void test_directory_grows(void **state) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_dirent *v = NULL;
        struct cart_error err = {};
        char data[1500], out[8192];
        size_t n = 0;

        (void) state;
        pattern(data, sizeof(data), 7);
        put_ok("Full/A new file with a long name.txt", data, sizeof(data));
        check_content("Full/A new file with a long name.txt", data, sizeof(data));
        check_small("Full/F0.TXT");
        check_small("Full/F13.TXT");
        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_list(r, "Full", &v, &n, &err), 0);
        assert_int_equal(n, 15);
        assert_int_equal(v[14].slot, 16 + 3);      /* after . .. and 14 entries: 3 LFN, then it */
        fat_dirents_free(v, n);
        check_fsck();
        check_mtype("Full/A new file with a long name.txt", data, sizeof(data));
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mdir -i", "::/Full", out, sizeof(out)), 0);
        if (!strstr(out, "A new file with a long name.txt") || !strstr(out, "F13      TXT"))
                fail_msg("mdir:\n%s", out);
}

static uint32_t free_bytes(void) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_volume_info vi;
        struct cart_error err = {};

        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_info(r, &vi), 0);
        return (uint32_t) vi.free_bytes;
}

/* A volume nearly full: refused before the first write, every byte as it was. */
static void test_enospc(void **state) {
        _cleanup_free_ char *big = NULL, *before = NULL;
        struct cart_error err = {};
        size_t left;
        char data[3000];

        (void) state;
        left = free_bytes() - 1024;
        big = calloc(1, left);
        assert_non_null(big);
        put_ok("big.bin", big, left);       /* 2 clusters left */
        assert_int_equal(free_bytes(), 1024);
        check_fsck();
        before = malloc(m.size);
        assert_non_null(before);
        memcpy(before, m.buf, m.size);
        writes = 0;
        pattern(data, sizeof(data), 1);
        assert_int_equal(put("new.txt", data, sizeof(data), &err), -ENOSPC);
        assert_non_null(strstr(err.msg, "6 clusters needed, 2 free"));
        /* The old chain is freed only after the new one is written: no reuse. */
        assert_int_equal(put("a.txt", data, 1500, &err), -ENOSPC);
        /* A full directory needs a cluster of its own too. */
        assert_int_equal(put("Full/a long name.txt", data, 1024, &err), -ENOSPC);
        assert_int_equal(writes, 0);
        assert_memory_equal(before, m.buf, m.size);
        put_ok("a.txt", data, 1024);         /* 2 clusters: fits, and a.txt's old 2 are freed */
        assert_int_equal(free_bytes(), 1024);
        check_fsck();
}

static uint32_t first_cluster(const char *path) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_dirent d;
        struct cart_error err = {};
        uint32_t c;

        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        assert_int_equal(fat_reader_stat(r, path, &d, &err), 0);
        c = d.first_cluster;
        fat_dirent_clear(&d);
        return c;
}

static uint8_t *fat_entry(uint32_t c) { return m.buf + (uint64_t) info.reserved_sectors * 512 + (uint64_t) c * 4; }

static void refused(int want, const char *path, const char *words) {
        _cleanup_free_ char *before = malloc(m.size);
        struct cart_error err = {};

        assert_non_null(before);
        memcpy(before, m.buf, m.size);
        writes = 0;
        assert_int_equal(put(path, "new\n", 4, &err), want);
        if (!strstr(err.msg, words))
                fail_msg("\"%s\" not in \"%s\"", words, err.msg);
        assert_int_equal(writes, 0);
        assert_memory_equal(before, m.buf, m.size);
}

static void test_hostile(void **state) {
        uint32_t a = first_cluster("a.txt"), g = first_cluster("Guide/guide.html");
        uint8_t saved[4];

        (void) state;
        /* A loop in another file: the whole volume is checked before anything is written. */
        memcpy(saved, fat_entry(g + 1), 4);
        put_le32(fat_entry(g + 1), g);
        refused(-EUCLEAN, "a.txt", "loop");
        memcpy(fat_entry(g + 1), saved, 4);
        /* A cross-link: a.txt's chain runs into Guide's. */
        put_le32(fat_entry(a), g);
        refused(-EUCLEAN, "a.txt", "");
        put_le32(fat_entry(a), a + 1);
        /* One FAT only in use: the other would go stale. */
        m.buf[40] |= 0x80;
        refused(-EUCLEAN, "a.txt", "mirroring");
        m.buf[40] &= 0x7F;
        /* Two entries answering to the name: which one would Windows open? */
        for (uint8_t *e = m.buf + info.data_offset + (uint64_t) (first_cluster("Full") - 2) * 512; e[0]; e += 32)
                if (memcmp(e, "F0      TXT", 11) == 0)
                        memcpy(e, "F1      TXT", 11);
        refused(-ENOTUNIQ, "Full/F1.TXT", "both answer");
        /* No parent, a directory, a name FAT cannot hold. */
        memcpy(m.buf, image.buf, m.size);
        refused(-ENOENT, "Nowhere/x.txt", "no such");
        refused(-EISDIR, "Guide", "directory");
        refused(-EILSEQ, "Guide/a:b.txt", "");
}

/* What fsck.fat -n may say of a volume cut mid-edit: lost clusters, a stale FSInfo free
 * count, the two FATs differing on an entry written to the first only. Nothing else. */
static void check_fsck_after_cut(const char *path, int cut) {
        static const char *const known[] = {
                "fsck.fat ", "Reclaimed ", "Free cluster summary wrong", "  Auto-correcting.",
                "FATs differ but appear to be intact.", "  Using first FAT.", "Leaving filesystem unchanged.",
        };
        char out[8192];

        save();
        run("fsck.fat -n", "2>&1", out, sizeof(out));
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                bool is_known = strstr(line, " files, ") != NULL;
                for (size_t i = 0; i < ELEMENTSOF(known) && !is_known; i++)
                        is_known = strncmp(line, known[i], strlen(known[i])) == 0;
                if (!is_known)
                        fail_msg("%s cut at write %d: fsck.fat -n says \"%s\"", path, cut, line);
        }
}

/* A cut at every write: the file is the old one or the new one, the volume reads whole. */
static void cut_at_every_write(const char *path, const void *old, size_t old_len, const void *data, size_t len) {
        for (int cut = 0;; cut++) {
                _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
                struct cart_error err = {};
                struct buf b = {};
                int k;

                reset(NULL);
                fail_at = cut;
                k = put(path, data, len, &err);
                count_files();
                assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
                k = fat_reader_read_file(r, path, buf_sink, &b, &err);
                if (k == -ENOENT && !old)
                        assert_true(fail_at >= 0 && writes > cut);
                else {
                        assert_int_equal(k, 0);
                        assert_true((b.len == len && memcmp(b.data, data, len) == 0) ||
                                    (old && b.len == old_len && memcmp(b.data, old, old_len) == 0));
                }
                free(b.data);
                check_fsck_after_cut(path, cut);
                if (writes <= cut)         /* not cut: done */
                        break;
        }
}

static void test_cuts(void **state) {
        uint8_t old[700];
        char data[3000];

        (void) state;
        pattern_read(NULL, old, sizeof(old), 0);
        pattern(data, sizeof(data), 5);
        cut_at_every_write("a.txt", old, sizeof(old), data, sizeof(data));
        cut_at_every_write("CETTE CLE APPARTIENT A.txt", NULL, 0, data, 100);
        cut_at_every_write("Full/A new file with a long name.txt", NULL, 0, data, 600);
}

/*
 * Damage at random where the editor reads (FAT, directories, boot sector): it refuses or
 * it edits, and what it edits reads back whole. Under ASan, any out-of-bounds access fails.
 */
static void test_random_damage(void **state) {
        uint32_t seed = 12345;
        char data[1500];
        unsigned n_edited = 0;

        (void) state;
        pattern(data, sizeof(data), 9);
        for (int round = 0; round < 300; round++) {
                struct cart_error err = {};
                const char *path = round % 2 ? "a.txt" : "Full/Another long name.txt";
                int k;

                reset(NULL);
                for (int i = 0; i < 1 + round % 4; i++) {
                        uint64_t at;

                        seed = seed * 1103515245u + 12345u;
                        switch (seed >> 30) {
                        case 0: at = seed % 512; break;                                               /* boot sector */
                        case 1: at = (uint64_t) info.reserved_sectors * 512 + (seed >> 8) % 1024; break; /* FAT */
                        default: at = info.data_offset + (seed >> 8) % (24 * 512); break;            /* directories */
                        }
                        seed = seed * 1103515245u + 12345u;
                        m.buf[at] ^= (uint8_t) (1u << ((seed >> 16) % 8));
                }
                k = put(path, data, sizeof(data), &err);
                if (k < 0)
                        continue;
                n_edited++;
                count_files();
                check_content(path, data, sizeof(data));
        }
        /* Some damage is harmless (a date, a free FAT entry): those volumes were edited. */
        assert_true(n_edited > 0 && n_edited < 300);
}

/* ---- directories, removal, attributes, moves ---- */

typedef int (*edit_fn)(struct fat_editor *e, const void *arg, struct cart_error *err);

static int edit(edit_fn fn, const void *arg, struct cart_error *err) {
        _cleanup_(fat_editor_freep) struct fat_editor *e = NULL;
        int k = fat_editor_open(mem_read, mem_write, &m, 0, m.size, &e, err);

        return k < 0 ? k : fn(e, arg, err);
}

static void edit_ok(edit_fn fn, const void *arg) {
        struct cart_error err = {};

        if (edit(fn, arg, &err) < 0)
                fail_msg("edit: %s", err.msg);
}

/* An edit refused with want: nothing written, every byte as it was. */
static void edit_refused(edit_fn fn, const void *arg, int want) {
        _cleanup_free_ char *before = malloc(m.size);
        struct cart_error err = {};

        assert_non_null(before);
        memcpy(before, m.buf, m.size);
        writes = 0;
        assert_int_equal(edit(fn, arg, &err), want);
        assert_int_equal(writes, 0);
        assert_memory_equal(before, m.buf, m.size);
}

static int do_mkdir(struct fat_editor *e, const void *arg, struct cart_error *err) {
        return fat_editor_mkdir(e, arg, 0, 1700000200, err);
}

static int do_remove(struct fat_editor *e, const void *arg, struct cart_error *err) {
        return fat_editor_remove(e, arg, err);
}

static int do_hide(struct fat_editor *e, const void *arg, struct cart_error *err) {
        return fat_editor_set_attrs(e, arg, FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY, err);
}

struct move { const char *from, *to; };

static int do_move(struct fat_editor *e, const void *arg, struct cart_error *err) {
        const struct move *x = arg;
        return fat_editor_move(e, x->from, x->to, err);
}

static int stat_path(const char *path, struct fat_dirent *ret) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};

        assert_int_equal(fat_reader_open(mem_read, &m, 0, m.size, &r, &err), 0);
        return fat_reader_stat(r, path, ret, &err);
}

static bool exists(const char *path) {
        struct fat_dirent d;
        int k = stat_path(path, &d);

        assert_true(k == 0 || k == -ENOENT);
        if (k == 0)
                fat_dirent_clear(&d);
        return k == 0;
}

static void test_mkdir(void **state) {
        struct fat_dirent d;
        char data[2000], out[8192];
        unsigned n = count_files();

        (void) state;
        edit_ok(do_mkdir, "Mes documents");
        edit_ok(do_mkdir, "Mes documents/Année 2026");
        edit_ok(do_mkdir, "Full/A directory with a long name");      /* "Full" grows */
        pattern(data, sizeof(data), 2);
        put_ok("Mes documents/Année 2026/notes.txt", data, sizeof(data));
        put_ok("Full/A directory with a long name/x.txt", data, 10);
        assert_int_equal(stat_path("mes documents/année 2026", &d), 0);
        assert_true(d.is_dir);
        fat_dirent_clear(&d);
        check_content("Mes documents/Année 2026/notes.txt", data, sizeof(data));
        check_small("Full/F13.TXT");
        assert_int_equal(count_files(), n + 2);
        check_fsck();
        check_mtype("Mes documents/Année 2026/notes.txt", data, sizeof(data));
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mdir -i", "'::/Mes documents'", out, sizeof(out)), 0);
        if (!strstr(out, "Année 2026") || !strstr(out, "<DIR>"))
                fail_msg("mdir:\n%s", out);
        edit_refused(do_mkdir, "MES DOCUMENTS", -EEXIST);
        edit_refused(do_mkdir, "a.txt", -EEXIST);
        edit_refused(do_mkdir, "Nowhere/x", -ENOENT);
}

static void test_remove(void **state) {
        uint32_t before = free_bytes();
        unsigned n = count_files();
        char out[8192];

        (void) state;
        edit_refused(do_remove, "Guide", -ENOTEMPTY);
        edit_refused(do_remove, "nothing.txt", -ENOENT);
        put_ok("A long name to remove.txt", "x\n", 2);
        edit_ok(do_remove, "a long name to remove.TXT");
        edit_ok(do_remove, "a.txt");
        edit_ok(do_remove, "Guide/guide.html");
        edit_ok(do_remove, "Guide");
        edit_ok(do_remove, "Full/F3.TXT");
        assert_false(exists("a.txt"));
        assert_false(exists("Guide"));
        assert_false(exists("A long name to remove.txt"));
        assert_int_equal(count_files(), n - 3);
        /* 700 + 3000 + 10 bytes of content and Guide's cluster back. */
        assert_int_equal(free_bytes(), before + (2 + 6 + 1 + 1) * 512);
        check_small("Full/F13.TXT");
        check_fsck();
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mdir -i", "::/", out, sizeof(out)), 0);
        if (strstr(out, "Guide") || strstr(out, "a.txt") || strstr(out, "remove"))
                fail_msg("mdir:\n%s", out);
        /* A new entry takes the slots freed. */
        put_ok("b.txt", "b\n", 2);
        check_content("b.txt", "b\n", 2);
        check_fsck();
}

static void test_set_attrs(void **state) {
        struct fat_dirent d;
        char out[8192];

        (void) state;
        edit_ok(do_hide, "Guide/guide.html");
        edit_ok(do_hide, "Guide");
        assert_int_equal(stat_path("Guide/guide.html", &d), 0);
        assert_int_equal(d.attrs, FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY);
        fat_dirent_clear(&d);
        assert_int_equal(stat_path("Guide", &d), 0);
        assert_int_equal(d.attrs, FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY | FAT_ATTR_DIRECTORY);
        fat_dirent_clear(&d);
        check_fsck();        /* saves the image for mtools */
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mattrib -i", "::/Guide/guide.html", out, sizeof(out)), 0);
        if (!strstr(out, "R") || !strstr(out, "H"))
                fail_msg("mattrib: %s", out);
        /* Already so: nothing written. */
        edit_refused(do_hide, "Guide", 0);
}

static void test_move(void **state) {
        static const struct move to_dir = { "a.txt", "Guide/a moved with a long name.txt" };
        static const struct move exists_already = { "Guide/guide.html", "Full/F1.TXT" };
        static const struct move dir = { "Guide", "Other" };
        uint8_t old[700], html[3000];
        unsigned n = count_files();
        struct fat_dirent d;
        char out[8192];

        (void) state;
        pattern_read(NULL, old, sizeof(old), 0);
        pattern_read(NULL, html, sizeof(html), 0);
        edit_ok(do_move, &to_dir);
        assert_false(exists("a.txt"));
        check_content("Guide/a moved with a long name.txt", old, sizeof(old));
        assert_int_equal(count_files(), n);
        save();
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mdir -i", "::/Guide", out, sizeof(out)), 0);
        if (!strstr(out, "a moved with a long name.txt") || !strstr(out, "  700 "))
                fail_msg("mdir:\n%s", out);
        edit_refused(do_move, &exists_already, -EEXIST);
        edit_refused(do_move, &dir, -EISDIR);
        /* Attributes kept. */
        edit_ok(do_move, &(struct move) { "Guide/guide.html", "GUIDE.HTM" });
        assert_int_equal(stat_path("GUIDE.HTM", &d), 0);
        assert_int_equal(d.attrs, FAT_ATTR_READ_ONLY | FAT_ATTR_ARCHIVE);
        fat_dirent_clear(&d);
        check_content("GUIDE.HTM", html, sizeof(html));
        check_fsck();
}

/* Entries written into deleted slots in the middle of a directory hide nothing after them. */
static void test_reuse_deleted_slots(void **state) {
        char out[8192];

        (void) state;
        edit_ok(do_remove, "Full/F3.TXT");
        edit_ok(do_remove, "Full/F4.TXT");
        put_ok("Full/ab cd.txt", "new\n", 4);        /* one long-name entry and its short one */
        check_content("Full/ab cd.txt", "new\n", 4);
        for (unsigned i = 5; i < 14; i++) {
                char p[32];
                snprintf(p, sizeof(p), "Full/F%u.TXT", i);
                check_small(p);
        }
        check_fsck();
        assert_int_equal(run("MTOOLS_SKIP_CHECK=1 mdir -i", "::/Full", out, sizeof(out)), 0);
        if (!strstr(out, "ab cd.txt") || !strstr(out, "F13      TXT"))
                fail_msg("mdir:\n%s", out);
}

/* The end marker in a directory's last slot: a new entry that needs two grows it, and the
 * marker no longer hides the new cluster. */
static void test_grow_past_end_marker(void **state) {
        char p[32];

        (void) state;
        /* Guide: ".", "..", guide.html's two entries, then 11 short ones: 15 slots of 16. */
        for (unsigned i = 0; i < 11; i++) {
                snprintf(p, sizeof(p), "Guide/G%u.TXT", i);
                put_ok(p, "g\n", 2);
        }
        put_ok("Guide/a long name.txt", "long\n", 5);
        check_content("Guide/a long name.txt", "long\n", 5);
        check_content("Guide/G10.TXT", "g\n", 2);
        check_fsck();
        check_mtype("Guide/a long name.txt", "long\n", 5);
}

/*
 * A cut at every write of an edit: fn(arg) on a fresh copy, the n-th write failing;
 * is_before() or is_after() must hold of what is left, and fsck.fat -n says no more than
 * a cut may leave.
 */
static void cut_every_edit(const char *what, edit_fn fn, const void *arg, bool (*is_before)(void),
                           bool (*is_after)(void)) {
        for (int cut = 0;; cut++) {
                struct cart_error err = {};

                reset(NULL);
                fail_at = cut;
                edit(fn, arg, &err);
                count_files();
                if (!is_before() && !is_after())
                        fail_msg("%s cut at write %d: neither before nor after", what, cut);
                check_fsck_after_cut(what, cut);
                if (writes <= cut)
                        break;
        }
        assert_true(is_after());
}

static bool has_mes_documents(void) { return exists("Full/Mes documents"); }
static bool no_mes_documents(void) { return !has_mes_documents(); }
static bool has_guide(void) { return exists("Guide/guide.html"); }
static bool no_guide(void) { return !has_guide(); }
static bool has_a(void) { return exists("a.txt"); }
static bool has_moved(void) {
        uint8_t old[700];

        pattern_read(NULL, old, sizeof(old), 0);
        if (!exists("Full/a moved.txt"))
                return false;
        check_content("Full/a moved.txt", old, sizeof(old));
        return true;
}
static bool moved_only(void) { return has_moved() && !has_a(); }
static bool a_whole(void) {
        uint8_t old[700];

        pattern_read(NULL, old, sizeof(old), 0);
        if (!has_a())
                return false;
        check_content("a.txt", old, sizeof(old));
        return true;
}
static bool is_hidden(void) {
        struct fat_dirent d;
        bool is = stat_path("a.txt", &d) == 0 && (d.attrs & FAT_ATTR_HIDDEN);

        fat_dirent_clear(&d);
        return is;
}
static bool not_hidden(void) { return !is_hidden(); }

static void test_edit_cuts(void **state) {
        static const struct move mv = { "a.txt", "Full/a moved.txt" };

        (void) state;
        cut_every_edit("mkdir", do_mkdir, "Full/Mes documents", no_mes_documents, has_mes_documents);
        cut_every_edit("remove", do_remove, "Guide/guide.html", has_guide, no_guide);
        cut_every_edit("move", do_move, &mv, a_whole, moved_only);
        cut_every_edit("attributes", do_hide, "a.txt", not_hidden, is_hidden);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_replace_sizes, reset),
                cmocka_unit_test_setup(test_others_untouched, reset),
                cmocka_unit_test_setup(test_create_long_name, reset),
                cmocka_unit_test_setup(test_create_short_and_tail, reset),
                cmocka_unit_test_setup(test_directory_grows, reset),
                cmocka_unit_test_setup(test_enospc, reset),
                cmocka_unit_test_setup(test_hostile, reset),
                cmocka_unit_test_setup(test_cuts, reset),
                cmocka_unit_test_setup(test_random_damage, reset),
                cmocka_unit_test_setup(test_mkdir, reset),
                cmocka_unit_test_setup(test_remove, reset),
                cmocka_unit_test_setup(test_set_attrs, reset),
                cmocka_unit_test_setup(test_move, reset),
                cmocka_unit_test_setup(test_edit_cuts, reset),
                cmocka_unit_test_setup(test_reuse_deleted_slots, reset),
                cmocka_unit_test_setup(test_grow_past_end_marker, reset),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
