/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include "config-paths.h"
#include "journal/journal.h"
#include "release/release.h"
#include "release/sign.h"
#include "station/doctor.h"

/* The udev rule cartable ships, off by default (see cartable-doctor(1)). */
#define UDEV_RULE_NAME "70-cartable-udisks.rules"

struct checker {
        const struct doctor_options *o;
        struct doctor_report *report;
};

static struct doctor_check *check_new(struct checker *c, const char *name) {
        struct doctor_report *r = c->report;
        struct doctor_check *l = reallocarray(r->checks, r->n_checks + 1, sizeof(*l));

        if (!l)
                return NULL;
        r->checks = l;
        l[r->n_checks] = (struct doctor_check) { .name = name };
        return &l[r->n_checks++];
}

/* The English text and the words cmd/ translates (the format and its arguments), in one. */
static void _printf_(4, 0) say(char *text, size_t n, struct cart_error *words, const char *fmt, va_list ap) {
        va_list aq;

        va_copy(aq, ap);
        vsnprintf(text, n, fmt, ap);
        cart_error_vset(words, 0, fmt, aq);
        va_end(aq);
}

static void _printf_(3, 4) check_said(struct doctor_check *k, enum doctor_status s, const char *fmt, ...) {
        va_list ap;

        k->status = s;
        va_start(ap, fmt);
        say(k->detail, sizeof(k->detail), &k->detail_words, fmt, ap);
        va_end(ap);
}

/* A failure that lib/ describes by code and arguments; cmd/ makes the sentence after the
 * context fmt (which may be ""). */
static void _printf_(4, 5) check_failed(struct doctor_check *k, const struct cart_error *err, int r,
                                     const char *fmt, ...) {
        va_list ap;

        k->status = DOCTOR_FAIL;
        va_start(ap, fmt);
        say(k->detail, sizeof(k->detail), &k->detail_words, fmt, ap);
        va_end(ap);
        k->has_error = true;
        k->error_r = r;
        if (err)
                k->error = *err;
}

/* A failed system call on path: its errno, worded by cmd/ after context ("" for none). */
static void fail_errno(struct doctor_check *k, int e, const char *path, const char *context) {
        struct cart_error err = {};

        cart_error_errno(&err, -e, path, NULL);
        check_failed(k, &err, -e, "%s", context);
}

static void _printf_(2, 3) check_fix(struct doctor_check *k, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        say(k->fix, sizeof(k->fix), &k->fix_words, fmt, ap);
        va_end(ap);
}

/* A path of the station, under the test root when there is one. */
static char *rooted(const struct doctor_options *o, const char *path) {
        char *p;

        if (asprintf(&p, "%s%s", o->root ? o->root : "", path) < 0)
                return NULL;
        return p;
}

static bool rooted_exists(const struct doctor_options *o, const char *path) {
        _cleanup_free_ char *p = rooted(o, path);
        struct stat st;

        return p && stat(p, &st) == 0;
}

/* Does a line of the file start with prefix, or (when anywhere) contain it? */
static bool file_has_line(const char *path, const char *needle, bool anywhere) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;

        if (!f)
                return false;
        while (getline(&line, &cap, f) > 0)
                if (anywhere ? !!strstr(line, needle) : strncmp(line, needle, strlen(needle)) == 0)
                        return true;
        return false;
}

static int check_usb_storage(struct checker *c) {
        const struct doctor_options *o = c->o;
        struct doctor_check *k = check_new(c, "usb-storage");
        _cleanup_free_ char *modules = NULL, *builtin = NULL, *dep = NULL;
        struct utsname u;
        const char *release = o->kernel_release;

        if (!k)
                return -ENOMEM;
        if (!release) {
                if (uname(&u) < 0)
                        return -errno;
                release = u.release;
        }
        modules = rooted(o, "/proc/modules");
        if (!modules || asprintf(&builtin, "%s/lib/modules/%s/modules.builtin", o->root ? o->root : "", release) < 0 ||
            asprintf(&dep, "%s/lib/modules/%s/modules.dep", o->root ? o->root : "", release) < 0)
                return -ENOMEM;

        if (rooted_exists(o, "/sys/module/usb_storage") || rooted_exists(o, "/sys/module/uas") ||
            file_has_line(modules, "usb_storage ", false) || file_has_line(modules, "uas ", false))
                check_said(k, DOCTOR_OK, "usb_storage or uas is loaded");
        else if (file_has_line(builtin, "/usb-storage.ko", true) || file_has_line(builtin, "/uas.ko", true))
                check_said(k, DOCTOR_OK, "usb-storage is built into kernel %s", release);
        else if (file_has_line(dep, "/usb-storage.ko", true))
                check_said(k, DOCTOR_OK, "usb-storage is not loaded yet; udev loads it when a key is plugged in");
        else {
                check_said(k, DOCTOR_FAIL, "kernel %s has no usb-storage driver (neither loaded, built in nor in %s)",
                    release, dep);
                check_fix(k, "boot a kernel with USB mass storage (Debian's linux-image-amd64 has it), or modprobe usb_storage");
        }
        return 0;
}

static int check_udevd(struct checker *c) {
        struct doctor_check *k = check_new(c, "udevd");

        if (!k)
                return -ENOMEM;
        if (rooted_exists(c->o, "/run/udev/control"))
                check_said(k, DOCTOR_OK, "udevd is running (/run/udev/control)");
        else {
                check_said(k, DOCTOR_FAIL, "udevd is not running: no /run/udev/control, so keys are neither detected nor identified");
                check_fix(k, "systemctl start systemd-udevd (package udev)");
        }
        return 0;
}

/* udisksd in the process table: /run/udisks2 appears only once it has mounted something. */
static bool udisksd_runs(const struct doctor_options *o) {
        _cleanup_free_ char *proc = rooted(o, "/proc");
        DIR *d;
        struct dirent *de;
        bool found = false;

        if (!proc || !(d = opendir(proc)))
                return false;
        while (!found && (de = readdir(d))) {
                _cleanup_free_ char *comm = NULL;
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                if (asprintf(&comm, "%s/%s/comm", proc, de->d_name) < 0)
                        break;
                found = file_has_line(comm, "udisksd\n", false);
        }
        closedir(d);
        return found;
}

static int check_automounter(struct checker *c) {
        const struct doctor_options *o = c->o;
        struct doctor_check *k = check_new(c, "automounter");

        if (!k)
                return -ENOMEM;
        if (!rooted_exists(o, "/run/udisks2") && !udisksd_runs(o))
                check_said(k, DOCTOR_OK, "no automounter running (udisks2)");
        else if (rooted_exists(o, "/etc/udev/rules.d/" UDEV_RULE_NAME))
                check_said(k, DOCTOR_OK, "udisks2 runs; %s keeps it off USB keys", "/etc/udev/rules.d/" UDEV_RULE_NAME);
        else {
                check_said(k, DOCTOR_WARN, "udisks2 runs: a desktop may mount a key while it is written (cartable then refuses the key)");
                check_fix(k, "cp %s /etc/udev/rules.d/ && udevadm control --reload", CARTABLE_DATADIR "/udev/" UDEV_RULE_NAME);
        }
        return 0;
}

static const char *state_dir(const struct doctor_options *o) {
        return o->config && o->config->state_dir ? o->config->state_dir : CARTABLE_STATEDIR;
}

static int check_state_dir(struct checker *c) {
        const char *dir = state_dir(c->o);
        struct doctor_check *k = check_new(c, "state-dir");
        struct stat st;

        if (!k)
                return -ENOMEM;
        if (lstat(dir, &st) < 0) {
                if (errno != ENOENT) {
                        fail_errno(k, errno, dir, "");
                        check_fix(k, "make %s a directory this user can write, mode 0700", dir);
                } else {
                        check_said(k, DOCTOR_WARN, "%s does not exist: the first flash creates it", dir);
                        check_fix(k, "install -d -m 0700 -o root -g root %s (the package does)", dir);
                }
        } else if (!S_ISDIR(st.st_mode)) {
                check_said(k, DOCTOR_FAIL, "%s is not a directory", dir);
                check_fix(k, "move it away and run: install -d -m 0700 %s", dir);
        } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
                check_said(k, DOCTOR_FAIL, "%s is owned by uid %u, neither root nor this user: its rollback state can be rewritten by another account",
                    dir, (unsigned) st.st_uid);
                check_fix(k, "chown root:root %s && chmod 0700 %s", dir, dir);
        } else if (st.st_mode & 0022) {
                check_said(k, DOCTOR_FAIL, "%s has mode %04o: others can rewrite its rollback state", dir, st.st_mode & 07777);
                check_fix(k, "chmod 0700 %s", dir);
        } else if (access(dir, W_OK | X_OK) < 0) {
                check_said(k, DOCTOR_FAIL, "%s is not writable by this user", dir);
                check_fix(k, "run cartable as root, or give this user %s", dir);
        } else if (st.st_mode & 0077) {
                check_said(k, DOCTOR_WARN, "%s has mode %04o: others can read what was flashed here", dir, st.st_mode & 07777);
                check_fix(k, "chmod 0700 %s", dir);
        } else
                check_said(k, DOCTOR_OK, "%s: mode 0700, owner uid %u", dir, (unsigned) st.st_uid);
        return 0;
}

static int check_trust(struct checker *c) {
        const struct doctor_options *o = c->o;
        _cleanup_(sign_trust_freep) struct sign_trust *t = NULL;
        struct doctor_check *k = check_new(c, "trust");
        struct cart_error err = {};
        int r;

        if (!k)
                return -ENOMEM;
        r = sign_trust_load(o->trust_paths, o->n_trust_paths, o->config, &t, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                check_failed(k, &err, r, "%s", "");
                check_fix(k, "put the département's public key in [trust] key = FILE|DIR of %s",
                        o->config && o->config->path ? o->config->path : CARTABLE_SYSCONFDIR "/cartable.conf");
        } else
                check_said(k, DOCTOR_OK, "%zu trusted key%s (%s)", sign_trust_count(t), sign_trust_count(t) == 1 ? "" : "s",
                    o->n_trust_paths > 0 ? "--trust" : "[trust] key");
        return 0;
}

struct journal_tally {
        size_t n_stations;
        int64_t n_events;
};

static void on_head(void *userdata, const struct journal_head *h) {
        struct journal_tally *t = userdata;

        t->n_stations++;
        t->n_events += h->n_events;
}

/* The journal flash and roster import write to: opens, and every station's chain holds. */
static int check_journal(struct checker *c) {
        const struct doctor_options *o = c->o;
        struct doctor_check *k = check_new(c, "journal");
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_free_ char *owned = NULL;
        struct journal_options jo = { .station = o->config ? o->config->station_name : NULL };
        struct journal_tally t = {};
        struct cart_error err = {};
        const char *path;
        int r;

        if (!k)
                return -ENOMEM;
        if (o->config && o->config->journal_path)
                path = o->config->journal_path;
        else {
                if (asprintf(&owned, "%s/journal.db", state_dir(o)) < 0)
                        return -ENOMEM;
                path = owned;
        }
        r = journal_open(path, &jo, &j, &err);
        if (r == -ENOENT) {
                check_said(k, DOCTOR_OK, "no journal yet at %s: the first roster import creates it", path);
                return 0;
        }
        if (r < 0) {
                check_failed(k, &err, r, "%s", "");
                check_fix(k, "restore the journal %s from a backup, or set [journal] path", path);
                return r == -ENOMEM ? r : 0;
        }
        r = journal_verify(j, on_head, &t, &err);
        if (r < 0) {
                check_failed(k, &err, r, "%s", path);
                check_fix(k, "cartable journal verify; restore the journal from a backup");
        } else if (r > 0) {
                check_failed(k, &err, -EBADMSG, "%s: hash chain broken", path);
                check_fix(k, "cartable journal verify names the rows; investigate before provisioning more keys");
        } else
                check_said(k, DOCTOR_OK, "%s: %" PRId64 " event%s from %zu station%s, chain intact", path,
                    t.n_events, t.n_events == 1 ? "" : "s", t.n_stations, t.n_stations == 1 ? "" : "s");
        return 0;
}

/* Free space of the file system holding path, or of its nearest existing parent. */
/* what names the place (N_() words for cmd/); the state directory or TMPDIR. */
static int check_space(struct checker *c, const char *name, const char *what, bool is_state, const char *path) {
        uint64_t min = c->o->min_free ? c->o->min_free : DOCTOR_DEFAULT_MIN_FREE;
        struct doctor_check *k = check_new(c, name);
        _cleanup_free_ char *p = strdup(path);
        struct statvfs sv;

        if (!k || !p)
                return -ENOMEM;
        while (statvfs(p, &sv) < 0) {
                char *slash = strrchr(p, '/');
                if (errno != ENOENT || !slash) {
                        fail_errno(k, errno, path, what);
                        check_fix(k, "make %s reachable", path);
                        return 0;
                }
                slash[slash == p] = '\0';    /* "/a/b" -> "/a" -> "/" */
        }
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        if (avail < min) {
                if (is_state)
                        check_said(k, DOCTOR_FAIL, "state directory %s: %s free, less than %s", path, size_arg(avail),
                                   size_arg(min));
                else
                        check_said(k, DOCTOR_FAIL, "TMPDIR %s: %s free, less than %s", path, size_arg(avail), size_arg(min));
                check_fix(k, "free space on the file system holding %s", path);
        } else if (is_state)
                check_said(k, DOCTOR_OK, "state directory %s: %s free", path, size_arg(avail));
        else
                check_said(k, DOCTOR_OK, "TMPDIR %s: %s free", path, size_arg(avail));
        return 0;
}

static int check_serials(struct checker *c) {
        const char *dir = state_dir(c->o);
        struct doctor_check *k = check_new(c, "release-serials");
        struct cart_error err = {};
        size_t n;
        int r;

        if (!k)
                return -ENOMEM;
        r = release_serials_count(dir, &n, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                check_failed(k, &err, r, "rollback state");
                check_fix(k, "repair %s/release-serials (\"NAME SERIAL\" lines) or restore it from a backup", dir);
        } else if (n == 0)
                check_said(k, DOCTOR_OK, "rollback state: no release flashed here yet");
        else
                check_said(k, DOCTOR_OK, "rollback state: %zu release%s recorded", n, n == 1 ? "" : "s");
        return 0;
}

int doctor_run(const struct doctor_options *o, struct doctor_report **ret) {
        _cleanup_(doctor_report_freep) struct doctor_report *r = calloc(1, sizeof(*r));
        struct checker c = { .o = o, .report = r };
        int k;

        if (!r)
                return -ENOMEM;
        if ((k = check_usb_storage(&c)) < 0 || (k = check_udevd(&c)) < 0 ||
            (k = check_automounter(&c)) < 0 || (k = check_state_dir(&c)) < 0 ||
            (k = check_trust(&c)) < 0 || (k = check_journal(&c)) < 0 ||
            (k = check_space(&c, "state-space", N_("state directory"), true, state_dir(o))) < 0 ||
            (k = check_space(&c, "tmp-space", "TMPDIR", false, o->tmpdir ? o->tmpdir : "/tmp")) < 0 ||
            (k = check_serials(&c)) < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

struct doctor_report *doctor_report_free(struct doctor_report *r) {
        if (r) {
                free(r->checks);
                free(r);
        }
        return NULL;
}

bool doctor_report_blocks(const struct doctor_report *r) {
        for (size_t i = 0; i < r->n_checks; i++)
                if (r->checks[i].status == DOCTOR_FAIL)
                        return true;
        return false;
}

const char *doctor_status_to_string(enum doctor_status s) {
        switch (s) {
        case DOCTOR_OK:   return "OK";
        case DOCTOR_WARN: return "WARN";
        case DOCTOR_FAIL: return "FAIL";
        }
        return "?";
}
