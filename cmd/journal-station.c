/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable journal station add|list|remove|key: the stations the journal's owner registers. */
#include <inttypes.h>

#include "commands.h"
#include "journal-arg.h"

enum { OPT_JOURNAL = 0x100, OPT_ROLE, OPT_SCHOOL, OPT_PUBLIC_KEY };

struct station_args {
        const char *journal, *role, *public_key, *name;
        const char **schools;      /* argv's strings */
        size_t n_schools;
};

/* allowed: the options this sub-command takes, one letter each (j r s p); N: a NAME argument. */
static int parse(int argc, char **argv, const char *allowed, struct station_args *a) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "role", required_argument, NULL, OPT_ROLE },
                { "school", required_argument, NULL, OPT_SCHOOL },
                { "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
                {}
        };
        int c, i;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, &i)) >= 0) {
                if (c == '?')
                        return usage_bad_option(&command_journal, argv);
                if (!strchr(allowed, "jrsp"[c - OPT_JOURNAL]))
                        return usage_error(&command_journal, _("journal station %s: --%s is not an option of it"),
                                           argv[0], options[c - OPT_JOURNAL].name);
                switch (c) {
                case OPT_JOURNAL: a->journal = optarg; break;
                case OPT_ROLE: a->role = optarg; break;
                case OPT_SCHOOL: a->schools[a->n_schools++] = optarg; break;
                case OPT_PUBLIC_KEY: a->public_key = optarg; break;
                }
        }
        if (strchr(allowed, 'N')) {
                if (optind == argc)
                        return usage_error(&command_journal, _("journal station %s: which station? (its name)"), argv[0]);
                a->name = argv[optind++];
        }
        if (optind != argc)
                return usage_error(&command_journal, _("journal station %s: unexpected argument '%s'"), argv[0],
                                   argv[optind]);
        return EXIT_OK;
}

static int run_add(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_free_ const char **schools = calloc((size_t) argc, sizeof(char *));
        struct station_args a = { .schools = schools };
        struct cart_error err = {};
        char key[65], buf[4096];
        int code, r;

        if (!schools)
                return log_fail(-ENOMEM, _("out of memory"));
        code = parse(argc, argv, "jrspN", &a);
        if (code != EXIT_OK)
                return code;
        if (a.n_schools == 0)
                return usage_error(&command_journal, _("journal station add: --school UAI names a school the station "
                                                       "serves (once per school)"));
        if (journal_is_url(journal_arg_path(a.journal, buf, sizeof(buf))) && !a.role)
                return usage_error(&command_journal, _("journal station add: --role ROLE names the station's "
                                                       "PostgreSQL role"));
        if (a.public_key) {
                r = journal_public_key_read(a.public_key, key, &err);
                if (r < 0)
                        return journal_fail(r, &err);
        }
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_station_add(j, &(struct journal_station) { .name = a.name, .role = a.role,
                                                                .public_key = a.public_key ? key : NULL,
                                                                .schools = a.schools, .n_schools = a.n_schools }, &err);
        if (r < 0)
                return journal_fail(r, &err);
        /* TRANSLATORS: a station's name, then its database role (or -). */
        printf(_("station %s registered (role %s)\n"), esc(a.name), a.role ? esc(a.role) : "-");
        if (!a.public_key)
                log_warn(_("station %s has no public key (--public-key): its events' signatures are not "
                           "checked"), esc(a.name));
        return EXIT_OK;
}

static int on_station(void *userdata _unused_, const struct journal_station *s) {
        printf("%s\t%s\t", esc(s->name), s->role ? esc(s->role) : "-");
        for (size_t i = 0; i < s->n_schools; i++)
                printf("%s%s", i ? "," : "", esc(s->schools[i]));
        printf("\t%.16s\t%" PRId64 "\t%s\n", s->public_key ? s->public_key : "-", s->signed_from,
               s->removed_usec >= 0 ? "removed" : "registered");
        return 0;
}

static int run_list(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct station_args a = {};
        struct cart_error err = {};
        int code, r;

        code = parse(argc, argv, "j", &a);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_stations_list(j, on_station, NULL, &err);
        return r < 0 ? journal_fail(r, &err) : EXIT_OK;
}

static int run_remove(int argc, char **argv) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        struct station_args a = {};
        struct cart_error err = {};
        int code, r;

        code = parse(argc, argv, "jN", &a);
        if (code != EXIT_OK)
                return code;
        code = journal_arg_open(a.journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_station_remove(j, a.name, &err);
        if (r < 0)
                return journal_fail(r, &err);
        printf(_("station %s removed: it can no longer write; its events stay and verify\n"), esc(a.name));
        return EXIT_OK;
}

/* This station's public key, the pair made in the state directory on first use. */
static int run_key(int argc, char **argv) {
        _cleanup_free_ char *path = NULL, *pem = NULL;
        struct station_args a = {};
        struct cart_error err = {};
        char key[65];
        int code, r;

        code = parse(argc, argv, "", &a);
        if (code != EXIT_OK)
                return code;
        path = journal_arg_sign_key();
        if (!path)
                return log_fail(-ENOMEM, _("out of memory"));
        r = journal_sign_key_public(path, key, &err);
        if (r < 0)
                return journal_fail(r, &err);
        r = journal_public_key_pem(key, &pem);
        if (r < 0)
                return log_fail(r, _("out of memory"));
        fputs(pem, stdout);
        return EXIT_OK;
}

int run_journal_station(int argc, char **argv) {
        if (argc < 2)
                return usage_error(&command_journal, _("journal station: missing sub-command (add, list, remove, key)"));
        if (streq(argv[1], "add"))
                return run_add(argc - 1, argv + 1);
        if (streq(argv[1], "list"))
                return run_list(argc - 1, argv + 1);
        if (streq(argv[1], "remove"))
                return run_remove(argc - 1, argv + 1);
        if (streq(argv[1], "key"))
                return run_key(argc - 1, argv + 1);
        return usage_error(&command_journal, _("journal station: unknown sub-command '%s'"), argv[1]);
}
