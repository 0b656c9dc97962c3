/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The target policy: which whole disks cartable may write, and why not. */
#include <dirent.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "device/device-internal.h"

static const char *const refusal_names[DEVICE_REFUSAL_MAX] = {
        "not USB", "not removable", "mounted", "swap", "held", "system disk",
        "too small", "too large", "read-only", "not allowed", "denied",
};

const char *device_refusal_name(unsigned bit) {
        for (unsigned i = 0; i < DEVICE_REFUSAL_MAX; i++)
                if (bit == 1u << i)
                        return refusal_names[i];
        return NULL;
}

/* Reasons follow the bits: policy-not-usb is bit 0, policy-denied the last one. */
_Static_assert(CART_REASON_POLICY_DENIED - CART_REASON_POLICY_NOT_USB + 1 == DEVICE_REFUSAL_MAX,
               "one policy reason per refusal bit");

enum cart_reason device_refusal_reason(unsigned bits) {
        bits &= (1u << DEVICE_REFUSAL_MAX) - 1;
        if (bits == 0)
                return CART_REASON_NONE;
        return (enum cart_reason) (CART_REASON_POLICY_NOT_USB + (unsigned) __builtin_ctz(bits));
}

int device_policy_from_config(const struct cart_config *c, struct device_policy *ret) {
        if (c->min_size > c->max_size)
                return -EINVAL;
        *ret = (struct device_policy) {
                .min_size = c->min_size,
                .max_size = c->max_size,
                .allow = (const char *const *) c->allow,
                .n_allow = c->n_allow,
                .deny = (const char *const *) c->deny,
                .n_deny = c->n_deny,
                .state_dir = c->state_dir,
        };
        return 0;
}

/* ---- what the machine uses now ---- */

static int parse_devnum(const char *s, dev_t *ret) {
        unsigned ma, mi;
        char tail;

        if (sscanf(s, "%u:%u%c", &ma, &mi, &tail) != 2)
                return -EINVAL;
        *ret = makedev(ma, mi);
        return 0;
}

/* Field 3 of mountinfo is the st_dev of the mount; a /dev source is resolved too, since
 * btrfs and some others show an anonymous st_dev there. */
static int push_mount(struct device_usage *u, dev_t devnum, dev_t source_devnum, const char *target) {
        struct device_mount *m = realloc(u->mounts, (u->n_mounts + 1) * sizeof(*m));
        if (!m)
                return -ENOMEM;
        u->mounts = m;
        m[u->n_mounts].devnum = devnum;
        m[u->n_mounts].source_devnum = source_devnum;
        m[u->n_mounts].target = strdup(target);
        if (!m[u->n_mounts].target)
                return -ENOMEM;
        u->n_mounts++;
        return 0;
}

static int read_mountinfo(const char *path, struct device_usage *u, struct cart_error *err) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        int r;

        if (!f)
                return cart_error_errno(err, -errno, path, NULL);
        while (getline(&line, &cap, f) > 0) {
                char devs[32], target[4096];
                const char *sep = strstr(line, " - ");
                dev_t devnum, source_devnum = 0;
                struct stat st;

                if (sscanf(line, "%*u %*u %31s %*s %4095s", devs, target) != 2 ||
                    parse_devnum(devs, &devnum) < 0)
                        continue;
                if (sep) {
                        char fstype[64], source[4096];
                        if (sscanf(sep + 3, "%63s %4095s", fstype, source) == 2 && source[0] == '/' &&
                            stat(source, &st) == 0 && S_ISBLK(st.st_mode))
                                source_devnum = st.st_rdev;
                }
                r = push_mount(u, devnum, source_devnum, target);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A swap partition counts by its dev_t; a swap file by the file system holding it. */
static int read_swaps(const char *path, struct device_usage *u, struct cart_error *err) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        bool header = true;

        if (!f) {
                if (errno == ENOENT)    /* kernels without swap support */
                        return 0;
                return cart_error_errno(err, -errno, path, NULL);
        }
        while (getline(&line, &cap, f) > 0) {
                char name[4096];
                struct stat st;
                dev_t *s;

                if (header) {
                        header = false;
                        continue;
                }
                if (sscanf(line, "%4095s", name) != 1 || stat(name, &st) < 0)
                        continue;
                s = realloc(u->swaps, (u->n_swaps + 1) * sizeof(*s));
                if (!s)
                        return -ENOMEM;
                u->swaps = s;
                s[u->n_swaps++] = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
        }
        return 0;
}

void device_usage_done(struct device_usage *u) {
        for (size_t i = 0; i < u->n_mounts; i++)
                free(u->mounts[i].target);
        free(u->mounts);
        free(u->swaps);
        *u = (struct device_usage) {};
}

int device_usage_read(struct device_context *ctx, struct device_usage *ret, struct cart_error *err) {
        struct device_usage u = {};
        int r;

        r = read_mountinfo(ctx->mountinfo_path, &u, err);
        if (r >= 0)
                r = read_swaps(ctx->swaps_path, &u, err);
        if (r < 0) {
                device_usage_done(&u);
                return r;
        }
        *ret = u;
        return 0;
}

static int push_system(struct device_context *ctx, dev_t devnum, const char *what) {
        struct device_system *s;

        for (size_t i = 0; i < ctx->n_system; i++)
                if (ctx->system[i].devnum == devnum)
                        return 0;
        s = realloc(ctx->system, (ctx->n_system + 1) * sizeof(*s));
        if (!s)
                return -ENOMEM;
        ctx->system = s;
        s[ctx->n_system].devnum = devnum;
        s[ctx->n_system].what = strdup(what);
        s[ctx->n_system].is_words = false;
        if (!s[ctx->n_system].what)
                return -ENOMEM;
        ctx->n_system++;
        return 0;
}

/* The st_dev of path, or of its nearest existing parent (a state dir not yet created). */
static int stat_existing(const char *path, struct stat *ret) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (;;) {
                if (stat(p, ret) == 0)
                        return 0;
                if (errno != ENOENT || streq(p, "/") || streq(p, "."))
                        return -errno;
                char *parent = dirname(p);
                memmove(p, parent, strlen(parent) + 1);
        }
}

int device_system_find(struct device_context *ctx, struct cart_error *err) {
        const char *paths[] = { "/", "/boot", ctx->policy.state_dir };
        struct device_usage u = {};
        int r;

        r = read_mountinfo(ctx->mountinfo_path, &u, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(paths) && r >= 0; i++) {
                struct stat st;

                if (!paths[i] || stat_existing(paths[i], &st) < 0)
                        continue;
                r = push_system(ctx, st.st_dev, paths[i]);
                /* btrfs and others: st_dev is anonymous, the mount's /dev source is the disk. */
                for (size_t j = 0; j < u.n_mounts && r >= 0; j++)
                        if (u.mounts[j].devnum == st.st_dev && u.mounts[j].source_devnum != 0)
                                r = push_system(ctx, u.mounts[j].source_devnum, paths[i]);
        }
        device_usage_done(&u);
        return r;
}

/* ---- judging one disk ---- */

/* A block device that belongs to the disk: itself, a partition, or a holder of either. */
struct member {
        dev_t devnum;
        char name[64];
        char via[64];           /* the partition or disk it holds, for holders */
};

/* The index of a rule in per-rule arrays and in findings: its bit number. */
#define RULE(name) __builtin_ctz(DEVICE_REFUSED_##name)

/* Every member must be found: a missed partition could be a mounted one, so any failure
 * to list them fails the verdict (r < 0) instead of passing it. */
struct members {
        struct member *m;
        size_t n;
        struct cart_findings *findings;   /* the holders found ("dm-0 holds sdb2") go here */
        bool is_held;
        int r;
};

static void add_member(struct members *ms, dev_t devnum, const char *name, const char *via) {
        struct member *m;

        for (size_t i = 0; i < ms->n; i++)
                if (ms->m[i].devnum == devnum)
                        return;
        m = realloc(ms->m, (ms->n + 1) * sizeof(*m));
        if (!m) {
                ms->r = -ENOMEM;
                return;
        }
        ms->m = m;
        m[ms->n].devnum = devnum;
        snprintf(m[ms->n].name, sizeof(m[0].name), "%s", name);
        snprintf(m[ms->n].via, sizeof(m[0].via), "%s", via ? via : "");
        ms->n++;
}

static bool read_dev_file(const char *dir, const char *entry, dev_t *ret) {
        char path[4096], buf[32];
        _cleanup_fclose_ FILE *f = NULL;

        if (snprintf(path, sizeof(path), "%s/%s/dev", dir, entry) >= (int) sizeof(path))
                return false;
        f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof(buf), f))
                return false;
        buf[strcspn(buf, "\n")] = 0;
        return parse_devnum(buf, ret) == 0;
}

/* Holders of syspath (dm, md, LVM), recursively: a disk held by dm-0 held by dm-1. */
static void add_holders(struct members *ms, const char *syspath, const char *name, int depth) {
        char dir[4096];
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (snprintf(dir, sizeof(dir), "%s/holders", syspath) >= (int) sizeof(dir)) {
                ms->r = -ENAMETOOLONG;
                return;
        }
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        ms->r = -errno;
                return;
        }
        while ((de = readdir(d))) {
                dev_t devnum = 0;
                char sub[4096];

                if (de->d_name[0] == '.')
                        continue;
                if (depth == 0) {
                        cart_findings_add(ms->findings, RULE(HELD), de->d_name, name, NULL, false, 0, 0);
                        ms->is_held = true;
                }
                if (read_dev_file(dir, de->d_name, &devnum))
                        add_member(ms, devnum, de->d_name, name);
                if (depth < 4 && snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) < (int) sizeof(sub))
                        add_holders(ms, sub, name, depth + 1);
        }
}

static void collect_members(struct device_context *ctx, struct udev_device *disk, struct members *ms) {
        struct udev_enumerate *e = udev_enumerate_new(ctx->udev);
        struct udev_list_entry *le;
        int r;

        add_member(ms, udev_device_get_devnum(disk), udev_device_get_sysname(disk), NULL);
        add_holders(ms, udev_device_get_syspath(disk), udev_device_get_sysname(disk), 0);
        if (!e) {
                ms->r = -ENOMEM;
                return;
        }
        r = udev_enumerate_add_match_parent(e, disk);
        if (r >= 0)
                r = udev_enumerate_add_match_subsystem(e, "block");
        if (r >= 0)
                r = udev_enumerate_scan_devices(e);
        if (r < 0)
                ms->r = r;
        else
                udev_list_entry_foreach(le, udev_enumerate_get_list_entry(e)) {
                        struct udev_device *p = udev_device_new_from_syspath(ctx->udev, udev_list_entry_get_name(le));
                        const char *devtype = p ? udev_device_get_devtype(p) : NULL;

                        if (devtype && streq(devtype, "partition")) {
                                add_member(ms, udev_device_get_devnum(p), udev_device_get_sysname(p), NULL);
                                add_holders(ms, udev_device_get_syspath(p), udev_device_get_sysname(p), 0);
                        }
                        udev_device_unref(p);
                }
        udev_enumerate_unref(e);
}

static bool on_list(const char *const *list, size_t n, const char *vidpid) {
        for (size_t i = 0; i < n; i++)
                if (streq(list[i], vidpid))
                        return true;
        return false;
}

static void appendf(char *buf, size_t len, const char *fmt, ...) _printf_(3, 4);
static void appendf(char *buf, size_t len, const char *fmt, ...) {
        size_t n = strlen(buf);
        va_list ap;

        if (n + 1 >= len)
                return;
        va_start(ap, fmt);
        vsnprintf(buf + n, len - n, fmt, ap);
        va_end(ap);
}

/* The English text of one failing rule, from its findings ("mounted (sdb1 on /mnt, dm-0
 * via sdb2 on /srv)"): what devices --json and the journal keep. cmd/ words the findings
 * themselves for people (cmd/reason.c), with the same English msgids. */
static void rule_text(const struct cart_findings *fs, unsigned rule, char *buf, size_t len) {
        char a[32], b[32];
        bool first = true;

        snprintf(buf, len, "%s", device_refusal_name(1u << rule));
        if (rule == (unsigned) RULE(READ_ONLY)) {
                appendf(buf, len, " (write-protected)");
                return;
        }
        for (unsigned i = 0; i < fs->n; i++) {
                const struct cart_finding *f = &fs->f[i];
                const char *name = cart_findings_str(fs, f->name), *via = cart_findings_str(fs, f->via),
                           *path = cart_findings_str(fs, f->path);

                if (f->rule != rule)
                        continue;
                appendf(buf, len, "%s", first ? " (" : ", ");
                first = false;
                if (rule == (unsigned) RULE(HELD))
                        appendf(buf, len, "%s holds %s", name, via);
                else if (rule == (unsigned) RULE(SYSTEM))
                        appendf(buf, len, "holds %s", path);
                else if (rule == (unsigned) RULE(TOO_SMALL) || rule == (unsigned) RULE(TOO_LARGE))
                        appendf(buf, len, "%s %c %s", format_size(f->value, a, sizeof(a)),
                                rule == (unsigned) RULE(TOO_SMALL) ? '<' : '>', format_size(f->limit, b, sizeof(b)));
                else if (rule == (unsigned) RULE(NOT_ALLOWED))
                        appendf(buf, len, "%s is not on the allow list", name[0] ? name : "no VID:PID");
                else if (rule == (unsigned) RULE(DENIED))
                        appendf(buf, len, "%s is on the deny list", name);
                else {          /* mounted, swap: a member, "sdb1" or "dm-0 via sdb1" */
                        appendf(buf, len, "%s", name);
                        if (via[0])
                                appendf(buf, len, " via %s", via);
                        if (rule == (unsigned) RULE(MOUNTED))
                                appendf(buf, len, " on %s", path);
                }
        }
        if (fs->lost & (1u << rule))
                appendf(buf, len, "%s...", first ? " (" : ", ");
        if (!first || fs->lost & (1u << rule))
                appendf(buf, len, ")");
}

static int add_reason(struct device_info *d, unsigned rule) {
        char **l = realloc(d->reasons, (d->n_reasons + 1) * sizeof(char *));
        char text[4096];        /* every finding fits: 16 of them, names and 768 bytes of text */

        if (!l)
                return -ENOMEM;
        d->reasons = l;
        rule_text(&d->findings, rule, text, sizeof(text));
        l[d->n_reasons] = strdup(text);
        if (!l[d->n_reasons])
                return -ENOMEM;
        d->n_reasons++;
        d->refusals |= 1u << rule;
        return 0;
}

/* The rules that look at what uses the disk: mounts, swap, system file systems (holders
 * were found with the members). Sets failed[] even for a finding that did not fit. */
static void judge_usage(struct device_context *ctx, const struct device_usage *usage,
                        const struct members *ms, struct cart_findings *fs, bool *failed) {
        for (size_t i = 0; i < ms->n; i++) {
                const struct member *m = &ms->m[i];

                for (size_t j = 0; j < usage->n_mounts; j++) {
                        if (usage->mounts[j].devnum != m->devnum && usage->mounts[j].source_devnum != m->devnum)
                                continue;
                        cart_findings_add(fs, RULE(MOUNTED), m->name, m->via, usage->mounts[j].target, false, 0, 0);
                        failed[RULE(MOUNTED)] = true;
                }
                for (size_t j = 0; j < usage->n_swaps; j++)
                        if (usage->swaps[j] == m->devnum) {
                                cart_findings_add(fs, RULE(SWAP), m->name, m->via, NULL, false, 0, 0);
                                failed[RULE(SWAP)] = true;
                        }
                for (size_t j = 0; j < ctx->n_system; j++)
                        if (ctx->system[j].devnum == m->devnum) {
                                cart_findings_add(fs, RULE(SYSTEM), NULL, NULL, ctx->system[j].what,
                                                  ctx->system[j].is_words, 0, 0);
                                failed[RULE(SYSTEM)] = true;
                        }
        }
        failed[RULE(HELD)] = ms->is_held;
}

int device_judge(struct device_context *ctx, const struct device_usage *usage,
                 struct udev_device *disk, struct device_info *d) {
        const struct device_policy *p = &ctx->policy;
        struct cart_findings *fs = &d->findings;
        bool failed[DEVICE_REFUSAL_MAX] = {};
        struct members ms = { .findings = fs };
        char vidpid[16];
        int r;

        collect_members(ctx, disk, &ms);
        if (ms.r >= 0)
                judge_usage(ctx, usage, &ms, fs, failed);
        free(ms.m);
        if (ms.r < 0)
                return ms.r;

        failed[RULE(NOT_USB)] = !d->is_usb && !p->test_waive_usb_rule;
        failed[RULE(NOT_REMOVABLE)] = !d->is_removable && !d->is_hotplug && !p->test_waive_usb_rule;
        if (d->size < p->min_size) {
                failed[RULE(TOO_SMALL)] = true;
                cart_findings_add(fs, RULE(TOO_SMALL), NULL, NULL, NULL, false, d->size, p->min_size);
        }
        if (d->size > p->max_size) {
                failed[RULE(TOO_LARGE)] = true;
                cart_findings_add(fs, RULE(TOO_LARGE), NULL, NULL, NULL, false, d->size, p->max_size);
        }
        failed[RULE(READ_ONLY)] = d->is_read_only;
        snprintf(vidpid, sizeof(vidpid), "%04" PRIx16 ":%04" PRIx16, d->vendor_id, d->product_id);
        if (p->n_allow > 0 && (!d->has_usb_ids || !on_list(p->allow, p->n_allow, vidpid))) {
                failed[RULE(NOT_ALLOWED)] = true;
                cart_findings_add(fs, RULE(NOT_ALLOWED), d->has_usb_ids ? vidpid : NULL, NULL, NULL, false, 0, 0);
        }
        if (d->has_usb_ids && on_list(p->deny, p->n_deny, vidpid)) {
                failed[RULE(DENIED)] = true;
                cart_findings_add(fs, RULE(DENIED), vidpid, NULL, NULL, false, 0, 0);
        }
        for (unsigned i = 0; i < DEVICE_REFUSAL_MAX; i++)
                if (failed[i]) {
                        r = add_reason(d, i);
                        if (r < 0)
                                return r;
                }
        return 0;
}
