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

/* The lines of a man page's section (only its entries' header lines, "*...*", when
 * is_headers), strdup()ed into lines; how many. */
static size_t section_lines(const char *path, const char *section, bool is_headers, char **lines, size_t max) {
        FILE *f = fopen(path, "re");
        char line[512];
        bool in = false;
        size_t n = 0;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f) && n < max) {
                if (line[0] == '#') {
                        in = strncmp(line, section, strlen(section)) == 0;
                        continue;
                }
                if (in && (!is_headers || line[0] == '*'))
                        lines[n++] = strdup(line);
        }
        fclose(f);
        return n;
}

/* The REASON CODES section of a man page: each reason's header line names its code. */
static void check_page(const char *path, const char *section, const char *exit_word, const char *by_errno,
                       const char *not_failure) {
        char *lines[256];
        size_t n = section_lines(path, section, true, lines, ELEMENTSOF(lines));

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

/* One meaning per code: verify's 1 (modified) is not doctor's (not ready, 78). Every failure
 * to read what a key holds is "not a cartable key" (2), but a trust failure (3) and the
 * station's own trouble (70) keep theirs. */
static void test_one_meaning_per_code(void **state) {
        static const struct { int r, code; } key[] = {
                { -EBADMSG, EXIT_NOT_CARTABLE }, { -EIO, EXIT_NOT_CARTABLE }, { -EUCLEAN, EXIT_NOT_CARTABLE },
                { -EFBIG, EXIT_NOT_CARTABLE }, { -EMEDIUMTYPE, EXIT_NOT_CARTABLE }, { -EKEYREJECTED, EXIT_TRUST },
                { -ENOKEY, EXIT_TRUST }, { -ENOMEM, EXIT_SOFTWARE }, { -EISDIR, EXIT_NOT_CARTABLE },
        };
        struct cart_error err = {};

        assert_int_not_equal(EXIT_NOT_READY, EXIT_MODIFIED);
        assert_int_equal(EXIT_NOT_READY, 78);
        for (size_t i = 0; i < ELEMENTSOF(key); i++)
                if (exit_code_for_key(NULL, key[i].r) != key[i].code)
                        fail_msg("a key's %s exits %d, not %d", strerror(-key[i].r), exit_code_for_key(NULL, key[i].r),
                                 key[i].code);
        cart_error_reason_set(&err, -EPERM, CART_REASON_BAD_SIGNATURE, NULL);
        assert_int_equal(exit_code_for_key(&err, -EPERM), EXIT_TRUST);
        cart_error_reason_set(&err, -EKEYREJECTED, CART_REASON_MALFORMED_SIGNATURE, NULL);
        assert_int_equal(exit_code_for_error(&err, -EKEYREJECTED), EXIT_DATA);
        assert_int_equal(exit_code_for_key(&err, -EKEYREJECTED), EXIT_TRUST);
}

/* The commands that read a target or a key take their codes from the same file: a target
 * that is not there is a missing input, a path on the key that names nothing too, and an
 * update keeps the codes cartable-update(1) gives. */
static void test_target_path_update(void **state) {
        static const struct { int r, target, path, update; } rows[] = {
                { -ENOENT, EXIT_NOINPUT, EXIT_NOINPUT, EXIT_NOINPUT },
                { -EACCES, EXIT_NOINPUT, EXIT_NOT_CARTABLE, EXIT_CANTCREAT },
                { -EMEDIUMTYPE, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE },
                { -ENOTDIR, EXIT_SOFTWARE, EXIT_NOINPUT, EXIT_SOFTWARE },
                { -EISDIR, EXIT_SOFTWARE, EXIT_NOINPUT, EXIT_SOFTWARE },
                { -EUCLEAN, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE },
                { -EKEYREJECTED, EXIT_TRUST, EXIT_TRUST, EXIT_TRUST },
                { -ESTALE, EXIT_TRUST, EXIT_TRUST, EXIT_TRUST },
                { -EXDEV, EXIT_SOFTWARE, EXIT_NOT_CARTABLE, EXIT_TRUST },
                { -EBADMSG, EXIT_DATA, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE },
                { -EBUSY, EXIT_REFUSED, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE },
                { -ENOTUNIQ, EXIT_USAGE, EXIT_NOT_CARTABLE, EXIT_NOT_CARTABLE },
                { -ENOSPC, EXIT_REFUSED, EXIT_NOT_CARTABLE, EXIT_REFUSED },
                { -EBADE, EXIT_IO, EXIT_NOT_CARTABLE, EXIT_IO },
                { -EIO, EXIT_IO, EXIT_NOT_CARTABLE, EXIT_IO },
                { -ENOMEM, EXIT_SOFTWARE, EXIT_SOFTWARE, EXIT_SOFTWARE },
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const char *e = strerror(-rows[i].r);
                if (exit_code_for_target(NULL, rows[i].r) != rows[i].target)
                        fail_msg("a target's %s exits %d, not %d", e, exit_code_for_target(NULL, rows[i].r), rows[i].target);
                if (exit_code_for_key_path(NULL, rows[i].r) != rows[i].path)
                        fail_msg("a key path's %s exits %d, not %d", e, exit_code_for_key_path(NULL, rows[i].r),
                                 rows[i].path);
                if (exit_code_for_key_update(NULL, rows[i].r) != rows[i].update)
                        fail_msg("an update's %s exits %d, not %d", e, exit_code_for_key_update(NULL, rows[i].r),
                                 rows[i].update);
        }
}

/* The EXIT STATUS section of a page: each code has its own "*N*" entry, and doctor's not
 * ready (78) says it is doctor's. */
static void check_codes(const char *path, const char *section) {
        static const int codes[] = {
                EXIT_OK, EXIT_MODIFIED, EXIT_NOT_CARTABLE, EXIT_TRUST, EXIT_REFUSED, EXIT_IO, EXIT_USAGE,
                EXIT_DATA, EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_SOFTWARE, EXIT_CANTCREAT, EXIT_NOT_READY,
                EXIT_CANCELLED,
        };
        char *lines[256], entry[16];
        size_t n = section_lines(path, section, false, lines, ELEMENTSOF(lines));
        bool seen[ELEMENTSOF(codes)] = {}, names_doctor = false;
        int current = -1;

        for (size_t k = 0; k < n; k++) {
                for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                        snprintf(entry, sizeof(entry), "*%d*\n", codes[i]);
                        if (streq(lines[k], entry)) {
                                seen[i] = true;
                                current = codes[i];
                        }
                }
                if (current == EXIT_NOT_READY && strstr(lines[k], "*doctor*"))
                        names_doctor = true;
                free(lines[k]);
        }
        for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                if (!seen[i])
                        fail_msg("%s: exit %d has no entry", path, codes[i]);
        if (!names_doctor)
                fail_msg("%s: exit %d does not name doctor", path, EXIT_NOT_READY);
}

static void test_man_pages(void **state) {
        check_codes(MAN_DIR "/cartable.1.scd", "# EXIT STATUS");
        check_codes(MAN_DIR "/fr/cartable.1.scd", "# CODE DE RETOUR");
        check_page(MAN_DIR "/cartable.1.scd", "# REASON CODES", "exit", "(exit as its errno", "(not a failure)");
        check_page(MAN_DIR "/fr/cartable.1.scd", "# CODES DE RAISON", "code de retour", "(code de retour selon",
                   "(pas un échec)");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_reason),
                cmocka_unit_test(test_errno_agrees),
                cmocka_unit_test(test_one_meaning_per_code),
                cmocka_unit_test(test_target_path_update),
                cmocka_unit_test(test_man_pages),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
