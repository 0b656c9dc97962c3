/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SIECLE "Élèves sans adresses" exports (BEE_ELEVES), streamed with libxml2's xmlTextReader,
 * from the XML file or straight from the .zip SIECLE hands out (libarchive).
 *
 *   BEE_ELEVES/PARAMETRES/UAJ, ANNEE_SCOLAIRE               the school's UAI, the year
 *   BEE_ELEVES/DONNEES/ELEVES/ELEVE[@ELEVE_ID]               NOM_DE_FAMILLE (older: NOM),
 *                                                           PRENOM, DATE_SORTIE, ID_NATIONAL (INE)
 *   BEE_ELEVES/DONNEES/STRUCTURES/STRUCTURES_ELEVE[@ELEVE_ID]/STRUCTURE
 *                                                           CODE_STRUCTURE, TYPE_STRUCTURE (D: class)
 *
 * STRUCTURES come after ELEVES, so the join takes two passes: the first keeps only
 * ELEVE_ID -> class (both strings in one buffer, sorted once), the second expands one
 * <ELEVE> at a time, looks its class up and hands the pupil on; it stops at STRUCTURES.
 * Every other element (addresses, birth data, phones...) is read past, never copied.
 * The encoding is the one the prolog declares (ISO-8859-15 usually): libxml2 converts it.
 * No DOCTYPE is accepted (a SIECLE export has none), so no entity is ever expanded.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <libxml/xmlreader.h>
#include <strings.h>

#include "roster/roster-internal.h"

static inline void xml_freep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}

/* A school's export is a few MB (61 MB for 100,000 pupils): past this, a zip bomb. */
#define MAX_XML_SIZE (UINT64_C(1) << 30)

struct source {
        int fd;
        struct archive *a;
        uint64_t total;
        char msg[256];           /* a read error (a truncated zip), for the message */
        int r;
};

struct join_entry {
        uint32_t id, class;      /* offsets into the join buffer */
        uint32_t seq;            /* file order: the first D structure of a pupil wins */
};

struct siecle {
        struct roster_ctx *c;
        struct cart_error *err;
        const char *file_uai;    /* PARAMETRES/UAJ, kept from pass 1 */
        char uaj[64], year[16];
        bool has_uaj;

        char *strings;           /* the join's ids and classes, NUL-terminated */
        size_t strings_len, strings_cap;
        struct join_entry *join;
        size_t n_join, join_cap;

        xmlTextReader *reader;   /* of the pass under way, for the line of errors without one */
        char xml_msg[256];       /* libxml2's first error */
        unsigned xml_line;
        bool xml_encoding_error, has_xml_error;
};

static int source_read(void *ctx, char *buf, int len) {
        struct source *src = ctx;
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
                        snprintf(src->msg, sizeof(src->msg), "the XML inflates past 1 GiB");
                        src->r = -EFBIG;
                        return -1;
                }
                return (int) n;
        }
        n = read(src->fd, buf, (size_t) len);
        if (n < 0) {
                src->r = -errno;            /* no msg: cmd/ says the errno's words */
                return -1;
        }
        return (int) n;
}

static void source_close(struct source *src) {
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

/* The file, or the first .xml entry of the zip, positioned at its first byte. */
static int source_open(struct siecle *s, bool is_zip, struct source *src) {
        struct roster_ctx *c = s->c;
        struct archive_entry *e;
        int r;

        *src = (struct source) { .fd = -EBADF };
        if (!is_zip) {
                src->fd = open(c->path, O_RDONLY | O_CLOEXEC);
                if (src->fd < 0)
                        return cart_error_errno(s->err, -errno, c->path, NULL);
                return 0;
        }
        src->a = archive_read_new();
        if (!src->a)
                return cart_error_set(s->err, -ENOMEM, "out of memory");
        archive_read_support_format_zip(src->a);
        if (archive_read_open_filename(src->a, c->path, 64 * 1024) != ARCHIVE_OK) {
                r = cart_error_set(s->err, -EBADMSG, "%s: not a readable zip: %s", c->path,
                                   archive_error_string(src->a) ?: W_("unknown error"));
                source_close(src);
                return r;
        }
        for (;;) {
                r = archive_read_next_header(src->a, &e);
                if (r == ARCHIVE_EOF) {
                        source_close(src);
                        return cart_error_set(s->err, -EBADMSG, "%s: no .xml file in the zip", c->path);
                }
                if (r < ARCHIVE_WARN) {
                        r = cart_error_set(s->err, -EBADMSG, "%s: damaged zip: %s", c->path,
                                           archive_error_string(src->a) ?: W_("unknown error"));
                        source_close(src);
                        return r;
                }
                const char *name = archive_entry_pathname(e);
                if (archive_entry_filetype(e) == AE_IFREG && name && has_suffix_xml(name))
                        return 0;
        }
}

static void on_xml_error(void *userdata, xmlErrorPtr e) {
        struct siecle *s = userdata;

        if (s->has_xml_error || !e || e->level < XML_ERR_ERROR)
                return;
        s->has_xml_error = true;
        s->xml_line = e->line > 0 ? (unsigned) e->line :
                s->reader ? (unsigned) MAX(xmlTextReaderGetParserLineNumber(s->reader), 1) : 1;
        snprintf(s->xml_msg, sizeof(s->xml_msg), "%s", e->message ?: "malformed XML");
        s->xml_msg[strcspn(s->xml_msg, "\n")] = 0;
        s->xml_encoding_error = e->domain == XML_FROM_I18N ||
                e->code == XML_ERR_INVALID_CHAR || e->code == XML_ERR_INVALID_ENCODING ||
                e->code == XML_ERR_UNSUPPORTED_ENCODING || e->code == XML_ERR_UNKNOWN_ENCODING ||
                e->code == XML_I18N_CONV_FAILED || e->code == XML_IO_ENCODER;
}

static void xml_silent(void *ctx, const char *msg, ...) {
}

/* libxml2 reports some errors (encoding conversion, I/O) through its thread's global
 * handlers, which print to stderr: lib/ never prints, so they are routed to this read's
 * handler for the time of a pass, then put back. */
struct xml_handlers {
        xmlGenericErrorFunc generic;
        void *generic_ctx;
        xmlStructuredErrorFunc structured;
        void *structured_ctx;
};

static struct xml_handlers xml_handlers_push(struct siecle *s) {
        struct xml_handlers old = {
                .generic = xmlGenericError,
                .generic_ctx = xmlGenericErrorContext,
                .structured = xmlStructuredError,
                .structured_ctx = xmlStructuredErrorContext,
        };

        xmlSetGenericErrorFunc(NULL, xml_silent);
        xmlSetStructuredErrorFunc(s, on_xml_error);
        return old;
}

static void xml_handlers_pop(const struct xml_handlers *old) {
        xmlSetGenericErrorFunc(old->generic_ctx, old->generic);
        xmlSetStructuredErrorFunc(old->structured_ctx, old->structured);
}

/* The text directly inside an element, stripped; -E2BIG past size. */
static int text_of(xmlNode *n, char *buf, size_t size) {
        size_t len = 0;

        for (xmlNode *t = n->children; t; t = t->next) {
                if ((t->type != XML_TEXT_NODE && t->type != XML_CDATA_SECTION_NODE) || !t->content)
                        continue;
                size_t l = strlen((const char *) t->content);
                if (len + l >= size)
                        return -E2BIG;
                memcpy(buf + len, t->content, l);
                len += l;
        }
        buf[len] = 0;
        char *t = roster_squash_space(roster_strip(buf));
        memmove(buf, t, strlen(t) + 1);
        return 0;
}

static xmlNode *child(xmlNode *n, const char *name) {
        for (xmlNode *k = n->children; k; k = k->next)
                if (k->type == XML_ELEMENT_NODE && streq((const char *) k->name, name))
                        return k;
        return NULL;
}

/* A child's text into buf ("" when absent); -EBADMSG when too long. */
static int child_text(struct siecle *s, xmlNode *n, const char *name, char *buf, size_t size, unsigned line) {
        xmlNode *k = child(n, name);

        buf[0] = 0;
        if (k && text_of(k, buf, size) < 0)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <%s> longer than %zu bytes", s->c->path,
                                      (unsigned) xmlGetLineNo(k), name, size - 1);
        return 0;
}

static int strings_add(struct siecle *s, const char *str, uint32_t *ret) {
        size_t n = strlen(str) + 1;

        if (s->strings_len + n > UINT32_MAX)
                return -E2BIG;
        if (roster_grow(&s->strings, &s->strings_cap, s->strings_len + n, 1) < 0)
                return -ENOMEM;
        memcpy(s->strings + s->strings_len, str, n);
        *ret = (uint32_t) s->strings_len;
        s->strings_len += n;
        return 0;
}

/* Pass 1: one STRUCTURES_ELEVE, expanded: its division (TYPE_STRUCTURE D), if any. */
static int join_add(struct siecle *s, xmlNode *n) {
        char code[ROSTER_MAX_VALUE + 1], type[16];
        unsigned line = (unsigned) xmlGetLineNo(n);
        _cleanup_(xml_freep) xmlChar *id = xmlGetProp(n, (const xmlChar *) "ELEVE_ID");
        int r;

        if (!id || !*id)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <STRUCTURES_ELEVE> without ELEVE_ID",
                                      s->c->path, line);
        for (xmlNode *k = n->children; k; k = k->next) {
                if (k->type != XML_ELEMENT_NODE || !streq((const char *) k->name, "STRUCTURE"))
                        continue;
                r = child_text(s, k, "TYPE_STRUCTURE", type, sizeof(type), line);
                if (r < 0)
                        return r;
                if (!streq(type, "D"))
                        continue;      /* G: a group, not the class */
                r = child_text(s, k, "CODE_STRUCTURE", code, sizeof(code), line);
                if (r < 0)
                        return r;
                if (roster_grow(&s->join, &s->join_cap, s->n_join + 1, sizeof(*s->join)) < 0)
                        return cart_error_set(s->err, -ENOMEM, "out of memory");
                struct join_entry *e = &s->join[s->n_join];
                if (strings_add(s, (const char *) id, &e->id) < 0 || strings_add(s, code, &e->class) < 0)
                        return cart_error_set(s->err, -ENOMEM, "%s: out of memory for the classes", s->c->path);
                e->seq = (uint32_t) s->n_join++;
        }
        return 0;
}

static int join_cmp(const void *a, const void *b, void *strings) {
        const struct join_entry *x = a, *y = b;
        int c = strcmp((const char *) strings + x->id, (const char *) strings + y->id);

        return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static const char *join_find(struct siecle *s, const char *id) {
        size_t lo = 0, hi = s->n_join;

        /* The first entry whose id is not below id. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(s->strings + s->join[mid].id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < s->n_join && streq(s->strings + s->join[lo].id, id))
                return s->strings + s->join[lo].class;
        return "";
}

/* Pass 2: one ELEVE, expanded. */
static int pupil(struct siecle *s, xmlNode *n) {
        struct roster_ctx *c = s->c;
        char family[ROSTER_MAX_VALUE + 1], first[ROSTER_MAX_VALUE + 1], left[64], ine[64];
        unsigned line = (unsigned) xmlGetLineNo(n);
        _cleanup_(xml_freep) xmlChar *id = xmlGetProp(n, (const xmlChar *) "ELEVE_ID");
        struct roster_pupil p = { .line = line, .school_uai = "" };
        int r;

        if (!id || !*id)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <ELEVE> without ELEVE_ID", c->path, line);
        /* Text past these sizes is damage: say so rather than cut a name. */
        if ((r = child_text(s, n, child(n, "NOM_DE_FAMILLE") ? "NOM_DE_FAMILLE" : "NOM", family, sizeof(family), line)) < 0 ||
            (r = child_text(s, n, "PRENOM", first, sizeof(first), line)) < 0 ||
            (r = child_text(s, n, "DATE_SORTIE", left, sizeof(left), line)) < 0 ||
            (r = child_text(s, n, "ID_NATIONAL", ine, sizeof(ine), line)) < 0)
                return r;
        if (!*family)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <ELEVE ELEVE_ID=\"%.40s\"> has no NOM_DE_FAMILLE",
                                      c->path, line, (const char *) id);
        p.id = (const char *) id;
        p.family_name = family;
        p.first_name = first;
        p.class_name = join_find(s, p.id);
        p.has_left = *left != 0;

        struct { const char *what, *value; } checks[] = {
                { "ELEVE_ID", p.id }, { "NOM_DE_FAMILLE", p.family_name }, { "PRENOM", p.first_name },
                { "CODE_STRUCTURE", p.class_name },
        };
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                r = roster_check_value(c, checks[i].what, checks[i].value, line, s->err);
                if (r < 0)
                        return r;
        }
        return roster_emit(c, &p, ine, s->err);
}

static int xml_failed(struct siecle *s, struct source *src, xmlTextReader *reader) {
        struct roster_ctx *c = s->c;

        if (src->r < 0 && !src->msg[0])
                return cart_error_errno(s->err, src->r, c->path, src->a ? "damaged zip" : NULL);
        if (src->r < 0)
                return cart_error_set(s->err, src->r, "%s: %s%s", c->path, src->a ? W_("damaged zip: ") : "", src->msg);
        if (s->has_xml_error)
                return cart_error_set(s->err, s->xml_encoding_error ? -EILSEQ : -EBADMSG, "%s: line %u: %s",
                                      c->path, s->xml_line, s->xml_msg);
        return cart_error_set(s->err, -EBADMSG, "%s: line %d: malformed XML", c->path,
                              xmlTextReaderGetParserLineNumber(reader));
}

#define MAX_DEPTH 8

/* One pass's reader and where it stands. */
struct pass {
        int n;                   /* 1: classes, 2: pupils */
        struct source src;
        xmlTextReader *reader;
        char stack[MAX_DEPTH][32];   /* element names from the root down */
        bool seen_root, seen_eleves;
};

enum step { STEP_READ, STEP_SKIP, STEP_STOP };

/* The text of <UAJ> or <ANNEE_SCOLAIRE> (pass 1). */
static int parameter(struct siecle *s, struct pass *ps, const char *name, unsigned line) {
        xmlNode *node = xmlTextReaderExpand(ps->reader);
        bool is_uaj = streq(name, "UAJ");

        if (!node)
                return xml_failed(s, &ps->src, ps->reader);
        if (text_of(node, is_uaj ? s->uaj : s->year, is_uaj ? sizeof(s->uaj) : sizeof(s->year)) < 0)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <%s> too long", s->c->path, line, name);
        s->has_uaj |= is_uaj;
        return STEP_SKIP;
}

/* An element start: what to do, as an enum step, or a negative errno. */
static int element(struct siecle *s, struct pass *ps, int depth, const char *name, unsigned line) {
        struct roster_ctx *c = s->c;
        int r;

        if (depth < MAX_DEPTH)
                snprintf(ps->stack[depth], sizeof(ps->stack[depth]), "%s", name);
        if (depth == 0 && !ps->seen_root) {
                ps->seen_root = true;
                if (!streq(name, "BEE_ELEVES"))
                        return cart_error_set(s->err, -EBADMSG,
                                              "%s: line %u: root element <%.40s>, not <BEE_ELEVES>: not a SIECLE pupils export",
                                              c->path, line, name);
                const xmlChar *enc = xmlTextReaderConstEncoding(ps->reader);
                snprintf(c->info.encoding, sizeof(c->info.encoding), "%s", enc ? (const char *) enc : "UTF-8");
        }
        if (ps->n == 1 && depth == 2 && streq(ps->stack[1], "PARAMETRES") &&
            (streq(name, "UAJ") || streq(name, "ANNEE_SCOLAIRE")))
                return parameter(s, ps, name, line);
        if (depth == 2 && streq(ps->stack[1], "DONNEES")) {
                /* Pass 1 reads STRUCTURES only, pass 2 ELEVES only, and stops after them. */
                if (ps->n == 2 && ps->seen_eleves)
                        return STEP_STOP;
                ps->seen_eleves |= streq(name, "ELEVES");
                return streq(name, ps->n == 1 ? "STRUCTURES" : "ELEVES") ? STEP_READ : STEP_SKIP;
        }
        if (depth == 3 && streq(ps->stack[1], "DONNEES") &&
            ((ps->n == 1 && streq(ps->stack[2], "STRUCTURES") && streq(name, "STRUCTURES_ELEVE")) ||
             (ps->n == 2 && streq(ps->stack[2], "ELEVES") && streq(name, "ELEVE")))) {
                xmlNode *node = xmlTextReaderExpand(ps->reader);
                if (!node)
                        return xml_failed(s, &ps->src, ps->reader);
                r = ps->n == 1 ? join_add(s, node) : pupil(s, node);
                return r < 0 ? r : STEP_SKIP;
        }
        return STEP_READ;
}

static int pass_loop(struct siecle *s, struct pass *ps) {
        int k, r;

        for (k = xmlTextReaderRead(ps->reader); k == 1;) {
                int type = xmlTextReaderNodeType(ps->reader), depth = xmlTextReaderDepth(ps->reader);
                xmlNode *cur = xmlTextReaderCurrentNode(ps->reader);
                /* The node's own line: the parser's may be ahead, reading in blocks. */
                long node_line = cur ? xmlGetLineNo(cur) : -1;
                unsigned line = (unsigned) (node_line > 0 ? node_line : xmlTextReaderGetParserLineNumber(ps->reader));

                if (type == XML_READER_TYPE_DOCUMENT_TYPE)
                        return cart_error_set(s->err, -EBADMSG, "%s: line %u: a DOCTYPE: a SIECLE export has none",
                                              s->c->path, line);
                if (type != XML_READER_TYPE_ELEMENT || depth < 0) {
                        k = xmlTextReaderRead(ps->reader);
                        continue;
                }
                r = element(s, ps, depth, (const char *) xmlTextReaderConstName(ps->reader), line);
                if (r < 0)
                        return r;
                if (r == STEP_STOP)
                        return 0;
                k = r == STEP_SKIP ? xmlTextReaderNext(ps->reader) : xmlTextReaderRead(ps->reader);
        }
        if (k < 0 || s->has_xml_error || ps->src.r < 0)
                return xml_failed(s, &ps->src, ps->reader);
        if (!ps->seen_root)
                return cart_error_set(s->err, -EBADMSG, "%s: no XML element: not a SIECLE export", s->c->path);
        return 0;
}

static int pass(struct siecle *s, bool is_zip, int n_pass) {
        struct pass ps = { .n = n_pass };
        int r;

        r = source_open(s, is_zip, &ps.src);
        if (r < 0)
                return r;
        s->has_xml_error = false;
        s->reader = NULL;
        struct xml_handlers old = xml_handlers_push(s);
        ps.reader = xmlReaderForIO(source_read, NULL, &ps.src, s->c->path, NULL,
                                   XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_COMPACT);
        if (ps.reader) {
                xmlTextReaderSetStructuredErrorHandler(ps.reader, on_xml_error, s);
                s->reader = ps.reader;
                r = pass_loop(s, &ps);
                xmlFreeTextReader(ps.reader);
                s->reader = NULL;
        } else
                r = cart_error_set(s->err, -ENOMEM, "%s: cannot start the XML reader", s->c->path);
        xml_handlers_pop(&old);
        source_close(&ps.src);
        return r;
}

int roster_siecle_read(struct roster_ctx *c, bool is_zip, struct cart_error *err) {
        struct siecle s = { .c = c, .err = err };
        int r;

        r = pass(&s, is_zip, 1);
        if (r < 0)
                goto out;
        r = roster_set_school(c, s.has_uaj ? s.uaj : NULL, "<PARAMETRES><UAJ>", err);
        if (r < 0)
                goto out;
        if (!*c->info.school_uai) {
                r = cart_error_set(err, -EBADMSG, "%s: no <PARAMETRES><UAJ>: give the school (--school)", c->path);
                goto out;
        }
        snprintf(c->info.year, sizeof(c->info.year), "%s", s.year);
        if (s.n_join > 0)
                qsort_r(s.join, s.n_join, sizeof(*s.join), join_cmp, s.strings);
        r = pass(&s, is_zip, 2);
out:
        free(s.strings);
        free(s.join);
        return r;
}
