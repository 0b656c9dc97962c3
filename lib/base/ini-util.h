/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <ini.h>
#include <stdio.h>

/*
 * ini_parse_file() that keeps *line at the number of the line being handled, so handlers
 * can name "FILE:LINE" in messages: Debian's inih is built without INI_HANDLER_LINENO.
 * Parsing stops at the first line a handler rejects (returns 0), so its message stands.
 * Returns what ini_parse_stream() returns.
 */
int ini_parse_file_counting(FILE *f, ini_handler handler, void *user, int *line);
