/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs every file of the given corpus directories (or files) through a harness's
 * LLVMFuzzerTestOneInput(), once each, in name order: the corpus replayed as a regression
 * test by any compiler, without libFuzzer. Exit 0 when every input returned; a crash or a
 * sanitizer report fails the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
        struct stat st;
        uint8_t *buf;
        size_t done = 0;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        /* The exact size, so ASan sees reads past the end of the input. */
        buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        if (!buf)
                abort();
        while (done < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + done, (size_t) st.st_size - done);
                if (n <= 0) {
                        fprintf(stderr, "replay: %s: short read\n", path);
                        close(fd);
                        free(buf);
                        return -1;
                }
                done += (size_t) n;
        }
        close(fd);
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, done);
        LLVMFuzzerTestOneInput(buf, done);
        free(buf);
        return 0;
}

static int replay_dir(const char *dir, unsigned *count) {
        struct dirent **names;
        int n, r = 0;

        n = scandir(dir, &names, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
                return -1;
        }
        for (int i = 0; i < n; i++) {
                char path[4096];

                if (names[i]->d_name[0] != '.' && r == 0) {
                        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
                        r = replay_file(path);
                        (*count)++;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv) {
        unsigned count = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                r = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i]);
                if (r < 0)
                        return 1;
                if (!S_ISDIR(st.st_mode))
                        count++;
        }
        if (count == 0) {
                fprintf(stderr, "replay: no input\n");
                return 1;
        }
        fprintf(stderr, "replay: %u inputs, all returned\n", count);
        return 0;
}
