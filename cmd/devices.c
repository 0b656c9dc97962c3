/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable devices: the USB keys present, their identity and whether each may be written. */
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/sysmacros.h>

#include "commands.h"
#include "device/device.h"

static bool arg_all, arg_json, arg_watch;

static void json_add_string(struct json_object *o, const char *key, const char *v) {
        json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static struct json_object *content_json(const struct device_content *c) {
        struct json_object *o = json_object_new_object(), *parts = json_object_new_array();

        json_object_object_add(o, "probed", json_object_new_boolean(c->is_probed));
        if (c->probe_error) {
                char msg[512];
                snprintf(msg, sizeof(msg), "%s: %s", c->probe_message ? c->probe_message : "probe", strerrordesc_np(-c->probe_error));
                json_add_string(o, "error", msg);
                json_add_string(o, "reason", cart_reason_to_string(cart_error_reason(NULL, c->probe_error)));
        } else
                json_add_string(o, "error", NULL);
        json_add_string(o, "pttype", c->pttype);
        json_add_string(o, "fstype", c->fstype);
        json_add_string(o, "label", c->label);
        for (size_t i = 0; i < c->n_parts; i++) {
                const struct device_part *p = &c->parts[i];
                struct json_object *po = json_object_new_object();

                json_object_object_add(po, "number", json_object_new_int((int) p->number));
                json_object_object_add(po, "offset", json_object_new_uint64(p->offset));
                json_object_object_add(po, "size", json_object_new_uint64(p->size));
                json_add_string(po, "type", p->type);
                json_add_string(po, "name", p->name);
                json_add_string(po, "fstype", p->fstype);
                json_add_string(po, "fsversion", p->fsversion);
                json_add_string(po, "label", p->label);
                json_object_array_add(parts, po);
        }
        json_object_object_add(o, "partitions", parts);
        json_object_object_add(o, "cartable_like", json_object_new_boolean(c->is_cartable_like));
        return o;
}

/* What the policy's rules found, as data (the English of reasons, taken apart): the rule's
 * reason code and, by rule, the device and what it holds or is mounted on, the sizes, the
 * VID:PID. */
static struct json_object *findings_json(const struct cart_findings *fs) {
        struct json_object *a = json_object_new_array();

        for (unsigned i = 0; i < MIN(fs->n, (uint8_t) CART_FINDINGS_MAX); i++) {
                const struct cart_finding *f = &fs->f[i];
                unsigned bit = 1u << f->rule;
                struct json_object *o = json_object_new_object();
                const char *name = cart_findings_str(fs, f->name), *via = cart_findings_str(fs, f->via),
                           *path = cart_findings_str(fs, f->path);

                json_add_string(o, "reason", cart_reason_to_string(device_refusal_reason(bit)));
                if (bit == DEVICE_REFUSED_NOT_ALLOWED || bit == DEVICE_REFUSED_DENIED)
                        json_object_object_add(o, "vid_pid", name[0] ? json_object_new_string(name) : NULL);
                else if (name[0])
                        json_add_string(o, "device", name);
                if (via[0])
                        json_add_string(o, bit == DEVICE_REFUSED_HELD ? "holds" : "via", via);
                if (path[0])
                        json_add_string(o, bit == DEVICE_REFUSED_SYSTEM ? "holds" : "mount_point", path);
                if (bit == DEVICE_REFUSED_TOO_SMALL || bit == DEVICE_REFUSED_TOO_LARGE) {
                        json_object_object_add(o, "size", json_object_new_int64((int64_t) f->value));
                        json_object_object_add(o, "limit", json_object_new_int64((int64_t) f->limit));
                }
                json_object_array_add(a, o);
        }
        return a;
}

static struct json_object *device_json(const struct device_info *d) {
        struct json_object *o = json_object_new_object(), *reasons = json_object_new_array(),
                           *rules = json_object_new_array(), *codes = json_object_new_array();
        char buf[32];

        json_add_string(o, "path", d->devnode);
        json_add_string(o, "name", d->name);
        snprintf(buf, sizeof(buf), "%u:%u", major(d->devnum), minor(d->devnum));
        json_add_string(o, "devnum", buf);
        json_add_string(o, "syspath", d->syspath);
        json_object_object_add(o, "eligible", json_object_new_boolean(device_info_is_eligible(d)));
        for (size_t i = 0; i < d->n_reasons; i++)
                json_object_array_add(reasons, json_object_new_string(d->reasons[i]));
        json_object_object_add(o, "reasons", reasons);
        for (unsigned i = 0; i < DEVICE_REFUSAL_MAX; i++)
                if (d->refusals & (1u << i)) {
                        json_object_array_add(rules, json_object_new_string(device_refusal_name(1u << i)));
                        json_object_array_add(codes, json_object_new_string(
                                cart_reason_to_string(device_refusal_reason(1u << i))));
                }
        json_object_object_add(o, "refusals", rules);
        json_object_object_add(o, "reason_codes", codes);
        json_object_object_add(o, "findings", findings_json(&d->findings));
        json_object_object_add(o, "findings_complete", json_object_new_boolean(!d->findings.lost));
        json_object_object_add(o, "usb", json_object_new_boolean(d->is_usb));
        if (d->has_usb_ids) {
                snprintf(buf, sizeof(buf), "%04" PRIx16, d->vendor_id);
                json_add_string(o, "vendor_id", buf);
                snprintf(buf, sizeof(buf), "%04" PRIx16, d->product_id);
                json_add_string(o, "product_id", buf);
        }
        json_add_string(o, "manufacturer", d->manufacturer);
        json_add_string(o, "product", d->product);
        json_add_string(o, "serial", d->serial);
        json_add_string(o, "port", d->port);
        json_add_string(o, "speed", d->speed);
        if (d->is_usb) {
                json_object_object_add(o, "usb_bus", json_object_new_int64(d->usb_bus));
                json_object_object_add(o, "usb_address", json_object_new_int64(d->usb_address));
        }
        json_object_object_add(o, "size", json_object_new_uint64(d->size));
        json_object_object_add(o, "logical_sector_size", json_object_new_int64(d->logical_sector_size));
        json_object_object_add(o, "physical_sector_size", json_object_new_int64(d->physical_sector_size));
        json_object_object_add(o, "removable", json_object_new_boolean(d->is_removable));
        json_object_object_add(o, "hotplug", json_object_new_boolean(d->is_hotplug));
        json_object_object_add(o, "read_only", json_object_new_boolean(d->is_read_only));
        json_object_object_add(o, "content", content_json(&d->content));
        return o;
}

static void print_content(FILE *f, const struct device_content *c) {
        if (!c->is_probed)
                return;
        if (c->probe_error) {
                /* TRANSLATORS: what the probe was doing, ": " when there is one, then why it failed. */
                fprintf(f, _("  content: probe failed (%s%s%s)"), c->probe_message ? c->probe_message : "", c->probe_message ? ": " : "",
                        strerror(-c->probe_error));
                return;
        }
        if (!c->pttype && !c->fstype) {
                fputs(_("  content: blank or unknown"), f);
                return;
        }
        if (c->pttype)
                /* TRANSLATORS: %s is a partition table type: "dos", "gpt". */
                fprintf(f, _("  content: %s table"), c->pttype);
        else
                /* TRANSLATORS: %s is a file system type: "vfat", "ext4". */
                fprintf(f, _("  content: %s"), c->fstype);
        if (c->label)
                fprintf(f, " \"%s\"", esc(c->label));
        for (size_t i = 0; i < c->n_parts; i++) {
                const struct device_part *p = &c->parts[i];
                fprintf(f, "%s%u:%s", i ? ", " : " (", p->number, p->fstype ? p->fstype : "?");
                if (p->fsversion)
                        fprintf(f, " %s", p->fsversion);
                if (p->label)
                        fprintf(f, " \"%s\"", esc(p->label));
        }
        if (c->n_parts)
                fputc(')', f);
        if (c->is_cartable_like)
                fputs(_(", cartable-like"), f);
}

/* One line: path, size, identity, flags, content, verdict. */
static void print_device(FILE *f, const struct device_info *d) {
        char size[32];

        fprintf(f, "%s  %s", d->devnode, human_size(d->size, size, sizeof(size)));
        if (d->is_usb) {
                if (d->has_usb_ids)
                        fprintf(f, "  %04" PRIx16 ":%04" PRIx16, d->vendor_id, d->product_id);
                /* A stick's descriptors are its maker's words: escaped as names from keys. */
                fprintf(f, "  %s %s", d->manufacturer ? esc(d->manufacturer) : "?", d->product ? esc(d->product) : "?");
                /* TRANSLATORS: a key's USB serial number, then its hub port ("2-1.3"). */
                fprintf(f, _("  serial %s  port %s"), d->serial ? esc(d->serial) : _("(none)"), d->port);
                if (d->speed)
                        fprintf(f, " (%s Mb/s)", d->speed);
        }
        /* TRANSLATORS: logical and physical sector sizes in bytes ("512/4096"). */
        fprintf(f, _("  sectors %" PRIu32 "/%" PRIu32), d->logical_sector_size, d->physical_sector_size);
        if (d->is_removable)
                fputs(_("  removable"), f);
        if (d->is_hotplug)
                fputs(_("  hotplug"), f);
        if (d->is_read_only)
                fputs(_("  read-only"), f);
        print_content(f, &d->content);
        if (device_info_is_eligible(d))
                fputs(_("  eligible\n"), f);
        else {
                char words[1100];

                /* TRANSLATORS: the policy rules a disk fails follow ("  refused: not USB; mounted (...)"). */
                fputs(_("  refused: "), f);
                fputs(policy_words(d->refusals, &d->findings, words, sizeof(words)), f);
                fputc('\n', f);
        }
}

/* The whole listing is built in memory and written at once: no partial output. */
static int list_devices(struct device_context *ctx) {
        struct device_info **list = NULL;
        struct cart_error err = {};
        size_t n = 0, n_usb = 0;
        int r;

        r = device_scan(ctx, arg_all ? DEVICE_SCAN_ALL : 0, &list, &n, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("cannot list devices"));
        for (size_t i = 0; i < n; i++)
                n_usb += list[i]->is_usb;
        if (arg_json) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, device_json(list[i]));
                puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(a);
        } else {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);

                if (!f) {
                        device_info_array_free(list, n);
                        return log_fail(-errno, _("out of memory"));
                }
                if (n_usb == 0)
                        fputs(_("No USB key found.\n"), f);
                for (size_t i = 0; i < n; i++)
                        print_device(f, list[i]);
                fclose(f);
                fwrite(text, 1, len, stdout);
        }
        device_info_array_free(list, n);
        if (fflush(stdout) != 0)
                return log_fail(-EIO, _("cannot write the listing: %s"), strerror(errno));
        return EXIT_OK;
}

/* The event's word for people (--json keeps device_action_name()). */
static const char *device_action_words(enum device_action a) {
        switch (a) {
        /* TRANSLATORS: devices --watch: a key was plugged in. */
        case DEVICE_ADD: return _("add");
        /* TRANSLATORS: devices --watch: a key changed (its content, its write protection...). */
        case DEVICE_CHANGE: return _("change");
        /* TRANSLATORS: devices --watch: a key was pulled out. */
        case DEVICE_REMOVE: return _("remove");
        }
        return device_action_name(a);
}

static int on_event(const struct device_event *ev, void *userdata) {
        if (!arg_all && !ev->info->is_usb)
                return 0;
        if (arg_json) {
                struct json_object *o = json_object_new_object();
                json_add_string(o, "event", device_action_name(ev->action));
                json_object_object_add(o, "reinserted", json_object_new_boolean(ev->is_reinserted));
                json_object_object_add(o, "device", device_json(ev->info));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                /* TRANSLATORS: the event ("add", "change", "remove") and " (re-inserted)" when a key came back. */
                printf(ev->is_reinserted ? _("%s (re-inserted) ") : "%s ", device_action_words(ev->action));
                if (ev->action == DEVICE_REMOVE)
                        printf(_("%s  serial %s\n"), ev->info->devnode, ev->info->serial ? ev->info->serial : _("(none)"));
                else
                        print_device(stdout, ev->info);
        }
        return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Until SIGINT or SIGTERM, read through a signalfd in the same poll() as the monitor. */
static int watch_devices(struct device_context *ctx) {
        _cleanup_(device_monitor_freep) struct device_monitor *m = NULL;
        _cleanup_close_ int sfd = -EBADF;
        struct cart_error err = {};
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
                return log_fail(-errno, _("signalfd: %s"), strerror(errno));
        r = device_monitor_new(ctx, on_event, NULL, &m, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("cannot watch devices"));
        /* On stderr: stdout holds the events (NDJSON with --json). */
        if (access("/run/udev/control", F_OK) < 0)
                log_warn(_("udevd is not running: keys plugged in are not seen (cartable doctor)"));
        else
                log_info(_("waiting for keys (Ctrl-C to stop)"));
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = device_monitor_fd(m), .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_fail(-errno, _("poll: %s"), strerror(errno));
                }
                if (p[1].revents)
                        return EXIT_OK;
                r = device_monitor_process(m, &err);
                if (r < 0)
                        return log_fail_error(&err, r, _("device events"));
        }
}

static int run(int argc, char **argv) {
        static const struct option options[] = {
                { "all",   no_argument, NULL, 'a' },
                { "json",  no_argument, NULL, 'j' },
                { "watch", no_argument, NULL, 'w' },
                {}
        };
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_policy policy;
        struct cart_error err = {};
        int c, r;

        while ((c = getopt_long(argc, argv, "ajw", options, NULL)) >= 0)
                switch (c) {
                case 'a': arg_all = true; break;
                case 'j': arg_json = true; break;
                case 'w': arg_watch = true; break;
                default: return usage_bad_option(&command_devices, argv);
                }
        if (optind < argc)
                return usage_error(&command_devices, _("unexpected argument '%s'"), argv[optind]);
        r = device_policy_from_config(arg_config, &policy);
        if (r < 0)
                return log_fail(-EINVAL, _("configuration: min-size is larger than max-size"));
        r = device_context_new(&policy, NULL, &ctx, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("cannot look at devices"));
        return arg_watch ? watch_devices(ctx) : list_devices(ctx);
}

const struct command command_devices = {
        .name = "devices",
        .summary = N_("list USB keys and whether each may be written"),
        .help =
        N_("Usage: cartable devices [--all] [--json] [--watch]\n"
        "\n"
        "List the USB keys present: identity (VID:PID, manufacturer, product, serial, port\n"
        "path, link speed), size, sector sizes, what they hold now, and 'eligible' or\n"
        "'refused: REASONS'. Only reads: nothing is opened for writing.\n"
        "\n"
        "Options:\n"
        "  -a, --all     also list the other disks, with the reasons they are refused\n"
        "  -j, --json    a JSON array of objects (path, eligible, reasons, ...)\n"
        "  -w, --watch   print add, change and remove events until interrupted\n"
        "                (one line, or one JSON object, per event)\n"
        "\n"
        "A key is eligible when it is USB and removable or hot-pluggable, not mounted, not\n"
        "swap, not held by device-mapper/md/LVM, not the disk of /, /boot or the state\n"
        "dir, within [policy] min-size and max-size, not write-protected, and allowed by\n"
        "the [policy] allow and deny lists. See cartable-devices(1).\n"),
        .run = run,
};
