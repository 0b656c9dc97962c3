/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a roster import asks the journal besides the sync itself (journal-roster.c): the
 * school year of the last export applied to a school, which schools and classes the
 * journal knows, whether a pupil id is known. Each call runs inside the caller's open
 * transaction when there is one (a roster import's), or as its own statement.
 */
#pragma once

#include "journal/journal.h"

/* The school year ("2026-2027", schools.year) and the time ("YYYY-MM-DD HH:MM:SS",
 * schools.exported) of the last SIECLE export applied to a school, each NULL when none was
 * recorded or the school is not in the journal. On success both are set (free them). */
int journal_school_export(struct journal *j, const char *uai, char **ret_year, char **ret_exported,
                          struct cart_error *err);
/* Record them (exported may be NULL or ""): 0, or -ENOENT when the school is not in the
 * journal (it is, once the sync has seen one of its pupils). */
int journal_school_set_export(struct journal *j, const char *uai, const char *year, const char *exported,
                              struct cart_error *err);

/* 1 when the journal holds the school uai or, with class_name, a pupil in that class (of
 * school uai, or of any school when uai is NULL); 0 when it does not; or a negative errno. */
int journal_school_known(struct journal *j, const char *uai, const char *class_name, struct cart_error *err);

typedef int (*journal_name_fn)(void *userdata, const char *name);
/* The schools the journal holds, or (want_classes) the classes of school uai (of every school
 * when uai is NULL), in order, each handed to fn (a negative return stops and is returned). */
int journal_names_list(struct journal *j, const char *uai, bool want_classes, journal_name_fn fn, void *userdata,
                       struct cart_error *err);

/* 0 when the journal has no pupil id at school uai, 1 an active one, 2 one who left. */
int journal_pupil_known(struct journal *j, const char *uai, const char *id, struct cart_error *err);

/* 1 when the journal holds no school, import, pupil, key or event (a journal just created,
 * whose first import failed), 0 when it holds something, or a negative errno. */
int journal_is_empty(struct journal *j, struct cart_error *err);
