/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "common.h"
#include "journal-arg.h"

const char *journal_arg_path(const char *arg, char *buf, size_t len) {
        if (arg)
                return arg;
        if (arg_config->journal_path)
                return arg_config->journal_path;
        snprintf(buf, len, "%s/journal.db", arg_config->state_dir);
        return buf;
}

int journal_fail(int r, const struct cart_error *err) {
        log_error(r, "%s", ERROR_TEXT(err, r));
        return exit_code_for(r);
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
