/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/base/output-file: an output appears only when complete, never over a file unless told
 * (and then the old one stays whole until the new one is), and the named fallback's
 * leftovers of a killed run are removed by the next one. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/output-file.h"
#include "base/util.h"

static char dir[] = "/tmp/cartable-output-test.XXXXXX";

/* Entries of dir, "." and ".." aside. */
static int count_entries(void) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
        closedir(d);
        return n;
}

static char *path_in(const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void write_and_link(unsigned flags) {
        _cleanup_free_ char *out = path_in("rel.cart");
        struct output_file o;
        struct cart_error err = {};
        struct stat st;

        assert_int_equal(output_file_open(out, flags, &o, &err), 0);
        assert_int_equal(pwrite_full(o.fd, "release", 7, 0), 0);
        /* Nothing visible yet under its name; the named fallback is hidden. */
        assert_int_equal(access(out, F_OK), -1);
        assert_int_equal(count_entries(), flags & OUTPUT_FILE_NAMED ? 1 : 0);
        assert_int_equal(output_file_link(&o, 0644, &err), 0);
        output_file_done(&o);
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_size, 7);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(count_entries(), 1);
        /* Never over an existing file. */
        assert_int_equal(output_file_open(out, flags, &o, &err), -EEXIST);
        assert_int_equal(cart_error_reason(&err, -EEXIST), CART_REASON_OUTPUT_EXISTS);
        assert_string_equal(err.subject, out);
        assert_int_equal(unlink(out), 0);
}

static void test_tmpfile(void **state) {
        write_and_link(0);
}

static void test_named(void **state) {
        write_and_link(OUTPUT_FILE_NAMED);
}

/* Not linked: gone, whichever way it was made. */
static void test_discarded(void **state) {
        _cleanup_free_ char *out = path_in("x.img");
        struct output_file o;
        struct cart_error err = {};

        for (unsigned flags = 0; flags <= OUTPUT_FILE_NAMED; flags++) {
                assert_int_equal(output_file_open(out, flags, &o, &err), 0);
                output_file_done(&o);
                assert_int_equal(count_entries(), 0);
        }
}

/* A text output through a stream: flushed by the link, in full; a stream not linked (a
 * report that failed half-way) leaves nothing, however much it wrote. */
static void test_stream(void **state) {
        _cleanup_free_ char *out = path_in("r.csv");
        char buf[64] = "";
        struct output_file o;
        struct cart_error err = {};
        FILE *f, *again;

        for (unsigned flags = 0; flags <= OUTPUT_FILE_NAMED; flags++) {
                assert_int_equal(output_file_open(out, flags, &o, &err), 0);
                assert_int_equal(output_file_stream(&o, &f), 0);
                assert_int_equal(output_file_stream(&o, &again), 0);
                assert_ptr_equal(f, again);
                fputs("half a report", f);
                output_file_done(&o);
                assert_int_equal(count_entries(), 0);
        }
        assert_int_equal(output_file_open(out, 0, &o, &err), 0);
        assert_int_equal(output_file_stream(&o, &f), 0);
        fputs("a;b\r\n", f);     /* still in the stream's buffer */
        assert_int_equal(output_file_link(&o, 0600, &err), 0);
        output_file_done(&o);
        f = fopen(out, "re");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        assert_string_equal(buf, "a;b\r\n");
        assert_int_equal(unlink(out), 0);
}

/* A run killed mid-write leaves its named temporary; the next run of the same output
 * removes it, but never one a live run holds. */
static void test_stale(void **state) {
        _cleanup_free_ char *out = path_in("k.cart"), *other = path_in("other.cart");
        struct output_file live, o;
        struct cart_error err = {};
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                struct output_file dead;
                if (output_file_open(out, OUTPUT_FILE_NAMED, &dead, &err) < 0)
                        _exit(1);
                raise(SIGKILL);
                _exit(2);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_int_equal(count_entries(), 1);
        assert_int_equal(output_file_open(other, OUTPUT_FILE_NAMED, &live, &err), 0);
        assert_int_equal(live.n_stale, 0);        /* another output's leftovers are not its own */
        assert_int_equal(count_entries(), 2);
        assert_int_equal(output_file_open(out, OUTPUT_FILE_NAMED, &o, &err), 0);
        assert_int_equal(o.n_stale, 1);
        output_file_done(&o);
        assert_int_equal(count_entries(), 1);     /* the live run's file stays */
        output_file_done(&live);
        assert_int_equal(count_entries(), 0);
}

static void put_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void expect_content(const char *path, const char *text) {
        char buf[64] = "";
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        assert_string_equal(buf, text);
}

/* OUTPUT_FILE_REPLACE (report --force): the old file stays whole until the new one is
 * complete, then one rename replaces it; a failed writer (a file size limit: EFBIG, in a
 * child) leaves the old one as it was, and nothing else. A symbolic link is never replaced,
 * nor one that appears while the new file is written. */
static void test_replace(void **state) {
        _cleanup_free_ char *out = path_in("report.html"), *ln = path_in("link.html"), *late = path_in("late.html");
        struct output_file o;
        struct cart_error err = {};
        struct stat st;
        FILE *f;
        int status;
        pid_t pid;

        put_file(out, "old report\n");
        assert_int_equal(chmod(out, 0644), 0);
        assert_int_equal(output_file_open(out, 0, &o, &err), -EEXIST);

        /* Given up before it was linked: the old one whole. */
        assert_int_equal(output_file_open(out, OUTPUT_FILE_REPLACE, &o, &err), 0);
        assert_int_equal(output_file_stream(&o, &f), 0);
        fputs("half a new one", f);
        output_file_done(&o);
        expect_content(out, "old report\n");
        assert_int_equal(count_entries(), 1);

        /* A writer that fails at its flush. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit small = { 4, 4 };
                signal(SIGXFSZ, SIG_IGN);
                if (setrlimit(RLIMIT_FSIZE, &small) < 0 || output_file_open(out, OUTPUT_FILE_REPLACE, &o, &err) < 0 ||
                    output_file_stream(&o, &f) < 0)
                        _exit(1);
                fputs("a new report, longer than four bytes", f);
                int r = output_file_link(&o, 0600, &err);
                output_file_done(&o);
                _exit(r == -EFBIG ? 0 : 2);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        expect_content(out, "old report\n");
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(count_entries(), 1);

        /* Complete: replaced, with the new mode. */
        assert_int_equal(output_file_open(out, OUTPUT_FILE_REPLACE, &o, &err), 0);
        assert_int_equal(output_file_stream(&o, &f), 0);
        fputs("new report\n", f);
        assert_int_equal(output_file_link(&o, 0600, &err), 0);
        output_file_done(&o);
        expect_content(out, "new report\n");
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(count_entries(), 1);

        /* Links: refused at the start, and at the end when one appeared meanwhile. */
        assert_int_equal(symlink(out, ln), 0);
        assert_int_equal(output_file_open(ln, OUTPUT_FILE_REPLACE, &o, &err), -EEXIST);
        assert_int_equal(cart_error_reason(&err, -EEXIST), CART_REASON_OUTPUT_EXISTS);
        assert_int_equal(output_file_open(late, OUTPUT_FILE_REPLACE, &o, &err), 0);
        assert_int_equal(symlink(out, late), 0);
        assert_int_equal(output_file_link(&o, 0600, &err), -EEXIST);
        output_file_done(&o);
        expect_content(out, "new report\n");
        assert_int_equal(count_entries(), 3);
        assert_int_equal(unlink(late), 0);
        assert_int_equal(unlink(ln), 0);
        assert_int_equal(unlink(out), 0);
}

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        return rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tmpfile),
                cmocka_unit_test(test_named),
                cmocka_unit_test(test_discarded),
                cmocka_unit_test(test_stream),
                cmocka_unit_test(test_stale),
                cmocka_unit_test(test_replace),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
