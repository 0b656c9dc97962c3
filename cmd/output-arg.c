/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "commands.h"
#include "output-arg.h"

static int open_with(struct output_arg *o, const char *path, unsigned flags) {
        struct cart_error err = {};
        int r;

        *o = (struct output_arg) { .path = path, .file = { .fd = -EBADF }, .f = stdout, .mode = 0600 };
        if (!path)
                return EXIT_OK;
        r = output_file_open(path, flags, &o->file, &err);
        if (r >= 0)
                r = output_file_stream(&o->file, &o->f);
        if (r == -ENOMEM)
                return log_fail(r, _("out of memory"));
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return EXIT_CANTCREAT;
        }
        return EXIT_OK;
}

int output_arg_open(struct output_arg *o, const char *path) {
        return open_with(o, path, 0);
}

int output_arg_open_forced(struct output_arg *o, const char *path, bool force) {
        return open_with(o, path, force ? OUTPUT_FILE_REPLACE : 0);
}

int output_arg_finish(struct output_arg *o) {
        struct cart_error err = {};
        int r;

        if (o->path) {
                r = output_file_link(&o->file, o->mode, &err);
                if (r < 0) {
                        log_error(r, "%s", ERROR_TEXT(&err, r));
                        return EXIT_CANTCREAT;
                }
        } else if (fflush(o->f) != 0 || ferror(o->f))
                return output_arg_fail(o, -EIO, &err);
        return EXIT_OK;
}

int output_arg_fail(const struct output_arg *o, int r, const struct cart_error *err) {
        const char *name = o->path ? o->path : "stdout";

        if (!err->msg[0] && !err->subject[0] && !err->label[0])
                log_error(r, _("%s: write failed"), name);
        else
                log_error(r, "%s: %s", name, ERROR_TEXT(err, r));
        return EXIT_CANTCREAT;
}

void output_arg_done(struct output_arg *o) {
        if (o->path)
                output_file_done(&o->file);
        o->f = NULL;
}
