/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/base/output-file: an output appears only when complete, never over a file, and the
 * named fallback's leftovers of a killed run are removed by the next one. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
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
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
