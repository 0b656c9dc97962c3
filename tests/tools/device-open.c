/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * device-open: calls device_target_open() on PATH, as `cartable flash` will, for the loop
 * device tests. --waive-usb sets the test-only policy flag that lets a loop device (not USB,
 * not removable) through, so the open, lock and identity checks can be exercised; the
 * cartable command has no way to set it. --hold keeps the key open and locked until stdin
 * closes. --window CMD runs the shell command CMD after the key is opened and locked, before
 * it is judged again (the test hook of struct device_env), e.g. `blockdev --setro`.
 * --allow VID:PID puts one entry on the policy's allow list.
 * Prints "opened DEVNODE devnum=M:m size=N sectors=L/P serial=S" on success, the
 * error message on stderr and exit status 4 (refused), 5 (busy) or 1 otherwise.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sys/sysmacros.h>

#include "reason.h"
#include "device/device.h"

static void run_window(int fd, void *userdata) {
        int status = system(userdata);

        if (status != 0)
                fprintf(stderr, "device-open: window command exited %d\n", status);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "waive-usb", no_argument,       NULL, 'w' },
                { "hold",      no_argument,       NULL, 'H' },
                { "serial",    required_argument, NULL, 's' },
                { "window",    required_argument, NULL, 'W' },
                { "allow",     required_argument, NULL, 'a' },
                {}
        };
        struct device_policy policy = { .min_size = MIB, .max_size = CONFIG_DEFAULT_MAX_SIZE };
        _cleanup_(device_target_closep) struct device_target *t = NULL;
        struct cart_error err = {};
        const char *serial = NULL, *window = NULL, *allow[1];
        bool hold = false;
        char buf[64];
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'w': policy.test_waive_usb_rule = true; break;
                case 'H': hold = true; break;
                case 's': serial = optarg; break;
                case 'W': window = optarg; break;
                case 'a':
                        allow[0] = optarg;
                        policy.allow = allow;
                        policy.n_allow = 1;
                        break;
                default: return 64;
                }
        if (optind + 1 != argc) {
                fprintf(stderr, "usage: device-open [--waive-usb] [--hold] [--serial S] [--window CMD] [--allow VID:PID] PATH\n");
                return 64;
        }
        if (window) {
                /* The real machine's state, with the hook: env fields NULL but the hook. */
                struct device_env env = { .test_opened = run_window, .test_opened_userdata = (void *) window };
                _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;

                r = device_context_new(&policy, &env, &ctx, &err);
                if (r >= 0)
                        r = device_target_open_in(ctx, argv[optind], serial, &t, &err);
        } else
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
