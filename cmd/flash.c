/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable flash: one key (or image file) from a signed release, read back in full. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "device/device.h"
#include "flash/flash.h"
#include "flash-output.h"
#include "key-io.h"
#include "trust.h"

static const char help[] =
        "Usage: cartable flash RELEASE TARGET [--trust KEY]... [OPTIONS]\n"
        "\n"
        "Write a signed release onto one USB key, or into an image file, and read every\n"
        "written byte back. In order: the release's signature and rollback are checked, the\n"
        "key's real capacity is probed, old signatures are wiped, a partition table and a\n"
        "FAT32 volume are laid out, the content is written (sector 0 last) and read back.\n"
        "\n"
        "TARGET is a USB key (/dev/sdX, /dev/disk/by-id/usb-...) that the target policy\n"
        "accepts, or an image file, created or grown to --size.\n"
        "\n"
        "Options:\n"
        "  --trust KEY         trusted minisign public key, or a directory of them (repeatable;\n"
        "                      default: the [trust] keys of the configuration)\n"
        "  --yes               really write a block device (without it: say what would be done)\n"
        "  --size SIZE         image file: create or grow it to SIZE (64M, 8G...)\n"
        "  --serial SERIAL     refuse the key unless its USB serial is SERIAL\n"
        "  --no-probe          skip the capacity probe of a key\n"
        "  --volume-id XXXX-XXXX  FAT volume ID (default: random, unique to the key)\n"
        "  --time TIME         time of the volume and key record (seconds or YYYY-MM-DDTHH:MM:SSZ)\n"
        "  --allow-downgrade   accept a release older than one already flashed here\n"
        "  --owner FIELD=VALUE personalised releases: the owner file's fields, repeatable;\n"
        "                      FIELD is first-name, last-name, class or school\n"
        "  --json              JSON lines on stdout: step events, then the key's report\n"
        "  -h, --help          show this help\n"
        "\n"
        "Exit codes: 0 flashed and read back; 3 bad signature or rollback; 4 key refused\n"
        "(policy, too small, counterfeit); 5 I/O error or read-back mismatch; 64 usage;\n"
        "66 missing release. See cartable-flash(1).\n";

struct args {
        const char *release, *target, *serial;
        char **trust;
        size_t n_trust;
        bool yes, no_probe, allow_downgrade, json;
        uint64_t size;
        bool has_volume_id;
        uint32_t volume_id;
        int64_t time;
        struct owner_fields owner;
        bool has_owner;
};

/* --owner FIELD=VALUE: only the fields a school may print on a key (never INE, birth date). */
static int parse_owner(const char *arg, struct owner_fields *o) {
        static const struct { const char *name; size_t offset; } fields[] = {
                { "first-name", offsetof(struct owner_fields, first_name) },
                { "last-name", offsetof(struct owner_fields, last_name) },
                { "class", offsetof(struct owner_fields, class_name) },
                { "school", offsetof(struct owner_fields, school) },
        };
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg || !eq[1])
                return usage_error(&command_flash, "--owner %s: expected FIELD=VALUE", arg);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (strlen(fields[i].name) == (size_t) (eq - arg) &&
                    strncmp(arg, fields[i].name, (size_t) (eq - arg)) == 0) {
                        *(const char **) ((char *) o + fields[i].offset) = eq + 1;
                        return 0;
                }
        return usage_error(&command_flash, "--owner %s: unknown field (first-name, last-name, class, school)", arg);
}

static int parse_args(int argc, char **argv, struct args *a) {
        enum { OPT_TRUST = 0x100, OPT_YES, OPT_SIZE, OPT_SERIAL, OPT_NO_PROBE, OPT_VOLUME_ID,
               OPT_TIME, OPT_DOWNGRADE, OPT_JSON, OPT_OWNER };
        static const struct option options[] = {
                { "trust", required_argument, NULL, OPT_TRUST },
                { "yes", no_argument, NULL, OPT_YES },
                { "size", required_argument, NULL, OPT_SIZE },
                { "serial", required_argument, NULL, OPT_SERIAL },
                { "no-probe", no_argument, NULL, OPT_NO_PROBE },
                { "volume-id", required_argument, NULL, OPT_VOLUME_ID },
                { "time", required_argument, NULL, OPT_TIME },
                { "allow-downgrade", no_argument, NULL, OPT_DOWNGRADE },
                { "json", no_argument, NULL, OPT_JSON },
                { "owner", required_argument, NULL, OPT_OWNER },
                {}
        };
        int c;

        a->trust = calloc((size_t) argc, sizeof(char *));
        if (!a->trust)
                return -ENOMEM;
        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_TRUST: a->trust[a->n_trust++] = optarg; break;
                case OPT_YES: a->yes = true; break;
                case OPT_SIZE:
                        if (parse_size(optarg, &a->size) < 0 || a->size == 0)
                                return usage_error(&command_flash, "invalid size '%s'", optarg);
                        break;
                case OPT_SERIAL: a->serial = optarg; break;
                case OPT_NO_PROBE: a->no_probe = true; break;
                case OPT_VOLUME_ID:
                        if (key_parse_volume_id(optarg, &a->volume_id) < 0)
                                return usage_error(&command_flash, "invalid volume ID '%s' (XXXX-XXXX, hexadecimal)", optarg);
                        a->has_volume_id = true;
                        break;
                case OPT_TIME:
                        if (key_parse_time(optarg, &a->time) < 0)
                                return usage_error(&command_flash, "invalid time '%s'", optarg);
                        break;
                case OPT_DOWNGRADE: a->allow_downgrade = true; break;
                case OPT_JSON: a->json = true; break;
                case OPT_OWNER:
                        if (parse_owner(optarg, &a->owner) != 0)
                                return EXIT_USAGE;
                        a->has_owner = true;
                        break;
                default: return usage_bad_option(&command_flash, argv);
                }
        if (argc - optind != 2)
                return usage_error(&command_flash, "expected RELEASE and TARGET");
        a->release = argv[optind];
        a->target = argv[optind + 1];
        return 0;
}

/* An image file: created or grown to size, locked. *ret_is_new when it had no bytes. */
static int open_image(const char *path, uint64_t size, struct flash_target *t, bool *ret_created,
                      struct cart_error *err) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool created = false;
        int r;

        r = key_check_image_path(path, err);
        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT) {
                fd = open(path, O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0644);
                created = fd >= 0;
        }
        if (fd < 0)
                return cart_error_set(err, -errno, "%s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return cart_error_set(err, -EBUSY, "%s: in use by another program", path);
        if (fstat(fd, &st) < 0)
                return cart_error_set(err, -errno, "%s: %m", path);
        if (!S_ISREG(st.st_mode))
                return cart_error_set(err, -EPERM, "%s: neither a block device nor an image file", path);
        if (size > 0 && size < (uint64_t) st.st_size)
                return cart_error_set(err, -EINVAL, "%s: --size %" PRIu64 " would shrink the image (%" PRIu64 " bytes)",
                                      path, size, (uint64_t) st.st_size);
        if (size == 0 && st.st_size == 0) {
                if (created)
                        (void) unlink(path);
                return cart_error_set(err, -EINVAL, "%s: an empty image: give --size", path);
        }
        if (size > (uint64_t) st.st_size && ftruncate(fd, (off_t) size) < 0) {
                r = -errno;
                if (created)
                        (void) unlink(path);
                return cart_error_set(err, r, "%s: cannot grow to %" PRIu64 " bytes: %s", path, size, strerror(-r));
        }
        *t = (struct flash_target) {
                .fd = TAKE_FD(fd), .size = MAX(size, (uint64_t) st.st_size), .sector_size = 512,
                .is_new = st.st_size == 0,
        };
        snprintf(t->identity.device, sizeof(t->identity.device), "%s", path);
        *ret_created = created;
        return 0;
}

static void identity_from_device(const struct device_target *dt, const char *path, struct flash_target *t) {
        const struct device_info *d = dt->info;

        *t = (struct flash_target) {
                .fd = dt->fd, .size = dt->size, .sector_size = dt->logical_sector_size,
                .is_block_device = true,
        };
        snprintf(t->identity.device, sizeof(t->identity.device), "%s", d && d->devnode ? d->devnode : path);
        if (d && d->serial)
                snprintf(t->identity.serial, sizeof(t->identity.serial), "%s", d->serial);
        if (d && d->has_usb_ids)
                snprintf(t->identity.vid_pid, sizeof(t->identity.vid_pid), "%04x:%04x", d->vendor_id, d->product_id);
        if (d && d->port)
                snprintf(t->identity.port, sizeof(t->identity.port), "%s", d->port);
        t->identity.capacity = dt->size;
}

/* Without --yes: what would be written, from the plan itself; nothing is written. */
static int dry_run(const struct flash_target *t, const struct flash_options *o, const char *target) {
        _cleanup_(flash_plan_freep) struct flash_plan *fp = NULL;
        struct flash_report report = {};
        struct cart_error err = {};
        char a[32], b[32], c[32];
        int r;

        r = flash_plan_build(t, o, &report, &fp, &err);
        if (r < 0)
                return log_fail_error(&err, r, "%s: layout", target);
        printf("Would flash %s %s (serial %" PRIu64 ") onto %s (%s%s%s):\n"
               "  capacity probe%s, then a partition at byte %" PRIu64 " of %s, FAT32 with %s clusters,\n"
               "  %s of content, %s written in all (%zu extents), then read back.\n"
               "Nothing was written: add --yes to flash the key.\n",
               report.release_name, report.release_version, report.release_serial, target,
               format_size(t->size, a, sizeof(a)), t->identity.serial[0] ? ", serial " : "", t->identity.serial,
               o->no_probe ? " skipped" : "", report.partition_offset,
               format_size(report.partition_size, b, sizeof(b)), format_size(report.cluster_size, c, sizeof(c)),
               format_size(report.content_bytes, a, sizeof(a)), format_size(report.plan_bytes, b, sizeof(b)),
               plan_count(flash_plan_get(fp)));
        return EXIT_OK;
}

static int open_release(const struct args *a, struct release **ret) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        struct cart_error err = {};
        int r;

        r = trust_load(a->trust, a->n_trust, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = release_open(a->release, trust, 0, ret, &err);
        if (r < 0)
                return flash_output_error(a->json, a->target, &err, r, a->release);
        r = release_check_rollback(arg_config->state_dir, release_manifest(*ret),
                                   a->allow_downgrade, &err);
        if (r < 0) {
                *ret = release_unref(*ret);
                return flash_output_error(a->json, a->target, &err, r, a->release);
        }
        return EXIT_OK;
}

static int run(int argc, char **argv) {
        _cleanup_(release_unrefp) struct release *rel = NULL;
        _cleanup_(device_target_closep) struct device_target *dt = NULL;
        _cleanup_free_ char **trust_list = NULL;
        struct args a = {};
        struct flash_target t = { .fd = -EBADF };
        struct flash_report report;
        struct flash_output out = {};
        struct cart_error err = {};
        bool created = false;
        struct stat st;
        int r, code;

        r = parse_args(argc, argv, &a);
        trust_list = a.trust;
        if (r != 0)
                return r < 0 ? log_fail(r, "%s", strerror(-r)) : r;

        /* The release first: nothing is opened for writing before its signature holds. */
        code = open_release(&a, &rel);
        if (code != EXIT_OK)
                return code;

        struct flash_options o = {
                .release = rel, .no_probe = a.no_probe, .has_volume_id = a.has_volume_id,
                .volume_id = a.volume_id, .time = a.time, .owner = a.has_owner ? &a.owner : NULL,
        };
        const struct manifest *m = release_manifest(rel);
        if (a.has_owner && !manifest_is_personalised(m))
                return usage_error(&command_flash, "--owner: release %s %s is not personalised (it has no owner file)",
                                   manifest_name(m), manifest_version(m));
        if (!a.has_owner && manifest_is_personalised(m) && !a.json)
                log_info("note: %s is personalised; without --owner this key gets no \"%s\"",
                         a.release, manifest_owner_path(m));

        if (stat(a.target, &st) == 0 && S_ISBLK(st.st_mode)) {
                struct device_policy policy;
                if (a.size)
                        return usage_error(&command_flash, "--size applies to image files, not to USB keys");
                r = device_policy_from_config(arg_config, &policy);
                if (r >= 0)
                        r = device_target_open(a.target, &policy, a.serial, &dt, &err);
                if (r < 0)
                        return flash_output_error(a.json, a.target, &err, r, NULL);
                identity_from_device(dt, a.target, &t);
                if (!a.yes)
                        return dry_run(&t, &o, a.target);
        } else {
                if (a.serial)
                        return usage_error(&command_flash, "--serial applies to USB keys, not to image files");
                r = open_image(a.target, a.size, &t, &created, &err);
                if (r < 0)
                        return flash_output_error(a.json, a.target, &err, r, NULL);
        }

        flash_output_init(&out, a.json, a.target);
        o.on_event = flash_output_event;
        o.userdata = &out;
        r = flash_key(&t, &o, &report, &err);
        flash_output_result(&out, &report);
        if (!dt)
                close(t.fd);
        if (r < 0) {
                if (created)
                        (void) unlink(a.target);
                return log_fail_error(&err, r, "%s", a.target);
        }
        r = release_record_serial(arg_config->state_dir, release_manifest(rel), &err);
        if (r < 0)
                log_warn("rollback state not recorded: %s", ERROR_TEXT(&err, r));
        return EXIT_OK;
}

const struct command command_flash = {
        .name = "flash",
        .summary = "write a signed release onto a key or image file and read it back",
        .help = help,
        .run = run,
};
