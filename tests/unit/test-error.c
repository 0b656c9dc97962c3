/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reason codes: stable strings, arguments kept through prefixes, one sentence in cmd/. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "reason.h"
#include "base/error.h"

/* The strings are what journals and scripts keep: kebab-case, unique, and round-trip. */
static void test_reason_strings(void **state) {
        for (int i = 0; i < _CART_REASON_MAX; i++) {
                const char *s = cart_reason_to_string((enum cart_reason) i);

                assert_non_null(s);
                assert_true(s[0] != 0);
                for (const char *c = s; *c; c++)
                        if (!(islower((unsigned char) *c) || *c == '-'))
                                fail_msg("reason %d: \"%s\" is not kebab-case", i, s);
                assert_int_equal(cart_reason_from_string(s), i);
        }
        assert_null(cart_reason_to_string(_CART_REASON_MAX));
        assert_int_equal(cart_reason_from_string("no-such-reason"), -EINVAL);
        assert_int_equal(cart_reason_from_string(NULL), -EINVAL);
        /* A few that scripts already match on must never change. */
        assert_string_equal(cart_reason_to_string(CART_REASON_COUNTERFEIT), "counterfeit");
        assert_string_equal(cart_reason_to_string(CART_REASON_POLICY_MOUNTED), "policy-mounted");
        assert_string_equal(cart_reason_to_string(CART_REASON_READBACK_MISMATCH), "readback-mismatch");
        assert_string_equal(cart_reason_to_string(CART_REASON_UNTRUSTED_SIGNER), "untrusted-signer");
        assert_string_equal(cart_reason_to_string(CART_REASON_OUTPUT_EXISTS), "output-exists");
}

/* A message without a code is classified by its errno, as the conventions of error.h say. */
static void test_unclassified_messages(void **state) {
        struct cart_error err = {};

        assert_int_equal(cart_error_set(&err, -EBADMSG, "line %u: no '='", 3u), -EBADMSG);
        assert_int_equal(err.reason, CART_REASON_NONE);
        assert_int_equal(cart_error_reason(&err, -EBADMSG), CART_REASON_BAD_INPUT);
        assert_string_equal(ERROR_TEXT(&err, -EBADMSG), "line 3: no '='");
        assert_int_equal(cart_error_reason(NULL, -EUCLEAN), CART_REASON_CORRUPT_VOLUME);
        assert_int_equal(cart_error_reason(NULL, -EMEDIUMTYPE), CART_REASON_NOT_A_KEY);
        assert_int_equal(cart_error_reason(NULL, -EKEYREJECTED), CART_REASON_BAD_SIGNATURE);
        assert_int_equal(cart_error_reason(NULL, -ESTALE), CART_REASON_ROLLBACK);
        assert_int_equal(cart_error_reason(NULL, -ENODEV), CART_REASON_KEY_REMOVED);
        assert_int_equal(cart_error_reason(NULL, -ENOMEM), CART_REASON_INTERNAL);
        assert_int_equal(cart_error_reason(NULL, 0), CART_REASON_NONE);
        /* A new message replaces a coded one entirely. */
        cart_error_reason_set(&err, -EPERM, CART_REASON_COUNTERFEIT, "/dev/sdb");
        cart_error_set(&err, -EIO, "later");
        assert_int_equal(err.reason, CART_REASON_NONE);
        assert_string_equal(err.subject, "");
        assert_int_equal(err.errnum, EIO);
}

/* Prefixes: a coded error keeps its arguments and gathers the context apart; free text is
 * prefixed as before; a bare errno gets its words from cmd/, not from lib/. */
static void test_prefix(void **state) {
        struct cart_error err = {};

        cart_error_io(&err, -EIO, NULL, 4096, "/Cours/a.pdf");
        cart_error_prefix(&err, -EIO, "write");
        cart_error_prefix(&err, -EIO, "%s", "/dev/sdb");
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
        assert_int_equal(err.offset, 4096);
        assert_string_equal(err.context, "/dev/sdb: write");
        assert_string_equal(ERROR_TEXT(&err, -EIO),
                            "/dev/sdb: write: at byte 4096 (\"/Cours/a.pdf\"): Input/output error");

        err = (struct cart_error) {};
        cart_error_set(&err, -EBADMSG, "line 2: not base64");
        cart_error_prefix(&err, -EBADMSG, "%s", "k.pub");
        assert_string_equal(err.msg, "k.pub: line 2: not base64");
        assert_string_equal(err.context, "");

        err = (struct cart_error) {};
        cart_error_prefix(&err, -ENOENT, "%s", "/etc/x");
        assert_string_equal(err.msg, "");
        assert_int_equal(err.errnum, ENOENT);
        assert_string_equal(ERROR_TEXT(&err, -ENOENT), "/etc/x: No such file or directory");
        /* No struct: nothing to fill, r comes back. */
        assert_int_equal(cart_error_prefix(NULL, -EIO, "x"), -EIO);
        assert_int_equal(cart_error_io(NULL, -EIO, "x", 0, "y"), -EIO);
}

/* The errno picks the code of a failure at an offset: pulled, mismatch, or I/O. */
static void test_io_reasons(void **state) {
        struct cart_error err = {};

        cart_error_io(&err, -ENODEV, "/dev/sdc", 512, "FAT #1");
        assert_int_equal(err.reason, CART_REASON_KEY_REMOVED);
        assert_non_null(strstr(ERROR_TEXT(&err, -ENODEV), "/dev/sdc: at byte 512 (\"FAT #1\"): the key was removed"));
        cart_error_io(&err, -EBADE, NULL, 7, "boot sector");
        assert_int_equal(err.reason, CART_REASON_READBACK_MISMATCH);
        assert_int_equal(err.errnum, EBADE);
        cart_error_io(&err, -EIO, NULL, 7, "boot sector");
        assert_int_equal(err.reason, CART_REASON_IO_ERROR);
}

/* Sentences are composed from the arguments: the same facts as the English lib/ used to write. */
static void test_sentences(void **state) {
        struct cart_error err = {};
        char small[16];

        cart_error_reason_set(&err, -EPERM, CART_REASON_COUNTERFEIT, NULL);
        err.value = 32 << 20;
        err.limit = 256 << 20;
        err.offset = 33554432;
        snprintf(err.label, sizeof(err.label), "wrap-around");
        assert_string_equal(ERROR_TEXT(&err, -EPERM),
                            "counterfeit key: it announces 256.0 MiB but holds 32.0 MiB "
                            "(aliased (wrap-around counterfeit), first bad block at byte 33554432)");

        cart_error_reason_set(&err, -EBUSY, CART_REASON_IN_USE, "/dev/sdb");
        snprintf(err.label, sizeof(err.label), "flock");
        assert_string_equal(ERROR_TEXT(&err, -EBUSY), "/dev/sdb: refused: locked by another program (flock)");

        cart_error_errno(&err, -EACCES, "/srv/state", "cannot create");
        assert_int_equal(err.reason, CART_REASON_SYSTEM);
        assert_string_equal(ERROR_TEXT(&err, -EACCES), "/srv/state: cannot create: Permission denied");
        cart_error_errno(&err, -ENOENT, "/etc/cartable/cartable.conf", NULL);
        assert_int_equal(err.reason, CART_REASON_NOT_FOUND);
        assert_string_equal(ERROR_TEXT(&err, -ENOENT), "/etc/cartable/cartable.conf: No such file or directory");

        cart_error_reason_set(&err, -EEXIST, CART_REASON_OUTPUT_EXISTS, "dept.key");
        assert_string_equal(ERROR_TEXT(&err, -EEXIST), "dept.key: already exists, not overwritten");

        /* Cut, never overrun. */
        error_sentence(&err, -EEXIST, small, sizeof(small));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_string_equal(ERROR_TEXT(NULL, -ENOENT), "No such file or directory");
}

static int va_list_diag(struct cart_error *e, const char *prefix, const char *fmt, ...) _printf_(3, 4);
static int va_list_diag(struct cart_error *e, const char *prefix, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = cart_error_vdiag(e, -EBADMSG, CART_REASON_BAD_INPUT, NULL, NULL, prefix, fmt, ap);
        va_end(ap);
        return r;
}

/* A stand-in for gettext: W_() words in capitals, sizes as "<bytes> bytes", other
 * arguments as they are. */
static const char *upper(const char *arg, enum cart_arg_kind kind, uint64_t bytes, char *buf, size_t n) {
        size_t i;

        if (kind == CART_ARG_SIZE) {
                snprintf(buf, n, "%" PRIu64 " bytes", bytes);
                return buf;
        }
        if (kind != CART_ARG_WORDS)
                return arg;
        for (i = 0; arg[i] && i + 1 < n; i++)
                buf[i] = (char) toupper((unsigned char) arg[i]);
        buf[i] = 0;
        return buf;
}

/* The text of part i with fmt, checked to succeed. */
static const char *part_text(const struct cart_error *e, unsigned i, const char *fmt, char *buf, size_t n) {
        assert_true(i < e->n_parts);
        assert_int_equal(cart_error_part_format(e, &e->parts[i], fmt, NULL, buf, n), 0);
        return buf;
}

/* lib/'s words keep their format and arguments, for cmd/ to translate: a parser's sentence,
 * the prefixes added to it, the arguments in another order (%n$), and what cannot be kept. */
static void test_parts(void **state) {
        struct cart_error e = {};
        char buf[256], big[2000];
        int r;

        r = cart_error_set(&e, -EBADMSG, "%s:%u: %-4s|%5.2f|%x|%c|%%|%.*s|%" PRIu64, "f.csv", 7u, "ab", 1.5, 255u, 'z',
                           3, "xyzzy", UINT64_C(1) << 40);
        assert_int_equal(r, -EBADMSG);
        assert_string_equal(e.msg, "f.csv:7: ab  | 1.50|ff|z|%|xyz|1099511627776");
        assert_int_equal(e.n_parts, 1);
        assert_int_equal(e.parts[0].n_args, 8);
        assert_false(e.parts[0].is_context);
        /* The same format gives the same text; a translation moves the arguments. */
        assert_string_equal(part_text(&e, 0, e.parts[0].fmt, buf, sizeof(buf)), e.msg);
        assert_string_equal(part_text(&e, 0, "%9$s <%2$u> %1$s", buf, sizeof(buf)), "1099511627776 <7> f.csv");
        assert_string_equal(part_text(&e, 0, "%s %u %s %f %x %c %%%% %.*s %lu", buf, sizeof(buf)),
                            "f.csv 7 ab    1.50 ff z %% xyz 1099511627776");   /* widths as rendered */
        /* A format with other conversions does not fit. */
        assert_int_equal(cart_error_part_format(&e, &e.parts[0], "%s %s", NULL, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(cart_error_part_format(&e, &e.parts[0], "%12$s", NULL, buf, sizeof(buf)), -EINVAL);
        /* The output is cut to the buffer, never past it. */
        assert_int_equal(cart_error_part_format(&e, &e.parts[0], e.parts[0].fmt, NULL, buf, 6), 0);
        assert_string_equal(buf, "f.csv");

        /* Prefixes are parts too: of msg while the error is not coded, of context after. */
        cart_error_prefix(&e, r, "line %d", 3);
        assert_string_equal(e.msg, "line 3: f.csv:7: ab  | 1.50|ff|z|%|xyz|1099511627776");
        cart_error_where(&e, r, CART_REASON_BAD_INPUT, "f.csv", NULL);
        cart_error_prefix(&e, r, "%s", "import");
        assert_string_equal(e.context, "import");
        assert_int_equal(e.n_parts, 3);
        assert_false(e.parts[1].is_context);
        assert_string_equal(part_text(&e, 1, e.parts[1].fmt, buf, sizeof(buf)), "line 3");
        assert_true(e.parts[2].is_context);
        assert_string_equal(part_text(&e, 2, e.parts[2].fmt, buf, sizeof(buf)), "import");

        /* A parser's diagnostic: the sentence, then its prefix. */
        va_list_diag(&e, "bundle.tar: a.txt", "%s is %d", "x", 2);
        assert_string_equal(e.msg, "bundle.tar: a.txt: x is 2");
        assert_int_equal(e.n_parts, 2);
        assert_string_equal(part_text(&e, 0, "%2$d, %1$s", buf, sizeof(buf)), "2, x");
        assert_string_equal(part_text(&e, 1, "%s", buf, sizeof(buf)), "bundle.tar: a.txt");

        /* W_() words given as an argument are marked for translation; the same text copied
         * from data is not. */
        char copy[] = "directory";
        cart_error_set(&e, -EBADMSG, "%s: %s, %s", "f", W_("directory"), copy);
        assert_int_equal(e.parts[0].words, 1u << 1);
        assert_int_equal(cart_error_part_format(&e, &e.parts[0], e.parts[0].fmt, upper, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "f: DIRECTORY, directory");

        /* A size travels as its number: lib/'s English in msg, the bytes for cmd/'s words;
         * the same text from data is no size. The ring holds CART_SIZE_ARGS at a time. */
        char size_copy[] = "1.5 GiB";
        cart_error_set(&e, -EINVAL, "%s of %u: %s, %s, %s", size_arg(UINT64_C(1610612736)), 7u, size_copy,
                       size_arg(512), W_("directory"));
        assert_string_equal(e.msg, "1.5 GiB of 7: 1.5 GiB, 512 B, directory");
        assert_int_equal(e.parts[0].sizes, 1u << 0 | 1u << 3);
        assert_int_equal(e.parts[0].words, 1u << 4);
        assert_string_equal(part_text(&e, 0, e.parts[0].fmt, buf, sizeof(buf)), "1.5 GiB of 7: 1.5 GiB, 512 B, directory");
        assert_int_equal(cart_error_part_format(&e, &e.parts[0], "%4$s; %2$s %1$s: %3$s, %5$s", upper, buf,
                                                sizeof(buf)), 0);
        assert_string_equal(buf, "512 bytes; 7 1610612736 bytes: 1.5 GiB, DIRECTORY");
        const char *first = size_arg(1);
        for (unsigned i = 1; i < CART_SIZE_ARGS; i++)
                assert_string_equal(size_arg(UINT64_C(3) << 20), "3.0 MiB");
        assert_string_equal(first, "1 B");

        /* More than 8 arguments, or arguments too long to keep: no parts, the English stays. */
        cart_error_set(&e, -EBADMSG, "%d%d%d%d%d%d%d%d%d", 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assert_string_equal(e.msg, "123456789");
        assert_true(e.parts_lost);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        cart_error_set(&e, -EBADMSG, "%s", big);
        assert_true(e.parts_lost);
        assert_int_equal(e.args_used, 0);
        /* A new error starts clean. */
        cart_error_set(&e, -EBADMSG, "plain");
        assert_false(e.parts_lost);
        assert_int_equal(e.n_parts, 1);
        assert_int_equal(e.parts[0].n_args, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reason_strings),
                cmocka_unit_test(test_unclassified_messages),
                cmocka_unit_test(test_prefix),
                cmocka_unit_test(test_io_reasons),
                cmocka_unit_test(test_sentences),
                cmocka_unit_test(test_parts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
