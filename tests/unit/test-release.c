/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Build releases from real bundles, open them back, tamper with them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "reason.h"
#include "fat/fat.h"
#include "release/recipe.h"
#include "release/release-internal.h"

static char tmpdir[] = "/tmp/cartable-release-XXXXXX";
static struct sign_secret_key *key;
static struct sign_trust *trust;
static char *notes;

static void sh(const char *fmt, ...) _printf_(1, 2);
static void sh(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *full = NULL;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        assert_true(asprintf(&full, "set -e; cd %s; %s", tmpdir, cmd) > 0);
        if (system(full) != 0)
                fail_msg("failed: %s", cmd);
}

static char *tmp_path(const char *name) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static void on_note(void *userdata, const struct cart_error *note) {
        const char *msg = note->msg;
        size_t n = notes ? strlen(notes) : 0;
        notes = realloc(notes, n + strlen(msg) + 2);
        sprintf(notes + n, "%s\n", msg);
}

static struct recipe *base_recipe(void) {
        struct recipe *rc;
        struct cart_error err = {};

        assert_int_equal(recipe_new(&rc), 0);
        assert_int_equal(recipe_set(rc, "name", "ent", &err), 0);
        assert_int_equal(recipe_set(rc, "version", "1.0", &err), 0);
        assert_int_equal(recipe_set(rc, "serial", "5", &err), 0);
        assert_int_equal(recipe_set(rc, "time", "2026-09-01", &err), 0);
        return rc;
}

/* Build into out (relative to tmpdir); returns the build's result. */
static int build(const struct recipe *rc, const char *out, struct cart_error *err) {
        _cleanup_free_ char *path = tmp_path(out);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int r;

        assert_true(fd >= 0);
        free(notes);
        notes = NULL;
        r = release_build(rc, key, fd, tmpdir, on_note, NULL, err);
        close(fd);
        return r;
}

static void set(struct recipe *rc, const char *option, const char *value) {
        struct cart_error err = {};
        _cleanup_free_ char *full = NULL;

        if (streq(option, "bundle")) {
                full = tmp_path(value);
                value = full;
        }
        assert_int_equal(recipe_set(rc, option, value, &err), 0);
}

static void test_build_and_open(void **state) {
        _cleanup_(recipe_freep) struct recipe *rc = base_recipe();
        _cleanup_(release_unrefp) struct release *rel = NULL;
        _cleanup_free_ char *out = tmp_path("a.cart"), *out2 = tmp_path("b.cart"), *cmd = NULL;
        struct cart_error err = {};
        const struct manifest *m;
        const struct release_file *f;
        char buf[64] = {};

        sh("mkdir -p one/Cours two && printf 'base' > one/index.html && printf 'maths' > one/Cours/maths.txt"
           " && printf 'new index' > two/index.html && bsdtar -cf two.tar -C two index.html");
        set(rc, "bundle", "one");
        set(rc, "bundle", "two.tar");
        set(rc, "sealed", "Cours");
        set(rc, "hidden", "Cours");
        set(rc, "directory", "Mes documents");
        assert_int_equal(build(rc, "a.cart", &err), 0);
        assert_non_null(strstr(notes, "two.tar replaces index.html of"));

        assert_int_equal(release_open(out, trust, 0, &rel, &err), 0);
        m = release_manifest(rel);
        assert_true(manifest_is_verified(m));
        assert_string_equal(manifest_name(m), "ent");
        assert_int_equal(manifest_serial(m), 5);
        assert_int_equal(manifest_n_files(m), 4);
        assert_string_equal(manifest_file(m, 0)->path, "Cours");
        assert_int_equal(manifest_file(m, 0)->attrs, FAT_ATTR_HIDDEN);
        assert_string_equal(manifest_file(m, 2)->path, "Mes documents");
        f = manifest_find(m, "INDEX.HTML");
        assert_non_null(f);
        assert_int_equal(f->size, 9);
        assert_int_equal(release_read(rel, buf, f->size, f->data_offset), 0);
        assert_string_equal(buf, "new index");
        f = manifest_find(m, "cours/maths.txt");
        assert_int_equal(f->attrs, FAT_ATTR_HIDDEN);
        assert_int_equal(release_read(rel, buf, f->size, f->data_offset), 0);
        assert_memory_equal(buf, "maths", 5);
        assert_int_equal(release_read(rel, buf, 16, UINT64_MAX - 4), -ENODATA);

        /* Deterministic: the same inputs give the same bytes. */
        assert_int_equal(build(rc, "b.cart", &err), 0);
        assert_true(asprintf(&cmd, "cmp -s %s %s", out, out2) > 0);
        assert_int_equal(system(cmd), 0);
}

static void test_open_refusals(void **state) {
        _cleanup_(recipe_freep) struct recipe *rc = base_recipe();
        _cleanup_(release_unrefp) struct release *rel = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *other = NULL;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *other_key = NULL;
        _cleanup_free_ char *out = tmp_path("t.cart"), *pub = tmp_path("other.pub");
        struct cart_error err = {};

        sh("mkdir -p t && printf 'payload-payload' > t/file.txt");
        set(rc, "bundle", "t");
        assert_int_equal(build(rc, "t.cart", &err), 0);

        assert_int_equal(release_open(out, NULL, 0, &rel, &err), -ENOKEY);
        assert_int_equal(release_open(out, NULL, RELEASE_OPEN_UNVERIFIED, &rel, &err), 0);
        assert_false(manifest_is_verified(release_manifest(rel)));
        rel = release_unref(rel);

        assert_int_equal(sign_key_generate(&other_key), 0);
        assert_int_equal(sign_public_key_save(other_key, pub, &err), 0);
        assert_int_equal(sign_trust_new(&other), 0);
        assert_true(sign_trust_add_path(other, pub, &err) >= 0);
        assert_int_equal(release_open(out, other, 0, &rel, &err), -ENOKEY);

        /* A payload byte changed: caught by its hash, not without it. */
        sh("cp t.cart p.cart && off=$(grep -abo payload-payload p.cart | cut -d: -f1) &&"
           " printf X | dd of=p.cart bs=1 seek=$off conv=notrunc status=none");
        free(out);
        out = tmp_path("p.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.msg, "file.txt: content differs"));
        assert_int_equal(err.reason, CART_REASON_TAMPERED);
        assert_string_equal(err.label, "file.txt");
        assert_int_equal(release_open(out, trust, RELEASE_OPEN_SKIP_HASH, &rel, &err), 0);
        rel = release_unref(rel);

        /* A manifest byte changed: the signature fails first. */
        sh("cp t.cart m.cart && off=$(grep -abo '\"serial\": 5' m.cart | cut -d: -f1) &&"
           " printf 6 | dd of=m.cart bs=1 seek=$((off + 10)) conv=notrunc status=none");
        free(out);
        out = tmp_path("m.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EKEYREJECTED);

        /* Anything after the archive, or an extra member, is refused. */
        sh("cp t.cart x.cart && printf junk >> x.cart");
        free(out);
        out = tmp_path("x.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EBADMSG);
        sh("mkdir -p extra && cd extra && bsdtar -xf ../t.cart && printf evil > evil.exe &&"
           " bsdtar --format ustar -cf ../e.cart manifest.json manifest.json.minisig file.txt evil.exe");
        free(out);
        out = tmp_path("e.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "evil.exe: not in the signed manifest"));
        /* Repacked by another tar (pax times added), or with a link inside: refused. */
        sh("cd extra && bsdtar --format pax -cf ../pax.cart manifest.json manifest.json.minisig file.txt &&"
           " ln -sf /etc/passwd link && bsdtar --format ustar -cf ../link.cart manifest.json manifest.json.minisig link");
        free(out);
        out = tmp_path("pax.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "unexpected extended header"));
        free(out);
        out = tmp_path("link.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "member of type '2'"));
        /* Truncated. */
        sh("head -c 1500 t.cart > short.cart");
        free(out);
        out = tmp_path("short.cart");
        assert_int_equal(release_open(out, trust, 0, &rel, &err), -EBADMSG);
}

/* Random byte flips anywhere in a release: an error with a message, never a crash (ASan). */
static void test_open_flips(void **state) {
        _cleanup_(recipe_freep) struct recipe *rc = base_recipe();
        _cleanup_free_ char *out = tmp_path("f.cart"), *data = NULL;
        struct cart_error err = {};
        struct stat st;
        int fd;

        sh("mkdir -p fl/d && printf 'un deux trois' > fl/d/a.txt && printf 'quatre' > 'fl/é.txt'");
        set(rc, "bundle", "fl");
        assert_int_equal(build(rc, "f.cart", &err), 0);
        fd = open(out, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0 && fstat(fd, &st) == 0);
        data = malloc((size_t) st.st_size);
        assert_int_equal(pread_full(fd, data, (size_t) st.st_size, 0), 0);
        srand(7);
        for (int i = 0; i < 400; i++) {
                struct release *rel = NULL;
                off_t at = rand() % st.st_size;
                uint8_t c = (uint8_t) (data[at] ^ (1 + rand() % 255));
                int r;

                assert_int_equal(pwrite_full(fd, &c, 1, (uint64_t) at), 0);
                err = (struct cart_error) {};
                r = release_open(out, i % 2 ? trust : NULL, i % 2 ? 0 : RELEASE_OPEN_UNVERIFIED, &rel, &err);
                if (r < 0)      /* explained: a reason code with its arguments, or free text */
                        assert_true(err.reason != CART_REASON_NONE || err.msg[0] != 0);
                release_unref(rel);
                assert_int_equal(pwrite_full(fd, &data[at], 1, (uint64_t) at), 0);
        }
        close(fd);
}

static void expect_build_error(struct recipe *rc, int want, const char *in_msg) {
        struct cart_error err = {};
        int r = build(rc, "bad.cart", &err);

        if (r != want || !strstr(err.msg, in_msg))
                fail_msg("got %d \"%s\", expected %d \"%s\"", r, err.msg, want, in_msg);
}

static void test_build_refusals(void **state) {
        struct recipe *rc;

        sh("mkdir -p c1 c2 c3 && printf a > c1/Readme.txt && printf b > c2/README.TXT && mkdir -p c3/Readme.txt");
        rc = base_recipe();
        set(rc, "bundle", "c1");
        set(rc, "bundle", "c2");
        expect_build_error(rc, -EEXIST, "README.TXT: same name on FAT as Readme.txt");
        recipe_free(rc);
        rc = base_recipe();
        set(rc, "bundle", "c1");
        set(rc, "bundle", "c3");
        expect_build_error(rc, -EEXIST, "Readme.txt: a directory here, a file in");
        recipe_free(rc);

        sh("mkdir -p l && printf '<a href=\"https://ent.example.fr/x\">ok</a> <a href=\"http://evil.example.com/y\">no</a>' > l/page.html");
        rc = base_recipe();
        set(rc, "bundle", "l");
        set(rc, "allow-domain", "example.fr");
        expect_build_error(rc, -EINVAL, "page.html: link to http://evil.example.com/y");
        recipe_free(rc);

        sh("mkdir -p ar && printf '[autorun]\\r\\nicon=a.ico\\r\\nopen=setup.exe\\r\\n' > ar/AUTORUN.INF");
        rc = base_recipe();
        set(rc, "bundle", "ar");
        expect_build_error(rc, -EINVAL, "AUTORUN.INF: line 3: \"open\" would start a program");
        recipe_free(rc);

        sh("mkdir -p tp && printf 'go to @ENT_URL@ or @OTHER@' > tp/index.html");
        rc = base_recipe();
        set(rc, "bundle", "tp");
        set(rc, "template", "index.html");
        set(rc, "set", "ENT_URL=https://ent.example.fr/");
        expect_build_error(rc, -EINVAL, "index.html: @OTHER@ is not defined");
        recipe_free(rc);

        sh("printf 'Cette clé appartient à @FIRST_NAME@, INE @INE@\\n' > owner-bad.txt");
        rc = base_recipe();
        set(rc, "bundle", "c1");
        set(rc, "owner-template", "owner-bad.txt");
        set(rc, "owner-path", "A MOI.txt");
        free(rc->owner_template);
        rc->owner_template = tmp_path("owner-bad.txt");
        expect_build_error(rc, -EINVAL, "@INE@: personal data");
        recipe_free(rc);

        rc = base_recipe();
        set(rc, "bundle", "c1");
        set(rc, "sealed", "Docs");
        expect_build_error(rc, -EINVAL, "sealed Docs: not in the bundles");
        recipe_free(rc);

        /* 4000 names of 200 characters take 68000 directory entries: more than FAT allows. */
        sh("mkdir -p wide/d && cd wide/d && seq 1 4000 | sed \"s/^/$(printf '%%0200d' 0)-/\" | xargs touch");
        rc = base_recipe();
        set(rc, "bundle", "wide");
        expect_build_error(rc, -E2BIG, "d: too many entries for one FAT directory");
        recipe_free(rc);

        /* 62 MiB cannot fit a 64 MiB key once FATs and alignment are counted. */
        sh("mkdir -p big && truncate -s 62M big/video.mp4");
        rc = base_recipe();
        set(rc, "bundle", "big");
        set(rc, "min-size", "64M");
        expect_build_error(rc, -ENOSPC, "a 64.0 MiB key holds about");
        recipe_free(rc);
}

static void test_owner_and_rollback(void **state) {
        _cleanup_(recipe_freep) struct recipe *rc = base_recipe();
        _cleanup_(release_unrefp) struct release *rel = NULL;
        _cleanup_free_ char *out = tmp_path("o.cart"), *tpl = tmp_path("owner.txt"), *state_dir = tmp_path("state");
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct owner_fields fields = { .first_name = "Léa", .class_name = "5e B", .school = "Collège Jean Moulin" };
        struct cart_error err = {};
        const struct manifest *m;
        size_t len;

        sh("mkdir -p ow state && printf x > ow/index.html && printf 'Appartient à @FIRST_NAME@ (@CLASS@), @SCHOOL@\\n' > owner.txt");
        set(rc, "bundle", "ow");
        assert_int_equal(recipe_set(rc, "owner-template", tpl, &err), 0);
        set(rc, "owner-path", "CETTE CLE APPARTIENT A.txt");
        assert_int_equal(build(rc, "o.cart", &err), 0);
        assert_int_equal(release_open(out, trust, 0, &rel, &err), 0);
        m = release_manifest(rel);
        assert_true(manifest_is_personalised(m));
        assert_string_equal(manifest_owner_path(m), "CETTE CLE APPARTIENT A.txt");
        assert_int_equal(release_render_owner(rel, &fields, &path, &text, &len, &err), 0);
        assert_string_equal(path, "CETTE CLE APPARTIENT A.txt");
        assert_string_equal(text, "Appartient à Léa (5e B), Collège Jean Moulin\n");
        assert_int_equal(len, strlen(text));
        fields.school = NULL;
        assert_int_equal(release_render_owner(rel, &fields, &path, &text, &len, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "@SCHOOL@"));

        /* Rollback: serial 5 recorded; 5 again is fine, 4 is stale unless forced. */
        assert_int_equal(release_check_rollback(state_dir, m, false, &err), 0);
        assert_int_equal(release_record_serial(state_dir, m, &err), 0);
        assert_int_equal(release_check_rollback(state_dir, m, false, &err), 0);
        ((struct manifest *) m)->serial = 4;
        assert_int_equal(release_check_rollback(state_dir, m, false, &err), -ESTALE);
        assert_int_equal(err.reason, CART_REASON_ROLLBACK);
        assert_int_equal(err.value, 4);                 /* this release, then the mark */
        assert_int_equal(err.limit, 5);
        assert_non_null(strstr(ERROR_TEXT(&err, -ESTALE), "has serial 4, older than serial 5"));
        assert_int_equal(release_check_rollback(state_dir, m, true, &err), 0);
        /* Recording an older one never lowers the mark. */
        assert_int_equal(release_record_serial(state_dir, m, &err), 0);
        sh("grep -qx 'ent 5' state/release-serials");

        /* A state directory that does not exist yet is created with its parents, never
         * taken for a file; a file in its place is an error. */
        _cleanup_free_ char *new_dir = tmp_path("new/state"), *not_dir = tmp_path("notadir");
        assert_int_equal(release_check_rollback(new_dir, m, false, &err), 0);
        assert_int_equal(release_record_serial(new_dir, m, &err), 0);
        sh("test -d new/state && grep -qx 'ent %" PRIu64 "' new/state/release-serials", manifest_serial(m));
        sh("printf x > notadir");
        assert_int_equal(release_check_rollback(not_dir, m, false, &err), -ENOTDIR);
        assert_non_null(strstr(err.msg, "notadir"));
}

static int setup(void **state) {
        _cleanup_free_ char *pub = NULL;
        struct cart_error err = {};

        setlocale(LC_CTYPE, "C.UTF-8");
        if (!mkdtemp(tmpdir) || sign_key_generate(&key) < 0 || sign_trust_new(&trust) < 0)
                return -1;
        pub = tmp_path("k.pub");
        if (sign_public_key_save(key, pub, &err) < 0 || sign_trust_add_path(trust, pub, &err) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = NULL;

        sign_secret_key_free(key);
        sign_trust_free(trust);
        free(notes);
        if (asprintf(&cmd, "rm -rf %s", tmpdir) > 0)
                (void) system(cmd);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build_and_open),
                cmocka_unit_test(test_open_refusals),
                cmocka_unit_test(test_open_flips),
                cmocka_unit_test(test_build_refusals),
                cmocka_unit_test(test_owner_and_rollback),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
