/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers every module uses: cleanup attributes, ownership transfer, checked arithmetic. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void freep(void *p) { free(*(void **) p); }
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Defines name##p(type *) that calls func on a non-NULL pointer, for _cleanup_(). */
#define DEFINE_POINTER_CLEANUP(type, func)                       \
        static inline void func##p(type **p) {                   \
                if (*p)                                          \
                        (void) func(*p);                         \
        }

/* Hand ownership on: returns the value and clears the variable so cleanup skips it. */
#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -EBADF; _tf; })

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(x, y) (((x) + (y) - 1) / (y))
/* Round x up to a multiple of a power of two. */
#define ALIGN_POW2(x, a) (((x) + ((__typeof__(x)) (a) - 1)) & ~((__typeof__(x)) (a) - 1))

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

/*
 * A source of bytes at an offset: a release file, a device, an image, a memory buffer.
 * Fills exactly len bytes and returns 0, or returns a negative errno (-EIO, -ENODATA at
 * end of source). Must be safe to call from several threads on the same userdata.
 */
typedef int (*cart_read_fn)(void *userdata, void *buf, size_t len, uint64_t offset);

/* pread()/pwrite() until done: 0, -EIO on a short transfer at end of file, or -errno. */
int pread_full(int fd, void *buf, size_t len, uint64_t offset);
int pwrite_full(int fd, const void *buf, size_t len, uint64_t offset);
/* cart_read_fn over a file descriptor passed as (void *)(intptr_t) fd. */
int fd_read_at(void *userdata, void *buf, size_t len, uint64_t offset);
/* The other way: writes exactly len bytes at offset, 0 or a negative errno. */
typedef int (*cart_write_fn)(void *userdata, const void *buf, size_t len, uint64_t offset);
int fd_write_at(void *userdata, const void *buf, size_t len, uint64_t offset);

/*
 * The whole of a small regular file, NUL-terminated (the NUL is not counted in *ret_len).
 * -errno from open/read, -EINVAL when not a regular file, -EFBIG when larger than max.
 * Callers word the message: what the file is for is theirs to say.
 */
int read_small_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* mkdir -p: creates path and its missing parents with mode; an existing directory is fine. */
int mkdir_parents(const char *path, unsigned mode);

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool add_overflows_u64(uint64_t a, uint64_t b, uint64_t *ret) {
        return __builtin_add_overflow(a, b, ret);
}

/* UTC time as "YYYY-MM-DDTHH:MM:SSZ" (manifests, key records, output). */
void time_format(int64_t t, char ret[32]);
/* The same format back, strictly: an impossible date ("2026-02-30...") is -EINVAL. */
int time_parse(const char *s, int64_t *ret);

/*
 * Decode one UTF-8 code point at s, which must be NUL-terminated (strict: no overlongs,
 * no surrogates, at most U+10FFFF). Returns its byte length, or -EILSEQ. Never the locale.
 */
int utf8_decode(const unsigned char *s, uint32_t *ret);
/* Encode c (at most U+10FFFF, not a surrogate) at out; returns 1 to 4 bytes written. */
size_t utf8_encode(uint32_t c, char *out);
/* True when the NUL-terminated s is valid UTF-8 (utf8_decode's rules). */
bool utf8_is_valid(const char *s);
/* A write to a file cartable creates that ran out of space is an I/O failure (exit 5),
 * not a key too small (-ENOSPC, exit 4). */
static inline int output_write_error(int r) {
        return r == -ENOSPC || r == -EDQUOT ? -EIO : r;
}
/* Parse "512", "64K", "8M", "8G", "2T" (powers of 1024; MiB, GiB accepted). */
int parse_size(const char *s, uint64_t *ret);
/* "8.0 GiB": human size into buf (at least 16 bytes). */
const char *format_size(uint64_t bytes, char *buf, size_t len);
