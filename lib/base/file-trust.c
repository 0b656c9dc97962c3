/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Files another local user could have handed over (file-trust.h). */
#include <fcntl.h>
#include <unistd.h>

#include "base/file-trust.h"

static int refuse(struct cart_error *err, enum cart_reason reason, const char *path, uint64_t value) {
        cart_error_reason_set(err, -EPERM, reason, path);
        if (err)
                err->value = value;
        return -EPERM;
}

int file_check_trusted(int fd, const char *path, mode_t type, struct cart_error *err) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return cart_error_errno(err, -errno, path, "fstat");
        if ((st.st_mode & S_IFMT) != type)
                return cart_error_set(err, type == S_IFDIR ? -ENOTDIR : -EBADMSG, "%s: not a %s", path,
                                      type == S_IFDIR ? W_("directory") : W_("regular file"));
        if (st.st_uid != geteuid() && st.st_uid != 0)
                return refuse(err, CART_REASON_FILE_FOREIGN_OWNER, path, st.st_uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return refuse(err, CART_REASON_FILE_WRITABLE_BY_OTHERS, path, st.st_mode & 07777);
        return 0;
}

/* What a refused O_NOFOLLOW open met: a symbolic link, or the error as it is. */
static int open_failed(const char *path, int r, struct cart_error *err) {
        struct stat st;

        if ((r == -ELOOP || r == -EEXIST || r == -ENOTDIR) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
                return refuse(err, CART_REASON_FILE_SYMLINK, path, 0);
        return cart_error_errno(err, r, path, NULL);
}

int file_open_trusted(const char *path, int flags, mode_t type, struct cart_error *err) {
        int fd, r;

        fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | (type == S_IFDIR ? O_DIRECTORY : 0));
        if (fd < 0)
                return open_failed(path, -errno, err);
        r = file_check_trusted(fd, path, type, err);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int file_create_private(const char *path, int flags, mode_t mode, struct cart_error *err) {
        int fd = open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode ? mode : 0600);

        if (fd < 0)
                return open_failed(path, -errno, err);
        /* The umask may have taken bits away, never added: fchmod gives exactly what was asked. */
        if (mode && fchmod(fd, mode) < 0) {
                int r = cart_error_errno(err, -errno, path, "fchmod");
                close(fd);
                return r;
        }
        return fd;
}
