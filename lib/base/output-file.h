/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An output file (a release, an exported image) that appears under its name only when
 * complete, and never replaces a file: written as an unnamed file in the target's
 * directory (O_TMPFILE), then linked to its name (linkat, which fails on an existing
 * name). A kill at any moment leaves nothing visible. Where the file system has no
 * O_TMPFILE, a hidden ".NAME.cartable-XXXXXX" beside it, locked (flock) while in use:
 * the next output_file_open() of the same name removes those a killed run left.
 * With OUTPUT_FILE_REPLACE an existing regular file is replaced in one rename(2) once the
 * new one is complete and on disk: until then the old one stays whole, whatever happens.
 */
#pragma once

#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"

struct output_file {
        int fd;                 /* read-write */
        char *path;             /* the final name */
        char *temp_path;        /* the named temporary of the fallback, NULL with O_TMPFILE */
        unsigned n_stale;       /* temporaries of killed runs removed by output_file_open() */
        bool is_linked;
        bool is_replacing;      /* OUTPUT_FILE_REPLACE: rename(2) over the name */
        FILE *f;                /* output_file_stream()'s, on fd */
};

enum {
        OUTPUT_FILE_NAMED = 1 << 0,     /* the fallback even where O_TMPFILE works (tests) */
        OUTPUT_FILE_REPLACE = 1 << 1,   /* an existing regular file is replaced (never a link) */
};

/*
 * -EEXIST when path exists (with OUTPUT_FILE_REPLACE: exists and is not a regular file); otherwise -errno with words in err (the directory is
 * missing, not writable...). On success, o is to be passed to output_file_done().
 */
int output_file_open(const char *path, unsigned flags, struct output_file *o, struct cart_error *err);
/* The path of the named temporary, for a signal handler to unlink; NULL with O_TMPFILE. */
static inline const char *output_file_temp_path(const struct output_file *o) { return o->temp_path; }
/* A stdio stream on the file, for a text output (a report, an export): output_file_link()
 * flushes it, output_file_done() closes it. -errno when it cannot be made. */
int output_file_stream(struct output_file *o, FILE **ret);
/*
 * Flush the stream if any, fchmod(mode), fsync, then give the file its name. -EEXIST when the name appeared
 * meanwhile (with OUTPUT_FILE_REPLACE: when it is no longer a regular file); a full file
 * system is -EIO (an I/O failure, not a key too small).
 */
int output_file_link(struct output_file *o, mode_t mode, struct cart_error *err);
/* Close; a file not linked disappears. Accepts an output_file never opened (fd < 0). */
void output_file_done(struct output_file *o);
