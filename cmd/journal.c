/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable journal: show a pupil's or a key's history, export every event, verify the chain. */
#include <inttypes.h>
#include <json-c/json.h>

#include "commands.h"
#include "base/csv.h"
#include "journal-arg.h"
#include "output-arg.h"
#include "batch/spool.h"
#include "journal/journal-life.h"
#include "reason.h"

static int run_journal(int argc, char **argv);

const struct command command_journal = {
        .name = "journal",
        .summary = N_("show, export and verify the key journal"),
        .help =
        N_("Usage: cartable journal init [--journal DB]\n"
        "       cartable journal show [--pupil ID | --key SERIAL] [--journal DB] [--json]\n"
        "       cartable journal export --format csv|json [--output FILE] [--journal DB]\n"
        "       cartable journal verify [--head STATION:N:HASH]... [--journal DB]\n"
        "       cartable journal merge SOURCE [--journal DB]\n"
        "       cartable journal push SOURCE --to postgresql://...\n"
        "       cartable journal push-spool [--journal DB]\n"
        "       cartable journal purge --left-before YYYY-MM-DD [--dry-run] [--journal DB]\n"
        "       cartable journal station add NAME --role ROLE --school UAI... [--public-key FILE]\n"
        "                                [--journal DB]\n"
        "       cartable journal station list|remove NAME [--journal DB]\n"
        "       cartable journal station key\n"
        "\n"
        "  init    create a new journal (a file 0600, or a PostgreSQL database's schema);\n"
        "          roster import creates one too, no other command does.\n"
        "  show    events in journal order: all, one pupil's (ID or UAI/ID), or one key's\n"
        "          (its USB serial, FAT volume ID or journal key id).\n"
        "  export  every event, for auditors and scripts: CSV with a fixed header (cells\n"
        "          that a spreadsheet would take for a formula start with a quote) or JSON.\n"
        "  verify  recompute each station's hash chain; name the first edited, inserted or\n"
        "          deleted event; print each chain's head (record it elsewhere, and give\n"
        "          it back with --head to prove that no tail was cut, no chain rewritten).\n"
        "  merge   add SOURCE's events (a journal file or URL, say an offline station's)\n"
        "          to the journal, by uuid: merging twice adds nothing, each station's\n"
        "          chain verifies there; a pupil issued keys on two stations is reported.\n"
        "  push    merge SOURCE into the PostgreSQL journal --to names.\n"
        "  push-spool  record the key ends a batch kept in STATE_DIR/journal-spool/ when\n"
        "          the journal server went away (the next batch does it too).\n"
        "  purge   erase the personal data of pupils who left before the date (names, ids),\n"
        "          keep anonymous counts and key events; the chain stays verifiable.\n"
        "          --dry-run lists who would go.\n"
        "  station add  (the journal's owner) register a station: its name, its PostgreSQL\n"
        "          role (held by the server to that name and to its schools' pupils and\n"
        "          keys), the schools it serves, its public key (its events' signatures\n"
        "          are checked by verify). list, remove: the registered stations.\n"
        "  station key  print this station's public key (PEM; the pair is made in\n"
        "          STATE_DIR/station.key, 0600, on first use), for station add.\n"
        "\n"
        "Options:\n"
        "  --journal DB     the journal: a file, or a postgresql:// URL without password\n"
        "                   (default: [journal] url or path, or STATE_DIR/journal.db)\n"
        "  --to URL         push: the PostgreSQL journal\n"
        "  --pupil ID       show: one pupil's events\n"
        "  --key SERIAL     show: one key's events\n"
        "  --format F       export: csv or json\n"
        "  --output FILE    export: write FILE (never overwritten) instead of stdout\n"
        "  --json           show: a JSON array\n"
        "  --head S:N:HASH  verify: station S's event N must still have that hash\n"
        "  --role ROLE      station add: the station's PostgreSQL role (it must exist)\n"
        "  --school UAI     station add: a school the station serves (repeat it)\n"
        "  --public-key F   station add: the station's public key (journal station key)\n"
        "\n"
        "Exit codes: 0 success (verify: every chain intact); 1 verify: a chain is broken;\n"
        "merge, push: merged, with conflicts to settle; 4 a journal file or spool refused\n"
        "(a symbolic link, another user's, writable by others), or a purge not finished;\n"
        "64 usage; 65 not a journal, from a newer cartable, (merge, push) a source whose\n"
        "chain does not verify or does not continue the target's, or (push-spool) a spool\n"
        "file refused; 66 no journal (it names the path), unknown pupil; 69 the journal\n"
        "server cannot be reached; 73 output exists or cannot be created.\n"
        "See cartable-journal(1).\n"),
        .run = run_journal,
};

enum { OPT_JOURNAL = 0x100, OPT_PUPIL, OPT_KEY, OPT_JSON, OPT_FORMAT, OPT_OUTPUT, OPT_HEAD, OPT_TO };

struct journal_args {
        const char *journal, *pupil, *key, *format, *output, *to;
        const char *source;        /* merge, push: the one argument */
        bool json;
        char **heads;              /* --head values, argv's strings */
        size_t n_heads;
};

static int parse(int argc, char **argv, const char *allowed, struct journal_args *a) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "pupil", required_argument, NULL, OPT_PUPIL },
                { "key", required_argument, NULL, OPT_KEY },
                { "json", no_argument, NULL, OPT_JSON },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "head", required_argument, NULL, OPT_HEAD },
                { "to", required_argument, NULL, OPT_TO },
                {}
        };
        int c, i;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, &i)) >= 0) {
                if (c == '?')
                        return usage_bad_option(&command_journal, argv);
                /* allowed: one letter per option this sub-command takes, j p k J f o H T;
                 * S: it takes one argument, the source journal. */
                if (!strchr(allowed, "jpkJfoHT"[c - OPT_JOURNAL]))
                        return usage_error(&command_journal, _("journal %s: --%s is not an option of it"),
                                           argv[0], options[c - OPT_JOURNAL].name);
                switch (c) {
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_PUPIL: a->pupil = optarg; break;
                case OPT_KEY: a->key = optarg; break;
                case OPT_JSON: a->json = true; break;
                case OPT_FORMAT: a->format = optarg; break;
                case OPT_OUTPUT: a->output = optarg; break;
                case OPT_HEAD: a->heads[a->n_heads++] = optarg; break;
                case OPT_TO: a->to = optarg; break;
                }
        }
        if (strchr(allowed, 'S')) {
                if (optind == argc)
                        return usage_error(&command_journal, _("journal %s: which journal? (a file or a URL)"), argv[0]);
                a->source = argv[optind++];
        }
        if (optind != argc)
                return usage_error(&command_journal, _("journal %s: unexpected argument '%s'"), argv[0], argv[optind]);
        return EXIT_OK;
}

static void format_time(int64_t usec, char ret[32]) {
        if (usec < 0)
                ret[0] = 0;
        else
                time_format(usec / 1000000, ret);
}

/* ---- JSON, for show --json and export --format json ---- */

static struct json_object *jstr(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *jint(int64_t v) {
        return v < 0 ? NULL : json_object_new_int64(v);
}

static struct json_object *event_json(const struct journal_event_row *e) {
        struct json_object *o = json_object_new_object();
        char t[32];

        format_time(e->time_usec, t);
        json_object_object_add(o, "seq", jint(e->seq));
        json_object_object_add(o, "uuid", jstr(e->uuid));
        json_object_object_add(o, "station", jstr(e->station));
        json_object_object_add(o, "station_seq", jint(e->station_seq));
        json_object_object_add(o, "kind", jstr(e->kind));
        json_object_object_add(o, "time", jstr(t));
        json_object_object_add(o, "time_usec", jint(e->time_usec));
        json_object_object_add(o, "operator", jstr(e->operator));
        json_object_object_add(o, "pupil_school", jstr(e->pupil_school));
        json_object_object_add(o, "pupil_id", jstr(e->pupil_id));
        json_object_object_add(o, "family_name", jstr(e->family_name));
        json_object_object_add(o, "first_name", jstr(e->first_name));
        json_object_object_add(o, "class", jstr(e->class_name));
        json_object_object_add(o, "key", jstr(e->key_uid));
        json_object_object_add(o, "key_serial", jstr(e->key_serial));
        json_object_object_add(o, "release_name", jstr(e->release_name));
        json_object_object_add(o, "release_version", jstr(e->release_version));
        json_object_object_add(o, "release_serial", jint(e->release_serial));
        json_object_object_add(o, "release_key_id", jstr(e->release_key_id));
        json_object_object_add(o, "outcome", jstr(e->outcome));
        json_object_object_add(o, "reason", jstr(e->reason));
        json_object_object_add(o, "step", jstr(e->step));
        json_object_object_add(o, "message", jstr(e->message));
        json_object_object_add(o, "volume_id", jstr(e->volume_id));
        json_object_object_add(o, "bytes_written", jint(e->bytes_written));
        json_object_object_add(o, "bytes_read", jint(e->bytes_read));
        json_object_object_add(o, "started_usec", jint(e->started_usec));
        json_object_object_add(o, "write_usec", jint(e->write_usec));
        json_object_object_add(o, "read_usec", jint(e->read_usec));
        json_object_object_add(o, "prev_hash", jstr(e->prev_hash));
        json_object_object_add(o, "hash", jstr(e->hash));
        json_object_object_add(o, "format", json_object_new_int(e->format));
        json_object_object_add(o, "pupil_commit", jstr(e->pupil_commit));
        json_object_object_add(o, "run", jstr(e->run));
        json_object_object_add(o, "message_commit", jstr(e->message_commit));
        return o;
}

struct out_state {
        FILE *f;
        size_t n;
        struct csv_writer csv;
};

static int on_event_json(void *userdata, const struct journal_event_row *e) {
        struct out_state *st = userdata;
        struct json_object *o = event_json(e);

        fprintf(st->f, "%s%s", st->n++ ? ",\n" : "[\n",
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return ferror(st->f) ? -EIO : 0;
}

/* ---- CSV (base/csv.h: RFC 4180, formulas guarded) ---- */

static const char *const csv_header[] = {
        "seq", "uuid", "station", "station_seq", "kind", "time", "operator", "pupil_school", "pupil_id",
        "family_name", "first_name", "class", "key", "key_serial", "release_name", "release_version",
        "release_serial", "release_key_id", "outcome", "reason", "step", "message", "volume_id",
        "bytes_written", "bytes_read", "started_usec", "write_usec", "read_usec", "prev_hash", "hash",
};

static int on_event_csv(void *userdata, const struct journal_event_row *e) {
        struct out_state *st = userdata;
        struct csv_writer *w = &st->csv;
        char t[32];

        format_time(e->time_usec, t);
        csv_int(w, e->seq);
        csv_cell(w, e->uuid);
        csv_cell(w, e->station);
        csv_int(w, e->station_seq);
        csv_cell(w, e->kind);
        csv_cell(w, t);
        csv_cell(w, e->operator);
        csv_cell(w, e->pupil_school);
        csv_cell(w, e->pupil_id);
        csv_cell(w, e->family_name);
        csv_cell(w, e->first_name);
        csv_cell(w, e->class_name);
        csv_cell(w, e->key_uid);
        csv_cell(w, e->key_serial);
        csv_cell(w, e->release_name);
        csv_cell(w, e->release_version);
        csv_int(w, e->release_serial);
        csv_cell(w, e->release_key_id);
        csv_cell(w, e->outcome);
        csv_cell(w, e->reason);
        csv_cell(w, e->step);
        csv_cell(w, e->message);
        csv_cell(w, e->volume_id);
        csv_int(w, e->bytes_written);
        csv_int(w, e->bytes_read);
        csv_int(w, e->started_usec);
        csv_int(w, e->write_usec);
        csv_int(w, e->read_usec);
        csv_cell(w, e->prev_hash);
        csv_cell(w, e->hash);
        st->n++;
        return csv_row_end(w);
}

/* ---- show ---- */

/* The words of an event's kind and outcome, for people (--json and exports keep the codes). */
static const char *kind_words(const char *kind) {
        /* TRANSLATORS: the kinds of journal events, in journal show's second column (8 wide). */
        static const char *const kinds[][2] = {
                { "flashed", N_("flashed") }, { "issued", N_("issued") }, { "verified", N_("verified") },
                { "returned", N_("returned") }, { "lost", N_("lost") }, { "stolen", N_("stolen") },
                { "replaced", N_("replaced") }, { "retired", N_("retired") }, { "purged", N_("purged") },
                { "erased", N_("erased") }, { "updated", N_("updated") }, { "repaired", N_("repaired") },
                /* TRANSLATORS: the outcomes of journal events, in journal show's third column (7 wide). */
                { "ok", N_("ok") }, { "refused", N_("refused") }, { "failed", N_("failed") },
                { "skipped", N_("skipped") }, { "cancelled", N_("cancelled") }, { "started", N_("started") },
                { "intact", N_("intact") }, { "modified", N_("modified") }, { "swapped", N_("swapped") },
        };
        for (size_t i = 0; kind && i < ELEMENTSOF(kinds); i++)
                if (streq(kind, kinds[i][0]))
                        return _(kinds[i][1]);
        return kind ? kind : "";
}

static int on_event_text(void *userdata, const struct journal_event_row *e) {
        struct out_state *st = userdata;
        _cleanup_free_ char *family = safe_text(e->family_name), *first = safe_text(e->first_name),
                            *class = safe_text(e->class_name), *key = safe_text(e->key_uid),
                            *rel = safe_text(e->release_name), *ver = safe_text(e->release_version),
                            *reason = safe_text(e->reason), *op = safe_text(e->operator),
                            *station = safe_text(e->station), *msg = safe_text(e->message);
        char t[32];

        format_time(e->time_usec, t);
        printf("%s  %-8s %-7s", t, kind_words(e->kind), kind_words(e->outcome));
        if (e->pupil_id && family)
                /* TRANSLATORS: school UAI, pupil id, family name, first name, class. */
                printf(_("  pupil %s/%s (%s %s, %s)"), esc(e->pupil_school), esc(e->pupil_id), family, first ? first : "",
                       class ? class : "");
        else if (e->pupil_id)
                printf(_("  pupil %s/%s"), esc(e->pupil_school), esc(e->pupil_id));
        if (key)
                printf(_("  key %s"), key);
        if (rel)
                /* TRANSLATORS: release name, version, serial. */
                printf(_("  release %s %s (serial %" PRId64 ")"), rel, ver ? ver : "", e->release_serial);
        if (reason)
                /* TRANSLATORS: a reason code ("too-small"), kept as it is stored. */
                printf(_("  reason %s"), reason);
        if (op)
                /* TRANSLATORS: the operator who did it. */
                printf(_("  by %s"), op);
        /* TRANSLATORS: the station where it happened. */
        printf(_(" at %s"), station ? station : "?");
        if (msg)
                printf(": %s", msg);
        putchar('\n');
        st->n++;
        return 0;
}

/* The release the pupil's key holds, as its last good flash, update or repair recorded it. */
static int print_release_held(struct journal *j, const char *key_uid) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        struct cart_error err = {};
        int r;

        if (!key_uid)
                return EXIT_OK;
        r = journal_key_find(j, key_uid, &k, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (k->release_serial >= 0) {
                _cleanup_free_ char *rel = safe_text(k->release_name), *ver = safe_text(k->release_version);
                /* TRANSLATORS: journal show --pupil: the release name, version and serial the pupil's key holds. */
                printf(_("release held: %s %s (serial %" PRId64 ")\n"), rel ? rel : "", ver ? ver : "", k->release_serial);
        }
        return EXIT_OK;
}

static int run_show(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        struct journal_args a = {};
        struct out_state st = { .f = stdout };
        struct cart_error err = {};
        int code, r;

        code = parse(argc, argv, "jpkJ", &a);
        if (code != EXIT_OK)
                return code;
        if (a.pupil && a.key)
                return usage_error(&command_journal, _("journal show: --pupil or --key, not both"));
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        if (a.pupil) {
                r = journal_pupil_get(j, a.pupil, &p, &err);
                if (r < 0)
                        return journal_fail(r, &err);
                if (!a.json) {
                        _cleanup_free_ char *family = safe_text(p->family_name), *first = safe_text(p->first_name),
                                            *class = safe_text(p->class_name);
                        const char *key = p->key_uid ? p->key_uid : _("none");

                        if (p->is_active)
                                /* TRANSLATORS: school UAI, pupil id, family name, first name, class, the key held. */
                                printf(_("pupil %s/%s: %s %s, class %s; key: %s\n"), esc(p->school), esc(p->id), family ? family : "",
                                       first ? first : "", class ? class : "", key);
                        else
                                printf(_("pupil %s/%s: %s %s, class %s (left); key: %s\n"), esc(p->school), esc(p->id),
                                       family ? family : "", first ? first : "", class ? class : "", key);
                        code = print_release_held(j, p->key_uid);
                        if (code != EXIT_OK)
                                return code;
                }
        }
        r = journal_events_list(j, &(struct journal_event_filter) { .pupil = a.pupil, .key = a.key },
                                a.json ? on_event_json : on_event_text, &st, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (a.json)
                puts(st.n ? "\n]" : "[]");
        else if (st.n == 0 && a.key)
                return log_fail(-ENOENT, _("no event for key %s in the journal"), a.key);
        return EXIT_OK;
}

/* ---- export ---- */

static int run_export(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(output_arg_done) struct output_arg out = {};
        struct journal_args a = {};
        struct out_state st = {};
        struct cart_error err = {};
        int code, r;

        code = parse(argc, argv, "jfo", &a);
        if (code != EXIT_OK)
                return code;
        if (!a.format || !(streq(a.format, "csv") || streq(a.format, "json")))
                return usage_error(&command_journal, _("journal export needs --format csv or --format json"));
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        code = output_arg_open(&out, a.output);
        if (code != EXIT_OK)
                return code;
        st.f = out.f;
        st.csv = csv_writer_make(st.f, ',');
        if (streq(a.format, "csv"))
                csv_row(&st.csv, csv_header, ELEMENTSOF(csv_header));
        r = journal_events_list(j, NULL, streq(a.format, "csv") ? on_event_csv : on_event_json, &st, &err);
        if (r >= 0 && streq(a.format, "json"))
                fputs(st.n ? "\n]\n" : "[]\n", st.f);
        if (r == -EIO && ferror(st.f))
                return output_arg_fail(&out, r, &err);
        if (r < 0)
                return journal_fail(r, &err);
        return output_arg_finish(&out);
}

/* ---- verify ---- */

static void on_head(void *userdata, const struct journal_head *h) {
        size_t *n = userdata;
        _cleanup_free_ char *name = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&name, &len);

        /* The station's name is shown safe (no control characters), in a sentence of its own. */
        if (f) {
                fput_safe(h->station, f);
                fclose(f);
        }
        /* TRANSLATORS: a station, its number of events, then its head STATION:N:HASH (keep that
         * form: it is given back to journal verify --head). */
        printf(ngettext("station %s: %" PRId64 " event, intact; head %s:%" PRId64 ":%s\n",
                        "station %s: %" PRId64 " events, intact; head %s:%" PRId64 ":%s\n", (unsigned long) h->n_events),
               name ? name : "?", h->n_events, name ? name : "?", h->n_events, h->hash);
        *n += (size_t) h->n_events;
}

static int run_verify(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_free_ char **heads = calloc((size_t) argc, sizeof(char *));
        struct journal_args a = { .heads = heads };
        struct cart_error err = {};
        bool is_broken = false;
        size_t n = 0;
        int code, r;

        if (!heads)
                return log_fail(-ENOMEM, _("out of memory"));
        code = parse(argc, argv, "jH", &a);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        for (size_t i = 0; i < a.n_heads; i++) {
                char *hash = strrchr(a.heads[i], ':'), *count = NULL, *end;
                struct journal_head h = {};

                if (hash) {
                        *hash++ = 0;
                        count = strrchr(a.heads[i], ':');
                }
                if (count)
                        *count++ = 0;
                if (!count || !*a.heads[i] || strlen(hash) != JOURNAL_HASH_HEX_LEN)
                        return usage_error(&command_journal, _("--head: expected STATION:N:HASH, as journal verify prints it"));
                h = (struct journal_head) { .station = a.heads[i], .hash = hash };
                errno = 0;
                h.n_events = strtoll(count, &end, 10);
                if (errno || *end || h.n_events < 1)
                        return usage_error(&command_journal, _("--head: %s is not an event number"), count);
                r = journal_verify_head(j, &h, &err);
                if (r < 0)
                        return journal_fail(r, &err);
                if (r > 0) {
                        printf("BROKEN %s\n", err.msg);
                        is_broken = true;
                }
        }
        r = journal_verify(j, on_head, &n, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (r > 0)
                for (char *line = strtok(err.msg, "\n"); line; line = strtok(NULL, "\n"))
                        printf("BROKEN %s\n", line);
        if (r > 0 || is_broken) {
                log_error(-EBADMSG, _("the journal's hash chain is broken: it was changed outside cartable"));
                return EXIT_MODIFIED;
        }
        printf(ngettext("journal intact: %zu event\n", "journal intact: %zu events\n", n), n);
        return EXIT_OK;
}

/* ---- merge, push ---- */

static int on_conflict(void *userdata, const struct journal_conflict *c) {
        /* TRANSLATORS: keep CONFLICT at the start of the line: scripts match it. The
         * placeholders are the pupil's school and id, the key, the station, the other key. */
        printf(_("CONFLICT pupil %s/%s: key %s issued on station %s while holding key %s: both kept; "
                 "return or replace one of them\n"),
               esc(c->pupil_school), esc(c->pupil_id), esc(c->key_uid), esc(c->station), esc(c->other_key_uid));
        return 0;
}

static int merge_into(const char *target_name, const char *source_name) {
        _cleanup_(journal_closep) struct journal *target = NULL, *source = NULL;
        struct journal_merge_counts c = {};
        struct cart_error err = {};
        int code, r;

        code = journal_arg_open(source_name, false, &source);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(target_name, false, &target);
        if (code != EXIT_OK)
                return code;
        r = journal_merge(target, source, on_conflict, NULL, &c, &err);
        if (r < 0)
                return journal_fail(r, &err);
        printf(_("merged %s into %s: %llu events added, %llu already there; %llu pupils added; "
                 "%llu keys added, %llu updated; %llu conflicts\n"),
               esc(journal_name(source)), esc(journal_name(target)), (unsigned long long) c.events_added,
               (unsigned long long) c.events_present, (unsigned long long) c.pupils_added,
               (unsigned long long) c.keys_added, (unsigned long long) c.keys_updated,
               (unsigned long long) c.conflicts);
        if (c.pupils_purged > 0)
                printf(ngettext("%llu pupil purged here stays purged: not added, their keys and events kept without "
                                "their id\n",
                                "%llu pupils purged here stay purged: not added, their keys and events kept without "
                                "their id\n", c.pupils_purged), (unsigned long long) c.pupils_purged);
        if (c.conflicts > 0) {
                log_error(-EEXIST, ngettext("%llu pupil holds keys issued on two stations: settle it "
                                            "(journal show --pupil ID)",
                                            "%llu pupils hold keys issued on two stations: settle them "
                                            "(journal show --pupil ID)", c.conflicts),
                          (unsigned long long) c.conflicts);
                return EXIT_MODIFIED;
        }
        return EXIT_OK;
}

static int run_merge(int argc, char **argv) {
        struct journal_args a = {};
        int code = parse(argc, argv, "jS", &a);
        return code != EXIT_OK ? code : merge_into(a.journal, a.source);
}

static int run_push(int argc, char **argv) {
        struct journal_args a = {};
        int code = parse(argc, argv, "TS", &a);

        if (code != EXIT_OK)
                return code;
        if (!a.to || !journal_is_url(a.to))
                return usage_error(&command_journal, _("journal push: --to postgresql://... names the central journal"));
        return merge_into(a.to, a.source);
}

/* ---- init ---- */

/* The one command beside roster import that creates a journal: every other refuses one that
 * does not exist (a typo would otherwise start a stray journal). */
static int run_init(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct journal_args a = {};
        char buf[4096];
        const char *path;
        int code;

        code = parse(argc, argv, "j", &a);
        if (code != EXIT_OK)
                return code;
        path = journal_arg_path(a.journal, buf, sizeof(buf));
        if (!journal_is_url(path) && access(path, F_OK) == 0) {
                struct cart_error err = {};
                cart_error_reason_set(&err, -EEXIST, CART_REASON_OUTPUT_EXISTS, path);
                return journal_fail(-EEXIST, &err);
        }
        code = journal_arg_open(path, true, &j);
        if (code != EXIT_OK)
                return code;
        /* TRANSLATORS: the journal's path or URL, then its schema version. */
        printf(_("journal %s ready (schema version %d)\n"), esc(journal_name(j)), journal_schema_version(j));
        return EXIT_OK;
}

/* ---- push-spool ---- */

static void on_spooled(void *userdata, const struct spool_entry *e, int r, const struct cart_error *err) {
        uint64_t *n_refused = userdata;

        if (r < 0 || err->msg[0])
                log_error(r, "%s", ERROR_TEXT(err, r));
        if (r < 0 && r != -EEXIST && r != -ESRCH) {
                (*n_refused)++;
                return;
        }
        if (e->is_present)
                /* TRANSLATORS: a key's journal uid, the spool file (removed). */
                printf(_("%s: its end, kept locally in %s, was in the journal already: nothing recorded\n"),
                       esc(e->key_uid), esc(e->path));
        else
                printf(_("%s: its end, kept locally in %s by an earlier batch, is recorded\n"), esc(e->key_uid),
                       esc(e->path));
}

static int run_push_spool(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_free_ char *dir = NULL;
        struct journal_args a = {};
        struct cart_error err = {};
        uint64_t n_refused = 0;
        int code, r;

        code = parse(argc, argv, "j", &a);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        if (asprintf(&dir, "%s/%s", arg_config->state_dir, SPOOL_DIR_NAME) < 0)
                return log_fail(-ENOMEM, "%s", strerror(ENOMEM));
        r = spool_replay(dir, j, on_spooled, &n_refused, &err);
        if (r < 0)
                return journal_fail(r, &err);
        printf(ngettext("%d key end recorded from %s\n", "%d key ends recorded from %s\n", r), r, esc(dir));
        if (n_refused) {
                log_error(-EBADMSG, ngettext("%" PRIu64 " file of the journal spool %s was refused and left in "
                                             "place (see above)",
                                             "%" PRIu64 " files of the journal spool %s were refused and left in "
                                             "place (see above)", n_refused), n_refused, dir);
                return EXIT_DATA;
        }
        return EXIT_OK;
}

static int run_journal(int argc, char **argv) {
        if (argc < 2)
                return usage_error(&command_journal,
                                   _("missing sub-command (init, show, export, verify, merge, push, station)"));
        if (streq(argv[1], "init"))
                return run_init(argc - 1, argv + 1);
        if (streq(argv[1], "show"))
                return run_show(argc - 1, argv + 1);
        if (streq(argv[1], "export"))
                return run_export(argc - 1, argv + 1);
        if (streq(argv[1], "purge"))
                return run_journal_purge(argc - 1, argv + 1);
        if (streq(argv[1], "verify"))
                return run_verify(argc - 1, argv + 1);
        if (streq(argv[1], "merge"))
                return run_merge(argc - 1, argv + 1);
        if (streq(argv[1], "push"))
                return run_push(argc - 1, argv + 1);
        if (streq(argv[1], "push-spool"))
                return run_push_spool(argc - 1, argv + 1);
        if (streq(argv[1], "station"))
                return run_journal_station(argc - 1, argv + 1);
        return usage_error(&command_journal, _("unknown sub-command '%s'"), argv[1]);
}
