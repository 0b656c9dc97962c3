/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * roster-read [--school UAI] [--keep-ine] [--today YYYY-MM-DD] [--quiet] FILE...: lib/roster's
 * roster_read() on each file, one pupil a line (line, id, family, first, class, UAI,
 * active|left|inactive, derived, INE HMAC, leave date, anomalies) then the file's info, for tests and bench/roster-read.sh (--quiet: the info
 * only). The station secret is a fixed test value: ids printed here are not a station's.
 */
#include <getopt.h>
#include <locale.h>

#include "reason.h"
#include "roster/roster.h"

static int print_pupil(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        if (!*(bool *) userdata)
                printf("%u\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s%s\n", p->line, p->id, p->family_name,
                       p->first_name, p->class_name, p->school_uai,
                       p->is_inactive ? "inactive" : p->has_left ? "left" : "active",
                       p->has_derived_id ? "derived" : "-", p->ine_hmac ?: "-", *p->leave_date ? p->leave_date : "-",
                       p->anomalies & ROSTER_ANOMALY_STRUCTURES ? "structures" : "-",
                       p->anomalies & ROSTER_ANOMALY_CLASSES ? ",classes:" : "", p->other_class);
        return 0;
}

int main(int argc, char **argv) {
        static const uint8_t secret[ROSTER_SECRET_LEN] = "roster-read: not a station key";
        static const struct option options[] = {
                { "school", required_argument, NULL, 's' },
                { "keep-ine", no_argument, NULL, 'i' },
                { "quiet", no_argument, NULL, 'q' },
                { "today", required_argument, NULL, 't' },
                {}
        };
        struct roster_options o = { .secret = secret, .secret_len = sizeof(secret) };
        bool quiet = false;
        size_t total = 0;
        int c;

        setlocale(LC_CTYPE, "C.UTF-8");
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 's': o.school_uai = optarg; break;
                case 'i': o.keep_ine = true; break;
                case 'q': quiet = true; break;
                case 't': o.today = optarg; break;
                default: return 64;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "usage: roster-read [--school UAI] [--keep-ine] [--today YYYY-MM-DD] [--quiet] FILE...\n");
                return 64;
        }
        for (int i = optind; i < argc; i++) {
                struct cart_error err = {};
                struct roster_info info;
                int r = roster_read(argv[i], &o, print_pupil, &quiet, &info, &err);

                if (r < 0) {
                        fprintf(stderr, "roster-read: %s\n", ERROR_TEXT(&err, r));
                        return r == -EILSEQ || r == -EBADMSG ? 65 : r == -ENOENT ? 66 : 70;
                }
                if (!quiet)
                        printf("# %s: %s%s%s, %s%s%s, school %s, year %s, exported %s, ids %s, %zu pupils\n", argv[i],
                               roster_format_to_string(info.format), info.is_zip ? " (zip) " : "", info.zip_member,
                               info.encoding, *info.declared_encoding ? " declared " : "", info.declared_encoding,
                               *info.school_uai ? info.school_uai : "-", *info.year ? info.year : "-",
                               *info.exported ? info.exported : "-", roster_id_scheme_to_string(info.id_scheme),
                               info.n_pupils);
                total += info.n_pupils;
        }
        if (quiet)
                printf("%zu pupils in %d files\n", total, argc - optind);
        return 0;
}
