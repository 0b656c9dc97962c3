/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cartable roster import: read each file (lib/roster), sync the journal with it (lib/journal),
 * in one transaction, and say what happened to every pupil of the files, each counted once:
 * added, moved, renamed, left, rejoined, unchanged or already left. Around the sync, the
 * checks that need the whole import: a stale export (an older school year than the last one
 * applied), an id scheme change (the same children under other ids), the UAI's check letter.
 */
#include <inttypes.h>
#include <time.h>
#include <json-c/json.h>

#include "commands.h"
#include "journal-arg.h"
#include "journal/journal-import.h"
#include "roster.h"
#include "roster/roster.h"

/* The changes journal_sync_pupil() reported for the pupil being synced, as bits. */
#define CHANGED(c) (1u << (c))

struct counts {
        uint64_t total, added, moved, renamed, left, rejoined, unchanged, already_left;
        uint64_t no_longer_listed, no_class, inactive, leaving, anomalies, mapped;
};

/* A pupil already in the journal, for --match-names: its folded names and class, its id. */
struct match {
        char *key, *id;
        bool is_taken;
};

/* What the import learns of each school its files list. */
struct school {
        char uai[16];
        enum roster_id_scheme scheme;
        uint64_t n_in_files, n_by_id;        /* pupils of the files; of which the journal knew the id */
        size_t file;                         /* the last file that listed it */
        bool was_known;                      /* the journal held the school before this import */
        uint64_t *added_ids, *added_keys;    /* hashes of the added pupils' ids and keys (sorted at the end) */
        size_t n_added, added_cap;
        struct match *matches;               /* --match-names: the journal's active pupils, by key */
        size_t n_matches;
        bool has_matches;
};

struct import {
        const struct roster_args *a;
        struct journal *j;
        struct journal_sync *sync;
        const char *file;
        size_t file_index;
        struct counts n;
        unsigned changes;                    /* CHANGED() bits of the pupil being synced */
        bool is_finishing;                   /* in journal_sync_finish(): pupils no file lists */
        struct school *schools;
        size_t n_schools;
};

static uint64_t fnv(uint64_t h, const char *s) {
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * UINT64_C(0x100000001b3);
        return (h ^ 0xff) * UINT64_C(0x100000001b3);    /* a separator between strings */
}

/* "family NUL first NUL class", names folded as derived ids fold them. */
static char *pupil_key(const char *family, const char *first, const char *class_name) {
        size_t lf = strlen(family), lp = strlen(first), lc = strlen(class_name);
        char *k = malloc(lf + lp + lc + 3);

        if (!k)
                return NULL;
        roster_fold_name(family, k);
        lf = strlen(k);
        roster_fold_name(first, k + lf + 1);
        lp = strlen(k + lf + 1);
        memcpy(k + lf + 1 + lp + 1, class_name, lc + 1);
        /* One string for hashing and sorting: the NULs become a byte names never hold. */
        k[lf] = k[lf + 1 + lp] = '\x1f';
        return k;
}

static uint64_t hash_key(const char *key) {
        return fnv(UINT64_C(0xcbf29ce484222325), key);
}

static void school_free(struct school *s) {
        free(s->added_ids);
        free(s->added_keys);
        for (size_t i = 0; i < s->n_matches; i++) {
                free(s->matches[i].key);
                free(s->matches[i].id);
        }
        free(s->matches);
}

static int school_get(struct import *im, const char *uai, struct school **ret, struct cart_error *err) {
        struct school *s;
        int r;

        for (size_t i = 0; i < im->n_schools; i++)
                if (streq(im->schools[i].uai, uai)) {
                        *ret = &im->schools[i];
                        return 0;
                }
        s = reallocarray(im->schools, im->n_schools + 1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        im->schools = s;
        s = &im->schools[im->n_schools++];
        *s = (struct school) { .file = im->file_index };
        snprintf(s->uai, sizeof(s->uai), "%s", uai);
        /* Asked before its first pupil is synced: a school new to the journal has no ids to change. */
        r = journal_school_known(im->j, uai, NULL, err);
        if (r < 0) {
                im->n_schools--;
                return r;
        }
        s->was_known = r > 0;

        char letter;
        if (roster_uai_is_valid(uai) && !roster_uai_check_letter(uai, &letter)) {
                if (im->a->json)
                        printf("{\"warning\":\"uai-check-letter\",\"school\":\"%s\",\"letter\":\"%c\"}\n", s->uai, letter);
                else
                        /* TRANSLATORS: a school's UAI, then the letter its 7 digits call for. */
                        log_warn(_("school %s: the check letter of this UAI should be %c: a typing error "
                                   "(or a test school's invented UAI)?"), s->uai, letter);
        }
        *ret = s;
        return 0;
}

/* ---- Output ---- */

static struct json_object *pupil_json(const char *kind, const char *value, const struct journal_pupil_row *p) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, kind, json_object_new_string(value));
        json_object_object_add(o, "school", json_object_new_string(p->school));
        json_object_object_add(o, "id", json_object_new_string(p->id));
        json_object_object_add(o, "family_name", json_object_new_string(p->family_name));
        json_object_object_add(o, "first_name", json_object_new_string(p->first_name));
        json_object_object_add(o, "class", json_object_new_string(p->class_name));
        return o;
}

static void json_put(struct json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* A roster change in words, for people (--json keeps journal_change_to_string()). */
static const char *change_words(enum journal_change c) {
        switch (c) {
        /* TRANSLATORS: roster import's first column (8 wide): a pupil added to the journal. */
        case JOURNAL_ADDED: return _("added");
        /* TRANSLATORS: roster import: a pupil who changed class. */
        case JOURNAL_MOVED: return _("moved");
        /* TRANSLATORS: roster import: a pupil whose name changed. */
        case JOURNAL_RENAMED: return _("renamed");
        /* TRANSLATORS: roster import: a pupil who left the school. */
        case JOURNAL_LEFT: return _("left");
        /* TRANSLATORS: roster import: a pupil who had left and is back. */
        case JOURNAL_REJOINED: return _("rejoined");
        }
        return journal_change_to_string(c);
}

/* One line of the import, in roster import's columns: WORD SCHOOL CLASS  FAMILY FIRST  [ID]TAIL. */
static void print_line(const char *word, const struct journal_pupil_row *p, const char *old_class, const char *tail) {
        _cleanup_free_ char *class = safe_text(p->class_name), *from = safe_text(old_class),
                            *family = safe_text(p->family_name), *first = safe_text(p->first_name);

        if (from)
                /* TRANSLATORS: the change, the school's UAI, the new class, the old class, family name,
                 * first name, pupil id. */
                printf(_("%-8s %s %s (from %s)  %s %s  [%s]"), word, esc(p->school), class ? class : "",
                       from, family ? family : "", first ? first : "", esc(p->id));
        else
                printf(_("%-8s %s %s  %s %s  [%s]"), word, esc(p->school), class ? class : "",
                       family ? family : "", first ? first : "", esc(p->id));
        printf("%s\n", tail);
}

static int on_change(void *userdata, enum journal_change c, const struct journal_pupil_row *p, const char *old_class) {
        struct import *im = userdata;

        im->changes |= CHANGED(c);
        if (im->is_finishing)
                im->n.no_longer_listed++;      /* only LEFT comes here: a pupil no file lists */
        if (im->a->json) {
                struct json_object *o = pupil_json("change", journal_change_to_string(c), p);
                if (old_class)
                        json_object_object_add(o, "old_class", json_object_new_string(old_class));
                json_put(o);
                return 0;
        }
        print_line(change_words(c), p, old_class, "");
        return 0;
}

/* ---- Each pupil ---- */

static int note_added(struct school *s, const struct journal_pupil *jp) {
        _cleanup_free_ char *key = pupil_key(jp->family_name, jp->first_name, jp->class_name);

        if (!key)
                return -ENOMEM;
        if (s->n_added + 1 > s->added_cap) {
                size_t cap = MAX(s->added_cap * 2, (size_t) 64);
                uint64_t *ids = reallocarray(s->added_ids, cap, sizeof(*ids));
                if (!ids)
                        return -ENOMEM;
                s->added_ids = ids;
                uint64_t *keys = reallocarray(s->added_keys, cap, sizeof(*keys));
                if (!keys)
                        return -ENOMEM;
                s->added_keys = keys;
                s->added_cap = cap;
        }
        s->added_ids[s->n_added] = fnv(UINT64_C(0xcbf29ce484222325), jp->id);
        s->added_keys[s->n_added++] = hash_key(key);
        return 0;
}

static int match_cmp(const void *a, const void *b) {
        return strcmp(((const struct match *) a)->key, ((const struct match *) b)->key);
}

static int load_match(void *userdata, const struct journal_pupil_row *p) {
        struct school *s = userdata;
        struct match *m;

        m = reallocarray(s->matches, s->n_matches + 1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        s->matches = m;
        m = &s->matches[s->n_matches];
        *m = (struct match) { .key = pupil_key(p->family_name, p->first_name, p->class_name), .id = strdup(p->id) };
        s->n_matches++;
        return m->key && m->id ? 0 : -ENOMEM;
}

/* --match-names: the journal's id for a pupil whose file id it does not know, when exactly one
 * of the school's active pupils has the same names and class; else NULL. */
static int match_id(struct import *im, struct school *s, const struct journal_pupil *jp, const char **ret,
                    struct cart_error *err) {
        _cleanup_free_ char *key = NULL;
        struct match probe, *m;
        size_t first, last;
        int r;

        *ret = NULL;
        if (!s->has_matches) {
                r = journal_pupils_list(im->j, &(struct journal_pupil_filter) { .school = s->uai }, load_match, s, err);
                if (r < 0)
                        return r;
                qsort(s->matches, s->n_matches, sizeof(*s->matches), match_cmp);
                s->has_matches = true;
        }
        r = journal_pupil_known(im->j, jp->school, jp->id, err);
        if (r != 0)
                return r < 0 ? r : 0;
        key = pupil_key(jp->family_name, jp->first_name, jp->class_name);
        if (!key)
                return -ENOMEM;
        probe.key = key;
        m = bsearch(&probe, s->matches, s->n_matches, sizeof(*m), match_cmp);
        if (!m)
                return 0;
        first = last = (size_t) (m - s->matches);
        while (first > 0 && streq(s->matches[first - 1].key, key))
                first--;
        while (last + 1 < s->n_matches && streq(s->matches[last + 1].key, key))
                last++;
        if (first != last || s->matches[first].is_taken)
                return 0;              /* homonyms in one class: no guess */
        s->matches[first].is_taken = true;
        *ret = s->matches[first].id;
        return 0;
}

/* What the file says of a pupil beyond the change: mapped, already gone, inactive, leaving. */
static void pupil_notes(struct import *im, const struct roster_pupil *p, const struct journal_pupil_row *row,
                        bool is_already_left, const char *file_id) {
        const struct roster_args *a = im->a;

        if (file_id) {
                im->n.mapped++;
                if (a->json) {
                        struct json_object *o = pupil_json("note", "mapped", row);
                        json_object_object_add(o, "file_id", json_object_new_string(file_id));
                        json_put(o);
                } else {
                        _cleanup_free_ char *tail = NULL;
                        /* TRANSLATORS: after a pupil's line: the pupil's id in the file being imported. */
                        if (asprintf(&tail, _(" (the file's id: %s)"), esc(file_id)) < 0)
                                tail = NULL;
                        /* TRANSLATORS: roster import --match-names: a pupil of the file taken as one the
                         * journal holds, by names and class (8 wide). */
                        print_line(_("mapped"), row, NULL, tail ? tail : "");
                }
        }
        if (is_already_left) {
                im->n.already_left++;
                if (a->json) {
                        struct json_object *o = pupil_json("note", "already-left", row);
                        if (*p->leave_date)
                                json_object_object_add(o, "leave_date", json_object_new_string(p->leave_date));
                        json_put(o);
                } else
                        /* TRANSLATORS: roster import: a pupil the file lists as gone who had already left,
                         * or who left before the first import (8 wide). */
                        print_line(_("gone"), row, NULL, p->is_inactive ? _(" (SIECLE's \"Inactifs\")") : "");
        }
        if (p->is_inactive) {
                im->n.inactive++;
                if (a->json && !is_already_left)
                        json_put(pupil_json("note", "inactive", row));
                else if (!is_already_left)
                        /* TRANSLATORS: roster import: a pupil SIECLE puts in its "Inactifs" pseudo-class (8 wide). */
                        print_line(_("inactive"), row, NULL, _(" (SIECLE's \"Inactifs\": in no class, not active)"));
        }
        if (*p->leave_date && !p->has_left) {
                im->n.leaving++;
                if (a->json) {
                        struct json_object *o = pupil_json("note", "leaving", row);
                        json_object_object_add(o, "leave_date", json_object_new_string(p->leave_date));
                        json_put(o);
                } else {
                        _cleanup_free_ char *tail = NULL;
                        /* TRANSLATORS: after a pupil's line: the day the pupil leaves (YYYY-MM-DD). */
                        if (asprintf(&tail, _(" on %s"), p->leave_date) < 0)
                                tail = NULL;
                        /* TRANSLATORS: roster import: a pupil still there who leaves on a date to come (8 wide). */
                        print_line(_("leaves"), row, NULL, tail ? tail : "");
                }
        }
}

/* What the file holds that someone should fix: a pupil in no class, SIECLE's anomalies. */
static void pupil_warnings(struct import *im, const struct roster_pupil *p, const struct journal_pupil_row *row) {
        const struct roster_args *a = im->a;

        if (!p->has_left && !*p->class_name) {
                im->n.no_class++;
                if (a->json)
                        json_put(pupil_json("warning", "no-class", row));
                else
                        log_warn(_("%s:%u: %s %s [%s] (school %s) is in no class"), im->file, p->line,
                                 esc(p->first_name), esc(p->family_name), esc(row->id), row->school);
        }
        if (p->anomalies) {
                im->n.anomalies++;
                if (a->json) {
                        struct json_object *o = pupil_json("warning", "structures", row);
                        if (*p->other_class)
                                json_object_object_add(o, "other_class", json_object_new_string(p->other_class));
                        json_put(o);
                } else if (*p->other_class)
                        log_warn(_("%s:%u: pupil %s has several STRUCTURES_ELEVE with different classes (%s, %s): "
                                   "%s is kept; correct it in SIECLE"), im->file, p->line, esc(row->id),
                                 esc(p->class_name), esc(p->other_class), esc(p->class_name));
                else
                        log_warn(_("%s:%u: pupil %s has several STRUCTURES_ELEVE blocks (an anomaly of the export: "
                                   "correct it in SIECLE)"), im->file, p->line, esc(row->id));
        }
}

/* A leave date to come ("YYYY-MM-DD") as the time the pupil leaves: 00:00 that day, local
 * time (the day a station sees); 0 when there is none or it cannot be read. */
static int64_t leaves_usec(const char *date) {
        int64_t usec;
        return date && local_day_usec(date, &usec) >= 0 ? usec : 0;
}

static int on_pupil(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        struct import *im = userdata;
        struct journal_pupil jp = {
                .id = p->id, .school = p->school_uai, .family_name = p->family_name, .first_name = p->first_name,
                .class_name = p->class_name, .has_left = p->has_left,
                .leaves_usec = p->has_left ? 0 : leaves_usec(p->leave_date), .ine_hmac = p->ine_hmac,
                .has_derived_id = p->has_derived_id, .line = p->line,
        };
        struct school *s;
        const char *mapped = NULL;
        bool was_known = true;
        int r;

        r = school_get(im, p->school_uai, &s, err);
        if (r < 0)
                return r;
        s->file = im->file_index;
        if (im->a->match_names) {
                r = match_id(im, s, &jp, &mapped, err);
                if (r < 0)
                        return r;
                if (mapped)
                        jp.id = mapped;
        }
        if (p->has_left) {
                r = journal_pupil_known(im->j, jp.school, jp.id, err);
                if (r < 0)
                        return r;
                was_known = r > 0;
        }

        im->changes = 0;
        r = journal_sync_pupil(im->sync, &jp, err);
        if (r < 0)
                return r;

        /* Each pupil of the files counted once, by what matters most. */
        unsigned c = im->changes;
        im->n.total++;
        s->n_in_files++;
        if (c & CHANGED(JOURNAL_ADDED))
                im->n.added++;
        else if (c & CHANGED(JOURNAL_REJOINED))
                im->n.rejoined++;
        else if (c & CHANGED(JOURNAL_LEFT))
                im->n.left++;
        else if (c & CHANGED(JOURNAL_MOVED))
                im->n.moved++;
        else if (c & CHANGED(JOURNAL_RENAMED))
                im->n.renamed++;
        else if (!p->has_left)
                im->n.unchanged++;
        if (!s->was_known)
                ;                      /* new school: nothing to compare with */
        else if ((c & CHANGED(JOURNAL_ADDED)) || !was_known) {
                r = note_added(s, &jp);
                if (r < 0)
                        return r;
        } else
                s->n_by_id++;

        struct journal_pupil_row row = { .id = jp.id, .school = jp.school, .family_name = jp.family_name,
                                         .first_name = jp.first_name, .class_name = jp.class_name,
                                         .is_active = !jp.has_left };
        pupil_notes(im, p, &row, p->has_left && c == 0, mapped ? p->id : NULL);
        pupil_warnings(im, p, &row);
        return 0;
}

/* ---- Each file, and the checks of the whole import ---- */

static void print_file(struct import *im, const char *file, const struct roster_info *info) {
        if (im->a->json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_object_new_string(file));
                json_object_object_add(o, "format", json_object_new_string(roster_format_to_string(info->format)));
                json_object_object_add(o, "encoding", json_object_new_string(info->encoding));
                if (*info->declared_encoding)
                        json_object_object_add(o, "declared_encoding", json_object_new_string(info->declared_encoding));
                json_object_object_add(o, "school", json_object_new_string(info->school_uai));
                json_object_object_add(o, "year", json_object_new_string(info->year));
                json_object_object_add(o, "exported", json_object_new_string(info->exported));
                json_object_object_add(o, "ids", json_object_new_string(roster_id_scheme_to_string(info->id_scheme)));
                if (info->is_zip)
                        json_object_object_add(o, "zip_member", json_object_new_string(info->zip_member));
                json_object_object_add(o, "pupils", json_object_new_int64((int64_t) info->n_pupils));
                json_put(o);
                return;
        }
        if (info->school_uai[0])
                /* TRANSLATORS: a roster file, its number of pupils, its format ("siecle-xml", "csv"),
                 * its encoding, the school's UAI. */
                printf(ngettext("%s: %zu pupil (%s, %s, school %s)\n", "%s: %zu pupils (%s, %s, school %s)\n", info->n_pupils),
                       file, info->n_pupils, roster_format_to_string(info->format), info->encoding, info->school_uai);
        else
                printf(ngettext("%s: %zu pupil (%s, %s)\n", "%s: %zu pupils (%s, %s)\n", info->n_pupils),
                       file, info->n_pupils, roster_format_to_string(info->format), info->encoding);
        if (*info->declared_encoding)
                log_warn(_("%s: the XML prolog says %s, but the bytes are UTF-8 (the file was saved again by "
                           "an editor): read as UTF-8"), file, info->declared_encoding);
}

/* A SIECLE export of an earlier school year than the last one applied to its school, or of
 * the same year but written before it (HORODATAGE, or DATE_EXPORT), moves pupils back to
 * last year's classes or undoes later changes: refused, unless --force. What is applied is
 * kept; a forced older export is kept as the last one applied. */
static int check_year(struct import *im, const char *file, const struct roster_info *info, struct cart_error *err) {
        _cleanup_free_ char *last = NULL, *last_exported = NULL;
        const char *exported = info->exported;
        char year[16];
        unsigned y;
        int r;

        if (!*info->year || !*info->school_uai || sscanf(info->year, "%4u", &y) != 1)
                return 0;
        r = journal_school_export(im->j, info->school_uai, &last, &last_exported, err);
        if (r < 0)
                return r;
        snprintf(year, sizeof(year), "%04u-%04u", y % 10000, (y + 1) % 10000);
        if (last && strcmp(year, last) < 0) {
                if (!im->a->force)
                        return cart_error_set(err, -EBADMSG, "%s: an export of school year %s, older than the last "
                                              "one imported for school %s (%s): export the roster from SIECLE "
                                              "again, or import it anyway with --force", file, year,
                                              info->school_uai, last);
                log_warn(_("%s: an export of school year %s, older than the last one imported for school %s (%s): "
                           "imported anyway (--force)"), file, year, info->school_uai, last);
        } else if (last && strcmp(year, last) == 0 && *exported && last_exported &&
                   strcmp(exported, last_exported) < 0) {
                if (!im->a->force)
                        return cart_error_set(err, -EBADMSG, "%s: exported on %s, before the export already "
                                              "imported for school %s (exported on %s): export the roster "
                                              "from SIECLE again, or import it anyway with --force", file,
                                              exported, info->school_uai, last_exported);
                log_warn(_("%s: exported on %s, before the export already imported for school %s (exported on "
                           "%s): imported anyway (--force)"), file, exported, info->school_uai, last_exported);
        }
        r = journal_school_set_export(im->j, info->school_uai, year, exported, err);
        return r == -ENOENT ? 0 : r;           /* a file without pupils leaves no school */
}

static const char *scheme_words(enum roster_id_scheme s) {
        switch (s) {
        case ROSTER_IDS_SIECLE: return _("SIECLE's ELEVE_ID");
        case ROSTER_IDS_COLUMN: return _("the file's id column");
        case ROSTER_IDS_DERIVED: return _("ids derived from the names");
        }
        return "?";
}

struct old_pupils {
        const struct school *s;
        uint64_t n_old, n_same;
};

static int u64_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

static bool has_u64(const uint64_t *v, size_t n, uint64_t x) {
        return bsearch(&x, v, n, sizeof(x), u64_cmp) != NULL;
}

static int count_old(void *userdata, const struct journal_pupil_row *p) {
        struct old_pupils *o = userdata;
        _cleanup_free_ char *key = NULL;

        if (has_u64(o->s->added_ids, o->s->n_added, fnv(UINT64_C(0xcbf29ce484222325), p->id)))
                return 0;              /* added by this import */
        key = pupil_key(p->family_name, p->first_name, p->class_name);
        if (!key)
                return -ENOMEM;
        o->n_old++;
        o->n_same += has_u64(o->s->added_keys, o->s->n_added, hash_key(key));
        return 0;
}

/*
 * The same children under other ids: none of a school's pupils in the files has an id the
 * journal knows, while most match, by names and class, pupils the journal holds (a SIECLE
 * import, then an ENT's CSV). Syncing would mark every pupil left and add them all again.
 */
static int check_id_scheme(struct import *im, struct cart_error *err) {
        for (size_t i = 0; i < im->n_schools; i++) {
                struct school *s = &im->schools[i];
                struct old_pupils o = { .s = s };
                int r;

                if (!s->was_known || s->n_by_id > 0 || s->n_added == 0 || im->a->match_names)
                        continue;
                qsort(s->added_ids, s->n_added, sizeof(uint64_t), u64_cmp);
                qsort(s->added_keys, s->n_added, sizeof(uint64_t), u64_cmp);
                r = journal_pupils_list(im->j, &(struct journal_pupil_filter) { .school = s->uai }, count_old, &o, err);
                if (r < 0)
                        return r;
                if (o.n_old == 0 || o.n_same * 2 < s->n_in_files)
                        continue;
                return cart_error_set(err, -EBADMSG, "school %s: none of the %" PRIu64 " pupils of the files has an id "
                                      "the journal knows, yet %" PRIu64 " of them have the names and class of pupils "
                                      "it holds: this export identifies pupils by %s, the journal's came from "
                                      "another kind of export. Import the same kind of export as before, or keep "
                                      "the journal's ids with --match-names (try it with --dry-run first)",
                                      s->uai, s->n_in_files, o.n_same, scheme_words(s->scheme));
        }
        return 0;
}

static void print_summary(struct import *im) {
        const struct roster_args *a = im->a;
        const struct counts *n = &im->n;

        if (a->json) {
                struct json_object *o = json_object_new_object(), *s = json_object_new_object();
                static const char *const names[] = {
                        "pupils", "added", "moved", "renamed", "left", "rejoined", "unchanged", "already_left",
                        "no_longer_listed", "no_class", "inactive", "leaving", "anomalies", "mapped",
                };
                const uint64_t values[] = {
                        n->total, n->added, n->moved, n->renamed, n->left, n->rejoined, n->unchanged,
                        n->already_left, n->no_longer_listed, n->no_class, n->inactive, n->leaving,
                        n->anomalies, n->mapped,
                };
                json_object_object_add(s, "files", json_object_new_int64((int64_t) a->n_files));
                json_object_object_add(s, "dry_run", json_object_new_boolean(a->dry_run));
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        json_object_object_add(s, names[i], json_object_new_int64((int64_t) values[i]));
                json_object_object_add(o, "summary", s);
                json_put(o);
                return;
        }
        /* TRANSLATORS: counts of the pupils of the files, each counted once: in all, added, moved to
         * another class, renamed, left, back again, unchanged, and already left before. */
        printf(ngettext("%" PRIu64 " pupil: %" PRIu64 " added, %" PRIu64 " moved, %" PRIu64 " renamed, %" PRIu64
                        " left, %" PRIu64 " rejoined, %" PRIu64 " unchanged, %" PRIu64 " already left",
                        "%" PRIu64 " pupils: %" PRIu64 " added, %" PRIu64 " moved, %" PRIu64 " renamed, %" PRIu64
                        " left, %" PRIu64 " rejoined, %" PRIu64 " unchanged, %" PRIu64 " already left", n->total),
               n->total, n->added, n->moved, n->renamed, n->left, n->rejoined, n->unchanged, n->already_left);
        if (n->no_longer_listed)
                /* TRANSLATORS: after the counts: pupils of the journal that no file lists any more. */
                printf(ngettext("; %" PRIu64 " no longer listed, marked left", "; %" PRIu64 " no longer listed, marked left",
                                n->no_longer_listed), n->no_longer_listed);
        printf("%s\n", a->dry_run ? _(" (dry run: nothing was written)") : "");
}

/* A journal this import created, that holds nothing since it failed: removed, so that a
 * refused import leaves nothing behind. */
static void remove_new_journal(struct journal **j, const char *path) {
        struct cart_error err = {};
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };

        if (journal_is_empty(*j, &err) != 1)
                return;
        *j = journal_close(*j);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s%s", path, suffixes[i]) >= 0)
                        (void) unlink(p);
        }
}

int roster_import_run(const struct roster_args *a) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_sync_freep) struct journal_sync *sync = NULL;
        struct import im = { .a = a };
        struct roster_info info = {};
        struct cart_error err = {};
        uint8_t secret[ROSTER_SECRET_LEN];
        struct roster_options o;
        char buf[4096];
        const char *path;
        bool is_new;
        int code, r;

        if (a->school && !roster_uai_is_valid(a->school))
                return usage_error(&command_roster, _("--school %s: not a UAI (7 digits and a letter, such as 0750001A)"),
                                   a->school);
        r = roster_secret_load(arg_config->state_dir, secret, &err);
        if (r < 0)
                return log_fail(r, _("station secret: %s"), ERROR_TEXT(&err, r));

        /* A dry run against a journal that does not exist yet runs on an empty one in memory. */
        path = journal_arg_path(a->journal, buf, sizeof(buf));
        is_new = !journal_is_url(path) && access(path, F_OK) < 0;
        code = journal_arg_open(a->dry_run && is_new ? ":memory:" : path, true, &j);
        if (code != EXIT_OK)
                return code;
        im.j = j;
        r = journal_sync_begin(j, a->files[0], on_change, &im, &sync, &err);
        if (r < 0) {
                code = journal_fail(r, &err);
                goto fail;
        }
        im.sync = sync;
        o = (struct roster_options) { .school_uai = a->school, .keep_ine = a->keep_ine, .secret = secret,
                                      .secret_len = sizeof(secret) };
        for (size_t i = 0; i < a->n_files && r >= 0; i++) {
                if (i > 0)
                        r = journal_sync_next_file(sync, a->files[i]);
                im.file = a->files[i];
                im.file_index = i;
                if (r >= 0)
                        r = roster_read(a->files[i], &o, on_pupil, &im, &info, &err);
                if (r >= 0) {
                        /* The file's id scheme, known once it is read, for its schools. */
                        for (size_t k = 0; k < im.n_schools; k++)
                                if (im.schools[k].file == i)
                                        im.schools[k].scheme = info.id_scheme;
                        print_file(&im, a->files[i], &info);
                        r = check_year(&im, a->files[i], &info, &err);
                }
        }
        if (r >= 0)
                r = check_id_scheme(&im, &err);
        if (r >= 0) {
                im.is_finishing = true;
                r = journal_sync_finish(sync, a->dry_run, NULL, &err);
        }
        explicit_bzero(secret, sizeof(secret));
        if (r < 0) {
                /* TRANSLATORS: %s is why the roster import failed. */
                log_error(r, _("%s (nothing was imported)"), ERROR_TEXT(&err, r));
                code = exit_code_for_error(&err, r);
                goto fail;
        }
        print_summary(&im);
        code = EXIT_OK;
        goto out;
fail:
        sync = journal_sync_free(sync);
        if (is_new && !a->dry_run && j)
                remove_new_journal(&j, path);
out:
        for (size_t i = 0; i < im.n_schools; i++)
                school_free(&im.schools[i]);
        free(im.schools);
        return code;
}
