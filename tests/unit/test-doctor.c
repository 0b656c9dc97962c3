/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/station/doctor against prepared station trees: the kernel release it is told, the
 * words and fixes it fills, what blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/util.h"
#include "station/doctor.h"

static char root[64];

static void touch(const char *rel, const char *text) {
        _cleanup_free_ char *p = NULL, *dir = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s%s", root, rel) > 0);
        dir = strdup(p);
        *strrchr(dir, '/') = '\0';
        assert_int_equal(mkdir_parents(dir, 0755), 0);
        assert_non_null(f = fopen(p, "we"));
        fputs(text, f);
        fclose(f);
}

static const struct doctor_check *find(const struct doctor_report *r, const char *name) {
        for (size_t i = 0; i < r->n_checks; i++)
                if (streq(r->checks[i].name, name))
                        return &r->checks[i];
        fail_msg("no check %s", name);
        return NULL;
}

static int setup(void **state) {
        strcpy(root, "/tmp/cartable-doctor-XXXXXX");
        assert_non_null(mkdtemp(root));
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd);
}

/* The kernel release given, not uname's, names the modules files read. */
static void test_kernel_release_option(void **state) {
        _cleanup_(doctor_report_freep) struct doctor_report *r = NULL;
        struct doctor_options o = { .root = root, .kernel_release = "9.9.9-test" };

        touch("/lib/modules/9.9.9-test/modules.builtin", "kernel/drivers/usb/storage/uas.ko\n");
        assert_int_equal(doctor_run(&o, &r), 0);
        assert_int_equal(find(r, "usb-storage")->status, DOCTOR_OK);
        assert_non_null(strstr(find(r, "usb-storage")->detail, "built into kernel 9.9.9-test"));
        assert_string_equal(find(r, "usb-storage")->fix, "");
        r = doctor_report_free(r);

        o.kernel_release = "1.0.0-other";
        assert_int_equal(doctor_run(&o, &r), 0);
        assert_int_equal(find(r, "usb-storage")->status, DOCTOR_FAIL);
        assert_non_null(strstr(find(r, "usb-storage")->detail, "1.0.0-other"));
        assert_true(doctor_report_blocks(r));
}

/* A bare tree: udevd and trust fail (blocking), no automounter is fine. */
static void test_bare_station(void **state) {
        _cleanup_(doctor_report_freep) struct doctor_report *r = NULL;
        struct doctor_options o = { .root = root, .kernel_release = "x" };

        assert_int_equal(doctor_run(&o, &r), 0);
        assert_int_equal(r->n_checks, 9);
        assert_int_equal(find(r, "udevd")->status, DOCTOR_FAIL);
        assert_non_null(strstr(find(r, "udevd")->fix, "systemd-udevd"));
        assert_int_equal(find(r, "trust")->status, DOCTOR_FAIL);
        assert_int_equal(find(r, "automounter")->status, DOCTOR_OK);
        assert_string_equal(doctor_status_to_string(find(r, "udevd")->status), "FAIL");
        assert_true(doctor_report_blocks(r));
}

/* udisksd is found by its comm line, not by a longer name that starts alike. */
static void test_udisksd_by_comm(void **state) {
        _cleanup_(doctor_report_freep) struct doctor_report *r = NULL;
        struct doctor_options o = { .root = root, .kernel_release = "x" };

        touch("/proc/77/comm", "udisksd-helper\n");
        assert_int_equal(doctor_run(&o, &r), 0);
        assert_int_equal(find(r, "automounter")->status, DOCTOR_OK);
        r = doctor_report_free(r);
        touch("/proc/78/comm", "udisksd\n");
        assert_int_equal(doctor_run(&o, &r), 0);
        assert_int_equal(find(r, "automounter")->status, DOCTOR_WARN);
        assert_false(find(r, "automounter")->status == DOCTOR_FAIL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kernel_release_option, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bare_station, setup, teardown),
                cmocka_unit_test_setup_teardown(test_udisksd_by_comm, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
