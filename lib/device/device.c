/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Discovery: whole disks from libudev, with a USB key's identity read without opening it. */
#include <ctype.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "device/device-internal.h"

/* ---- context ---- */

static int strdup_or(const char *s, const char *fallback, char **ret) {
        *ret = strdup(s ? s : fallback);
        return *ret ? 0 : -ENOMEM;
}

int device_context_new(const struct device_policy *policy, const struct device_env *env,
                       struct device_context **ret, struct cart_error *err) {
        static const struct device_env real = {};
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        int r;

        if (!env)
                env = &real;
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        ctx->n_ref = 1;
        ctx->policy = *policy;
        ctx->test_opened = env->test_opened;
        ctx->test_opened_userdata = env->test_opened_userdata;
        if (strdup_or(env->mountinfo_path, "/proc/self/mountinfo", &ctx->mountinfo_path) < 0 ||
            strdup_or(env->swaps_path, "/proc/swaps", &ctx->swaps_path) < 0 ||
            strdup_or(env->monitor_source, access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel",
                      &ctx->monitor_source) < 0)
                return -ENOMEM;
        ctx->udev = udev_new();
        if (!ctx->udev)
                return cart_error_errno(err, errno > 0 ? -errno : -ENOMEM, NULL, "udev_new()");
        if (env->system_devnums) {
                for (size_t i = 0; i < env->n_system_devnums; i++) {
                        struct device_system *s = realloc(ctx->system, (i + 1) * sizeof(*s));
                        if (!s)
                                return -ENOMEM;
                        ctx->system = s;
                        s[i].devnum = env->system_devnums[i];
                        s[i].what = strdup(N_("a system file system"));
                        s[i].is_words = true;
                        if (!s[i].what)
                                return -ENOMEM;
                        ctx->n_system = i + 1;
                }
        } else {
                r = device_system_find(ctx, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ctx);
        return 0;
}

struct device_context *device_context_ref(struct device_context *ctx) {
        if (ctx)
                ctx->n_ref++;
        return ctx;
}

struct device_context *device_context_unref(struct device_context *ctx) {
        if (!ctx || --ctx->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < ctx->n_system; i++)
                free(ctx->system[i].what);
        free(ctx->system);
        free(ctx->mountinfo_path);
        free(ctx->swaps_path);
        free(ctx->monitor_source);
        udev_unref(ctx->udev);
        free(ctx);
        return NULL;
}

/* ---- one disk ---- */

/* The count lives outside the public struct: callers read the fields, never the count. */
struct device_info_box {
        atomic_uint n_ref;
        struct device_info info;
};

static struct device_info_box *box_of(struct device_info *d) {
        return (struct device_info_box *) ((char *) d - offsetof(struct device_info_box, info));
}

struct device_info *device_info_ref(struct device_info *d) {
        if (d)
                atomic_fetch_add_explicit(&box_of(d)->n_ref, 1, memory_order_relaxed);
        return d;
}

/* The last unref sees every write made before the others dropped theirs (acq_rel). */
struct device_info *device_info_unref(struct device_info *d) {
        if (!d || atomic_fetch_sub_explicit(&box_of(d)->n_ref, 1, memory_order_acq_rel) != 1)
                return NULL;
        free(d->syspath);
        free(d->devnode);
        free(d->name);
        free(d->manufacturer);
        free(d->product);
        free(d->serial);
        free(d->port);
        free(d->speed);
        for (size_t i = 0; i < d->n_reasons; i++)
                free(d->reasons[i]);
        free(d->reasons);
        device_content_done(&d->content);
        free(box_of(d));
        return NULL;
}

void device_info_array_free(struct device_info **a, size_t n) {
        for (size_t i = 0; i < n; i++)
                device_info_unref(a[i]);
        free(a);
}

/* udev's *_ENC properties escape bytes as \xNN; sysfs strings are raw. Trailing blanks go;
 * a blank string is no string (*ret NULL). */
static int decode_string(const char *s, char **ret) {
        char *out, *o;

        out = o = malloc(strlen(s) + 1);
        if (!out)
                return -ENOMEM;
        while (*s) {
                unsigned v;
                if (s[0] == '\\' && s[1] == 'x' && isxdigit((unsigned char) s[2]) &&
                    isxdigit((unsigned char) s[3]) && sscanf(s + 2, "%2x", &v) == 1) {
                        *o++ = (char) v;
                        s += 4;
                } else
                        *o++ = *s++;
        }
        while (o > out && isspace((unsigned char) o[-1]))
                o--;
        *o = 0;
        if (!out[0]) {
                free(out);
                out = NULL;
        }
        *ret = out;
        return 0;
}

/*
 * A USB identity field: the udev property when udevd has run (ID_USB_* since systemd 250,
 * ID_* before), otherwise the sysfs attribute of the usb_device.
 */
static const char *usb_field(struct udev_device *disk, struct udev_device *usb,
                             const char *prop, const char *old_prop, const char *attr) {
        const char *v = udev_device_get_property_value(disk, prop);

        if (!v && old_prop)
                v = udev_device_get_property_value(disk, old_prop);
        if (!v && usb)
                v = udev_device_get_sysattr_value(usb, attr);
        return v;
}

static bool parse_hex16(const char *s, uint16_t *ret) {
        char *end;
        unsigned long v;

        if (!s)
                return false;
        errno = 0;
        v = strtoul(s, &end, 16);
        if (errno || end == s || *end || v > 0xFFFF)
                return false;
        *ret = (uint16_t) v;
        return true;
}

static uint64_t attr_u64(struct udev_device *u, const char *attr, uint64_t fallback) {
        const char *v = udev_device_get_sysattr_value(u, attr);
        char *end;
        unsigned long long n;

        if (!v)
                return fallback;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno || end == v || (*end && *end != '\n'))
                return fallback;
        return n;
}

static bool attr_is(struct udev_device *u, const char *attr, const char *value) {
        const char *v = u ? udev_device_get_sysattr_value(u, attr) : NULL;
        return v && streq(v, value);
}

static int dup_field(const char *v, bool decode, char **ret) {
        *ret = NULL;
        if (!v)
                return 0;
        if (decode)
                return decode_string(v, ret);
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static int read_usb_identity(struct udev_device *disk, struct udev_device *usb, struct device_info *d) {
        uint16_t vid, pid;
        int r = 0;

        d->is_usb = true;
        d->has_usb_ids = parse_hex16(usb_field(disk, usb, "ID_USB_VENDOR_ID", "ID_VENDOR_ID", "idVendor"), &vid) &&
                         parse_hex16(usb_field(disk, usb, "ID_USB_MODEL_ID", "ID_MODEL_ID", "idProduct"), &pid);
        if (d->has_usb_ids) {
                d->vendor_id = vid;
                d->product_id = pid;
        }
        /* ID_VENDOR_ENC and ID_MODEL_ENC are SCSI inquiry strings: only ID_USB_* are USB's. */
        if (r >= 0)
                r = dup_field(usb_field(disk, usb, "ID_USB_VENDOR_ENC", NULL, "manufacturer"), true, &d->manufacturer);
        if (r >= 0)
                r = dup_field(usb_field(disk, usb, "ID_USB_MODEL_ENC", NULL, "product"), true, &d->product);
        if (r >= 0)
                r = dup_field(usb_field(disk, usb, "ID_USB_SERIAL_SHORT", "ID_SERIAL_SHORT", "serial"), true, &d->serial);
        if (r >= 0)
                r = dup_field(udev_device_get_sysname(usb), false, &d->port);
        if (r >= 0)
                r = dup_field(udev_device_get_sysattr_value(usb, "speed"), true, &d->speed);
        d->usb_bus = (uint32_t) attr_u64(usb, "busnum", 0);
        d->usb_address = (uint32_t) attr_u64(usb, "devnum", 0);
        /* The hub port's own flag: "removable" for a user-facing port (lsblk's HOTPLUG). */
        d->is_hotplug = attr_is(usb, "removable", "removable");
        return r;
}

int device_info_from_udev(struct device_context *ctx, const struct device_usage *usage,
                          struct udev_device *disk, unsigned flags, struct device_info **ret) {
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        struct device_info_box *box;
        struct udev_device *usb;
        int r;

        box = calloc(1, sizeof(*box));
        if (!box)
                return -ENOMEM;
        atomic_init(&box->n_ref, 1);
        d = &box->info;
        d->devnum = udev_device_get_devnum(disk);
        if (dup_field(udev_device_get_syspath(disk), false, &d->syspath) < 0 ||
            dup_field(udev_device_get_sysname(disk), false, &d->name) < 0)
                return -ENOMEM;
        if (udev_device_get_devnode(disk))
                r = dup_field(udev_device_get_devnode(disk), false, &d->devnode);
        else
                r = asprintf(&d->devnode, "/dev/%s", d->name) < 0 ? -ENOMEM : 0;
        if (r < 0)
                return r;
        /* sysfs counts `size` in 512-byte units whatever the sector size. */
        d->size = attr_u64(disk, "size", 0) * 512;
        d->logical_sector_size = (uint32_t) attr_u64(disk, "queue/logical_block_size", 512);
        d->physical_sector_size = (uint32_t) attr_u64(disk, "queue/physical_block_size", d->logical_sector_size);
        d->is_removable = attr_is(disk, "removable", "1");
        d->is_read_only = attr_is(disk, "ro", "1");

        usb = udev_device_get_parent_with_subsystem_devtype(disk, "usb", "usb_device");
        if (usb) {
                r = read_usb_identity(disk, usb, d);
                if (r < 0)
                        return r;
        }
        r = device_judge(ctx, usage, disk, d);
        if (r < 0)
                return r;
        /* Only USB disks are probed: cartable never opens the station's own disks. */
        if (d->is_usb && !(flags & DEVICE_SCAN_NO_PROBE))
                device_probe_content(d);
        *ret = TAKE_PTR(d);
        return 0;
}

static bool is_whole_disk(struct udev_device *u) {
        const char *t = udev_device_get_devtype(u);
        return t && streq(t, "disk");
}

int device_info_new_from_devnum(struct device_context *ctx, dev_t devnum, unsigned flags,
                                struct device_info **ret, struct cart_error *err) {
        struct device_usage usage = {};
        struct udev_device *u;
        int r;

        u = udev_device_new_from_devnum(ctx->udev, 'b', devnum);
        if (!u)
                return cart_error_set(err, -ENODEV, "no block device %u:%u in sysfs", major(devnum), minor(devnum));
        if (!is_whole_disk(u)) {
                r = cart_error_set(err, -ENODEV, "%s is not a whole disk", udev_device_get_sysname(u));
                udev_device_unref(u);
                return r;
        }
        r = device_usage_read(ctx, &usage, err);
        if (r >= 0)
                r = device_info_from_udev(ctx, &usage, u, flags, ret);
        device_usage_done(&usage);
        udev_device_unref(u);
        return r;
}

/* sda < sdb < sdz < sdaa: shorter names first, then by name. */
static int compare_info(const void *a, const void *b) {
        const struct device_info *x = *(struct device_info *const *) a, *y = *(struct device_info *const *) b;
        size_t lx = strlen(x->name), ly = strlen(y->name);

        if (lx != ly)
                return lx < ly ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* Loop devices without a backing file are free slots, not disks. */
static bool is_unused_loop(struct udev_device *u) {
        const char *name = udev_device_get_sysname(u);
        return strncmp(name, "loop", 4) == 0 && !udev_device_get_sysattr_value(u, "loop/backing_file");
}

static int scan_list(struct device_context *ctx, const struct device_usage *usage, unsigned flags,
                     struct udev_list_entry *first, struct device_info ***list, size_t *n) {
        struct udev_list_entry *le;
        int r;

        udev_list_entry_foreach(le, first) {
                struct udev_device *u = udev_device_new_from_syspath(ctx->udev, udev_list_entry_get_name(le));
                struct device_info *d = NULL, **l;

                if (!u)
                        continue;   /* gone meanwhile */
                if (!is_whole_disk(u) || is_unused_loop(u) ||
                    (!(flags & DEVICE_SCAN_ALL) && !udev_device_get_parent_with_subsystem_devtype(u, "usb", "usb_device"))) {
                        udev_device_unref(u);
                        continue;
                }
                r = device_info_from_udev(ctx, usage, u, flags, &d);
                udev_device_unref(u);
                if (r == -ENOENT || r == -ENODEV)
                        continue;   /* pulled while being listed */
                if (r < 0)
                        return r;
                l = realloc(*list, (*n + 1) * sizeof(*l));
                if (!l) {
                        device_info_unref(d);
                        return -ENOMEM;
                }
                *list = l;
                l[(*n)++] = d;
        }
        return 0;
}

int device_scan(struct device_context *ctx, unsigned flags, struct device_info ***ret,
                size_t *ret_n, struct cart_error *err) {
        struct device_usage usage = {};
        struct udev_enumerate *e;
        struct device_info **list = NULL;
        size_t n = 0;
        int r;

        r = device_usage_read(ctx, &usage, err);
        if (r < 0)
                return r;
        e = udev_enumerate_new(ctx->udev);
        if (!e) {
                device_usage_done(&usage);
                return -ENOMEM;
        }
        r = udev_enumerate_add_match_subsystem(e, "block");
        if (r >= 0)
                r = udev_enumerate_scan_devices(e);
        if (r < 0)
                r = cart_error_errno(err, r, NULL, "cannot list block devices");
        else
                r = scan_list(ctx, &usage, flags, udev_enumerate_get_list_entry(e), &list, &n);
        udev_enumerate_unref(e);
        device_usage_done(&usage);
        if (r < 0) {
                device_info_array_free(list, n);
                return r;
        }
        if (n > 1)
                qsort(list, n, sizeof(*list), compare_info);
        *ret = list;
        *ret_n = n;
        return 0;
}
