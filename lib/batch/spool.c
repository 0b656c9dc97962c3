/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal spool (spool.h): key ends kept locally while the journal server was away. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file-trust.h"
#include "base/json-util.h"
#include "base/output-file.h"
#include "batch/spool.h"
#include "station/station.h"

#define SPOOL_FORMAT "cartable-journal-spool/1"
#define SPOOL_MAX_FILES 4096

/* What a spool file holds, parsed: the report and who and for whom its end was recorded. */
struct spooled {
        char journal[4096], station[256], key_uid[512];
        char operator[1024], pupil[1024], vendor[1024], product[1024], reason[256];
        bool has_operator, has_pupil, has_vendor, has_product, has_reason;
        struct flash_report rep;
};

static void add(struct json_object *o, const char *key, struct json_object *v, int *r) {
        if (*r < 0)
                return;
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                *r = -ENOMEM;
        }
}

static void add_str(struct json_object *o, const char *key, const char *v, int *r) {
        if (v)
                add(o, key, json_object_new_string(v), r);
        else if (*r >= 0 && json_object_object_add(o, key, NULL) < 0)   /* json-c's null */
                *r = -ENOMEM;
}

static int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int spool_write(const char *dir, struct journal *j, const struct flash_report *rep, const struct journal_key_end *end,
                char **ret_path, struct cart_error *err) {
        _cleanup_free_ char *path = NULL;
        const char *uid = end->key.uid;
        _cleanup_(output_file_done) struct output_file of = { .fd = -EBADF };
        struct json_object *o;
        struct flash_report r2 = *rep;
        char detail[sizeof(rep->failure.msg)];
        bool ok = rep->outcome == FLASH_OUTCOME_OK;
        const char *s;
        size_t n;
        int r = 0;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return cart_error_errno(err, -errno, dir, "cannot create");
        /* Minors' names go in there: a directory another user holds or may write is refused. */
        r = file_open_trusted(dir, O_RDONLY, S_IFDIR, err);
        if (r < 0)
                return r;
        close(r);
        r = 0;
        /* An image file's key is known by its absolute path: the same wherever the replay runs. */
        if (strncmp(uid, "file:", 5) == 0 && strlen(uid + 5) < sizeof(r2.key.device)) {
                snprintf(r2.key.device, sizeof(r2.key.device), "%s", uid + 5);
                /* A disk whose identity was learnt only once open: its start named its path. */
                r2.key.serial[0] = r2.key.vid_pid[0] = 0;
        }

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        add_str(o, "format", SPOOL_FORMAT, &r);
        add_str(o, "journal", journal_name(j), &r);
        add_str(o, "station", journal_station(j), &r);
        add_str(o, "key_uid", uid, &r);
        add_str(o, "operator", end->operator, &r);
        add_str(o, "pupil", end->pupil, &r);
        add(o, "replace", json_object_new_boolean(end->replace), &r);
        add_str(o, "vendor", end->key.vendor, &r);
        add_str(o, "product", end->key.product, &r);
        add_str(o, "reason", end->reason != CART_REASON_NONE ? cart_reason_to_string(end->reason) : NULL, &r);
        add_str(o, "serial", r2.key.serial, &r);
        add_str(o, "vid_pid", r2.key.vid_pid, &r);
        add_str(o, "port", r2.key.port, &r);
        add_str(o, "device", r2.key.device, &r);
        add(o, "capacity", json_object_new_int64((int64_t) r2.key.capacity), &r);
        add(o, "probed", json_object_new_boolean(r2.is_probed), &r);
        add(o, "real_capacity", json_object_new_int64((int64_t) r2.real_capacity), &r);
        add(o, "volume_id", json_object_new_int64(r2.volume_id), &r);
        add_str(o, "release_name", r2.release_name, &r);
        add_str(o, "release_version", r2.release_version, &r);
        add_str(o, "release_key_id", r2.release_key_id, &r);
        add(o, "release_serial", json_object_new_int64((int64_t) r2.release_serial), &r);
        add(o, "started_usec", json_object_new_int64(MAX(r2.started_usec, 0)), &r);
        add(o, "finished_usec", json_object_new_int64(MAX(r2.finished_usec, 0)), &r);
        add(o, "bytes_written", json_object_new_int64((int64_t) r2.bytes_written), &r);
        add(o, "bytes_read", json_object_new_int64((int64_t) r2.bytes_read), &r);
        add(o, "write_seconds", json_object_new_double(r2.write_seconds), &r);
        add(o, "read_seconds", json_object_new_double(r2.read_seconds), &r);
        add(o, "outcome", json_object_new_int64(r2.outcome), &r);
        add(o, "step", json_object_new_int64(r2.step), &r);
        add(o, "error", json_object_new_int64(r2.error < 0 && r2.error > -4096 ? -r2.error : 0), &r);
        add_str(o, "message", !ok && (r2.error < 0 || r2.failure.msg[0]) ?
                cart_error_detail(&r2.failure, r2.error, detail, sizeof(detail)) : "", &r);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        n = s ? strlen(s) : 0;
        if (asprintf(&path, "%s/end-%" PRId64 "-%08" PRIX32 ".json", dir, MAX(r2.finished_usec, 0), r2.volume_id) < 0 ||
            !s) {
                json_object_put(o);
                return -ENOMEM;
        }
        if (n > SPOOL_FILE_MAX) {
                json_object_put(o);
                return cart_error_set(err, -EFBIG, "%s: a key's end too large to spool", path);
        }
        /* Complete under its name or not there at all, never replacing a file (output-file.h);
         * the replay skips the hidden temporary a killed run may leave. */
        r = output_file_open(path, 0, &of, err);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        r = pwrite_full(of.fd, s, n, 0);
        json_object_put(o);
        if (r < 0)
                return cart_error_errno(err, r, path, "cannot write");
        r = output_file_link(&of, 0600, err);
        if (r < 0)
                return r;
        r = fsync_dir(dir);
        if (r < 0)
                return cart_error_errno(err, r, path, "cannot write");
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

/* ---- Replay: the file is local, but still input: every field is checked ---- */

static int get_str(struct json_object *o, const char *key, bool nullable, char *dst, size_t size, bool *ret_set,
                   struct cart_error *err) {
        struct json_object *v;
        const char *s;
        size_t n;

        if (!json_object_object_get_ex(o, key, &v))
                return json_field_error(err, "journal spool", key, "missing \"%s\"", key);
        if (!v && nullable) {
                dst[0] = 0;
                if (ret_set)
                        *ret_set = false;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return json_field_error(err, "journal spool", key, "\"%s\" has the wrong type", key);
        s = json_object_get_string(v);
        n = (size_t) json_object_get_string_len(v);
        /* Bounded, no NUL byte; any other character is data the journal took live too (a
         * USB vendor string, a failure's words). */
        if (n >= size || memchr(s, 0, n))
                return json_field_error(err, "journal spool", key, "\"%s\" is out of range", key);
        memcpy(dst, s, n);
        dst[n] = 0;
        if (ret_set)
                *ret_set = true;
        return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *ret, struct cart_error *err) {
        struct json_object *v;
        int r = json_get(o, key, json_type_boolean, true, &v, "journal spool", err);

        if (r < 0)
                return r;
        *ret = json_object_get_boolean(v);
        return 0;
}

static int get_seconds(struct json_object *o, const char *key, double *ret, struct cart_error *err) {
        struct json_object *v;
        double d;

        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return json_field_error(err, "journal spool", key, "\"%s\" has the wrong type", key);
        d = json_object_get_double(v);
        if (!isfinite(d) || d < 0 || d > 1e9)
                return json_field_error(err, "journal spool", key, "\"%s\" is out of range", key);
        *ret = d;
        return 0;
}

static int parse(const char *buf, size_t len, struct spooled *sp, struct cart_error *err) {
        static const char *const keys[] = {
                "format", "journal", "station", "key_uid", "operator", "pupil", "replace", "vendor", "product",
                "reason", "serial", "vid_pid", "port", "device", "capacity", "probed", "real_capacity",
                "volume_id", "release_name", "release_version", "release_key_id", "release_serial",
                "started_usec", "finished_usec", "bytes_written", "bytes_read", "write_seconds", "read_seconds",
                "outcome", "step", "error", "message", NULL,
        };
        struct flash_report *rep = &sp->rep;
        struct json_object *root;
        char format[64];
        uint64_t u[11];
        bool replace;
        int r;

        r = json_parse_strict(buf, len, 2, "journal spool", &root, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return cart_error_set(err, -EBADMSG, "journal spool: not a JSON object");
        }
        if ((r = json_only_keys(root, keys, "journal spool", err)) < 0 ||
            (r = get_str(root, "format", false, format, sizeof(format), NULL, err)) < 0)
                goto out;
        if (!streq(format, SPOOL_FORMAT)) {
                r = json_field_error(err, "journal spool", "format", "\"%s\" is out of range", "format");
                goto out;
        }
        if ((r = get_str(root, "journal", false, sp->journal, sizeof(sp->journal), NULL, err)) < 0 ||
            (r = get_str(root, "station", false, sp->station, sizeof(sp->station), NULL, err)) < 0 ||
            (r = get_str(root, "key_uid", false, sp->key_uid, sizeof(sp->key_uid), NULL, err)) < 0 ||
            (r = get_str(root, "operator", true, sp->operator, sizeof(sp->operator), &sp->has_operator, err)) < 0 ||
            (r = get_str(root, "pupil", true, sp->pupil, sizeof(sp->pupil), &sp->has_pupil, err)) < 0 ||
            (r = get_bool(root, "replace", &replace, err)) < 0 ||
            (r = get_str(root, "vendor", true, sp->vendor, sizeof(sp->vendor), &sp->has_vendor, err)) < 0 ||
            (r = get_str(root, "product", true, sp->product, sizeof(sp->product), &sp->has_product, err)) < 0 ||
            (r = get_str(root, "reason", true, sp->reason, sizeof(sp->reason), &sp->has_reason, err)) < 0 ||
            (r = get_str(root, "serial", false, rep->key.serial, sizeof(rep->key.serial), NULL, err)) < 0 ||
            (r = get_str(root, "vid_pid", false, rep->key.vid_pid, sizeof(rep->key.vid_pid), NULL, err)) < 0 ||
            (r = get_str(root, "port", false, rep->key.port, sizeof(rep->key.port), NULL, err)) < 0 ||
            (r = get_str(root, "device", false, rep->key.device, sizeof(rep->key.device), NULL, err)) < 0 ||
            (r = get_str(root, "release_name", false, rep->release_name, sizeof(rep->release_name), NULL, err)) < 0 ||
            (r = get_str(root, "release_version", false, rep->release_version, sizeof(rep->release_version), NULL, err)) < 0 ||
            (r = get_str(root, "release_key_id", false, rep->release_key_id, sizeof(rep->release_key_id), NULL, err)) < 0 ||
            (r = get_str(root, "message", false, rep->failure.msg, sizeof(rep->failure.msg), NULL, err)) < 0 ||
            (r = get_bool(root, "probed", &rep->is_probed, err)) < 0 ||
            (r = json_get_u64(root, "capacity", INT64_MAX, &u[0], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "real_capacity", INT64_MAX, &u[1], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "volume_id", UINT32_MAX, &u[2], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "release_serial", INT64_MAX, &u[3], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "started_usec", INT64_MAX, &u[4], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "finished_usec", INT64_MAX, &u[5], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "bytes_written", INT64_MAX, &u[6], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "bytes_read", INT64_MAX, &u[7], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "outcome", FLASH_OUTCOME_CANCELLED, &u[8], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "step", FLASH_STEP_ERASE, &u[9], "journal spool", err)) < 0 ||
            (r = json_get_u64(root, "error", 4095, &u[10], "journal spool", err)) < 0 ||
            (r = get_seconds(root, "write_seconds", &rep->write_seconds, err)) < 0 ||
            (r = get_seconds(root, "read_seconds", &rep->read_seconds, err)) < 0)
                goto out;
        rep->key.capacity = u[0];
        rep->real_capacity = u[1];
        rep->volume_id = (uint32_t) u[2];
        rep->release_serial = u[3];
        rep->started_usec = (int64_t) u[4];
        rep->finished_usec = (int64_t) u[5];
        rep->bytes_written = u[6];
        rep->bytes_read = u[7];
        rep->outcome = (enum flash_outcome) u[8];
        rep->step = (enum flash_step) u[9];
        rep->error = -(int) u[10];
        (void) replace;   /* a batch never replaces: kept for the record, always false */
        if (rep->outcome == FLASH_OUTCOME_NONE || rep->finished_usec <= 0)
                r = json_field_error(err, "journal spool", "outcome", "\"%s\" is out of range", "outcome");
out:
        json_object_put(root);
        return r;
}

/* Parse a file's content, and check that the key it names is the key its fields make. */
static int parse_checked(const char *buf, size_t n, struct spooled *sp, struct cart_error *err) {
        _cleanup_free_ char *uid = NULL;
        int r;

        if (n == 0 || n > SPOOL_FILE_MAX)
                return cart_error_set(err, -EBADMSG, "journal spool: not a regular file of at most %zu KiB",
                                      (size_t) (SPOOL_FILE_MAX / KIB));
        r = parse(buf, n, sp, err);
        if (r < 0)
                return r;
        r = station_key_uid(&sp->rep, &uid);
        if (r < 0)
                return r;
        if (sp->has_reason && cart_reason_from_string(sp->reason) < 0)
                return json_field_error(err, "journal spool", "reason", "\"%s\" is out of range", "reason");
        if (!streq(uid, sp->key_uid))
                return json_field_error(err, "journal spool", "key_uid", "\"%s\" is out of range", "key_uid");
        return 0;
}

/* Read and parse one file: a regular file of at most SPOOL_FILE_MAX bytes. */
static int load(int dfd, const char *name, struct spooled *sp, struct cart_error *err) {
        _cleanup_close_ int fd = -EBADF;
        char buf[SPOOL_FILE_MAX + 1];
        struct stat st;
        ssize_t n;

        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 && errno == ELOOP)
                return cart_error_reason_set(err, -EPERM, CART_REASON_FILE_SYMLINK, name);
        if (fd < 0)
                return cart_error_errno(err, -errno, name, "cannot open");
        if (fstat(fd, &st) < 0)
                return cart_error_errno(err, -errno, name, "cannot read");
        if (S_ISREG(st.st_mode)) {
                int r = file_check_trusted(fd, name, S_IFREG, err);
                if (r < 0)
                        return r;
        }
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (off_t) SPOOL_FILE_MAX)
                return cart_error_set(err, -EBADMSG, "journal spool: not a regular file of at most %zu KiB",
                                      (size_t) (SPOOL_FILE_MAX / KIB));
        n = read(fd, buf, sizeof(buf));
        if (n < 0)
                return cart_error_errno(err, -errno, name, "cannot read");
        return parse_checked(buf, (size_t) n, sp, err);
}

int spool_parse(const void *json, size_t len, struct cart_error *err) {
        _cleanup_free_ struct spooled *sp = calloc(1, sizeof(*sp));

        if (!sp)
                return -ENOMEM;
        return parse_checked(json, len, sp, err);
}

/* A spooled end recorded, unless the commit the lost connection left in doubt recorded it
 * (its start is no longer open: *ret_present). */
static int record(struct journal *j, const struct spooled *sp, bool *ret_present, struct cart_error *err) {
        _cleanup_(station_record_done) struct station_record rec = {};
        struct journal_key_ended ended = {};
        int r;

        r = station_record_end(&rec, &sp->rep, false);
        if (r < 0)
                return r;
        rec.end.operator = sp->has_operator ? sp->operator : NULL;
        rec.end.pupil = sp->has_pupil ? sp->pupil : NULL;
        rec.end.key.vendor = sp->has_vendor ? sp->vendor : NULL;
        rec.end.key.product = sp->has_product ? sp->product : NULL;
        /* The reason chosen when it ended (a key pulled out says so), checked on parsing. */
        if (sp->has_reason)
                rec.end.reason = (enum cart_reason) cart_reason_from_string(sp->reason);
        rec.end.only_if_started = true;
        r = journal_key_end(j, &rec.end, &ended, err);
        *ret_present = ended.is_present;
        return r;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void free_names(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* The spool's file names, sorted (oldest first: end-TIME-...), from the directory dfd. */
static int list(int dfd, char ***ret, size_t *ret_n) {
        int fd = dup(dfd);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!d) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                char **t;
                if (de->d_name[0] == '.' || strlen(de->d_name) < 6 || !streq(de->d_name + strlen(de->d_name) - 5, ".json"))
                        continue;
                if (n >= SPOOL_MAX_FILES)
                        break;
                t = reallocarray(names, n + 1, sizeof(*names));
                if (!t || !(t[n] = strdup(de->d_name))) {
                        free_names(t ? t : names, n);
                        closedir(d);
                        return -ENOMEM;
                }
                names = t;
                n++;
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

int spool_replay(const char *dir, struct journal *j, spool_fn fn, void *userdata, struct cart_error *err) {
        _cleanup_close_ int dfd = -EBADF;
        char **names;
        size_t n;
        int r, replayed = 0;

        /* A spool directory or file another user holds, or may write, could name any pupil:
         * refused (file-trust.h), nothing replayed from it. */
        dfd = file_open_trusted(dir, O_RDONLY, S_IFDIR, err);
        if (dfd == -ENOENT) {
                if (err)
                        memset(err, 0, sizeof(*err));
                return 0;
        }
        if (dfd < 0)
                return dfd;
        r = list(dfd, &names, &n);
        if (r < 0)
                return cart_error_errno(err, r, dir, "cannot read");
        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                _cleanup_free_ struct spooled *sp = calloc(1, sizeof(*sp));
                struct cart_error e = {};
                struct spool_entry ent;

                if (!sp || asprintf(&path, "%s/%s", dir, names[i]) < 0) {
                        r = -ENOMEM;
                        break;
                }
                ent = (struct spool_entry) { .path = path };
                r = load(dfd, names[i], sp, &e);
                if (r >= 0 && !streq(sp->journal, journal_name(j)))
                        continue;   /* another journal's: left for its next batch */
                if (r >= 0 && !streq(sp->station, journal_station(j)))
                        r = cart_error_set(&e, -EBADMSG, "journal spool: written by station %s, not %s",
                                           sp->station, journal_station(j));
                if (r < 0) {
                        cart_error_prefix(&e, r, "%s: refused, left in place", path);
                        if (fn)
                                fn(userdata, &ent, r, &e);
                        continue;
                }
                ent = (struct spool_entry) {
                        .path = path, .key_uid = sp->key_uid, .key_serial = sp->rep.key.serial,
                        .pupil = sp->has_pupil ? sp->pupil : NULL, .operator = sp->has_operator ? sp->operator : NULL,
                        .time_usec = sp->rep.finished_usec,
                };
                r = record(j, sp, &ent.is_present, &e);
                if (r == -ECONNRESET || r == -ECONNREFUSED) {
                        *err = e;
                        free_names(names, n);
                        return r;
                }
                if (r < 0 && r != -EEXIST && r != -ESRCH) {
                        cart_error_prefix(&e, r, "%s: refused, left in place", path);
                        if (fn)
                                fn(userdata, &ent, r, &e);
                        continue;
                }
                /* Recorded (committed): only now the file goes. */
                if (unlinkat(dfd, names[i], 0) < 0 || fsync(dfd) < 0) {
                        int k = -errno;
                        cart_error_errno(&e, k, path, "cannot remove");
                        if (fn)
                                fn(userdata, &ent, k, &e);
                        continue;
                }
                if (!ent.is_present)
                        replayed++;
                if (fn)
                        fn(userdata, &ent, r, &e);
        }
        free_names(names, n);
        return r == -ENOMEM ? r : replayed;
}
