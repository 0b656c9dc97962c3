/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the fuzz harnesses: each one defines LLVMFuzzerTestOneInput(), linked either
 * with libFuzzer (-Dfuzz=true, clang) or with replay.c, which runs a corpus directory.
 */
#pragma once

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* As cmd/main.c does: lib/ expects a UTF-8 LC_CTYPE (libarchive's pathnames, messages). */
__attribute__((constructor)) static void fuzz_setup(void) {
        setlocale(LC_CTYPE, "C.UTF-8");
}

/* The harness found a broken invariant: abort so that both libFuzzer and replay fail. */
#define FUZZ_ASSERT(cond)                                                               \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,      \
                                __LINE__, #cond);                                       \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* Parsers that take a path get the input through a memfd, as "/proc/self/fd/N": no disk
 * I/O, nothing left behind. Returns the fd (close it) or -1. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[64]) {
        int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        size_t done = 0;

        if (fd < 0)
                abort();
        while (done < size) {
                ssize_t n = write(fd, data + done, size - done);
                if (n <= 0)
                        abort();
                done += (size_t) n;
        }
        snprintf(path, 64, "/proc/self/fd/%d", fd);
        return fd;
}

/* A NUL-terminated copy of the input (the text parsers take C strings). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* The public half of tests/fuzz/test.key (unencrypted, a test key only): seeds that must
 * pass a signature check (release, minisig) are signed with it. */
#define FUZZ_TEST_PUBKEY \
        "untrusted comment: minisign public key 057FC851F376CE5C - cartable fuzz test key: never trust it\n" \
        "RWRcznbzUch/BYIWgiFuLewuleRKu4kdZf89A5AerUVS9k7Bi/UHBjSg\n"

/* FUZZ_DEBUG=1 in the environment: print why an input was refused (to check seeds). */
static inline void fuzz_note(const char *what, int r, const char *msg) {
        static int debug = -1;

        if (debug < 0)
                debug = getenv("FUZZ_DEBUG") != NULL;
        if (debug)
                fprintf(stderr, "  %s: %d %s\n", what, r, r < 0 ? msg : "ok");
}
