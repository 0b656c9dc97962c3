/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <strings.h>

#include "base/error.h"
#include "fat/fat.h"
#include "flash/flash.h"
#include "release-fixture.h"
#include "flash/verify.h"

#define KEY (96 * MIB)

/* A key image flashed with the fixture's release. */
static int flashed(const struct fixture *f, const char *name) {
        int fd = fixture_image(f, name, KEY);
        struct flash_target t = { .fd = fd, .size = KEY, .sector_size = 512, .is_new = true };
        struct flash_options o = { .release = f->release, .has_volume_id = true, .volume_id = 0x12345678 };
        struct flash_report rep;
        struct cart_error err = {};

        if (flash_key(&t, &o, &rep, &err) < 0)
                fail_msg("flash_key: %s", err.msg);
        return fd;
}

/* Where a file's first byte lies in the image. */
static uint64_t file_offset(int fd, const char *path) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        struct fat_volume_info vi;
        struct fat_dirent de;
        uint64_t at;

        assert_int_equal(verify_open_volume(fd_read_at, (void *) (intptr_t) fd, KEY, &fr, NULL, NULL, NULL), 0);
        assert_int_equal(fat_reader_info(fr, &vi), 0);
        assert_int_equal(fat_reader_stat(fr, path, &de, NULL), 0);
        at = vi.data_offset + (uint64_t) (de.first_cluster - 2) * vi.cluster_size;
        fat_dirent_clear(&de);
        return at;
}

static void flip(int fd, uint64_t at) {
        uint8_t b;
        assert_int_equal(pread_full(fd, &b, 1, at), 0);
        b ^= 0x40;
        assert_int_equal(pwrite_full(fd, &b, 1, at), 0);
}

/* Mark a root directory entry and its long-name entries deleted, as a FAT driver would. */
static void delete_entry(int fd, const char short_name[11]) {
        uint64_t root = file_offset(fd, "");
        uint8_t dir[4096];
        size_t i;

        assert_int_equal(pread_full(fd, dir, sizeof(dir), root), 0);
        for (i = 0; i + 32 <= sizeof(dir); i += 32)
                if (memcmp(dir + i, short_name, 11) == 0)
                        break;
        if (i + 32 > sizeof(dir)) {
                fail_msg("no entry %.11s in the root directory", short_name);
                return;
        }
        for (size_t k = i; k + 32 <= sizeof(dir); k -= 32) {
                dir[k] = 0xE5;
                if (k < 32 || dir[k - 32 + 11] != FAT_ATTR_LFN)
                        break;
        }
        assert_int_equal(pwrite_full(fd, dir, sizeof(dir), root), 0);
}

static void test_intact(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "intact.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        struct cart_error err = {};

        if (verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, f->trust, &v, &err) < 0)
                fail_msg("verify_key: %s", err.msg);
        assert_true(verify_result_is_intact(v));
        assert_int_equal(v->n_entries, 0);
        assert_int_equal(v->n_files_checked, 3);
        assert_int_equal(v->bytes_checked, MIB + 70000 + 10);
        assert_string_equal(v->release_name, "college");
        assert_int_equal(v->release_serial, 1);
        assert_string_equal(v->label, "COLLEGE");
        assert_int_equal(v->volume_id, 0x12345678);
        assert_int_equal(v->volume_offset, MIB);
        assert_non_null(v->key_json);
        assert_non_null(strstr(v->key_json, "\"volume_id\":\"1234-5678\""));
}

/* Same size, one bit changed: only the SHA-256 can tell. */
static void test_content_change(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "changed.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        struct cart_error err = {};

        flip(fd, file_offset(fd, "Outils/outil.bin") + 123456);
        assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, f->trust, &v, &err), 0);
        assert_false(verify_result_is_intact(v));
        assert_int_equal(v->n_modified, 1);
        assert_int_equal(v->n_entries, 1);
        assert_string_equal(v->entries[0].path, "Outils/outil.bin");
        assert_int_equal(v->entries[0].status, VERIFY_MODIFIED);
        assert_int_equal(v->entries[0].actual_size, MIB);
}

static void test_tampered_manifest_and_untrusted(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "tampered.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *empty = NULL;
        struct cart_error err = {};

        assert_int_equal(sign_trust_new(&empty), 0);
        assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, empty, &v, &err), -ENOKEY);
        flip(fd, file_offset(fd, ".cartable/manifest.json") + 20);
        assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, f->trust, &v, &err), -EKEYREJECTED);
        assert_null(v);
}

static void test_not_a_key(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = fixture_image(f, "blank.img", KEY);
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        struct cart_error err = {};

        assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, f->trust, &v, &err), -EMEDIUMTYPE);
        assert_non_null(strstr(err.msg, "not a cartable key"));
        /* A FAT volume without /.cartable/ is not a cartable key either. */
        close(fd);
        fd = flashed(f, "plain.img");
        delete_entry(fd, "CARTAB~1   ");
        assert_int_equal(verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, f->trust, &v, &err), -EMEDIUMTYPE);
}

/* An empty file (no cluster) added to a directory's first free slot, as a pupil's PC would. */
static void add_empty_file(int fd, const char *dir_path, const char short_name[11]) {
        uint64_t dir = file_offset(fd, dir_path);
        uint8_t entries[4096];
        size_t i;

        assert_int_equal(pread_full(fd, entries, sizeof(entries), dir), 0);
        for (i = 0; i + 32 <= sizeof(entries); i += 32)
                if (entries[i] == 0x00)
                        break;
        assert_true(i + 32 <= sizeof(entries));
        memset(entries + i, 0, 32);
        memcpy(entries + i, short_name, 11);
        entries[i + 11] = FAT_ATTR_ARCHIVE;
        assert_int_equal(pwrite_full(fd, entries, sizeof(entries), dir), 0);
}

static struct verify_result *verified(const struct fixture *f, int fd) {
        struct verify_result *v = NULL;
        struct cart_error err = {};

        if (verify_key(fd_read_at, (void *) (intptr_t) fd, KEY, f->trust, &v, &err) < 0)
                fail_msg("verify_key: %s", err.msg);
        return v;
}

/* A file added in a sealed directory: reported as sealed, alone, and the key not intact. */
static void expect_sealed(const struct fixture *f, const char *image, const char *dir,
                          const char short_name[11], const char *path) {
        _cleanup_close_ int fd = flashed(f, image);
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;

        add_empty_file(fd, dir, short_name);
        v = verified(f, fd);
        assert_false(verify_result_is_intact(v));
        assert_int_equal(v->n_sealed, 1);
        assert_int_equal(v->n_extra + v->n_missing + v->n_modified, 0);
        assert_int_equal(v->n_entries, 1);
        assert_int_equal(strcasecmp(v->entries[0].path, path), 0);
        assert_int_equal(v->entries[0].status, VERIFY_SEALED);
        assert_string_equal(verify_status_to_string(v->entries[0].status), "sealed");
}

/* Cours is sealed in the fixture; /.cartable/ is cartable's own and sealed as well. */
static void test_sealed_directories_refuse_extra(void **state) {
        expect_sealed(*state, "sealed.img", "Cours", "TRICHE  TXT", "Cours/triche.txt");
        expect_sealed(*state, "slipped.img", ".cartable", "SLIPPED TXT", ".cartable/slipped.txt");
}

/* The same file elsewhere is the pupil's own: reported, allowed; the key stays intact. */
static void test_unsealed_directories_allow_extra(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "unsealed.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;

        add_empty_file(fd, "Outils", "TRICHE  TXT");
        add_empty_file(fd, "", "COURS2  TXT");     /* a name that begins like the sealed one */
        v = verified(f, fd);
        assert_true(verify_result_is_intact(v));
        assert_int_equal(v->n_extra, 2);
        assert_int_equal(v->n_sealed, 0);
        assert_int_equal(v->n_entries, 2);
        for (size_t i = 0; i < v->n_entries; i++)
                assert_int_equal(v->entries[i].status, VERIFY_EXTRA);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_intact),
                cmocka_unit_test(test_content_change),
                cmocka_unit_test(test_tampered_manifest_and_untrusted),
                cmocka_unit_test(test_not_a_key),
                cmocka_unit_test(test_sealed_directories_refuse_extra),
                cmocka_unit_test(test_unsealed_directories_allow_extra),
        };
        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
