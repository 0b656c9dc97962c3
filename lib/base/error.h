/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/ never prints and never builds sentences where a person or an audit must tell
 * failures apart: it returns a negative errno and fills a caller-provided struct
 * cart_error with a reason code (enum cart_reason) and its arguments (errno, subject,
 * offset, extent label, policy rules, a pair of numbers or of names). cmd/reason.c turns
 * that into words, in one place (where translation happens); --json and the journal store
 * cart_reason_to_string(), which never changes once released.
 *
 * Free text, in msg: parser diagnostics (recipe and manifest fields, archive entries,
 * signature and key file lines, roster lines, FAT corruption), whose reason is their class
 * (bad-input, corrupt-volume, not-a-key...). lib/ does not translate it: it keeps each
 * part's format (a literal, a msgid xgettext finds through po/xgettext-args) and its
 * arguments as text (a size_arg() with its number of bytes too), and cmd/reason.c puts them
 * into the translated format. A message set
 * with cart_error_set() has no explicit reason; cart_error_reason() then classifies it by
 * its errno.
 *
 * errno conventions shared by every module:
 *
 *   -EBADMSG       malformed input: archive, recipe, manifest, signature file, roster line
 *   -EILSEQ        invalid encoding or a character FAT cannot hold
 *   -ENAMETOOLONG  name or path too long;  -EFBIG  file too large;  -E2BIG  too many entries
 *   -EEXIST        two names collide (or an output file already exists)
 *   -ENOSPC        content larger than the volume or key
 *   -EUCLEAN       on-disk structure corrupt (FAT reader): loops, cross-links, bad geometry
 *   -EMEDIUMTYPE   not a FAT32 volume / not a cartable key
 *   -EKEYREJECTED  signature invalid, wrong passphrase;  -ENOKEY  signer not trusted
 *   -ESTALE        release older than one already flashed (rollback)
 *   -EPERM         target refused by the safety policy (the reason says which rule)
 *   -EBUSY         target in use (O_EXCL or flock refused)
 *   -EIO, -ENODEV  device errors (ENODEV: the key was pulled)
 *   -EBADE         read-back found bytes that differ from what was written
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/util.h"

/* Reason codes. Append only: the strings are stored in journals and scripts read them. */
enum cart_reason {
        CART_REASON_NONE = 0,              /* not classified here: see cart_error_reason() */
        CART_REASON_SYSTEM,                /* system-error: a system call failed (errnum, subject) */
        CART_REASON_INTERNAL,              /* internal-error: out of memory, a library failed */
        CART_REASON_IO_ERROR,              /* io-error: reading or writing a key (offset, label) */
        CART_REASON_KEY_REMOVED,           /* key-removed: the key went away (ENODEV) */
        /* The device policy, one per rule, in the order of enum device_refusal's bits. */
        CART_REASON_POLICY_NOT_USB,        /* policy-not-usb */
        CART_REASON_POLICY_NOT_REMOVABLE,  /* policy-not-removable */
        CART_REASON_POLICY_MOUNTED,        /* policy-mounted */
        CART_REASON_POLICY_SWAP,           /* policy-swap */
        CART_REASON_POLICY_HELD,           /* policy-held */
        CART_REASON_POLICY_SYSTEM,         /* policy-system */
        CART_REASON_POLICY_TOO_SMALL,      /* policy-too-small */
        CART_REASON_POLICY_TOO_LARGE,      /* policy-too-large */
        CART_REASON_POLICY_READ_ONLY,      /* policy-read-only */
        CART_REASON_POLICY_NOT_ALLOWED,    /* policy-not-allowed */
        CART_REASON_POLICY_DENIED,         /* policy-denied */
        CART_REASON_NOT_BLOCK_DEVICE,      /* not-a-block-device: a file, a directory... */
        CART_REASON_NOT_WHOLE_DISK,        /* not-a-whole-disk: a partition, or no such disk */
        CART_REASON_IN_USE,                /* in-use: O_EXCL or flock refused (label: "open", "flock") */
        CART_REASON_IDENTITY_CHANGED,      /* identity-changed: another key, device or size after open */
        CART_REASON_SERIAL_MISMATCH,       /* serial-mismatch: not the serial asked for (have, want) */
        CART_REASON_COUNTERFEIT,           /* counterfeit: fewer real bytes than announced */
        CART_REASON_TOO_SMALL,             /* too-small: the content does not fit (value, limit) */
        CART_REASON_READBACK_MISMATCH,     /* readback-mismatch: other bytes read back (offset, label) */
        CART_REASON_BAD_SIGNATURE,         /* bad-signature: a signature does not match */
        CART_REASON_UNTRUSTED_SIGNER,      /* untrusted-signer: signed by a key not trusted (have) */
        CART_REASON_MALFORMED_SIGNATURE,   /* malformed-signature: a signature file cannot be read */
        CART_REASON_WRONG_PASSPHRASE,      /* wrong-passphrase */
        CART_REASON_ROLLBACK,              /* rollback: release serial value < last flashed limit */
        CART_REASON_BAD_INPUT,             /* bad-input: a malformed input (msg says where) */
        CART_REASON_CORRUPT_VOLUME,        /* corrupt-volume: the FAT reader found damage */
        CART_REASON_NOT_A_KEY,             /* not-a-key: not FAT32, or not a cartable key */
        CART_REASON_OUTPUT_EXISTS,         /* output-exists: never overwritten (subject) */
        CART_REASON_NO_TRUST,              /* no-trust: no trusted key was given */
        CART_REASON_NOT_FOUND,             /* not-found: an input is missing (subject) */
        CART_REASON_CANCELLED,             /* cancelled: stopped on request */
        CART_REASON_TAMPERED,              /* tampered: a release's content is not what it signed */
        CART_REASON_REFUSED,               /* refused: a target refused for a reason without its own code */
        /* What the journal stores beside a key's outcome (stored words, as before they were codes). */
        CART_REASON_INTERRUPTED,           /* interrupted: a key stopped on request, or left started by a gone batch */
        CART_REASON_REFLASHED,             /* reflashed: a returned key, because it was written for someone else */
        CART_REASON_REPLACED,              /* replaced: a pupil's key, because a new one was issued */
        /* Files and journals handed over by another user or station (issue 21). */
        CART_REASON_CHECKPOINT_INCOMPLETE, /* checkpoint-incomplete: a reader kept the write-ahead log (subject) */
        CART_REASON_FILE_SYMLINK,          /* file-symlink: reached through a symbolic link (subject) */
        CART_REASON_FILE_FOREIGN_OWNER,    /* file-foreign-owner: owned by another user (subject, value: uid) */
        CART_REASON_FILE_WRITABLE_BY_OTHERS, /* file-writable-by-others: group or others may write (subject, value: mode) */
        CART_REASON_SPOOL_MISMATCH,        /* spool-mismatch: a spool file is not the end of the start it closes */
        CART_REASON_SWAPPED,               /* swapped: another pupil's key, or two keys in one (label: the kind) */
        CART_REASON_ERASE_FAILED,          /* erase-failed: erasing what a key held failed, or left non-zero bytes (offset) */
        _CART_REASON_MAX,
};

/* The words of msg and context, for cmd/ to translate: each part is a format of lib/ (a
 * string literal, its msgid in po/; lib/ never translates) and its arguments rendered as
 * text when it was set. Parts are kept in the order they were added: the first of msg is
 * its sentence, later ones the prefixes before it, "prefix: sentence". */
#define CART_ERROR_MAX_PARTS 8
#define CART_ERROR_MAX_ARGS 8          /* per part */
struct cart_error_part {
        const char *fmt;            /* static storage: a literal, or N_() words */
        uint16_t arg;               /* its first argument in args, each NUL-terminated */
        uint8_t n_args;
        uint8_t words;              /* bit i: argument i is lib/'s W_() words, not data */
        uint8_t sizes;              /* bit i: argument i is a size_arg(): its number of bytes
                                     * follows its text in args, in decimal */
        bool is_context;            /* a part of context, not of msg */
};

/* What the target policy found on a refused disk, as data that cmd/ words (lib/device fills
 * it; nothing is parsed back from text): one finding per mount, swap, holder, system file
 * system, size or USB id list. Strings are offsets into text, 0 for none (text[0] is NUL). */
#define CART_FINDINGS_MAX 16
struct cart_finding {
        uint8_t rule;               /* the bit number of one enum device_refusal rule */
        bool is_words;              /* path is lib/'s W_() words ("a system file system") */
        uint16_t name;              /* mounted, swap: the member ("sdb1", "dm-0"); held: the
                                     * holder; not allowed, denied: the VID:PID, 0 when none */
        uint16_t via;               /* a holder's partition or disk (mounted, swap, held) */
        uint16_t path;              /* mounted: the mount point; system disk: what it holds */
        uint64_t value, limit;      /* too small, too large: the disk's size and the bound */
};
struct cart_findings {
        struct cart_finding f[CART_FINDINGS_MAX];
        uint8_t n;
        uint16_t lost;              /* rules (bits) with findings that did not fit: "..." */
        uint16_t used;
        char text[768];
};
/* Adds a finding (strings copied, NULL for none); a finding equal to one already there is
 * not added twice. One that does not fit sets its rule's bit in lost. */
void cart_findings_add(struct cart_findings *fs, unsigned rule, const char *name, const char *via,
                       const char *path, bool is_words, uint64_t value, uint64_t limit);
/* A finding's string at offset off: "" for none. */
static inline const char *cart_findings_str(const struct cart_findings *fs, uint16_t off) {
        return off < sizeof(fs->text) ? fs->text + off : "";
}

/* The counterfeit verdicts of the capacity probe, in label: "counterfeit" and the kind. */
struct cart_error {
        enum cart_reason reason;
        int errnum;                 /* the errno behind it (positive), 0 when none */
        char subject[256];          /* the device, file or key it is about */
        char label[256];            /* the extent at offset (a file's path), a verdict kind, a field */
        uint64_t offset;            /* a byte offset, when has_offset */
        bool has_offset;
        unsigned rules;             /* policy refusals: every failing rule (device_refusal bits) */
        struct cart_findings findings;   /* ... and what each found */
        uint64_t value, limit;      /* a number and the bound it broke (sizes, serials) */
        bool has_values;
        char have[128], want[128];  /* what was found and what was expected (serials, key ids) */
        unsigned line;              /* parser diagnostics: the line of subject, 0 when none */
        char context[256];          /* "step: " prefixes added by callers, outermost first */
        char msg[1024];             /* free text: parser diagnostics, legacy messages */
        /* msg and context as formats and arguments (see struct cart_error_part) */
        struct cart_error_part parts[CART_ERROR_MAX_PARTS];
        unsigned n_parts;
        bool parts_lost;            /* a part did not fit: msg and context are shown as they are */
        uint16_t args_used;
        char args[1024];
};

/* Words lib/ hands to cmd/ for translation, without translating them (xgettext finds them). */
#ifndef N_
#define N_(s) s
#endif
/* Words given as a %s argument of a message ("directory", "family name"): W_("words") in
 * an expression, or a table declared _words_ with N_() strings. They live in the section
 * cart_words, by which cart_error_set() & co. tell them from data (a path, a name from a
 * file) and mark them for cmd/ to translate. Prefer a whole sentence per case; W_() is for
 * a noun that names a thing lib/ speaks of. */
#define _words_ __attribute__((section("cart_words"), used))
#define W_(s) __extension__ ({ static const char _words_ w_[] = s; (const char *) w_; })

/* A size given as a %s argument of a message: lib/'s English in msg ("1.5 GiB", as
 * format_size() writes it), and its number of bytes kept in the part, so that cmd/ words it
 * in the locale's form ("1,5 Gio") without reading the English back. The text lives in a
 * small ring per thread: pass it straight to cart_error_set() & co. (at most
 * CART_SIZE_ARGS in one call), never keep it. */
#define CART_SIZE_ARGS 8
const char *size_arg(uint64_t bytes);

/* Set err->msg (when err is not NULL) and return r, which must be a negative errno. The
 * reason is cleared: cart_error_reason() classifies the message by r. */
int cart_error_set(struct cart_error *err, int r, const char *fmt, ...) _printf_(3, 4);
/* The same with a va_list. r may be 0 for words that are not an error (doctor's findings). */
int cart_error_vset(struct cart_error *err, int r, const char *fmt, va_list ap) _printf_(3, 0);
/* Prefix the message with context ("context: old message"). A coded error keeps its
 * arguments and gathers the context apart. Returns r. */
int cart_error_prefix(struct cart_error *err, int r, const char *fmt, ...) _printf_(3, 4);
/* Set a reason with its subject (may be NULL), clearing every other argument; errnum is
 * taken from r. Fill further arguments on err afterwards. Returns r. */
int cart_error_reason_set(struct cart_error *err, int r, enum cart_reason reason, const char *subject);
/* A failed system call on subject: reason system-error (not-found for -ENOENT), errno kept
 * (words come from cmd/). what (may be NULL) says which operation: "flock", "cannot open
 * for writing". */
int cart_error_errno(struct cart_error *err, int r, const char *subject, const char *what);
/* The same where the code returned is not the system call's: r is what the caller reports
 * (a refusal's -EPERM, -EIO for a full file system), errnum the errno whose words cmd/ shows. */
int cart_error_errno_as(struct cart_error *err, int r, int errnum, const char *subject, const char *what);
/* A failure at an offset of a key, in the extent label: reason io-error, key-removed for
 * -ENODEV/-ENOMEDIUM, readback-mismatch for -EBADE. */
int cart_error_io(struct cart_error *err, int r, const char *subject, uint64_t offset, const char *label);

/* Classify the free-text diagnostic already in msg (a parser's): its reason and where it
 * is, for machines (subject: the file, may be NULL; label: the entry, field or path, may
 * be NULL). The words stay those of msg. An error already coded is left alone. Returns r. */
int cart_error_where(struct cart_error *err, int r, enum cart_reason reason, const char *subject,
                     const char *label);

/* A parser's diagnostic in one call: msg = "prefix: " (when prefix is not NULL) and the
 * formatted text, then cart_error_where(). For the small wrappers each parser keeps. */
int cart_error_vdiag(struct cart_error *err, int r, enum cart_reason reason, const char *subject,
                     const char *label, const char *prefix, const char *fmt, va_list ap) _printf_(7, 0);

/* The text of part p of err with fmt, p's own format or a translation of it (same
 * conversions, in any order with %n$): its arguments as they were rendered (with the
 * flags, width and precision of p's format), substituted in order; each through words()
 * when it is not NULL (cmd/: gettext for W_() words, the locale's form for sizes, given
 * their bytes), which may use buf. In buf (truncated to n); 0, or -EINVAL when fmt's
 * conversions do not match. */
enum cart_arg_kind {
        CART_ARG_DATA,              /* a path, a name, a number: shown as it is */
        CART_ARG_WORDS,             /* lib/'s W_() words */
        CART_ARG_SIZE,              /* a size_arg(): bytes holds its number */
};
typedef const char *(*cart_error_words_fn)(const char *arg, enum cart_arg_kind kind, uint64_t bytes, char *buf,
                                           size_t n);
int cart_error_part_format(const struct cart_error *err, const struct cart_error_part *p, const char *fmt,
                           cart_error_words_fn words, char *buf, size_t n);

/* Short text for a record lib/ keeps as a string (a verify result's problem): msg when it
 * has one, else "SUBJECT: REASON-CODE" (no words from the locale); in buf, returned. */
const char *cart_error_detail(const struct cart_error *err, int r, char *buf, size_t n);

/* The reason: the one set, or the class of r (bad-input for -EBADMSG, ...) when none was. */
enum cart_reason cart_error_reason(const struct cart_error *err, int r);
/* True for the device policy's reasons (policy-not-usb ... policy-denied). */
static inline bool cart_reason_is_policy(enum cart_reason reason) {
        return reason >= CART_REASON_POLICY_NOT_USB && reason <= CART_REASON_POLICY_DENIED;
}
/* The stable kebab-case identifier ("policy-mounted", "counterfeit"); NULL when out of range. */
const char *cart_reason_to_string(enum cart_reason reason);
/* The reason for a kebab-case identifier, or -EINVAL. */
int cart_reason_from_string(const char *s);
