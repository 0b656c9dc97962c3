/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable ls and cat: look inside a returned key without mounting it. */
#include <inttypes.h>
#include <time.h>

#include "commands.h"
#include "key-io.h"
#include "flash/verify.h"

static const char ls_help[] =
        N_("Usage: cartable ls TARGET [PATH]\n"
        "\n"
        "List a directory (default: the root) of the FAT volume of a key or image file,\n"
        "without mounting it. Each line: type and attributes (d directory, h hidden,\n"
        "s system, r read-only), size, modification time (UTC), name.\n"
        "\n"
        "Exit codes: 0 listed; 2 not a cartable key or unreadable; 66 no such path;\n"
        "64 usage. See cartable-ls(1).\n");

static const char cat_help[] =
        N_("Usage: cartable cat TARGET PATH\n"
        "\n"
        "Write a file of the FAT volume of a key or image file to stdout, without mounting it.\n"
        "\n"
        "Exit codes: 0 written; 2 not a FAT32 key or unreadable; 66 no such file, or a\n"
        "directory; 73 standard output cannot be written; 64 usage. See cartable-ls(1).\n");

static int open_volume(const char *target, int *fd, struct fat_reader **ret) {
        struct cart_error err = {};
        uint64_t size;
        int r;

        r = key_open_read(target, fd, &size, &err);
        if (r >= 0)
                r = verify_open_volume(fd_read_at, (void *) (intptr_t) *fd, size, ret, NULL, NULL, &err);
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return exit_code_for_key(&err, r);
        }
        return EXIT_OK;
}

static int lookup_error(const char *target, const char *path, int r, const struct cart_error *err) {
        log_error(r, "%s: %s: %s", target, path, ERROR_TEXT(err, r));
        return exit_code_for_key_path(err, r);
}

static void print_entry(const struct fat_dirent *e) {
        char when[32];
        struct tm tm;
        time_t t = (time_t) e->mtime;

        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        printf("%c%c%c%c %12" PRIu64 " %s %s%s\n",
               e->is_dir ? 'd' : '-', e->attrs & FAT_ATTR_HIDDEN ? 'h' : '-',
               e->attrs & FAT_ATTR_SYSTEM ? 's' : '-', e->attrs & FAT_ATTR_READ_ONLY ? 'r' : '-',
               e->is_dir ? 0 : e->size, when, esc(e->name), e->is_dir ? "/" : "");
}

static int run_ls(int argc, char **argv) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct fat_dirent st = {}, *entries = NULL;
        struct cart_error err = {};
        const char *path;
        size_t n = 0;
        int r, code;

        if (argc < 2 || argc > 3 || argv[1][0] == '-')
                return usage_error(&command_ls, _("expected TARGET [PATH]"));
        path = argc == 3 ? argv[2] : "/";
        code = open_volume(argv[1], &fd, &fr);
        if (code != EXIT_OK)
                return code;
        r = fat_reader_stat(fr, path, &st, &err);
        if (r < 0)
                return lookup_error(argv[1], path, r, &err);
        if (!st.is_dir) {
                print_entry(&st);
                fat_dirent_clear(&st);
                return EXIT_OK;
        }
        fat_dirent_clear(&st);
        r = fat_reader_list(fr, path, &entries, &n, &err);
        if (r < 0)
                return lookup_error(argv[1], path, r, &err);
        for (size_t i = 0; i < n; i++)
                print_entry(&entries[i]);
        fat_dirents_free(entries, n);
        return EXIT_OK;
}

static int stdout_sink(void *userdata, const void *buf, size_t len) {
        bool *failed = userdata;

        if (fwrite(buf, 1, len, stdout) == len)
                return 0;
        *failed = true;
        return -EIO;
}

static int run_cat(int argc, char **argv) {
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct cart_error err = {};
        bool stdout_failed = false;
        int r, code;

        if (argc != 3 || argv[1][0] == '-')
                return usage_error(&command_cat, _("expected TARGET PATH"));
        code = open_volume(argv[1], &fd, &fr);
        if (code != EXIT_OK)
                return code;
        r = fat_reader_read_file(fr, argv[2], stdout_sink, &stdout_failed, &err);
        if ((r >= 0 && fflush(stdout) != 0) || stdout_failed) {
                log_error(-EIO, _("%s: %s: cannot write to standard output"), argv[1], argv[2]);
                return EXIT_CANTCREAT;
        }
        if (r < 0)
                return lookup_error(argv[1], argv[2], r, &err);
        return EXIT_OK;
}

const struct command command_ls = {
        .name = "ls",
        .summary = N_("list a directory of a key or image without mounting it"),
        .help = ls_help,
        .run = run_ls,
};

const struct command command_cat = {
        .name = "cat",
        .summary = N_("print a file of a key or image without mounting it"),
        .help = cat_help,
        .run = run_cat,
};
