/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * journal-record DB COUNT [STATION [PUPIL...]]: record COUNT hand-built flash reports
 * through lib/journal, as `flash --journal` does (station_record_end, journal_key_end), each in its own transaction, printing
 * "done N" once the Nth is committed. With COUNT given as +N, all N go in one
 * transaction (the bench). Pupils are issued keys in turn (the first COUNT calls).
 * Every fifth flash fails, so failures are in the chain too. CARTABLE_TEST_SIGN_KEY: the
 * station's secret key file, its events signed (made there when missing).
 */
#include <inttypes.h>
#include <stdio.h>

#include "reason.h"
#include "journal/journal.h"
#include "station/station.h"

int main(int argc, char **argv) {
        struct journal_options o = { .create = true };
        struct journal *j = NULL;
        struct cart_error err = {};
        bool one_txn;
        long count;
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: journal-record DB COUNT|+COUNT [STATION [PUPIL...]]\n");
                return 64;
        }
        one_txn = argv[2][0] == '+';
        count = strtol(argv[2] + one_txn, NULL, 10);
        o.station = argc > 3 ? argv[3] : "test-station";
        o.sign_key = getenv("CARTABLE_TEST_SIGN_KEY");
        r = journal_open(argv[1], &o, &j, &err);
        if (r < 0) {
                fprintf(stderr, "journal-record: %s\n", ERROR_TEXT(&err, r));
                return 1;
        }
        if (one_txn && journal_begin(j, &err) < 0)
                goto fail;
        for (long i = 0; i < count; i++) {
                struct flash_report rep = {
                        .key = { .vid_pid = "0781:5581", .capacity = 8 * GIB },
                        .is_probed = true, .real_capacity = 8 * GIB, .volume_id = (uint32_t) (0xC0000000u + i),
                        .release_name = "ent-college", .release_version = "2026.1",
                        .release_key_id = "0123456789ABCDEF", .release_serial = 3,
                        .started_usec = 1780000000000000 + i, .finished_usec = 1780000001000000 + i,
                        .bytes_written = 371800000, .bytes_read = 371800000, .write_seconds = 0.61,
                        .read_seconds = 0.33, .outcome = i % 5 == 4 ? FLASH_OUTCOME_FAILED : FLASH_OUTCOME_OK,
                        .step = i % 5 == 4 ? FLASH_STEP_READBACK : FLASH_STEP_DONE,
                };
                struct station_record rec = {};

                snprintf(rep.key.serial, sizeof(rep.key.serial), "%s-%06ld", o.station, i);
                if (i % 5 == 4) {
                        rep.error = cart_error_set(&rep.failure, -EBADE, "read-back: bytes differ at offset %ld", i * 4096);
                        rep.reason = CART_REASON_READBACK_MISMATCH;
                }
                r = station_record_end(&rec, &rep, false);
                rec.end.operator = "technicien";
                if (4 + i < argc)
                        rec.end.pupil = argv[4 + i];
                if (r >= 0)
                        r = journal_key_end(j, &rec.end, NULL, &err);
                station_record_done(&rec);
                if (r < 0)
                        goto fail;
                if (!one_txn) {
                        printf("done %ld\n", i + 1);
                        fflush(stdout);
                }
        }
        if (one_txn && journal_commit(j, &err) < 0)
                goto fail;
        journal_close(j);
        return 0;
fail:
        fprintf(stderr, "journal-record: %s\n", err.msg);
        journal_close(j);
        return 1;
}
