/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/error.h"

static const char *const reason_names[_CART_REASON_MAX] = {
        [CART_REASON_NONE]                 = "none",
        [CART_REASON_SYSTEM]               = "system-error",
        [CART_REASON_INTERNAL]             = "internal-error",
        [CART_REASON_IO_ERROR]             = "io-error",
        [CART_REASON_KEY_REMOVED]          = "key-removed",
        [CART_REASON_POLICY_NOT_USB]       = "policy-not-usb",
        [CART_REASON_POLICY_NOT_REMOVABLE] = "policy-not-removable",
        [CART_REASON_POLICY_MOUNTED]       = "policy-mounted",
        [CART_REASON_POLICY_SWAP]          = "policy-swap",
        [CART_REASON_POLICY_HELD]          = "policy-held",
        [CART_REASON_POLICY_SYSTEM]        = "policy-system",
        [CART_REASON_POLICY_TOO_SMALL]     = "policy-too-small",
        [CART_REASON_POLICY_TOO_LARGE]     = "policy-too-large",
        [CART_REASON_POLICY_READ_ONLY]     = "policy-read-only",
        [CART_REASON_POLICY_NOT_ALLOWED]   = "policy-not-allowed",
        [CART_REASON_POLICY_DENIED]        = "policy-denied",
        [CART_REASON_NOT_BLOCK_DEVICE]     = "not-a-block-device",
        [CART_REASON_NOT_WHOLE_DISK]       = "not-a-whole-disk",
        [CART_REASON_IN_USE]               = "in-use",
        [CART_REASON_IDENTITY_CHANGED]     = "identity-changed",
        [CART_REASON_SERIAL_MISMATCH]      = "serial-mismatch",
        [CART_REASON_COUNTERFEIT]          = "counterfeit",
        [CART_REASON_TOO_SMALL]            = "too-small",
        [CART_REASON_READBACK_MISMATCH]    = "readback-mismatch",
        [CART_REASON_BAD_SIGNATURE]        = "bad-signature",
        [CART_REASON_UNTRUSTED_SIGNER]     = "untrusted-signer",
        [CART_REASON_MALFORMED_SIGNATURE]  = "malformed-signature",
        [CART_REASON_WRONG_PASSPHRASE]     = "wrong-passphrase",
        [CART_REASON_ROLLBACK]             = "rollback",
        [CART_REASON_BAD_INPUT]            = "bad-input",
        [CART_REASON_CORRUPT_VOLUME]       = "corrupt-volume",
        [CART_REASON_NOT_A_KEY]            = "not-a-key",
        [CART_REASON_OUTPUT_EXISTS]        = "output-exists",
        [CART_REASON_NO_TRUST]             = "no-trust",
        [CART_REASON_NOT_FOUND]            = "not-found",
        [CART_REASON_CANCELLED]            = "cancelled",
        [CART_REASON_TAMPERED]             = "tampered",
        [CART_REASON_REFUSED]              = "refused",
};

const char *cart_reason_to_string(enum cart_reason reason) {
        if ((unsigned) reason >= _CART_REASON_MAX)
                return NULL;
        return reason_names[reason];
}

int cart_reason_from_string(const char *s) {
        for (unsigned i = 0; s && i < _CART_REASON_MAX; i++)
                if (streq(reason_names[i], s))
                        return (int) i;
        return -EINVAL;
}

/* A message without an explicit reason is classified by the errno conventions of error.h. */
static enum cart_reason reason_of_errno(int e) {
        switch (e) {
        case 0:
                return CART_REASON_NONE;
        case EBADMSG: case EILSEQ: case ENAMETOOLONG: case EFBIG: case E2BIG: case EINVAL: case EEXIST:
                return CART_REASON_BAD_INPUT;
        case EUCLEAN: case ELOOP:
                return CART_REASON_CORRUPT_VOLUME;
        case EMEDIUMTYPE:
                return CART_REASON_NOT_A_KEY;
        case EKEYREJECTED:
                return CART_REASON_BAD_SIGNATURE;
        case ENOKEY:
                return CART_REASON_UNTRUSTED_SIGNER;
        case ESTALE:
                return CART_REASON_ROLLBACK;
        case ENOSPC:
                return CART_REASON_TOO_SMALL;
        case EBUSY:
                return CART_REASON_IN_USE;
        case EPERM: case EROFS:
                return CART_REASON_REFUSED;
        case EIO:
                return CART_REASON_IO_ERROR;
        case ENODEV: case ENOMEDIUM:
                return CART_REASON_KEY_REMOVED;
        case EBADE:
                return CART_REASON_READBACK_MISMATCH;
        case ENOENT:
                return CART_REASON_NOT_FOUND;
        case ECANCELED:
                return CART_REASON_CANCELLED;
        case ENOMEM: case ENOTRECOVERABLE:
                return CART_REASON_INTERNAL;
        default:
                return CART_REASON_SYSTEM;
        }
}

enum cart_reason cart_error_reason(const struct cart_error *err, int r) {
        if (err && err->reason != CART_REASON_NONE)
                return err->reason;
        return reason_of_errno(r < 0 ? -r : r);
}

static void clear(struct cart_error *err, int r) {
        *err = (struct cart_error) { .errnum = r < 0 ? -r : r };
}

int cart_error_set(struct cart_error *err, int r, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return r;
        clear(err, r);
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return r;
}

int cart_error_reason_set(struct cart_error *err, int r, enum cart_reason reason, const char *subject) {
        if (!err)
                return r;
        clear(err, r);
        err->reason = reason;
        if (subject)
                snprintf(err->subject, sizeof(err->subject), "%s", subject);
        return r;
}

int cart_error_errno(struct cart_error *err, int r, const char *subject, const char *what) {
        cart_error_reason_set(err, r, r == -ENOENT ? CART_REASON_NOT_FOUND : CART_REASON_SYSTEM, subject);
        if (err && what)
                snprintf(err->label, sizeof(err->label), "%s", what);
        return r;
}

int cart_error_errno_as(struct cart_error *err, int r, int errnum, const char *subject, const char *what) {
        cart_error_errno(err, r, subject, what);
        if (err)
                err->errnum = errnum;
        return r;
}

int cart_error_io(struct cart_error *err, int r, const char *subject, uint64_t offset, const char *label) {
        enum cart_reason reason = r == -ENODEV || r == -ENOMEDIUM ? CART_REASON_KEY_REMOVED :
                                  r == -EBADE ? CART_REASON_READBACK_MISMATCH : CART_REASON_IO_ERROR;

        cart_error_reason_set(err, r, reason, subject);
        if (!err)
                return r;
        err->offset = offset;
        err->has_offset = true;
        if (label)
                snprintf(err->label, sizeof(err->label), "%s", label);
        return r;
}

int cart_error_where(struct cart_error *err, int r, enum cart_reason reason, const char *subject,
                     const char *label) {
        if (!err || err->reason != CART_REASON_NONE)     /* a coded cause keeps its own words */
                return r;
        err->reason = reason;
        if (err->errnum == 0)
                err->errnum = r < 0 ? -r : r;
        if (subject)
                snprintf(err->subject, sizeof(err->subject), "%s", subject);
        if (label)
                snprintf(err->label, sizeof(err->label), "%s", label);
        return r;
}

int cart_error_vdiag(struct cart_error *err, int r, enum cart_reason reason, const char *subject,
                     const char *label, const char *prefix, const char *fmt, va_list ap) {
        char text[sizeof(err->msg)];

        if (!err)
                return r;
        vsnprintf(text, sizeof(text), fmt, ap);
        if (prefix)
                cart_error_set(err, r, "%s: %s", prefix, text);
        else
                cart_error_set(err, r, "%s", text);
        return cart_error_where(err, r, reason, subject, label);
}

const char *cart_error_detail(const struct cart_error *err, int r, char *buf, size_t n) {
        const char *code = cart_reason_to_string(cart_error_reason(err, r));

        if (err && err->msg[0])
                snprintf(buf, n, "%s%s%s", err->context, err->context[0] ? ": " : "", err->msg);
        else if (err && err->subject[0])
                snprintf(buf, n, "%s: %s", err->subject, code);
        else
                snprintf(buf, n, "%s", code);
        return buf;
}

/* "new: old", as much of old as fits: a cut message still names the context. */
static void prepend(char *buf, size_t size, const char *prefix) {
        char old[1024];
        size_t n, m;

        snprintf(old, sizeof(old), "%s", buf);
        n = MIN(strlen(prefix), size - 1);
        memcpy(buf, prefix, n);
        buf[n] = 0;
        if (!old[0] || n + 3 >= size)
                return;
        memcpy(buf + n, ": ", 2);
        n += 2;
        m = MIN(strlen(old), size - n - 1);
        memcpy(buf + n, old, m);
        buf[n + m] = 0;
}

int cart_error_prefix(struct cart_error *err, int r, const char *fmt, ...) {
        char prefix[1024];
        va_list ap;

        if (!err)
                return r;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        if (err->errnum == 0)
                err->errnum = r < 0 ? -r : r;
        /* A bare errno or a coded error keeps its arguments; the words are cmd/'s. */
        if (err->reason != CART_REASON_NONE || !err->msg[0])
                prepend(err->context, sizeof(err->context), prefix);
        else
                prepend(err->msg, sizeof(err->msg), prefix);
        return r;
}
