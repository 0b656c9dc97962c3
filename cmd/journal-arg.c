/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common.h"
#include "journal-arg.h"
#include "journal/journal-import.h"

const char *journal_arg_path(const char *arg, char *buf, size_t len) {
        if (arg)
                return arg;
        if (arg_config->journal_path)
                return arg_config->journal_path;
        snprintf(buf, len, "%s/journal.db", arg_config->state_dir);
        return buf;
}

int journal_exit_code(int r) {
        switch (-r) {
        case EPROTONOSUPPORT:   /* a journal from a newer cartable: not ours to read */
                return EXIT_DATA;
        case ENOTUNIQ:          /* a pupil id that needs its school */
                return EXIT_USAGE;
        case ESRCH:
                return EXIT_DATA;
        case ECONNREFUSED: case ECONNRESET:   /* a PostgreSQL journal's server */
                return EXIT_UNAVAILABLE;
        case EACCES:            /* a PostgreSQL role without the right (a station's, purging) */
                return EXIT_CANTCREAT;
        default:
                return exit_code_for(r);
        }
}

int journal_fail(int r, const struct cart_error *err) {
        log_error(r, "%s", ERROR_TEXT(err, r));
        return journal_exit_code(r);
}

int journal_arg_open(const char *arg, bool create, struct journal **ret) {
        struct journal_options o = { .station = arg_config->station_name, .create = create };
        struct cart_error err = {};
        char buf[4096];
        int r;

        r = journal_open(journal_arg_path(arg, buf, sizeof(buf)), &o, ret, &err);
        return r < 0 ? journal_fail(r, &err) : EXIT_OK;
}

void fput_safe(const char *s, FILE *f) {
        if (s)
                fputs(esc(s), f);
}

/* A journal's text with control characters shown as '?' (fput_safe), as a string for a
 * sentence; NULL stays NULL. */
char *safe_text(const char *text) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (!text)
                return NULL;
        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fput_safe(text, f);
        fclose(f);
        return buf;
}

struct known {
        char text[512];
        unsigned n;
};

static int add_known(void *userdata, const char *name) {
        struct known *k = userdata;
        size_t len = strlen(k->text);

        if (k->n++ < 40 && len + strlen(name) + 8 < sizeof(k->text))
                snprintf(k->text + len, sizeof(k->text) - len, "%s%s", len ? ", " : "", esc(name));
        else if (!strstr(k->text, "..."))
                snprintf(k->text + len, sizeof(k->text) - len, ", ...");
        return 0;
}

int journal_arg_check_known(struct journal *j, const char *school, const char *class_name) {
        struct cart_error err = {};
        struct known k = {};
        int r;

        if (school) {
                r = journal_school_known(j, school, NULL, &err);
                if (r < 0)
                        return journal_fail(r, &err);
                if (r == 0) {
                        r = journal_names_list(j, NULL, false, add_known, &k, &err);
                        if (r < 0)
                                return journal_fail(r, &err);
                        /* TRANSLATORS: a school's UAI, then the UAIs the journal holds. */
                        log_error(-ENOENT, _("no school %s in the journal (it holds: %s)"), esc(school),
                                  k.n ? k.text : _("none"));
                        return EXIT_NOINPUT;
                }
        }
        if (class_name) {
                r = journal_school_known(j, school, class_name, &err);
                if (r < 0)
                        return journal_fail(r, &err);
                if (r == 0) {
                        r = journal_names_list(j, school, true, add_known, &k, &err);
                        if (r < 0)
                                return journal_fail(r, &err);
                        if (school)
                                /* TRANSLATORS: a class, a school's UAI, then the school's classes. */
                                log_error(-ENOENT, _("no class %s at school %s in the journal (its classes: %s)"),
                                          esc(class_name), esc(school), k.n ? k.text : _("none"));
                        else
                                log_error(-ENOENT, _("no class %s in the journal (its classes: %s)"), esc(class_name),
                                          k.n ? k.text : _("none"));
                        return EXIT_NOINPUT;
                }
        }
        return EXIT_OK;
}
