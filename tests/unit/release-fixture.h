/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small signed release built in a scratch directory, for the flash and verify tests. */
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include "release/recipe.h"
#include "release/release.h"
#include "release/sign.h"

struct fixture {
        char dir[64];
        char path[128];
        struct sign_trust *trust;
        struct release *release;
};

static inline void fixture_write(const char *dir, const char *name, const void *data, size_t len) {
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(pwrite_full(fd, data, len, 0), 0);
        close(fd);
}

/* content/Cours/intro.txt, content/Cours/fiche.pdf (70000 bytes), content/Outils/outil.bin
 * (1 MiB): a release "college" 2026.1, serial 1, Cours sealed, minimum 64 MiB. */
static inline int fixture_setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        _cleanup_(sign_secret_key_freep) struct sign_secret_key *k = NULL;
        _cleanup_(recipe_freep) struct recipe *rc = NULL;
        struct cart_error err = {};
        char p[256];
        uint8_t *big = malloc(MIB);
        int fd;

        assert_non_null(f);
        assert_non_null(big);
        strcpy(f->dir, "/var/tmp/test-release.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(p, sizeof(p), "%s/content", f->dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/content/Cours", f->dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/content/Outils", f->dir);
        assert_int_equal(mkdir(p, 0755), 0);
        for (size_t i = 0; i < MIB; i++)
                big[i] = (uint8_t) (i * 13 + (i >> 11));
        fixture_write(f->dir, "content/Cours/intro.txt", "Bienvenue\n", 10);
        fixture_write(f->dir, "content/Cours/fiche.pdf", big + 5, 70000);
        fixture_write(f->dir, "content/Outils/outil.bin", big, MIB);
        free(big);

        assert_int_equal(sign_key_generate(&k), 0);
        snprintf(p, sizeof(p), "%s/dep.pub", f->dir);
        assert_true(sign_public_key_save(k, p, &err) >= 0);
        assert_int_equal(sign_trust_new(&f->trust), 0);
        assert_true(sign_trust_add_path(f->trust, p, &err) >= 0);

        assert_int_equal(recipe_new(&rc), 0);
        assert_int_equal(recipe_set(rc, "name", "college", &err), 0);
        assert_int_equal(recipe_set(rc, "version", "2026.1", &err), 0);
        assert_int_equal(recipe_set(rc, "serial", "1", &err), 0);
        assert_int_equal(recipe_set(rc, "min-size", "64M", &err), 0);
        assert_int_equal(recipe_set(rc, "sealed", "Cours", &err), 0);
        assert_int_equal(recipe_set(rc, "label", "COLLEGE", &err), 0);
        assert_int_equal(recipe_set(rc, "time", "2026-09-01T00:00:00Z", &err), 0);
        snprintf(p, sizeof(p), "%s/content", f->dir);
        assert_int_equal(recipe_set(rc, "bundle", p, &err), 0);
        snprintf(f->path, sizeof(f->path), "%s/college.cart", f->dir);
        fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        if (release_build(rc, k, fd, f->dir, NULL, NULL, &err) < 0)
                fail_msg("release_build: %s", err.msg);
        close(fd);
        if (release_open(f->path, f->trust, 0, &f->release, &err) < 0)
                fail_msg("release_open: %s", err.msg);
        *state = f;
        return 0;
}

static inline int fixture_teardown(void **state) {
        struct fixture *f = *state;
        char cmd[256];

        if (!f)
                return 0;
        release_unref(f->release);
        sign_trust_free(f->trust);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* A new sparse image file of size bytes in the fixture's directory. */
static inline int fixture_image(const struct fixture *f, const char *name, uint64_t size) {
        char p[256];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", f->dir, name);
        fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) size), 0);
        return fd;
}
