/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening a key for writing. The order matters: judge the disk, open it exclusively, lock
 * it (udev keeps away from a flocked whole disk, as systemd's makefs relies on), then judge
 * it again through the open descriptor, so a stick swapped or mounted in between is caught.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "device/device-internal.h"

struct device_target *device_target_close(struct device_target *t) {
        if (!t)
                return NULL;
        if (t->fd >= 0) {
                (void) flock(t->fd, LOCK_UN);
                close(t->fd);
        }
        device_info_unref(t->info);
        free(t);
        return NULL;
}

static bool same_string(const char *a, const char *b) {
        return (!a && !b) || (a && b && streq(a, b));
}

/* One sentence naming every failing rule: "/dev/sdb: refused: not USB; mounted (sdb1 on /mnt)". */
static int refuse(const struct device_info *d, struct cart_error *err) {
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s: refused: ", d->devnode);
        for (size_t i = 0; i < d->n_reasons; i++) {
                size_t n = strlen(msg);
                snprintf(msg + n, sizeof(msg) - n, "%s%s", i ? "; " : "", d->reasons[i]);
        }
        return cart_error_set(err, -EPERM, "%s", msg);
}

/* The path's dev_t: symlinks resolved first (stat through a symlink is fine too, but the
 * canonical /dev name is what messages and the judged disk should show). */
static int resolve(const char *path, dev_t *ret, struct cart_error *err) {
        _cleanup_free_ char *canon = realpath(path, NULL);
        struct stat st;

        if (!canon)
                return cart_error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (stat(canon, &st) < 0)
                return cart_error_set(err, -errno, "%s: %s", canon, strerror(errno));
        if (S_ISREG(st.st_mode))
                return cart_error_set(err, -EPERM, "%s: refused: a regular file, not a block device "
                                      "(image files are written by 'cartable flash --image')", path);
        if (!S_ISBLK(st.st_mode))
                return cart_error_set(err, -EPERM, "%s: refused: not a block device", path);
        *ret = st.st_rdev;
        return 0;
}

static int judge(struct device_context *ctx, const char *path, dev_t devnum, const char *expected_serial,
                 struct device_info **ret, struct cart_error *err) {
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        int r;

        r = device_info_new_from_devnum(ctx, devnum, DEVICE_SCAN_NO_PROBE, &d, err);
        if (r == -ENODEV)
                return cart_error_prefix(err, -EPERM, "%s: refused", path);
        if (r < 0)
                return cart_error_prefix(err, r, "%s", path);
        if (!device_info_is_eligible(d))
                return refuse(d, err);
        if (expected_serial && !same_string(d->serial, expected_serial))
                return cart_error_set(err, -EPERM, "%s: refused: serial %s is not the expected %s",
                                      d->devnode, d->serial ? d->serial : "(none)", expected_serial);
        *ret = TAKE_PTR(d);
        return 0;
}

/* The kernel's geometry; sysfs values stay when an ioctl is not supported. The size must
 * agree with the one judged: another medium in a card reader would not. */
static int read_geometry(struct device_target *t, struct cart_error *err) {
        uint64_t size;
        int ssz;
        unsigned pbsz;

        t->size = t->info->size;
        t->logical_sector_size = t->info->logical_sector_size;
        t->physical_sector_size = t->info->physical_sector_size;
        if (ioctl(t->fd, BLKGETSIZE64, &size) == 0) {
                if (size != t->info->size)
                        return cart_error_set(err, -EPERM, "%s: refused: its size changed to %" PRIu64 " bytes while it was opened",
                                              t->info->devnode, size);
                t->size = size;
        }
        if (ioctl(t->fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
                t->logical_sector_size = (uint32_t) ssz;
        if (ioctl(t->fd, BLKPBSZGET, &pbsz) == 0 && pbsz > 0)
                t->physical_sector_size = pbsz;
        return 0;
}

int device_target_open_in(struct device_context *ctx, const char *path, const char *expected_serial,
                          struct device_target **ret, struct cart_error *err) {
        _cleanup_(device_target_closep) struct device_target *t = NULL;
        _cleanup_(device_info_unrefp) struct device_info *before = NULL;
        dev_t devnum = 0;
        struct stat st;
        int r;

        r = resolve(path, &devnum, err);
        if (r < 0)
                return r;
        r = judge(ctx, path, devnum, expected_serial, &before, err);
        if (r < 0)
                return r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->devnum = devnum;
        /* Never retried without O_EXCL: EBUSY means someone uses the disk (libfdisk retries). */
        t->fd = open(before->devnode, O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY);
        if (t->fd < 0) {
                if (errno == EBUSY)
                        return cart_error_set(err, -EBUSY, "%s: refused: in use (mounted, held, or opened exclusively)",
                                              before->devnode);
                return cart_error_set(err, -errno, "%s: cannot open for writing: %s", before->devnode, strerror(errno));
        }
        if (flock(t->fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return cart_error_set(err, -EBUSY, "%s: refused: locked by another program (flock)",
                                              before->devnode);
                return cart_error_set(err, -errno, "%s: flock: %s", before->devnode, strerror(errno));
        }

        if (ctx->test_opened)
                ctx->test_opened(t->fd, ctx->test_opened_userdata);

        /* The descriptor is what will be written: check it, not the path, from here on. */
        if (fstat(t->fd, &st) < 0)
                return cart_error_set(err, -errno, "%s: fstat: %s", before->devnode, strerror(errno));
        if (!S_ISBLK(st.st_mode) || st.st_rdev != devnum)
                return cart_error_set(err, -EPERM, "%s: refused: the device changed while it was opened "
                                      "(was %u:%u)", before->devnode, major(devnum), minor(devnum));
        r = judge(ctx, path, devnum, expected_serial, &t->info, err);
        if (r < 0)
                return r;
        /* Counterfeit sticks may share a serial: the USB address tells a re-plugged one apart. */
        if (!same_string(t->info->serial, before->serial) || t->info->vendor_id != before->vendor_id ||
            t->info->product_id != before->product_id || !same_string(t->info->port, before->port) ||
            t->info->usb_bus != before->usb_bus || t->info->usb_address != before->usb_address)
                return cart_error_set(err, -EPERM, "%s: refused: another key (serial %s) replaced %s while it was opened",
                                      t->info->devnode, t->info->serial ? t->info->serial : "(none)",
                                      before->serial ? before->serial : "the one checked");
        r = read_geometry(t, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int device_target_open(const char *path, const struct device_policy *policy, const char *expected_serial,
                       struct device_target **ret, struct cart_error *err) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        int r;

        r = device_context_new(policy, NULL, &ctx, err);
        if (r < 0)
                return r;
        return device_target_open_in(ctx, path, expected_serial, ret, err);
}
