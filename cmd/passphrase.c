/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <signal.h>
#include <termios.h>

#include "common.h"
#include "passphrase.h"

char *passphrase_free(char *p) {
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
        return NULL;
}


bool passphrase_can_ask(void) {
        int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/*
 * One line from fd into buf (size PASSPHRASE_MAX + 1), without its "\n" or "\r\n".
 * -E2BIG when longer than PASSPHRASE_MAX, -ENODATA at end of input with nothing read.
 */
static int read_line(int fd, char buf[PASSPHRASE_MAX + 1]) {
        size_t n = 0;
        bool is_too_long = false;
        char c;

        for (;;) {
                ssize_t k = read(fd, &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0) {
                        if (n == 0 && !is_too_long)
                                return -ENODATA;
                        break;
                }
                if (c == '\n')
                        break;
                if (n == PASSPHRASE_MAX)
                        is_too_long = true;
                else
                        buf[n++] = c;
        }
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = 0;
        if (is_too_long) {
                explicit_bzero(buf, PASSPHRASE_MAX + 1);
                return -E2BIG;
        }
        return 0;
}

static int from_file(const char *path, char buf[PASSPHRASE_MAX + 1]) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        int r;

        if (fd < 0) {
                int e = errno;
                return log_error(-e, _("passphrase file %s: %s"), path, strerror(e));
        }
        r = read_line(fd, buf);
        if (r == -ENODATA || (r >= 0 && buf[0] == 0))
                return log_error(-EINVAL, _("passphrase file %s: the first line is empty"), path);
        if (r == -E2BIG)
                return log_error(-EINVAL, _("passphrase file %s: the first line is longer than %d bytes"),
                                 path, PASSPHRASE_MAX);
        if (r < 0)
                return log_error(r, _("passphrase file %s: %s"), path, strerror(-r));
        return 0;
}

/* The terminal's settings while echo is off, restored if a signal ends the program. */
static struct termios saved_termios;
static volatile sig_atomic_t tty_fd_to_restore = -1;

static void restore_and_reraise(int sig) {
        if (tty_fd_to_restore >= 0)
                tcsetattr(tty_fd_to_restore, TCSAFLUSH, &saved_termios);
        signal(sig, SIG_DFL);
        raise(sig);
}

static int ask(int fd, const char *prompt, char buf[PASSPHRASE_MAX + 1]) {
        static const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
        struct sigaction sa = { .sa_handler = restore_and_reraise }, old[ELEMENTSOF(signals)];
        struct termios t;
        int r;

        if (tcgetattr(fd, &saved_termios) < 0)
                return -errno;
        t = saved_termios;
        t.c_lflag &= ~(tcflag_t) ECHO;
        t.c_lflag |= ECHONL;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                sigaction(signals[i], &sa, &old[i]);
        tty_fd_to_restore = fd;
        if (tcsetattr(fd, TCSAFLUSH, &t) < 0)
                r = -errno;
        else if (write(fd, prompt, strlen(prompt)) < 0)
                r = -errno;
        else
                r = read_line(fd, buf);
        tcsetattr(fd, TCSAFLUSH, &saved_termios);
        tty_fd_to_restore = -1;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                sigaction(signals[i], &old[i], NULL);
        return r;
}

static int from_terminal(bool confirm, const char *prompt, char buf[PASSPHRASE_MAX + 1]) {
        _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        char again[PASSPHRASE_MAX + 1];
        int r;

        if (fd < 0)
                return log_error(-ENOTTY, _("no terminal to ask the passphrase on: give --passphrase-file FILE"));
        r = ask(fd, prompt, buf);
        if (r == -ENODATA || (r >= 0 && buf[0] == 0))
                return log_error(-EINVAL, _("an empty passphrase is not accepted"));
        if (r == -E2BIG)
                return log_error(-EINVAL, _("the passphrase is longer than %d bytes"), PASSPHRASE_MAX);
        if (r < 0)
                return log_error(r, _("reading the passphrase: %s"), strerror(-r));
        if (!confirm)
                return 0;
        r = ask(fd, _("Again, to confirm: "), again);
        if (r >= 0 && !streq(buf, again))
                r = -EINVAL;
        explicit_bzero(again, sizeof(again));
        if (r < 0) {
                explicit_bzero(buf, PASSPHRASE_MAX + 1);
                return log_error(-EINVAL, _("the two passphrases differ"));
        }
        return 0;
}

int passphrase_get(const char *passphrase_file, bool confirm, const char *prompt, char **ret) {
        char buf[PASSPHRASE_MAX + 1];
        char *p;
        int r;

        r = passphrase_file ? from_file(passphrase_file, buf) : from_terminal(confirm, prompt, buf);
        if (r < 0)
                return r;
        p = strdup(buf);
        explicit_bzero(buf, sizeof(buf));
        if (!p)
                return log_error(-ENOMEM, _("out of memory"));
        *ret = p;
        return 0;
}
