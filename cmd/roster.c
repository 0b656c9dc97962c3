/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable roster: sync a school's roster into the journal, list its pupils. */
#include <inttypes.h>
#include <json-c/json.h>

#include "commands.h"
#include "journal-arg.h"
#include "roster/roster.h"

static int run_roster(int argc, char **argv);

const struct command command_roster = {
        .name = "roster",
        .summary = N_("import a school's roster into the journal, list its pupils"),
        .help =
        N_("Usage: cartable roster import FILE... [--school UAI] [--journal DB] [--dry-run] [--keep-ine] [--json]\n"
        "       cartable roster list [--school UAI] [--class C] [--without-key] [--all] [--journal DB] [--json]\n"
        "\n"
        "  import  read SIECLE exports (XML or their .zip) or CSV exports and sync the\n"
        "          journal with them, all in one transaction: new pupils are added, class\n"
        "          and name changes applied, pupils of the files' schools that they no\n"
        "          longer list (or mark as left) are marked left. Prints every change.\n"
        "  list    pupils in roster order: school, class, then the order of the last\n"
        "          roster imported; with the key each one holds.\n"
        "\n"
        "Options:\n"
        "  --journal DB     the journal (default: [journal] path, or STATE_DIR/journal.db)\n"
        "  --school UAI     import: the school of a file that names none; list: one school\n"
        "  --dry-run        import: print the changes, write nothing\n"
        "  --keep-ine       import: keep each INE as a keyed hash (HMAC with the station secret)\n"
        "  --class C        list: one class\n"
        "  --without-key    list: only pupils holding no key\n"
        "  --all            list: also pupils who left\n"
        "  --json           import: one JSON object per change, then a summary (NDJSON);\n"
        "                   list: a JSON array\n"
        "\n"
        "Exit codes: 0 success; 64 usage; 65 bad roster (the message names file and line),\n"
        "not a journal, or a journal from a newer cartable; 66 missing roster or journal;\n"
        "70 internal error. See cartable-roster(1).\n"),
        .run = run_roster,
};

enum { OPT_SCHOOL = 0x100, OPT_JOURNAL, OPT_DRY_RUN, OPT_KEEP_INE, OPT_JSON, OPT_CLASS, OPT_WITHOUT_KEY, OPT_ALL };

struct roster_args {
        const char *school, *journal, *class_name;
        bool dry_run, keep_ine, json, without_key, all;
        char **files;
        size_t n_files;
};

static int parse(int argc, char **argv, bool is_import, struct roster_args *a) {
        static const struct option options[] = {
                { "school", required_argument, NULL, OPT_SCHOOL },
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "keep-ine", no_argument, NULL, OPT_KEEP_INE },
                { "json", no_argument, NULL, OPT_JSON },
                { "class", required_argument, NULL, OPT_CLASS },
                { "without-key", no_argument, NULL, OPT_WITHOUT_KEY },
                { "all", no_argument, NULL, OPT_ALL },
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case OPT_SCHOOL: a->school = optarg; break;
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_DRY_RUN: a->dry_run = true; break;
                case OPT_KEEP_INE: a->keep_ine = true; break;
                case OPT_JSON: a->json = true; break;
                case OPT_CLASS: a->class_name = optarg; break;
                case OPT_WITHOUT_KEY: a->without_key = true; break;
                case OPT_ALL: a->all = true; break;
                default:
                        return usage_bad_option(&command_roster, argv);
                }
                if ((c == OPT_DRY_RUN || c == OPT_KEEP_INE) && !is_import)
                        return usage_error(&command_roster, _("roster list: --%s is for roster import"),
                                           c == OPT_DRY_RUN ? "dry-run" : "keep-ine");
                if ((c == OPT_CLASS || c == OPT_WITHOUT_KEY || c == OPT_ALL) && is_import)
                        return usage_error(&command_roster, _("roster import: --%s is for roster list"),
                                           c == OPT_CLASS ? "class" : c == OPT_ALL ? "all" : "without-key");
        }
        if (is_import) {
                if (argc - optind < 1)
                        return usage_error(&command_roster, _("roster import needs a roster file"));
                a->files = argv + optind;
                a->n_files = (size_t) (argc - optind);
        } else if (argc != optind)
                return usage_error(&command_roster, _("roster list takes no file"));
        return EXIT_OK;
}

/* ---- import ---- */

struct import_state {
        struct journal_sync *sync;
        bool json;
};

static int on_pupil(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        struct import_state *st = userdata;
        struct journal_pupil jp = {
                .id = p->id, .school = p->school_uai, .family_name = p->family_name, .first_name = p->first_name,
                .class_name = p->class_name, .has_left = p->has_left, .ine_hmac = p->ine_hmac,
                .has_derived_id = p->has_derived_id, .line = p->line,
        };
        return journal_sync_pupil(st->sync, &jp, err);
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

static int on_change(void *userdata, enum journal_change c, const struct journal_pupil_row *p, const char *old_class) {
        struct import_state *st = userdata;

        if (st->json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "change", json_object_new_string(journal_change_to_string(c)));
                json_object_object_add(o, "school", json_object_new_string(p->school));
                json_object_object_add(o, "id", json_object_new_string(p->id));
                json_object_object_add(o, "family_name", json_object_new_string(p->family_name));
                json_object_object_add(o, "first_name", json_object_new_string(p->first_name));
                json_object_object_add(o, "class", json_object_new_string(p->class_name));
                if (old_class)
                        json_object_object_add(o, "old_class", json_object_new_string(old_class));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return 0;
        }
        _cleanup_free_ char *class = safe_text(p->class_name), *from = safe_text(old_class),
                            *family = safe_text(p->family_name), *first = safe_text(p->first_name);

        if (from)
                /* TRANSLATORS: the change, the school's UAI, the new class, the old class, family name,
                 * first name, pupil id. */
                printf(_("%-8s %s %s (from %s)  %s %s  [%s]\n"), change_words(c), esc(p->school), class ? class : "",
                       from, family ? family : "", first ? first : "", p->id);
        else
                printf(_("%-8s %s %s  %s %s  [%s]\n"), change_words(c), esc(p->school), class ? class : "",
                       family ? family : "", first ? first : "", p->id);
        return 0;
}

static void print_file(const struct roster_args *a, const char *file, const struct roster_info *info) {
        if (a->json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "file", json_object_new_string(file));
                json_object_object_add(o, "format", json_object_new_string(roster_format_to_string(info->format)));
                json_object_object_add(o, "encoding", json_object_new_string(info->encoding));
                json_object_object_add(o, "school", json_object_new_string(info->school_uai));
                json_object_object_add(o, "year", json_object_new_string(info->year));
                json_object_object_add(o, "pupils", json_object_new_int64((int64_t) info->n_pupils));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
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
}

static void print_summary(const struct roster_args *a, const struct journal_sync_counts *n) {
        if (a->json) {
                struct json_object *o = json_object_new_object(), *s = json_object_new_object();
                json_object_object_add(s, "files", json_object_new_int64((int64_t) a->n_files));
                json_object_object_add(s, "dry_run", json_object_new_boolean(a->dry_run));
                json_object_object_add(s, "pupils", json_object_new_int64((int64_t) n->total));
                json_object_object_add(s, "added", json_object_new_int64((int64_t) n->added));
                json_object_object_add(s, "moved", json_object_new_int64((int64_t) n->moved));
                json_object_object_add(s, "renamed", json_object_new_int64((int64_t) n->renamed));
                json_object_object_add(s, "left", json_object_new_int64((int64_t) n->left));
                json_object_object_add(s, "rejoined", json_object_new_int64((int64_t) n->rejoined));
                json_object_object_add(s, "unchanged", json_object_new_int64((int64_t) n->unchanged));
                json_object_object_add(o, "summary", s);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return;
        }
        /* TRANSLATORS: counts of pupils: in all, added, moved to another class, renamed, left,
         * back again, unchanged; then " (dry run: nothing was written)" or nothing. */
        printf(ngettext("%" PRIu64 " pupil: %" PRIu64 " added, %" PRIu64 " moved, %" PRIu64 " renamed, %" PRIu64 " left, %"
                        PRIu64 " rejoined, %" PRIu64 " unchanged%s\n",
                        "%" PRIu64 " pupils: %" PRIu64 " added, %" PRIu64 " moved, %" PRIu64 " renamed, %" PRIu64 " left, %"
                        PRIu64 " rejoined, %" PRIu64 " unchanged%s\n", n->total),
               n->total, n->added, n->moved, n->renamed, n->left,
               n->rejoined, n->unchanged, a->dry_run ? _(" (dry run: nothing was written)") : "");
}

static int run_import(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_sync_freep) struct journal_sync *sync = NULL;
        struct roster_args a = {};
        struct roster_info info = {};
        struct journal_sync_counts counts = {};
        struct cart_error err = {};
        uint8_t secret[ROSTER_SECRET_LEN];
        struct roster_options o;
        struct import_state st;
        char buf[4096];
        const char *path;
        int code, r;

        code = parse(argc, argv, true, &a);
        if (code != EXIT_OK)
                return code;
        if (a.school && !roster_uai_is_valid(a.school))
                return usage_error(&command_roster, _("--school %s: not a UAI (7 digits and a letter, such as 0750001A)"),
                                   a.school);
        r = roster_secret_load(arg_config->state_dir, secret, &err);
        if (r < 0)
                return log_fail(r, _("station secret: %s"), ERROR_TEXT(&err, r));

        /* A dry run against a journal that does not exist yet runs on an empty one in memory. */
        path = journal_arg_path(a.journal, buf, sizeof(buf));
        code = journal_arg_open(a.dry_run && !journal_is_url(path) && access(path, F_OK) < 0 ? ":memory:" : path,
                                true, &j);
        if (code != EXIT_OK)
                return code;
        st = (struct import_state) { .json = a.json };
        r = journal_sync_begin(j, a.files[0], on_change, &st, &sync, &err);
        if (r < 0)
                return journal_fail(r, &err);
        st.sync = sync;
        o = (struct roster_options) { .school_uai = a.school, .keep_ine = a.keep_ine, .secret = secret,
                                      .secret_len = sizeof(secret) };
        for (size_t i = 0; i < a.n_files && r >= 0; i++) {
                if (i > 0)
                        r = journal_sync_next_file(sync, a.files[i]);
                if (r >= 0)
                        r = roster_read(a.files[i], &o, on_pupil, &st, &info, &err);
                if (r >= 0)
                        print_file(&a, a.files[i], &info);
        }
        if (r >= 0)
                r = journal_sync_finish(sync, a.dry_run, &counts, &err);
        explicit_bzero(secret, sizeof(secret));
        if (r < 0) {
                /* TRANSLATORS: %s is why the roster import failed. */
                log_error(r, _("%s (nothing was imported)"), ERROR_TEXT(&err, r));
                return journal_exit_code(r);
        }
        print_summary(&a, &counts);
        return EXIT_OK;
}

/* ---- list ---- */

struct list_state {
        bool json;
        size_t n;
};

static int on_list(void *userdata, const struct journal_pupil_row *p) {
        struct list_state *st = userdata;

        if (st->json) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "school", json_object_new_string(p->school));
                json_object_object_add(o, "class", json_object_new_string(p->class_name));
                json_object_object_add(o, "rank", json_object_new_int64(p->rank));
                json_object_object_add(o, "id", json_object_new_string(p->id));
                json_object_object_add(o, "family_name", json_object_new_string(p->family_name));
                json_object_object_add(o, "first_name", json_object_new_string(p->first_name));
                json_object_object_add(o, "active", json_object_new_boolean(p->is_active));
                json_object_object_add(o, "key", p->key_uid ? json_object_new_string(p->key_uid) : NULL);
                printf("%s%s", st->n ? ",\n" : "[\n",
                       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                printf("%s\t", esc(p->school));
                fput_safe(p->class_name, stdout);
                printf("\t%s\t", p->id);
                fput_safe(p->family_name, stdout);
                fputc('\t', stdout);
                fput_safe(p->first_name, stdout);
                printf("\t%s%s\n", p->key_uid ? p->key_uid : "-", p->is_active ? "" : "\t(left)");
        }
        st->n++;
        return 0;
}

static int run_list(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct roster_args a = {};
        struct cart_error err = {};
        struct list_state st = {};
        int code, r;

        code = parse(argc, argv, false, &a);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        st.json = a.json;
        r = journal_pupils_list(j, &(struct journal_pupil_filter) { .school = a.school, .class_name = a.class_name,
                                .without_key = a.without_key, .include_left = a.all }, on_list, &st, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (st.json)
                puts(st.n ? "\n]" : "[]");
        return EXIT_OK;
}

static int run_roster(int argc, char **argv) {
        if (argc < 2)
                return usage_error(&command_roster, _("missing sub-command (import, list)"));
        if (streq(argv[1], "import"))
                return run_import(argc - 1, argv + 1);
        if (streq(argv[1], "list"))
                return run_list(argc - 1, argv + 1);
        return usage_error(&command_roster, _("unknown sub-command '%s'"), argv[1]);
}
