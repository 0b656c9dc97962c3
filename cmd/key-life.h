/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the commands of a key's life (verify --journal, identify, issue, return, lost,
 * stolen) share in cmd/: the words of a key's status, of a verification's outcome and of
 * a verified file's status, and a verification recorded and said. The logic is
 * lib/station/keylife.h's. */
#pragma once

#include "common.h"
#include "flash/verify.h"
#include "station/keylife.h"

/* A key's status in the journal (stock, issued, lost...), or the outcome of its last
 * verification (intact, modified, swapped), for people; an unknown value as it is. */
const char *key_status_words(const char *status);

/* A verified file's status (missing, modified, extra...), for people. */
const char *verify_status_words(enum verify_status st);

/*
 * verify --journal: record verification v of the key (usb_serial: key_usb_serial()) in the
 * journal at journal_arg, with keylife_operator(operator); a swap said on stderr, and
 * what was recorded. Logs its errors once. Returns an exit code: EXIT_OK recorded
 * (*ret_swapped tells), EXIT_NOINPUT a key unknown to the journal (nothing recorded),
 * others as the journal's.
 */
int key_life_record_verify(const char *journal_arg, const char *operator, const struct verify_result *v,
                           const char *usb_serial, bool *ret_swapped);

/* A recorded verification said on stderr (stdout may be verify's JSON): "SWAPPED: why"
 * when swapped, then what the journal recorded for which key. */
void key_life_say_verdict(const struct keylife_verdict *d);
