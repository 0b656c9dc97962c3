/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * device-open: calls device_target_open() on PATH, as `cartable flash` will, for the loop
 * device tests. --waive-usb sets the test-only policy flag that lets a loop device (not USB,
 * not removable) through, so the open, lock and identity checks can be exercised; the
 * cartable command has no way to set it. --hold keeps the key open and locked until stdin
 * closes. Prints "opened DEVNODE devnum=M:m size=N sectors=L/P serial=S" on success, the
 * error message on stderr and exit status 4 (refused), 5 (busy) or 1 otherwise.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sys/sysmacros.h>

#include "reason.h"
#include "device/device.h"

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "waive-usb", no_argument,       NULL, 'w' },
                { "hold",      no_argument,       NULL, 'H' },
                { "serial",    required_argument, NULL, 's' },
                {}
        };
        struct device_policy policy = { .min_size = MIB, .max_size = CONFIG_DEFAULT_MAX_SIZE };
        _cleanup_(device_target_closep) struct device_target *t = NULL;
        struct cart_error err = {};
        const char *serial = NULL;
        bool hold = false;
        char buf[64];
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'w': policy.test_waive_usb_rule = true; break;
                case 'H': hold = true; break;
                case 's': serial = optarg; break;
                default: return 64;
                }
        if (optind + 1 != argc) {
                fprintf(stderr, "usage: device-open [--waive-usb] [--hold] [--serial S] PATH\n");
                return 64;
        }
        r = device_target_open(argv[optind], &policy, serial, &t, &err);
        if (r < 0) {
                fprintf(stderr, "device-open: %s\n", ERROR_TEXT(&err, r));
                printf("reason %s\n", cart_reason_to_string(cart_error_reason(&err, r)));
                return r == -EPERM ? 4 : r == -EBUSY ? 5 : 1;
        }
        printf("opened %s devnum=%u:%u size=%" PRIu64 " sectors=%" PRIu32 "/%" PRIu32 " serial=%s\n",
               t->info->devnode, major(t->devnum), minor(t->devnum), t->size, t->logical_sector_size,
               t->physical_sector_size, t->info->serial ? t->info->serial : "(none)");
        fflush(stdout);
        if (hold)
                while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                        ;
        return 0;
}
