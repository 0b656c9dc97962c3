/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CSV rosters through libcsv (RFC 4180 quoting, separators and newlines inside quotes),
 * read twice: a first pass decides the encoding from the bytes (a UTF-8 BOM or valid UTF-8
 * is UTF-8; otherwise ISO-8859-15 when one of the eight bytes where it differs from
 * ISO-8859-1 appears, else ISO-8859-1; C1 controls or NUL are an unknown encoding), the
 * second feeds libcsv one physical line at a time, so each record knows its line number.
 */
#include <csv.h>
#include <fcntl.h>

#include "roster/roster-internal.h"

#define CHUNK (64 * 1024)

enum role {
        ROLE_ID, ROLE_FAMILY, ROLE_FIRST, ROLE_NAMES, ROLE_CLASS, ROLE_UAI, ROLE_INE, ROLE_BIRTH, ROLE_LEFT,
        _ROLE_MAX
};

/*
 * Every header name read, after roster_fold() (no accents, case, spaces or punctuation:
 * "Né(e) le" is "neele"), with the field it gives and where it is written that way.
 * cartable-roster(1) lists this table: add a name to both. rank: when two columns give
 * one field, the lower rank wins (ONDE's "Libellé classe" over its "Identifiant classe");
 * two columns of the same rank are refused.
 */
static const struct {
        const char *name;
        enum role role;
        uint8_t rank;
} header_names[] = {
        /* Generic names, and ENTs' exports (Open ENT NG, spreadsheets). */
        { "id", ROLE_ID, 0 }, { "identifiant", ROLE_ID, 0 }, { "ideleve", ROLE_ID, 0 },
        { "identifianteleve", ROLE_ID, 0 }, { "eleveid", ROLE_ID, 0 }, { "numeleve", ROLE_ID, 0 },
        { "numeroeleve", ROLE_ID, 0 },
        { "nom", ROLE_FAMILY, 0 }, { "nomdefamille", ROLE_FAMILY, 0 }, { "nomfamille", ROLE_FAMILY, 0 },
        { "nomdeleleve", ROLE_FAMILY, 0 },
        { "prenom", ROLE_FIRST, 0 }, { "prenom1", ROLE_FIRST, 0 }, { "prenomdeleleve", ROLE_FIRST, 0 },
        { "premierprenom", ROLE_FIRST, 0 },
        { "classe", ROLE_CLASS, 0 }, { "division", ROLE_CLASS, 0 }, { "classes", ROLE_CLASS, 0 },
        { "div", ROLE_CLASS, 0 },
        { "uai", ROLE_UAI, 0 }, { "rne", ROLE_UAI, 0 }, { "uaj", ROLE_UAI, 0 }, { "codeuai", ROLE_UAI, 0 },
        { "uaietablissement", ROLE_UAI, 0 },
        { "ine", ROLE_INE, 0 }, { "idnational", ROLE_INE, 0 }, { "numeroine", ROLE_INE, 0 },
        { "identifiantnational", ROLE_INE, 0 },
        { "datedenaissance", ROLE_BIRTH, 0 }, { "datenaissance", ROLE_BIRTH, 0 }, { "naissance", ROLE_BIRTH, 0 },
        { "nele", ROLE_BIRTH, 0 }, { "datenaiss", ROLE_BIRTH, 0 },
        { "datedesortie", ROLE_LEFT, 0 }, { "datesortie", ROLE_LEFT, 0 }, { "sortie", ROLE_LEFT, 0 },
        /* Pronote's lists of pupils: "Élèves" (or "Élève") holds "NOM Prénom"; "Né(e) le". */
        { "eleves", ROLE_NAMES, 0 }, { "eleve", ROLE_NAMES, 0 }, { "neele", ROLE_BIRTH, 0 },
        /* ONDE (primary schools): "Nom élève", "Prénom élève", "Libellé classe", "Identifiant
         * classe", "Date naissance" (YYYY-MM-DD). */
        { "nomeleve", ROLE_FAMILY, 0 }, { "prenomeleve", ROLE_FIRST, 0 },
        { "libelleclasse", ROLE_CLASS, 0 }, { "identifiantclasse", ROLE_CLASS, 1 },
        /* Pix's CSV template for schools without SIECLE (required columns end in "*"):
         * "Identifiant unique*", "Premier prénom*", "Nom de famille*", "Date de naissance
         * (jj/mm/aaaa)*", "Division*". */
        { "identifiantunique", ROLE_ID, 0 }, { "datedenaissancejjmmaaaa", ROLE_BIRTH, 0 },
};

/* TRANSLATORS: the fields of a pupil in a roster, in "columns 2 and 5 both give the %s". */
static const char role_words[_ROLE_MAX][24] _words_ = {
        [ROLE_ID] = N_("id"), [ROLE_FAMILY] = N_("family name"), [ROLE_FIRST] = N_("first name"),
        [ROLE_NAMES] = N_("family and first names"), [ROLE_CLASS] = N_("class"), [ROLE_UAI] = N_("school UAI"),
        [ROLE_INE] = N_("INE"), [ROLE_BIRTH] = N_("birth date"), [ROLE_LEFT] = N_("leaving date"),
};

enum encoding { ENC_UTF8, ENC_LATIN1, ENC_LATIN9, ENC_CP1252 };

struct csv_reader {
        struct roster_ctx *c;
        struct cart_error *err;
        int r;                          /* first error: later callbacks do nothing */
        enum encoding enc;

        /* The record being read: fields converted to UTF-8, NUL-terminated, in one buffer. */
        char *buf;
        size_t len, cap;
        size_t *offs;
        size_t n_fields, offs_cap;
        size_t record_bytes;            /* bytes fed since the record began */
        unsigned line, record_line;     /* lines read so far; the record's first line */
        bool pending_cr;                /* the last piece ended with CR: CRLF or a lone CR? */

        char file_uai[16];              /* the UAI column's value when every row gives the same */
        bool has_many_uai;

        bool has_header;
        unsigned header_line;
        unsigned first_line, n_titles;  /* the first record, and title records skipped before the header */
        bool use_names;                 /* the names come from one "NOM Prénom" column */
        bool may_be_header_row;         /* the next record may be the header's second row */
        size_t n_columns;
        ssize_t col[_ROLE_MAX];
};

/* Windows-1252's 0x80-0x9F (where ISO-8859-1 has C1 controls); 0 for the five bytes it
 * leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D): those are no text. */
static const uint16_t cp1252[32] = {
        0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
        0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
        0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
        0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* ISO-8859-15's eight code points that are not ISO-8859-1's. */
static unsigned latin9(unsigned char b) {
        switch (b) {
        case 0xa4: return 0x20ac;
        case 0xa6: return 0x0160;
        case 0xa8: return 0x0161;
        case 0xb4: return 0x017d;
        case 0xb8: return 0x017e;
        case 0xbc: return 0x0152;
        case 0xbd: return 0x0153;
        case 0xbe: return 0x0178;
        }
        return b;
}

static void on_field(void *field, size_t n, void *data) {
        struct csv_reader *cr = data;
        const unsigned char *s = field;

        if (cr->r < 0)
                return;
        /* ISO-8859 bytes take up to 3 bytes in UTF-8 (the euro sign). */
        if (roster_grow(&cr->offs, &cr->offs_cap, cr->n_fields + 1, sizeof(size_t)) < 0 ||
            roster_grow(&cr->buf, &cr->cap, cr->len + 3 * n + 1, 1) < 0) {
                cr->r = cart_error_set(cr->err, -ENOMEM, "out of memory");
                return;
        }
        cr->offs[cr->n_fields++] = cr->len;
        for (size_t i = 0; i < n; i++) {
                unsigned u = s[i];

                if (cr->enc == ENC_UTF8 || u < 0x80) {
                        cr->buf[cr->len++] = (char) u;
                        continue;
                }
                if (cr->enc == ENC_LATIN9)
                        u = latin9(s[i]);
                else if (cr->enc == ENC_CP1252 && u < 0xa0)
                        u = cp1252[u - 0x80];     /* never 0: decide_encoding() refused those */
                if (u < 0x800) {
                        cr->buf[cr->len++] = (char) (0xc0 | (u >> 6));
                } else {
                        cr->buf[cr->len++] = (char) (0xe0 | (u >> 12));
                        cr->buf[cr->len++] = (char) (0x80 | ((u >> 6) & 0x3f));
                }
                cr->buf[cr->len++] = (char) (0x80 | (u & 0x3f));
        }
        cr->buf[cr->len++] = 0;
}

/* A spreadsheet's text cell: ="0123" keeps leading zeros; "" inside is a quote. */
static char *unwrap(char *s) {
        size_t n;
        char *p, *q;

        s = roster_squash_space(roster_strip(s));
        n = strlen(s);
        if (n < 3 || s[0] != '=' || s[1] != '"' || s[n - 1] != '"')
                return s;
        s[n - 1] = 0;
        for (p = q = s + 2; *p; p++, q++) {
                *q = *p;
                if (p[0] == '"' && p[1] == '"')
                        p++;
        }
        *q = 0;
        return roster_strip(s + 2);
}

/* Whether a field is empty, without unwrapping it (unwrap() works in place, once):
 * spaces, and ="" or ="  ", count as empty. */
static bool is_blank(const char *s) {
        for (;; s++) {
                if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
                        continue;
                if ((unsigned char) s[0] == 0xc2 && (unsigned char) s[1] == 0xa0) {
                        s++;
                        continue;
                }
                if (s[0] == '=' && s[1] == '"') {
                        const char *end = strrchr(s + 2, '"');
                        if (!end || strspn(end + 1, " \t") != strlen(end + 1))
                                return false;
                        for (const char *p = s + 2; p < end; p++)
                                if (*p != ' ' && *p != '\t')
                                        return false;
                        return true;
                }
                return *s == 0;
        }
}

/* How many of the record's fields are not empty. */
static size_t n_filled(struct csv_reader *cr) {
        size_t n = 0;

        for (size_t i = 0; i < cr->n_fields; i++)
                n += !is_blank(cr->buf + cr->offs[i]);
        return n;
}

/* The record's columns matched against header_names: 0, or -EBADMSG. */
static int header_columns(struct csv_reader *cr) {
        struct roster_ctx *c = cr->c;
        _cleanup_free_ char *folded = malloc(cr->len + 1);
        _cleanup_free_ size_t *fo = calloc(cr->n_fields ?: 1, sizeof(size_t));   /* where each folded name starts */
        uint8_t rank[_ROLE_MAX];
        size_t at = 0;

        if (!folded || !fo)
                return cart_error_set(cr->err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < _ROLE_MAX; i++)
                cr->col[i] = -1;
        for (size_t i = 0; i < cr->n_fields; i++) {
                char *name = unwrap(cr->buf + cr->offs[i]);

                fo[i] = at;
                roster_fold(name, false, folded + at);
                for (size_t j = 0; j < i; j++)
                        if (folded[at] && streq(folded + fo[j], folded + at))
                                return cart_error_set(cr->err, -EBADMSG,
                                                      "%s: line %u: columns %zu and %zu have the same name \"%s\"",
                                                      c->path, cr->record_line, j + 1, i + 1, name);
                for (size_t k = 0; k < ELEMENTSOF(header_names); k++) {
                        if (!streq(header_names[k].name, folded + at))
                                continue;
                        enum role role = header_names[k].role;
                        if (cr->col[role] >= 0 && rank[role] == header_names[k].rank)
                                return cart_error_set(cr->err, -EBADMSG,
                                                      "%s: line %u: columns %zd and %zu both give the %s",
                                                      c->path, cr->record_line, cr->col[role] + 1, i + 1,
                                                      role_words[role]);
                        if (cr->col[role] < 0 || header_names[k].rank < rank[role]) {
                                cr->col[role] = (ssize_t) i;
                                rank[role] = header_names[k].rank;
                        }
                }
                at += strlen(folded + at) + 1;
        }
        return 0;
}

/* A record before the header: the header, or (a few, with one cell filled at most) a
 * title above it, skipped. */
static int header(struct csv_reader *cr) {
        struct roster_ctx *c = cr->c;
        int r;

        r = header_columns(cr);
        if (r < 0)
                return r;
        if (cr->col[ROLE_FAMILY] < 0 && cr->col[ROLE_NAMES] < 0) {
                if (!cr->first_line)
                        cr->first_line = cr->record_line;
                if (n_filled(cr) <= 1 && ++cr->n_titles <= 4)
                        return 0;
                return cart_error_set(cr->err, -EBADMSG,
                                      "%s: line %u: no family name column (\"nom\" or \"nom de famille\") in the header",
                                      c->path, cr->first_line);
        }
        /* Pronote's "Élèves" column holds "NOM Prénom": used when no other column gives them. */
        cr->use_names = cr->col[ROLE_NAMES] >= 0 && (cr->col[ROLE_FAMILY] < 0 || cr->col[ROLE_FIRST] < 0);
        if (!cr->use_names && cr->col[ROLE_FIRST] < 0)
                return cart_error_set(cr->err, -EBADMSG, "%s: line %u: no first name column (\"prénom\") in the header",
                                      c->path, cr->record_line);
        if (cr->col[ROLE_ID] < 0 && (!c->o->secret || c->o->secret_len < 16))
                return cart_error_set(cr->err, -EINVAL,
                                      "%s: line %u: no id column, and deriving ids needs the station secret",
                                      c->path, cr->record_line);
        if (cr->col[ROLE_UAI] < 0 && !*c->info.school_uai)
                return cart_error_set(cr->err, -EBADMSG,
                                      "%s: line %u: the file has no UAI column: give the school (--school)",
                                      c->path, cr->record_line);
        cr->n_columns = cr->n_fields;
        cr->header_line = cr->record_line;
        cr->has_header = true;
        cr->may_be_header_row = true;
        c->info.header_line = cr->record_line;
        c->info.id_scheme = cr->col[ROLE_ID] >= 0 ? ROSTER_IDS_COLUMN : ROSTER_IDS_DERIVED;
        return 0;
}

/* Whether a word holds a lower-case letter: ASCII, Latin-1 (U+00DF-U+00FF), Latin
 * Extended-A (U+0100-U+017F, pairs where the lower case is odd, but for two runs). */
static bool has_lower(const unsigned char *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (w[i] >= 'a' && w[i] <= 'z')
                        return true;
                if (i + 1 < n && w[i] == 0xc3 && w[i + 1] >= 0x9f && w[i + 1] != 0xb7)
                        return true;
                if (i + 1 < n && (w[i] == 0xc4 || w[i] == 0xc5) && (w[i + 1] & 0xc0) == 0x80) {
                        unsigned u = ((w[i] & 0x1fu) << 6) | (w[i + 1] & 0x3fu);
                        bool flipped = (u >= 0x139 && u <= 0x148) || (u >= 0x179 && u <= 0x17e);
                        if (u == 0x138 || u == 0x149 || u == 0x17f || (u & 1) != flipped)
                                return true;
                }
        }
        return false;
}

/* "NOM Prénom" (Pronote writes the family name in capitals) split in place at the first
 * word with a lower-case letter; -EBADMSG when either part would be empty. */
static int split_names(struct csv_reader *cr, char *names, const char **ret_family, const char **ret_first) {
        char *w = names;

        for (;;) {
                w += strspn(w, " ");
                size_t n = strcspn(w, " ");
                if (n == 0)
                        break;
                if (has_lower((const unsigned char *) w, n)) {
                        if (w == names)
                                break;
                        w[-1] = 0;
                        *ret_family = roster_strip(names);
                        *ret_first = roster_strip(w);
                        return 0;
                }
                w += n;
        }
        return cart_error_set(cr->err, -EBADMSG, "%s: line %u: \"%.60s\": the family name (in capitals) cannot be "
                              "told from the first name", cr->c->path, cr->record_line, names);
}

static char *field(struct csv_reader *cr, enum role role) {
        if (cr->col[role] < 0)
                return (char *) "";
        return unwrap(cr->buf + cr->offs[cr->col[role]]);
}

static int pupil(struct csv_reader *cr) {
        struct roster_ctx *c = cr->c;
        char derived[ROSTER_DERIVED_ID_LEN + 1], uai[16] = "", where[32], leave[11];
        struct roster_pupil p = {
                .line = cr->record_line,
        };
        const char *ine, *birth, *row_uai;
        int r;

        if (cr->n_fields != cr->n_columns)
                return cart_error_set(cr->err, -EBADMSG, "%s: line %u: %zu fields where the header (line %u) has %zu",
                                      c->path, cr->record_line, cr->n_fields, cr->header_line, cr->n_columns);
        p.id = field(cr, ROLE_ID);
        p.class_name = field(cr, ROLE_CLASS);
        ine = field(cr, ROLE_INE);
        birth = field(cr, ROLE_BIRTH);
        row_uai = field(cr, ROLE_UAI);
        if (cr->use_names) {
                char *names = field(cr, ROLE_NAMES);
                if (!*names)
                        return cart_error_set(cr->err, -EBADMSG, "%s: line %u: no name", c->path, cr->record_line);
                r = split_names(cr, names, &p.family_name, &p.first_name);
                if (r < 0)
                        return r;
        } else {
                p.family_name = field(cr, ROLE_FAMILY);
                p.first_name = field(cr, ROLE_FIRST);
        }

        if (!*p.family_name && !*p.first_name)
                return cart_error_set(cr->err, -EBADMSG, "%s: line %u: no name", c->path, cr->record_line);
        if (cr->col[ROLE_ID] >= 0 && !*p.id)
                return cart_error_set(cr->err, -EBADMSG, "%s: line %u: empty id", c->path, cr->record_line);
        if (*row_uai) {
                snprintf(where, sizeof(where), "line %u", cr->record_line);
                r = roster_check_uai(c, row_uai, where, uai, cr->err);
                if (r < 0)
                        return r;
                if (!*cr->file_uai)
                        memcpy(cr->file_uai, uai, sizeof(uai));
                else if (!streq(cr->file_uai, uai))
                        cr->has_many_uai = true;
        }
        p.school_uai = uai;

        r = roster_leave_date(c, field(cr, ROLE_LEFT), true, W_("leaving date"), cr->record_line, &p, leave, cr->err);
        if (r < 0)
                return r;

        struct { const char *what, *value; } checks[] = {
                { W_("id"), p.id }, { W_("family name"), p.family_name }, { W_("first name"), p.first_name },
                { W_("class"), p.class_name },
        };
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                r = roster_check_value(c, checks[i].what, checks[i].value, cr->record_line, cr->err);
                if (r < 0)
                        return r;
        }
        if (cr->col[ROLE_ID] < 0) {
                r = roster_derive_id(c->o->secret, c->o->secret_len, *uai ? uai : c->info.school_uai,
                                     p.family_name, p.first_name, birth, derived, cr->err);
                if (r < 0)
                        return cart_error_prefix(cr->err, r, "%s: line %u", c->path, cr->record_line);
                p.id = derived;
                p.has_derived_id = true;
        }
        return roster_emit(c, &p, ine, cr->err);
}

/* The record right after the header that fills none of the columns read, only others:
 * the header's second row (Pronote writes the sub-columns of a merged heading there), not
 * a pupil. */
static bool is_header_row(struct csv_reader *cr) {
        for (size_t i = 0; i < _ROLE_MAX; i++)
                if (cr->col[i] >= 0 && (size_t) cr->col[i] < cr->n_fields && !is_blank(cr->buf + cr->offs[cr->col[i]]))
                        return false;
        return true;
}

static void on_record(int term, void *data) {
        struct csv_reader *cr = data;

        /* A blank line, a line of spaces, or of separators only (what a spreadsheet leaves
         * below the table) is no record. */
        if (cr->r >= 0 && n_filled(cr) > 0) {
                if (!cr->has_header)
                        cr->r = header(cr);
                else if (cr->may_be_header_row && is_header_row(cr))
                        cr->may_be_header_row = false;          /* Pronote's second header row */
                else {
                        cr->may_be_header_row = false;
                        cr->r = pupil(cr);
                }
        }
        cr->len = 0;
        cr->n_fields = 0;
}

/* The next line end in s[0..n): LF, CR (classic Mac files) or the end; *ret_eol the byte. */
static size_t line_length(const unsigned char *s, size_t n, unsigned char *ret_eol) {
        for (size_t i = 0; i < n; i++)
                if (s[i] == '\n' || s[i] == '\r') {
                        *ret_eol = s[i];
                        return i + 1;
                }
        *ret_eol = 0;
        return n;
}

/* Pass 2: one physical line (or what a chunk holds of it) per csv_parse() call, so a
 * record that starts while the parser waits for a row (pstate 0, ROW_NOT_BEGUN) starts on
 * this line, and a record is refused as soon as it passes ROSTER_CSV_MAX_RECORD. Lines
 * end with LF, CRLF or a lone CR. */
static int feed(struct csv_reader *cr, struct csv_parser *p, const unsigned char *b, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char eol;
                size_t len = line_length(b + i, n - i, &eol);

                if (cr->pending_cr) {
                        cr->pending_cr = false;
                        if (b[i] != '\n')
                                cr->line++;
                }
                if (p->pstate == 0 && cr->record_bytes == 0)
                        cr->record_line = cr->line + 1;
                if (csv_parse(p, b + i, len, on_field, on_record, cr) != len && cr->r >= 0)
                        cr->r = cart_error_set(cr->err, -ENOMEM, "%s: line %u: %s", cr->c->path, cr->line + 1,
                                               csv_strerror(csv_error(p)));
                if (cr->r < 0)
                        return cr->r;
                if (p->pstate == 0)
                        cr->record_bytes = 0;
                else if ((cr->record_bytes += len) > ROSTER_CSV_MAX_RECORD ||
                         csv_get_buffer_size(p) > ROSTER_CSV_MAX_RECORD)
                        return cart_error_set(cr->err, -EBADMSG, "%s: line %u: record longer than %d bytes",
                                              cr->c->path, cr->record_line, ROSTER_CSV_MAX_RECORD);
                if (eol == '\n')
                        cr->line++;
                else if (eol == '\r')
                        cr->pending_cr = true;
                i += len;
        }
        return 0;
}

/* Pass 1: the encoding, from every byte of the file. */
static int decide_encoding(struct roster_ctx *c, int fd, bool has_bom, enum encoding *ret, struct cart_error *err) {
        _cleanup_free_ unsigned char *b = malloc(CHUNK);
        unsigned line = 1, bad_line = 0, c1_line = 0, undefined_line = 0;
        unsigned char undefined = 0, prev = 0;
        bool latin9_bytes = false;
        unsigned need = 0;
        unsigned char lo = 0x80, hi = 0xbf;
        uint64_t off = 0;

        if (!b)
                return cart_error_set(err, -ENOMEM, "out of memory");
        for (;;) {
                ssize_t n = pread(fd, b, CHUNK, (off_t) off);

                if (n < 0)
                        return cart_error_errno(err, -errno, c->path, NULL);
                if (n == 0)
                        break;
                off += (uint64_t) n;
                for (ssize_t i = 0; i < n; i++) {
                        unsigned char x = b[i];

                        if (x == '\n' || (prev == '\r' && x != '\n'))
                                line++;
                        prev = x;
                        if (x == 0)
                                return cart_error_set(err, -EILSEQ, "%s: line %u: a NUL byte: not a text file", c->path, line);
                        if (x >= 0x80 && x < 0xa0 && !c1_line)
                                c1_line = line;
                        if (x >= 0x80 && x < 0xa0 && cp1252[x - 0x80] == 0 && !undefined_line)
                                undefined_line = line, undefined = x;
                        if (x == 0xa4 || x == 0xa6 || x == 0xa8 || x == 0xb4 || x == 0xb8 || (x >= 0xbc && x <= 0xbe))
                                latin9_bytes = true;
                        if (bad_line)
                                continue;
                        /* UTF-8 as RFC 3629 has it: no overlongs, surrogates or code points past U+10FFFF. */
                        if (need > 0) {
                                if (x < lo || x > hi)
                                        bad_line = line;
                                lo = 0x80, hi = 0xbf;
                                need--;
                        } else if (x >= 0x80) {
                                if (x >= 0xc2 && x <= 0xdf)
                                        need = 1;
                                else if (x >= 0xe0 && x <= 0xef)
                                        need = 2, lo = x == 0xe0 ? 0xa0 : 0x80, hi = x == 0xed ? 0x9f : 0xbf;
                                else if (x >= 0xf0 && x <= 0xf4)
                                        need = 3, lo = x == 0xf0 ? 0x90 : 0x80, hi = x == 0xf4 ? 0x8f : 0xbf;
                                else
                                        bad_line = line;
                        }
                }
        }
        if (need > 0 && !bad_line)
                bad_line = line;
        if (!bad_line) {
                *ret = ENC_UTF8;
                return 0;
        }
        if (has_bom)
                return cart_error_set(err, -EILSEQ, "%s: line %u: invalid UTF-8 in a file that starts with a UTF-8 BOM",
                                      c->path, bad_line);
        /* Bytes 0x80-0x9F are C1 controls in ISO-8859-1/15, never in a name: Windows-1252's
         * ’ « » Œ œ € … (Excel's "CSV" on Windows), unless one of its five holes is there. */
        if (undefined_line)
                return cart_error_set(err, -EILSEQ,
                                      "%s: line %u: byte 0x%02x is neither UTF-8, ISO-8859-1/15 nor Windows-1252 text: "
                                      "save the file as UTF-8", c->path, undefined_line, undefined);
        if (c1_line)
                *ret = ENC_CP1252;
        else
                *ret = latin9_bytes ? ENC_LATIN9 : ENC_LATIN1;
        return 0;
}

/* The separator the header line uses most, outside quotes: ';' (French spreadsheets), ',' or tab. */
static char detect_separator(const unsigned char *s, size_t n) {
        size_t semi = 0, comma = 0, tab = 0;
        bool quoted = false;

        for (size_t i = 0; i < n && (quoted || (s[i] != '\n' && s[i] != '\r')); i++) {
                if (s[i] == '"')
                        quoted = !quoted;
                else if (!quoted)
                        semi += s[i] == ';', comma += s[i] == ',', tab += s[i] == '\t';
        }
        if (semi == 0 && comma == 0 && tab == 0)
                return 0;
        if (semi >= comma && semi >= tab)
                return ';';
        return comma >= tab ? ',' : '\t';
}

static int space_only(unsigned char ch) {
        return ch == ' ';
}

int roster_csv_read(struct roster_ctx *c, struct cart_error *err) {
        _cleanup_free_ unsigned char *b = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct csv_reader cr = { .c = c, .err = err, .line = 0 };
        struct csv_parser p;
        bool has_bom, first = true;
        enum encoding enc = ENC_UTF8;
        size_t skip = 0;
        ssize_t n;
        int r;

        r = roster_set_school(c, NULL, "--school", err);
        if (r < 0)
                return r;
        fd = open(c->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return cart_error_errno(err, -errno, c->path, NULL);
        b = malloc(CHUNK);
        if (!b)
                return cart_error_set(err, -ENOMEM, "out of memory");
        n = pread(fd, b, 3, 0);
        has_bom = n == 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf;
        r = decide_encoding(c, fd, has_bom, &enc, err);
        if (r < 0)
                return r;
        cr.enc = enc;
        snprintf(c->info.encoding, sizeof(c->info.encoding), "%s",
                 enc == ENC_UTF8 ? "UTF-8" : enc == ENC_LATIN9 ? "ISO-8859-15" : enc == ENC_CP1252 ? "Windows-1252" :
                 "ISO-8859-1");
        if (has_bom)
                skip = 3;

        if (csv_init(&p, CSV_APPEND_NULL) != 0)
                return cart_error_set(err, -ENOMEM, "out of memory");
        csv_set_space_func(&p, space_only);
        cr.r = 0;
        for (uint64_t off = skip;;) {
                n = pread(fd, b, CHUNK, (off_t) off);
                if (n < 0) {
                        r = cart_error_errno(err, -errno, c->path, NULL);
                        goto finish;
                }
                if (n == 0)
                        break;
                if (first) {
                        /* The first line that is not blank is the header. */
                        size_t i = 0;
                        while (i < (size_t) n && (b[i] == '\n' || b[i] == '\r' || b[i] == ' '))
                                i++;
                        char sep = detect_separator(b + i, (size_t) n - i);
                        if (!sep) {
                                r = cart_error_set(err, -EBADMSG,
                                                   "%s: line 1: no ';', ',' or tab in the header: not a roster CSV", c->path);
                                goto finish;
                        }
                        csv_set_delim(&p, (unsigned char) sep);
                        c->info.separator = sep;
                        first = false;
                }
                off += (uint64_t) n;
                r = feed(&cr, &p, b, (size_t) n);
                if (r < 0)
                        goto finish;
        }
        csv_fini(&p, on_field, on_record, &cr);
        r = cr.r;
        if (r >= 0 && !cr.has_header && cr.first_line)
                r = cart_error_set(err, -EBADMSG,
                                   "%s: line %u: no family name column (\"nom\" or \"nom de famille\") in the header",
                                   c->path, cr.first_line);
        if (r >= 0 && !cr.has_header)
                r = cart_error_set(err, -EBADMSG, "%s: no header line", c->path);
        if (r >= 0 && !*c->info.school_uai && !cr.has_many_uai)
                memcpy(c->info.school_uai, cr.file_uai, sizeof(cr.file_uai));
finish:
        csv_free(&p);
        free(cr.buf);
        free(cr.offs);
        return r < 0 ? r : 0;
}
