/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The owner template: a small text from the recipe, filled per key with the few fields a
 * school chooses to print. Personal data that has no place on a key that may be lost
 * (INE, birth date, contacts) is refused by name in the template. Needs no release: the
 * manifest checks templates with it, and release-owner.c renders an opened release's.
 */
#include <ctype.h>
#include <inttypes.h>

#include "release/release-internal.h"

static const char *const allowed_fields[] = { "FIRST_NAME", "LAST_NAME", "CLASS", "SCHOOL" };
/* As the manifest lists them. */
static const char *const field_names[] = { "first_name", "last_name", "class", "school" };

/* Any placeholder that names one of these is refused, whatever the rest of its name. */
static const char *const forbidden_words[] = {
        "INE", "BIRTH", "NAISSANCE", "DATE", "ADDRESS", "ADRESSE", "PHONE", "TEL", "MAIL",
        "CONTACT", "PARENT", "RESPONSABLE",
};

/* The placeholder at s ("@NAME@"): its name length, or 0 when s does not start one. */
static size_t placeholder_len(const char *s, const char *end) {
        const char *p = s + 1;

        if (*s != '@' || p >= end || !isupper((unsigned char) *p))
                return 0;
        while (p < end && (isupper((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '_'))
                p++;
        return p < end && *p == '@' ? (size_t) (p - s - 1) : 0;
}

static bool has_word(const char *name, size_t len, const char *word) {
        size_t w = strlen(word);

        for (size_t i = 0; i + w <= len; i++)
                if (memcmp(name + i, word, w) == 0 && (i == 0 || name[i - 1] == '_') &&
                    (i + w == len || name[i + w] == '_'))
                        return true;
        return false;
}

static int field_index(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(allowed_fields); i++)
                if (strlen(allowed_fields[i]) == len && memcmp(allowed_fields[i], name, len) == 0)
                        return (int) i;
        return -1;
}

int owner_template_check(const char *text, size_t len, const char *where, struct cart_error *err) {
        const char *end = text + len;
        unsigned fields = 0;
        size_t n;

        if (len > OWNER_TEMPLATE_MAX)
                return cart_error_set(err, -EFBIG, "%s: an owner template is at most %" PRIu64 " bytes",
                                      where, (uint64_t) OWNER_TEMPLATE_MAX);
        if (memchr(text, 0, len))
                return cart_error_set(err, -EILSEQ, "%s: holds NUL bytes", where);
        for (const char *p = text; p < end; p++) {
                n = placeholder_len(p, end);
                if (n == 0)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(forbidden_words); i++)
                        if (has_word(p + 1, n, forbidden_words[i]))
                                return cart_error_set(err, -EINVAL,
                                                      "%s: @%.*s@: personal data (INE, birth date, contacts) may not be written on a key",
                                                      where, (int) n, p + 1);
                int i = field_index(p + 1, n);
                if (i < 0)
                        return cart_error_set(err, -EINVAL,
                                              "%s: @%.*s@: unknown field (allowed: @FIRST_NAME@, @LAST_NAME@, @CLASS@, @SCHOOL@)",
                                              where, (int) n, p + 1);
                fields |= 1U << i;
                p += n + 1;
        }
        return (int) fields;
}

const char *owner_field_name(unsigned i) {
        return i < ELEMENTSOF(field_names) ? field_names[i] : NULL;
}

static const char *field_value(const struct owner_fields *f, int i) {
        switch (i) {
        case 0: return f->first_name;
        case 1: return f->last_name;
        case 2: return f->class_name;
        default: return f->school;
        }
}

int owner_template_render(const char *t, const char *where, const struct owner_fields *f,
                          char **ret_text, size_t *ret_len, struct cart_error *err) {
        _cleanup_free_ char *out = NULL;
        _cleanup_fclose_ FILE *s = NULL;
        size_t out_len = 0;
        const char *end = t + strlen(t);

        s = open_memstream(&out, &out_len);
        if (!s)
                return -ENOMEM;
        for (const char *p = t; p < end; p++) {
                size_t n = placeholder_len(p, end);
                const char *v;
                if (n == 0) {
                        fputc(*p, s);
                        continue;
                }
                v = field_value(f, field_index(p + 1, n));
                if (!v || !*v)
                        return cart_error_set(err, -EINVAL, "%s: the template needs @%.*s@, which was not given",
                                              where, (int) n, p + 1);
                for (const char *c = v; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                return cart_error_set(err, -EINVAL, "@%.*s@: \"%s\" holds a control character",
                                                      (int) n, p + 1, v);
                fputs(v, s);
                p += n + 1;
        }
        if (fflush(s) != 0 || ferror(s))
                return -ENOMEM;
        fclose(TAKE_PTR(s));
        *ret_len = out_len;
        *ret_text = TAKE_PTR(out);
        return 0;
}

unsigned owner_template_fields(const char *template) {
        int r = template ? owner_template_check(template, strlen(template), "", NULL) : 0;

        return r > 0 ? (unsigned) r : 0;
}

struct owner_fields owner_fields_only(const struct owner_fields *f, unsigned mask) {
        return (struct owner_fields) {
                .first_name = mask & (1u << 0) ? f->first_name : NULL,
                .last_name = mask & (1u << 1) ? f->last_name : NULL,
                .class_name = mask & (1u << 2) ? f->class_name : NULL,
                .school = mask & (1u << 3) ? f->school : NULL,
        };
}
