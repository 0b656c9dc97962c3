/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "reason.h"

struct out {
        char *buf;
        size_t n, used;
};

static void put(struct out *o, const char *fmt, ...) _printf_(2, 3);
static void put(struct out *o, const char *fmt, ...) {
        va_list ap;
        int k;

        if (o->used + 1 >= o->n)
                return;
        va_start(ap, fmt);
        k = vsnprintf(o->buf + o->used, o->n - o->used, fmt, ap);
        va_end(ap);
        if (k > 0)
                o->used = MIN(o->used + (size_t) k, o->n - 1);
}

/* The words of each policy rule, in the order of the policy reasons: the names
 * `cartable devices` shows (device_refusal_name()), here to be translated. */
static const char *policy_rule_words(enum cart_reason reason) {
        static const char *const words[] = {
                "not USB", "not removable", "mounted", "swap", "held", "system disk",
                "too small", "too large", "read-only", "not allowed", "denied",
        };
        unsigned i = reason - CART_REASON_POLICY_NOT_USB;
        return i < ELEMENTSOF(words) ? words[i] : "refused";
}

static void put_subject(struct out *o, const struct cart_error *e) {
        if (e->subject[0])
                put(o, "%s: ", e->subject);
}

/* The free text, or the errno's words when there is none. */
static void put_detail(struct out *o, const struct cart_error *e, int errnum) {
        if (e->msg[0])
                put(o, "%s", e->msg);
        else
                put(o, "%s", strerror(errnum));
}

static void put_policy(struct out *o, const struct cart_error *e) {
        put(o, "refused: ");
        if (e->msg[0]) {          /* every failing rule with what it found ("sdb1 on /mnt") */
                put(o, "%s", e->msg);
                return;
        }
        for (unsigned bit = 0, first = 1; bit <= CART_REASON_POLICY_DENIED - CART_REASON_POLICY_NOT_USB; bit++)
                if (e->rules & (1u << bit)) {
                        put(o, "%s%s", first ? "" : "; ", policy_rule_words(CART_REASON_POLICY_NOT_USB + bit));
                        first = 0;
                }
}

static void put_reason(struct out *o, const struct cart_error *e, enum cart_reason reason, int errnum) {
        char a[32], b[32];

        switch (reason) {
        case CART_REASON_SYSTEM:
        case CART_REASON_NOT_FOUND:
                put_subject(o, e);
                if (e->label[0])
                        put(o, "%s: ", e->label);
                if (e->msg[0])
                        put(o, "%s: ", e->msg);
                put(o, "%s", strerror(errnum));
                return;
        case CART_REASON_IO_ERROR:
        case CART_REASON_KEY_REMOVED:
        case CART_REASON_READBACK_MISMATCH:
                if (!e->has_offset)
                        break;
                put_subject(o, e);
                put(o, "at byte %" PRIu64 " (\"%s\"): ", e->offset, e->label);
                if (reason == CART_REASON_READBACK_MISMATCH)
                        put(o, "the key holds other bytes than were written");
                else if (reason == CART_REASON_KEY_REMOVED)
                        put(o, "the key was removed (%s)", strerror(errnum));
                else
                        put(o, "%s", strerror(errnum));
                return;
        case CART_REASON_CANCELLED:
                if (e->msg[0] || !e->label[0])
                        break;
                put(o, "%s: %s", e->label, strerror(errnum));
                return;
        case CART_REASON_NOT_BLOCK_DEVICE:
                put_subject(o, e);
                if (streq(e->label, "regular-file"))
                        put(o, "refused: a regular file, not a block device "
                            "(image files are written by 'cartable flash --image')");
                else
                        put(o, "refused: not a block device");
                return;
        case CART_REASON_NOT_WHOLE_DISK:
                put_subject(o, e);
                put(o, "refused: ");
                put_detail(o, e, errnum);
                return;
        case CART_REASON_IN_USE:
                if (!e->label[0])
                        break;
                put_subject(o, e);
                if (streq(e->label, "flock"))
                        put(o, "refused: locked by another program (flock)");
                else
                        put(o, "refused: in use (mounted, held, or opened exclusively)");
                return;
        case CART_REASON_IDENTITY_CHANGED:
                put_subject(o, e);
                if (streq(e->label, "size"))
                        put(o, "refused: its size changed to %" PRIu64 " bytes while it was opened", e->value);
                else if (streq(e->label, "device"))
                        put(o, "refused: the device changed while it was opened (was %s)", e->want);
                else
                        put(o, "refused: another key (serial %s) replaced %s while it was opened",
                            e->have[0] ? e->have : "(none)", e->want[0] ? e->want : "the one checked");
                return;
        case CART_REASON_SERIAL_MISMATCH:
                put_subject(o, e);
                put(o, "refused: serial %s is not the expected %s", e->have[0] ? e->have : "(none)", e->want);
                return;
        case CART_REASON_COUNTERFEIT:
                put_subject(o, e);
                put(o, "counterfeit key: it announces %s but holds %s (%s, first bad block at byte %" PRIu64 ")",
                    format_size(e->limit, a, sizeof(a)), format_size(e->value, b, sizeof(b)),
                    streq(e->label, "wrap-around") ? "aliased (wrap-around counterfeit)" :
                    streq(e->label, "lossy") ? "data lost past the real size (counterfeit)" : e->label, e->offset);
                return;
        case CART_REASON_TOO_SMALL:
                if (!e->has_values)
                        break;
                put_subject(o, e);
                put(o, "the key holds %s, the release needs at least %s",
                    format_size(e->value, a, sizeof(a)), format_size(e->limit, b, sizeof(b)));
                return;
        case CART_REASON_UNTRUSTED_SIGNER:
                if (!e->have[0])
                        break;
                put_subject(o, e);
                put(o, "signed by key %s, which is not trusted (trusted: %s)", e->have, e->want[0] ? e->want : "none");
                return;
        case CART_REASON_BAD_SIGNATURE:
                if (!e->have[0])
                        break;
                put_subject(o, e);
                if (streq(e->label, "trusted-comment"))
                        put(o, "the trusted comment signature by key %s is invalid: the trusted comment was altered", e->have);
                else
                        put(o, "the signature by key %s does not match the signed data", e->have);
                return;
        case CART_REASON_WRONG_PASSPHRASE:
                if (e->msg[0])          /* "a passphrase is needed" */
                        break;
                put_subject(o, e);
                put(o, "wrong passphrase");
                return;
        case CART_REASON_ROLLBACK:
                if (!e->has_values)
                        break;
                put_subject(o, e);
                put(o, "release %s has serial %" PRIu64 ", older than serial %" PRIu64
                    " already flashed here (--allow-downgrade to force)", e->have, e->value, e->limit);
                return;
        case CART_REASON_NO_TRUST:
                put_subject(o, e);
                put(o, "no trusted key given (--trust): the signature cannot be checked");
                return;
        case CART_REASON_OUTPUT_EXISTS:
                put_subject(o, e);
                put(o, "already exists, not overwritten");
                return;
        default:
                if (cart_reason_is_policy(reason)) {
                        put_subject(o, e);
                        put_policy(o, e);
                        return;
                }
                break;
        }
        /* Parser diagnostics and messages not yet coded: their free text says it all (where
         * they have it, subject, label and line are arguments for machines). */
        if (!e->msg[0])
                put_subject(o, e);
        put_detail(o, e, errnum);
}

const char *error_sentence(const struct cart_error *err, int r, char *buf, size_t n) {
        static const struct cart_error none = {};
        const struct cart_error *e = err ? err : &none;
        int errnum = e->errnum ? e->errnum : (r < 0 ? -r : r);
        struct out o = { .buf = buf, .n = n };

        if (n == 0)
                return buf;
        buf[0] = 0;
        if (e->context[0])
                put(&o, "%s: ", e->context);
        put_reason(&o, e, e->reason, errnum);
        return buf;
}
