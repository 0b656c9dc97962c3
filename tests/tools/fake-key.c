/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fake-key: a counterfeit USB stick for tests. A FUSE file system with one file, "key",
 * that announces SIZE bytes but holds only the bytes of BACKING: past them, writes wrap
 * around onto the start (--mode wrap, the cheap fakes that drop address bits) or are lost
 * and read back as zeros (--mode lose). Put a loop device on MOUNTPOINT/key.
 * --mode liar keeps every byte but lies when reading one: the byte at --flip-at comes
 * back inverted, as from a key whose flash fails silently (for the read-back test).
 *
 *   fake-key --backing FILE --size SIZE --mode wrap|lose MOUNTPOINT [-f]
 *   fake-key --backing FILE --size SIZE --mode liar --flip-at OFFSET MOUNTPOINT [-f]
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
        const char *backing;
        const char *size_text;
        const char *mode;
        const char *flip_text;
        int fd;
        uint64_t flip_at;                /* liar: the byte read back inverted */
        int is_liar;
        uint64_t size, real;
        int is_wrap;
} fake;

#define OPT(t, p) { t, offsetof(__typeof__(fake), p), 1 }
static const struct fuse_opt options[] = {
        OPT("--backing=%s", backing),
        OPT("--size=%s", size_text),
        OPT("--mode=%s", mode),
        OPT("--flip-at=%s", flip_text),
        FUSE_OPT_END
};

static int fake_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
        memset(st, 0, sizeof(*st));
        if (strcmp(path, "/") == 0) {
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 2;
        } else if (strcmp(path, "/key") == 0) {
                st->st_mode = S_IFREG | 0600;
                st->st_nlink = 1;
                st->st_size = (off_t) fake.size;
        } else
                return -ENOENT;
        return 0;
}

static int fake_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                        struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
        if (strcmp(path, "/") != 0)
                return -ENOENT;
        fill(buf, ".", NULL, 0, 0);
        fill(buf, "..", NULL, 0, 0);
        fill(buf, "key", NULL, 0, 0);
        return 0;
}

static int fake_open(const char *path, struct fuse_file_info *fi) {
        if (strcmp(path, "/key") != 0)
                return -ENOENT;
        /* No page cache over the key: the fake's aliasing must show, as on a real stick. */
        fi->direct_io = 1;
        return 0;
}

/* One byte range at a time, split where the fake's mapping changes. */
static int transfer(char *buf, size_t len, off_t off, int is_write) {
        size_t done = 0;

        if ((uint64_t) off >= fake.size)
                return 0;
        if ((uint64_t) off + len > fake.size)
                len = (size_t) (fake.size - (uint64_t) off);
        while (done < len) {
                uint64_t at = (uint64_t) off + done, phys = at % fake.real;
                size_t n = len - done;
                ssize_t k;

                if (n > fake.real - phys)
                        n = (size_t) (fake.real - phys);
                if (at >= fake.real && !fake.is_wrap) {
                        if (!is_write)
                                memset(buf + done, 0, n);
                        done += n;
                        continue;
                }
                k = is_write ? pwrite(fake.fd, buf + done, n, (off_t) phys)
                             : pread(fake.fd, buf + done, n, (off_t) phys);
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                done += (size_t) k;
        }
        return (int) len;
}

static int fake_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
        int n = transfer(buf, len, off, 0);

        if (fake.is_liar && n > 0 && fake.flip_at >= (uint64_t) off && fake.flip_at < (uint64_t) off + (uint64_t) n)
                buf[fake.flip_at - (uint64_t) off] ^= 0xFF;
        return n;
}

static int fake_write(const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
        return transfer((char *) buf, len, off, 1);
}

static int fake_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
        return fdatasync(fake.fd) < 0 ? -errno : 0;
}

static const struct fuse_operations ops = {
        .getattr = fake_getattr,
        .readdir = fake_readdir,
        .open = fake_open,
        .read = fake_read,
        .write = fake_write,
        .fsync = fake_fsync,
};

int main(int argc, char **argv) {
        struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
        struct stat st;
        char *end;
        int r;

        if (fuse_opt_parse(&args, &fake, options, NULL) < 0)
                return 1;
        if (!fake.backing || !fake.size_text || !fake.mode) {
                fprintf(stderr, "usage: fake-key --backing=FILE --size=BYTES --mode=wrap|lose|liar [--flip-at=OFFSET] MOUNTPOINT [-f]\n");
                return 64;
        }
        fake.is_wrap = strcmp(fake.mode, "wrap") == 0;
        fake.is_liar = strcmp(fake.mode, "liar") == 0;
        if (fake.is_liar) {
                if (!fake.flip_text || !*fake.flip_text)
                        return 64;
                fake.flip_at = strtoull(fake.flip_text, &end, 10);
                if (*end)
                        return 64;
        }
        fake.size = strtoull(fake.size_text, &end, 10);
        fake.fd = open(fake.backing, O_RDWR | O_CLOEXEC);
        if (fake.fd < 0 || fstat(fake.fd, &st) < 0 || st.st_size == 0 || *end) {
                fprintf(stderr, "fake-key: %s: cannot use it as backing\n", fake.backing);
                return 66;
        }
        fake.real = (uint64_t) st.st_size;
        r = fuse_main(args.argc, args.argv, &ops, NULL);
        fuse_opt_free_args(&args);
        return r;
}
