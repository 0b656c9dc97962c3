/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "release/bundle.h"

struct member {
        const char *path;
        mode_t type;            /* AE_IFREG, AE_IFDIR, AE_IFLNK... */
        const char *data;       /* regular files; symlink target for links */
        int64_t size;           /* declared size when data is NULL: sparse or lying header */
        const char *hardlink;
};

static char tmpdir[] = "/tmp/cartable-bundle-XXXXXX";

/* Write an archive with libarchive: format "ustar", "pax", "gnutar", "zip"; filter or NULL. */
static char *make_archive(const char *name, const char *format, const char *filter,
                          const struct member *members, size_t n) {
        struct archive *a = archive_write_new();
        char *path;

        assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
        assert_int_equal(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
        if (filter)
                assert_int_equal(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                size_t len = members[i].data && members[i].type == AE_IFREG ? strlen(members[i].data) : 0;
                archive_entry_set_pathname_utf8(e, members[i].path);
                archive_entry_set_filetype(e, members[i].type);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_mtime(e, 1700000000, 0);
                if (members[i].type == AE_IFLNK)
                        archive_entry_set_symlink(e, members[i].data);
                if (members[i].hardlink)
                        archive_entry_set_hardlink(e, members[i].hardlink);
                archive_entry_set_size(e, members[i].size ? members[i].size : (int64_t) len);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (len)
                        assert_int_equal(archive_write_data(a, members[i].data, len), (ssize_t) len);
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
        return path;
}

/* Read every entry and its content; returns the first error, and the concatenated listing. */
static int read_all(const char *path, struct bundle_limits *l, char *listing, size_t size, struct cart_error *err) {
        _cleanup_(bundle_freep) struct bundle *b = NULL;
        struct bundle_entry e;
        char buf[4096];
        int r;

        listing[0] = 0;
        r = bundle_open(path, l, &b, err);
        if (r < 0)
                return r;
        while ((r = bundle_next(b, &e, err)) > 0) {
                ssize_t n, total = 0;
                while ((n = bundle_read(b, buf, sizeof(buf), err)) > 0)
                        total += n;
                if (n < 0)
                        return (int) n;
                snprintf(listing + strlen(listing), size - strlen(listing), "%s%s:%zd;", e.path,
                         e.is_dir ? "/" : "", total);
        }
        return r;
}

static void expect_error(const char *path, int want, const char *in_msg) {
        struct bundle_limits l;
        struct cart_error err = {};
        char listing[4096];

        bundle_limits_init(&l);
        int r = read_all(path, &l, listing, sizeof(listing), &err);
        if (r != want || !strstr(err.msg, in_msg))
                fail_msg("%s: got %d \"%s\", expected %d with \"%s\"", path, r, err.msg, want, in_msg);
        assert_int_equal(cart_error_reason(&err, r), CART_REASON_BAD_INPUT);
}

static void test_formats(void **state) {
        static const struct member m[] = {
                { "./docs/", AE_IFDIR },
                { "./docs/cours.txt", AE_IFREG, "bonjour" },
                { "élève/été.html", AE_IFREG, "<p>ok</p>" },
        };
        static const struct { const char *format, *filter; } cases[] = {
                { "ustar", NULL }, { "pax", "gzip" }, { "gnutar", "xz" }, { "pax", "zstd" },
                { "ustar", "bzip2" }, { "zip", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *name = NULL, *path = NULL;
                struct bundle_limits l;
                struct cart_error err = {};
                char listing[4096];

                assert_true(asprintf(&name, "t%zu", i) > 0);
                path = make_archive(name, cases[i].format, cases[i].filter, m, ELEMENTSOF(m));
                bundle_limits_init(&l);
                assert_int_equal(read_all(path, &l, listing, sizeof(listing), &err), 0);
                assert_string_equal(listing, "docs/:0;docs/cours.txt:7;élève/été.html:9;");
                assert_int_equal(l.n_files, 3);
                assert_int_equal(l.total_size, 16);
        }
}

static void test_hostile_paths(void **state) {
        static const struct { const char *path, *msg; int r; } cases[] = {
                /* The bundle's own rule, before fat_check_path's (which would say it too). */
                { "/etc/passwd", "/etc/passwd: absolute path", -EINVAL },
                { "../evil.txt", "\"../evil.txt\": \".\" and \"..\" are not allowed", -EINVAL },
                { "a/../../evil.txt", "\".\" and \"..\" are not allowed", -EINVAL },
                { "a//b.txt", "", -EINVAL },
                { "a/con.txt", "con.txt", -EINVAL },
                { "a/what?.txt", "what?.txt", -EILSEQ },
                { "a/trailing. ", "trailing", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct member m = { cases[i].path, AE_IFREG, "x" };
                _cleanup_free_ char *path = make_archive("hostile.tar", "pax", NULL, &m, 1);
                struct bundle_limits l;
                struct cart_error err = {};
                char listing[256];

                bundle_limits_init(&l);
                int r = read_all(path, &l, listing, sizeof(listing), &err);
                if (r >= 0 || !strstr(err.msg, cases[i].msg) || !strstr(err.msg, "hostile.tar"))
                        fail_msg("%s: got %d \"%s\"", cases[i].path, r, err.msg);
        }
}

static void test_types(void **state) {
        struct member link = { "ent.html", AE_IFLNK, "/etc/passwd" };
        struct member fifo = { "pipe", AE_IFIFO };
        struct member hard[] = { { "a.txt", AE_IFREG, "x" }, { "b.txt", AE_IFREG, NULL, 0, "a.txt" } };
        _cleanup_free_ char *p1 = make_archive("link.tar", "pax", NULL, &link, 1);
        _cleanup_free_ char *p2 = make_archive("fifo.tar", "ustar", NULL, &fifo, 1);
        _cleanup_free_ char *p3 = make_archive("hard.tar", "ustar", NULL, hard, 2);

        expect_error(p1, -EBADMSG, "ent.html: a symbolic link");
        expect_error(p2, -EBADMSG, "pipe: a FIFO");
        expect_error(p3, -EBADMSG, "b.txt: a hard link");

        /* The bundle and the entry are arguments too: a journal can name the refused file. */
        struct bundle_limits l;
        struct cart_error err = {};
        char listing[4096];
        bundle_limits_init(&l);
        assert_int_equal(read_all(p1, &l, listing, sizeof(listing), &err), -EBADMSG);
        assert_int_equal(err.reason, CART_REASON_BAD_INPUT);
        assert_string_equal(err.subject, p1);
        assert_string_equal(err.label, "ent.html");
}

static void test_limits(void **state) {
        static const struct member m[] = {
                { "a.txt", AE_IFREG, "0123456789" }, { "b.txt", AE_IFREG, "0123456789" },
                { "c.txt", AE_IFREG, "0123456789" },
        };
        _cleanup_free_ char *path = make_archive("limits.tar.gz", "pax", "gzip", m, ELEMENTSOF(m));
        struct bundle_limits l;
        struct cart_error err = {};
        char listing[256];

        bundle_limits_init(&l);
        l.max_files = 2;
        assert_int_equal(read_all(path, &l, listing, sizeof(listing), &err), -E2BIG);
        assert_non_null(strstr(err.msg, "c.txt"));

        bundle_limits_init(&l);
        l.max_total_size = 25;
        assert_int_equal(read_all(path, &l, listing, sizeof(listing), &err), -EFBIG);
        assert_non_null(strstr(err.msg, "c.txt: declares 10 bytes: the bundles would hold more than 25"));

        bundle_limits_init(&l);
        l.max_file_size = 9;
        assert_int_equal(read_all(path, &l, listing, sizeof(listing), &err), -EFBIG);
        assert_non_null(strstr(err.msg, "a.txt"));
}

/* A 64 MiB file of zeros compresses to almost nothing; its header alone gets it refused. */
static void test_bomb(void **state) {
        char *path;
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        static char zeros[1 << 20];
        struct bundle_limits l;
        struct cart_error err = {};
        char listing[256];
        struct stat st;

        assert_true(asprintf(&path, "%s/bomb.tar.xz", tmpdir) > 0);
        archive_write_set_format_pax(a);
        archive_write_add_filter_xz(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        archive_entry_set_pathname(e, "zeros.bin");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, 64 << 20);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        for (int i = 0; i < 64; i++)
                archive_write_data(a, zeros, sizeof(zeros));
        archive_entry_free(e);
        archive_write_close(a);
        archive_write_free(a);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size < 64 * 1024);

        bundle_limits_init(&l);
        l.max_total_size = 4 << 20;
        assert_int_equal(read_all(path, &l, listing, sizeof(listing), &err), -EFBIG);
        assert_int_equal(l.total_size, 0);
        assert_non_null(strstr(err.msg, "zeros.bin: declares 67108864 bytes"));
        free(path);
}

static void test_corrupt(void **state) {
        static const struct member m[] = { { "a.txt", AE_IFREG, "some content that is long enough" } };
        _cleanup_free_ char *path = make_archive("corrupt.tar.gz", "pax", "gzip", m, 1);
        _cleanup_free_ char *junk = NULL;
        struct stat st;
        int fd;

        /* Truncated: half of the compressed stream. */
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(truncate(path, st.st_size / 2), 0);
        expect_error(path, -EBADMSG, "corrupt.tar.gz");

        assert_true(asprintf(&junk, "%s/junk.tar", tmpdir) > 0);
        fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_int_equal(write(fd, "this is not an archive at all, not even close, no", 50), 50);
        close(fd);
        expect_error(junk, -EBADMSG, "junk.tar");
}

static void test_directory(void **state) {
        _cleanup_free_ char *dir = NULL, *cmd = NULL;
        struct bundle_limits l;
        struct cart_error err = {};
        char listing[4096];

        assert_true(asprintf(&dir, "%s/tree", tmpdir) > 0);
        assert_true(asprintf(&cmd, "mkdir -p %s/sub && printf abc > %s/sub/f.txt && printf x > %s/top.txt", dir, dir, dir) > 0);
        assert_int_equal(system(cmd), 0);
        bundle_limits_init(&l);
        assert_int_equal(read_all(dir, &l, listing, sizeof(listing), &err), 0);
        /* readdir order is the file system's: check membership. */
        assert_non_null(strstr(listing, "sub/:0;"));
        assert_non_null(strstr(listing, "sub/f.txt:3;"));
        assert_non_null(strstr(listing, "top.txt:1;"));
        assert_null(strstr(listing, "tree"));

        free(cmd);
        assert_true(asprintf(&cmd, "ln -s /etc/passwd %s/sub/link.html", dir) > 0);
        assert_int_equal(system(cmd), 0);
        expect_error(dir, -EBADMSG, "sub/link.html: a symbolic link");
}

static int setup(void **state) {
        setlocale(LC_CTYPE, "C.UTF-8");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        char *cmd;
        if (asprintf(&cmd, "rm -rf %s", tmpdir) > 0) {
                (void) system(cmd);
                free(cmd);
        }
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_formats),
                cmocka_unit_test(test_hostile_paths),
                cmocka_unit_test(test_types),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_bomb),
                cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_directory),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
