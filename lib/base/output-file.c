/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "base/output-file.h"
#include "base/util.h"

#define TEMP_TAG ".cartable-"

/* ".NAME.cartable-XXXXXX" in the directory of path. */
static int temp_pattern(const char *path, char **ret) {
        _cleanup_free_ char *d = strdup(path), *b = strdup(path);

        if (!d || !b || asprintf(ret, "%s/.%s" TEMP_TAG "XXXXXX", dirname(d), basename(b)) < 0)
                return -ENOMEM;
        return 0;
}

/* Remove the temporaries of path that no live run holds locked. */
static int remove_stale(const char *path, unsigned *ret_n) {
        _cleanup_free_ char *pattern = NULL, *dir = strdup(path), *base = strdup(path), *prefix = NULL;
        struct dirent *de;
        DIR *d;
        int r;

        r = temp_pattern(path, &pattern);
        if (r < 0 || !dir || !base || asprintf(&prefix, ".%s" TEMP_TAG, basename(base)) < 0)
                return -ENOMEM;
        d = opendir(dirname(dir));
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                int fd;

                if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || strlen(de->d_name) != strlen(prefix) + 6)
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                if (fd < 0)
                        continue;
                /* A run still writing holds its lock: only a dead run's file is taken. */
                if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dirfd(d), de->d_name, 0) == 0)
                        (*ret_n)++;
                close(fd);
        }
        closedir(d);
        return 0;
}

/* Whether path may be written: it does not exist, or (OUTPUT_FILE_REPLACE) it is a regular
 * file; a symbolic link, even to a regular file, never is. */
static bool name_is_free(const char *path, unsigned flags) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT;
        return (flags & OUTPUT_FILE_REPLACE) && S_ISREG(st.st_mode);
}

/* The directory entry of a rename, on disk (fsync of the directory). */
static int sync_dir_of(const char *path) {
        _cleanup_free_ char *d = strdup(path);
        int fd, r = 0;

        if (!d)
                return -ENOMEM;
        fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                r = -errno;
        if (fd >= 0)
                close(fd);
        return r;
}

int output_file_open(const char *path, unsigned flags, struct output_file *o, struct cart_error *err) {
        _cleanup_free_ char *dir = strdup(path);
        int r;

        *o = (struct output_file) { .fd = -EBADF };
        if (!dir)
                return -ENOMEM;
        if (!name_is_free(path, flags))
                return cart_error_reason_set(err, -EEXIST, CART_REASON_OUTPUT_EXISTS, path);
        o->path = strdup(path);
        if (!o->path)
                return -ENOMEM;
        /* A replacement is renamed over the name: it needs a name of its own first. */
        o->is_replacing = flags & OUTPUT_FILE_REPLACE;
        if (o->is_replacing)
                flags |= OUTPUT_FILE_NAMED;
        if (!(flags & OUTPUT_FILE_NAMED)) {
                o->fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (o->fd >= 0)
                        return 0;
        }
        if (!(flags & OUTPUT_FILE_NAMED) && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
                r = -errno;
                output_file_done(o);
                return cart_error_errno(err, r, path, "cannot create");
        }
        /* No O_TMPFILE here: a named temporary, locked so that the next run knows it is ours. */
        r = remove_stale(path, &o->n_stale);
        if (r >= 0)
                r = temp_pattern(path, &o->temp_path);
        if (r < 0) {
                output_file_done(o);
                return r;
        }
        o->fd = mkostemp(o->temp_path, O_CLOEXEC);
        if (o->fd < 0 || flock(o->fd, LOCK_EX) < 0) {
                r = -errno;
                output_file_done(o);
                return cart_error_errno(err, r, path, "cannot create");
        }
        return 0;
}

int output_file_stream(struct output_file *o, FILE **ret) {
        if (!o->f) {
                o->f = fdopen(o->fd, "w");
                if (!o->f)
                        return -errno;
        }
        *ret = o->f;
        return 0;
}

int output_file_link(struct output_file *o, mode_t mode, struct cart_error *err) {
        char proc[64];
        int r = 0;

        if (o->f) {
                errno = 0;
                if (fflush(o->f) != 0 || ferror(o->f)) {
                        int e = errno ? errno : EIO;   /* an earlier write's error: EIO */
                        return cart_error_errno_as(err, output_write_error(-e), e, o->path, "cannot write");
                }
        }
        if (fchmod(o->fd, mode) < 0 || fsync(o->fd) < 0)
                return cart_error_errno_as(err, output_write_error(-errno), errno, o->path, "cannot write");
        if (o->is_replacing) {
                /* Over a regular file or nothing, never a link that appeared meanwhile. */
                if (!name_is_free(o->path, OUTPUT_FILE_REPLACE))
                        return cart_error_reason_set(err, -EEXIST, CART_REASON_OUTPUT_EXISTS, o->path);
                r = rename(o->temp_path, o->path);
                if (r == 0) {
                        o->is_linked = true;
                        r = sync_dir_of(o->path);
                        return r < 0 ? cart_error_errno_as(err, output_write_error(r), -r, o->path, "cannot write") : 0;
                }
        } else if (o->temp_path)
                r = renameat2(AT_FDCWD, o->temp_path, AT_FDCWD, o->path, RENAME_NOREPLACE);
        else {
                /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not. */
                r = linkat(o->fd, "", AT_FDCWD, o->path, AT_EMPTY_PATH);
                if (r < 0 && errno == ENOENT) {
                        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
                        r = linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW);
                }
        }
        if (r < 0 && errno == EEXIST)
                return cart_error_reason_set(err, -EEXIST, CART_REASON_OUTPUT_EXISTS, o->path);
        if (r < 0)
                return cart_error_errno_as(err, output_write_error(-errno), errno, o->path, "cannot link");
        o->is_linked = true;
        return 0;
}

void output_file_done(struct output_file *o) {
        if (o->temp_path && !o->is_linked)
                (void) unlink(o->temp_path);
        if (o->f)
                fclose(o->f);           /* and its fd */
        else if (o->fd >= 0)
                close(o->fd);
        free(o->path);
        free(o->temp_path);
        *o = (struct output_file) { .fd = -EBADF };
}
