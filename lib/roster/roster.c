/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Format detection, the station secret, and the dispatch to a format reader. */
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "roster/roster-internal.h"

const char *roster_id_scheme_to_string(enum roster_id_scheme s) {
        switch (s) {
        case ROSTER_IDS_SIECLE:
                return "siecle";
        case ROSTER_IDS_COLUMN:
                return "column";
        case ROSTER_IDS_DERIVED:
                return "derived";
        }
        return "unknown";
}

const char *roster_format_to_string(enum roster_format f) {
        switch (f) {
        case ROSTER_FORMAT_SIECLE:
                return "siecle";
        case ROSTER_FORMAT_CSV:
                return "csv";
        }
        return "unknown";
}

static int secret_read(const char *path, uint8_t secret[32], struct cart_error *err) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
                return -ENOENT;    /* the caller creates it */
        if (fd < 0 && errno == ELOOP)
                return cart_error_set(err, -ELOOP, "%s: a symbolic link: the station secret must be a regular file", path);
        if (fd < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (fstat(fd, &st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (!S_ISREG(st.st_mode))
                return cart_error_set(err, -EBADMSG, "%s: not a regular file", path);
        if (st.st_mode & 077)
                return cart_error_set(err, -EPERM, "%s: readable by others (mode %04o): it must be 0600",
                                      path, (unsigned) (st.st_mode & 07777));
        if (st.st_size != ROSTER_SECRET_LEN)
                return cart_error_set(err, -EBADMSG, "%s: %lld bytes, a station secret is %d",
                                      path, (long long) st.st_size, ROSTER_SECRET_LEN);
        r = pread_full(fd, secret, ROSTER_SECRET_LEN, 0);
        if (r < 0)
                return cart_error_errno(err, r, path, NULL);
        return 0;
}

int roster_secret_load(const char *state_dir, uint8_t secret[32], struct cart_error *err) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        uint8_t buf[ROSTER_SECRET_LEN];
        int r;

        if (asprintf(&path, "%s/station.secret", state_dir) < 0 ||
            asprintf(&tmp, "%s/.station.secret.XXXXXX", state_dir) < 0)
                return cart_error_set(err, -ENOMEM, "out of memory");

        r = secret_read(path, buf, err);
        if (r != -ENOENT)
                goto done;

        r = mkdir_parents(state_dir, 0700);
        if (r < 0)
                return cart_error_errno(err, r, state_dir, NULL);
        if (getrandom(buf, sizeof(buf), 0) != (ssize_t) sizeof(buf))
                return cart_error_errno(err, -EIO, NULL, "getrandom");
        /* mkostemp opens with O_EXCL and mode 0600; link() refuses to replace a secret
         * another process created meanwhile, and then that one is read. */
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return cart_error_errno(err, -errno, tmp, NULL);
        r = pwrite_full(fd, buf, sizeof(buf), 0);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && link(tmp, path) < 0)
                r = -errno;
        (void) unlink(tmp);
        if (r == -EEXIST) {
                r = secret_read(path, buf, err);
                goto done;
        }
        if (r < 0)
                return cart_error_errno(err, r, path, NULL);
        dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
done:
        if (r == -ENOENT)
                return cart_error_set(err, r, "%s: vanished while reading it", path);
        if (r < 0)
                return r;
        memcpy(secret, buf, sizeof(buf));
        return 0;
}

/* What the first bytes say: a zip (SIECLE's own download), XML, or else CSV. */
static int detect(const char *path, enum roster_format *ret_format, bool *ret_zip, struct cart_error *err) {
        _cleanup_close_ int fd = -EBADF;
        unsigned char b[256];
        ssize_t n;
        size_t i = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return cart_error_errno(err, -errno, path, NULL);
        n = read(fd, b, sizeof(b));
        if (n < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (n == 0)
                return cart_error_set(err, -EBADMSG, "%s: empty file", path);
        if (n >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) {
                *ret_format = ROSTER_FORMAT_SIECLE;
                *ret_zip = true;
                return 0;
        }
        if (n >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == 0xfe && b[1] == 0xff)))
                return cart_error_set(err, -EILSEQ, "%s: UTF-16 text: save the file as UTF-8 or ISO-8859-15", path);
        if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
                i = 3;
        while (i < (size_t) n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
                i++;
        *ret_format = i < (size_t) n && b[i] == '<' ? ROSTER_FORMAT_SIECLE : ROSTER_FORMAT_CSV;
        *ret_zip = false;
        return 0;
}

int roster_read(const char *path, const struct roster_options *o, roster_pupil_fn fn, void *userdata,
                struct roster_info *ret_info, struct cart_error *err) {
        static const struct roster_options none = {};
        struct roster_ctx c = {
                .path = path,
                .o = o ?: &none,
                .fn = fn,
                .userdata = userdata,
        };
        enum roster_format format = ROSTER_FORMAT_CSV;
        bool is_zip = false;
        int r;

        if (c.o->keep_ine && (!c.o->secret || c.o->secret_len < 16))
                return cart_error_set(err, -EINVAL, "keeping INEs (as HMAC) needs the station secret");
        if (c.o->today) {
                if (roster_date_normalise(c.o->today, c.today) < 0)
                        return cart_error_set(err, -EINVAL, "\"%.20s\" is not a date (YYYY-MM-DD)", c.o->today);
        } else {
                time_t now = time(NULL);
                struct tm tm;
                localtime_r(&now, &tm);
                strftime(c.today, sizeof(c.today), "%Y-%m-%d", &tm);
        }
        r = detect(path, &format, &is_zip, err);
        if (r < 0)
                return r;
        c.info.format = format;
        c.info.is_zip = is_zip;
        r = format == ROSTER_FORMAT_SIECLE ? roster_siecle_read(&c, is_zip, err) : roster_csv_read(&c, err);
        if (r < 0)
                return r;
        if (ret_info)
                *ret_info = c.info;
        return 0;
}
