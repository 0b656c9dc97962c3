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
/* The same sentence in English whatever the locale: for machine output (--json). */
const char *error_sentence_untranslated(const struct cart_error *err, int r, char *buf, size_t n);
#define ERROR_TEXT_C(err, r) error_sentence_untranslated((err), (r), (char[1280]) {}, 1280)

/* lib/'s free text of e (its msg) in the person's words: its formats translated and filled
 * with their arguments, or msg as it is when they cannot say the same. In buf, or msg. */
const char *lib_words(const struct cart_error *e, char *buf, size_t n);
#define LIB_WORDS(e) lib_words((e), (char[1100]) {}, 1100)

/* The rules of the target policy a disk fails (enum device_refusal bits) and what they
 * found (lib/device's findings, may be NULL), in words, the language's separator between
 * rules: "not USB; mounted (sdb1 on /mnt)". In buf, returned. */
const char *policy_words(unsigned rules, const struct cart_findings *fs, char *buf, size_t n);
