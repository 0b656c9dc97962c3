/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

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
        [CART_REASON_INTERRUPTED]          = "interrupted",
        [CART_REASON_REFLASHED]            = "reflashed",
        [CART_REASON_REPLACED]             = "replaced",
        [CART_REASON_CHECKPOINT_INCOMPLETE] = "checkpoint-incomplete",
        [CART_REASON_FILE_SYMLINK]         = "file-symlink",
        [CART_REASON_FILE_FOREIGN_OWNER]   = "file-foreign-owner",
        [CART_REASON_FILE_WRITABLE_BY_OTHERS] = "file-writable-by-others",
        [CART_REASON_SPOOL_MISMATCH]       = "spool-mismatch",
        [CART_REASON_SWAPPED]              = "swapped",
        [CART_REASON_ERASE_FAILED]         = "erase-failed",
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

/* One printf conversion ("%-8.*s", "%" PRIu64): what it takes and how long it is. */
struct conv {
        size_t len;             /* from '%' through the conversion letter */
        unsigned pos;           /* n of "%n$", 0 without */
        bool star_width, star_prec;
        char length;            /* 'H' hh, 'h', 'l', 'q' ll, 'j', 'z', 't', 'L', 0 */
        char type;
};

/* The conversion at s (a '%' that does not start "%%"); false for one this module does not
 * carry (%n, wide characters, "*m$"). */
static bool parse_conv(const char *s, struct conv *c) {
        const char *p = s + 1;

        *c = (struct conv) {};
        if (*p >= '1' && *p <= '9') {
                const char *q = p;
                unsigned n = 0;
                while (*q >= '0' && *q <= '9' && n < 100)
                        n = n * 10 + (unsigned) (*q++ - '0');
                if (*q == '$') {
                        c->pos = n;
                        p = q + 1;
                }
        }
        p += strspn(p, "-+ #0'I");
        if (*p == '*') {
                c->star_width = true;
                p++;
        } else
                p += strspn(p, "0123456789");
        if (*p == '.') {
                p++;
                if (*p == '*') {
                        c->star_prec = true;
                        p++;
                } else
                        p += strspn(p, "0123456789");
        }
        if ((p[0] == 'h' && p[1] == 'h') || (p[0] == 'l' && p[1] == 'l')) {
                c->length = p[0] == 'h' ? 'H' : 'q';
                p += 2;
        } else if (*p && strchr("hljztLq", *p))
                c->length = *p++;
        if (!*p || !strchr("diouxXcspfFeEgGaA", *p) || ((*p == 'c' || *p == 's') && c->length == 'l'))
                return false;
        c->type = *p++;
        c->len = (size_t) (p - s);
        return true;
}

/* The bounds of the section of W_() words (the linker's; absent when none is used). */
extern const char __start_cart_words[] __attribute__((weak));
extern const char __stop_cart_words[] __attribute__((weak));

static bool is_words(const char *p) {
        return p && __start_cart_words && (uintptr_t) p >= (uintptr_t) __start_cart_words &&
               (uintptr_t) p < (uintptr_t) __stop_cart_words;
}

/* The ring size_arg() writes in: a pointer into it is a size, as one into cart_words is
 * W_() words. */
struct size_slot {
        char text[24];
        uint64_t bytes;
};
static _Thread_local struct size_slot size_ring[CART_SIZE_ARGS];
static _Thread_local unsigned size_next;

const char *size_arg(uint64_t bytes) {
        struct size_slot *s = &size_ring[size_next++ % CART_SIZE_ARGS];

        s->bytes = bytes;
        return format_size(bytes, s->text, sizeof(s->text));
}

static const struct size_slot *size_slot_of(const char *p) {
        uintptr_t a = (uintptr_t) p, start = (uintptr_t) size_ring;

        if (a < start || a >= start + sizeof(size_ring) || (a - start) % sizeof(struct size_slot) != 0)
                return NULL;
        return &size_ring[(a - start) / sizeof(struct size_slot)];
}

/* The text conversion c at s prints for the next argument of ap, appended to args; the
 * argument's bit in words is set for W_() words, in sizes for a size_arg() (its bytes
 * appended after its text). */
static bool render_arg(struct cart_error *err, const char *s, const struct conv *c, va_list *ap, unsigned bit,
                       uint8_t *words, uint8_t *sizes) {
        const struct size_slot *size = NULL;
        char spec[64], *out = err->args + err->args_used;
        size_t room = sizeof(err->args) - err->args_used, n = 0;
        int k;

        /* The conversion with its '*' width and precision taken now, as numbers. */
        for (size_t i = 0; i < c->len && n + 12 < sizeof(spec); i++)
                if (s[i] == '*')
                        n += (size_t) snprintf(spec + n, sizeof(spec) - n, "%d", va_arg(*ap, int));
                else
                        spec[n++] = s[i];
        spec[n] = 0;
        if (n + 12 >= sizeof(spec) || room == 0)
                return false;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        switch (c->type) {
        case 'd': case 'i':
                k = c->length == 'l' ? snprintf(out, room, spec, va_arg(*ap, long)) :
                    c->length == 'q' ? snprintf(out, room, spec, va_arg(*ap, long long)) :
                    c->length == 'j' ? snprintf(out, room, spec, va_arg(*ap, intmax_t)) :
                    c->length == 'z' ? snprintf(out, room, spec, va_arg(*ap, ssize_t)) :
                    c->length == 't' ? snprintf(out, room, spec, va_arg(*ap, ptrdiff_t)) :
                                       snprintf(out, room, spec, va_arg(*ap, int));
                break;
        case 'o': case 'u': case 'x': case 'X':
                k = c->length == 'l' ? snprintf(out, room, spec, va_arg(*ap, unsigned long)) :
                    c->length == 'q' ? snprintf(out, room, spec, va_arg(*ap, unsigned long long)) :
                    c->length == 'j' ? snprintf(out, room, spec, va_arg(*ap, uintmax_t)) :
                    c->length == 'z' ? snprintf(out, room, spec, va_arg(*ap, size_t)) :
                    c->length == 't' ? snprintf(out, room, spec, va_arg(*ap, ptrdiff_t)) :
                                       snprintf(out, room, spec, va_arg(*ap, unsigned));
                break;
        case 'c':
                k = snprintf(out, room, spec, va_arg(*ap, int));
                break;
        case 's': {
                const char *arg = va_arg(*ap, const char *);
                if (is_words(arg))
                        *words |= (uint8_t) (1u << bit);
                size = size_slot_of(arg);
                k = snprintf(out, room, spec, arg);
                break;
        }
        case 'p':
                k = snprintf(out, room, spec, va_arg(*ap, void *));
                break;
        default:
                k = c->length == 'L' ? snprintf(out, room, spec, va_arg(*ap, long double)) :
                                       snprintf(out, room, spec, va_arg(*ap, double));
                break;
        }
#pragma GCC diagnostic pop
        if (k < 0 || (size_t) k >= room)
                return false;
        if (size) {
                int b = snprintf(out + k + 1, room - (size_t) k - 1, "%" PRIu64, size->bytes);

                if (b < 0 || (size_t) b >= room - (size_t) k - 1)
                        return false;
                *sizes |= (uint8_t) (1u << bit);
                k += b + 1;
        }
        err->args_used += (uint16_t) k + 1;
        return true;
}

/* Keep fmt and its arguments as a part of msg or context. A part that does not fit (too
 * many, too long, a conversion not carried) loses them all: cmd/ then shows the English. */
static void record(struct cart_error *err, bool is_context, const char *fmt, va_list ap) {
        struct cart_error_part *p = &err->parts[err->n_parts];
        bool ok = !err->parts_lost && err->n_parts < CART_ERROR_MAX_PARTS;
        uint16_t used = err->args_used;
        va_list aq;

        if (!ok) {
                err->parts_lost = true;
                return;
        }
        *p = (struct cart_error_part) { .fmt = fmt, .arg = used, .is_context = is_context };
        va_copy(aq, ap);
        for (const char *s = fmt; ok && (s = strchr(s, '%')); ) {
                struct conv c;

                if (s[1] == '%') {
                        s += 2;
                        continue;
                }
                ok = parse_conv(s, &c) && !c.pos && p->n_args < CART_ERROR_MAX_ARGS &&
                     render_arg(err, s, &c, &aq, p->n_args, &p->words, &p->sizes);
                p->n_args += ok;
                s += c.len;
        }
        va_end(aq);
        if (ok)
                err->n_parts++;
        else {
                err->args_used = used;
                err->parts_lost = true;
        }
}

static void add_part(struct cart_error *err, bool is_context, const char *fmt, ...) _printf_(3, 4);
static void add_part(struct cart_error *err, bool is_context, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        record(err, is_context, fmt, ap);
        va_end(ap);
}

int cart_error_vset(struct cart_error *err, int r, const char *fmt, va_list ap) {
        if (!err)
                return r;
        clear(err, r);
        record(err, false, fmt, ap);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        return r;
}

int cart_error_set(struct cart_error *err, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        cart_error_vset(err, r, fmt, ap);
        va_end(ap);
        return r;
}

int cart_error_part_format(const struct cart_error *err, const struct cart_error_part *p, const char *fmt,
                           cart_error_words_fn words, char *buf, size_t n) {
        const char *args[CART_ERROR_MAX_ARGS];
        uint64_t bytes[CART_ERROR_MAX_ARGS] = {};
        unsigned argno[CART_ERROR_MAX_ARGS], next = 0, k = 0;
        size_t used = 0;
        struct conv c;

        if (n == 0 || p->n_args > CART_ERROR_MAX_ARGS || p->arg >= sizeof(err->args))
                return -EINVAL;
        /* Each argument, and its number in a "%n$" (a '*' takes a number too). */
        for (const char *s = p->fmt, *a = err->args + p->arg; (s = strchr(s, '%')); s += c.len) {
                if (s[1] == '%') {
                        c.len = 2;
                        continue;
                }
                if (!parse_conv(s, &c) || k >= p->n_args || a >= err->args + sizeof(err->args))
                        return -EINVAL;
                next += c.star_width + c.star_prec;
                argno[k] = ++next;
                args[k] = a;
                a += strnlen(a, (size_t) (err->args + sizeof(err->args) - a)) + 1;
                if (p->sizes & (1u << k)) {         /* its bytes, as render_arg() wrote them */
                        if (a >= err->args + sizeof(err->args))
                                return -EINVAL;
                        bytes[k] = strtoull(a, NULL, 10);
                        a += strnlen(a, (size_t) (err->args + sizeof(err->args) - a)) + 1;
                }
                k++;
        }
        if (k != p->n_args)
                return -EINVAL;
        k = 0;
        for (const char *s = fmt; *s; ) {
                const char *text = s;
                size_t len = 1;
                unsigned i;
                char word[128];

                if (*s == '%' && s[1] == '%')
                        s += 2;
                else if (*s != '%')
                        s++;
                else {
                        if (!parse_conv(s, &c))
                                return -EINVAL;
                        for (i = 0; c.pos && i < p->n_args && argno[i] != c.pos; i++)
                                ;
                        if (!c.pos)
                                i = k++;
                        if (i >= p->n_args)
                                return -EINVAL;
                        text = !words || !args[i][0] ? args[i] :
                               words(args[i], p->sizes & (1u << i) ? CART_ARG_SIZE :
                                              p->words & (1u << i) ? CART_ARG_WORDS : CART_ARG_DATA,
                                     bytes[i], word, sizeof(word));
                        len = strlen(text);
                        s += c.len;
                }
                len = MIN(len, n - 1 - used);
                memcpy(buf + used, text, len);
                used += len;
        }
        buf[used] = 0;
        return k == 0 || k == p->n_args ? 0 : -EINVAL;
}

/* s's offset in fs->text, added when not there yet; 0 for none, -1 when it does not fit. */
static int finding_str(struct cart_findings *fs, const char *s) {
        size_t len = s ? strlen(s) : 0;

        if (len == 0)
                return 0;
        for (size_t off = 1; off < fs->used; off += strlen(fs->text + off) + 1)
                if (streq(fs->text + off, s))
                        return (int) off;
        if (fs->used == 0)
                fs->used = 1;           /* offset 0 is the empty string */
        if (fs->used + len + 1 > sizeof(fs->text))
                return -1;
        memcpy(fs->text + fs->used, s, len + 1);
        fs->used += (uint16_t) (len + 1);
        return fs->used - (int) len - 1;
}

void cart_findings_add(struct cart_findings *fs, unsigned rule, const char *name, const char *via,
                       const char *path, bool is_words, uint64_t value, uint64_t limit) {
        int n = finding_str(fs, name), v = finding_str(fs, via), p = finding_str(fs, path);
        struct cart_finding f = {
                .rule = (uint8_t) rule, .is_words = is_words, .value = value, .limit = limit,
        };

        if (n < 0 || v < 0 || p < 0 || fs->n >= CART_FINDINGS_MAX) {
                fs->lost |= (uint16_t) (1u << rule);
                return;
        }
        f.name = (uint16_t) n;
        f.via = (uint16_t) v;
        f.path = (uint16_t) p;
        for (unsigned i = 0; i < fs->n; i++)
                if (fs->f[i].rule == f.rule && fs->f[i].name == f.name && fs->f[i].via == f.via &&
                    fs->f[i].path == f.path && fs->f[i].value == f.value && fs->f[i].limit == f.limit)
                        return;         /* the same file system bind-mounted twice: named once per target */
        fs->f[fs->n++] = f;
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
        size_t k;

        if (!err)
                return r;
        clear(err, r);
        record(err, false, fmt, ap);
        vsnprintf(text, sizeof(text), fmt, ap);
        if (prefix)
                add_part(err, false, "%s", prefix);
        k = prefix ? (size_t) snprintf(err->msg, sizeof(err->msg), "%s: ", prefix) : 0;
        if (k < sizeof(err->msg))
                snprintf(err->msg + k, sizeof(err->msg) - k, "%s", text);
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
        bool to_context = err && (err->reason != CART_REASON_NONE || !err->msg[0]);
        char prefix[1024];
        va_list ap;

        if (!err)
                return r;
        va_start(ap, fmt);
        record(err, to_context, fmt, ap);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        if (err->errnum == 0)
                err->errnum = r < 0 ? -r : r;
        /* A bare errno or a coded error keeps its arguments; the words are cmd/'s. */
        if (to_context)
                prepend(err->context, sizeof(err->context), prefix);
        else
                prepend(err->msg, sizeof(err->msg), prefix);
        return r;
}
