/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Queries of a roster import beside the sync: school years, known schools and classes. */
#include "journal/journal-import.h"
#include "journal/journal-internal.h"

static int dup_or_null(const char *text, char **ret) {
        *ret = text && *text ? strdup(text) : NULL;
        return text && *text && !*ret ? -ENOMEM : 0;
}

int journal_school_export(struct journal *j, const char *uai, char **ret_year, char **ret_exported,
                          struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        _cleanup_free_ char *year = NULL;
        int r;

        r = jdb_prepare(j, "SELECT year, exported FROM schools WHERE uai = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, uai);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret_year = *ret_exported = NULL;
                return 0;
        }
        r = dup_or_null(jdb_text(s, 0), &year);
        if (r >= 0)
                r = dup_or_null(jdb_text(s, 1), ret_exported);
        if (r < 0)
                return r;
        *ret_year = TAKE_PTR(year);
        return 0;
}

int journal_school_set_export(struct journal *j, const char *uai, const char *year, const char *exported,
                              struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, "UPDATE schools SET year = ?, exported = ? WHERE uai = ?", &s, err);
        if (r < 0)
                return r;
        jdb_bind_text(s, 1, year);
        if (exported && *exported)
                jdb_bind_text(s, 2, exported);
        else
                jdb_bind_null(s, 2);
        jdb_bind_text(s, 3, uai);
        r = jdb_step(j, s, err);
        if (r < 0)
                return r;
        return jdb_changes(j) > 0 ? 0 : -ENOENT;
}

int journal_school_known(struct journal *j, const char *uai, const char *class_name, struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r, n = 0;

        r = jdb_prepare(j, !class_name ? "SELECT 1 FROM schools WHERE uai = ?" :
                        uai ? "SELECT 1 FROM pupils WHERE school = ? AND class_name = ? LIMIT 1" :
                        "SELECT 1 FROM pupils WHERE class_name = ? LIMIT 1", &s, err);
        if (r < 0)
                return r;
        if (uai)
                jdb_bind_text(s, ++n, uai);
        if (class_name)
                jdb_bind_text(s, ++n, class_name);
        r = jdb_step(j, s, err);
        return r < 0 ? r : r > 0;
}

int journal_names_list(struct journal *j, const char *uai, bool want_classes, journal_name_fn fn, void *userdata,
                       struct cart_error *err) {
        _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
        int r;

        r = jdb_prepare(j, !want_classes ? "SELECT uai FROM schools ORDER BY uai" :
                        uai ? "SELECT DISTINCT class_name FROM pupils WHERE school = ? AND class_name <> '' "
                        "ORDER BY class_name" :
                        "SELECT DISTINCT class_name FROM pupils WHERE class_name <> '' ORDER BY class_name", &s, err);
        if (r < 0)
                return r;
        if (want_classes && uai)
                jdb_bind_text(s, 1, uai);
        for (;;) {
                r = jdb_step(j, s, err);
                if (r <= 0)
                        return r;
                r = fn(userdata, jdb_text(s, 0));
                if (r < 0)
                        return r;
        }
}

int journal_pupil_known(struct journal *j, const char *uai, const char *id, struct cart_error *err) {
        return journal_pupil_state(j, uai, id, err);
}

int journal_is_empty(struct journal *j, struct cart_error *err) {
        static const char *const tables[] = { "schools", "imports", "pupils", "keys", "events" };

        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                _cleanup_(jdb_finalizep) struct jstmt *s = NULL;
                char sql[64];
                int r;

                snprintf(sql, sizeof(sql), "SELECT 1 FROM %s LIMIT 1", tables[i]);
                r = jdb_prepare(j, sql, &s, err);
                if (r < 0)
                        return r;
                r = jdb_step(j, s, err);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return 1;
}
