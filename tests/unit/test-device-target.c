/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/device's target opener: each refusal with its reason code and sentence, and the
 * window between open and the re-check on a real loop device (root): a key swapped, a twin
 * re-enumerated, the policy judged again, another program holding the key.
 */
#include "device-test.h"

/* A refusal has its reason code (what --json and the journal keep) and its sentence. */
static void expect_target_refused(struct device_context *ctx, const char *path, const char *serial,
                                  int want, enum cart_reason reason, const char *in_msg) {
        struct device_target *t = NULL;
        struct cart_error err = {};
        const char *text;

        assert_int_equal(device_target_open_in(ctx, path, serial, &t, &err), want);
        assert_null(t);
        text = ERROR_TEXT(&err, want);
        if (!strstr(text, in_msg))
                fail_msg("%s: \"%s\" lacks \"%s\"", path, text, in_msg);
        if (cart_error_reason(&err, want) != reason)
                fail_msg("%s: reason %s, expected %s", path, cart_reason_to_string(cart_error_reason(&err, want)),
                         cart_reason_to_string(reason));
}

static void test_target_refusals(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        const char *plain = write_temp("not a disk");

        add_bed("stick");
        add_bed("mounted-stick");
        add_bed("sata");
        ctx = context_with(NULL, "40 26 8:65 / /media/pupil rw - vfat /dev/sde1 rw\n", NULL, NULL, 0);
        expect_target_refused(ctx, "/dev/disk/by-id/usb-Feas_Stick_MNT0001-0:0", NULL, -EPERM,
                              CART_REASON_POLICY_MOUNTED, "/dev/sde: refused: mounted (sde1 on /media/pupil)");
        expect_target_refused(ctx, "/dev/sda", NULL, -EPERM, CART_REASON_POLICY_NOT_USB,
                              "refused: not USB; not removable; too large");
        expect_target_refused(ctx, "/dev/sdb1", NULL, -EPERM, CART_REASON_NOT_WHOLE_DISK, "sdb1 is not a whole disk");
        expect_target_refused(ctx, plain, NULL, -EPERM, CART_REASON_NOT_BLOCK_DEVICE, "a regular file, not a block device");
        expect_target_refused(ctx, "/dev/disk/by-id/usb-Feas_Stick_ABC123-0:0", "XYZ789", -EPERM,
                              CART_REASON_SERIAL_MISMATCH, "serial ABC123 is not the expected XYZ789");
        expect_target_refused(ctx, "/dev/sdz", NULL, -ENOENT, CART_REASON_NOT_FOUND, "/dev/sdz");
        /* umockdev's node is a plain file once open: fstat disagrees with the judged disk. */
        expect_target_refused(ctx, "/dev/sdb", "ABC123", -EPERM, CART_REASON_IDENTITY_CHANGED,
                              "the device changed while it was opened");
}

/* Each failing rule keeps its own code: the first is the reason, rules holds them all. */
static void test_target_refusal_rules(void **state) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_target *t = NULL;
        struct cart_error err = {};

        add_bed("sata");
        ctx = context_with(NULL, NULL, NULL, NULL, 0);
        assert_int_equal(device_target_open_in(ctx, "/dev/sda", NULL, &t, &err), -EPERM);
        assert_int_equal(err.reason, CART_REASON_POLICY_NOT_USB);
        assert_string_equal(err.subject, "/dev/sda");
        assert_int_equal(err.rules, DEVICE_REFUSED_NOT_USB | DEVICE_REFUSED_NOT_REMOVABLE | DEVICE_REFUSED_TOO_LARGE);
        assert_string_equal(cart_reason_to_string(device_refusal_reason(DEVICE_REFUSED_TOO_LARGE)), "policy-too-large");
        assert_string_equal(cart_reason_to_string(device_refusal_reason(DEVICE_REFUSED_DENIED)), "policy-denied");
        assert_string_equal(cart_reason_to_string(device_refusal_reason(DEVICE_REFUSED_MOUNTED | DEVICE_REFUSED_SWAP)),
                            "policy-mounted");
        assert_int_equal(device_refusal_reason(0), CART_REASON_NONE);
        /* lib/'s English (msg, what --json and the journal keep) and the words cmd/ makes from
         * the rules and their findings say the same; without msg, the data still says it all. */
        assert_string_equal(err.msg, "not USB; not removable; too large (465.8 GiB > 256.0 GiB)");
        assert_string_equal(ERROR_TEXT_C(&err, -EPERM), "/dev/sda: refused: not USB; not removable; too large (465.8 GiB > 256.0 GiB)");
        err.msg[0] = 0;
        assert_string_equal(ERROR_TEXT(&err, -EPERM), "/dev/sda: refused: not USB; not removable; too large (465.8 GiB > 256.0 GiB)");
}

/* ---- the window between open and re-check, on a real block device ---- */

/*
 * umockdev's /dev nodes are plain files, so a target open stops at the fstat check. Here the
 * key is a real loop device (root) described to libudev by a bed of its own: a USB stick
 * whose disk has the loop device's dev_t and no node in the bed, so that open() reaches the
 * real /dev/loopN and every check after it runs. The bed has no udev properties: serial,
 * VID:PID and USB address come from sysfs attributes a test can change in the window.
 */
#define LOOP_USB_DEVPATH "/devices/pci0000:00/0000:00:14.0/usb2/2-7"
#define LOOP_USB_SYSPATH "/sys" LOOP_USB_DEVPATH
#define LOOP_KEY_SIZE (8 * MIB)

struct loop_key {
        int fd;                              /* keeps the loop device (autoclear) */
        char devnode[32], name[16], syspath[256];
        dev_t devnum;
        uint8_t *bytes;                      /* what it holds: must never change */
};

/* Skipped without root or loop devices, except in CI, where a skip would hide a safety test. */
static bool loop_key_skip(const char *why) {
        const char *ci = getenv("CI");

        if (ci && streq(ci, "true"))
                fail_msg("CI=true: cannot skip (%s)", why);
        print_message("skipped: %s\n", why);
        skip();
        return true;
}

/*
 * losetup in a clean environment: umockdev's preload answers every ioctl on /dev with
 * ENOTTY, so the loop device is set up by a child without it. Returns its stdout's first line.
 */
static int run_clean(const char *const argv[], char *out, size_t len) {
        char *const envp[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        int p[2], status;
        pid_t pid;
        ssize_t n;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                execve(argv[0], (char *const *) argv, envp);
                _exit(127);
        }
        close(p[1]);
        n = read(p[0], out, len - 1);
        close(p[0]);
        out[n > 0 ? n : 0] = 0;
        out[strcspn(out, "\n")] = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool loop_key_new(struct loop_key *k) {
        char backing[] = "/tmp/cartable-loop-XXXXXX";
        int bfd, n = -1;        /* clang: fail_msg() is not marked noreturn */

        k->fd = -1;
        if (geteuid() != 0)
                return !loop_key_skip("needs root for a loop device");
        if (access("/sbin/losetup", X_OK) < 0)
                return !loop_key_skip("needs losetup");
        bfd = mkstemp(backing);
        assert_true(bfd >= 0);
        k->bytes = malloc(LOOP_KEY_SIZE);
        assert_non_null(k->bytes);
        for (size_t i = 0; i < LOOP_KEY_SIZE; i++)
                k->bytes[i] = (uint8_t) (i * 7 + (i >> 12));
        assert_int_equal(pwrite_full(bfd, k->bytes, LOOP_KEY_SIZE, 0), 0);
        close(bfd);
        if (run_clean((const char *const[]) { "/sbin/losetup", "-f", "--show", backing, NULL },
                      k->devnode, sizeof(k->devnode)) != 0 || sscanf(k->devnode, "/dev/loop%d", &n) != 1)
                fail_msg("losetup -f --show %s failed (%s)", backing, k->devnode);
        unlink(backing);
        k->fd = open(k->devnode, O_RDONLY | O_CLOEXEC);
        assert_true(k->fd >= 0);
        /* Detached as soon as the last descriptor closes, whatever happens to the test. */
        assert_int_equal(run_clean((const char *const[]) { "/sbin/losetup", "-d", k->devnode, NULL },
                                   backing, sizeof(backing)), 0);
        snprintf(k->name, sizeof(k->name), "loop%d", n);
        k->devnum = makedev(7, (unsigned) n);
        snprintf(k->syspath, sizeof(k->syspath), "%s/2-7:1.0/host20/target20:0:0/20:0:0:0/block/%s",
                 LOOP_USB_SYSPATH, k->name);
        return true;
}

static void loop_key_add_bed(const struct loop_key *k) {
        _cleanup_free_ char *text = NULL;
        GError *gerr = NULL;

        assert_true(asprintf(&text,
                "P: " LOOP_USB_DEVPATH "\n"
                "E: DEVTYPE=usb_device\nE: DRIVER=usb\nE: SUBSYSTEM=usb\n"
                "A: idVendor=1234\nA: idProduct=5678\nA: serial=LOOP0001\nA: manufacturer=Feas\n"
                "A: product=Stick\nA: busnum=2\nA: devnum=9\nA: speed=480\nA: removable=removable\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0\n"
                "E: DEVTYPE=usb_interface\nE: DRIVER=usb-storage\nE: SUBSYSTEM=usb\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0/host20\nE: DEVTYPE=scsi_host\nE: SUBSYSTEM=scsi\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0/host20/target20:0:0\nE: DEVTYPE=scsi_target\nE: SUBSYSTEM=scsi\n\n"
                "P: " LOOP_USB_DEVPATH "/2-7:1.0/host20/target20:0:0/20:0:0:0\n"
                "E: DEVTYPE=scsi_device\nE: DRIVER=sd\nE: SUBSYSTEM=scsi\n\n"
                "P: %s\n"
                "E: DEVNAME=%s\nE: DEVTYPE=disk\nE: SUBSYSTEM=block\nE: MAJOR=7\nE: MINOR=%u\n"
                "A: removable=1\nA: size=%llu\nA: ro=0\nA: dev=7:%u\n"
                "A: queue/logical_block_size=512\nA: queue/physical_block_size=512\n",
                k->syspath + strlen("/sys"), k->devnode, minor(k->devnum), (unsigned long long) (LOOP_KEY_SIZE / 512),
                minor(k->devnum)) > 0);
        if (!umockdev_testbed_add_from_string(tb, text, &gerr))
                fail_msg("loop bed: %s", gerr->message);
}

/* Not one byte of the key changed. */
static void loop_key_expect_untouched(const struct loop_key *k) {
        _cleanup_free_ uint8_t *now = malloc(LOOP_KEY_SIZE);

        assert_non_null(now);
        assert_int_equal(pread(k->fd, now, LOOP_KEY_SIZE, 0), (ssize_t) LOOP_KEY_SIZE);
        if (memcmp(now, k->bytes, LOOP_KEY_SIZE) != 0)
                fail_msg("%s changed", k->devnode);
}

static void loop_key_done(struct loop_key *k) {
        if (k->fd >= 0)
                close(k->fd);
        free(k->bytes);
}

/* What a test does in the window: after open and flock, before the re-check. */
struct window {
        const struct loop_key *key;
        const char *mountinfo;               /* rewritten with a mount of the key */
        const char **deny;                   /* its first entry set to the key's VID:PID */
        const char *attr_syspath, *attr, *value;
        int calls;
};

static void in_window(int fd, void *userdata) {
        struct window *w = userdata;
        struct stat st;

        w->calls++;
        /* The hook sees the very descriptor that would be written. */
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_rdev, w->key->devnum);
        if (w->attr)
                umockdev_testbed_set_attribute(tb, w->attr_syspath, w->attr, w->value);
        if (w->mountinfo) {
                FILE *f = fopen(w->mountinfo, "we");
                assert_non_null(f);
                fprintf(f, "40 26 7:%u / /media/pupil rw - vfat %s rw\n", minor(w->key->devnum), w->key->devnode);
                fclose(f);
        }
        if (w->deny)
                w->deny[0] = "1234:5678";
}

static struct device_context *loop_context(struct window *w, const struct device_policy *p) {
        struct device_env env = {
                .mountinfo_path = write_temp(""),
                .swaps_path = write_temp("Filename\tType\tSize\tUsed\tPriority\n"),
                .system_devnums = (const dev_t[]) { makedev(254, 0) },
                .n_system_devnums = 1,
                .test_opened = in_window,
                .test_opened_userdata = w,
        };
        struct device_policy small = p ? *p : default_policy;
        struct device_context *ctx = NULL;
        struct cart_error err = {};

        small.min_size = MIB;
        w->mountinfo = w->mountinfo ? env.mountinfo_path : NULL;
        if (device_context_new(&small, &env, &ctx, &err) < 0)
                fail_msg("device_context_new: %s", err.msg);
        return ctx;
}

/* Opened through the window, judged again: refused with that reason code and sentence, the
 * key untouched. */
static void expect_window_refusal(const struct loop_key *k, struct window *w, const struct device_policy *p,
                                  const char *serial, enum cart_reason reason, const char *in_msg) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = loop_context(w, p);
        struct device_target *t = NULL;
        struct cart_error err = {};
        int r = device_target_open_in(ctx, k->devnode, serial, &t, &err);
        const char *text = ERROR_TEXT(&err, r);

        assert_int_equal(w->calls, 1);
        if (r != -EPERM || !strstr(text, in_msg))
                fail_msg("%s: %d \"%s\", expected -EPERM with \"%s\"", k->devnode, r, text, in_msg);
        if (cart_error_reason(&err, r) != reason)
                fail_msg("%s: reason %s, expected %s", k->devnode, cart_reason_to_string(cart_error_reason(&err, r)),
                         cart_reason_to_string(reason));
        assert_null(t);
        loop_key_expect_untouched(k);
}

static void test_window_open_reaches_recheck(void **state) {
        struct loop_key k = {};
        struct window w = {};
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        _cleanup_(device_target_closep) struct device_target *t = NULL;
        struct cart_error err = {};

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = &k;
        ctx = loop_context(&w, NULL);
        if (device_target_open_in(ctx, k.devnode, "LOOP0001", &t, &err) < 0)
                fail_msg("%s: %s", k.devnode, err.msg);
        assert_int_equal(w.calls, 1);
        assert_int_equal(t->devnum, k.devnum);
        assert_int_equal(t->size, LOOP_KEY_SIZE);
        assert_string_equal(t->info->serial, "LOOP0001");
        assert_string_equal(t->info->port, "2-7");
        assert_int_equal(t->info->usb_address, 9);
        assert_true(device_info_is_eligible(t->info));
        t = device_target_close(t);
        loop_key_expect_untouched(&k);
        loop_key_done(&k);
}

/* Another key with the same VID:PID on the same port: only the serial tells. */
static void test_window_key_swapped(void **state) {
        struct loop_key k = {};
        struct window w = { .attr_syspath = LOOP_USB_SYSPATH, .attr = "serial", .value = "OTHER002" };

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = &k;
        expect_window_refusal(&k, &w, NULL, NULL, CART_REASON_IDENTITY_CHANGED, ": refused: another key (serial OTHER002) replaced LOOP0001 while it was opened");
        loop_key_done(&k);
}

/* A counterfeit twin with the same serial, re-enumerated: the USB address differs. */
static void test_window_same_serial_other_address(void **state) {
        struct loop_key k = {};
        struct window w = { .attr_syspath = LOOP_USB_SYSPATH, .attr = "devnum", .value = "23" };
        struct window vid = { .attr_syspath = LOOP_USB_SYSPATH, .attr = "idProduct", .value = "5679" };

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = vid.key = &k;
        expect_window_refusal(&k, &w, NULL, "LOOP0001", CART_REASON_IDENTITY_CHANGED, "another key (serial LOOP0001) replaced LOOP0001");
        umockdev_testbed_set_attribute(tb, LOOP_USB_SYSPATH, "devnum", "9");
        expect_window_refusal(&k, &vid, NULL, "LOOP0001", CART_REASON_IDENTITY_CHANGED, "another key (serial LOOP0001) replaced LOOP0001");
        loop_key_done(&k);
}

/* The second judgement: mounted, held, write-protected or denied after the first one. */
static void test_window_policy_again(void **state) {
        struct loop_key k = {};
        struct window mounted = { .mountinfo = "" }, held = {}, ro = {}, denied = {};
        const char *deny[] = { "ffff:ffff" };
        struct device_policy p = default_policy;

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        mounted.key = held.key = ro.key = denied.key = &k;
        expect_window_refusal(&k, &mounted, NULL, NULL, CART_REASON_POLICY_MOUNTED, ": refused: mounted (loop");
        held.attr_syspath = ro.attr_syspath = k.syspath;
        ro.attr = "ro";
        ro.value = "1";
        expect_window_refusal(&k, &ro, NULL, NULL, CART_REASON_POLICY_READ_ONLY, ": refused: read-only (write-protected)");
        umockdev_testbed_set_attribute(tb, k.syspath, "ro", "0");
        denied.deny = deny;
        p.deny = deny;
        p.n_deny = 1;
        expect_window_refusal(&k, &denied, &p, NULL, CART_REASON_POLICY_DENIED, ": refused: denied (1234:5678 is on the deny list)");
        held.attr = "holders/dm-0/dev";
        held.value = "253:3";
        expect_window_refusal(&k, &held, NULL, NULL, CART_REASON_POLICY_HELD, ": refused: held (dm-0 holds loop");
        loop_key_done(&k);
}

/* Another program holds the key: O_EXCL (EBUSY), refused at once; or flock, refused once it
 * is still held after DEVICE_LOCK_WAIT_MSEC (udev's lock is brief). Untouched either way. */
static void test_window_exclusive(void **state) {
        struct loop_key k = {};
        struct window w = {};
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        struct device_target *t = NULL;
        struct cart_error err = {};
        int holder;

        if (!loop_key_new(&k))
                return;
        loop_key_add_bed(&k);
        w.key = &k;
        ctx = loop_context(&w, NULL);
        holder = open(k.devnode, O_RDONLY | O_EXCL | O_CLOEXEC);
        assert_true(holder >= 0);
        assert_int_equal(device_target_open_in(ctx, k.devnode, NULL, &t, &err), -EBUSY);
        assert_null(t);
        assert_int_equal(w.calls, 0);
        assert_non_null(strstr(ERROR_TEXT(&err, -EBUSY), ": refused: in use (mounted, held, or opened exclusively)"));
        assert_int_equal(cart_error_reason(&err, -EBUSY), CART_REASON_IN_USE);
        close(holder);

        holder = open(k.devnode, O_RDONLY | O_CLOEXEC);
        assert_true(holder >= 0);
        assert_int_equal(flock(holder, LOCK_EX), 0);
        assert_int_equal(device_target_open_in(ctx, k.devnode, NULL, &t, &err), -EBUSY);
        assert_null(t);
        assert_int_equal(w.calls, 0);
        assert_non_null(strstr(ERROR_TEXT(&err, -EBUSY), ": refused: locked by another program (flock)"));
        assert_int_equal(cart_error_reason(&err, -EBUSY), CART_REASON_IN_USE);
        close(holder);
        loop_key_expect_untouched(&k);
        loop_key_done(&k);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_target_refusal_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_target_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_open_reaches_recheck, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_key_swapped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_same_serial_other_address, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_policy_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_exclusive, setup, teardown),
        };

        return device_test_run("test-device-target", tests, ELEMENTSOF(tests));
}
