/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "base/util.h"

int pread_full(int fd, void *buf, size_t len, uint64_t offset) {
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = pread(fd, p, len, (off_t) offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
                offset += (uint64_t) n;
        }
        return 0;
}

int pwrite_full(int fd, const void *buf, size_t len, uint64_t offset) {
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, (off_t) offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
                offset += (uint64_t) n;
        }
        return 0;
}

int fd_read_at(void *userdata, void *buf, size_t len, uint64_t offset) {
        return pread_full((int) (intptr_t) userdata, buf, len, offset);
}

int fd_write_at(void *userdata, const void *buf, size_t len, uint64_t offset) {
        return pwrite_full((int) (intptr_t) userdata, buf, len, offset);
}

int read_small_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        r = pread_full(fd, buf, (size_t) st.st_size, 0);
        if (r < 0)
                return r;
        buf[st.st_size] = 0;
        *ret_len = (size_t) st.st_size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int mkdir_parents(const char *path, unsigned mode) {
        _cleanup_free_ char *p = strdup(path);
        struct stat st;

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; ; s++) {
                bool last = *s == '\0';
                if (*s != '/' && !last)
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                if (last)
                        break;
                *s = '/';
        }
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

void time_format(int64_t t, char ret[32]) {
        struct tm tm;
        time_t tt = (time_t) t;

        if (!gmtime_r(&tt, &tm) || strftime(ret, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(ret, 32, "1970-01-01T00:00:00Z");
}

int time_parse(const char *s, int64_t *ret) {
        struct tm tm = {};
        char back[32];
        const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        int64_t t;

        if (!end || *end)
                return -EINVAL;
        t = (int64_t) timegm(&tm);
        time_format(t, back);
        if (!streq(back, s))
                return -EINVAL;
        *ret = t;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        char *end;
        uint64_t v, mult = 1;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        switch (*end) {
        case '\0': break;
        case 'k': case 'K': mult = KIB; end++; break;
        case 'm': case 'M': mult = MIB; end++; break;
        case 'g': case 'G': mult = GIB; end++; break;
        case 't': case 'T': mult = TIB; end++; break;
        default: return -EINVAL;
        }
        if (mult > 1 && (streq(end, "iB") || streq(end, "B")))
                end += strlen(end);
        if (*end)
                return -EINVAL;
        if (__builtin_mul_overflow(v, mult, &v))
                return -ERANGE;
        *ret = v;
        return 0;
}

const char *format_size(uint64_t bytes, char *buf, size_t len) {
        static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double) bytes;
        size_t u = 0;

        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        if (u == 0)
                snprintf(buf, len, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, len, "%.1f %s", v, units[u]);
        return buf;
}

int utf8_decode(const unsigned char *s, uint32_t *ret) {
        uint32_t c;
        int len;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        } else if ((s[0] & 0xE0) == 0xC0) {
                c = s[0] & 0x1F;
                len = 2;
        } else if ((s[0] & 0xF0) == 0xE0) {
                c = s[0] & 0x0F;
                len = 3;
        } else if ((s[0] & 0xF8) == 0xF0) {
                c = s[0] & 0x07;
                len = 4;
        } else
                return -EILSEQ;
        for (int i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return -EILSEQ;
                c = (c << 6) | (s[i] & 0x3F);
        }
        if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
            c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return -EILSEQ;
        *ret = c;
        return len;
}

size_t utf8_encode(uint32_t c, char *out) {
        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xC0 | (c >> 6));
                out[1] = (char) (0x80 | (c & 0x3F));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char) (0xE0 | (c >> 12));
                out[1] = (char) (0x80 | ((c >> 6) & 0x3F));
                out[2] = (char) (0x80 | (c & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (c >> 18));
        out[1] = (char) (0x80 | ((c >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((c >> 6) & 0x3F));
        out[3] = (char) (0x80 | (c & 0x3F));
        return 4;
}

bool utf8_is_valid(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                uint32_t c;
                int k = utf8_decode(p, &c);

                if (k < 0)
                        return false;
                p += k;
        }
        return true;
}
