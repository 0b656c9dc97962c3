/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What flash, verify, ls, cat, image export and a key's life share: targets read-only, a key's
 * USB serial, volume IDs, times. */
#pragma once

#include <stdint.h>

#include "common.h"

/* A key or image file opened read-only, with its size; the page cache is dropped for it
 * so that what is read is what the key holds. -EMEDIUMTYPE for anything else. */
int key_open_read(const char *path, int *ret_fd, uint64_t *ret_size, struct cart_error *err);

/* A key or image file opened for writing in place (update, repair): a USB key through the
 * target policy (as flash: O_EXCL, flock, identity checked again), or an image file (a
 * regular file, not a link, locked). */
struct key_target {
        struct device_target *dt;
        int fd;
        uint64_t size;
};
int key_target_open(const char *path, struct key_target *t, struct cart_error *err);
void key_target_done(struct key_target *t);
/* Between writes and their read-back, on the descriptor passed as (void *)(intptr_t) fd:
 * fsync, then the page cache dropped, so that what is read back is what the key holds. */
int key_target_sync(void *userdata);

/* The USB serial of the key an open descriptor is (a block device, through lib/device as
 * flash reads it) into buf: 1, or 0 with "" for an image file or a key without serial
 * (identify, issue, return, verify --journal). */
int key_usb_serial(int fd, char *buf, size_t len);

/* "ABCD-1234" into ret (at least 10 bytes); parse the same (hex, dash optional). */
void key_format_volume_id(uint32_t id, char *ret);
int key_parse_volume_id(const char *s, uint32_t *ret);
/* Seconds since the epoch, or "YYYY-MM-DDTHH:MM:SSZ". */
int key_parse_time(const char *s, int64_t *ret);
