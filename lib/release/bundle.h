/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A content bundle, read with libarchive: a tar (ustar, pax, GNU) or zip archive, plain or
 * compressed with gzip, xz, zstd or bzip2, or a directory read without following symlinks.
 * Only those formats and filters are enabled (the "all" variants can start external
 * programs). Each entry is validated before the caller sees it: a regular file or a
 * directory, a relative '/'-separated UTF-8 path without ".." or empty components that FAT
 * can hold. Sizes are counted while streaming, never taken from headers, so a small archive
 * that expands to gigabytes is stopped at the limit.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "fat/fat.h"
#include "base/util.h"

#define BUNDLE_DEFAULT_MAX_FILES      100000
#define BUNDLE_DEFAULT_MAX_FILE_SIZE  FAT_FILE_MAX
#define BUNDLE_DEFAULT_MAX_TOTAL_SIZE (16 * GIB)

/* Limits, and the running counts they bound, shared by every bundle of a build. */
struct bundle_limits {
        uint64_t max_files;        /* entries, files and directories */
        uint64_t max_file_size;    /* logical bytes of one file (sparse holes count) */
        uint64_t max_total_size;   /* logical bytes of every file read */
        uint64_t n_files;          /* counted so far */
        uint64_t total_size;
};

void bundle_limits_init(struct bundle_limits *l);

struct bundle_entry {
        const char *path;          /* validated, without "./" prefix or trailing '/' */
        bool is_dir;
        int64_t mtime;             /* 0 when the archive has none */
};

struct bundle;

/* An archive file or a directory. Errors name the bundle. */
int bundle_open(const char *path, struct bundle_limits *limits, struct bundle **ret,
                struct cart_error *err);
struct bundle *bundle_free(struct bundle *b);
DEFINE_POINTER_CLEANUP(struct bundle, bundle_free);

const char *bundle_path(const struct bundle *b);

/*
 * The next entry: 1 and *ret filled (valid until the next call), 0 at the end. Errors
 * name the bundle and the entry: -EBADMSG (corrupt archive, link, device, FIFO),
 * -EILSEQ / -ENAMETOOLONG / -EINVAL (a path FAT cannot hold), -E2BIG (too many entries).
 */
int bundle_next(struct bundle *b, struct bundle_entry *ret, struct cart_error *err);

/* Read the current file's content: bytes read, 0 at its end, or -EFBIG past a limit. */
ssize_t bundle_read(struct bundle *b, void *buf, size_t len, struct cart_error *err);
