/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <string.h>

#include "base/error.h"

int cart_error_set(struct cart_error *err, int r, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return r;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return r;
}

int cart_error_prefix(struct cart_error *err, int r, const char *fmt, ...) {
        char old[sizeof(err->msg)];
        size_t n;
        va_list ap;

        if (!err)
                return r;
        snprintf(old, sizeof(old), "%s", err->msg[0] ? err->msg : strerror(-r));
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        n = strlen(err->msg);
        /* Keep as much of the old message as fits; a cut message still names the context. */
        if (n + 3 < sizeof(err->msg)) {
                memcpy(err->msg + n, ": ", 2);
                n += 2;
                size_t m = MIN(strlen(old), sizeof(err->msg) - n - 1);
                memcpy(err->msg + n, old, m);
                err->msg[n + m] = 0;
        }
        return r;
}

const char *cart_error_message(const struct cart_error *err, int r) {
        if (err && err->msg[0])
                return err->msg;
        return strerror(r < 0 ? -r : r);
}
