/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bytes of a SIECLE export, from the XML file or from the one member of a .zip that is
 * a pupils export, through a guard that keeps libxml2's memory bounded whatever the input.
 *
 * libxml2's reader frees each node once it is read past, but some things it must hold
 * whole: a start tag with all its attributes (and 2.9 checks them for duplicates pairwise),
 * a text node, a comment, and every distinct element or attribute name, interned in its
 * dictionary for the life of the parser (as are whitespace runs of 16 to 59 bytes). A
 * SIECLE export has short tags, short texts and about a hundred names, so the guard refuses,
 * before libxml2 sees them, a tag or processing instruction past ROSTER_XML_MAX_TAG bytes,
 * a text, comment or CDATA run past ROSTER_XML_MAX_RUN bytes, and more than
 * ROSTER_XML_MAX_NAMES distinct names. It also tells whether the bytes are valid UTF-8,
 * for a file whose prolog says ISO-8859-15 though an editor saved it as UTF-8.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <strings.h>

#include "roster/roster-internal.h"

/* A school's export is a few MB (61 MB for 100,000 pupils): past this, a zip bomb. */
#define MAX_XML_SIZE (UINT64_C(1) << 30)
/* What is read of a zip member to find its root element. */
#define ROOT_PEEK 4096

static uint64_t fnv1a(uint64_t h, unsigned char c) {
        return (h ^ c) * UINT64_C(0x100000001b3);
}
#define FNV_START UINT64_C(0xcbf29ce484222325)

/* A distinct name: 0, or -E2BIG past ROSTER_XML_MAX_NAMES. Hashes only: a collision
 * lets one more name through, which the bound does not mind. */
static int guard_name(struct roster_xml_guard *g, uint64_t h) {
        size_t i = (size_t) h & (ROSTER_XML_NAME_SLOTS - 1);

        if (h == 0)
                h = 1;                  /* 0 marks a free slot */
        while (g->names[i] != 0) {
                if (g->names[i] == h)
                        return 0;
                i = (i + 1) & (ROSTER_XML_NAME_SLOTS - 1);
        }
        if (g->n_names >= ROSTER_XML_MAX_NAMES)
                return -E2BIG;
        g->names[i] = h;
        g->n_names++;
        return 0;
}

/* Byte classes, for the guard's inner loop. */
enum { C_SPACE = 1, C_NAME = 2 };
static const uint8_t byte_class[256] = {
        ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\r'] = C_SPACE, [' '] = C_SPACE,
        ['!'] = C_NAME, ['#'] = C_NAME, ['$'] = C_NAME, ['%'] = C_NAME, ['&'] = C_NAME, ['('] = C_NAME,
        [')'] = C_NAME, ['*'] = C_NAME, ['+'] = C_NAME, [','] = C_NAME, ['-'] = C_NAME, ['.'] = C_NAME,
        ['0' ... '9'] = C_NAME, [':'] = C_NAME, [';'] = C_NAME, ['?'] = C_NAME, ['@'] = C_NAME,
        ['A' ... 'Z'] = C_NAME, ['\\'] = C_NAME, ['^'] = C_NAME, ['_'] = C_NAME, ['`'] = C_NAME,
        ['a' ... 'z'] = C_NAME, ['{'] = C_NAME, ['|'] = C_NAME, ['}'] = C_NAME, ['~'] = C_NAME,
        [0x80 ... 0xff] = C_NAME,
};

static bool is_space(unsigned char c) {
        return byte_class[c] & C_SPACE;
}

static bool is_name_char(unsigned char c) {
        return byte_class[c] & C_NAME;
}

static int guard_fail(struct roster_xml_guard *g, enum roster_xml_limit what) {
        g->failed = what;
        g->fail_line = g->line;
        return -EBADMSG;
}

static void guard_to_text(struct roster_xml_guard *g) {
        g->state = GUARD_TEXT;
        g->run = 0;
        g->ws_only = true;
        g->name_hash = FNV_START;
}

/* One byte of a tag's inside (after '<'): quotes, names, the closing '>'. End tags repeat
 * a start tag's name (libxml2 checks that), so only start tags' names are counted. */
static inline int guard_tag(struct roster_xml_guard *g, unsigned char c) {
        if (++g->run > ROSTER_XML_MAX_TAG)
                return guard_fail(g, ROSTER_XML_LONG_TAG);
        if (g->quote) {
                if (c == g->quote)
                        g->quote = 0;
                return 0;
        }
        if (is_name_char(c)) {
                if (g->is_end_tag)
                        return 0;
                if (!g->in_name) {
                        g->in_name = true;
                        g->name_hash = FNV_START;
                        g->name_len = 0;
                }
                if (++g->name_len > ROSTER_XML_MAX_NAME)
                        return guard_fail(g, ROSTER_XML_LONG_NAME);
                g->name_hash = fnv1a(g->name_hash, c);
                return 0;
        }
        if (g->in_name) {
                g->in_name = false;
                if (guard_name(g, g->name_hash) < 0)
                        return guard_fail(g, ROSTER_XML_TOO_MANY_NAMES);
        }
        if (c == '"' || c == '\'')
                g->quote = (char) c;
        else if (c == '>')
                guard_to_text(g);
        return 0;
}

/* Any byte but the common ones of text and tags, which guard_bytes() handles inline. */
static int guard_byte(struct roster_xml_guard *g, unsigned char c) {
        static const char cdata[] = "[CDATA[";

        switch (g->state) {
        case GUARD_TEXT:
                if (c == '<') {
                        /* A whitespace run libxml2 would intern counts as a name. */
                        if (g->ws_only && g->run >= 16 && g->run < 60 && guard_name(g, g->name_hash ^ 1) < 0)
                                return guard_fail(g, ROSTER_XML_TOO_MANY_NAMES);
                        g->state = GUARD_LT;
                        g->run = 0;
                        return 0;
                }
                if (++g->run > ROSTER_XML_MAX_RUN)
                        return guard_fail(g, ROSTER_XML_LONG_TEXT);
                g->ws_only &= is_space(c);
                g->name_hash = fnv1a(g->name_hash, c);
                return 0;
        case GUARD_LT:
                if (c == '!') {
                        g->state = GUARD_BANG;
                        g->bang_len = 0;
                        return 0;
                }
                if (c == '?') {
                        g->state = GUARD_PI;
                        g->run = 0;
                        g->prev = 0;
                        return 0;
                }
                g->state = GUARD_TAG;
                g->quote = 0;
                g->in_name = false;
                g->is_end_tag = c == '/';
                return guard_tag(g, c);
        case GUARD_BANG:
                /* "<!--" a comment, "<![CDATA[" a CDATA section, else a declaration (a
                 * DOCTYPE, which the reader refuses), read as a tag. */
                g->bang[g->bang_len++] = (char) c;
                if (g->bang_len <= 2 && memcmp(g->bang, "--", g->bang_len) == 0) {
                        if (g->bang_len == 2)
                                g->state = GUARD_COMMENT, g->run = 0, g->prev = g->prev2 = 0;
                        return 0;
                }
                if (memcmp(g->bang, cdata, g->bang_len) == 0) {
                        if (g->bang_len == sizeof(cdata) - 1)
                                g->state = GUARD_CDATA, g->run = 0, g->prev = g->prev2 = 0;
                        return 0;
                }
                g->state = GUARD_TAG;
                g->quote = 0;
                g->in_name = false;
                g->is_end_tag = false;
                g->run = g->bang_len;
                return 0;
        case GUARD_TAG:
                return guard_tag(g, c);
        case GUARD_PI:
                if (++g->run > ROSTER_XML_MAX_TAG)
                        return guard_fail(g, ROSTER_XML_LONG_TAG);
                if (g->prev == '?' && c == '>')
                        guard_to_text(g);
                g->prev = c;
                return 0;
        case GUARD_COMMENT:
        case GUARD_CDATA:
                if (++g->run > ROSTER_XML_MAX_RUN)
                        return guard_fail(g, g->state == GUARD_COMMENT ? ROSTER_XML_LONG_COMMENT : ROSTER_XML_LONG_TEXT);
                if (c == '>' && g->prev == g->prev2 && g->prev == (g->state == GUARD_COMMENT ? '-' : ']'))
                        guard_to_text(g);
                g->prev2 = g->prev;
                g->prev = c;
                return 0;
        }
        return 0;
}

/* UTF-8 as RFC 3629 has it: no overlongs, surrogates or code points past U+10FFFF. */
static void utf8_byte(struct roster_utf8_scan *u, unsigned char x) {
        if (u->is_invalid)
                return;
        if (u->need > 0) {
                if (x < u->lo || x > u->hi)
                        u->is_invalid = true;
                u->lo = 0x80, u->hi = 0xbf;
                if (--u->need == 0)
                        u->n_multibyte++;
                return;
        }
        if (x < 0x80)
                return;
        if (x >= 0xc2 && x <= 0xdf)
                u->need = 1;
        else if (x >= 0xe0 && x <= 0xef)
                u->need = 2, u->lo = x == 0xe0 ? 0xa0 : 0x80, u->hi = x == 0xed ? 0x9f : 0xbf;
        else if (x >= 0xf0 && x <= 0xf4)
                u->need = 3, u->lo = x == 0xf0 ? 0x90 : 0x80, u->hi = x == 0xf4 ? 0x8f : 0xbf;
        else
                u->is_invalid = true;
}

bool roster_utf8_scan_is_utf8(const struct roster_utf8_scan *u) {
        return !u->is_invalid && u->need == 0 && u->n_multibyte > 0;
}

static int guard_bytes(struct roster_source *src, const unsigned char *b, size_t n) {
        struct roster_xml_guard *g = &src->guard;
        /* The hot fields in locals, written back around the rare cases. */
        unsigned line = g->line;
        uint32_t run = g->run;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = b[i];

                line += c == '\n';
                if ((c >= 0x80 || src->scan.need > 0) && src->want_scan)
                        utf8_byte(&src->scan, c);
                /* The common cases inline: a value's bytes in text, an end tag's, a name's in a tag. */
                if (g->state == GUARD_TEXT) {
                        if (c != '<' && run < ROSTER_XML_MAX_RUN && !g->ws_only) {
                                run++;
                                continue;
                        }
                } else if (g->state == GUARD_TAG && run < ROSTER_XML_MAX_TAG && !g->quote && is_name_char(c)) {
                        if (g->is_end_tag) {
                                run++;
                                continue;
                        }
                        if (g->in_name && g->name_len < ROSTER_XML_MAX_NAME) {
                                run++;
                                g->name_len++;
                                g->name_hash = fnv1a(g->name_hash, c);
                                continue;
                        }
                }
                g->line = line;
                g->run = run;
                if (guard_byte(g, c) < 0) {
                        src->r = -EBADMSG;
                        return -1;
                }
                run = g->run;
        }
        g->line = line;
        g->run = run;
        return 0;
}

int roster_source_read(void *ctx, char *buf, int len) {
        struct roster_source *src = ctx;
        ssize_t n;

        if (src->a) {
                n = archive_read_data(src->a, buf, (size_t) len);
                if (n < 0) {
                        snprintf(src->msg, sizeof(src->msg), "%s", archive_error_string(src->a) ?: "read error");
                        src->r = -EBADMSG;
                        return -1;
                }
                src->total += (uint64_t) n;
                if (src->total > MAX_XML_SIZE) {
                        src->r = -EFBIG;
                        return -1;
                }
        } else {
                n = read(src->fd, buf, (size_t) len);
                if (n < 0) {
                        src->r = -errno;            /* no msg: cmd/ says the errno's words */
                        return -1;
                }
        }
        if (guard_bytes(src, (const unsigned char *) buf, (size_t) n) < 0)
                return -1;
        return (int) n;
}

void roster_source_close(struct roster_source *src) {
        if (src->a)
                archive_read_free(src->a);
        if (src->fd >= 0)
                close(src->fd);
        src->a = NULL;
        src->fd = -EBADF;
}

static bool has_suffix_xml(const char *name) {
        size_t n = strlen(name);
        return n >= 4 && strcasecmp(name + n - 4, ".xml") == 0;
}

/* macOS's AppleDouble files (__MACOSX/, ._NAME) and other hidden files are not exports. */
static bool is_hidden_member(const char *name) {
        if (strncmp(name, "__MACOSX/", 9) == 0)
                return true;
        for (const char *p = name; p; p = strchr(p, '/')) {
                if (*p == '/')
                        p++;
                if (*p == '.')
                        return true;
        }
        return false;
}

/* The root element's name from the first bytes of an XML document ("" when none is
 * found there): past a BOM, the prolog, comments and a DOCTYPE. */
static void root_name(const char *b, size_t n, char ret[static 64]) {
        size_t i = 0, k = 0;

        ret[0] = 0;
        if (n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
                i = 3;
        while (i < n) {
                if (is_space((unsigned char) b[i])) {
                        i++;
                        continue;
                }
                if (b[i] != '<' || i + 1 >= n)
                        return;
                const char *end = NULL, *close;
                if (b[i + 1] == '?')
                        close = "?>";
                else if (i + 3 < n && memcmp(b + i, "<!--", 4) == 0)
                        close = "-->";
                else if (b[i + 1] == '!')
                        close = ">";
                else
                        break;
                end = memmem(b + i, n - i, close, strlen(close));
                if (!end)
                        return;
                i = (size_t) (end - b) + strlen(close);
        }
        for (i++; i < n && k < 63 && is_name_char((unsigned char) b[i]); i++)
                ret[k++] = b[i];
        ret[k] = 0;
}

static int zip_open(const char *path, struct archive **ret, struct cart_error *err) {
        struct archive *a = archive_read_new();

        if (!a)
                return cart_error_set(err, -ENOMEM, "out of memory");
        /* The seekable reader starts from the central directory at the end: a truncated
         * zip has none and is refused before any member is read. */
        archive_read_support_format_zip_seekable(a);
        if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
                int r = cart_error_set(err, -EBADMSG, "%s: not a readable zip (damaged or truncated?): %s", path,
                                       archive_error_string(a) ?: W_("unknown error"));
                archive_read_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

static void list_add(char *list, size_t size, const char *name, const char *root) {
        size_t n = strlen(list);

        if (n + 8 >= size)
                return;
        snprintf(list + n, size - n, "%s%s%s%s%s", n ? ", " : "", name, *root ? " (<" : "", root, *root ? ">)" : "");
}

int roster_zip_choose(const char *path, int64_t *ret_index, char *ret_name, size_t name_size,
                      struct cart_error *err) {
        _cleanup_free_ char *peek = malloc(ROOT_PEEK);
        struct archive *a = NULL;
        struct archive_entry *e;
        char exports[512] = "", others[512] = "", root[64];
        unsigned n_exports = 0;
        int64_t index = -1, chosen = -1;
        int r;

        if (!peek)
                return cart_error_set(err, -ENOMEM, "out of memory");
        r = zip_open(path, &a, err);
        if (r < 0)
                return r;
        for (;;) {
                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        r = cart_error_set(err, -EBADMSG, "%s: damaged zip: %s", path,
                                           archive_error_string(a) ?: W_("unknown error"));
                        goto out;
                }
                index++;
                const char *name = archive_entry_pathname(e);
                if (archive_entry_filetype(e) != AE_IFREG || !name || is_hidden_member(name) || !has_suffix_xml(name))
                        continue;
                ssize_t n = archive_read_data(a, peek, ROOT_PEEK);
                if (n < 0) {
                        r = cart_error_set(err, -EBADMSG, "%s: damaged zip: %s: %s", path, name,
                                           archive_error_string(a) ?: W_("unknown error"));
                        goto out;
                }
                root_name(peek, (size_t) n, root);
                if (streq(root, "BEE_ELEVES")) {
                        if (n_exports++ == 0) {
                                chosen = index;
                                snprintf(ret_name, name_size, "%s", name);
                        }
                        list_add(exports, sizeof(exports), name, "");
                } else
                        list_add(others, sizeof(others), name, root);
        }
        if (n_exports == 0)
                r = cart_error_set(err, -EBADMSG, "%s: no SIECLE pupils export in the zip (an .xml member whose "
                                   "root element is <BEE_ELEVES>); it holds: %s", path, *others ? others : W_("nothing"));
        else if (n_exports > 1)
                r = cart_error_set(err, -EBADMSG, "%s: %u SIECLE pupils exports in one zip (%s): unzip it and "
                                   "import the one you mean", path, n_exports, exports);
        else {
                *ret_index = chosen;
                r = 0;
        }
out:
        archive_read_free(a);
        return r;
}

int roster_source_open(struct roster_source *src, const char *path, int64_t zip_index, struct cart_error *err) {
        struct archive_entry *e;
        int r;

        *src = (struct roster_source) { .fd = -EBADF, .guard.line = 1, .guard.ws_only = true,
                                        .guard.name_hash = FNV_START, .scan.lo = 0x80, .scan.hi = 0xbf };
        if (zip_index < 0) {
                src->fd = open(path, O_RDONLY | O_CLOEXEC);
                if (src->fd < 0)
                        return cart_error_errno(err, -errno, path, NULL);
                return 0;
        }
        r = zip_open(path, &src->a, err);
        if (r < 0)
                return r;
        for (int64_t i = 0; i <= zip_index; i++) {
                r = archive_read_next_header(src->a, &e);
                if (r < ARCHIVE_WARN || r == ARCHIVE_EOF) {
                        r = cart_error_set(err, -EBADMSG, "%s: damaged zip: %s", path,
                                           archive_error_string(src->a) ?: W_("unknown error"));
                        roster_source_close(src);
                        return r;
                }
        }
        return 0;
}
