/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The batch engine's hot-plug side: keys arriving and leaving through the device monitor,
 * on the coordinator's thread. */
#include "batch/batch-internal.h"

static struct slot *slot_by_devnum(struct batch *b, dev_t devnum) {
        for (size_t i = 0; i < b->n_slots; i++)
                if (b->slots[i]->is_device && b->slots[i]->devnum == devnum && b->slots[i]->state != SLOT_ENDED)
                        return b->slots[i];
        for (size_t i = 0; i < b->n_slots; i++)
                if (b->slots[i]->is_device && b->slots[i]->devnum == devnum)
                        return b->slots[i];
        return NULL;
}

/* The key's identity, as its journal start and its erase lookups know it (usb:VID:PID:SERIAL).
 * Its port is its slot's (batch_slot_get()): a target's row keeps the path it was given. */
static int slot_take_identity(struct slot *s, const struct device_info *d) {
        s->is_device = true;
        s->devnum = d->devnum;
        free(s->serial);
        free(s->vendor);
        free(s->product);
        s->serial = strdup(d->serial ? d->serial : "");
        s->vendor = d->manufacturer ? strdup(d->manufacturer) : NULL;
        s->product = d->product ? strdup(d->product) : NULL;
        if (!s->serial)
                return -ENOMEM;
        if (d->has_usb_ids)
                snprintf(s->vid_pid, sizeof(s->vid_pid), "%04x:%04x", d->vendor_id, d->product_id);
        else
                s->vid_pid[0] = 0;
        s->view.capacity = d->size;
        return 0;
}

static int key_added(struct batch *b, const struct device_info *d) {
        struct slot *s = slot_by_devnum(b, d->devnum);
        int r;

        if (s && s->state != SLOT_ENDED)
                return 0;          /* known and in progress: a change, not a new key */
        b->last_activity = batch_mono();     /* any key plugged in, even refused, is activity */
        r = batch_slot_get(b, d->devnode, d->port, &s);
        if (r < 0)
                return r;
        r = slot_take_identity(s, d);
        if (r < 0)
                return r;
        if (!device_info_is_eligible(d)) {
                size_t n = 0;
                for (size_t i = 0; i < d->n_reasons; i++)
                        n += (size_t) snprintf(s->message + MIN(n, sizeof(s->message) - 1),
                                               sizeof(s->message) - MIN(n, sizeof(s->message) - 1), "%s%s",
                                               i ? "; " : "", d->reasons[i]);
                s->findings = d->findings;
                s->view.refusals = d->refusals;
                s->view.findings = &s->findings;
                b->summary.n_refused++;
                batch_emit(b, BATCH_REFUSED, s, NULL, 0);
                return 0;
        }
        batch_emit(b, BATCH_ADDED, s, NULL, 0);
        if (b->stop_level == 0)
                batch_slot_queue(b, s);
        return 0;
}

int batch_on_device(const struct device_event *ev, void *userdata) {
        struct batch *b = userdata;
        struct slot *s;

        switch (ev->action) {
        case DEVICE_ADD:
                return key_added(b, ev->info);
        case DEVICE_CHANGE:
                return 0;      /* a flash re-reads the partition table: its own change event */
        case DEVICE_REMOVE:
                s = slot_by_devnum(b, ev->info->devnum);
                if (!s)
                        return 0;
                if (s->state == SLOT_RUNNING) {
                        s->is_removed = true;
                        atomic_store(&s->cancel, true);
                        /* Plugged in again before its worker ends, it must be a new key. */
                        s->devnum = 0;
                } else if (s->state == SLOT_QUEUED) {
                        s->state = SLOT_ENDED;
                        b->n_queued--;
                }
                s->is_device = s->state == SLOT_RUNNING;   /* a re-inserted key is a new one */
                batch_emit(b, BATCH_REMOVED, s, NULL, 0);
                return 0;
        }
        return 0;
}

/* Keys present when the batch starts are new keys too. */
int batch_scan_present(struct batch *b, struct cart_error *err) {
        struct device_info **a = NULL;
        size_t n = 0;
        int r;

        r = device_scan(b->o.devices, DEVICE_SCAN_NO_PROBE, &a, &n, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = key_added(b, a[i]);
        device_info_array_free(a, n);
        return r;
}

/* A block device given as a target: its identity learnt before its start is recorded, as an
 * arrival's is (its content is read by its worker). Unknown to udev, it keeps its path: its
 * worker's open judges it, and its end is recorded under its start's uid (slot_begin()). */
int batch_target_identify(struct batch *b, struct slot *s) {
        _cleanup_(device_info_unrefp) struct device_info *d = NULL;

        if (station_target_info(b->o.station, s->target, &d, NULL) < 0)
                return 0;
        return slot_take_identity(s, d);
}
