/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which names FAT32 can hold, as Windows and Linux' vfat_bad_char() see them. */
#include <ctype.h>
#include <strings.h>

#include "fat.h"

/*
 * Decode one UTF-8 code point at s (strict: no overlongs, no surrogates, at most
 * U+10FFFF). Returns its byte length, or -EILSEQ.
 */
static int utf8_decode(const unsigned char *s, uint32_t *ret) {
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

/* Checks one component of len bytes; adds its UTF-16 length to *units. */
static int check_component(const char *name, size_t len, const char *path, size_t *units,
                           struct cart_error *err) {
        const char *what = path ? path : name;
        size_t u = 0;

        if (len == 0)
                return cart_error_set(err, -EINVAL, "\"%s\": empty path component", what);
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
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
