/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding USB keys and deciding which ones may be written (libudev, libblkid).
 *
 * A key is identified by its dev_t and its USB serial, never by a path alone. The target
 * policy refuses every disk that is not a safe target and names every rule that fails:
 * wiping a technician's data disk is the worst thing cartable could do.
 *
 *   device_context   the udev handle, the policy and where to read the machine's state
 *                    (mountinfo, swaps, the disks behind /, /boot and the state dir);
 *                    tests inject fake files and dev_t lists through struct device_env.
 *   device_scan      whole disks with their identity, verdict and a blkid content probe.
 *   device_monitor   add/change/remove events of disks, for a poll() loop.
 *   device_target    a key opened for writing: O_RDWR|O_EXCL, flock, identity re-checked.
 *
 * Identity comes from udev properties when udevd has run (ID_SERIAL_SHORT...), otherwise
 * from the sysfs attributes of the parent usb_device (no udevd on CI and in chroots).
 * Sizes come from sysfs (`size`, queue/logical_block_size), so a disk is described without
 * opening it; device_target_open() takes the kernel's ioctl values once the disk is open.
 *
 * Threading: a device_info may cross threads (device_info_ref/unref are atomic; its fields
 * are immutable once it is returned). A device_context, a device_monitor and a
 * device_target belong to one thread at a time: libudev's struct udev is not thread-safe,
 * so each worker that scans or opens keys makes its own context (device_target_open()
 * does); a target may be handed to another thread, not used by two at once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/config.h"
#include "base/error.h"
#include "base/util.h"

/* One bit per rule of the target policy; a disk is eligible when none is set. */
enum device_refusal {
        DEVICE_REFUSED_NOT_USB       = 1u << 0,   /* no parent usb_device */
        DEVICE_REFUSED_NOT_REMOVABLE = 1u << 1,   /* neither removable nor hot-pluggable */
        DEVICE_REFUSED_MOUNTED       = 1u << 2,   /* the disk or a partition is mounted */
        DEVICE_REFUSED_SWAP          = 1u << 3,   /* ... or used as swap */
        DEVICE_REFUSED_HELD          = 1u << 4,   /* ... or held: device-mapper, md, LVM */
        DEVICE_REFUSED_SYSTEM        = 1u << 5,   /* holds /, /boot or the state dir */
        DEVICE_REFUSED_TOO_SMALL     = 1u << 6,
        DEVICE_REFUSED_TOO_LARGE     = 1u << 7,
        DEVICE_REFUSED_READ_ONLY     = 1u << 8,   /* write-protect switch */
        DEVICE_REFUSED_NOT_ALLOWED   = 1u << 9,   /* VID:PID not on the allow list */
        DEVICE_REFUSED_DENIED        = 1u << 10,  /* VID:PID on the deny list */
};
#define DEVICE_REFUSAL_MAX 11

/* The reason code of the lowest refusal bit in bits (policy-not-usb...); CART_REASON_NONE for 0. */
enum cart_reason device_refusal_reason(unsigned bits);
/* A short fixed name for one refusal bit ("not USB", "mounted"...); NULL for others. */
const char *device_refusal_name(unsigned bit);

/*
 * The target policy. Strings are borrowed: they must outlive every context built on it
 * (device_policy_from_config() points into the configuration).
 */
struct device_policy {
        uint64_t min_size, max_size;         /* bytes, inclusive */
        const char *const *allow;            /* "vvvv:pppp", lower-case hex; empty: any */
        size_t n_allow;
        const char *const *deny;
        size_t n_deny;
        const char *state_dir;               /* its disk is a system disk; NULL: none */
        /*
         * Tests only: accept disks that are neither USB nor removable (loop devices), so the
         * open, lock and identity checks can run as root on a loop device. No command-line
         * option or configuration setting sets it.
         */
        bool test_waive_usb_rule;
};

/* The policy of a configuration: sizes, allow and deny lists, state dir. -EINVAL when
 * min_size > max_size. ret borrows c's strings. */
int device_policy_from_config(const struct cart_config *c, struct device_policy *ret);

/* Where the machine's state is read; NULL fields mean the real machine. */
struct device_env {
        const char *mountinfo_path;          /* NULL: /proc/self/mountinfo */
        const char *swaps_path;              /* NULL: /proc/swaps */
        const dev_t *system_devnums;         /* NULL: the devices behind /, /boot, state dir */
        size_t n_system_devnums;
        const char *monitor_source;          /* NULL: "udev" if /run/udev/control exists, else "kernel" */
        /*
         * Tests only: called by device_target_open_in() once the key is opened and locked,
         * before it is judged again, so a test can swap, mount, hold or deny the key in that
         * window (tests/unit/test-device.c). The real machine (env NULL) has none.
         */
        void (*test_opened)(int fd, void *userdata);
        void *test_opened_userdata;
};

struct device_context;

/* env NULL: the real machine. The policy is copied (its strings are borrowed). */
int device_context_new(const struct device_policy *policy, const struct device_env *env,
                       struct device_context **ret, struct cart_error *err);
struct device_context *device_context_ref(struct device_context *ctx);
struct device_context *device_context_unref(struct device_context *ctx);
DEFINE_POINTER_CLEANUP(struct device_context, device_context_unref);

/* What libblkid sees on a disk now (read-only probe). */
struct device_part {
        unsigned number;                     /* 1, 2... in table order */
        uint64_t offset, size;               /* bytes */
        char *type;                          /* MBR "0x0c", or the GPT type UUID */
        char *name;                          /* GPT partition name, or NULL */
        char *fstype, *fsversion, *label;    /* NULL when no file system was recognised */
};

struct device_content {
        bool is_probed;                      /* false: not probed (non-USB disks are never opened) */
        int probe_error;                     /* negative errno when the probe failed, else 0 */
        char *probe_message;                 /* which operation failed (cmd/ adds the errno) */
        char *pttype;                        /* "dos", "gpt", or NULL */
        char *fstype, *label;                /* a file system on the whole disk (no table) */
        struct device_part *parts;
        size_t n_parts;
        /*
         * Shaped like a cartable key: a dos or gpt table whose first partition has the
         * FAT32 type (MBR 0x0b/0x0c or GPT Microsoft basic data) and holds a FAT32 file
         * system. A blkid-level guess that costs two small reads; `cartable verify` checks.
         */
        bool is_cartable_like;
};

/*
 * One whole disk, as found. Shared by reference: the monitor and a batch worker may hold it.
 * Every field is set when it is created and never changed afterwards, so any thread holding
 * a reference may read them without a lock; the reference count is private and atomic.
 */
struct device_info {
        char *syspath;                       /* /sys/devices/... */
        char *devnode;                       /* /dev/sdb */
        char *name;                          /* sdb */
        dev_t devnum;
        bool is_usb;                         /* has a parent usb_device */
        bool has_usb_ids;
        uint16_t vendor_id, product_id;
        char *manufacturer, *product, *serial;   /* NULL when unknown */
        char *port;                          /* bus and port chain, "2-1.3" */
        char *speed;                         /* link speed in Mb/s as sysfs says it: "480", "5000" */
        uint32_t usb_bus, usb_address;       /* the address changes each time a device enumerates */
        uint64_t size;                       /* bytes */
        uint32_t logical_sector_size, physical_sector_size;
        bool is_removable, is_hotplug, is_read_only;
        unsigned refusals;                   /* enum device_refusal bits */
        struct cart_findings findings;       /* what the failing rules found, as data */
        /* One English text per failing rule, in bit order ("mounted (sdb1 on /mnt)"), made
         * from findings for machines (devices --json, the journal); cmd/ words findings. */
        char **reasons;
        size_t n_reasons;
        struct device_content content;
};

struct device_info *device_info_ref(struct device_info *d);
struct device_info *device_info_unref(struct device_info *d);
DEFINE_POINTER_CLEANUP(struct device_info, device_info_unref);
static inline bool device_info_is_eligible(const struct device_info *d) { return d->refusals == 0; }

enum {
        DEVICE_SCAN_ALL      = 1u << 0,      /* every whole disk, not only USB ones */
        DEVICE_SCAN_NO_PROBE = 1u << 1,      /* skip the libblkid content probe */
};

/* The disk with that dev_t, judged by the policy. -ENODEV when it is not a whole disk. */
int device_info_new_from_devnum(struct device_context *ctx, dev_t devnum, unsigned flags,
                                struct device_info **ret, struct cart_error *err);

/* The disk at path (symlinks resolved: /dev/disk/by-id/...), judged by the policy, neither
 * opened nor read unless flags ask for the probe. -EPERM (CART_REASON_NOT_BLOCK_DEVICE) when
 * path is no block device, -ENODEV when it is not a whole disk. */
int device_info_new_from_path(struct device_context *ctx, const char *path, unsigned flags,
                              struct device_info **ret, struct cart_error *err);

/*
 * Every whole disk (USB ones only, unless DEVICE_SCAN_ALL), sorted by name. A probe
 * error is kept in that disk's content, never fails the scan. Unused loop devices
 * (no backing file) are left out.
 */
int device_scan(struct device_context *ctx, unsigned flags, struct device_info ***ret,
                size_t *ret_n, struct cart_error *err);
void device_info_array_free(struct device_info **a, size_t n);

/*
 * Hot-plug: a udev monitor on the "udev" netlink source when udevd runs, on "kernel"
 * otherwise. device_monitor_process() reads what is pending (never blocks) and calls the
 * callback once per add, change or remove of a whole disk. A remove carries the last
 * info seen for that disk. A repeated add of a disk already known is a change. An add
 * whose serial was seen before (a key pulled and re-inserted) has is_reinserted set.
 * Made for a poll() loop with one worker per key: match events to workers by devnum,
 * or by serial across a re-insertion.
 */
enum device_action {
        DEVICE_ADD,
        DEVICE_CHANGE,
        DEVICE_REMOVE,
};
const char *device_action_name(enum device_action a);

struct device_event {
        enum device_action action;
        struct device_info *info;            /* borrowed for the callback: take a ref to keep it */
        bool is_reinserted;
};

/* A negative return from the callback stops device_monitor_process(), which returns it. */
typedef int (*device_event_fn)(const struct device_event *ev, void *userdata);

struct device_monitor;

/* Starts listening, then records the disks already present (no events for them). */
int device_monitor_new(struct device_context *ctx, device_event_fn callback, void *userdata,
                       struct device_monitor **ret, struct cart_error *err);
struct device_monitor *device_monitor_free(struct device_monitor *m);
DEFINE_POINTER_CLEANUP(struct device_monitor, device_monitor_free);
int device_monitor_fd(const struct device_monitor *m);
/* The flags of each event's info (DEVICE_SCAN_NO_PROBE: no libblkid read of the disk's content,
 * for a caller that never shows it; the batch, whose arrivals would each wait for it). 0 by
 * default: with the content probe. */
void device_monitor_set_flags(struct device_monitor *m, unsigned flags);
/* Dispatches every pending event; returns how many were dispatched. */
int device_monitor_process(struct device_monitor *m, struct cart_error *err);

/*
 * A key opened for writing. device_target_open() resolves path (symlinks such as
 * /dev/disk/by-id/... included) to a dev_t, judges that disk by the policy (-EPERM naming
 * every failing rule; a regular file or a partition is refused too), checks the serial
 * when expected_serial is not NULL, opens it O_RDWR|O_EXCL|O_CLOEXEC (EBUSY is a
 * refusal, -EBUSY, never retried without O_EXCL), takes flock(LOCK_EX) on it (-EBUSY
 * when still held after DEVICE_LOCK_WAIT_MSEC: udev holds a shared lock while it handles
 * the disk's events, which a key opened as soon as it arrives meets), then checks again that fstat's st_rdev, the serial, VID:PID, port
 * and USB address and the verdict are those of the same key (-EPERM otherwise: a stick
 * swapped meanwhile).
 * size and sector sizes are the kernel's (BLKGETSIZE64, BLKSSZGET, BLKPBSZGET).
 */
#define DEVICE_LOCK_WAIT_MSEC 5000

struct device_target {
        int fd;
        dev_t devnum;
        uint64_t size;
        uint32_t logical_sector_size, physical_sector_size;
        struct device_info *info;            /* as judged after the lock was taken */
};

int device_target_open(const char *path, const struct device_policy *policy,
                       const char *expected_serial, struct device_target **ret,
                       struct cart_error *err);
/* The same, in a given context (tests give a fake environment). */
int device_target_open_in(struct device_context *ctx, const char *path,
                          const char *expected_serial, struct device_target **ret,
                          struct cart_error *err);
/* Unlocks, closes, frees; returns NULL. */
struct device_target *device_target_close(struct device_target *t);
DEFINE_POINTER_CLEANUP(struct device_target, device_target_close);
