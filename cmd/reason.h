/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one place where a failure from lib/ becomes words: the reason code and its
 * arguments (lib/base/error.h) in, a sentence out. Translation hooks in here.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

/* The sentence for err (may be NULL) and the negative errno r, in buf; returns buf. */
const char *error_sentence(const struct cart_error *err, int r, char *buf, size_t n);
/* The same in a buffer that lives until the end of the enclosing block. */
#define ERROR_TEXT(err, r) error_sentence((err), (r), (char[1280]) {}, 1280)
