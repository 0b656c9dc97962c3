/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <time.h>
#include <stdarg.h>

#include "common.h"
#include "i18n.h"

struct cart_config *arg_config;
bool stderr_is_tty;

/* Code points a terminal acts on, or that reorder or break the line it shows. */
static bool is_unsafe(uint32_t c) {
        return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
               (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

const char *esc(const char *s) {
        static char *ring[8];
        static unsigned next;
        char *out, *p;

        if (!s)
                return "(null)";
        /* At most \uHHHH (6 bytes) for 2 input bytes, \xHH (4) for 1. */
        out = malloc(strlen(s) * 4 + 1);
        if (!out)
                return _("(out of memory)");
        p = out;
        for (const unsigned char *q = (const unsigned char *) s; *q;) {
                uint32_t c;
                int k = utf8_decode(q, &c);

                if (k < 0) {
                        p += sprintf(p, "\\x%02x", *q++);
                        continue;
                }
                if (c < 0x80 && is_unsafe(c))
                        p += sprintf(p, "\\x%02x", c);
                else if (is_unsafe(c))
                        p += sprintf(p, "\\u%04x", c);
                else {
                        memcpy(p, q, (size_t) k);
                        p += k;
                }
                q += k;
        }
        *p = 0;
        free(ring[next]);
        ring[next] = out;
        next = (next + 1) % ELEMENTSOF(ring);
        return out;
}

_printf_(2, 0) static void vlog(const char *prefix, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;

        fputs("cartable: ", stderr);
        if (prefix)
                fputs(prefix, stderr);
        /* Messages echo names from keys and bundles: escaped, whatever the format. */
        if (vasprintf(&msg, fmt, ap) < 0)
                fputs(_("(out of memory)"), stderr);
        else
                fputs(esc(msg), stderr);
        fputc('\n', stderr);
}

int log_error(int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, fmt, ap);
        va_end(ap);
        return r;
}

int log_fail(int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, fmt, ap);
        va_end(ap);
        return exit_code_for(r);
}

void log_warn(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(_("warning: "), fmt, ap);
        va_end(ap);
}

void log_info(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, fmt, ap);
        va_end(ap);
}

int usage_error(const struct command *c, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, fmt, ap);
        va_end(ap);
        if (c)
                fprintf(stderr, _("Try 'cartable help %s'.\n"), c->name);
        else
                fputs(_("Try 'cartable --help'.\n"), stderr);
        return EXIT_USAGE;
}

int usage_bad_option(const struct command *c, char **argv) {
        /* optind has moved past the argument getopt could not take. */
        const char *arg = optind > 0 ? argv[optind - 1] : "";

        if (c && !streq(c->name, argv[0]))   /* a sub-command: "image build" */
                /* TRANSLATORS: a command, its sub-command, then the argument not understood. */
                return usage_error(c, _("%s %s: unknown option or missing argument '%s'"), c->name, argv[0], arg);
        /* TRANSLATORS: a command, then the argument not understood. */
        return usage_error(c, _("%s: unknown option or missing argument '%s'"), argv[0], arg);
}

void command_print_help(const struct command *c) {
        fputs(_(c->help), stdout);
}

int log_fail_error(const struct cart_error *err, int r, const char *fmt, ...) {
        char ctx[1024] = "";
        va_list ap;

        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(ctx, sizeof(ctx), fmt, ap);
                va_end(ap);
        }
        log_error(r, "%s%s%s", ctx, ctx[0] ? ": " : "", ERROR_TEXT(err, r));
        return exit_code_for_error(err, r);
}

int local_day_usec(const char *ymd, int64_t *ret) {
        struct tm tm = {};
        const char *end = strptime(ymd, "%Y-%m-%d", &tm);
        time_t t;

        if (!end || *end)
                return -EINVAL;
        tm.tm_isdst = -1;
        t = mktime(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = (int64_t) t * 1000000;
        return 0;
}
