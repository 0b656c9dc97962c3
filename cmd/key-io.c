/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "device/device.h"
#include "key-io.h"
#include "station/station.h"

int key_open_read(const char *path, int *ret_fd, uint64_t *ret_size, struct cart_error *err) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        uint64_t size;

        if (fd < 0)
                return cart_error_set(err, -errno, "%s: %m", path);
        if (fstat(fd, &st) < 0)
                return cart_error_set(err, -errno, "%s: %m", path);
        if (S_ISREG(st.st_mode))
                size = (uint64_t) st.st_size;
        else if (S_ISBLK(st.st_mode)) {
                /* Where the ioctl is not answered (a umockdev test bed), the end of the device. */
                if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
                        off_t end = lseek(fd, 0, SEEK_END);
                        if (end < 0)
                                return cart_error_set(err, -errno, "%s: size: %m", path);
                        size = (uint64_t) end;
                }
        } else
                return cart_error_set(err, -EMEDIUMTYPE, "%s: not a key or an image file", path);
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        *ret_fd = TAKE_FD(fd);
        *ret_size = size;
        return 0;
}

void key_format_volume_id(uint32_t id, char *ret) {
        sprintf(ret, "%04X-%04X", id >> 16, id & 0xFFFF);
}

int key_parse_volume_id(const char *s, uint32_t *ret) {
        char hex[9];
        size_t n = 0;
        char *end;

        for (; *s && n < 9; s++)
                if (*s != '-')
                        hex[n++] = *s;
        if (n != 8 || *s)
                return -EINVAL;
        hex[8] = 0;
        errno = 0;
        unsigned long v = strtoul(hex, &end, 16);
        if (errno || *end)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

int key_parse_time(const char *s, int64_t *ret) {
        char *end;

        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!errno && *end == 0 && end != s && v >= 0) {
                *ret = v;
                return 0;
        }
        return time_parse(s, ret);
}

int key_usb_serial(int fd, char *buf, size_t len) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_info_unrefp) struct device_info *info = NULL;
        struct device_policy policy;
        struct stat st;

        buf[0] = 0;
        if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode))
                return 0;
        if (device_policy_from_config(arg_config, &policy) < 0 || device_context_new(&policy, NULL, &ctx, NULL) < 0 ||
            device_info_new_from_devnum(ctx, st.st_rdev, DEVICE_SCAN_NO_PROBE, &info, NULL) < 0 || !info->serial)
                return 0;
        snprintf(buf, len, "%s", info->serial);
        return 1;
}

void key_target_done(struct key_target *t) {
        if (t->dt)
                device_target_close(t->dt);
        else if (t->fd >= 0)
                close(t->fd);
}

int key_target_open(const char *path, struct key_target *t, struct cart_error *err) {
        struct stat st;

        t->fd = -EBADF;
        if (station_target_is_device(path)) {
                struct device_policy policy;
                int r = device_policy_from_config(arg_config, &policy);

                if (r >= 0)
                        r = device_target_open(path, &policy, NULL, &t->dt, err);
                if (r < 0)
                        return r;
                t->fd = t->dt->fd;
                t->size = t->dt->size;
                return 0;
        }
        t->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (t->fd < 0 || fstat(t->fd, &st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (!S_ISREG(st.st_mode))
                return cart_error_set(err, -EPERM, _("%s: not a USB key or an image file"), path);
        if (flock(t->fd, LOCK_EX | LOCK_NB) < 0)
                return cart_error_errno(err, -errno, path, "flock");
        t->size = (uint64_t) st.st_size;
        (void) posix_fadvise(t->fd, 0, 0, POSIX_FADV_DONTNEED);
        return 0;
}

int key_target_sync(void *userdata) {
        int fd = (int) (intptr_t) userdata;

        if (fsync(fd) < 0)
                return -errno;
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        return 0;
}
