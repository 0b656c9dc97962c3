/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ini-util.h"

struct counting_stream {
        FILE *f;
        int *line;
};

static char *read_line(char *buf, int size, void *userdata) {
        struct counting_stream *s = userdata;
        char *l = fgets(buf, size, s->f);

        if (l)
                (*s->line)++;
        return l;
}

int ini_parse_file_counting(FILE *f, ini_handler handler, void *user, int *line) {
        struct counting_stream s = { .f = f, .line = line };

        *line = 0;
        return ini_parse_stream(read_line, &s, handler, user);
}
