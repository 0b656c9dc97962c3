/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device/device.h"
#include "fat/fat.h"
#include "flash/verify.h"
#include "base/output-file.h"
#include "flash/update.h"
#include "station/held.h"
#include "station/keylife.h"
#include "station/station.h"

struct station {
        const struct cart_config *config;
        const struct sign_trust *trust;  /* borrowed: judges the release a key carries (--erase auto) */
        struct device_policy policy;
        bool has_policy;
        struct release *release;
        dev_t release_dev;               /* the release file, never a target */
        ino_t release_ino;
        unsigned flags;
        pthread_mutex_t lock;            /* guards is_serial_recorded and the state directory */
        bool is_serial_recorded;
};

/* A target while a key is flashed: a device_target, or an image file. */
struct target {
        struct flash_target t;
        struct device_target *dt;
        const char *path;
        bool is_created;                 /* the image file did not exist: removed on failure */
};

int station_new(const char *release_path, const struct cart_config *config, const struct sign_trust *trust,
                unsigned flags, struct station **ret, struct cart_error *err) {
        _cleanup_(station_freep) struct station *s = NULL;
        struct stat st;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->config = config;
        s->trust = trust;
        s->flags = flags;
        pthread_mutex_init(&s->lock, NULL);
        if (config) {
                r = device_policy_from_config(config, &s->policy);
                if (r < 0)
                        return cart_error_set(err, r, "configuration: [policy] min-size is larger than max-size");
                s->has_policy = true;
        }
        r = release_open(release_path, trust, flags & STATION_LAZY_HASH ? RELEASE_OPEN_SKIP_HASH : 0, &s->release, err);
        if (r < 0)
                return r;
        if (stat(release_path, &st) < 0)
                return cart_error_errno(err, -errno, release_path, NULL);
        s->release_dev = st.st_dev;
        s->release_ino = st.st_ino;
        if (!(flags & STATION_NO_ROLLBACK) && config) {
                r = release_check_rollback(config->state_dir, release_manifest(s->release),
                                           flags & STATION_ALLOW_DOWNGRADE, err);
                if (r < 0)
                        return cart_error_prefix(err, r, "%s", release_path);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

struct station *station_free(struct station *s) {
        if (!s)
                return NULL;
        release_unref(s->release);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

const struct release *station_release(const struct station *s) {
        return s->release;
}

void station_set_policy(struct station *s, const struct device_policy *policy) {
        s->policy = *policy;
        s->has_policy = true;
}

bool station_target_is_device(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}


/* A system call failed with errno e and the station reports r (a refusal may be -EPERM):
 * the reason and r for codes, e for the words; what (printf-like, may be NULL) says which
 * operation. The errno is read by the caller before anything else can change it. */
static int sys_fail(struct cart_error *err, int r, int e, const char *path, const char *what, ...) _printf_(5, 6);
static int sys_fail(struct cart_error *err, int r, int e, const char *path, const char *what, ...) {
        char label[256];
        va_list ap;

        if (what) {
                va_start(ap, what);
                vsnprintf(label, sizeof(label), what, ap);
                va_end(ap);
        }
        return cart_error_errno_as(err, r, e, path, what ? label : NULL);
}

/* What is at a path, as words of a message ("%s: a FIFO, neither a USB key..."). */
static const char *file_kind(mode_t mode) {
        return S_ISDIR(mode) ? W_("a directory") : S_ISCHR(mode) ? W_("a character device") :
               S_ISBLK(mode) ? W_("a block device") : S_ISFIFO(mode) ? W_("a FIFO") :
               S_ISSOCK(mode) ? W_("a socket") : S_ISLNK(mode) ? W_("a symbolic link") : W_("a regular file");
}

static bool is_under(const char *path, const char *root) {
        size_t n = strlen(root);
        return strncmp(path, root, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/*
 * "/dev", "/proc" or "/sys" when path lies there, as written or once the links of its
 * nearest existing parent are resolved (an absent /dev/disk/by-id/... path counts).
 */
static const char *system_root(const char *path) {
        static const char *const roots[] = { "/dev", "/proc", "/sys" };
        _cleanup_free_ char *dir = strdup(path), *real = NULL;

        if (!dir)
                return NULL;
        for (char *slash; !real;) {
                slash = strrchr(dir, '/');
                if (!slash) {
                        real = realpath(".", NULL);
                        break;
                }
                slash[slash == dir] = 0;
                real = realpath(dir, NULL);
                if (slash == dir)
                        break;
        }
        for (size_t i = 0; i < ELEMENTSOF(roots); i++)
                if ((path[0] == '/' && is_under(path, roots[i])) || (real && is_under(real, roots[i])))
                        return roots[i];
        return NULL;
}

/*
 * A key image may be overwritten without --force: empty, a first sector of zeros (blank,
 * or cut off mid-flash), or a FAT32 volume holding /.cartable. Two small reads and a
 * directory lookup.
 */
static int check_key_image(int fd, uint64_t size, const char *path, struct cart_error *err) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        struct cart_error ignored;
        struct fat_dirent de;
        uint8_t s0[512];
        bool is_zero = true;

        if (size == 0)
                return 0;
        if (size >= sizeof(s0) && pread(fd, s0, sizeof(s0), 0) == (ssize_t) sizeof(s0)) {
                for (size_t i = 0; i < sizeof(s0); i++)
                        is_zero = is_zero && s0[i] == 0;
                if (is_zero)
                        return 0;
        }
        if (verify_open_volume(fd_read_at, (void *) (intptr_t) fd, size, &fr, NULL, NULL, &ignored) >= 0 &&
            fat_reader_stat(fr, KEY_CARTABLE_DIR, &de, &ignored) >= 0) {
                bool is_dir = de.is_dir;
                fat_dirent_clear(&de);
                if (is_dir)
                        return 0;
        }
        return cart_error_set(err, -EPERM, "%s: exists and is not a key image (neither empty nor a FAT32 key "
                              "with /.cartable); give --force to overwrite it", path);
}

/* The checks every image path gets, before anything is opened: ret_st when it exists.
 * s NULL: no release to keep apart (an edit in place). */
static int check_image_path(const struct station *s, const char *path, struct stat *ret_st, bool *ret_exists,
                            struct cart_error *err) {
        const char *root = system_root(path);
        bool exists = lstat(path, ret_st) == 0;

        if (!exists && errno != ENOENT)
                return sys_fail(err, errno == ELOOP || errno == ENOTDIR ? -EPERM : -errno, errno, path, NULL);
        if (root && !exists && streq(root, "/dev"))
                return cart_error_set(err, -EPERM, "%s: no such device (is the key plugged in?); an image file never goes in /dev",
                                      path);
        if (root)
                return cart_error_set(err, -EPERM, "%s: %s under %s, not a USB key; an image file never goes there",
                                      path, exists ? file_kind(ret_st->st_mode) : W_("a path"), root);
        if (exists && S_ISLNK(ret_st->st_mode))
                return cart_error_set(err, -EPERM, "%s: a symbolic link; give the image file's own path (cartable never writes through a link)",
                                      path);
        if (exists && !S_ISREG(ret_st->st_mode))
                return cart_error_set(err, -EPERM, "%s: %s, neither a USB key nor an image file", path, file_kind(ret_st->st_mode));
        if (exists && s && ret_st->st_dev == s->release_dev && ret_st->st_ino == s->release_ino)
                return cart_error_set(err, -EPERM, "%s: this is the release being flashed", path);
        *ret_exists = exists;
        return 0;
}

/* An image file just opened: locked, and still the regular file lst was (when not NULL). */
static int lock_image(int fd, const char *path, const struct stat *lst, struct stat *ret_st, struct cart_error *err) {
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return cart_error_set(err, -EBUSY, "%s: in use by another program", path);
        if (fstat(fd, ret_st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (!S_ISREG(ret_st->st_mode) || (lst && (ret_st->st_dev != lst->st_dev || ret_st->st_ino != lst->st_ino)))
                return cart_error_set(err, -EPERM, "%s: replaced while it was opened", path);
        return 0;
}

/* An image file: opened (read-only when is_dry) or created, grown to k->image_size, locked. */
static int open_image(const struct station *s, const struct station_key *k, bool is_dry, struct target *x,
                      struct cart_error *err) {
        const char *path = k->target;
        _cleanup_close_ int fd = -EBADF;
        struct stat lst, st;
        bool exists = false;
        uint64_t size;
        int r;

        r = check_image_path(s, path, &lst, &exists, err);
        if (r < 0)
                return r;
        if (exists)
                fd = open(path, (is_dry ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW);
        else if (!is_dry) {
                fd = open(path, O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
                x->is_created = fd >= 0;
        }
        if (fd < 0 && (exists || !is_dry))
                return sys_fail(err, errno == EISDIR || errno == ELOOP ? -EPERM : -errno, errno, path, NULL);
        x->path = path;
        if (fd >= 0) {
                r = lock_image(fd, path, exists ? &lst : NULL, &st, err);
                if (r < 0)
                        return r;
        } else
                st = (struct stat) {};
        if (exists && !k->force) {
                r = check_key_image(fd, (uint64_t) st.st_size, path, err);
                if (r < 0)
                        return r;
        }
        if (k->image_size > 0 && k->image_size < (uint64_t) st.st_size)
                return cart_error_set(err, -EINVAL, "%s: --size %" PRIu64 " would shrink the image (%" PRIu64 " bytes)",
                                      path, k->image_size, (uint64_t) st.st_size);
        if (k->image_size == 0 && st.st_size == 0)
                return cart_error_set(err, -EINVAL, "%s: an empty image: give --size", path);
        size = MAX(k->image_size, (uint64_t) st.st_size);
        if (!is_dry && size > (uint64_t) st.st_size && ftruncate(fd, (off_t) size) < 0)
                return sys_fail(err, errno == ENOSPC ? -EIO : -errno, errno, path, "cannot grow to %" PRIu64 " bytes", size);
        x->t = (struct flash_target) {
                .fd = TAKE_FD(fd), .size = size, .sector_size = 512, .is_new = st.st_size == 0,
        };
        snprintf(x->t.identity.device, sizeof(x->t.identity.device), "%s", path);
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

int station_target_info(const struct station *s, const char *path, struct device_info **ret,
                        struct cart_error *err) {
        _cleanup_(device_context_unrefp) struct device_context *ctx = NULL;
        int r;

        if (!s->has_policy)
                return cart_error_set(err, -EPERM, "%s: no target policy to judge this disk by", path);
        r = device_context_new(&s->policy, NULL, &ctx, err);
        if (r < 0)
                return r;
        return device_info_new_from_path(ctx, path, DEVICE_SCAN_NO_PROBE, ret, err);
}

static void target_close(struct target *x, bool is_failed) {
        if (x->dt)
                x->dt = device_target_close(x->dt);
        else if (x->t.fd >= 0)
                close(x->t.fd);
        x->t.fd = -EBADF;
        if (is_failed && x->is_created)
                (void) unlink(x->path);
}

/* A key that ends before flash_key() runs: its report, complete, for the journal. */
static int report_early(struct flash_report *report, const struct station *s, const struct flash_target *t,
                        enum flash_outcome outcome, int r, const struct cart_error *err) {
        flash_report_start(report, t, s->release);
        report->step = FLASH_STEP_CHECK;
        report->outcome = outcome;
        report->finished_usec = report->started_usec;
        flash_report_set_error(report, r, err);
        return r;
}

/* Open k's target; on failure the report is started and ended as a refusal of the key. */
static int target_open(struct station *s, const struct station_key *k, bool is_dry, struct target *x,
                       struct flash_report *report, struct cart_error *err) {
        int r;

        *x = (struct target) { .t.fd = -EBADF, .path = k->target };
        if (station_target_is_device(k->target)) {
                if (k->image_size)
                        r = cart_error_set(err, -EINVAL, "%s: a size applies to image files, not to USB keys", k->target);
                else if (!s->has_policy)
                        r = cart_error_set(err, -EPERM, "%s: no target policy to judge this disk by", k->target);
                else
                        r = device_target_open(k->target, &s->policy, k->serial, &x->dt, err);
                if (r >= 0)
                        identity_from_device(x->dt, k->target, &x->t);
        } else if (k->serial)
                r = cart_error_set(err, -EINVAL, "%s: a serial applies to USB keys, not to image files", k->target);
        else
                r = open_image(s, k, is_dry, x, err);
        if (r < 0) {
                struct flash_target none = { .fd = -EBADF };
                snprintf(none.identity.device, sizeof(none.identity.device), "%s", k->target);
                target_close(x, true);
                return report_early(report, s, &none, r == -EINVAL || r == -ENOMEM ? FLASH_OUTCOME_FAILED :
                                    FLASH_OUTCOME_REFUSED, r, err);
        }
        return 0;
}

int station_target_open(const char *path, const struct device_policy *policy, struct station_target *ret,
                        struct cart_error *err) {
        _cleanup_close_ int fd = -EBADF;
        struct stat lst, st;
        bool exists = false;
        int r;

        *ret = (struct station_target) { .fd = -EBADF };
        if (station_target_is_device(path)) {
                if (!policy)
                        return cart_error_set(err, -EPERM, "%s: no target policy to judge this disk by", path);
                r = device_target_open(path, policy, NULL, &ret->dt, err);
                if (r < 0)
                        return r;
                ret->fd = ret->dt->fd;
                ret->size = ret->dt->size;
                if (ret->dt->info && ret->dt->info->serial)
                        snprintf(ret->serial, sizeof(ret->serial), "%s", ret->dt->info->serial);
                return 0;
        }
        r = check_image_path(NULL, path, &lst, &exists, err);
        if (r < 0)
                return r;
        if (!exists)
                return cart_error_errno(err, -ENOENT, path, NULL);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return sys_fail(err, errno == EISDIR || errno == ELOOP ? -EPERM : -errno, errno, path, NULL);
        r = lock_image(fd, path, &lst, &st, err);
        if (r < 0)
                return r;
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ret->size = (uint64_t) st.st_size;
        ret->fd = TAKE_FD(fd);
        return 0;
}

void station_target_close(struct station_target *t) {
        if (t->dt)
                t->dt = device_target_close(t->dt);
        else if (t->fd >= 0)
                close(t->fd);
        t->fd = -EBADF;
}

int station_target_sync(void *userdata) {
        int fd = (int) (intptr_t) userdata;

        if (fsync(fd) < 0)
                return -errno;
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        return 0;
}

/* k's flash options; the owner's fields only those the release's template prints (in
 * owner), so that the key record carries no more of the pupil than the owner file. */
static struct flash_options flash_options_for(const struct station *s, const struct station_key *k,
                                              struct owner_fields *owner) {
        if (k->owner)
                *owner = owner_fields_only(k->owner,
                                           owner_template_fields(manifest_owner_template(release_manifest(s->release))));
        return (struct flash_options) {
                .release = s->release, .no_probe = k->no_probe, .has_volume_id = k->has_volume_id,
                .volume_id = k->volume_id, .time = k->time, .owner = k->owner ? owner : NULL,
                .chunk_size = k->chunk_size, .on_event = k->on_event, .userdata = k->userdata,
                .erase_mode = k->erase, .held = k->journal_held,
        };
}

/* A full file system under an image file is an I/O failure of the station, not a refusal of the key. */
static int image_full(const struct target *x, struct flash_report *report, int r, struct cart_error *err) {
        if (r != -ENOSPC || x->dt || report->step < FLASH_STEP_WRITE)
                return r;
        cart_error_prefix(err, -EIO, "the file system holding %s is full", x->path);
        report->outcome = FLASH_OUTCOME_FAILED;
        flash_report_set_error(report, -EIO, err);
        return -EIO;
}

/* Once per station: the serial of the release it flashed, for rollback protection. */
static int record_serial(struct station *s, struct cart_error *err) {
        int r = 0;

        if ((s->flags & STATION_NO_ROLLBACK) || !s->config)
                return 0;
        pthread_mutex_lock(&s->lock);
        if (!s->is_serial_recorded) {
                r = release_record_serial(s->config->state_dir, release_manifest(s->release), err);
                s->is_serial_recorded = r >= 0;
        }
        pthread_mutex_unlock(&s->lock);
        return r < 0 ? 1 : 0;
}

int station_flash(struct station *s, const struct station_key *k, struct flash_report *report,
                  struct cart_error *err) {
        struct owner_fields owner;
        struct flash_options o = flash_options_for(s, k, &owner);
        struct target x;
        int r;

        if (s->flags & STATION_LAZY_HASH)
                return -EINVAL;         /* the release's payloads were not hashed */
        r = target_open(s, k, false, &x, report, err);
        if (r < 0)
                return r;
        /* What the key held, judged before its first byte is written: a key the journal does
         * not place is read (its volume, its files against its signed release, its owner). */
        if (k->erase == CART_ERASE_AUTO && (k->journal_held == FLASH_HELD_UNKNOWN || k->journal_held == FLASH_HELD_NOTHING))
                o.held = held_combine(k->journal_held, held_judge_key(&x.t, s->trust, k->owner));
        r = flash_key(&x.t, &o, report, err);
        r = image_full(&x, report, r, err);
        target_close(&x, r < 0);
        if (r < 0)
                return cart_error_prefix(err, r, "%s", k->target);
        return record_serial(s, err);
}

int station_plan(struct station *s, const struct station_key *k, struct flash_report *report,
                 size_t *ret_n_extents, struct cart_error *err) {
        _cleanup_(flash_plan_freep) struct flash_plan *fp = NULL;
        struct owner_fields owner;
        struct flash_options o = flash_options_for(s, k, &owner);
        struct target x;
        int r;

        r = target_open(s, k, true, &x, report, err);
        if (r < 0)
                return r;
        if (x.t.fd < 0)
                x.t.is_new = true;      /* an image file still to be created: nothing to wipe */
        flash_report_start(report, &x.t, s->release);
        report->step = FLASH_STEP_LAYOUT;
        r = flash_plan_build(&x.t, &o, report, &fp, err);
        target_close(&x, false);
        if (r < 0) {
                flash_report_fail(report, r == -ENOSPC ? FLASH_OUTCOME_REFUSED : FLASH_OUTCOME_FAILED, r, err);
                return cart_error_prefix(err, r, "%s", k->target);
        }
        *ret_n_extents = plan_count(flash_plan_get(fp));
        return 0;
}

int station_export(struct station *s, const struct station_key *k, struct flash_report *report,
                   struct cart_error *err) {
        const char *out = k->target, *root = system_root(out);
        _cleanup_(output_file_done) struct output_file img = { .fd = -EBADF };
        struct owner_fields owner;
        struct flash_options o = flash_options_for(s, k, &owner);
        struct target x = { .path = out };
        struct stat st;
        bool exists = lstat(out, &st) == 0;
        int r;

        if (s->flags & STATION_LAZY_HASH)
                return -EINVAL;         /* the release's payloads were not hashed */
        o.no_probe = true;
        x.t = (struct flash_target) { .fd = -EBADF, .size = k->image_size, .sector_size = 512, .is_new = true };
        snprintf(x.t.identity.device, sizeof(x.t.identity.device), "%s", out);
        if (root)
                r = cart_error_set(err, -EPERM, "%s: %s under %s; image export writes a new regular file, never there",
                                   out, exists ? file_kind(st.st_mode) : W_("a path"), root);
        else if (exists)
                r = cart_error_reason_set(err, -EEXIST, CART_REASON_OUTPUT_EXISTS, out);
        else if (k->image_size == 0)
                r = cart_error_set(err, -EINVAL, "%s: give the size of the key", out);
        /* An unnamed file beside the output (O_TMPFILE), linked at the end: a failed or
         * even killed export leaves no partial image. */
        else if ((r = output_file_open(out, 0, &img, err)) < 0)
                r = r == -ENOMEM ? r : -EEXIST;
        else if (ftruncate(img.fd, (off_t) k->image_size) < 0)
                r = sys_fail(err, output_write_error(-errno) == -EIO ? -EIO : -EEXIST, errno, out,
                             "cannot make a %" PRIu64 "-byte image", k->image_size);
        else
                r = 0;
        if (r < 0)
                return report_early(report, s, &x.t, FLASH_OUTCOME_FAILED, r, err);
        x.t.fd = img.fd;        /* closed by output_file_done() */
        r = flash_key(&x.t, &o, report, err);
        r = image_full(&x, report, r, err);
        if (r < 0)
                cart_error_prefix(err, r, "%s", out);
        if (r >= 0 && (r = output_file_link(&img, 0644, err)) < 0) {
                report->outcome = FLASH_OUTCOME_FAILED;
                flash_report_set_error(report, r, err);
        }
        return r;
}

enum cart_reason station_report_reason(const struct flash_report *r, bool is_removed) {
        if (r->outcome == FLASH_OUTCOME_OK || r->outcome == FLASH_OUTCOME_NONE)
                return CART_REASON_NONE;
        if (r->outcome == FLASH_OUTCOME_CANCELLED)
                return is_removed ? CART_REASON_KEY_REMOVED : CART_REASON_INTERRUPTED;
        return r->reason != CART_REASON_NONE ? r->reason : cart_error_reason(&r->failure, r->error);
}

/* ---- Records for the journal ---- */

/* An image file is one key whatever directory it was named from: its path made absolute,
 * its directory resolved (realpath) and its own name kept, so that the identity is the same
 * before the file exists (a batch records a key's start, then creates the image) and after,
 * and does not follow a symlinked image to its target. A directory that cannot be resolved
 * (gone, unreadable) leaves the path as given, made absolute. */
static int image_path(const char *path, char **ret) {
        _cleanup_free_ char *dir = NULL, *name = NULL, *real = NULL, *cwd = NULL;
        const char *slash = strrchr(path, '/');

        if (slash && !slash[1])
                return asprintf(ret, "%s", path) < 0 ? -ENOMEM : 0;
        dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        name = strdup(slash ? slash + 1 : path);
        if (!dir || !name)
                return -ENOMEM;
        real = realpath(dir, NULL);
        if (real)
                return asprintf(ret, "%s%s%s", real, streq(real, "/") ? "" : "/", name) < 0 ? -ENOMEM : 0;
        if (path[0] == '/')
                return asprintf(ret, "%s", path) < 0 ? -ENOMEM : 0;
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return asprintf(ret, "%s", path) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}

int station_key_uid(const struct flash_report *r, char **ret) {
        _cleanup_free_ char *path = NULL;
        int n;

        if (r->key.serial[0])
                n = asprintf(ret, "usb:%s:%s", r->key.vid_pid[0] ? r->key.vid_pid : "0000:0000", r->key.serial);
        else if (r->key.vid_pid[0] || !r->key.device[0])
                n = asprintf(ret, "volume:%08" PRIX32, r->volume_id);
        else {
                n = image_path(r->key.device, &path);
                if (n < 0)
                        return n;
                n = asprintf(ret, "file:%s", path);
        }
        return n < 0 ? -ENOMEM : 0;
}

static const char *or_null(const char *s) {
        return s[0] ? s : NULL;
}

static int record_key(struct station_record *rec, const struct flash_report *r, struct journal_key *k) {
        if (!rec->uid) {
                int n = station_key_uid(r, &rec->uid);
                if (n < 0)
                        return n;
        }
        *k = (struct journal_key) {
                .uid = rec->uid, .serial = or_null(r->key.serial), .vid_pid = or_null(r->key.vid_pid),
                .capacity = r->key.capacity, .release_name = or_null(r->release_name),
                .release_version = or_null(r->release_version), .release_key_id = or_null(r->release_key_id),
                .release_serial = (int64_t) r->release_serial,
        };
        return 0;
}

int station_record_start(struct station_record *rec, const struct flash_report *r) {
        rec->start = (struct journal_key_start) { .started_usec = r->started_usec };
        return record_key(rec, r, &rec->start.key);
}

static enum journal_outcome journal_outcome(enum flash_outcome o) {
        switch (o) {
        case FLASH_OUTCOME_OK:        return JOURNAL_OUTCOME_OK;
        case FLASH_OUTCOME_REFUSED:   return JOURNAL_OUTCOME_REFUSED;
        case FLASH_OUTCOME_FAILED:    return JOURNAL_OUTCOME_FAILED;
        case FLASH_OUTCOME_CANCELLED: return JOURNAL_OUTCOME_CANCELLED;
        case FLASH_OUTCOME_NONE:      break;
        }
        return JOURNAL_OUTCOME_NONE;
}

/* The journal's "erased" event: an erase that ran, or --erase never on a key that was written. */
static const char *erase_outcome(const struct flash_report *r) {
        if (r->erase_method)
                return r->is_erased ? "ok" : r->outcome == FLASH_OUTCOME_CANCELLED ? "cancelled" : "failed";
        if (r->erase_mode == CART_ERASE_NEVER && r->step >= FLASH_STEP_WRITE)
                return "skipped";
        return NULL;
}

int station_record_end(struct station_record *rec, const struct flash_report *r, bool is_removed) {
        bool ok = r->outcome == FLASH_OUTCOME_OK;

        rec->message[0] = 0;
        if (!ok && (r->error < 0 || r->failure.msg[0]))
                cart_error_detail(&r->failure, r->error, rec->message, sizeof(rec->message));
        rec->end = (struct journal_key_end) {
                .outcome = journal_outcome(r->outcome), .reason = station_report_reason(r, is_removed),
                .step = flash_step_to_string(r->step), .message = rec->message[0] ? rec->message : NULL,
                .volume_id = r->volume_id, .is_probed = r->is_probed, .real_capacity = r->real_capacity,
                .bytes_written = (int64_t) r->bytes_written, .bytes_read = (int64_t) r->bytes_read,
                .started_usec = r->started_usec, .finished_usec = r->finished_usec,
                .write_usec = (int64_t) (r->write_seconds * 1e6), .read_usec = (int64_t) (r->read_seconds * 1e6),
                .erase_outcome = erase_outcome(r), .erase_method = r->erase_method,
                .erase_held = r->held != FLASH_HELD_UNKNOWN ? flash_held_to_string(r->held) : NULL,
                .erase_bytes = (int64_t) r->erase_bytes, .erase_checked_bytes = (int64_t) r->erase_checked_bytes,
                .erase_usec = (int64_t) (r->erase_seconds * 1e6),
        };
        return record_key(rec, r, &rec->end.key);
}

void station_record_done(struct station_record *rec) {
        free(rec->uid);
        rec->uid = NULL;
}

struct owner_fields station_owner(const struct journal_pupil_info *p) {
        return (struct owner_fields) { .first_name = p->first_name, .last_name = p->family_name,
                                       .class_name = p->class_name, .school = p->school };
}

/* ---- A key updated, or repaired, in place (station_update) ---- */

/* Why update_key() left a key alone, as the journal and --json store it; NONE: not a
 * refusal of the key (an I/O error, a read-back mismatch), or not update_key()'s. */
static enum cart_reason update_refusal(int r) {
        switch (-r) {
        case EMEDIUMTYPE: case EBADMSG: return CART_REASON_NOT_A_KEY;
        case EUCLEAN: case ENOTUNIQ: return CART_REASON_CORRUPT_VOLUME;
        case ENOKEY: return CART_REASON_UNTRUSTED_SIGNER;
        case EKEYREJECTED: return CART_REASON_BAD_SIGNATURE;
        case ESTALE: return CART_REASON_ROLLBACK;
        case ENOSPC: return CART_REASON_TOO_SMALL;
        case EXDEV: case EBUSY: return CART_REASON_REFUSED;   /* another release, or its interrupted update */
        default: return CART_REASON_NONE;
        }
}

struct update_sync {
        const struct station_key *k;
        struct flash_report *report;
        int fd;
        uint64_t bytes_read;
};

static int update_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        struct update_sync *u = userdata;

        u->bytes_read += len;
        return fd_read_at((void *) (intptr_t) u->fd, buf, len, offset);
}

static int update_write(void *userdata, const void *buf, size_t len, uint64_t offset) {
        return fd_write_at((void *) (intptr_t) ((struct update_sync *) userdata)->fd, buf, len, offset);
}

static int64_t realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Between the writes and their read-back: the key written out, and the read-back step told. */
static int update_synced(void *userdata) {
        struct update_sync *u = userdata;
        int r = station_target_sync((void *) (intptr_t) u->fd);

        if (r >= 0 && u->k->on_event) {
                u->report->step = FLASH_STEP_READBACK;
                (void) u->k->on_event(u->k->userdata, u->report, FLASH_STEP_READBACK, 0, 0);
        }
        return r;
}

static void update_step(const struct station_key *k, struct flash_report *report, enum flash_step step) {
        report->step = step;
        if (k->on_event)
                (void) k->on_event(k->userdata, report, step, 0, 0);
}

/* The key's own view of itself, from its signed manifest alone (no file read): a refusal
 * (nothing written) when it is no cartable key of this release that update_key() could
 * take; *is_repair set otherwise. Whether it is intact is update_key()'s plan to say. */
static int update_judge(struct station *s, struct update_sync *sync, uint64_t size, bool want_repair,
                        bool *is_repair, struct cart_error *err) {
        _cleanup_(manifest_freep) struct manifest *a = NULL;
        const struct manifest *m = release_manifest(s->release);
        int r;

        r = verify_key_release(update_read, sync, size, s->trust, &a, err);
        if (r < 0)
                return r;
        if (!streq(manifest_name(a), manifest_name(m)))
                return cart_error_set(err, -EXDEV, "the key holds release %s, not %s", manifest_name(a), manifest_name(m));
        if (want_repair && manifest_serial(a) != manifest_serial(m))
                return cart_error_set(err, -EXDEV, "the key holds %s serial %" PRIu64 ", not serial %" PRIu64
                                      " (update it instead)", manifest_name(a), manifest_serial(a), manifest_serial(m));
        /* A key that already holds this very release is repaired by an update. */
        *is_repair = manifest_serial(a) == manifest_serial(m);
        return 0;
}

int station_update(struct station *s, const struct station_key *k, bool want_repair, enum update_check check,
                   struct flash_report *report, struct update_report **ret, struct cart_error *err) {
        _cleanup_(update_report_freep) struct update_report *rep = NULL;
        struct update_sync sync = { .k = k, .report = report };
        struct target x;
        bool is_repair = false;
        int r;

        x = (struct target) { .t.fd = -EBADF, .path = k->target };
        if (station_target_is_device(k->target)) {
                if (!s->has_policy)
                        r = cart_error_set(err, -EPERM, "%s: no target policy to judge this disk by", k->target);
                else
                        r = device_target_open(k->target, &s->policy, k->serial, &x.dt, err);
                if (r >= 0)
                        identity_from_device(x.dt, k->target, &x.t);
        } else {
                struct station_target st;
                /* Any existing image file: whether it is a key is what update_judge() says. */
                r = station_target_open(k->target, NULL, &st, err);
                if (r >= 0) {
                        x.t = (struct flash_target) { .fd = st.fd, .size = st.size, .sector_size = 512 };
                        snprintf(x.t.identity.device, sizeof(x.t.identity.device), "%s", k->target);
                        x.t.identity.capacity = st.size;
                }
        }
        if (r < 0) {
                struct flash_target none = { .fd = -EBADF };
                snprintf(none.identity.device, sizeof(none.identity.device), "%s", k->target);
                target_close(&x, false);
                return report_early(report, s, &none, r == -ENOMEM ? FLASH_OUTCOME_FAILED : FLASH_OUTCOME_REFUSED, r, err);
        }
        flash_report_start(report, &x.t, s->release);
        report->real_capacity = x.t.size;
        update_step(k, report, FLASH_STEP_CHECK);
        sync.fd = x.t.fd;
        r = update_judge(s, &sync, x.t.size, want_repair, &is_repair, err);
        if (r >= 0) {
                /* An update's check for a key that already holds the release too: --update of
                 * keys already updated stays quick. */
                const struct update_options o = {
                        .release = s->release, .trust = s->trust, .is_repair = is_repair, .time = k->time,
                        .check = check != UPDATE_CHECK_DEFAULT ? check :
                                 want_repair ? UPDATE_CHECK_CONTENT : UPDATE_CHECK_QUICK,
                        .sync = update_synced,
                };
                update_step(k, report, FLASH_STEP_WRITE);
                /* update_key() hands its sync hook the userdata of its read and write. */
                r = update_key(update_read, update_write, &sync, x.t.size, &o, &rep, err);
        }
        target_close(&x, false);
        report->finished_usec = realtime_usec();
        if (r < 0) {
                /* Refused before its first write (keylife.h's one list): the key is as it was. */
                bool is_refused = !keylife_update_may_have_written(r) && r != -ENOMEM;
                enum cart_reason why = update_refusal(r);

                if (is_refused && why != CART_REASON_NONE)
                        err->reason = why;
                flash_report_fail(report, is_refused ? FLASH_OUTCOME_REFUSED : FLASH_OUTCOME_FAILED, r, err);
                cart_error_prefix(err, r, "%s", k->target);
                report->failure = *err;
                return is_refused ? STATION_UPDATE_REFUSED : r;
        }
        report->bytes_read_in_all = sync.bytes_read;
        report->outcome = FLASH_OUTCOME_OK;
        report->step = FLASH_STEP_DONE;
        if (rep->is_intact)
                return STATION_UPDATE_INTACT;
        report->volume_id = rep->volume_id;
        report->bytes_written = rep->bytes_written;
        report->bytes_read = rep->bytes_read_back;
        *ret = TAKE_PTR(rep);
        return STATION_UPDATED;
}
