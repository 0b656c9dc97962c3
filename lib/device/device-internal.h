/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared between the lib/device*.c files only. */
#pragma once

#include <dirent.h>
#include <libudev.h>

#include "device/device.h"

struct device_system {
        dev_t devnum;
        char *what;                          /* "/", "/boot", the state dir */
        bool is_words;                       /* what is lib/'s words: "a system file system" */
};

struct device_context {
        unsigned n_ref;
        struct udev *udev;
        struct device_policy policy;
        char *mountinfo_path, *swaps_path, *monitor_source;
        struct device_system *system;
        size_t n_system;
        void (*test_opened)(int fd, void *userdata);
        void *test_opened_userdata;
};

/* What uses the machine's block devices now: read once per scan or event. */
struct device_mount {
        dev_t devnum;                        /* field 3 of mountinfo */
        dev_t source_devnum;                 /* rdev of a /dev source, or 0 */
        char *target;
};

struct device_usage {
        struct device_mount *mounts;
        size_t n_mounts;
        dev_t *swaps;
        size_t n_swaps;
};

int device_usage_read(struct device_context *ctx, struct device_usage *ret, struct cart_error *err);
void device_usage_done(struct device_usage *u);

/* The dev_t of what backs / , /boot and the state dir, for ctx->system. */
int device_system_find(struct device_context *ctx, struct cart_error *err);

/* Sets d->refusals and d->reasons from the policy. Fails closed: a negative errno when the
 * disk's partitions or holders cannot all be listed. */
int device_judge(struct device_context *ctx, const struct device_usage *usage,
                 struct udev_device *disk, struct device_info *d);

/* Fills d->content from a read-only libblkid probe of d->devnode; never fails. */
void device_probe_content(struct device_info *d);
void device_content_done(struct device_content *c);

/* Builds a device_info from a udev whole disk (identity, verdict, optional probe). */
int device_info_from_udev(struct device_context *ctx, const struct device_usage *usage,
                          struct udev_device *disk, unsigned flags, struct device_info **ret);

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
