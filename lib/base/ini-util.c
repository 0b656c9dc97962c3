/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>

#include "base/ini-util.h"

struct counting_stream {
        FILE *f;
        int *line;
        ini_handler handler;
        void *user;
        bool stopped;
};

static char *read_line(char *buf, int size, void *userdata) {
        struct counting_stream *s = userdata;
        char *l;

        /* After the first rejected line, end the input: its message is the one to keep. */
        if (s->stopped)
                return NULL;
        l = fgets(buf, size, s->f);
        if (l)
                (*s->line)++;
        return l;
}

static int handle(void *userdata, const char *section, const char *name, const char *value) {
        struct counting_stream *s = userdata;
        int ok = s->handler(s->user, section, name, value);

        if (!ok)
                s->stopped = true;
        return ok;
}

int ini_parse_file_counting(FILE *f, ini_handler handler, void *user, int *line) {
        struct counting_stream s = { .f = f, .line = line, .handler = handler, .user = user };

        *line = 0;
        return ini_parse_stream(read_line, &s, handle, &s);
}
