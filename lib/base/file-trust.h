/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Files another local user could have handed over (issue 21): a journal, a spool directory
 * or file. One is trusted only when it is what it claims (a regular file, or a directory),
 * reached without a symbolic link (O_NOFOLLOW on its last component), owned by this user
 * (or root), and writable by nobody else; checked with fstat() on what was opened, never
 * on the name, so that nothing is swapped between the check and the use. The refusals are
 * -EPERM with a reason code: file-symlink, file-foreign-owner, file-writable-by-others
 * (subject: the path; value: the owner's uid or the mode).
 */
#pragma once

#include <sys/stat.h>

#include "base/error.h"

/* fd, opened from path, against the rules above; type S_IFREG or S_IFDIR. */
int file_check_trusted(int fd, const char *path, mode_t type, struct cart_error *err);
/*
 * Open path (O_NOFOLLOW | O_CLOEXEC added to flags; O_DIRECTORY for S_IFDIR) and check it:
 * the descriptor, or -ENOENT (not there: err names it), -EPERM (refused, as above), -errno.
 */
int file_open_trusted(const char *path, int flags, mode_t type, struct cart_error *err);
/* A new file, mode 0600 unless asked otherwise, never through a symbolic link, never over
 * an existing name (O_CREAT | O_EXCL | O_NOFOLLOW): the descriptor, -EEXIST or -errno. A
 * dangling symbolic link is refused as file-symlink, its target never created. */
int file_create_private(const char *path, int flags, mode_t mode, struct cart_error *err);
