/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which names FAT32 can hold, as Windows and Linux' vfat_bad_char() see them. */
#include <ctype.h>
#include <strings.h>

#include "fat/fat-internal.h"

static bool is_reserved_device(const char *name, size_t len) {
        static const char *const names[] = { "CON", "PRN", "AUX", "NUL" };
        /* Windows reserves the base name whatever the extension: "con.txt" too. */
        const char *dot = memchr(name, '.', len);
        size_t base = dot ? (size_t) (dot - name) : len;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (base == 3 && strncasecmp(name, names[i], 3) == 0)
                        return true;
        if (base == 4 && (strncasecmp(name, "COM", 3) == 0 || strncasecmp(name, "LPT", 3) == 0) &&
            name[3] >= '1' && name[3] <= '9')
                return true;
        return false;
}

bool fat_is_dot_component(const char *name, size_t len) {
        return (len == 1 || len == 2) && name[0] == '.' && name[len - 1] == '.';
}

/* Checks one component of len bytes; adds its UTF-16 length to *units. */
static int check_component(const char *name, size_t len, const char *path, size_t *units,
                           struct cart_error *err) {
        const char *what = path ? path : name;
        size_t u = 0;

        if (len == 0)
                return cart_error_set(err, -EINVAL, "\"%s\": empty path component", what);
        if (fat_is_dot_component(name, len))
                return cart_error_set(err, -EINVAL, "\"%s\": \".\" and \"..\" are not allowed", what);
        for (size_t i = 0; i < len;) {
                uint32_t c;
                int n = utf8_decode((const unsigned char *) name + i, &c);

                if (n < 0 || i + (size_t) n > len)
                        return cart_error_set(err, -EILSEQ, "\"%s\": not valid UTF-8 at byte %zu", what, i);
                if (c < 0x20)
                        return cart_error_set(err, -EILSEQ, "\"%s\": control character 0x%02x is not allowed on FAT", what, c);
                if (c < 0x80 && strchr("\"*/:<>?\\|", (int) c))
                        return cart_error_set(err, -EILSEQ, "\"%s\": character '%c' is not allowed on FAT", what, (char) c);
                u += c >= 0x10000 ? 2 : 1;
                i += (size_t) n;
        }
        if (name[len - 1] == '.' || name[len - 1] == ' ')
                return cart_error_set(err, -EINVAL, "\"%s\": a name cannot end with a dot or a space on FAT", what);
        if (u > FAT_NAME_MAX)
                return cart_error_set(err, -ENAMETOOLONG, "\"%s\": name longer than %d UTF-16 units", what, FAT_NAME_MAX);
        if (is_reserved_device(name, len))
                return cart_error_set(err, -EINVAL, "\"%s\": \"%.*s\" is a reserved device name on Windows", what, (int) len, name);
        if (units)
                *units += u;
        return 0;
}

int fat_check_name(const char *name, struct cart_error *err) {
        if (!name)
                return -EINVAL;
        if (strchr(name, '/'))
                return cart_error_set(err, -EILSEQ, "\"%s\": character '/' is not allowed in a name", name);
        return check_component(name, strlen(name), NULL, NULL, err);
}

int fat_check_path(const char *path, struct cart_error *err) {
        size_t units = 0;
        const char *p;

        if (!path)
                return -EINVAL;
        if (path[0] == '/')
                return cart_error_set(err, -EINVAL, "\"%s\": absolute paths are not allowed", path);
        p = path;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                int r = check_component(p, len, path, &units, err);

                if (r < 0)
                        return r;
                if (!slash)
                        break;
                units++; /* the separator */
                p = slash + 1;
        }
        if (units > FAT_PATH_MAX)
                return cart_error_set(err, -ENAMETOOLONG, "\"%s\": path longer than %d UTF-16 units", path, FAT_PATH_MAX);
        return 0;
}

int fat_check_label(const char *label, struct cart_error *err) {
        size_t len;

        if (!label)
                return -EINVAL;
        len = strlen(label);
        if (len > FAT_LABEL_MAX)
                return cart_error_set(err, -ENAMETOOLONG, "label \"%s\": more than %d characters", label, FAT_LABEL_MAX);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) label[i];
                /* fatgen103 §6.1 short-name characters; lower case is upper-cased when written. */
                if (c < 0x20 || c >= 0x7F || strchr("\"*+,./:;<=>?[\\]|", c))
                        return cart_error_set(err, -EILSEQ, "label \"%s\": character '%c' is not allowed (ASCII letters, digits, space and - _ ! # $ %% & ' ( ) @ ^ ` { } ~)", label, c >= 0x20 && c < 0x7F ? c : '?');
        }
        if (len > 0 && label[len - 1] == ' ')
                return cart_error_set(err, -EINVAL, "label \"%s\": cannot end with a space", label);
        return 0;
}

/* ---- conversions and short names shared by the writer and the reader ---- */

int fat_utf8_to_utf16(const char *s, size_t len, uint16_t *out, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < len;) {
                uint32_t c;
                int k = utf8_decode((const unsigned char *) s + i, &c);

                if (k < 0 || i + (size_t) k > len)
                        return -EILSEQ;
                i += (size_t) k;
                if (c >= 0x10000) {
                        if (n + 2 > max)
                                return -ENAMETOOLONG;
                        c -= 0x10000;
                        out[n++] = (uint16_t) (0xD800 | (c >> 10));
                        out[n++] = (uint16_t) (0xDC00 | (c & 0x3FF));
                } else {
                        if (n + 1 > max)
                                return -ENAMETOOLONG;
                        out[n++] = (uint16_t) c;
                }
        }
        return (int) n;
}

int fat_utf16_to_utf8(const uint16_t *s, size_t n, char **ret) {
        char *out = malloc(n * 3 + 1), *p = out;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                uint32_t c = s[i];

                if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
                        c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
                        i++;
                } else if (c >= 0xD800 && c <= 0xDFFF) {
                        free(out);
                        return -EILSEQ;
                }
                p += utf8_encode(c, p);
        }
        *p = 0;
        *ret = out;
        return 0;
}

int fat_fold(const char *name, char **ret) {
        size_t len = strlen(name);
        /* Upper case stays in the BMP: at most 3 bytes for a 2-byte character. */
        char *out = malloc(len * 2 + 1), *p = out;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len;) {
                uint32_t c;
                int k = utf8_decode((const unsigned char *) name + i, &c);

                if (k < 0 || i + (size_t) k > len) {
                        free(out);
                        return -EILSEQ;
                }
                i += (size_t) k;
                if (c < 0x10000)
                        c = fat_upcase((uint16_t) c);
                p += utf8_encode(c, p);
        }
        *p = 0;
        *ret = out;
        return 0;
}

uint8_t fat_lfn_checksum(const uint8_t name[11]) {
        uint8_t sum = 0;

        for (int i = 0; i < 11; i++)
                sum = (uint8_t) (((sum & 1) << 7) + (sum >> 1) + name[i]);
        return sum;
}

/* fatgen103 §6.1: what a short name may hold besides A-Z and 0-9 (space left out on purpose). */
static bool is_short_char(uint16_t c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c < 0x80 && c && strchr("$%'-_@~`!(){}^#&", (int) c));
}

bool fat_is_exact_short(const uint16_t *name, size_t n, uint8_t out[11]) {
        size_t base = 0, ext = 0;
        bool in_ext = false;
        uint8_t s[11];

        memset(s, ' ', sizeof(s));
        for (size_t i = 0; i < n; i++) {
                if (name[i] == '.' && !in_ext && i > 0) {
                        in_ext = true;
                        continue;
                }
                if (!is_short_char(name[i]))
                        return false;
                if (in_ext) {
                        if (ext == 3)
                                return false;
                        s[8 + ext++] = (uint8_t) name[i];
                } else {
                        if (base == 8)
                                return false;
                        s[base++] = (uint8_t) name[i];
                }
        }
        if (base == 0 || (in_ext && ext == 0))
                return false;
        memcpy(out, s, 11);
        return true;
}

void fat_basis_name(const uint16_t *name, size_t n, uint8_t out[11], bool *is_lossy) {
        size_t start = 0, last_dot = SIZE_MAX, base = 0, ext = 0;
        bool lossy = false;

        memset(out, ' ', 11);
        while (start < n && (name[start] == ' ' || name[start] == '.'))
                start++;
        if (start > 0)
                lossy = true;
        for (size_t i = start; i < n; i++)
                if (name[i] == '.')
                        last_dot = i;
        for (size_t i = start; i < n; i++) {
                uint16_t c = fat_upcase(name[i]);
                bool in_ext = last_dot != SIZE_MAX && i > last_dot;

                if (i == last_dot)
                        continue;
                if (c == ' ' || c == '.') {
                        lossy = true;           /* embedded spaces and dots are dropped */
                        continue;
                }
                if (c >= 0xDC00 && c <= 0xDFFF)
                        continue;               /* second half of a pair: one '_' for both */
                if (!is_short_char(c)) {
                        c = '_';
                        lossy = true;
                }
                if (in_ext) {
                        if (ext < 3)
                                out[8 + ext++] = (uint8_t) c;
                        else
                                lossy = true;
                } else {
                        if (base < 8)
                                out[base++] = (uint8_t) c;
                        else
                                lossy = true;
                }
        }
        if (base == 0) {
                out[0] = '_';
                lossy = true;
        }
        *is_lossy = lossy;
}

void fat_apply_tail(const uint8_t basis[11], uint32_t tail, uint8_t out[11]) {
        char t[12];
        int tl = snprintf(t, sizeof(t), "~%u", tail);
        size_t keep = 0;

        while (keep < 8 && basis[keep] != ' ')
                keep++;
        keep = MIN(keep, (size_t) (8 - tl));
        memset(out, ' ', 8);
        memcpy(out, basis, keep);
        memcpy(out + keep, t, (size_t) tl);
        memcpy(out + 8, basis + 8, 3);
}

unsigned fat_lfn_entries(const uint16_t *name, size_t n) {
        uint8_t s[11];

        if (fat_is_exact_short(name, n, s))
                return 0;
        return (unsigned) DIV_ROUND_UP(n, FAT_LFN_CHARS);
}

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian, any year). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned) (z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

void fat_time_encode(int64_t t, uint16_t *ret_date, uint16_t *ret_time, uint8_t *ret_tenths) {
        const int64_t min = days_from_civil(1980, 1, 1) * 86400;
        const int64_t max = days_from_civil(2107, 12, 31) * 86400 + 86399;
        int64_t days, y;
        unsigned m, d, secs;

        t = t < min ? min : t > max ? max : t;
        days = t / 86400;
        secs = (unsigned) (t % 86400);
        civil_from_days(days, &y, &m, &d);
        *ret_date = (uint16_t) (((y - 1980) << 9) | (m << 5) | d);
        *ret_time = (uint16_t) (((secs / 3600) << 11) | (((secs / 60) % 60) << 5) | ((secs % 60) / 2));
        if (ret_tenths)
                *ret_tenths = (uint8_t) ((secs % 2) * 100);
}

int64_t fat_time_decode(uint16_t date, uint16_t time) {
        unsigned m = (date >> 5) & 0xF, d = date & 0x1F;

        if (m < 1 || m > 12)
                m = 1;
        if (d < 1)
                d = 1;
        return days_from_civil(1980 + (date >> 9), m, d) * 86400 +
               (int64_t) (time >> 11) * 3600 + ((time >> 5) & 0x3F) * 60 + (time & 0x1F) * 2;
}

int64_t fat_time_as_stored(int64_t t) {
        uint16_t date, time;

        fat_time_encode(t, &date, &time, NULL);
        return fat_time_decode(date, time);
}
