/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * update_key on keys flashed with release A ("college" serial 1) and brought to B (serial
 * 2) or repaired: the plan for every kind of change, the pupil's files kept byte for byte,
 * refusals that write nothing, and a cut at every write (fsck.fat -n, mtools and verify on
 * each, then the same update run again finishes it).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/config.h"
#include "base/hash.h"
#include "fat/fat.h"
#include "flash/flash.h"
#include "flash/update.h"
#include "flash/verify.h"
#include "station/station.h"
#include <locale.h>

#include "fat-test.h"
#include "release-fixture.h"

#define KEY (64 * MIB)

struct world {
        char dir[64];
        struct sign_trust *trust;
        struct release *a, *b, *a_other_name;
        struct release *c, *d;          /* 40 files; d changes 5 % of them, a year later */
        const char *time;               /* the next build's */
        uint8_t *flashed;               /* A on a key, with the pupil's files */
        uint64_t volume_offset, volume_size;
};

static struct world w;

/* The key in memory; a test can make the n-th write fail (a cut). */
static uint8_t *key;
static int writes, fail_at = -1;
static uint64_t bytes_read;     /* through key_read */

static int key_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        (void) userdata;
        bytes_read += len;
        if (offset > KEY || len > KEY - offset)
                return -ENODATA;
        memcpy(buf, key + offset, len);
        return 0;
}

static int key_write(void *userdata, const void *buf, size_t len, uint64_t offset) {
        (void) userdata;
        if (writes++ == fail_at)
                return -EIO;
        if (offset > KEY || len > KEY - offset)
                return -ENOSPC;
        memcpy(key + offset, buf, len);
        return 0;
}

static void put(const char *dir, const char *name, const void *data, size_t len) {
        char p[512], *slash;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        for (slash = strchr(p + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = 0;
                mkdir(p, 0755);
                *slash = '/';
        }
        fixture_write(dir, name, data, len);
}

static uint8_t *pattern(size_t len, unsigned seed) {
        uint8_t *p = malloc(len ? len : 1);

        assert_non_null(p);
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t) (i * 31 + seed + (i >> 9));
        return p;
}

static void put_pattern(const char *dir, const char *name, size_t len, unsigned seed) {
        uint8_t *p = pattern(len, seed);
        put(dir, name, p, len);
        free(p);
}

static struct release *build(const struct sign_secret_key *k, const char *name, const char *content,
                             const char *serial, const char *version) {
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct release *rel = NULL;
        struct cart_error err = {};
        char p[256], t[256];
        int fd;

        snprintf(t, sizeof(t), "%s/owner.txt", w.dir);
        static const char owner[] = "Cette clé appartient à @FIRST_NAME@ @LAST_NAME@, @CLASS@\n";

        fixture_write(w.dir, "owner.txt", owner, strlen(owner));
        assert_int_equal(recipe_new(&rc), 0);
        assert_int_equal(recipe_set(rc, "name", name, &err), 0);
        assert_int_equal(recipe_set(rc, "version", version, &err), 0);
        assert_int_equal(recipe_set(rc, "serial", serial, &err), 0);
        assert_int_equal(recipe_set(rc, "min-size", "64M", &err), 0);
        assert_int_equal(recipe_set(rc, "sealed", "Cours", &err), 0);
        assert_int_equal(recipe_set(rc, "label", "COLLEGE", &err), 0);
        assert_int_equal(recipe_set(rc, "time", w.time ? w.time : "2026-09-01T00:00:00Z", &err), 0);
        assert_int_equal(recipe_set(rc, "owner-template", t, &err), 0);
        assert_int_equal(recipe_set(rc, "owner-path", "A qui est cette cle.txt", &err), 0);
        snprintf(p, sizeof(p), "%s/%s", w.dir, content);
        assert_int_equal(recipe_set(rc, "bundle", p, &err), 0);
        snprintf(p, sizeof(p), "%s/%s-%s.cart", w.dir, name, serial);
        fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        if (release_build(rc, k, fd, w.dir, NULL, NULL, &err) < 0)
                fail_msg("release_build: %s", err.msg);
        close(fd);
        if (release_open(p, w.trust, 0, &rel, &err) < 0)
                fail_msg("release_open: %s", err.msg);
        return rel;
}

/* A: what B changes, drops, keeps and renames in case. */
static void content_a(const char *d) {
        put(d, "a/Cours/intro.txt", "Bienvenue\n", 10);
        put_pattern(d, "a/Cours/fiche.pdf", 70000, 1);
        put(d, "a/Cours/Vieux/ancien.txt", "2025\n", 5);
        put_pattern(d, "a/Outils/outil.bin", MIB, 2);
        put(d, "a/Outils/lisez-moi.TXT", "Lisez-moi\n", 10);
        put(d, "a/Docs/retiré.txt", "parti\n", 6);
        put(d, "a/Docs/GARDE.TXT", "reste\n", 6);
}

static void content_b(const char *d) {
        put(d, "b/Cours/intro.txt", "Bienvenue en 2027\n", 18);
        put_pattern(d, "b/Cours/fiche.pdf", 70000, 1);
        put(d, "b/Cours/Nouveau/exercice avec un nom long.txt", "exercice\n", 9);
        put_pattern(d, "b/Outils/outil.bin", MIB, 2);
        put(d, "b/Outils/LISEZ-MOI.txt", "Lisez-moi\n", 10);
        put_pattern(d, "b/Outils/nouveau.bin", 200000, 3);
        put(d, "b/Docs/GARDE.TXT", "reste\n", 6);
        put(d, "b/Aide.txt", "De l'aide\n", 10);
}

/* C: 40 course files of 48 KiB; D a year later: one changed, one added, one dropped. */
#define CD_FILES 40
#define CD_SIZE (48 * KIB)

static void content_cd(const char *d) {
        char name[64];

        for (unsigned i = 1; i <= CD_FILES; i++) {
                snprintf(name, sizeof(name), "c/Cours/c%u.bin", i);
                put_pattern(d, name, CD_SIZE, i);
                snprintf(name, sizeof(name), "d/Cours/c%u.bin", i);
                if (i < CD_FILES)
                        put_pattern(d, name, CD_SIZE, i == 1 ? 100 : i);
        }
        put_pattern(d, "d/Cours/nouveau.bin", CD_SIZE, 101);
}

static void flash_a(struct release *rel, int fd) {
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_new = true };
        struct owner_fields owner = { "Léa", "Martin", "6e B", "Collège Jean Moulin" };
        struct flash_options o = { .release = rel, .has_volume_id = true, .volume_id = 0x12345678,
                                   .time = 1788000000, .owner = &owner };
        struct flash_report rep;
        struct cart_error err = {};

        if (flash_key(&t, &o, &rep, &err) < 0)
                fail_msg("flash_key: %s", err.msg);
        w.volume_offset = rep.partition_offset;
        w.volume_size = rep.partition_size;
}

static struct fat_editor *editor(void) {
        struct fat_editor *ed = NULL;
        struct cart_error err = {};

        if (fat_editor_open(key_read, key_write, NULL, w.volume_offset, w.volume_size, &ed, &err) < 0)
                fail_msg("fat_editor_open: %s", err.msg);
        return ed;
}

/* The pupil's own files: one beside the release's, one where B puts Aide.txt, one in sealed Cours. */
static const char pupil_work[] = "Ma rédaction, premier jet.\n";
static const char pupil_aide[] = "mes notes d'aide\n";
static const char pupil_sealed[] = "caché ici\n";

static void add_pupil_files(void) {
        _cleanup_(fat_editor_freep) struct fat_editor *ed = editor();
        struct cart_error err = {};

        assert_int_equal(fat_editor_mkdir(ed, "Mes devoirs", 0, 1790000000, &err), 0);
        assert_int_equal(fat_editor_put_file(ed, "Mes devoirs/rédaction.odt", pupil_work, strlen(pupil_work), 0,
                                             1790000000, &err), 0);
        assert_int_equal(fat_editor_put_file(ed, "AIDE.TXT", pupil_aide, strlen(pupil_aide), 0, 1790000000, &err), 0);
        assert_int_equal(fat_editor_put_file(ed, "Cours/perso.txt", pupil_sealed, strlen(pupil_sealed), 0, 1790000000,
                                             &err), 0);
}

static int setup(void **state) {
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        struct cart_error err = {};
        char p[256];
        int fd;

        (void) state;
        strcpy(w.dir, "/var/tmp/test-update.XXXXXX");
        assert_non_null(mkdtemp(w.dir));
        content_a(w.dir);
        content_b(w.dir);
        content_cd(w.dir);
        assert_int_equal(sign_key_generate(&k), 0);
        snprintf(p, sizeof(p), "%s/dep.pub", w.dir);
        assert_true(sign_public_key_save(k, p, &err) >= 0);
        assert_int_equal(sign_trust_new(&w.trust), 0);
        assert_true(sign_trust_add_path(w.trust, p, &err) >= 0);
        w.a = build(k, "college", "a", "1", "2026.1");
        w.b = build(k, "college", "b", "2", "2027.1");
        w.a_other_name = build(k, "lycee", "b", "3", "2027.1");
        w.c = build(k, "ecole", "c", "1", "2026.1");
        w.time = "2027-09-01T00:00:00Z";
        w.d = build(k, "ecole", "d", "2", "2027.1");
        w.time = NULL;
        snprintf(p, sizeof(p), "%s/key.img", w.dir);
        fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, KEY), 0);
        flash_a(w.a, fd);
        key = malloc(KEY);
        w.flashed = malloc(KEY);
        assert_non_null(key);
        assert_non_null(w.flashed);
        assert_int_equal(pread_full(fd, key, KEY, 0), 0);
        close(fd);
        add_pupil_files();
        memcpy(w.flashed, key, KEY);
        return 0;
}

static int teardown(void **state) {
        char cmd[256];

        (void) state;
        release_unref(w.a);
        release_unref(w.b);
        release_unref(w.a_other_name);
        release_unref(w.c);
        release_unref(w.d);
        sign_trust_free(w.trust);
        free(key);
        free(w.flashed);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w.dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static int reset(void **state) {
        (void) state;
        memcpy(key, w.flashed, KEY);
        writes = 0;
        fail_at = -1;
        return 0;
}

/* ---- checks ---- */

static int run_update_check(struct release *rel, bool is_repair, bool is_dry_run, enum update_check check,
                            struct update_report **ret, struct cart_error *err) {
        struct update_options o = { .release = rel, .trust = w.trust, .is_repair = is_repair,
                                    .is_dry_run = is_dry_run, .check = check, .time = 1800000000 };
        return update_key(key_read, key_write, NULL, KEY, &o, ret, err);
}

static int run_update(struct release *rel, bool is_repair, bool is_dry_run, struct update_report **ret,
                      struct cart_error *err) {
        return run_update_check(rel, is_repair, is_dry_run, UPDATE_CHECK_DEFAULT, ret, err);
}

static struct update_report *update_check_ok(struct release *rel, bool is_repair, enum update_check check) {
        struct update_report *rep = NULL;
        struct cart_error err = {};

        if (run_update_check(rel, is_repair, false, check, &rep, &err) < 0)
                fail_msg("update: %s", err.msg);
        return rep;
}

static struct update_report *update_ok(struct release *rel, bool is_repair) {
        return update_check_ok(rel, is_repair, UPDATE_CHECK_DEFAULT);
}

static struct verify_result *verified(void) {
        struct verify_result *v = NULL;
        struct cart_error err = {};

        int r = verify_key(key_read, NULL, KEY, w.trust, &v, &err);

        if (r < 0)
                fail_msg("verify: %s (%d, write %d)", err.msg, r, fail_at);
        return v;
}

static int read_key_file(const char *path, struct buf *ret) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_error err = {};

        assert_int_equal(verify_open_volume(key_read, NULL, KEY, &r, NULL, NULL, &err), 0);
        *ret = (struct buf) {};
        return fat_reader_read_file(r, path, buf_sink, ret, &err);
}

static void check_file(const char *path, const void *data, size_t len) {
        struct buf b;

        if (read_key_file(path, &b) < 0)
                fail_msg("%s: not on the key", path);
        assert_int_equal(b.len, len);
        assert_memory_equal(b.data, data, len);
        free(b.data);
}

static bool is_on_key(const char *path) {
        struct buf b;
        int r = read_key_file(path, &b);

        free(b.data);
        return r >= 0 || r == -EISDIR;
}

static void save_volume(const char *path) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        assert_int_equal(fwrite(key + w.volume_offset, 1, w.volume_size, f), w.volume_size);
        assert_int_equal(fclose(f), 0);
}

/* fsck.fat -n on the volume: only what a cut may leave (lost clusters, the free count,
 * FATs differing on one entry); clean (its two lines) when is_clean. */
static void check_fsck(bool is_clean, int cut) {
        static const char *const known[] = {
                "fsck.fat ", "Reclaimed ", "Free cluster summary wrong", "  Auto-correcting.",
                "FATs differ but appear to be intact.", "  Using first FAT.", "Leaving filesystem unchanged.",
        };
        char path[300], cmd[400], line[512];
        int lines = 0;
        FILE *p;

        snprintf(path, sizeof(path), "%s/volume.img", w.dir);
        save_volume(path);
        snprintf(cmd, sizeof(cmd), "fsck.fat -n '%s' 2>&1", path);
        p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p)) {
                bool is_known = strstr(line, " files, ") != NULL || line[0] == '\n';
                lines++;
                for (size_t i = 0; i < ELEMENTSOF(known) && !is_known; i++)
                        is_known = strncmp(line, known[i], strlen(known[i])) == 0;
                if (!is_known || (is_clean && !strstr(line, " files, ") && strncmp(line, "fsck.fat ", 9) != 0))
                        fail_msg("cut at write %d: fsck.fat -n says \"%s\"", cut, line);
        }
        pclose(p);
        assert_true(lines >= 2);
}

/* mtools reads the pupil's file back, byte for byte. */
static void check_mtype(const char *path, const char *text) {
        char vol[300], cmd[700], out[4096];
        size_t n;
        FILE *p;

        snprintf(vol, sizeof(vol), "%s/volume.img", w.dir);
        save_volume(vol);
        snprintf(cmd, sizeof(cmd), "MTOOLS_SKIP_CHECK=1 mtype -i '%s' '::%s'", vol, path);
        p = popen(cmd, "r");
        assert_non_null(p);
        n = fread(out, 1, sizeof(out) - 1, p);
        assert_int_equal(pclose(p), 0);
        out[n] = 0;
        assert_string_equal(out, text);
}

static const struct update_action *find_action(const struct update_report *rep, enum update_kind kind,
                                               const char *path) {
        for (size_t i = 0; i < rep->n_actions; i++)
                if (rep->actions[i].kind == kind && streq(rep->actions[i].path, path))
                        return &rep->actions[i];
        return NULL;
}

static void check_pupil_files(void) {
        check_file("Mes devoirs/rédaction.odt", pupil_work, strlen(pupil_work));
        check_file("Mes documents/Déplacés par cartable/AIDE.TXT", pupil_aide, strlen(pupil_aide));
        check_file("Mes documents/Déplacés par cartable/perso.txt", pupil_sealed, strlen(pupil_sealed));
}

/* ---- tests ---- */

/* The plan of A to B: every kind of change, nothing written. */
static void test_plan(void **state) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        const struct update_action *a;
        struct cart_error err = {};

        (void) state;
        if (run_update(w.b, false, true, &rep, &err) < 0)
                fail_msg("update: %s", err.msg);
        assert_int_equal(writes, 0);
        assert_memory_equal(key, w.flashed, KEY);
        assert_non_null(find_action(rep, UPDATE_PUT, "Cours/intro.txt"));
        assert_non_null(find_action(rep, UPDATE_PUT, "Outils/nouveau.bin"));
        assert_non_null(find_action(rep, UPDATE_PUT, "Cours/Nouveau/exercice avec un nom long.txt"));
        assert_non_null(find_action(rep, UPDATE_MKDIR, "Cours/Nouveau"));
        assert_non_null(find_action(rep, UPDATE_REMOVE, "Docs/retiré.txt"));
        assert_non_null(find_action(rep, UPDATE_REMOVE, "Cours/Vieux/ancien.txt"));
        assert_non_null(find_action(rep, UPDATE_RMDIR, "Cours/Vieux"));
        /* FAT folds case: the name is written again as B spells it. */
        assert_non_null(find_action(rep, UPDATE_REMOVE, "Outils/lisez-moi.TXT"));
        assert_non_null(find_action(rep, UPDATE_PUT, "Outils/LISEZ-MOI.txt"));
        /* The pupil's files in B's way and in sealed Cours: moved, named. */
        a = find_action(rep, UPDATE_RESCUE, "AIDE.TXT");
        assert_non_null(a);
        assert_string_equal(a->to, "Mes documents/Déplacés par cartable/AIDE.TXT");
        a = find_action(rep, UPDATE_RESCUE, "Cours/perso.txt");
        assert_non_null(a);
        assert_string_equal(a->to, "Mes documents/Déplacés par cartable/perso.txt");
        /* Unchanged files are not written; the pupil's own are not touched. */
        assert_null(find_action(rep, UPDATE_PUT, "Cours/fiche.pdf"));
        assert_null(find_action(rep, UPDATE_PUT, "Outils/outil.bin"));
        assert_null(find_action(rep, UPDATE_PUT, "Docs/GARDE.TXT"));
        for (size_t i = 0; i < rep->n_actions; i++)
                assert_null(strstr(rep->actions[i].path, "Mes devoirs"));
        assert_true(rep->bytes_needed > 200000 && rep->bytes_needed < 2 * MIB);
}

static void test_update(void **state) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        uint8_t *p = pattern(200000, 3);

        (void) state;
        rep = update_ok(w.b, false);
        v = verified();
        assert_true(verify_result_is_intact(v));
        assert_string_equal(v->release_version, "2027.1");
        assert_int_equal(v->key_record.release_serial, 2);
        assert_int_equal(v->volume_id, 0x12345678);
        assert_true(v->key_record.has_owner);
        assert_string_equal(v->key_record.owner_first_name, "Léa");
        check_file("Outils/nouveau.bin", p, 200000);
        check_file("Cours/intro.txt", "Bienvenue en 2027\n", 18);
        assert_false(is_on_key("Docs/retiré.txt"));
        assert_false(is_on_key("Cours/Vieux"));
        assert_false(is_on_key(KEY_PENDING_PATH));
        check_pupil_files();
        check_fsck(true, -1);
        check_mtype("/Mes devoirs/rédaction.odt", pupil_work);
        /* What it wrote follows what changed: far less than the content. */
        assert_true(rep->bytes_written < 600 * KIB);
        assert_true(rep->bytes_read_back >= 200000);
        free(p);
        /* B again: not newer, refused. */
        reset(NULL);
}

/* Nothing written when refused: not newer, another release, a repair with another release. */
static void refused(struct release *rel, bool is_repair, int want, const char *words) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        struct cart_error err = {};

        writes = 0;
        assert_int_equal(run_update(rel, is_repair, false, &rep, &err), want);
        if (!strstr(err.msg, words))
                fail_msg("\"%s\" not in \"%s\"", words, err.msg);
        assert_int_equal(writes, 0);
        assert_memory_equal(key, w.flashed, KEY);
}

static void test_refused(void **state) {
        struct sign_trust *trust = w.trust, *other = NULL;
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        char p[256];
        struct cart_error err = {};

        (void) state;
        refused(w.a, false, -ESTALE, "not newer");
        refused(w.a_other_name, false, -EXDEV, "holds release college");
        refused(w.b, true, -ESTALE, "the key holds");
        /* The key's manifest signed by a key the station does not trust. */
        assert_int_equal(sign_key_generate(&k), 0);
        snprintf(p, sizeof(p), "%s/other.pub", w.dir);
        assert_true(sign_public_key_save(k, p, &err) >= 0);
        assert_int_equal(sign_trust_new(&other), 0);
        assert_true(sign_trust_add_path(other, p, &err) >= 0);
        w.trust = other;
        writes = 0;
        {
                _cleanup_(update_report_freep) struct update_report *rep = NULL;
                struct update_options o = { .release = w.b, .trust = other, .time = 1800000000 };
                int r = update_key(key_read, key_write, NULL, KEY, &o, &rep, &err);
                assert_true(r == -ENOKEY || r == -EKEYREJECTED);
        }
        w.trust = trust;
        sign_trust_free(other);
        assert_int_equal(writes, 0);
        assert_memory_equal(key, w.flashed, KEY);
}

/* B opened without hashing its payloads (STATION_LAZY_HASH, cartable update's): one it
 * would write that differs from the signed manifest is refused before the first write. */
static void test_tampered_payload(void **state) {
        const struct release_file *f = manifest_find(release_manifest(w.b), "Outils/nouveau.bin");
        struct release *rel = NULL;
        struct cart_error err = {};
        char src[300], dst[300], cmd[700];
        uint8_t x;
        int fd;

        (void) state;
        snprintf(src, sizeof(src), "%s/college-2.cart", w.dir);
        snprintf(dst, sizeof(dst), "%s/tampered.cart", w.dir);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
        assert_int_equal(system(cmd), 0);
        fd = open(dst, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, &x, 1, (off_t) f->data_offset + 1000), 1);
        x ^= 0x01;
        assert_int_equal(pwrite(fd, &x, 1, (off_t) f->data_offset + 1000), 1);
        close(fd);
        if (release_open(dst, w.trust, RELEASE_OPEN_SKIP_HASH, &rel, &err) < 0)
                fail_msg("release_open: %s", err.msg);
        refused(rel, false, -EKEYREJECTED, "Outils/nouveau.bin");
        release_unref(rel);
}

/* A key the pupil filled: nothing written, the bytes missing said. */
static void test_full(void **state) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_volume_info vi;
        struct cart_error err = {};
        _cleanup_free_ uint8_t *big = NULL;

        (void) state;
        assert_int_equal(verify_open_volume(key_read, NULL, KEY, &r, NULL, NULL, &err), 0);
        assert_int_equal(fat_reader_info(r, &vi), 0);
        big = calloc(1, vi.free_bytes - 100 * KIB);
        assert_non_null(big);
        {
                _cleanup_(fat_editor_freep) struct fat_editor *ed = editor();
                assert_int_equal(fat_editor_put_file(ed, "Mes devoirs/film.mp4", big, vi.free_bytes - 100 * KIB, 0,
                                                     1790000000, &err), 0);
        }
        memcpy(w.flashed, key, KEY);
        refused(w.b, false, -ENOSPC, "bytes missing");
        reset(NULL);
}

/* A key with a course deleted, one changed and one made writable: repaired against A. */
static void test_repair(void **state) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        _cleanup_(verify_result_freep) struct verify_result *before = NULL, *v = NULL;
        struct cart_error err = {};
        uint8_t *p = pattern(70000, 1);

        (void) state;
        {
                _cleanup_(fat_editor_freep) struct fat_editor *ed = editor();
                assert_int_equal(fat_editor_remove(ed, "Cours/fiche.pdf", &err), 0);
                assert_int_equal(fat_editor_put_file(ed, "Outils/lisez-moi.TXT", "changé\n", 8, 0, 1790000000, &err), 0);
                assert_int_equal(fat_editor_set_attrs(ed, "Cours/intro.txt", FAT_ATTR_HIDDEN | FAT_ATTR_ARCHIVE, &err), 0);
        }
        before = verified();
        assert_false(verify_result_is_intact(before));
        rep = update_ok(w.a, true);
        assert_non_null(find_action(rep, UPDATE_PUT, "Cours/fiche.pdf"));
        assert_true(find_action(rep, UPDATE_PUT, "Cours/fiche.pdf")->is_restore);
        assert_non_null(find_action(rep, UPDATE_PUT, "Outils/lisez-moi.TXT"));
        assert_non_null(find_action(rep, UPDATE_ATTRS, "Cours/intro.txt"));
        v = verified();
        if (!verify_result_is_intact(v))
                fail_msg("not intact: %zu missing %zu modified %zu sealed %zu attributes", v->n_missing, v->n_modified,
                         v->n_sealed, v->n_attributes);
        check_file("Cours/fiche.pdf", p, 70000);
        check_file("Mes devoirs/rédaction.odt", pupil_work, strlen(pupil_work));
        check_fsck(true, -1);
        free(p);
}

/* An update cut after every single write: the key is A, or B, or says "update interrupted";
 * the same update run again finishes it, the pupil's files whole. */
static void test_cuts(void **state) {
        int n_interrupted = 0, n_cuts = 0;

        (void) state;
        for (int cut = 0;; cut++, n_cuts++) {
                _cleanup_(update_report_freep) struct update_report *rep = NULL;
                _cleanup_(verify_result_freep) struct verify_result *v = NULL, *after = NULL;
                struct cart_error err = {};
                int r;

                reset(NULL);
                fail_at = cut;
                r = run_update(w.b, false, false, &rep, &err);
                if (writes <= cut) {         /* not cut: done */
                        assert_int_equal(r, 0);
                        break;
                }
                assert_true(r < 0);
                check_fsck(false, cut);
                v = verified();
                if (v->is_update_interrupted) {
                        assert_false(verify_result_is_intact(v));
                        assert_string_equal(v->pending_version, "2027.1");
                        n_interrupted++;
                } else if (streq(v->release_version, "2027.1"))
                        assert_true(verify_result_is_intact(v));       /* cut after the intent's removal */
                else
                        assert_string_equal(v->release_version, "2026.1");
                fail_at = -1;
                update_report_free(TAKE_PTR(rep));
                r = run_update(w.b, false, false, &rep, &err);
                /* B already, whole: nothing left to finish, and B is not newer than itself. */
                if (r == -ESTALE && !v->is_update_interrupted && streq(v->release_version, "2027.1"))
                        r = 0;
                if (r < 0)
                        fail_msg("cut at write %d, then update again: %s", cut, err.msg);
                after = verified();
                assert_true(verify_result_is_intact(after));
                assert_string_equal(after->release_version, "2027.1");
                check_pupil_files();
        }
        /* Every cut from the intent's first write to the manifest's last is "interrupted". */
        assert_true(n_interrupted > n_cuts / 2);
        check_fsck(true, -1);
}

/* A released key, without the pupil's files, into key. */
static void flash_release(struct release *rel) {
        char p[300];
        int fd;

        snprintf(p, sizeof(p), "%s/other.img", w.dir);
        fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, KEY), 0);
        flash_a(rel, fd);
        assert_int_equal(pread_full(fd, key, KEY, 0), 0);
        close(fd);
}

static uint64_t content_written(const struct update_report *rep) {
        uint64_t n = 0;

        for (size_t i = 0; i < rep->n_actions; i++)
                if (rep->actions[i].kind == UPDATE_PUT || rep->actions[i].kind == UPDATE_OWNER)
                        n += rep->actions[i].size;
        return n;
}

static void assert_intact(void) {
        _cleanup_(verify_result_freep) struct verify_result *v = verified();

        if (!verify_result_is_intact(v))
                fail_msg("not intact: %zu missing %zu modified %zu sealed %zu attributes", v->n_missing, v->n_modified,
                         v->n_sealed, v->n_attributes);
}

/*
 * C to D (5 % of the files changed, added or dropped, and a year later: every time is
 * new): the update reads back what it wrote, and the metadata, not the key. The files D
 * keeps are neither read nor written: their entries only get D's time.
 */
static void test_read_back_follows_change(void **state) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL, *again = NULL;
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_volume_info vi;
        struct cart_error err = {};
        uint64_t changed, metadata, manifest;
        const void *json;
        size_t json_len;

        (void) state;
        flash_release(w.c);
        assert_int_equal(verify_open_volume(key_read, NULL, KEY, &r, NULL, NULL, &err), 0);
        assert_int_equal(fat_reader_info(r, &vi), 0);
        release_manifest_bytes(w.d, &json, &json_len);
        manifest = json_len + strlen(release_signature_text(w.d));
        bytes_read = 0;
        rep = update_ok(w.d, false);
        changed = content_written(rep);
        assert_int_equal(changed, 2 * CD_SIZE);     /* the owner file is the same: not written */
        /* The metadata: the FAT around the chains (the reader's 64 KiB chunks: two here,
         * where the whole FAT is vi.clusters * 4 bytes), a cluster for each directory and
         * small file on the way, the manifest and its signature, the table and boot sector. */
        metadata = 2 * 64 * KIB + 8 * (uint64_t) vi.cluster_size + manifest + 8 * KIB;
        assert_true(metadata < (uint64_t) vi.clusters * 4 / 2);
        print_message("C to D: %" PRIu64 " bytes of content written, %" PRIu64 " written in all, %" PRIu64
                      " read back, %" PRIu64 " read in all, metadata bound %" PRIu64 " (clusters of %" PRIu32 ")\n", changed,
                      rep->bytes_written, rep->bytes_read_back, bytes_read, metadata, vi.cluster_size);
        assert_true(rep->bytes_read_back >= changed);
        assert_true(rep->bytes_read_back <= changed + changed / 10 + metadata);
        /* The plan read no file's content but the owner file's: 37 kept by their entries,
         * the changed one known changed (C's entry, D's content other). */
        assert_true(rep->bytes_checked < 4 * KIB);
        assert_int_equal(rep->n_trusted, CD_FILES - 2);
        assert_int_equal(rep->n_times, CD_FILES - 2);
        assert_false(rep->is_content_checked);
        assert_intact();
        check_fsck(true, -1);
        /* D's times given: a repair that trusts entries finds nothing to read or write, and
         * writes nothing at all (no intent, no key record). */
        writes = 0;
        again = update_check_ok(w.d, true, UPDATE_CHECK_QUICK);
        assert_int_equal(again->n_actions, 0);
        assert_true(again->is_intact);
        assert_int_equal(writes, 0);
        assert_int_equal(again->bytes_written, 0);
        assert_int_equal(again->n_trusted, CD_FILES);
        assert_true(again->bytes_checked < 4 * KIB);
}

/* The key buffer as an image file, for the station. */
static void key_to_file(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, key, KEY, 0), (ssize_t) KEY);
        close(fd);
}

static void file_to_key(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pread_full(fd, key, KEY, 0), 0);
        close(fd);
}

/*
 * What batch --update does to one key (station_update(), B opened lazily): C to D reads,
 * through the key's fd, what it writes and the metadata (judge, plan and read-back each
 * read it), not the files D keeps; run again, the key is intact and nothing is written.
 */
static void test_station_update_reads_what_changed(void **state) {
        _cleanup_(station_freep) struct station *s = NULL;
        _cleanup_(update_report_freep) struct update_report *rep = NULL, *none = NULL;
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct cart_config *config = NULL;
        struct flash_report report;
        struct fat_volume_info vi;
        struct cart_error err = {};
        char conf[256], text[256], img[256], rel[256];
        uint64_t changed, metadata, fat, kept = (uint64_t) (CD_FILES - 2) * CD_SIZE;
        const void *json;
        size_t json_len;
        uint8_t *before = malloc(KEY);

        (void) state;
        assert_non_null(before);
        flash_release(w.c);
        assert_int_equal(verify_open_volume(key_read, NULL, KEY, &r, NULL, NULL, &err), 0);
        assert_int_equal(fat_reader_info(r, &vi), 0);
        release_manifest_bytes(w.d, &json, &json_len);
        snprintf(img, sizeof(img), "%s/station.img", w.dir);
        snprintf(rel, sizeof(rel), "%s/ecole-2.cart", w.dir);
        snprintf(conf, sizeof(conf), "%s/station.conf", w.dir);
        snprintf(text, sizeof(text), "[station]\nstate-dir = %s/state\n", w.dir);
        fixture_write(w.dir, "station.conf", text, strlen(text));
        if (config_load(conf, &config, &err) < 0)
                fail_msg("config_load: %s", err.msg);
        if (station_new(rel, config, w.trust, STATION_LAZY_HASH, &s, &err) < 0)
                fail_msg("station_new: %s", err.msg);
        key_to_file(img);
        const struct station_key k = { .target = img, .time = 1800000000 };

        memset(&report, 0, sizeof(report));
        if (station_update(s, &k, false, UPDATE_CHECK_DEFAULT, &report, &rep, &err) != STATION_UPDATED)
                fail_msg("station_update: %s", err.msg);
        changed = content_written(rep);
        assert_int_equal(changed, 2 * CD_SIZE);
        /* As test_read_back_follows_change's bound, read three times: judge, plan, read-back;
         * and the whole FAT, which lib/fat's editor reads for its free count and scans again
         * to allocate and after its writes (on this key of 512-byte clusters, 1/128 of it). */
        metadata = 3 * (2 * 64 * KIB + 8 * (uint64_t) vi.cluster_size + json_len +
                        strlen(release_signature_text(w.d)) + 8 * KIB);
        fat = (uint64_t) vi.clusters * 4;
        print_message("station C to D: %" PRIu64 " bytes of content written, %" PRIu64 " written in all, %" PRIu64
                      " read in all through the key, metadata bound %" PRIu64 " + FAT %" PRIu64 "\n", changed,
                      rep->bytes_written, report.bytes_read_in_all, metadata, fat);
        assert_true(report.bytes_read_in_all >= changed);
        assert_true(report.bytes_read_in_all <= changed + changed / 10 + metadata + 3 * fat);
        assert_true(metadata < (uint64_t) CD_FILES * CD_SIZE / 2);
        file_to_key(img);
        assert_intact();

        /* Again: intact by its entries, nothing written, the image byte for byte as it was. */
        memcpy(before, key, KEY);
        memset(&report, 0, sizeof(report));
        assert_int_equal(station_update(s, &k, false, UPDATE_CHECK_DEFAULT, &report, &none, &err),
                         STATION_UPDATE_INTACT);
        assert_null(none);
        /* The files kept are not read: what is read is less than they hold. */
        print_message("station D again: %" PRIu64 " read in all, of %" PRIu64 " bytes of files\n",
                      report.bytes_read_in_all, kept + 2 * CD_SIZE);
        assert_true(report.bytes_read_in_all <= metadata + fat);
        assert_true(metadata + fat < kept);
        file_to_key(img);
        assert_memory_equal(key, before, KEY);
        free(before);
        config_free(config);
        unlink(img);
}

/* A course file an OS rewrote (its time, or its size, changed): the quick check reads it
 * and the update restores it. */
static void test_modified_restored(void **state) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        struct cart_error err = {};
        uint8_t *p = pattern(MIB, 2), *other = pattern(MIB, 9);

        (void) state;
        {
                _cleanup_(fat_editor_freep) struct fat_editor *ed = editor();
                assert_int_equal(fat_editor_put_file(ed, "Outils/outil.bin", other, MIB, 0, 1790000000, &err), 0);
                assert_int_equal(fat_editor_put_file(ed, "Docs/GARDE.TXT", "reste!\n", 7, 0, 1788000000, &err), 0);
        }
        rep = update_ok(w.b, false);
        assert_non_null(find_action(rep, UPDATE_PUT, "Outils/outil.bin"));
        assert_true(find_action(rep, UPDATE_PUT, "Outils/outil.bin")->is_restore);
        assert_non_null(find_action(rep, UPDATE_PUT, "Docs/GARDE.TXT"));
        check_file("Outils/outil.bin", p, MIB);
        check_file("Docs/GARDE.TXT", "reste\n", 6);
        assert_intact();
        check_pupil_files();
        free(p);
        free(other);
}

/* Bytes of a course file changed under its entry (a raw write, a failing cell). */
static void damage_outil(void) {
        _cleanup_(fat_reader_freep) struct fat_reader *r = NULL;
        struct fat_volume_info vi;
        struct fat_dirent d;
        struct cart_error err = {};

        assert_int_equal(verify_open_volume(key_read, NULL, KEY, &r, NULL, NULL, &err), 0);
        assert_int_equal(fat_reader_info(r, &vi), 0);
        assert_int_equal(fat_reader_stat(r, "Outils/outil.bin", &d, &err), 0);
        key[vi.data_offset + (uint64_t) (d.first_cluster - 2) * vi.cluster_size + 100] ^= 0xFF;
        fat_dirent_clear(&d);
}

/*
 * The trade-off, documented in cartable-update(1): bytes changed under an entry left as
 * it was are not seen by the quick check (update's default), which trusts the entry; the
 * content check (--check-content, repair's default) and verify read them.
 */
static void test_damage_under_entry(void **state) {
        uint8_t *p = pattern(MIB, 2);

        (void) state;
        damage_outil();
        {
                _cleanup_(update_report_freep) struct update_report *rep = update_ok(w.b, false);
                _cleanup_(verify_result_freep) struct verify_result *v = verified();

                assert_null(find_action(rep, UPDATE_PUT, "Outils/outil.bin"));
                assert_false(verify_result_is_intact(v));
                assert_int_equal(v->n_modified, 1);
        }
        reset(NULL);
        damage_outil();
        {
                _cleanup_(update_report_freep) struct update_report *rep = update_check_ok(w.b, false,
                                                                                         UPDATE_CHECK_CONTENT);
                assert_true(rep->is_content_checked);
                assert_non_null(find_action(rep, UPDATE_PUT, "Outils/outil.bin"));
                check_file("Outils/outil.bin", p, MIB);
                assert_intact();
        }
        reset(NULL);
        damage_outil();
        {
                _cleanup_(update_report_freep) struct update_report *quick = update_check_ok(w.a, true,
                                                                                           UPDATE_CHECK_QUICK);
                _cleanup_(update_report_freep) struct update_report *rep = NULL;

                assert_null(find_action(quick, UPDATE_PUT, "Outils/outil.bin"));
                rep = update_ok(w.a, true);        /* a repair reads every file */
                assert_true(rep->is_content_checked);
                assert_non_null(find_action(rep, UPDATE_PUT, "Outils/outil.bin"));
                check_file("Outils/outil.bin", p, MIB);
                assert_intact();
        }
        free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_plan, reset),
                cmocka_unit_test_setup(test_update, reset),
                cmocka_unit_test_setup(test_refused, reset),
                cmocka_unit_test_setup(test_tampered_payload, reset),
                cmocka_unit_test_setup(test_repair, reset),
                cmocka_unit_test_setup(test_cuts, reset),
                cmocka_unit_test_setup(test_read_back_follows_change, reset),
                cmocka_unit_test_setup(test_station_update_reads_what_changed, reset),
                cmocka_unit_test_setup(test_modified_restored, reset),
                cmocka_unit_test_setup(test_damage_under_entry, reset),
                cmocka_unit_test_setup(test_full, reset),       /* last: it fills the key kept between tests */
        };
        setlocale(LC_CTYPE, "C.UTF-8");    /* the bundles' names beyond ASCII */
        return cmocka_run_group_tests(tests, setup, teardown);
}
