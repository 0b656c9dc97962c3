/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable roster: sync a school's roster into the journal, list its pupils. */
#include <inttypes.h>
#include <json-c/json.h>

#include "commands.h"
#include "journal-arg.h"
#include "journal/journal-import.h"
#include "roster.h"
#include "roster/roster.h"

static int run_roster(int argc, char **argv);

const struct command command_roster = {
        .name = "roster",
        .summary = N_("import a school's roster into the journal, list its pupils"),
        .help =
        N_("Usage: cartable roster import FILE... [--school UAI] [--journal DB] [--dry-run] [--keep-ine]\n"
        "                                       [--force] [--match-names] [--json]\n"
        "       cartable roster list [--school UAI] [--class C] [--without-key] [--all] [--journal DB] [--json]\n"
        "\n"
        "  import  read SIECLE exports (XML or their .zip) or CSV exports (Pronote, ONDE,\n"
        "          an ENT, a spreadsheet) and sync the journal with them, all in one\n"
        "          transaction: new pupils are added, class and name changes applied,\n"
        "          pupils the files mark as left (or no longer list) are marked left.\n"
        "          Prints every change, and counts each pupil of the files once.\n"
        "  list    pupils in roster order: school, class, then the order of the last\n"
        "          roster imported; with the key each one holds.\n"
        "\n"
        "Options:\n"
        "  --journal DB     the journal (default: [journal] path, or STATE_DIR/journal.db)\n"
        "  --school UAI     import: the school of a file that names none; list: one school\n"
        "  --dry-run        import: print the changes, write nothing\n"
        "  --keep-ine       import: keep each INE as a keyed hash (HMAC with the station secret)\n"
        "  --force          import: take a SIECLE export of an earlier school year than the\n"
        "                   last one imported for its school\n"
        "  --match-names    import: a pupil whose id the journal does not know takes the id of\n"
        "                   the one pupil of the school with the same names and class (after\n"
        "                   a change of export: SIECLE, then an ENT's CSV)\n"
        "  --class C        list: one class\n"
        "  --without-key    list: only pupils holding no key\n"
        "  --all            list: also pupils who left\n"
        "  --json           import: one JSON object per change, then a summary (NDJSON);\n"
        "                   list: a JSON array\n"
        "\n"
        "Exit codes: 0 success; 64 usage; 65 bad roster (the message names file and line), a\n"
        "stale export, another id scheme, not a journal, or a journal from a newer cartable;\n"
        "66 missing roster or journal, or (list) a school or class the journal does not hold;\n"
        "69 the journal's server cannot be reached; 70 internal error. See cartable-roster(1).\n"),
        .run = run_roster,
};

enum {
        OPT_SCHOOL = 0x100, OPT_JOURNAL, OPT_DRY_RUN, OPT_KEEP_INE, OPT_JSON, OPT_CLASS, OPT_WITHOUT_KEY, OPT_ALL,
        OPT_FORCE, OPT_MATCH_NAMES,
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
                { "force", no_argument, NULL, OPT_FORCE },
                { "match-names", no_argument, NULL, OPT_MATCH_NAMES },
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
                case OPT_FORCE: a->force = true; break;
                case OPT_MATCH_NAMES: a->match_names = true; break;
                default:
                        return usage_bad_option(&command_roster, argv);
                }
                if ((c == OPT_DRY_RUN || c == OPT_KEEP_INE || c == OPT_FORCE || c == OPT_MATCH_NAMES) && !is_import)
                        return usage_error(&command_roster, _("roster list: --%s is for roster import"),
                                           c == OPT_DRY_RUN ? "dry-run" : c == OPT_KEEP_INE ? "keep-ine" :
                                           c == OPT_FORCE ? "force" : "match-names");
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

/* ---- list ---- */

struct list_state {
        bool json;
        size_t n;
};

/* The release the pupil's key holds: {"name", "version", "serial"}, or null. */
static struct json_object *release_json(const struct journal_pupil_row *p) {
        struct json_object *o;

        if (!p->release_name)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(p->release_name));
        json_object_object_add(o, "version", json_object_new_string(p->release_version ? p->release_version : ""));
        json_object_object_add(o, "serial", json_object_new_int64(p->release_serial));
        return o;
}

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
                json_object_object_add(o, "release", release_json(p));
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
                printf("\t%s\t", p->key_uid ? p->key_uid : "-");
                if (p->release_name) {
                        fput_safe(p->release_name, stdout);
                        fputc(' ', stdout);
                        fput_safe(p->release_version, stdout);
                } else
                        fputc('-', stdout);
                printf("%s\n", p->is_active ? "" : "\t(left)");
        }
        st->n++;
        return 0;
}

/* The names the journal knows, for a message: "6A, 6B, 5A" (the first few). */
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
        code = journal_arg_check_known(j, a.school, a.class_name);
        if (code != EXIT_OK)
                return code;
        st.json = a.json;
        r = journal_pupils_list(j, &(struct journal_pupil_filter) { .school = a.school, .class_name = a.class_name,
                                .without_key = a.without_key, .include_left = a.all, .with_release = true },
                                on_list, &st, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (st.json)
                puts(st.n ? "\n]" : "[]");
        return EXIT_OK;
}

static int run_roster(int argc, char **argv) {
        if (argc < 2)
                return usage_error(&command_roster, _("missing sub-command (import, list)"));
        if (streq(argv[1], "import")) {
                struct roster_args a = {};
                int code = parse(argc - 1, argv + 1, true, &a);
                return code != EXIT_OK ? code : roster_import_run(&a);
        }
        if (streq(argv[1], "list"))
                return run_list(argc - 1, argv + 1);
        return usage_error(&command_roster, _("unknown sub-command '%s'"), argv[1]);
}
