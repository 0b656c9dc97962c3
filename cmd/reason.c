/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "device/device.h"
#include "i18n.h"
#include "reason.h"

/* Machine output (--json "error" fields) keeps English whatever the locale: the same
 * sentences, untranslated, with glibc's English errno descriptions. */
static bool untranslated;
#undef _
#define _(s) (untranslated ? (s) : gettext(s))

/* pgettext(): the same English "%s" means a different French sentence per reason code. */
static const char *pgettext_impl(const char *ctx_msgid, const char *msgid) {
        const char *t = gettext(ctx_msgid);
        return t == ctx_msgid ? msgid : t;
}
#define P_(ctx, s) (untranslated ? (s) : pgettext_impl(ctx "\004" s, s))

static const char *errno_words(int errnum) {
        const char *d;

        if (!untranslated)
                return strerror(errnum);
        d = strerrordesc_np(errnum);
        return d ? d : "Unknown error";
}

/* Sizes: the locale's for people, lib/'s "1.5 GiB" for machines. */
static const char *size_words(uint64_t bytes, char *buf, size_t n) {
        return untranslated ? format_size(bytes, buf, n) : human_size(bytes, buf, n);
}

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
 * `cartable devices` shows (device_refusal_name()), translated. */
static const char *policy_rule_words(enum cart_reason reason) {
        /* TRANSLATORS: the rules of the target policy, as `cartable devices` shows them after
         * "refused:": short adjectives or nouns about a disk (French: "pas USB", "monté"...). */
        static const char *const words[] = {
                N_("not USB"), N_("not removable"), N_("mounted"), N_("swap"), N_("held"), N_("system disk"),
                N_("too small"), N_("too large"), N_("read-only"), N_("not allowed"), N_("denied"),
        };
        unsigned i = reason - CART_REASON_POLICY_NOT_USB;
        return i < ELEMENTSOF(words) ? _(words[i]) : _("refused");
}

/* A member of a disk that a finding names: "sdb1", or a holder and what it holds. */
static void put_member(struct out *o, const char *name, const char *via) {
        if (via[0])
                /* TRANSLATORS: a device and the partition or disk it holds ("dm-0 via sdb1"). */
                put(o, _("%s via %s"), name, via);
        else
                put(o, "%s", name);
}

/* One finding of lib/device's policy in words, by its rule. */
static void put_finding(struct out *o, const struct cart_findings *fs, const struct cart_finding *f) {
        const char *name = cart_findings_str(fs, f->name), *via = cart_findings_str(fs, f->via),
                   *path = cart_findings_str(fs, f->path);
        char a[48], b[48];

        switch (1u << f->rule) {
        case DEVICE_REFUSED_MOUNTED: {
                char member[300];
                struct out m = { .buf = member, .n = sizeof(member) };

                member[0] = 0;
                put_member(&m, name, via);
                /* TRANSLATORS: a partition and where it is mounted ("sdb1 on /mnt"). */
                put(o, _("%s on %s"), member, path);
                break;
        }
        case DEVICE_REFUSED_SWAP:
                put_member(o, name, via);
                break;
        case DEVICE_REFUSED_HELD:
                /* TRANSLATORS: a device-mapper or md device holding a partition ("dm-0 holds sdb1"). */
                put(o, _("%s holds %s"), name, via);
                break;
        case DEVICE_REFUSED_SYSTEM:
                /* TRANSLATORS: %s is what the disk holds: "/", "/boot" or the state directory. */
                put(o, _("holds %s"), f->is_words ? _(path) : path);
                break;
        case DEVICE_REFUSED_TOO_SMALL:
        case DEVICE_REFUSED_TOO_LARGE:
                put(o, "%s %c %s", size_words(f->value, a, sizeof(a)),
                    1u << f->rule == DEVICE_REFUSED_TOO_SMALL ? '<' : '>', size_words(f->limit, b, sizeof(b)));
                break;
        case DEVICE_REFUSED_NOT_ALLOWED:
                if (name[0])
                        /* TRANSLATORS: %s is a VID:PID ("0781:5581"). */
                        put(o, _("%s is not on the allow list"), name);
                else
                        /* TRANSLATORS: a disk without USB ids is never on the allow list. */
                        put(o, "%s", _("no VID:PID is not on the allow list"));
                break;
        case DEVICE_REFUSED_DENIED:
                /* TRANSLATORS: %s is a VID:PID ("0781:5581"). */
                put(o, _("%s is on the deny list"), name);
                break;
        default:
                put(o, "%s", name);
                break;
        }
}

/* One failing rule and what it found: "mounted (sdb1 on /mnt, dm-0 via sdb2 on /srv)". */
static void put_rule(struct out *o, unsigned rule, const struct cart_findings *fs) {
        char found[600];
        struct out d = { .buf = found, .n = sizeof(found) };

        found[0] = 0;
        if (1u << rule == DEVICE_REFUSED_READ_ONLY)
                put(&d, "%s", _("write-protected"));
        for (unsigned i = 0; fs && i < MIN(fs->n, (uint8_t) CART_FINDINGS_MAX); i++)
                if (fs->f[i].rule == rule) {
                        if (found[0])
                                put(&d, ", ");
                        put_finding(&d, fs, &fs->f[i]);
                }
        if (fs && fs->lost & (1u << rule))     /* more than lib/ could keep */
                put(&d, "%s...", found[0] ? ", " : "");
        if (found[0])
                /* TRANSLATORS: a policy rule, then what it found ("mounted (sdb1 on /mnt)"). */
                put(o, _("%s (%s)"), policy_rule_words(CART_REASON_POLICY_NOT_USB + rule), found);
        else
                put(o, "%s", policy_rule_words(CART_REASON_POLICY_NOT_USB + rule));
}

const char *policy_words(unsigned rules, const struct cart_findings *fs, char *buf, size_t n) {
        struct out o = { .buf = buf, .n = n };

        if (n == 0)
                return buf;
        buf[0] = 0;
        for (unsigned rule = 0; rule < DEVICE_REFUSAL_MAX; rule++)
                if (rules & (1u << rule)) {
                        if (o.used)
                                put(&o, "%s", untranslated ? "; " : list_separator());
                        put_rule(&o, rule, fs);
                }
        return buf;
}

/* A part of lib/'s words in the person's: its format translated (the catalogue has lib/'s
 * formats, found by xgettext's keywords on cart_error_set() & co.) and filled with the
 * arguments lib/ rendered, its W_() words translated too. */
/* An argument of lib/'s words for people: W_() words translated, sizes (lib/'s numbers)
 * in the locale's form, anything else (paths, names, numbers) as it is. */
static const char *words_of_lib(const char *arg, enum cart_arg_kind kind, uint64_t bytes, char *buf, size_t n) {
        switch (kind) {
        case CART_ARG_WORDS:
                return gettext(arg);
        case CART_ARG_SIZE:
                return human_size(bytes, buf, n);
        case CART_ARG_DATA:
                break;
        }
        return arg;
}

static bool part_words(const struct cart_error *e, const struct cart_error_part *p, char *buf, size_t n) {
        const char *arg = e->args + p->arg;

        /* A part that is only "%s" is data (a path, a name), shown as it is even when it
         * equals a msgid: translated only when lib/ marked it W_() (a flash step's name as
         * a context is: flash_step_to_string()). */
        if (streq(p->fmt, "%s") && p->n_args == 1) {
                snprintf(buf, n, "%s", arg[0] && (p->words & 1) ? gettext(arg) : arg);
                return true;
        }
        return cart_error_part_format(e, p, gettext(p->fmt), words_of_lib, buf, n) == 0 ||
               cart_error_part_format(e, p, p->fmt, words_of_lib, buf, n) == 0;
}

/* lib/'s msg (or context) in the person's words, joined as lib/ joined its parts ("prefix:
 * sentence"); NULL when the parts do not say exactly what the English text says (written
 * by hand, cut, a part lost): the caller then shows the text as lib/ wrote it. */
static const char *parts_text(const struct cart_error *e, bool context, char *buf, size_t n) {
        const char *text = context ? e->context : e->msg;
        char en[1100], piece[1100];
        struct out o_en = { .buf = en, .n = sizeof(en) }, o = { .buf = buf, .n = n };
        bool any = false;

        if (untranslated || e->parts_lost || !text[0] || n == 0)
                return NULL;
        en[0] = buf[0] = 0;
        for (unsigned i = MIN(e->n_parts, (unsigned) CART_ERROR_MAX_PARTS); i-- > 0; ) {
                const struct cart_error_part *p = &e->parts[i];

                if (p->is_context != context)
                        continue;
                if (cart_error_part_format(e, p, p->fmt, NULL, piece, sizeof(piece)) < 0)
                        return NULL;
                put(&o_en, "%s%s", any ? ": " : "", piece);
                if (!part_words(e, p, piece, sizeof(piece)))
                        return NULL;
                put(&o, "%s%s", any ? ": " : "", piece);
                any = true;
        }
        return any && streq(en, text) ? buf : NULL;
}

const char *lib_words(const struct cart_error *e, char *buf, size_t n) {
        const char *t = parts_text(e, false, buf, n);
        return t ? t : e->msg;
}
#define MSG_WORDS(e) lib_words((e), (char[1100]) {}, 1100)

static void put_subject(struct out *o, const struct cart_error *e) {
        if (e->subject[0])
                put(o, "%s: ", e->subject);
}

/* The free text, or the errno's words when there is none. */
static void put_detail(struct out *o, const struct cart_error *e, int errnum) {
        if (e->msg[0])
                put(o, "%s", MSG_WORDS(e));
        else
                put(o, "%s", errno_words(errnum));
}

static void put_policy(struct out *o, const struct cart_error *e) {
        char words[1100];

        /* TRANSLATORS: a refused target's rules follow ("refused: not USB; mounted (sdb1 on /mnt)"). */
        put(o, "%s", _("refused: "));
        /* For machines, lib/device's English as it made it (what the journal keeps); for
         * people, its findings in words. */
        if (!e->rules)
                put(o, "%s", MSG_WORDS(e));
        else if (untranslated && e->msg[0])
                put(o, "%s", e->msg);
        else
                put(o, "%s", policy_words(e->rules, &e->findings, words, sizeof(words)));
}

/* The sentence of each reason code around lib/'s own words (%s): "%s" in English, where
 * lib/'s words say it all. Every code has one: no case may be missing (-Wswitch). */
static const char *reason_sentence(enum cart_reason reason) {
        switch (reason) {
        /* TRANSLATORS: each "%s" with a reason code as context is lib/'s English diagnostic
         * (a file, a line, what is wrong): put the reason's words around it. */
        case CART_REASON_NONE:                 return P_("none", "%s");
        case CART_REASON_SYSTEM:               return P_("system-error", "%s");
        case CART_REASON_INTERNAL:             return P_("internal-error", "%s");
        case CART_REASON_IO_ERROR:             return P_("io-error", "%s");
        case CART_REASON_KEY_REMOVED:          return P_("key-removed", "%s");
        case CART_REASON_POLICY_NOT_USB:       return P_("policy-not-usb", "%s");
        case CART_REASON_POLICY_NOT_REMOVABLE: return P_("policy-not-removable", "%s");
        case CART_REASON_POLICY_MOUNTED:       return P_("policy-mounted", "%s");
        case CART_REASON_POLICY_SWAP:          return P_("policy-swap", "%s");
        case CART_REASON_POLICY_HELD:          return P_("policy-held", "%s");
        case CART_REASON_POLICY_SYSTEM:        return P_("policy-system", "%s");
        case CART_REASON_POLICY_TOO_SMALL:     return P_("policy-too-small", "%s");
        case CART_REASON_POLICY_TOO_LARGE:     return P_("policy-too-large", "%s");
        case CART_REASON_POLICY_READ_ONLY:     return P_("policy-read-only", "%s");
        case CART_REASON_POLICY_NOT_ALLOWED:   return P_("policy-not-allowed", "%s");
        case CART_REASON_POLICY_DENIED:        return P_("policy-denied", "%s");
        case CART_REASON_NOT_BLOCK_DEVICE:     return P_("not-a-block-device", "%s");
        case CART_REASON_NOT_WHOLE_DISK:       return P_("not-a-whole-disk", "%s");
        case CART_REASON_IN_USE:               return P_("in-use", "%s");
        case CART_REASON_IDENTITY_CHANGED:     return P_("identity-changed", "%s");
        case CART_REASON_SERIAL_MISMATCH:      return P_("serial-mismatch", "%s");
        case CART_REASON_COUNTERFEIT:          return P_("counterfeit", "%s");
        case CART_REASON_TOO_SMALL:            return P_("too-small", "%s");
        case CART_REASON_READBACK_MISMATCH:    return P_("readback-mismatch", "%s");
        case CART_REASON_BAD_SIGNATURE:        return P_("bad-signature", "%s");
        case CART_REASON_UNTRUSTED_SIGNER:     return P_("untrusted-signer", "%s");
        case CART_REASON_MALFORMED_SIGNATURE:  return P_("malformed-signature", "%s");
        case CART_REASON_WRONG_PASSPHRASE:     return P_("wrong-passphrase", "%s");
        case CART_REASON_ROLLBACK:             return P_("rollback", "%s");
        case CART_REASON_BAD_INPUT:            return P_("bad-input", "%s");
        case CART_REASON_CORRUPT_VOLUME:       return P_("corrupt-volume", "%s");
        case CART_REASON_NOT_A_KEY:            return P_("not-a-key", "%s");
        case CART_REASON_OUTPUT_EXISTS:        return P_("output-exists", "%s");
        case CART_REASON_NO_TRUST:             return P_("no-trust", "%s");
        case CART_REASON_NOT_FOUND:            return P_("not-found", "%s");
        case CART_REASON_CANCELLED:            return P_("cancelled", "%s");
        case CART_REASON_TAMPERED:             return P_("tampered", "%s");
        case CART_REASON_REFUSED:              return P_("refused", "%s");
        case CART_REASON_INTERRUPTED:          return P_("interrupted", "%s");
        case CART_REASON_REFLASHED:            return P_("reflashed", "%s");
        case CART_REASON_REPLACED:             return P_("replaced", "%s");
        case CART_REASON_CHECKPOINT_INCOMPLETE: return P_("checkpoint-incomplete", "%s");
        case CART_REASON_FILE_SYMLINK:         return P_("file-symlink", "%s");
        case CART_REASON_FILE_FOREIGN_OWNER:   return P_("file-foreign-owner", "%s");
        case CART_REASON_FILE_WRITABLE_BY_OTHERS: return P_("file-writable-by-others", "%s");
        case CART_REASON_SPOOL_MISMATCH:       return P_("spool-mismatch", "%s");
        case CART_REASON_SWAPPED:              return P_("swapped", "%s");
        case CART_REASON_ERASE_FAILED:         return P_("erase-failed", "%s");
        case _CART_REASON_MAX:                 break;
        }
        return "%s";
}

static void put_reason(struct out *o, const struct cart_error *e, enum cart_reason reason, enum cart_reason klass,
                       int errnum) {
        char a[32], b[32];

        switch (reason) {
        case CART_REASON_SYSTEM:
        case CART_REASON_NOT_FOUND: {
                char detail[1100];
                struct out d = { .buf = detail, .n = sizeof(detail) };

                detail[0] = 0;
                put_subject(&d, e);
                if (e->label[0])        /* lib/'s words for the operation (cart_error_errno()'s what) */
                        put(&d, "%s: ", _(e->label));
                if (e->msg[0])
                        put(&d, "%s: ", MSG_WORDS(e));
                put(&d, "%s", errno_words(errnum));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                put(o, reason_sentence(reason), detail);
#pragma GCC diagnostic pop
                return;
        }
        case CART_REASON_IO_ERROR:
        case CART_REASON_KEY_REMOVED:
        case CART_REASON_READBACK_MISMATCH:
                if (!e->has_offset)
                        break;
                put_subject(o, e);
                put(o, _("at byte %" PRIu64 " (\"%s\"): "), e->offset, e->label);
                if (reason == CART_REASON_READBACK_MISMATCH)
                        put(o, _("the key holds other bytes than were written"));
                else if (reason == CART_REASON_KEY_REMOVED)
                        put(o, _("the key was removed (%s)"), errno_words(errnum));
                else
                        put(o, "%s", errno_words(errnum));
                return;
        case CART_REASON_ERASE_FAILED:
                if (!e->has_offset)
                        break;
                put_subject(o, e);
                put(o, _("erase failed at byte %" PRIu64 ": "), e->offset);
                if (errnum == EBADE)
                        put(o, _("the erased area does not read back as zeros; the key is not issued"));
                else
                        put(o, _("%s; the key is not issued"), errno_words(errnum));
                return;
        case CART_REASON_CANCELLED:
                if (e->msg[0] || !e->label[0])
                        break;
                put(o, "%s: %s", e->label, errno_words(errnum));
                return;
        case CART_REASON_NOT_BLOCK_DEVICE:
                put_subject(o, e);
                if (streq(e->label, "regular-file"))
                        put(o, _("refused: a regular file, not a block device "
                            "(image files are written by 'cartable flash --image')"));
                else
                        put(o, _("refused: not a block device"));
                return;
        case CART_REASON_NOT_WHOLE_DISK:
                put_subject(o, e);
                put(o, _("refused: "));
                put_detail(o, e, errnum);
                return;
        case CART_REASON_IN_USE:
                if (!e->label[0])
                        break;
                put_subject(o, e);
                if (streq(e->label, "flock"))
                        put(o, _("refused: locked by another program (flock)"));
                else
                        put(o, _("refused: in use (mounted, held, or opened exclusively)"));
                return;
        case CART_REASON_IDENTITY_CHANGED:
                put_subject(o, e);
                if (streq(e->label, "size"))
                        put(o, _("refused: its size changed to %" PRIu64 " bytes while it was opened"), e->value);
                else if (streq(e->label, "device"))
                        put(o, _("refused: the device changed while it was opened (was %s)"), e->want);
                else
                        put(o, _("refused: another key (serial %s) replaced %s while it was opened"),
                            e->have[0] ? e->have : _("(none)"), e->want[0] ? e->want : _("the one checked"));
                return;
        case CART_REASON_SERIAL_MISMATCH:
                put_subject(o, e);
                put(o, _("refused: serial %s is not the expected %s"), e->have[0] ? e->have : _("(none)"), e->want);
                return;
        case CART_REASON_COUNTERFEIT:
                put_subject(o, e);
                put(o, _("counterfeit key: it announces %s but holds %s (%s, first bad block at byte %" PRIu64 ")"),
                    size_words(e->limit, a, sizeof(a)), size_words(e->value, b, sizeof(b)),
                    streq(e->label, "wrap-around") ? _("aliased (wrap-around counterfeit)") :
                    streq(e->label, "lossy") ? _("data lost past the real size (counterfeit)") : e->label, e->offset);
                return;
        case CART_REASON_TOO_SMALL:
                if (!e->has_values)
                        break;
                put_subject(o, e);
                put(o, _("the key holds %s, the release needs at least %s"),
                    size_words(e->value, a, sizeof(a)), size_words(e->limit, b, sizeof(b)));
                return;
        case CART_REASON_UNTRUSTED_SIGNER:
                if (!e->have[0])
                        break;
                put_subject(o, e);
                put(o, _("signed by key %s, which is not trusted (trusted: %s)"), e->have, e->want[0] ? e->want : _("none"));
                return;
        case CART_REASON_BAD_SIGNATURE:
                if (!e->have[0])
                        break;
                put_subject(o, e);
                if (streq(e->label, "trusted-comment"))
                        put(o, _("the trusted comment signature by key %s is invalid: the trusted comment was altered"), e->have);
                else
                        put(o, _("the signature by key %s does not match the signed data"), e->have);
                return;
        case CART_REASON_WRONG_PASSPHRASE:
                if (e->msg[0])          /* "a passphrase is needed" */
                        break;
                put_subject(o, e);
                put(o, _("wrong passphrase"));
                return;
        case CART_REASON_ROLLBACK:
                if (!e->has_values)
                        break;
                put_subject(o, e);
                put(o, _("release %s has serial %" PRIu64 ", older than serial %" PRIu64
                    " already flashed here (--allow-downgrade to force)"), e->have, e->value, e->limit);
                return;
        case CART_REASON_NO_TRUST:
                put_subject(o, e);
                put(o, _("no trusted key given (--trust): the signature cannot be checked"));
                return;
        case CART_REASON_OUTPUT_EXISTS:
                put_subject(o, e);
                put(o, _("already exists, not overwritten"));
                return;
        case CART_REASON_CHECKPOINT_INCOMPLETE:
                put_subject(o, e);
                put(o, _("another program holds the journal open in a transaction: %" PRIu64 " pages of its "
                         "write-ahead log (the file ending in -wal) still hold what was erased; close it and run "
                         "the purge again"), e->value);
                return;
        case CART_REASON_SPOOL_MISMATCH:
                put_subject(o, e);
                put(o, _("refused: its end names pupil %s, but the start it would close was for %s"), e->have,
                    e->want);
                return;
        case CART_REASON_FILE_SYMLINK:
                put_subject(o, e);
                put(o, _("refused: reached through a symbolic link"));
                return;
        case CART_REASON_FILE_FOREIGN_OWNER:
                put_subject(o, e);
                put(o, _("refused: owned by another user (uid %" PRIu64 ")"), e->value);
                return;
        case CART_REASON_FILE_WRITABLE_BY_OTHERS:
                put_subject(o, e);
                put(o, _("refused: other users may write it (mode %04" PRIo64 ")"), e->value);
                return;
        default:
                if (cart_reason_is_policy(reason)) {
                        put_subject(o, e);
                        put_policy(o, e);
                        return;
                }
                break;
        }
        /* Parser diagnostics and messages not yet coded: their free text says where (subject,
         * label and line are arguments for machines); in English it is the whole sentence, a
         * translation puts the reason's words around it (the detail stays lib/'s). */
        char detail[1100];
        struct out d = { .buf = detail, .n = sizeof(detail) };

        detail[0] = 0;
        if (!e->msg[0])
                put_subject(&d, e);
        put_detail(&d, e, errnum);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        put(o, reason_sentence(klass), detail);   /* one %s: msgfmt --check holds translations to it */
#pragma GCC diagnostic pop
}

const char *error_sentence(const struct cart_error *err, int r, char *buf, size_t n) {
        static const struct cart_error none = {};
        const struct cart_error *e = err ? err : &none;
        int errnum = e->errnum ? e->errnum : (r < 0 ? -r : r);
        struct out o = { .buf = buf, .n = n };

        if (n == 0)
                return buf;
        buf[0] = 0;
        if (e->context[0]) {
                char words[1100];
                const char *context = parts_text(e, true, words, sizeof(words));

                /* Its parts in words; the text as lib/ wrote it when they were lost. */
                put(&o, "%s: ", context ? context : e->context);
        }
        put_reason(&o, e, e->reason, cart_error_reason(err, r), errnum);
        return buf;
}

const char *error_sentence_untranslated(const struct cart_error *err, int r, char *buf, size_t n) {
        untranslated = true;
        error_sentence(err, r, buf, n);
        untranslated = false;
        return buf;
}
