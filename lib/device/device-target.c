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
#include <time.h>

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

static const char *str_or_empty(const char *s) {
        return s ? s : "";
}

static bool same_string(const char *a, const char *b) {
        return (!a && !b) || (a && b && streq(a, b));
}

/* Reason: the first failing rule; rules: all of them, findings: what they found (data for
 * cmd/'s words); msg: the same in English, "not USB; mounted (sdb1 on /mnt)", for machines. */
static int refuse(const struct device_info *d, struct cart_error *err) {
        size_t n = 0;

        cart_error_reason_set(err, -EPERM, device_refusal_reason(d->refusals), d->devnode);
        if (!err)
                return -EPERM;
        err->rules = d->refusals;
        err->findings = d->findings;
        for (size_t i = 0; i < d->n_reasons && n + 1 < sizeof(err->msg); i++)
                n += (size_t) snprintf(err->msg + n, sizeof(err->msg) - n, "%s%s", i ? "; " : "", d->reasons[i]);
        return -EPERM;
}

static int refuse_identity(const char *devnode, const char *what, struct cart_error *err) {
        cart_error_reason_set(err, -EPERM, CART_REASON_IDENTITY_CHANGED, devnode);
        if (err)
                snprintf(err->label, sizeof(err->label), "%s", what);
        return -EPERM;
}

/* The path's dev_t: symlinks resolved first (stat through a symlink is fine too, but the
 * canonical /dev name is what messages and the judged disk should show). */
static int refuse_busy(const char *devnode, const char *what, struct cart_error *err) {
        cart_error_reason_set(err, -EBUSY, CART_REASON_IN_USE, devnode);
        if (err)
                snprintf(err->label, sizeof(err->label), "%s", what);
        return -EBUSY;
}

static int resolve(const char *path, dev_t *ret, struct cart_error *err) {
        _cleanup_free_ char *canon = realpath(path, NULL);
        struct stat st;

        if (!canon)
                return cart_error_errno(err, -errno, path, NULL);
        if (stat(canon, &st) < 0)
                return cart_error_errno(err, -errno, canon, NULL);
        if (!S_ISBLK(st.st_mode)) {
                cart_error_reason_set(err, -EPERM, CART_REASON_NOT_BLOCK_DEVICE, path);
                if (err && S_ISREG(st.st_mode))
                        snprintf(err->label, sizeof(err->label), "regular-file");
                return -EPERM;
        }
        *ret = st.st_rdev;
        return 0;
}

int device_info_new_from_path(struct device_context *ctx, const char *path, unsigned flags,
                              struct device_info **ret, struct cart_error *err) {
        dev_t devnum = 0;
        int r = resolve(path, &devnum, err);

        return r < 0 ? r : device_info_new_from_devnum(ctx, devnum, flags, ret, err);
}

static int judge(struct device_context *ctx, const char *path, dev_t devnum, const char *expected_serial,
                 struct device_info **ret, struct cart_error *err) {
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        int r;

        r = device_info_new_from_devnum(ctx, devnum, DEVICE_SCAN_NO_PROBE, &d, err);
        if (r == -ENODEV) {      /* a partition, or gone from sysfs: msg says which */
                if (err) {
                        err->reason = CART_REASON_NOT_WHOLE_DISK;
                        err->errnum = EPERM;
                        snprintf(err->subject, sizeof(err->subject), "%s", path);
                }
                return -EPERM;
        }
        if (r < 0)
                return cart_error_prefix(err, r, "%s", path);
        if (!device_info_is_eligible(d))
                return refuse(d, err);
        if (expected_serial && !same_string(d->serial, expected_serial)) {
                cart_error_reason_set(err, -EPERM, CART_REASON_SERIAL_MISMATCH, d->devnode);
                if (err) {
                        snprintf(err->have, sizeof(err->have), "%s", str_or_empty(d->serial));
                        snprintf(err->want, sizeof(err->want), "%s", expected_serial);
                }
                return -EPERM;
        }
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
                if (size != t->info->size) {
                        refuse_identity(t->info->devnode, "size", err);
                        if (err) {
                                err->value = size;
                                err->limit = t->info->size;
                                err->has_values = true;
                        }
                        return -EPERM;
                }
                t->size = size;
        }
        if (ioctl(t->fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
                t->logical_sector_size = (uint32_t) ssz;
        if (ioctl(t->fd, BLKPBSZGET, &pbsz) == 0 && pbsz > 0)
                t->physical_sector_size = pbsz;
        return 0;
}

/* flock(LOCK_EX), polled for at most DEVICE_LOCK_WAIT_MSEC: udev's shared lock on a disk it
 * is handling lasts as long as its rules; a holder that keeps it, the caller refuses. */
static int lock_wait(int fd) {
        for (unsigned waited = 0;; waited += 20) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK || waited >= DEVICE_LOCK_WAIT_MSEC)
                        return -1;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
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
                        return refuse_busy(before->devnode, "open", err);
                return cart_error_errno(err, -errno, before->devnode, "cannot open for writing");
        }
        if (lock_wait(t->fd) < 0) {
                if (errno == EWOULDBLOCK)
                        return refuse_busy(before->devnode, "flock", err);
                return cart_error_errno(err, -errno, before->devnode, "flock");
        }

        if (ctx->test_opened)
                ctx->test_opened(t->fd, ctx->test_opened_userdata);

        /* The descriptor is what will be written: check it, not the path, from here on. */
        if (fstat(t->fd, &st) < 0)
                return cart_error_errno(err, -errno, before->devnode, "fstat");
        if (!S_ISBLK(st.st_mode) || st.st_rdev != devnum) {
                refuse_identity(before->devnode, "device", err);
                if (err) {
                        snprintf(err->want, sizeof(err->want), "%u:%u", major(devnum), minor(devnum));
                        snprintf(err->have, sizeof(err->have), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
                }
                return -EPERM;
        }
        r = judge(ctx, path, devnum, expected_serial, &t->info, err);
        if (r < 0)
                return r;
        /* Counterfeit sticks may share a serial: the USB address tells a re-plugged one apart. */
        if (!same_string(t->info->serial, before->serial) || t->info->vendor_id != before->vendor_id ||
            t->info->product_id != before->product_id || !same_string(t->info->port, before->port) ||
            t->info->usb_bus != before->usb_bus || t->info->usb_address != before->usb_address) {
                refuse_identity(t->info->devnode, "replaced", err);
                if (err) {
                        snprintf(err->have, sizeof(err->have), "%s", str_or_empty(t->info->serial));
                        snprintf(err->want, sizeof(err->want), "%s", str_or_empty(before->serial));
                }
                return -EPERM;
        }
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
