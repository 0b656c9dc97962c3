/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hot-plug: udev events of whole disks, turned into add/change/remove of judged disks. */
#include <sys/sysmacros.h>

#include "device/device-internal.h"

struct device_monitor {
        struct device_context *ctx;
        struct udev_monitor *mon;
        device_event_fn callback;
        void *userdata;
        struct device_info **known;          /* disks present now, last info seen */
        size_t n_known;
        char **serials;                      /* every serial seen, to recognise a re-insertion */
        size_t n_serials;
        unsigned flags;                      /* device_info_from_udev()'s: DEVICE_SCAN_NO_PROBE */
};

const char *device_action_name(enum device_action a) {
        switch (a) {
        case DEVICE_ADD: return "add";
        case DEVICE_CHANGE: return "change";
        case DEVICE_REMOVE: return "remove";
        }
        return "unknown";
}

struct device_monitor *device_monitor_free(struct device_monitor *m) {
        if (!m)
                return NULL;
        device_info_array_free(m->known, m->n_known);
        for (size_t i = 0; i < m->n_serials; i++)
                free(m->serials[i]);
        free(m->serials);
        udev_monitor_unref(m->mon);
        device_context_unref(m->ctx);
        free(m);
        return NULL;
}

static bool serial_seen(struct device_monitor *m, const char *serial) {
        for (size_t i = 0; serial && i < m->n_serials; i++)
                if (streq(m->serials[i], serial))
                        return true;
        return false;
}

static int remember_serial(struct device_monitor *m, const char *serial) {
        char **l;

        if (!serial || serial_seen(m, serial))
                return 0;
        l = realloc(m->serials, (m->n_serials + 1) * sizeof(*l));
        if (!l)
                return -ENOMEM;
        m->serials = l;
        l[m->n_serials] = strdup(serial);
        if (!l[m->n_serials])
                return -ENOMEM;
        m->n_serials++;
        return 0;
}

int device_monitor_new(struct device_context *ctx, device_event_fn callback, void *userdata,
                       struct device_monitor **ret, struct cart_error *err) {
        _cleanup_(device_monitor_freep) struct device_monitor *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->ctx = device_context_ref(ctx);
        m->callback = callback;
        m->userdata = userdata;
        m->mon = udev_monitor_new_from_netlink(ctx->udev, ctx->monitor_source);
        if (!m->mon)
                return cart_error_set(err, -EPROTO, "cannot listen to %s uevents (netlink)", ctx->monitor_source);
        r = udev_monitor_filter_add_match_subsystem_devtype(m->mon, "block", "disk");
        if (r >= 0)
                r = udev_monitor_enable_receiving(m->mon);
        if (r < 0)
                return cart_error_errno(err, r, ctx->monitor_source, "cannot listen to uevents");
        /* Listening first, then listing: a disk added in between shows up as a change. */
        r = device_scan(ctx, DEVICE_SCAN_ALL | DEVICE_SCAN_NO_PROBE, &m->known, &m->n_known, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_known; i++) {
                r = remember_serial(m, m->known[i]->serial);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

void device_monitor_set_flags(struct device_monitor *m, unsigned flags) {
        m->flags = flags & DEVICE_SCAN_NO_PROBE;
}

int device_monitor_fd(const struct device_monitor *m) {
        return udev_monitor_get_fd(m->mon);
}

static ssize_t find_known(struct device_monitor *m, dev_t devnum) {
        for (size_t i = 0; i < m->n_known; i++)
                if (m->known[i]->devnum == devnum)
                        return (ssize_t) i;
        return -1;
}

/* The callback's result: negative stops processing; otherwise 1, one event dispatched. */
static int dispatch(struct device_monitor *m, const struct device_event *ev) {
        int r = m->callback(ev, m->userdata);
        return r < 0 ? r : 1;
}

static int dispatch_remove(struct device_monitor *m, size_t i) {
        _cleanup_(device_info_unrefp) struct device_info *d = m->known[i];
        struct device_event ev = { .action = DEVICE_REMOVE, .info = d };

        m->known[i] = m->known[--m->n_known];
        return dispatch(m, &ev);
}

static int dispatch_present(struct device_monitor *m, struct udev_device *u, struct cart_error *err) {
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;
        struct device_usage usage = {};
        struct device_event ev = {};
        ssize_t i = find_known(m, udev_device_get_devnum(u));
        const char *name = udev_device_get_sysname(u);
        int r;

        /* A loop device detached is a change to an unused slot: for us it is gone. */
        if (strncmp(name, "loop", 4) == 0 && !udev_device_get_sysattr_value(u, "loop/backing_file"))
                return i >= 0 ? dispatch_remove(m, (size_t) i) : 0;
        r = device_usage_read(m->ctx, &usage, err);
        if (r >= 0)
                r = device_info_from_udev(m->ctx, &usage, u, m->flags, &d);
        device_usage_done(&usage);
        if (r < 0)
                return r;
        ev.info = d;
        if (i >= 0) {
                ev.action = DEVICE_CHANGE;
                device_info_unref(m->known[i]);
                m->known[i] = device_info_ref(d);
        } else {
                struct device_info **l = realloc(m->known, (m->n_known + 1) * sizeof(*l));
                if (!l)
                        return -ENOMEM;
                m->known = l;
                l[m->n_known++] = device_info_ref(d);
                ev.action = DEVICE_ADD;
                ev.is_reinserted = serial_seen(m, d->serial);
                r = remember_serial(m, d->serial);
                if (r < 0)
                        return r;
        }
        return dispatch(m, &ev);
}

int device_monitor_process(struct device_monitor *m, struct cart_error *err) {
        struct udev_device *u;
        int n = 0, r = 0;

        /* libudev's monitor socket is non-blocking: NULL when nothing is pending. */
        while (r >= 0 && (u = udev_monitor_receive_device(m->mon))) {
                const char *action = udev_device_get_action(u), *devtype = udev_device_get_devtype(u);

                r = 0;
                if (action && devtype && streq(devtype, "disk")) {
                        if (streq(action, "remove")) {
                                ssize_t i = find_known(m, udev_device_get_devnum(u));
                                if (i >= 0)
                                        r = dispatch_remove(m, (size_t) i);
                        } else if (streq(action, "add") || streq(action, "change"))
                                r = dispatch_present(m, u, err);
                }
                udev_device_unref(u);
                if (r > 0)
                        n += r;
        }
        return r < 0 ? r : n;
}
