/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/csv.h"

static bool is_formula_start(char c) {
        return c && strchr("=+-@\t\r", c);
}

void csv_cell(struct csv_writer *w, const char *s) {
        const char special[] = { w->separator, '"', '\r', '\n', 0 };

        if (w->is_in_row)
                fputc(w->separator, w->f);
        w->is_in_row = true;
        if (!s || !*s)
                return;
        bool is_formula = is_formula_start(s[0]);
        bool quote = is_formula || strpbrk(s, special);
        if (quote)
                fputc('"', w->f);
        if (is_formula)
                fputc('\'', w->f);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', w->f);
                fputc(*s, w->f);
        }
        if (quote)
                fputc('"', w->f);
}

void csv_int(struct csv_writer *w, int64_t v) {
        char b[24] = "";

        if (v >= 0)
                snprintf(b, sizeof(b), "%" PRId64, v);
        csv_cell(w, b);
}

int csv_row_end(struct csv_writer *w) {
        fputs("\r\n", w->f);
        w->is_in_row = false;
        return ferror(w->f) ? -EIO : 0;
}

int csv_row(struct csv_writer *w, const char *const *cells, size_t n) {
        for (size_t i = 0; i < n; i++)
                csv_cell(w, cells[i]);
        return csv_row_end(w);
}
