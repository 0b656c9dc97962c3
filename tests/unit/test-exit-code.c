/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cmd/'s one table from a failure to an exit code: every reason has its code, the errno
 * table agrees with it, and cartable(1) documents each code (English and French). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit-code.h"

/* Every reason: a code that is not success, or -1 (its errno decides). */
static void test_every_reason(void **state) {
        for (unsigned i = 0; i < _CART_REASON_MAX; i++) {
                int code = exit_code_for_reason((enum cart_reason) i);

                assert_non_null(cart_reason_to_string((enum cart_reason) i));
                if (code == 0 || code < -1 || code > 255)
                        fail_msg("reason %s has exit code %d", cart_reason_to_string((enum cart_reason) i), code);
                if (code > 0) {
                        struct cart_error err = {};
                        cart_error_reason_set(&err, -EIO, (enum cart_reason) i, NULL);
                        assert_int_equal(exit_code_for_error(&err, -EIO), code);
                }
        }
        assert_int_equal(exit_code_for_reason(_CART_REASON_MAX), -1);
}

/* An errno without a reason set exits as the reason lib/ classifies it by would. */
static void test_errno_agrees(void **state) {
        for (int e = 1; e < 134; e++) {
                int code = exit_code_for_reason(cart_error_reason(NULL, -e));

                if (code >= 0 && exit_code_for(-e) != code)
                        fail_msg("errno %d (%s): exit %d, its reason %s says %d", e, strerror(e), exit_code_for(-e),
                                 cart_reason_to_string(cart_error_reason(NULL, -e)), code);
        }
        /* What error.h says: -EMEDIUMTYPE is "not a key", never "refused". */
        assert_int_equal(exit_code_for(-EMEDIUMTYPE), EXIT_NOT_CARTABLE);
        assert_int_equal(exit_code_for(0), EXIT_OK);
        assert_int_equal(exit_code_for_error(NULL, -ENOENT), EXIT_NOINPUT);
}

/* The REASON CODES section of a man page: each reason's header line names its code. */
static void check_page(const char *path, const char *section, const char *exit_word, const char *by_errno,
                       const char *not_failure) {
        FILE *f = fopen(path, "re");
        char line[512];
        bool in = false;
        char *lines[256];
        size_t n = 0;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f) && n < ELEMENTSOF(lines)) {
                if (line[0] == '#') {
                        in = strncmp(line, section, strlen(section)) == 0;
                        continue;
                }
                if (in && line[0] == '*')
                        lines[n++] = strdup(line);
        }
        fclose(f);
        assert_true(n > 0);
        for (unsigned i = 1; i < _CART_REASON_MAX; i++) {
                const char *name = cart_reason_to_string((enum cart_reason) i);
                int code = exit_code_for_reason((enum cart_reason) i);
                char star[80], want[80], want2[80];
                const char *hit = NULL;

                snprintf(star, sizeof(star), "*%s*", name);
                for (size_t k = 0; k < n && !hit; k++)
                        if (strstr(lines[k], star))
                                hit = lines[k];
                if (!hit)
                        fail_msg("%s: reason %s is not documented", path, name);
                /* "(exit 4)", or "(exit 65; ...)" in English, "(... 65 ; ...)" in French */
                snprintf(want, sizeof(want), "(%s %d)", exit_word, code);
                snprintf(want2, sizeof(want2), "(%s %d%s;", exit_word, code, strstr(exit_word, " ") ? " " : "");
                if (code > 0 && !strstr(hit, want) && !strstr(hit, want2))
                        fail_msg("%s: reason %s exits %d, its line says: %s", path, name, code, hit);
                if (code < 0 && !strstr(hit, by_errno) && !strstr(hit, not_failure) &&
                    !strstr(hit, exit_word))
                        fail_msg("%s: reason %s exits as its errno, its line says: %s", path, name, hit);
        }
        for (size_t k = 0; k < n; k++)
                free(lines[k]);
}

static void test_man_pages(void **state) {
        check_page(MAN_DIR "/cartable.1.scd", "# REASON CODES", "exit", "(exit as its errno", "(not a failure)");
        check_page(MAN_DIR "/fr/cartable.1.scd", "# CODES DE RAISON", "code de retour", "(code de retour selon",
                   "(pas un échec)");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_reason),
                cmocka_unit_test(test_errno_agrees),
                cmocka_unit_test(test_man_pages),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
