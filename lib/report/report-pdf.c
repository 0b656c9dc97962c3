/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PDF: the very HTML document, printed by headless Chromium (Debian's chromium) as a
 * person would print it, so the PDF has the same content, page margins and page numbers.
 * The HTML and the PDF live in a private directory (0700, files 0600: pupils' names) that
 * is removed afterwards, with Chromium's profile.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/report-internal.h"

static const char *const browsers[] = { "chromium", "chromium-browser", "google-chrome" };

/* The first browser found on $PATH, into buf; -ENOENT when none. */
static int find_browser(char *buf, size_t len) {
        const char *path = getenv("PATH");

        for (size_t b = 0; b < ELEMENTSOF(browsers); b++)
                for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
                        size_t n = strcspn(p, ":");
                        if (n > 0 && (size_t) snprintf(buf, len, "%.*s/%s", (int) n, p, browsers[b]) < len &&
                            access(buf, X_OK) == 0)
                                return 0;
                        p += n + (p[n] == ':');
                }
        return -ENOENT;
}

static int unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

static int run_browser(const char *browser, const char *dir, struct cart_error *err) {
        char profile[4096], pdf_arg[4200], url[4200];
        const char *argv[12];
        int status, n = 0, fd;
        pid_t pid;

        snprintf(profile, sizeof(profile), "--user-data-dir=%s/profile", dir);
        snprintf(pdf_arg, sizeof(pdf_arg), "--print-to-pdf=%s/doc.pdf", dir);
        snprintf(url, sizeof(url), "file://%s/doc.html", dir);
        argv[n++] = browser;
        argv[n++] = "--headless";
        /* As root, Chromium refuses to start without it; the page has no script and loads
         * nothing from outside. */
        if (geteuid() == 0)
                argv[n++] = "--no-sandbox";
        argv[n++] = "--disable-gpu";
        argv[n++] = "--no-first-run";
        argv[n++] = "--no-pdf-header-footer";
        argv[n++] = profile;
        argv[n++] = pdf_arg;
        argv[n++] = url;
        argv[n] = NULL;
        pid = fork();
        if (pid < 0)
                return cart_error_errno(err, -errno, browser, NULL);
        if (pid == 0) {
                fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (fd >= 0) {
                        dup2(fd, STDIN_FILENO);
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execv(browser, (char *const *) argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return cart_error_errno(err, -errno, browser, NULL);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return cart_error_set(err, -EIO, "%s could not print the document to PDF", browser);
        return 0;
}

/* Copy the PDF to out. */
static int copy_out(const char *path, FILE *out, struct cart_error *err) {
        _cleanup_fclose_ FILE *in = fopen(path, "re");
        char buf[65536];
        size_t n;

        if (!in)
                return cart_error_set(err, -EIO, "the browser printed no PDF");
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                if (fwrite(buf, 1, n, out) != n)
                        return cart_error_errno(err, errno ? -errno : -EIO, NULL, "writing the PDF");
        if (ferror(in))
                return cart_error_errno(err, -EIO, path, NULL);
        if (fflush(out) != 0 || ferror(out))
                return cart_error_errno(err, errno ? -errno : -EIO, NULL, "writing the PDF");
        return 0;
}

int report_pdf(report_html_fn write_html, void *userdata, FILE *out, struct cart_error *err) {
        char browser[4096], dir[] = "/tmp/cartable-pdf-XXXXXX", path[4096];
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *tdir = NULL;
        char *d;
        FILE *f;
        int fd, r;

        r = find_browser(browser, sizeof(browser));
        if (r < 0)
                return cart_error_set(err, -ENOPKG, "PDF needs headless Chromium (Debian's chromium), not found on PATH");
        if (tmp && *tmp && asprintf(&tdir, "%s/cartable-pdf-XXXXXX", tmp) < 0)
                return -ENOMEM;
        d = mkdtemp(tdir ? tdir : dir);
        if (!d)
                return cart_error_errno(err, -errno, tdir ? tdir : dir, NULL);
        if (strlen(d) + 16 > sizeof(path)) {
                r = cart_error_set(err, -ENAMETOOLONG, "%s: too long a temporary directory", d);
                goto out;
        }
        snprintf(path, sizeof(path), "%s/doc.html", d);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
                r = cart_error_errno(err, -errno, path, NULL);
                if (fd >= 0)
                        close(fd);
                goto out;
        }
        r = write_html(userdata, f, err);
        if (fclose(f) != 0 && r >= 0)
                r = cart_error_errno(err, -errno, path, NULL);
        if (r >= 0)
                r = run_browser(browser, d, err);
        if (r >= 0) {
                snprintf(path, sizeof(path), "%s/doc.pdf", d);
                r = copy_out(path, out, err);
        }
out:
        nftw(d, unlink_one, 16, FTW_DEPTH | FTW_PHYS);
        return r;
}
