/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "config-paths.h"
#include "i18n.h"

static char decimal_point[8] = ".";

void i18n_init(void) {
        const char *dir;

        /* libarchive and our messages need UTF-8 pathnames whatever the caller's locale. */
        if (!setlocale(LC_ALL, "") || !strstr(setlocale(LC_CTYPE, NULL), "UTF-8"))
                if (!setlocale(LC_CTYPE, "C.UTF-8"))
                        setlocale(LC_CTYPE, "C.utf8");
        /* The person's decimal separator, then "C" numbers for everything machines read. */
        snprintf(decimal_point, sizeof(decimal_point), "%s", localeconv()->decimal_point);
        setlocale(LC_NUMERIC, "C");

        /* $CARTABLE_LOCALEDIR: the build tree's catalogues, for tests run before install. */
        dir = getenv("CARTABLE_LOCALEDIR");
        bindtextdomain("cartable", dir && dir[0] ? dir : CARTABLE_LOCALEDIR);
        bind_textdomain_codeset("cartable", "UTF-8");
        textdomain("cartable");
}

const char *i18n_pgettext(const char *ctx_msgid, const char *msgid) {
        const char *t = gettext(ctx_msgid);
        return t == ctx_msgid ? msgid : t;
}

const char *human_size(uint64_t bytes, char *buf, size_t len) {
        uint64_t tenths;
        unsigned u = 0;

        if (bytes < 1024) {
                /* TRANSLATORS: a size in bytes, for people ("512 B"; French: "512 o"). */
                snprintf(buf, len, _("%" PRIu64 " B"), bytes);
                return buf;
        }
        /* One decimal, rounded, with the locale's separator. */
        double v = (double) bytes;
        while (v >= 1024.0 && u < 4) {
                v /= 1024.0;
                u++;
        }
        tenths = (uint64_t) (v * 10.0 + 0.5);
        char num[40];
        snprintf(num, sizeof(num), "%" PRIu64 "%s%" PRIu64, tenths / 10, decimal_point, tenths % 10);
        switch (u) {
        case 1:
                /* TRANSLATORS: %s is a number with one decimal ("1.5"): kibibytes (French: Kio). */
                snprintf(buf, len, _("%s KiB"), num);
                break;
        case 2:
                /* TRANSLATORS: %s is a number with one decimal ("1.5"): mebibytes (French: Mio). */
                snprintf(buf, len, _("%s MiB"), num);
                break;
        case 3:
                /* TRANSLATORS: %s is a number with one decimal ("1.5"): gibibytes (French: Gio). */
                snprintf(buf, len, _("%s GiB"), num);
                break;
        default:
                /* TRANSLATORS: %s is a number with one decimal ("1.5"): tebibytes (French: Tio). */
                snprintf(buf, len, _("%s TiB"), num);
                break;
        }
        return buf;
}

const char *human_decimal(double v, char *buf, size_t len) {
        char num[48], *dot;

        snprintf(num, sizeof(num), "%.1f", v);   /* LC_NUMERIC is "C": a dot */
        dot = strchr(num, '.');
        if (dot) {
                *dot = 0;
                snprintf(buf, len, "%s%s%s", num, decimal_point, dot + 1);
        } else
                snprintf(buf, len, "%s", num);
        return buf;
}

const char *list_separator(void) {
        /* TRANSLATORS: between the items of a list of reasons ("not USB; too small"); French
         * puts a space before the semicolon. */
        return _("; ");
}
