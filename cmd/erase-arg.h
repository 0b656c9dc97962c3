/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --erase auto|always|never for flash, batch and replace, and what the journal knows of a key. */
#pragma once

#include "commands.h"
#include "flash/flash.h"
#include "journal/journal.h"

/* --erase VALUE into ret: 0, or EXIT_USAGE after saying why. */
int erase_arg_parse(const struct command *c, const char *value, enum cart_erase *ret);
/* The [flash] erase setting, auto without one. */
enum cart_erase erase_arg_default(void);
/*
 * What the journal says the key at target held (an image file by its path, a USB key by its
 * serial), for pupil ("ID" or "UAI/ID"; NULL: a stock key). A key the journal does not place,
 * or cannot be asked about, is UNKNOWN: the station then reads the key itself.
 */
enum flash_held erase_arg_journal_held(struct journal *j, const char *target, const char *pupil);
