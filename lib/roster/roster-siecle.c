/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SIECLE "Élèves sans adresses" exports (BEE_ELEVES), streamed with libxml2's xmlTextReader,
 * from the XML file or from the zip SIECLE hands out (roster-source.c picks the member).
 *
 *   BEE_ELEVES/PARAMETRES/UAJ, ANNEE_SCOLAIRE,              the school's UAI, the year,
 *                         DATE_EXPORT, HORODATAGE           when the file was written
 *   BEE_ELEVES/DONNEES/ELEVES/ELEVE[@ELEVE_ID]               NOM_DE_FAMILLE (older: NOM),
 *                                                           PRENOM, DATE_SORTIE, ID_NATIONAL (INE)
 *   BEE_ELEVES/DONNEES/STRUCTURES/STRUCTURES_ELEVE[@ELEVE_ID]/STRUCTURE
 *                                                           CODE_STRUCTURE, TYPE_STRUCTURE (D: class)
 *
 * STRUCTURES come after ELEVES, so the join takes two passes: the first keeps only
 * ELEVE_ID -> class (ids in one buffer, classes interned, sorted once), the second reads the
 * pupils and looks each one's class up; it stops at STRUCTURES. No element is ever expanded
 * into a tree: each pass walks the reader node by node and copies only the few texts it
 * wants, into fixed buffers, so one <ELEVE> with millions of children costs time, not
 * memory. What memory there is: the join (at most MAX_JOIN structures, MAX_JOIN_IDS bytes of
 * ids, MAX_CLASSES classes) and libxml2's reader, which the guard of roster-source.c bounds.
 *
 * The encoding is the one the prolog declares (ISO-8859-15 usually): libxml2 converts it.
 * A file whose prolog names a single-byte Latin encoding but whose bytes are UTF-8 (saved
 * again by an editor) is read as UTF-8, and info.declared_encoding says so. No DOCTYPE is
 * accepted (a SIECLE export has none), so no entity is ever expanded.
 */
#include <ctype.h>
#include <libxml/xmlreader.h>

#include "roster/roster-internal.h"

/* SIECLE's pseudo-division of the pupils in no class (GEPI and Pix do not take it as one). */
#define INACTIFS "Inactifs"

/* The join's bounds: a school has a few thousand pupils, the largest export seen 100,000. */
#define MAX_JOIN 500000                        /* structures kept (16 bytes each) */
#define MAX_JOIN_IDS (8 * 1024 * 1024)         /* bytes of ELEVE_IDs */
#define MAX_CLASSES 4096                       /* distinct divisions */
#define CLASS_SLOTS 8192
#define CLASS_NONE UINT32_MAX                  /* a STRUCTURES_ELEVE without a division */
#define CLASS_INACTIVE (UINT32_MAX - 1)        /* its division is "Inactifs" */

struct join_entry {
        uint32_t id;             /* offset into ids */
        uint32_t class;          /* index into class_offs, or CLASS_NONE, CLASS_INACTIVE */
        uint32_t block;          /* the STRUCTURES_ELEVE's number, in file order */
        uint32_t seq;            /* the entry's number, in file order */
};

/* One field wanted from an element's children: its text, first occurrence only. */
struct field {
        const char *name;
        char *buf;
        size_t size;
        bool is_present;
        unsigned line;
};

/* The element being read whole (PARAMETRES, an ELEVE, a STRUCTURES_ELEVE) and the texts
 * of its children at field_depth. */
struct record {
        int depth, field_depth;
        unsigned line;
        xmlChar *id;
        struct field *fields;
        size_t n_fields;
        ssize_t cur;             /* the field whose text is being read, or -1 */
        size_t cur_len;
        bool in_structure;       /* STRUCTURES_ELEVE: inside a STRUCTURE */
        bool has_division;       /* this block gave a D */
};

struct siecle {
        struct roster_ctx *c;
        struct cart_error *err;
        int64_t zip_index;       /* the member of the zip, or -1 */
        bool force_utf8;         /* the prolog says Latin, the bytes are UTF-8 */
        char uaj[64], year[16], date_export[32], horodatage[32];
        bool has_uaj;

        char *ids;               /* the join's ELEVE_IDs, NUL-terminated */
        size_t ids_len, ids_cap;
        struct join_entry *join;
        size_t n_join, join_cap;
        uint32_t n_blocks;
        char *classes;           /* distinct divisions, NUL-terminated */
        size_t classes_len, classes_cap;
        uint32_t *class_offs;
        size_t n_classes, class_offs_cap;
        uint32_t class_slots[CLASS_SLOTS];     /* index + 1, 0 free */

        xmlTextReader *reader;   /* of the pass under way, for the line of errors without one */
        char xml_msg[256];       /* libxml2's first error */
        unsigned xml_line;
        bool xml_encoding_error, has_xml_error;
};

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

/* ---- The join ---- */

static int join_fail(struct siecle *s, unsigned line, const char *what, size_t limit) {
        return cart_error_set(s->err, -E2BIG, "%s: line %u: more than %zu %s: not one school's export",
                              s->c->path, line, limit, what);
}

static int intern_class(struct siecle *s, const char *code, unsigned line, uint32_t *ret) {
        uint64_t h = 0xcbf29ce484222325ULL;
        size_t n = strlen(code) + 1, i;

        for (const char *p = code; *p; p++)
                h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
        for (i = (size_t) h & (CLASS_SLOTS - 1); s->class_slots[i]; i = (i + 1) & (CLASS_SLOTS - 1)) {
                uint32_t k = s->class_slots[i] - 1;
                if (streq(s->classes + s->class_offs[k], code)) {
                        *ret = k;
                        return 0;
                }
        }
        if (s->n_classes >= MAX_CLASSES)
                return join_fail(s, line, W_("divisions"), MAX_CLASSES);
        if (roster_grow(&s->classes, &s->classes_cap, s->classes_len + n, 1) < 0 ||
            roster_grow(&s->class_offs, &s->class_offs_cap, s->n_classes + 1, sizeof(uint32_t)) < 0)
                return cart_error_set(s->err, -ENOMEM, "out of memory");
        memcpy(s->classes + s->classes_len, code, n);
        s->class_offs[s->n_classes] = (uint32_t) s->classes_len;
        s->classes_len += n;
        s->class_slots[i] = (uint32_t) ++s->n_classes;
        *ret = (uint32_t) (s->n_classes - 1);
        return 0;
}

/* One entry of the current block (rec->id): class is an index, CLASS_NONE or CLASS_INACTIVE.
 * The block's id is stored once, by its first entry. */
static int join_add(struct siecle *s, struct record *rec, uint32_t class) {
        struct join_entry *e;

        if (s->n_join >= MAX_JOIN)
                return join_fail(s, rec->line, W_("structures"), MAX_JOIN);
        if (roster_grow(&s->join, &s->join_cap, s->n_join + 1, sizeof(*s->join)) < 0)
                return cart_error_set(s->err, -ENOMEM, "out of memory");
        e = &s->join[s->n_join];
        if (s->n_join > 0 && e[-1].block == s->n_blocks)
                e->id = e[-1].id;
        else {
                size_t n = strlen((const char *) rec->id) + 1;
                if (s->ids_len + n > MAX_JOIN_IDS)
                        return join_fail(s, rec->line, W_("bytes of ELEVE_ID"), MAX_JOIN_IDS);
                if (roster_grow(&s->ids, &s->ids_cap, s->ids_len + n, 1) < 0)
                        return cart_error_set(s->err, -ENOMEM, "out of memory");
                memcpy(s->ids + s->ids_len, rec->id, n);
                e->id = (uint32_t) s->ids_len;
                s->ids_len += n;
        }
        e->class = class;
        e->block = s->n_blocks;
        e->seq = (uint32_t) s->n_join++;
        return 0;
}

static int join_cmp(const void *a, const void *b, void *ids) {
        const struct join_entry *x = a, *y = b;
        int c = strcmp((const char *) ids + x->id, (const char *) ids + y->id);

        return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* What the structures say of pupil id: its class, other class, whether inactive, anomalies. */
static void join_find(struct siecle *s, const char *id, struct roster_pupil *p) {
        size_t lo = 0, hi = s->n_join;
        uint32_t first_block = 0, first = CLASS_NONE, other = CLASS_NONE;
        bool is_inactive = false;

        p->class_name = "";
        p->other_class = "";
        /* The first entry whose id is not below id. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(s->ids + s->join[mid].id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < s->n_join && streq(s->ids + s->join[i].id, id); i++) {
                const struct join_entry *e = &s->join[i];

                if (i == lo)
                        first_block = e->block;
                else if (e->block != first_block)
                        p->anomalies |= ROSTER_ANOMALY_STRUCTURES;
                if (e->class == CLASS_INACTIVE)
                        is_inactive = true;
                else if (e->class == CLASS_NONE)
                        continue;
                else if (first == CLASS_NONE)
                        first = e->class;
                else if (e->class != first && other == CLASS_NONE)
                        other = e->class;
        }
        if (first != CLASS_NONE)
                p->class_name = s->classes + s->class_offs[first];
        else
                p->is_inactive = is_inactive;
        if (other != CLASS_NONE) {
                p->anomalies |= ROSTER_ANOMALY_CLASSES;
                p->other_class = s->classes + s->class_offs[other];
        }
}

/* ---- Records: an element's wanted children, read as the reader streams them ---- */

static void record_start(struct record *rec, int depth, int field_depth, unsigned line, struct field *fields,
                         size_t n_fields) {
        *rec = (struct record) { .depth = depth, .field_depth = field_depth, .line = line, .fields = fields,
                                 .n_fields = n_fields, .cur = -1 };
        for (size_t i = 0; i < n_fields; i++) {
                fields[i].is_present = false;
                fields[i].buf[0] = 0;
        }
}

/* A new STRUCTURE of the same STRUCTURES_ELEVE: its fields start again. */
static void record_fields_reset(struct record *rec) {
        rec->cur = -1;
        for (size_t i = 0; i < rec->n_fields; i++) {
                rec->fields[i].is_present = false;
                rec->fields[i].buf[0] = 0;
        }
}

static void record_clear(struct record *rec) {
        if (rec->id)
                xmlFree(rec->id);
        rec->id = NULL;
        rec->depth = 0;
}

static const char *field_text(const struct record *rec, const char *name) {
        for (size_t i = 0; i < rec->n_fields; i++)
                if (streq(rec->fields[i].name, name))
                        return rec->fields[i].buf;
        return "";
}

static bool field_present(const struct record *rec, const char *name) {
        for (size_t i = 0; i < rec->n_fields; i++)
                if (streq(rec->fields[i].name, name))
                        return rec->fields[i].is_present;
        return false;
}

/* A child element at field_depth: start reading its text if it is wanted and not read yet. */
static void record_element(struct record *rec, const char *name, bool is_empty, unsigned line) {
        for (size_t i = 0; i < rec->n_fields; i++) {
                struct field *f = &rec->fields[i];
                if (!streq(f->name, name) || f->is_present)
                        continue;
                f->is_present = true;
                f->line = line;
                if (!is_empty) {
                        rec->cur = (ssize_t) i;
                        rec->cur_len = 0;
                }
                return;
        }
}

/* Text directly inside the field being read; -EBADMSG past its size (damage: say so
 * rather than cut a name). */
static int record_text(struct siecle *s, struct record *rec, const char *text) {
        struct field *f = &rec->fields[rec->cur];
        size_t n = strlen(text);

        if (rec->cur_len + n >= f->size)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <%s> longer than %zu bytes", s->c->path,
                                      f->line, f->name, f->size - 1);
        memcpy(f->buf + rec->cur_len, text, n + 1);
        rec->cur_len += n;
        return 0;
}

static void record_field_end(struct record *rec) {
        struct field *f = &rec->fields[rec->cur];
        char *t = roster_squash_space(roster_strip(f->buf));

        memmove(f->buf, t, strlen(t) + 1);
        rec->cur = -1;
}

/* ---- What each record means ---- */

/* DD/MM/YYYY[ HH:MM:SS] into "YYYY-MM-DD HH:MM:SS". */
static int export_time(const char *s, char ret[static 24]) {
        char date[11];
        unsigned h = 0, m = 0, sec = 0;
        int n = 0;

        if (strlen(s) < 10)
                return -EBADMSG;
        memcpy(date, s, 10);
        date[10] = 0;
        if (roster_date_normalise(date, date) < 0)
                return -EBADMSG;
        if (s[10] && (sscanf(s + 10, " %2u:%2u:%2u%n", &h, &m, &sec, &n) != 3 || s[10 + n] || h > 23 || m > 59 || sec > 60))
                return -EBADMSG;
        snprintf(ret, 24, "%.10s %02u:%02u:%02u", date, h % 100, m % 100, sec % 100);
        return 0;
}

static int parameters_done(struct siecle *s, struct record *rec) {
        struct roster_info *info = &s->c->info;
        const char *exported = *s->horodatage ? s->horodatage : s->date_export;

        s->has_uaj = field_present(rec, "UAJ");
        if (*s->year && (strlen(s->year) != 4 || strspn(s->year, "0123456789") != 4))
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <ANNEE_SCOLAIRE> \"%.20s\" is not a year",
                                      s->c->path, rec->line, s->year);
        if (*exported && export_time(exported, info->exported) < 0)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <%s> \"%.30s\" is not a date (DD/MM/YYYY HH:MM:SS)",
                                      s->c->path, rec->line, *s->horodatage ? "HORODATAGE" : "DATE_EXPORT", exported);
        return 0;
}

/* The end of a STRUCTURE: its division, if it is one (G: a group, not the class). */
static int structure_done(struct siecle *s, struct record *rec) {
        const char *code = field_text(rec, "CODE_STRUCTURE");
        uint32_t class = CLASS_NONE;
        int r;

        rec->in_structure = false;
        if (!streq(field_text(rec, "TYPE_STRUCTURE"), "D"))
                return 0;
        if (streq(code, INACTIFS))
                class = CLASS_INACTIVE;
        else {
                r = roster_check_value(s->c, "CODE_STRUCTURE", code, rec->line, s->err);
                if (r < 0)
                        return r;
                r = intern_class(s, code, rec->line, &class);
                if (r < 0)
                        return r;
        }
        rec->has_division = true;
        return join_add(s, rec, class);
}

static int structures_eleve_done(struct siecle *s, struct record *rec) {
        int r = 0;

        if (!rec->has_division)
                r = join_add(s, rec, CLASS_NONE);     /* the block still counts: two blocks are an anomaly */
        s->n_blocks++;
        return r;
}

static int pupil_done(struct siecle *s, struct record *rec) {
        struct roster_ctx *c = s->c;
        const char *id = (const char *) rec->id, *family;
        struct roster_pupil p = { .line = rec->line, .school_uai = "" };
        char leave[11];
        int r;

        family = field_present(rec, "NOM_DE_FAMILLE") ? field_text(rec, "NOM_DE_FAMILLE") : field_text(rec, "NOM");
        if (!*family)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: <ELEVE ELEVE_ID=\"%.40s\"> has no NOM_DE_FAMILLE",
                                      c->path, rec->line, id);
        p.id = id;
        p.family_name = family;
        p.first_name = field_text(rec, "PRENOM");
        join_find(s, id, &p);
        r = roster_leave_date(c, field_text(rec, "DATE_SORTIE"), false, "DATE_SORTIE", rec->line, &p, leave, s->err);
        if (r < 0)
                return r;
        p.has_left |= p.is_inactive;

        struct { const char *what, *value; } checks[] = {
                { "ELEVE_ID", p.id }, { "NOM_DE_FAMILLE", p.family_name }, { "PRENOM", p.first_name },
        };
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                r = roster_check_value(c, checks[i].what, checks[i].value, rec->line, s->err);
                if (r < 0)
                        return r;
        }
        return roster_emit(c, &p, field_text(rec, "ID_NATIONAL"), s->err);
}

/* ---- The passes ---- */

static int xml_failed(struct siecle *s, struct roster_source *src, xmlTextReader *reader) {
        struct roster_ctx *c = s->c;
        const struct roster_xml_guard *g = &src->guard;

        switch (g->failed) {
        case ROSTER_XML_OK:
                break;
        case ROSTER_XML_LONG_TAG:
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: a tag longer than %d bytes: not a SIECLE export",
                                      c->path, g->fail_line, ROSTER_XML_MAX_TAG);
        case ROSTER_XML_LONG_TEXT:
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: a text longer than %d bytes: not a SIECLE export",
                                      c->path, g->fail_line, ROSTER_XML_MAX_RUN);
        case ROSTER_XML_LONG_COMMENT:
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: a comment longer than %d bytes: not a SIECLE export",
                                      c->path, g->fail_line, ROSTER_XML_MAX_RUN);
        case ROSTER_XML_LONG_NAME:
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: a name longer than %d bytes: not a SIECLE export",
                                      c->path, g->fail_line, ROSTER_XML_MAX_NAME);
        case ROSTER_XML_TOO_MANY_NAMES:
                return cart_error_set(s->err, -EBADMSG,
                                      "%s: line %u: more than %d distinct element and attribute names: not a SIECLE export",
                                      c->path, g->fail_line, ROSTER_XML_MAX_NAMES);
        }
        if (src->r == -EFBIG)
                return cart_error_set(s->err, -EFBIG, "%s: damaged zip: the XML inflates past 1 GiB", c->path);
        if (src->r < 0 && !src->msg[0])
                return cart_error_errno(s->err, src->r, c->path, src->a ? "damaged zip" : NULL);
        if (src->r < 0)
                return cart_error_set(s->err, src->r, "%s: damaged zip: %s", c->path, src->msg);
        if (s->has_xml_error && s->xml_encoding_error)
                return cart_error_set(s->err, -EILSEQ, "%s: line %u: %s (the bytes are not in the encoding the XML "
                                      "prolog declares: export the file from SIECLE again)", c->path, s->xml_line, s->xml_msg);
        if (s->has_xml_error)
                return cart_error_set(s->err, -EBADMSG, "%s: line %u: %s", c->path, s->xml_line, s->xml_msg);
        return cart_error_set(s->err, -EBADMSG, "%s: line %d: malformed XML", c->path,
                              xmlTextReaderGetParserLineNumber(reader));
}

#define MAX_DEPTH 8

/* One pass's reader and where it stands. */
struct pass {
        int n;                   /* 1: parameters and classes, 2: pupils */
        struct roster_source src;
        xmlTextReader *reader;
        char stack[MAX_DEPTH][32];   /* element names from the root down */
        bool seen_root, seen_eleves;
        struct record rec;
        enum { REC_NONE, REC_PARAMETERS, REC_STRUCTURES, REC_ELEVE } kind;
        char f_family[ROSTER_MAX_VALUE + 1], f_nom[ROSTER_MAX_VALUE + 1], f_first[ROSTER_MAX_VALUE + 1];
        char f_left[64], f_ine[64], f_code[ROSTER_MAX_VALUE + 1], f_type[16];
        struct field fields[5];
};

enum step { STEP_READ, STEP_SKIP, STEP_STOP };

static void pass_record(struct siecle *s, struct pass *ps, int kind, int depth, unsigned line) {
        size_t n = 0;

        switch (kind) {
        case REC_PARAMETERS:
                ps->fields[n++] = (struct field) { "UAJ", s->uaj, sizeof(s->uaj) };
                ps->fields[n++] = (struct field) { "ANNEE_SCOLAIRE", s->year, sizeof(s->year) };
                ps->fields[n++] = (struct field) { "DATE_EXPORT", s->date_export, sizeof(s->date_export) };
                ps->fields[n++] = (struct field) { "HORODATAGE", s->horodatage, sizeof(s->horodatage) };
                break;
        case REC_STRUCTURES:
                ps->fields[n++] = (struct field) { "CODE_STRUCTURE", ps->f_code, sizeof(ps->f_code) };
                ps->fields[n++] = (struct field) { "TYPE_STRUCTURE", ps->f_type, sizeof(ps->f_type) };
                break;
        case REC_ELEVE:
                ps->fields[n++] = (struct field) { "NOM_DE_FAMILLE", ps->f_family, sizeof(ps->f_family) };
                ps->fields[n++] = (struct field) { "NOM", ps->f_nom, sizeof(ps->f_nom) };
                ps->fields[n++] = (struct field) { "PRENOM", ps->f_first, sizeof(ps->f_first) };
                ps->fields[n++] = (struct field) { "DATE_SORTIE", ps->f_left, sizeof(ps->f_left) };
                ps->fields[n++] = (struct field) { "ID_NATIONAL", ps->f_ine, sizeof(ps->f_ine) };
                break;
        }
        ps->kind = kind;
        record_start(&ps->rec, depth, kind == REC_PARAMETERS ? 2 : kind == REC_STRUCTURES ? 5 : 4, line, ps->fields, n);
}

/* The end of the record under way. */
static int pass_record_done(struct siecle *s, struct pass *ps) {
        int r;

        switch (ps->kind) {
        case REC_PARAMETERS:
                r = parameters_done(s, &ps->rec);
                break;
        case REC_STRUCTURES:
                r = structures_eleve_done(s, &ps->rec);
                break;
        case REC_ELEVE:
                r = pupil_done(s, &ps->rec);
                break;
        default:
                r = 0;
        }
        record_clear(&ps->rec);
        ps->kind = REC_NONE;
        return r;
}

/* A node inside the record under way. */
static int pass_in_record(struct siecle *s, struct pass *ps, int type, int depth, unsigned line) {
        struct record *rec = &ps->rec;
        xmlTextReader *reader = ps->reader;

        if (type == XML_READER_TYPE_ELEMENT) {
                const char *name = (const char *) xmlTextReaderConstName(reader);
                bool is_empty = xmlTextReaderIsEmptyElement(reader) == 1;

                if (ps->kind == REC_STRUCTURES && depth == 4) {
                        if (!streq(name, "STRUCTURE"))
                                return 0;
                        record_fields_reset(rec);
                        rec->in_structure = true;
                        return is_empty ? structure_done(s, rec) : 0;
                }
                if (depth == rec->field_depth && rec->cur < 0 && (ps->kind != REC_STRUCTURES || rec->in_structure))
                        record_element(rec, name, is_empty, line);
                return 0;
        }
        if (type == XML_READER_TYPE_END_ELEMENT) {
                if (rec->cur >= 0 && depth == rec->field_depth)
                        record_field_end(rec);
                else if (ps->kind == REC_STRUCTURES && depth == 4 && rec->in_structure)
                        return structure_done(s, rec);
                return 0;
        }
        if (rec->cur >= 0 && depth == rec->field_depth + 1 &&
            (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
             type == XML_READER_TYPE_WHITESPACE || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE))
                return record_text(s, rec, (const char *) xmlTextReaderConstValue(reader) ?: "");
        return 0;
}

/* An element start outside a record: what to do, as an enum step, or a negative errno. */
static int element(struct siecle *s, struct pass *ps, int depth, const char *name, unsigned line) {
        struct roster_ctx *c = s->c;
        bool is_empty = xmlTextReaderIsEmptyElement(ps->reader) == 1;
        int kind = REC_NONE;

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
        if (depth == 1 && streq(name, "PARAMETRES"))
                kind = ps->n == 1 ? REC_PARAMETERS : REC_NONE;
        else if (depth == 2 && streq(ps->stack[1], "DONNEES")) {
                /* Pass 1 reads STRUCTURES only, pass 2 ELEVES only, and stops after them. */
                if (ps->n == 2 && ps->seen_eleves)
                        return STEP_STOP;
                ps->seen_eleves |= streq(name, "ELEVES");
                return streq(name, ps->n == 1 ? "STRUCTURES" : "ELEVES") ? STEP_READ : STEP_SKIP;
        } else if (depth == 3 && streq(ps->stack[1], "DONNEES")) {
                if (ps->n == 1 && streq(ps->stack[2], "STRUCTURES") && streq(name, "STRUCTURES_ELEVE"))
                        kind = REC_STRUCTURES;
                else if (ps->n == 2 && streq(ps->stack[2], "ELEVES") && streq(name, "ELEVE"))
                        kind = REC_ELEVE;
                else
                        return STEP_SKIP;
        }
        if (depth == 1 && !streq(name, "DONNEES") && kind == REC_NONE)
                return STEP_SKIP;
        if (kind == REC_NONE)
                return STEP_READ;

        pass_record(s, ps, kind, depth, line);
        if (kind != REC_PARAMETERS) {
                ps->rec.id = xmlTextReaderGetAttribute(ps->reader, (const xmlChar *) "ELEVE_ID");
                if (!ps->rec.id || !*ps->rec.id) {
                        record_clear(&ps->rec);
                        return cart_error_set(s->err, -EBADMSG, "%s: line %u: <%s> without ELEVE_ID", c->path, line, name);
                }
        }
        if (is_empty) {
                int r = pass_record_done(s, ps);
                return r < 0 ? r : STEP_READ;
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
                if (ps->kind != REC_NONE) {
                        if (type == XML_READER_TYPE_END_ELEMENT && depth == ps->rec.depth)
                                r = pass_record_done(s, ps);
                        else
                                r = pass_in_record(s, ps, type, depth, line);
                        if (r < 0)
                                return r;
                        k = xmlTextReaderRead(ps->reader);
                        continue;
                }
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

/* An encoding whose every byte is a character: UTF-8 bytes read through it make mojibake. */
static bool is_single_byte_latin(const char *enc) {
        static const char *const names[] = { "ISO885915", "ISO88591", "LATIN1", "LATIN9", "L1", "L9",
                                             "WINDOWS1252", "CP1252", "ISOLATIN1" };
        char folded[32];
        size_t k = 0;

        for (const char *p = enc; *p && k < sizeof(folded) - 1; p++)
                if (isalnum((unsigned char) *p))
                        folded[k++] = (char) toupper((unsigned char) *p);
        folded[k] = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(folded, names[i]))
                        return true;
        return false;
}

static int pass(struct siecle *s, int n_pass, struct roster_utf8_scan *ret_scan) {
        struct pass ps = { .n = n_pass };
        int r;

        r = roster_source_open(&ps.src, s->c->path, s->zip_index, s->err);
        if (r < 0)
                return r;
        ps.src.want_scan = ret_scan != NULL;
        s->has_xml_error = false;
        s->reader = NULL;
        struct xml_handlers old = xml_handlers_push(s);
        ps.reader = xmlReaderForIO(roster_source_read, NULL, &ps.src, s->c->path, s->force_utf8 ? "UTF-8" : NULL,
                                   XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_COMPACT |
                                   (s->force_utf8 ? XML_PARSE_IGNORE_ENC : 0));
        if (ps.reader) {
                xmlTextReaderSetStructuredErrorHandler(ps.reader, on_xml_error, s);
                s->reader = ps.reader;
                r = pass_loop(s, &ps);
                xmlFreeTextReader(ps.reader);
                s->reader = NULL;
        } else
                r = cart_error_set(s->err, -ENOMEM, "%s: cannot start the XML reader", s->c->path);
        record_clear(&ps.rec);
        xml_handlers_pop(&old);
        if (ret_scan)
                *ret_scan = ps.src.scan;
        roster_source_close(&ps.src);
        return r;
}

static void join_reset(struct siecle *s) {
        s->n_join = s->ids_len = s->classes_len = s->n_classes = 0;
        s->n_blocks = 0;
        memset(s->class_slots, 0, sizeof(s->class_slots));
}

int roster_siecle_read(struct roster_ctx *c, bool is_zip, struct cart_error *err) {
        struct siecle *s;
        struct roster_utf8_scan scan;
        int r;

        /* On the heap: the class table is 32 KiB. */
        s = calloc(1, sizeof(*s));
        if (!s)
                return cart_error_set(err, -ENOMEM, "out of memory");
        *s = (struct siecle) { .c = c, .err = err, .zip_index = -1 };
        c->info.id_scheme = ROSTER_IDS_SIECLE;
        if (is_zip) {
                r = roster_zip_choose(c->path, &s->zip_index, c->info.zip_member, sizeof(c->info.zip_member), err);
                if (r < 0)
                        goto out;
        }
        r = pass(s, 1, &scan);
        if (r < 0)
                goto out;
        /* Declared ISO-8859-15 (or another single-byte Latin encoding), written in UTF-8:
         * read again as what it is, and say so. Latin text is never valid UTF-8 by chance
         * (an accented letter is followed by an ASCII one). */
        if (is_single_byte_latin(c->info.encoding) && roster_utf8_scan_is_utf8(&scan)) {
                snprintf(c->info.declared_encoding, sizeof(c->info.declared_encoding), "%s", c->info.encoding);
                s->force_utf8 = true;
                join_reset(s);
                r = pass(s, 1, NULL);
                if (r < 0)
                        goto out;
                snprintf(c->info.encoding, sizeof(c->info.encoding), "UTF-8");
        }
        r = roster_set_school(c, s->has_uaj ? s->uaj : NULL, "<PARAMETRES><UAJ>", err);
        if (r < 0)
                goto out;
        if (!*c->info.school_uai) {
                r = cart_error_set(err, -EBADMSG, "%s: no <PARAMETRES><UAJ>: give the school (--school)", c->path);
                goto out;
        }
        snprintf(c->info.year, sizeof(c->info.year), "%s", s->year);
        if (s->n_join > 0)
                qsort_r(s->join, s->n_join, sizeof(*s->join), join_cmp, s->ids);
        r = pass(s, 2, NULL);
out:
        free(s->ids);
        free(s->join);
        free(s->classes);
        free(s->class_offs);
        free(s);
        return r;
}
