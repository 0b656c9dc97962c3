/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by fuzz-roster-csv and fuzz-roster-siecle: what every pupil a reader hands on must be. */
#pragma once

#include "fuzz.h"
#include "roster/roster-internal.h"

static const uint8_t fuzz_roster_secret[32] = "fuzz-station-secret-0123456789ab";

static bool fuzz_is_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                size_t n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : 9;
                if (n == 9)
                        return false;
                for (size_t i = 1; i <= n; i++)
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                p += n + 1;
        }
        return true;
}

/* Strings never NULL, valid UTF-8, one line of at most ROSTER_MAX_VALUE bytes; a UAI always. */
static int fuzz_roster_pupil(void *userdata, const struct roster_pupil *p, struct cart_error *err) {
        const char *v[] = { p->id, p->family_name, p->first_name, p->class_name, p->school_uai };

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                FUZZ_ASSERT(v[i]);
                FUZZ_ASSERT(strlen(v[i]) <= ROSTER_MAX_VALUE);
                FUZZ_ASSERT(fuzz_is_utf8(v[i]));
                FUZZ_ASSERT(!strpbrk(v[i], "\n\r"));
        }
        FUZZ_ASSERT(*p->id);
        FUZZ_ASSERT(*p->family_name || *p->first_name);
        FUZZ_ASSERT(roster_uai_is_valid(p->school_uai));
        FUZZ_ASSERT(!p->has_derived_id || strlen(p->id) == ROSTER_DERIVED_ID_LEN);
        FUZZ_ASSERT(!p->ine_hmac || strlen(p->ine_hmac) == ROSTER_INE_HMAC_LEN);
        /* A leave date is YYYY-MM-DD; an inactive pupil is not active and in no class. */
        FUZZ_ASSERT(p->leave_date && (!*p->leave_date || strlen(p->leave_date) == 10));
        FUZZ_ASSERT(p->other_class && fuzz_is_utf8(p->other_class) && strlen(p->other_class) <= ROSTER_MAX_VALUE);
        FUZZ_ASSERT(!p->is_inactive || (p->has_left && !*p->class_name));
        FUZZ_ASSERT(!(p->anomalies & ROSTER_ANOMALY_CLASSES) || *p->other_class);
        (*(size_t *) userdata)++;
        return 0;
}

/* One reader over the input, through a memfd; the count of pupils must match the info's. */
static void fuzz_roster_run(const uint8_t *data, size_t size, const char *school,
                            int (*reader)(struct roster_ctx *c, const uint8_t *data, size_t size, struct cart_error *err)) {
        struct roster_options o = {
                .school_uai = school,
                .keep_ine = true,
                .secret = fuzz_roster_secret,
                .secret_len = sizeof(fuzz_roster_secret),
        };
        struct cart_error err = {};
        size_t n = 0;
        char path[64];
        int fd, r;

        fd = fuzz_memfd(data, size, path);
        struct roster_ctx c = { .path = path, .o = &o, .fn = fuzz_roster_pupil, .userdata = &n, .today = "2026-12-07" };
        r = reader(&c, data, size, &err);
        fuzz_note("read", r, err.msg);
        if (r == 0)
                FUZZ_ASSERT(n == c.info.n_pupils);
        else
                FUZZ_ASSERT(err.msg[0] != 0);
        close(fd);
}
