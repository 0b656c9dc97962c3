/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rollback protection (as TUF's "versions never go down"): the station keeps the highest
 * serial it flashed for each release name, one "NAME SERIAL" line each, in a state file
 * replaced atomically (temporary file, fsync, rename) under an flock on its directory.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "release/release-internal.h"

#define STATE_FILE "release-serials"

/*
 * state_path is the station's state directory (the configuration's state-dir), holding
 * STATE_FILE. A directory that does not exist yet has no record; something else there
 * is an error, never silently replaced.
 */
static int state_file(const char *state_path, char **ret_file, char **ret_dir, struct cart_error *err) {
        struct stat st;

        if (stat(state_path, &st) == 0 && !S_ISDIR(st.st_mode))
                return cart_error_set(err, -ENOTDIR, "state directory %s: not a directory", state_path);
        if (asprintf(ret_file, "%s/" STATE_FILE, state_path) < 0)
                return -ENOMEM;
        *ret_dir = strdup(state_path);
        if (!*ret_dir) {
                free(*ret_file);
                return -ENOMEM;
        }
        return 0;
}

/* The recorded serial for name (0 when none). The whole file is checked, line by line. */
static int read_serial(const char *file, const char *name, uint64_t *ret, struct cart_error *err) {
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        char line[256];
        unsigned n = 0;

        *ret = 0;
        if (!f)
                return errno == ENOENT ? 0 : cart_error_errno(err, -errno, file, NULL);
        while (fgets(line, sizeof(line), f)) {
                char key[128];
                uint64_t serial;
                n++;
                if (sscanf(line, "%127s %" SCNu64, key, &serial) != 2)
                        return cart_error_set(err, -EBADMSG, "%s:%u: expected \"NAME SERIAL\"", file, n);
                if (streq(key, name))
                        *ret = MAX(*ret, serial);
        }
        return ferror(f) ? cart_error_set(err, -EIO, "%s: read error", file) : 0;
}

int release_check_rollback(const char *state_path, const struct manifest *m, bool allow_downgrade,
                           struct cart_error *err) {
        uint64_t recorded;
        int r;

        r = release_recorded_serial(state_path, m->name, &recorded, err);
        if (r < 0)
                return r;
        if (m->serial < recorded && !allow_downgrade) {
                /* value: this release's serial; limit: the one already flashed here. */
                cart_error_reason_set(err, -ESTALE, CART_REASON_ROLLBACK, NULL);
                if (err) {
                        snprintf(err->have, sizeof(err->have), "%s %s", m->name, m->version);
                        err->value = m->serial;
                        err->limit = recorded;
                        err->has_values = true;
                }
                return -ESTALE;
        }
        return 0;
}

int release_recorded_serial(const char *state_path, const char *name, uint64_t *ret, struct cart_error *err) {
        _cleanup_free_ char *file = NULL, *dir = NULL;
        int r = state_file(state_path, &file, &dir, err);

        return r < 0 ? r : read_serial(file, name, ret, err);
}

static int write_state(const char *file, const char *dir, const char *name, uint64_t serial, struct cart_error *err) {
        _cleanup_fclose_ FILE *in = fopen(file, "re");
        _cleanup_free_ char *tmp = NULL;
        _cleanup_fclose_ FILE *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        char line[256];

        if (!in && errno != ENOENT)
                return cart_error_errno(err, -errno, file, NULL);
        if (asprintf(&tmp, "%s.XXXXXX", file) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return cart_error_errno(err, -errno, dir, NULL);
        out = fdopen(TAKE_FD(fd), "w");
        if (!out) {
                unlink(tmp);
                return -errno;
        }
        while (in && fgets(line, sizeof(line), in)) {
                char key[128];
                if (sscanf(line, "%127s", key) == 1 && !streq(key, name))
                        fputs(line, out);
        }
        fprintf(out, "%s %" PRIu64 "\n", name, serial);
        if (fflush(out) != 0 || fsync(fileno(out)) < 0 || rename(tmp, file) < 0) {
                int r = -errno;
                unlink(tmp);
                return cart_error_errno(err, r, file, NULL);
        }
        return 0;
}

int release_record_serial(const char *state_path, const struct manifest *m, struct cart_error *err) {
        _cleanup_free_ char *file = NULL, *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;
        uint64_t recorded;
        int r;

        r = state_file(state_path, &file, &dir, err);
        if (r < 0)
                return r;
        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return cart_error_errno(err, r, dir, "state directory");
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || flock(dfd, LOCK_EX) < 0)
                return cart_error_errno(err, -errno, dir, NULL);
        r = read_serial(file, m->name, &recorded, err);
        if (r < 0)
                return r;
        if (recorded >= m->serial)
                return 0;     /* never lower a recorded serial */
        r = write_state(file, dir, m->name, m->serial, err);
        if (r < 0)
                return r;
        (void) fsync(dfd);
        return 0;
}

int release_serials_count(const char *state_path, size_t *ret, struct cart_error *err) {
        _cleanup_free_ char *file = NULL, *dir = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        size_t n = 0;
        uint64_t unused;
        int r;

        r = state_file(state_path, &file, &dir, err);
        if (r < 0)
                return r;
        /* read_serial() checks every line; an empty name matches none of them. */
        r = read_serial(file, "", &unused, err);
        if (r < 0)
                return r;
        f = fopen(file, "re");
        if (f)
                while (fgets(line, sizeof(line), f))
                        n++;
        *ret = n;
        return 0;
}
