/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "reason.h"
#include "base/base64.h"
#include "release/sign.h"

/* Cheap scrypt for tests (N = 2^10), still through libsodium's mapping (opslimit-bound). */
#define TEST_OPSLIMIT UINT64_C(32768)
#define TEST_MEMLIMIT UINT64_C(16777216)

static const char msg[] = "{\"name\":\"college-2026\",\"version\":\"1.0\"}";

struct fixture {
        char dir[64];
        char sec[128], pub[128], sec_enc[128];
        struct sign_secret_key *key;
        struct sign_trust *trust;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct cart_error err = {};

        assert_non_null(f);
        strcpy(f->dir, "/tmp/cartable-sign-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->sec, sizeof(f->sec), "%s/plain.key", f->dir);
        snprintf(f->sec_enc, sizeof(f->sec_enc), "%s/enc.key", f->dir);
        snprintf(f->pub, sizeof(f->pub), "%s/key.pub", f->dir);
        assert_int_equal(sign_key_generate(&f->key), 0);
        assert_int_equal(sign_secret_key_save(f->key, f->sec, NULL, &err), 0);
        assert_int_equal(sign_public_key_save(f->key, f->pub, &err), 0);
        assert_int_equal(sign_trust_new(&f->trust), 0);
        assert_int_equal(sign_trust_add_path(f->trust, f->pub, &err), 1);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        sign_secret_key_free(f->key);
        sign_trust_free(f->trust);
        nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static void write_text(const char *path, const char *text) {
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        assert_true(fputs(text, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path) {
        FILE *fp = fopen(path, "re");
        char *buf = calloc(1, 65536);

        assert_non_null(fp);
        assert_non_null(buf);
        fread(buf, 1, 65535, fp);
        fclose(fp);
        return buf;
}

static void expect_msg(const struct cart_error *err, const char *part) {
        const char *text = ERROR_TEXT(err, 0);

        if (!strstr(text, part))
                fail_msg("message \"%s\" lacks \"%s\"", text, part);
}

static void key_hex(const struct sign_secret_key *k, char hex[2 * SIGN_KEYID_LEN + 1]) {
        uint8_t id[SIGN_KEYID_LEN];

        sign_secret_key_id(k, id);
        sign_key_id_hex(id, hex);
}

static void test_key_id_hex_is_minisign_order(void **state) {
        const uint8_t id[SIGN_KEYID_LEN] = { 0xcb, 0xba, 0x3f, 0xc7, 0xfb, 0xc0, 0xea, 0x0e };
        char hex[2 * SIGN_KEYID_LEN + 1];

        /* minisign prints the key number as a little-endian integer, upper-case. */
        sign_key_id_hex(id, hex);
        assert_string_equal(hex, "0EEAC0FBC73FBACB");
}

static void test_sign_verify_round_trip(void **state) {
        struct fixture *f = *state;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *loaded = NULL;
        _cleanup_free_ char *sig = NULL, *sig2 = NULL, *tc = NULL;
        uint8_t id[SIGN_KEYID_LEN], want[SIGN_KEYID_LEN];
        struct cart_error err = {};

        assert_int_equal(sign_secret_key_load(f->sec, NULL, &loaded, &err), 0);
        assert_int_equal(sign_message(loaded, msg, strlen(msg), "name:college serial:7", &sig, &err), 0);
        assert_int_equal(sign_verify(f->trust, msg, strlen(msg), sig, &tc, id, &err), 0);
        assert_string_equal(tc, "name:college serial:7");
        sign_secret_key_id(f->key, want);
        assert_memory_equal(id, want, SIGN_KEYID_LEN);
        /* Ed25519 is deterministic: the loaded key is the generated one, byte for byte. */
        assert_int_equal(sign_message(f->key, msg, strlen(msg), "name:college serial:7", &sig2, &err), 0);
        assert_string_equal(sig, sig2);
        /* The prehashed algorithm, as minisign writes by default. */
        assert_non_null(strstr(sig, "\nRU"));   /* base64 of "ED" */
}

static void test_encrypted_round_trip_and_wrong_passphrase(void **state) {
        struct fixture *f = *state;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *loaded = NULL, *none = NULL;
        _cleanup_free_ char *sig = NULL, *sig2 = NULL;
        struct sign_key_info info;
        struct cart_error err = {};
        struct stat st;

        assert_int_equal(sign_secret_key_save_kdf(f->key, f->sec_enc, "correct horse", TEST_OPSLIMIT,
                                                  TEST_MEMLIMIT, &err), 0);
        assert_int_equal(stat(f->sec_enc, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(sign_secret_key_is_encrypted(f->sec_enc, &err), 1);
        assert_int_equal(sign_secret_key_is_encrypted(f->sec, &err), 0);

        assert_int_equal(sign_secret_key_load(f->sec_enc, "correct horse", &loaded, &err), 0);
        assert_int_equal(sign_message(loaded, msg, 5, "x", &sig, &err), 0);
        assert_int_equal(sign_message(f->key, msg, 5, "x", &sig2, &err), 0);
        assert_string_equal(sig, sig2);

        assert_int_equal(sign_secret_key_load(f->sec_enc, "correct hors", &none, &err), -EKEYREJECTED);
        expect_msg(&err, "wrong passphrase");
        assert_int_equal(err.reason, CART_REASON_WRONG_PASSPHRASE);
        expect_msg(&err, f->sec_enc);
        assert_null(none);
        assert_int_equal(sign_secret_key_load(f->sec_enc, NULL, &none, &err), -EKEYREJECTED);
        expect_msg(&err, "passphrase is needed");
        assert_int_equal(err.reason, CART_REASON_WRONG_PASSPHRASE);

        /* key show reads the id from the comment of an encrypted key, without a passphrase. */
        assert_int_equal(sign_key_file_info(f->sec_enc, &info, &err), 0);
        assert_true(info.is_secret && info.is_encrypted && info.has_key_id && info.is_key_id_from_comment);
        assert_int_equal(info.kdf_opslimit, TEST_OPSLIMIT);
        assert_int_equal(info.kdf_memlimit, TEST_MEMLIMIT);
        uint8_t id[SIGN_KEYID_LEN];
        sign_secret_key_id(f->key, id);
        assert_memory_equal(info.key_id, id, SIGN_KEYID_LEN);
}

static void test_key_files_and_info(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *pub = read_text(f->pub), *sec = read_text(f->sec);
        struct sign_key_info info;
        struct cart_error err = {};
        char hex[2 * SIGN_KEYID_LEN + 1], line[128];
        struct stat st;

        key_hex(f->key, hex);
        snprintf(line, sizeof(line), "untrusted comment: minisign public key %s\nRW", hex);
        assert_true(strncmp(pub, line, strlen(line)) == 0);
        assert_int_equal(strlen(pub), strlen(line) - 2 + 56 + 1);
        snprintf(line, sizeof(line), "untrusted comment: cartable secret key %s\nRWQAAEIy", hex);
        assert_true(strncmp(sec, line, strlen(line)) == 0);
        assert_int_equal(stat(f->sec, &st), 0);
        assert_int_equal(st.st_mode & 0077, 0);

        assert_int_equal(sign_key_file_info(f->pub, &info, &err), 0);
        assert_false(info.is_secret);
        assert_true(info.has_key_id);
        assert_int_equal(sign_key_file_info(f->sec, &info, &err), 0);
        assert_true(info.is_secret && !info.is_encrypted && info.has_key_id && !info.is_key_id_from_comment);
        assert_int_equal(sign_secret_key_is_encrypted(f->pub, &err), -EBADMSG);
}

static void test_comment_goes_into_both_files(void **state) {
        struct fixture *f = *state;
        char sec[160], pub[160];
        struct cart_error err = {};

        snprintf(sec, sizeof(sec), "%s/c.key", f->dir);
        snprintf(pub, sizeof(pub), "%s/c.pub", f->dir);
        assert_int_equal(sign_secret_key_set_comment(f->key, "bad\nline"), -EINVAL);
        assert_int_equal(sign_secret_key_set_comment(f->key, "Département 33"), 0);
        assert_int_equal(sign_secret_key_save(f->key, sec, NULL, &err), 0);
        assert_int_equal(sign_public_key_save(f->key, pub, &err), 0);
        _cleanup_free_ char *s = read_text(sec), *p = read_text(pub);
        assert_non_null(strstr(strtok(s, "\n"), " - Département 33"));
        assert_non_null(strstr(strtok(p, "\n"), " - Département 33"));
        assert_int_equal(sign_secret_key_set_comment(f->key, NULL), 0);
}

static void test_never_overwrites(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *before = read_text(f->pub), *after = NULL;
        struct cart_error err = {};

        assert_int_equal(sign_public_key_save(f->key, f->pub, &err), -EEXIST);
        assert_int_equal(err.reason, CART_REASON_OUTPUT_EXISTS);
        assert_string_equal(err.subject, f->pub);
        expect_msg(&err, f->pub);
        assert_int_equal(sign_secret_key_save(f->key, f->pub, NULL, &err), -EEXIST);
        after = read_text(f->pub);
        assert_string_equal(before, after);
        /* A missing directory: an error naming the file, and nothing left behind. */
        assert_int_equal(sign_public_key_save(f->key, "/nonexistent/dir/k.pub", &err), -ENOENT);
        expect_msg(&err, "/nonexistent/dir/k.pub");
}

/* Line n (1-based) of a text, replaced. */
static char *replace_line(const char *text, int n, const char *with) {
        char *out = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&out, &size);
        int line = 1;

        for (const char *p = text; *p; line++) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                if (line == n)
                        fprintf(m, "%s\n", with);
                else
                        fprintf(m, "%.*s\n", (int) len, p);
                p += len + (nl ? 1 : 0);
        }
        fclose(m);
        return out;
}

static char *line_of(const char *text, int n) {
        const char *p = text;

        for (int i = 1; i < n; i++)
                p = strchr(p, '\n') + 1;
        return strndup(p, strcspn(p, "\n"));
}

/* A line holding bytes re-encoded after edit() changed them. */
static char *reencode_line(const char *text, int n, size_t new_len, void (*edit)(uint8_t *)) {
        _cleanup_free_ char *line = line_of(text, n);
        uint8_t block[256] = {};
        char b64[BASE64_ENCODED_LEN(256) + 1];

        assert_true(base64_decode(line, strlen(line), block, sizeof(block)) > 0);
        if (edit)
                edit(block);
        base64_encode(block, new_len, b64);
        return replace_line(text, n, b64);
}

static void flip_sig_byte(uint8_t *b) { b[40] ^= 1; }
static void flip_global_byte(uint8_t *b) { b[3] ^= 0x80; }
static void wrong_alg(uint8_t *b) { b[0] = 'X'; }
static void flip_seed_byte(uint8_t *b) { b[70] ^= 1; }

static void expect_verify_reason(const struct sign_trust *t, const char *m, const char *sig, int want,
                                 enum cart_reason reason, const char *part) {
        _cleanup_free_ char *tc = NULL;
        uint8_t id[SIGN_KEYID_LEN];
        struct cart_error err = {};

        assert_int_equal(sign_verify(t, m, strlen(m), sig, &tc, id, &err), want);
        assert_null(tc);
        expect_msg(&err, part);
        if (cart_error_reason(&err, want) != reason)
                fail_msg("reason %s, expected %s", cart_reason_to_string(cart_error_reason(&err, want)),
                         cart_reason_to_string(reason));
}

/* Each errno of sign_verify has one reason: the code an audit reads. */
static void expect_verify(const struct sign_trust *t, const char *m, const char *sig, int want,
                          const char *part) {
        expect_verify_reason(t, m, sig, want,
                             want == -ENOKEY ? CART_REASON_UNTRUSTED_SIGNER :
                             want == -EKEYREJECTED ? CART_REASON_BAD_SIGNATURE : CART_REASON_MALFORMED_SIGNATURE, part);
}

static void test_tampering_is_rejected(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *sig = NULL, *tampered = NULL, *bad_comment = NULL, *bad_sig = NULL,
                           *bad_global = NULL, *crlf = NULL, *tc = NULL;
        struct cart_error err = {};
        char hex[2 * SIGN_KEYID_LEN + 1];

        key_hex(f->key, hex);
        assert_int_equal(sign_message(f->key, msg, strlen(msg), "serial:7", &sig, &err), 0);

        tampered = strdup(msg);
        tampered[3] ^= 1;
        expect_verify(f->trust, tampered, sig, -EKEYREJECTED, hex);
        expect_verify(f->trust, tampered, sig, -EKEYREJECTED, "does not match");

        bad_comment = replace_line(sig, 3, "trusted comment: serial:8");
        expect_verify(f->trust, msg, bad_comment, -EKEYREJECTED, "trusted comment");

        bad_sig = reencode_line(sig, 2, 74, flip_sig_byte);
        expect_verify(f->trust, msg, bad_sig, -EKEYREJECTED, "does not match");
        bad_global = reencode_line(sig, 4, 64, flip_global_byte);
        expect_verify(f->trust, msg, bad_global, -EKEYREJECTED, "trusted comment");

        /* The untrusted comment is not signed: changing it changes nothing. */
        free(tampered);
        tampered = replace_line(sig, 1, "untrusted comment: anything at all");
        assert_int_equal(sign_verify(f->trust, msg, strlen(msg), tampered, &tc, NULL, &err), 0);
        assert_string_equal(tc, "serial:7");

        /* Line ends written on Windows are taken as minisign takes them. */
        free(tampered);
        tampered = replace_line(sig, 1, "untrusted comment: x\r");
        crlf = replace_line(tampered, 3, "trusted comment: serial:7\r");
        assert_int_equal(sign_verify(f->trust, msg, strlen(msg), crlf, NULL, NULL, &err), 0);
}

static void test_untrusted_key(void **state) {
        struct fixture *f = *state;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *other = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *empty = NULL;
        _cleanup_free_ char *sig = NULL;
        struct cart_error err = {};
        char hex[2 * SIGN_KEYID_LEN + 1];

        assert_int_equal(sign_key_generate(&other), 0);
        key_hex(other, hex);
        assert_int_equal(sign_message(other, msg, strlen(msg), "x", &sig, &err), 0);
        expect_verify(f->trust, msg, sig, -ENOKEY, hex);
        expect_verify(f->trust, msg, sig, -ENOKEY, "not trusted");
        assert_int_equal(sign_trust_new(&empty), 0);
        expect_verify(empty, msg, sig, -ENOKEY, hex);
        expect_verify(empty, msg, sig, -ENOKEY, "trusted: none");
        expect_verify(NULL, msg, sig, -ENOKEY, hex);
}

static void test_malformed_signatures(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *sig = NULL, *l2 = NULL;
        struct cart_error err = {};
        char *bad;

        assert_int_equal(sign_message(f->key, msg, strlen(msg), "x", &sig, &err), 0);
        l2 = line_of(sig, 2);

        l2[strlen(l2) - 4] = 0;                          /* truncated base64 */
        bad = replace_line(sig, 2, l2);
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 2");
        free(bad);
        bad = replace_line(sig, 2, "RUT!!!!");
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 2");
        free(bad);
        bad = reencode_line(sig, 2, 74, wrong_alg);
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 2: unsupported signature algorithm");
        free(bad);
        bad = reencode_line(sig, 2, 73, NULL);           /* a byte short */
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 2");
        free(bad);
        bad = reencode_line(sig, 4, 63, NULL);
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 4");
        free(bad);
        bad = replace_line(sig, 3, "trusted: x");
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 3");
        free(bad);
        bad = replace_line(sig, 1, "comment: x");
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 1");
        free(bad);
        if (asprintf(&bad, "%sextra\n", sig) < 0)
                fail();
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 5");
        free(bad);
        bad = strndup(sig, strchr(strchr(sig, '\n') + 1, '\n') + 1 - sig);   /* two lines */
        expect_verify(f->trust, msg, bad, -EBADMSG, "line 3");
        free(bad);
        expect_verify(f->trust, msg, "", -EBADMSG, "line 1");
}

static void expect_bad_key_file(struct fixture *f, const char *text, const char *part) {
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        char path[160];
        struct cart_error err = {};
        size_t n = sign_trust_count(f->trust);

        snprintf(path, sizeof(path), "%s/bad.key", f->dir);
        unlink(path);
        write_text(path, text);
        assert_int_equal(sign_trust_add_path(f->trust, path, &err), -EBADMSG);
        expect_msg(&err, path);
        expect_msg(&err, part);
        assert_int_equal(sign_trust_count(f->trust), n);
        memset(&err, 0, sizeof(err));
        assert_int_equal(sign_secret_key_load(path, "x", &k, &err), -EBADMSG);
        expect_msg(&err, path);
        assert_null(k);
}

static void test_malformed_key_files(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *pub = read_text(f->pub), *sec = read_text(f->sec);
        _cleanup_free_ char *l2 = line_of(pub, 2), *short_line = NULL, *text = NULL;

        short_line = strndup(l2, strlen(l2) - 4);
        text = replace_line(pub, 2, short_line);
        expect_bad_key_file(f, text, "line 2");
        free(text);
        text = reencode_line(pub, 2, 42, wrong_alg);
        expect_bad_key_file(f, text, "line 2: unsupported key algorithm");
        free(text);
        text = reencode_line(pub, 2, 41, NULL);
        expect_bad_key_file(f, text, "line 2");
        free(text);
        text = replace_line(pub, 1, "not a comment");
        expect_bad_key_file(f, text, "line 1");
        expect_bad_key_file(f, "untrusted comment: nothing else\n", "line 2");
        expect_bad_key_file(f, "", "line 1");
        /* A secret key is not a public key, and the reverse. */
        struct cart_error err = {};
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        assert_int_equal(sign_trust_add_path(f->trust, f->sec, &err), -EBADMSG);
        expect_msg(&err, f->sec);
        assert_int_equal(sign_secret_key_load(f->pub, NULL, &k, &err), -EBADMSG);
        expect_msg(&err, "not a secret key");
        /* A damaged unencrypted secret key is caught by its checksum. */
        free(text);
        text = reencode_line(sec, 2, 158, flip_seed_byte);
        write_text(f->sec_enc, text);
        assert_int_equal(sign_secret_key_load(f->sec_enc, NULL, &k, &err), -EBADMSG);
        expect_msg(&err, "checksum");
}

static void test_trust_directory(void **state) {
        struct fixture *f = *state;
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k2 = NULL;
        _cleanup_free_ char *sig = NULL;
        char dir[160], path[200];
        struct cart_error err = {};

        snprintf(dir, sizeof(dir), "%s/trusted", f->dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(sign_trust_new(&t), 0);
        assert_int_equal(sign_trust_add_path(t, dir, &err), 0);       /* empty: no key */

        assert_int_equal(sign_key_generate(&k2), 0);
        snprintf(path, sizeof(path), "%s/b.pub", dir);
        assert_int_equal(sign_public_key_save(k2, path, &err), 0);
        snprintf(path, sizeof(path), "%s/a.pub", dir);
        assert_int_equal(sign_public_key_save(f->key, path, &err), 0);
        snprintf(path, sizeof(path), "%s/.hidden.pub", dir);
        write_text(path, "garbage");
        snprintf(path, sizeof(path), "%s/README", dir);
        write_text(path, "not a key");
        assert_int_equal(sign_trust_add_path(t, dir, &err), 2);
        assert_int_equal(sign_trust_add_path(t, f->pub, &err), 1);    /* a duplicate is fine */
        assert_int_equal(sign_trust_count(t), 3);
        assert_int_equal(sign_message(k2, msg, strlen(msg), "k2", &sig, &err), 0);
        assert_int_equal(sign_verify(t, msg, strlen(msg), sig, NULL, NULL, &err), 0);

        /* One malformed *.pub spoils the directory, names the file, and adds nothing. */
        snprintf(path, sizeof(path), "%s/c.pub", dir);
        write_text(path, "untrusted comment: x\nRWQ=\n");
        assert_int_equal(sign_trust_add_path(t, dir, &err), -EBADMSG);
        expect_msg(&err, path);
        assert_int_equal(sign_trust_count(t), 3);

        snprintf(path, sizeof(path), "%s/missing.pub", f->dir);
        assert_int_equal(sign_trust_add_path(t, path, &err), -ENOENT);
        expect_msg(&err, path);
}

static void test_trusted_comment_limits(void **state) {
        struct fixture *f = *state;
        _cleanup_free_ char *sig = NULL, *tc = NULL;
        char *longest = malloc(SIGN_TRUSTED_COMMENT_MAX + 2);
        struct cart_error err = {};

        memset(longest, 'a', SIGN_TRUSTED_COMMENT_MAX);
        longest[SIGN_TRUSTED_COMMENT_MAX] = 0;
        assert_int_equal(sign_message(f->key, msg, 0, longest, &sig, &err), 0);
        assert_int_equal(sign_verify(f->trust, msg, 0, sig, &tc, NULL, &err), 0);
        assert_string_equal(tc, longest);
        longest[SIGN_TRUSTED_COMMENT_MAX] = 'a';
        longest[SIGN_TRUSTED_COMMENT_MAX + 1] = 0;
        free(sig);
        sig = NULL;
        assert_int_equal(sign_message(f->key, msg, 0, longest, &sig, &err), -EINVAL);
        assert_int_equal(sign_message(f->key, msg, 0, "two\nlines", &sig, &err), -EINVAL);
        assert_null(sig);
        free(longest);
}

/* libsodium's pickparams(): its documented constants give the well-known scrypt costs. */
static void test_scrypt_params(void **state) {
        static const struct { uint64_t ops, mem; unsigned n_log2; uint32_t p; } v[] = {
                { 33554432, 1073741824, 20, 1 },   /* minisign's default (SENSITIVE) */
                { 524288, 16777216, 14, 1 },       /* libsodium's INTERACTIVE */
                { SIGN_KDF_OPSLIMIT_DEFAULT, SIGN_KDF_MEMLIMIT_DEFAULT, 17, 1 },
                { TEST_OPSLIMIT, TEST_MEMLIMIT, 10, 1 },   /* bound by operations */
                { 1, 16777216, 10, 1 },            /* opslimit raised to 32768 */
                { 33554432 * 4, 1073741824, 20, 4 },
        };
        struct sign_scrypt s;

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                sign_scrypt_params(v[i].ops, v[i].mem, &s);
                assert_int_equal(s.n_log2, v[i].n_log2);
                assert_int_equal(s.r, 8);
                assert_int_equal(s.p, v[i].p);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_key_id_hex_is_minisign_order),
                cmocka_unit_test_setup_teardown(test_sign_verify_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_encrypted_round_trip_and_wrong_passphrase, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_files_and_info, setup, teardown),
                cmocka_unit_test_setup_teardown(test_comment_goes_into_both_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_never_overwrites, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tampering_is_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_signatures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_key_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_trust_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_trusted_comment_limits, setup, teardown),
                cmocka_unit_test(test_scrypt_params),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
