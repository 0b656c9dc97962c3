/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the journal and batch tests share: a hand-built flash report's start and end,
 * recorded as a station does it (station_record_*(), completed with who and for whom,
 * then journal_key_start() or journal_key_end()).
 */
#pragma once

#include "journal/journal.h"
#include "station/station.h"

struct test_flash {
        const char *operator, *pupil;
        bool replace;
        const char *reason;        /* a reason code's word, instead of the report's own */
};

/* The end of the key of rep (f may be NULL): as journal_key_end(). */
static inline int record_flash(struct journal *j, const struct flash_report *rep, const struct test_flash *f,
                               struct cart_error *err) {
        static const struct test_flash none = {};
        struct station_record rec = {};
        int r;

        if (!f)
                f = &none;
        r = station_record_end(&rec, rep, false);
        if (r >= 0) {
                rec.end.operator = f->operator;
                rec.end.pupil = f->pupil;
                rec.end.replace = f->replace;
                if (f->reason)
                        rec.end.reason = (enum cart_reason) cart_reason_from_string(f->reason);
                r = journal_key_end(j, &rec.end, NULL, err);
        }
        station_record_done(&rec);
        return r;
}

/* The start of the key of rep: for pupil, or claiming the next of school's class_name (1:
 * claimed, 0: nobody left), or stock (both NULL). As journal_key_start(). */
static inline int start_flash(struct journal *j, const struct flash_report *rep, const char *operator,
                              const char *pupil, const char *school, const char *class_name,
                              struct journal_pupil_info **ret, struct cart_error *err) {
        struct station_record rec = {};
        int r = station_record_start(&rec, rep);

        if (r >= 0) {
                rec.start.operator = operator;
                rec.start.pupil = pupil;
                rec.start.school = school;
                rec.start.class_name = class_name;
                r = journal_key_start(j, &rec.start, ret, err);
        }
        station_record_done(&rec);
        return r;
}
