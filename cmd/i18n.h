/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Words for people follow the locale (gettext, domain "cartable"); machine output does
 * not: LC_NUMERIC stays "C" for the whole process, so JSON, NDJSON, CSV, config parsing
 * and lib/'s own text never see a decimal comma. Numbers a person reads go through
 * human_size(), which uses the locale's decimal separator saved by i18n_init().
 */
#pragma once

#include <libintl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define _(s) gettext(s)
#define N_(s) s

/* pgettext(): ctx_msgid is "CONTEXT\004MSGID"; msgid when it has no translation. Files
 * define P_(ctx, s) as i18n_pgettext(ctx "\004" s, s) (xgettext's --keyword=P_:1c,2). */
const char *i18n_pgettext(const char *ctx_msgid, const char *msgid) __attribute__((format_arg(2)));

/* s for people (translated) or for machines (the English msgid: --json, the journal). Mark
 * s with N_(). */
__attribute__((format_arg(2))) static inline const char *i18n_say(bool is_people, const char *s) {
        return is_people ? gettext(s) : s;
}

/* setlocale(LC_ALL, ""), a UTF-8 LC_CTYPE, LC_NUMERIC back to "C", bindtextdomain. */
void i18n_init(void);

/* "1.5 GiB" in English, "1,5 Gio" in French: for people only, never for --json. */
const char *human_size(uint64_t bytes, char *buf, size_t len);
#define HUMAN_SIZE(bytes) human_size((bytes), (char[48]) {}, 48)

/* A number with one decimal and the locale's separator ("2.5", "2,5"): for people only. */
const char *human_decimal(double v, char *buf, size_t len);
#define HUMAN_DECIMAL(v) human_decimal((v), (char[48]) {}, 48)

/* "; " between the items of a list of reasons, as the language writes it (French: " ; "). */
const char *list_separator(void);
