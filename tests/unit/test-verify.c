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
        assert_true(v->has_key_record);
        assert_true(v->is_key_record_valid);
        assert_int_equal(v->key_record.volume_id, 0x12345678);
        assert_false(v->is_key_record_mismatch);
        assert_string_equal(v->table_problem, "");
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

static struct verify_result *verify_ok(const struct fixture *f, int fd, const char *state_dir) {
        const struct verify_options o = { .trust = f->trust, .state_dir = state_dir };
        struct verify_result *v = NULL;
        struct cart_error err = {};

        if (verify_key_with(fd_read_at, (void *) (intptr_t) fd, KEY, &o, &v, &err) < 0)
                fail_msg("verify_key: %s", err.msg);
        return v;
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

/* A second MBR entry: whatever it holds, the key is not as flashed (issue 16, item 2). */
static void test_second_partition(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "two.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        uint8_t entry[16] = { [4] = 0x0c, [8] = 0x00, [9] = 0x08 };   /* type 0x0c, at sector 2048 */

        assert_int_equal(pwrite_full(fd, entry, sizeof(entry), 446 + 16), 0);
        v = verify_ok(f, fd, NULL);
        assert_false(verify_result_is_intact(v));
        assert_string_equal(v->table_problem, "the MBR holds 2 partitions; flash writes one");
        assert_int_equal(v->n_entries, 0);      /* the content itself is intact */
}

/* Where a directory entry of the root or of dir lies: its short name in the first cluster. */
static uint64_t dirent_offset(int fd, const char *dir, const char short_name[11]) {
        uint64_t at = file_offset(fd, dir);
        uint8_t buf[4096];

        assert_int_equal(pread_full(fd, buf, sizeof(buf), at), 0);
        for (size_t i = 0; i + 32 <= sizeof(buf); i += 32)
                if (memcmp(buf + i, short_name, 11) == 0)
                        return at + i;
        fail_msg("no entry %.11s in %s", short_name, dir);
        return 0;
}

/* key.json's volume ID edited in place, same length: the unsigned record is flagged (item 5). */
static void test_key_record_forged(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "record.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        uint64_t at = file_offset(fd, ".cartable/key.json");
        char buf[1024], *p;

        assert_int_equal(pread_full(fd, buf, sizeof(buf) - 1, at), 0);
        buf[sizeof(buf) - 1] = 0;
        p = strstr(buf, "\"1234-5678\"");
        assert_non_null(p);
        memcpy(p, "\"1234-9999\"", 11);
        assert_int_equal(pwrite_full(fd, buf, sizeof(buf) - 1, at), 0);
        v = verify_ok(f, fd, NULL);
        assert_false(verify_result_is_intact(v));
        assert_true(v->is_key_record_valid);
        assert_true(v->is_key_record_mismatch);
        assert_int_equal(v->key_record.volume_id, 0x12349999);
        assert_string_equal(v->key_record_problem, "the record names volume 1234-9999, the volume is 1234-5678");
        verify_result_free(TAKE_PTR(v));
        /* Not JSON any more: reported, never taken for a record. */
        memcpy(p, "\"1234-5678\"", 11);
        p[-1] = '#';
        assert_int_equal(pwrite_full(fd, buf, sizeof(buf) - 1, at), 0);
        v = verify_ok(f, fd, NULL);
        assert_true(v->has_key_record);
        assert_false(v->is_key_record_valid);
        assert_false(verify_result_is_intact(v));
        assert_non_null(strstr(v->key_record_problem, "key record: not JSON"));
}

/* A course file made hidden and read-only in the sealed Cours (item 6); outside, allowed. */
static void test_attributes_in_sealed(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "attrs.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        uint64_t at = dirent_offset(fd, "Cours", "INTRO   TXT") + 11;
        uint8_t a;

        assert_int_equal(pread_full(fd, &a, 1, at), 0);
        a |= FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY;
        assert_int_equal(pwrite_full(fd, &a, 1, at), 0);
        at = dirent_offset(fd, "Outils", "OUTIL   BIN") + 11;
        assert_int_equal(pread_full(fd, &a, 1, at), 0);
        a |= FAT_ATTR_HIDDEN;
        assert_int_equal(pwrite_full(fd, &a, 1, at), 0);
        v = verify_ok(f, fd, NULL);
        assert_false(verify_result_is_intact(v));
        assert_int_equal(v->n_attributes, 1);
        assert_int_equal(v->n_entries, 1);
        assert_string_equal(v->entries[0].path, "Cours/intro.txt");
        assert_int_equal(v->entries[0].status, VERIFY_ATTRIBUTES);
        assert_int_equal(v->entries[0].expected_attrs, 0);
        assert_int_equal(v->entries[0].actual_attrs, FAT_ATTR_HIDDEN | FAT_ATTR_READ_ONLY);
        assert_int_equal(v->n_files_checked, 3);   /* and its content still checked */
}

/* The station flashed serial 5 of "college": a key with serial 1 is outdated (item 6). */
static void test_outdated(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = flashed(f, "old.img");
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        char dir[256], file[300];
        int sfd;

        snprintf(dir, sizeof(dir), "%s/state", f->dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        v = verify_ok(f, fd, dir);
        assert_false(v->is_outdated);
        assert_int_equal(v->station_serial, 0);
        verify_result_free(TAKE_PTR(v));
        snprintf(file, sizeof(file), "%s/release-serials", dir);
        sfd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(sfd >= 0);
        assert_int_equal(pwrite_full(sfd, "other 9\ncollege 5\n", 18, 0), 0);
        close(sfd);
        v = verify_ok(f, fd, dir);
        assert_true(v->is_outdated);
        assert_int_equal(v->station_serial, 5);
        assert_true(verify_result_is_intact(v));   /* outdated, but what it holds is intact */
}

/* A file added in a sealed directory: reported as sealed, alone, and the key not intact. */
static void expect_sealed(const struct fixture *f, const char *image, const char *dir,
                          const char short_name[11], const char *path) {
        _cleanup_close_ int fd = flashed(f, image);
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;

        add_empty_file(fd, dir, short_name);
        v = verify_ok(f, fd, NULL);
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
        v = verify_ok(f, fd, NULL);
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
                cmocka_unit_test(test_second_partition),
                cmocka_unit_test(test_key_record_forged),
                cmocka_unit_test(test_attributes_in_sealed),
                cmocka_unit_test(test_outdated),
                cmocka_unit_test(test_sealed_directories_refuse_extra),
                cmocka_unit_test(test_unsealed_directories_allow_extra),
        };
        return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
