/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const void *src, size_t n, char *dst) {
        const uint8_t *s = src;
        size_t i;

        for (i = 0; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
                *dst++ = alphabet[v >> 18];
                *dst++ = alphabet[(v >> 12) & 63];
                *dst++ = alphabet[(v >> 6) & 63];
                *dst++ = alphabet[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0);
                *dst++ = alphabet[v >> 18];
                *dst++ = alphabet[(v >> 12) & 63];
                *dst++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
                *dst++ = '=';
        }
        *dst = 0;
}

static int value_of(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(const char *src, size_t len, void *dst, size_t dst_size) {
        uint8_t *d = dst;
        size_t n = 0;

        if (len % 4 != 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i += 4) {
                bool is_last = i + 4 == len;
                int pad = 0, v[4];

                /* "xx==" and "xxx=" end the text; '=' anywhere else is an error. */
                if (is_last && src[i + 3] == '=')
                        pad = src[i + 2] == '=' ? 2 : 1;
                for (int j = 0; j < 4 - pad; j++) {
                        v[j] = value_of(src[i + j]);
                        if (v[j] < 0)
                                return -EINVAL;
                }
                for (int j = 4 - pad; j < 4; j++)
                        v[j] = 0;
                if ((size_t) (3 - pad) > dst_size - n)
                        return -ENOBUFS;
                uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
                d[n++] = (uint8_t) (w >> 16);
                if (pad < 2)
                        d[n++] = (uint8_t) (w >> 8);
                if (pad < 1)
                        d[n++] = (uint8_t) w;
        }
        return n > INT32_MAX ? -E2BIG : (int) n;
}
