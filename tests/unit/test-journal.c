/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/journal: schema and migrations, roster sync, flashes and issues, the hash chain. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "base/hash.h"
#include "journal-test.h"
#include "record-test.h"

static char dir[] = "/tmp/cartable-journal-XXXXXX";
static char path[1024];

static int setup(void **state) {
        journal_test_next(dir, path, sizeof(path), NULL, 0);
        return 0;
}

static struct journal *open_new(const char *station) {
        struct journal_options o = { .station = station, .create = true };
        struct cart_error err = {};
        struct journal *j = NULL;
        int r = journal_open(path, &o, &j, &err);
        if (r < 0)
                fail_msg("journal_open: %s", err.msg);
        return j;
}

/* Raw SQL on the file, as someone holding it could run. */
static void raw(const char *sql) {
        raw_name_exec(path, sql);
}

static int64_t raw_int(const char *sql) {
        return raw_name_int(path, sql);
}

static void file_digest(uint8_t d[HASH_SHA256_LEN]) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        assert_int_equal(read_small_file(path, 64 << 20, &data, &len), 0);
        assert_int_equal(hash_sha256(data, len, d), 0);
}

/* ---- Schema ---- */

/* Statements without comments, whitespace collapsed, spaces around punctuation dropped. */
static char *normalise(const char *sql) {
        char *out = malloc(strlen(sql) + 2), *o = out;
        bool space = false;

        assert_non_null(out);
        for (const char *p = sql; *p; p++) {
                if (p[0] == '-' && p[1] == '-') {
                        while (*p && *p != '\n')
                                p++;
                        if (!*p)
                                break;
                }
                if (*p == ' ' || *p == '\n' || *p == '\t') {
                        space = true;
                        continue;
                }
                if (space && o > out && !strchr("(),;", o[-1]) && !strchr("(),;", *p))
                        *o++ = ' ';
                space = false;
                *o++ = *p;
        }
        *o = 0;
        return out;
}

static void test_schema_matches_file(void **state) {
        SQLITE_ONLY();
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        _cleanup_free_ char *file = NULL, *want = NULL, *live = NULL;
        char sqlfile[512];
        size_t len;

        assert_int_equal(journal_schema_version(j), JOURNAL_SCHEMA_VERSION);
        snprintf(sqlfile, sizeof(sqlfile), "%s/manifests/schemas/journal.sql", SOURCE_ROOT);
        assert_int_equal(read_small_file(sqlfile, 1 << 20, &file, &len), 0);
        want = normalise(file);

        live = raw_name_rows(path, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid", 0, ";\n");
        _cleanup_free_ char *live_n = normalise(live);
        if (!streq(want, live_n))
                fail_msg("live schema differs from manifests/schemas/journal.sql:\nfile: %s\nlive: %s", want, live_n);
        assert_int_equal(raw_int("SELECT max(version) FROM schema_version"), JOURNAL_SCHEMA_VERSION);
}

static void test_pragmas(void **state) {
        SQLITE_ONLY();
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        /* WAL is a property of the file; the others of the connection (checked by their effect). */
        assert_int_equal(raw_int("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
        raw("INSERT INTO schools (uai, year, created_usec, updated_usec) VALUES ('0750001A', NULL, 1, 1)");
        struct cart_error err = {};
        assert_true(jdb_exec(j, "INSERT INTO pupils (school, id, family_name, first_name, class_name, is_active, "
                             "has_derived_id, roster_rank, roster_line, import_id, created_usec, updated_usec) "
                             "VALUES ('0750001A', '1', 'A', 'B', '6A', 1, 0, 1, 1, 999, 1, 1)", &err) < 0);
        assert_non_null(strstr(err.msg, "FOREIGN KEY"));
}

static void test_newer_version_refused_untouched(void **state) {
        SQLITE_ONLY();
        uint8_t before[HASH_SHA256_LEN], after[HASH_SHA256_LEN];
        struct journal_options o = { .create = true };
        struct journal *j = open_new("s1");
        struct cart_error err = {};

        journal_close(j);
        /* Back to rollback mode, so that a reader leaves no -wal file and the bytes say it all. */
        char sql[128], newer[64];
        snprintf(sql, sizeof(sql), "PRAGMA journal_mode = DELETE; INSERT INTO schema_version VALUES (%d, 0)",
                 JOURNAL_SCHEMA_VERSION + 1);
        snprintf(newer, sizeof(newer), "schema version %d is newer", JOURNAL_SCHEMA_VERSION + 1);
        raw(sql);
        file_digest(before);
        j = NULL;
        assert_int_equal(journal_open(path, &o, &j, &err), -EPROTONOSUPPORT);
        assert_null(j);
        assert_non_null(strstr(err.msg, newer));
        assert_non_null(strstr(err.msg, "left untouched"));
        file_digest(after);
        assert_memory_equal(before, after, sizeof(before));
        assert_int_equal(raw_int("SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'delete'"), 1);
}

static void test_not_a_journal(void **state) {
        SQLITE_ONLY();
        struct journal_options o = { .create = true };
        struct journal *j = NULL;
        struct cart_error err = {};
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs("this is a roster, not a database\n", f);
        for (int i = 0; i < 200; i++)
                fputs("0123456789abcdef0123456789abcdef\n", f);
        fclose(f);
        assert_int_equal(journal_open(path, &o, &j, &err), -EBADMSG);
        if (!strstr(err.msg, "not an SQLite database"))
                fail_msg("%s", err.msg);

        unlink(path);
        raw("CREATE TABLE something (x)");
        assert_int_equal(journal_open(path, &o, &j, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "not a cartable journal"));

        /* Without create, a missing file is -ENOENT and stays missing. */
        unlink(path);
        o.create = false;
        assert_int_equal(journal_open(path, &o, &j, &err), -ENOENT);
        assert_int_equal(access(path, F_OK), -1);
}

static void test_migration_runner(void **state) {
        SQLITE_ONLY();
        /* The versions this cartable knows are applied already: only the next one runs. */
        static const struct journal_migration good[] = {
                { JOURNAL_SCHEMA_VERSION, "unused: already applied" },
                { JOURNAL_SCHEMA_VERSION + 1, "ALTER TABLE keys ADD COLUMN colour TEXT; UPDATE keys SET colour = 'blue'" },
        };
        static const struct journal_migration bad[] = {
                { JOURNAL_SCHEMA_VERSION + 1, "ALTER TABLE keys ADD COLUMN colour TEXT; THIS IS NOT SQL" },
        };
        static const struct journal_migration gap[] = { { JOURNAL_SCHEMA_VERSION + 2, "SELECT 1" } };
        char next[64];
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        struct cart_error err = {};

        /* A failing step leaves the journal at the version before it, schema unchanged. */
        assert_true(journal_migrate(j, bad, ELEMENTSOF(bad), &err) < 0);
        snprintf(next, sizeof(next), "migration to schema version %d", JOURNAL_SCHEMA_VERSION + 1);
        assert_non_null(strstr(err.msg, next));
        assert_int_equal(journal_schema_version(j), JOURNAL_SCHEMA_VERSION);
        assert_int_equal(raw_int("SELECT count(*) FROM pragma_table_info('keys') WHERE name = 'colour'"), 0);
        assert_int_equal(raw_int("SELECT max(version) FROM schema_version"), JOURNAL_SCHEMA_VERSION);
        /* Versions come one after the other. */
        assert_int_equal(journal_migrate(j, gap, ELEMENTSOF(gap), &err), -EPROTO);
        /* The journal goes to the next version, and only the missing step runs. */
        assert_int_equal(journal_migrate(j, good, ELEMENTSOF(good), &err), 0);
        assert_int_equal(journal_schema_version(j), JOURNAL_SCHEMA_VERSION + 1);
        assert_int_equal(raw_int("SELECT count(*) FROM pragma_table_info('keys') WHERE name = 'colour'"), 1);
        assert_int_equal(raw_int("SELECT max(version) FROM schema_version"), JOURNAL_SCHEMA_VERSION + 1);
        assert_int_equal(journal_migrate(j, good, ELEMENTSOF(good), &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM schema_version"), JOURNAL_SCHEMA_VERSION + 1);
}

/* The binder: parameters bound in order, each typed by its tag; a count that does not
 * match the statement's placeholders is refused. */
static void test_binder(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        _cleanup_free_ char *year = NULL, *uai = NULL;
        struct cart_error err = {};
        int64_t n = 0;

        assert_int_equal(jdb_run(j, &err, "INSERT INTO schools (uai, year, created_usec, updated_usec) VALUES (?, ?, ?, ?)",
                                 JT("0750009X"), JT(NULL), JI(5), JN(7)), 0);
        assert_int_equal(jdb_query_text(j, &err, &year, "SELECT year FROM schools WHERE uai = ?", JT("0750009X")), 1);
        assert_null(year);
        assert_int_equal(jdb_query_int(j, &err, &n, "SELECT created_usec + updated_usec FROM schools WHERE uai = ?",
                                       JT("0750009X")), 1);
        assert_int_equal(n, 12);
        assert_int_equal(jdb_query_text(j, &err, &uai, "SELECT uai FROM schools WHERE created_usec = ?", JI(6)), 0);
        assert_null(uai);
        /* JN: a negative value is SQL NULL. */
        assert_int_equal(jdb_run(j, &err, "UPDATE schools SET year = ? WHERE uai = ?", JT("2026"), JT("0750009X")), 0);
        assert_int_equal(jdb_query_int(j, &err, &n, "SELECT count(*) FROM schools WHERE created_usec = coalesce(?, 5)",
                                       JN(-1)), 1);
        assert_int_equal(n, 1);
        assert_int_equal(jdb_query_int(j, &err, &n, "SELECT count(*) FROM schools WHERE created_usec = coalesce(?, 5)",
                                       JN(6)), 1);
        assert_int_equal(n, 0);
        assert_int_equal(jdb_run(j, &err, "UPDATE schools SET year = ? WHERE uai = ?", JT("2026")), -EINVAL);
        assert_non_null(strstr(err.msg, "1 parameters for: UPDATE schools"));
}

static void test_reopen_keeps_version(void **state) {
        struct journal *j = open_new("s1");
        journal_close(j);
        j = open_new("s1");
        assert_int_equal(journal_schema_version(j), JOURNAL_SCHEMA_VERSION);
        assert_int_equal(raw_int("SELECT count(*) FROM schema_version"), JOURNAL_SCHEMA_VERSION);
        journal_close(j);
}

/* ---- Roster sync ---- */

struct changes {
        char log[4096];
};

static int on_change(void *userdata, enum journal_change c, const struct journal_pupil_row *p, const char *old_class) {
        struct changes *ch = userdata;
        size_t n = strlen(ch->log);
        snprintf(ch->log + n, sizeof(ch->log) - n, "%s %s %s %s%s%s;", journal_change_to_string(c), p->id,
                 p->first_name, p->class_name, old_class ? "<" : "", old_class ? old_class : "");
        return 0;
}

#define PUPIL(i, fam, first, cls) \
        { .id = i, .school = "0750001A", .family_name = fam, .first_name = first, .class_name = cls, .line = __LINE__ }

static const struct journal_pupil roster1[] = {
        PUPIL("1001", "Martin", "Léa", "6A"),
        PUPIL("1002", "Bernard", "Hugo", "6A"),
        PUPIL("1003", "Petit", "Inès", "6B"),
        PUPIL("1004", "Durand", "Noah", "6B"),
        { .id = "2001", .school = "0930002B", .family_name = "Moreau", .first_name = "Jade", .class_name = "5C", .line = 9 },
};

static int import(struct journal *j, const struct journal_pupil *p, size_t n, bool dry_run,
                struct journal_sync_counts *counts, struct changes *ch, struct cart_error *err) {
        _cleanup_(journal_sync_freep) struct journal_sync *s = NULL;
        int r = journal_sync_begin(j, "roster.csv", ch ? on_change : NULL, ch, &s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = journal_sync_pupil(s, &p[i], err);
                if (r < 0)
                        return r;
        }
        return journal_sync_finish(s, dry_run, counts, err);
}

static void test_sync(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        struct journal_sync_counts c;
        struct changes ch = {};
        struct cart_error err = {};
        struct journal_pupil r2[ELEMENTSOF(roster1)];

        assert_int_equal(import(j, roster1, ELEMENTSOF(roster1), false, &c, &ch, &err), 0);
        assert_int_equal(c.added, 5);
        assert_int_equal(c.total, 5);
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE is_active = 1"), 5);
        assert_int_equal(raw_int("SELECT count(*) FROM schools"), 2);

        /* Hugo moves to 6B, Inès is renamed, Noah is gone (left), Jade's school is not in
         * this file, so she stays. */
        memcpy(r2, roster1, sizeof(r2));
        r2[1].class_name = "6B";
        r2[2].first_name = "Inès-Marie";
        memset(ch.log, 0, sizeof(ch.log));
        assert_int_equal(import(j, r2, 3, true, &c, &ch, &err), 0);
        assert_int_equal(c.moved, 1);
        assert_int_equal(c.renamed, 1);
        assert_int_equal(c.left, 1);
        assert_int_equal(c.unchanged, 1);
        assert_string_equal(ch.log, "moved 1002 Hugo 6B<6A;renamed 1003 Inès-Marie 6B;left 1004 Noah 6B;");
        /* The dry run wrote nothing. */
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE is_active = 1"), 5);
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE class_name = '6B'"), 2);
        assert_int_equal(raw_int("SELECT count(*) FROM imports"), 1);

        assert_int_equal(import(j, r2, 3, false, &c, &ch, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM pupils WHERE is_active = 1"), 4);
        assert_int_equal(raw_int("SELECT is_active FROM pupils WHERE id = '2001'"), 1);
        assert_int_equal(raw_int("SELECT left_usec > 0 FROM pupils WHERE id = '1004'"), 1);
        assert_int_equal(raw_int("SELECT class_name = '6B' FROM pupils WHERE id = '1002'"), 1);
        assert_int_equal(raw_int("SELECT n_left FROM imports ORDER BY id DESC LIMIT 1"), 1);

        /* Noah is back, and Léa is marked left in the file itself. */
        r2[0].has_left = true;
        memset(ch.log, 0, sizeof(ch.log));
        assert_int_equal(import(j, r2, 4, false, &c, &ch, &err), 0);
        assert_int_equal(c.rejoined, 1);
        assert_int_equal(c.left, 1);
        assert_string_equal(ch.log, "left 1001 Léa 6A;rejoined 1004 Noah 6B;");
        assert_int_equal(raw_int("SELECT left_usec IS NULL FROM pupils WHERE id = '1004'"), 1);
}

static void test_sync_duplicates_change_nothing(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        struct journal_pupil dup[3] = { roster1[0], roster1[1], roster1[0] };
        struct cart_error err = {};

        dup[0].line = 2;
        dup[2].line = 7;
        dup[2].class_name = "6C";
        assert_int_equal(import(j, dup, 3, false, NULL, NULL, &err), -EBADMSG);
        assert_string_equal(err.msg, "roster.csv:7: pupil id 1001 (school 0750001A) is also on line 2");
        /* The whole import is gone, including the rows before the bad one. */
        assert_int_equal(raw_int("SELECT count(*) FROM pupils"), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM imports"), 0);

        dup[0].has_derived_id = dup[2].has_derived_id = true;
        assert_int_equal(import(j, dup, 3, false, NULL, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "roster.csv:7: homonyms"));
        assert_non_null(strstr(err.msg, "line 2"));
        assert_int_equal(raw_int("SELECT count(*) FROM pupils"), 0);
}

struct listing {
        char ids[1024];
};

static int on_pupil(void *userdata, const struct journal_pupil_row *p) {
        struct listing *l = userdata;
        size_t n = strlen(l->ids);
        snprintf(l->ids + n, sizeof(l->ids) - n, "%s%s ", p->id, p->key_uid ? "*" : "");
        return 0;
}

static const char *list(struct journal *j, const struct journal_pupil_filter *f, struct listing *l) {
        struct cart_error err = {};
        memset(l, 0, sizeof(*l));
        assert_int_equal(journal_pupils_list(j, f, on_pupil, l, &err), 0);
        return l->ids;
}

/* A successful flash of an image file "sticks/N.img" at a given time. */
static struct flash_report report(const char *serial, enum flash_outcome outcome) {
        struct flash_report r = {
                .key = { .vid_pid = "0781:5581", .capacity = 8 * GIB },
                .is_probed = true, .real_capacity = 8 * GIB, .volume_id = 0x1234abcd,
                .release_name = "ent-college", .release_version = "2026.1", .release_key_id = "0123456789ABCDEF",
                .release_serial = 7, .started_usec = 1700000000000000, .finished_usec = 1700000001000000,
                .bytes_written = 371800000, .bytes_read = 371800000, .write_seconds = 0.5, .read_seconds = 0.25,
                .outcome = outcome, .step = outcome == FLASH_OUTCOME_OK ? FLASH_STEP_DONE : FLASH_STEP_WRITE,
        };
        snprintf(r.key.serial, sizeof(r.key.serial), "%s", serial);
        if (outcome != FLASH_OUTCOME_OK)
                r.error = cart_error_set(&r.failure, -EIO, "write: Input/output error at offset 4096");
        return r;
}

static void test_list_order_and_filters(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        struct cart_error err = {};
        struct listing l;
        /* File order within a class is the roster order, whatever the alphabet says. */
        struct journal_pupil r[] = {
                PUPIL("9", "Zola", "Émile", "6A"), PUPIL("3", "Abel", "Ana", "6B"),
                PUPIL("5", "Marin", "Théo", "6A"), PUPIL("4", "Bach", "Léon", "5A"),
        };
        struct flash_report k = report("AA01", FLASH_OUTCOME_OK);
        struct test_flash f = { .operator = "tech", .pupil = "9" };

        assert_int_equal(import(j, r, ELEMENTSOF(r), false, NULL, NULL, &err), 0);
        assert_string_equal(list(j, NULL, &l), "4 9 5 3 ");
        assert_string_equal(list(j, &(struct journal_pupil_filter) { .class_name = "6A" }, &l), "9 5 ");
        assert_int_equal(record_flash(j, &k, &f, &err), 0);
        assert_string_equal(list(j, NULL, &l), "4 9* 5 3 ");
        assert_string_equal(list(j, &(struct journal_pupil_filter) { .class_name = "6A", .without_key = true }, &l), "5 ");
        assert_string_equal(list(j, &(struct journal_pupil_filter) { .school = "0930002B" }, &l), "");
}

/* ---- Flashes ---- */

static void test_record_flash_and_issue(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("station-1");
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;
        struct flash_report a = report("AA01", FLASH_OUTCOME_OK), b = report("BB02", FLASH_OUTCOME_OK);
        struct flash_report bad = report("CC03", FLASH_OUTCOME_FAILED);
        struct test_flash f = { .operator = "Mme Technicienne", .pupil = "1001", .reason = "io-error" };
        struct cart_error err = {};

        assert_int_equal(import(j, roster1, ELEMENTSOF(roster1), false, NULL, NULL, &err), 0);

        /* The owner fields come from the roster (the station makes them of the pupil). */
        assert_int_equal(journal_pupil_get(j, "1001", &p, &err), 0);
        struct owner_fields owner = station_owner(p);
        assert_string_equal(owner.first_name, "Léa");
        assert_string_equal(owner.last_name, "Martin");
        assert_string_equal(owner.class_name, "6A");
        assert_string_equal(owner.school, "0750001A");
        assert_null(p->key_uid);
        p = journal_pupil_info_free(p);

        assert_int_equal(journal_pupil_for_issue(j, "1001", false, &p, &err), 0);
        assert_string_equal(p->first_name, "Léa");
        p = journal_pupil_info_free(p);
        assert_int_equal(record_flash(j, &a, &f, &err), 0);
        assert_int_equal(journal_pupil_for_issue(j, "1001", false, &p, &err), -EEXIST);
        assert_null(p);
        assert_string_equal(err.msg, "pupil 0750001A/1001 (Léa Martin, 6A) already holds key usb:0781:5581:AA01 "
                            "(--replace to give a new one)");
        assert_int_equal(journal_pupil_for_issue(j, "1001", true, &p, &err), 0);
        p = journal_pupil_info_free(p);
        assert_int_equal(journal_pupil_get(j, "0750001A/1001", &p, &err), 0);
        assert_string_equal(p->key_uid, "usb:0781:5581:AA01");
        p = journal_pupil_info_free(p);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok' AND "
                                 "operator = 'Mme Technicienne' AND station = 'station-1' AND volume_id = '1234ABCD' "
                                 "AND write_usec = 500000 AND reason IS NULL"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'issued' AND pupil_id = '1001' "
                                 "AND key_uid = 'usb:0781:5581:AA01'"), 1);

        /* A second key for Léa without --replace: recorded as stock, not issued. */
        assert_int_equal(record_flash(j, &b, &f, &err), -EEXIST);
        assert_non_null(strstr(err.msg, "already holds key usb:0781:5581:AA01"));
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:BB02' AND status = 'stock'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'issued'"), 1);

        /* With --replace, the old key is marked replaced and the new one issued. */
        f.replace = true;
        assert_int_equal(record_flash(j, &b, &f, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:AA01' AND status = 'replaced'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'replaced' AND key_uid = 'usb:0781:5581:AA01'"), 1);
        assert_int_equal(journal_pupil_get(j, "1001", &p, &err), 0);
        assert_string_equal(p->key_uid, "usb:0781:5581:BB02");
        p = journal_pupil_info_free(p);

        /* A failed key is recorded with its words and reason, and issues nothing. */
        f.pupil = "1002";
        assert_int_equal(record_flash(j, &bad, &f, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'failed' AND "
                                 "step = 'write' AND reason = 'io-error' AND message LIKE '%Input/output%'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:CC03' AND status = 'failed'"), 1);
        assert_int_equal(journal_pupil_get(j, "1002", &p, &err), 0);
        assert_null(p->key_uid);
        p = journal_pupil_info_free(p);

        /* Key AA01, reflashed for Hugo: Léa's replaced key changes hands. */
        f.replace = false;
        assert_int_equal(record_flash(j, &a, &f, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:AA01' AND status = 'issued' "
                                 "AND pupil_id = '1002'"), 1);

        /* A stock key (no pupil) that was issued goes back to stock, with a returned event. */
        f.pupil = NULL;
        assert_int_equal(record_flash(j, &a, &f, &err), 0);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'returned' AND pupil_id = '1002' "
                                 "AND reason = 'reflashed'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM keys WHERE uid = 'usb:0781:5581:AA01' AND status = 'stock' "
                                 "AND pupil_id IS NULL"), 1);

        /* An unknown pupil records nothing. */
        int64_t n = raw_int("SELECT count(*) FROM events");
        f.pupil = "nobody";
        assert_int_equal(record_flash(j, &a, &f, &err), -ENOENT);
        assert_int_equal(raw_int("SELECT count(*) FROM events"), n);
        assert_int_equal(journal_verify(j, NULL, NULL, &err), 0);
}

static void test_left_pupil_and_ambiguous_id(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("s1");
        struct journal_pupil r[] = { roster1[0], roster1[1] };
        struct flash_report a = report("AA01", FLASH_OUTCOME_OK);
        struct test_flash f = { .pupil = "1002" };
        struct cart_error err = {};
        _cleanup_(journal_pupil_info_freep) struct journal_pupil_info *p = NULL;

        r[1].has_left = true;
        assert_int_equal(import(j, r, 2, false, NULL, NULL, &err), 0);
        assert_int_equal(journal_pupil_for_issue(j, "1002", true, &p, &err), -ESRCH);
        assert_null(p);
        assert_non_null(strstr(err.msg, "pupil 0750001A/1002 (Hugo Bernard, 6A) has left"));
        assert_int_equal(journal_pupil_for_issue(j, "nobody", false, &p, &err), -ENOENT);
        assert_int_equal(record_flash(j, &a, &f, &err), -ESRCH);
        assert_non_null(strstr(err.msg, "has left"));
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'flashed'"), 1);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE kind = 'issued'"), 0);

        r[1].school = "0930002B";
        r[1].id = "1001";
        r[1].has_left = false;
        assert_int_equal(import(j, &r[1], 1, false, NULL, NULL, &err), 0);
        assert_int_equal(journal_pupil_get(j, "1001", &p, &err), -ENOTUNIQ);
        assert_non_null(strstr(err.msg, "UAI/ID"));
        assert_int_equal(journal_pupil_get(j, "0930002B/1001", &p, &err), 0);
        assert_string_equal(p->first_name, "Hugo");
}

static void test_key_uid(void **state) {
        struct flash_report r = report("", FLASH_OUTCOME_OK);
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(station_key_uid(&r, &a), 0);
        assert_string_equal(a, "volume:1234ABCD");
        r.key.vid_pid[0] = 0;
        snprintf(r.key.device, sizeof(r.key.device), "/srv/keys/k1.img");
        assert_int_equal(station_key_uid(&r, &b), 0);
        assert_string_equal(b, "file:/srv/keys/k1.img");

        /* An image file named from its directory, from elsewhere, through a symlinked
         * directory, before and after it exists: one identity, the absolute path. */
        char tmp[] = "/tmp/cartable-uid-XXXXXX", old[PATH_MAX], want[PATH_MAX + 16], link[64];
        _cleanup_free_ char *real = NULL;
        const char *names[] = { "k2.img", "./k2.img", "sub/../k2.img", NULL, "lnk/k2.img" };
        assert_non_null(mkdtemp(tmp));
        assert_non_null(getcwd(old, sizeof(old)));
        real = realpath(tmp, NULL);
        assert_non_null(real);
        snprintf(want, sizeof(want), "file:%s/k2.img", real);
        assert_int_equal(chdir(tmp), 0);
        assert_int_equal(mkdir("sub", 0700), 0);
        assert_int_equal(symlink(".", "lnk"), 0);
        snprintf(link, sizeof(link), "%s/k2.img", tmp);
        names[3] = link;
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                        _cleanup_free_ char *c = NULL;
                        snprintf(r.key.device, sizeof(r.key.device), "%s", names[i]);
                        assert_int_equal(station_key_uid(&r, &c), 0);
                        if (!streq(c, want))
                                fail_msg("%s: %s, expected %s", names[i], c, want);
                }
                assert_int_equal(close(open("k2.img", O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        }
        /* A symlinked image is its own key, not its target's. */
        assert_int_equal(symlink("k2.img", "other.img"), 0);
        snprintf(r.key.device, sizeof(r.key.device), "other.img");
        _cleanup_free_ char *c = NULL;
        assert_int_equal(station_key_uid(&r, &c), 0);
        assert_non_null(strstr(c, "/other.img"));
        unlink("other.img");
        unlink("k2.img");
        unlink("lnk");
        rmdir("sub");
        assert_int_equal(chdir(old), 0);
        rmdir(tmp);
}

/* ---- The chain ---- */

static void fill(struct journal *j, int n) {
        struct cart_error err = {};
        char serial[16];

        for (int i = 0; i < n; i++) {
                snprintf(serial, sizeof(serial), "K%04d", i);
                struct flash_report r = report(serial, i % 3 ? FLASH_OUTCOME_OK : FLASH_OUTCOME_FAILED);
                assert_int_equal(record_flash(j, &r, NULL, &err), 0);
        }
}

static int verify(struct journal *j, struct cart_error *err) {
        memset(err, 0, sizeof(*err));
        return journal_verify(j, NULL, NULL, err);
}

struct heads {
        int n;
        int64_t events[4];
};

static void on_head(void *userdata, const struct journal_head *h) {
        struct heads *x = userdata;
        assert_int_equal(strlen(h->hash), 64);
        x->events[x->n++] = h->n_events;
}

static void test_chain_intact_two_stations(void **state) {
        struct journal *j = open_new("alpha");
        struct heads h = {};
        struct cart_error err = {};

        fill(j, 5);
        journal_close(j);
        j = open_new("beta");
        fill(j, 3);
        assert_int_equal(journal_verify(j, on_head, &h, &err), 0);
        assert_int_equal(h.n, 2);
        assert_int_equal(h.events[0], 5);
        assert_int_equal(h.events[1], 3);
        assert_int_equal(raw_int("SELECT count(DISTINCT uuid) FROM events"), 8);
        assert_int_equal(raw_int("SELECT count(*) FROM events WHERE station = 'beta' AND station_seq = 3 AND "
                                 "prev_hash = (SELECT hash FROM events WHERE station = 'beta' AND station_seq = 2)"), 1);
        journal_close(j);
}

static void test_chain_edit(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("alpha");
        struct cart_error err;

        fill(j, 6);
        raw("UPDATE events SET outcome = 'ok' WHERE station_seq = 4");
        assert_int_equal(verify(j, &err), 1);
        assert_non_null(strstr(err.msg, "station alpha: event 4 (row 4, uuid "));
        assert_non_null(strstr(err.msg, "was edited"));
}

static void test_chain_edit_rehashed(void **state) {
        SQLITE_ONLY();
        _cleanup_(journal_closep) struct journal *j = open_new("alpha");
        struct journal_event_row e = {};
        char hash[JOURNAL_HASH_HEX_LEN + 1], sql[512];
        struct cart_error err;
        sqlite3 *db;
        sqlite3_stmt *s;

        fill(j, 6);
        /* Someone turns failed event 4 into a success and recomputes its hash: event 5 no
         * longer follows it. */
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT uuid, station, station_seq, kind, time_usec, key_uid, "
                                            "key_serial, release_name, release_version, release_serial, "
                                            "release_key_id, outcome, step, message, volume_id, bytes_written, "
                                            "bytes_read, started_usec, write_usec, read_usec, prev_hash, reason FROM events "
                                            "WHERE station_seq = 4", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
#define T(i) ((const char *) sqlite3_column_text(s, i))
#define I(i) (sqlite3_column_type(s, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, i))
        e = (struct journal_event_row) { .uuid = T(0), .station = T(1), .station_seq = I(2), .kind = T(3),
                .time_usec = I(4), .key_uid = T(5), .key_serial = T(6), .release_name = T(7),
                .release_version = T(8), .release_serial = I(9), .release_key_id = T(10), .outcome = "ok",
                .step = "done", .message = NULL, .volume_id = T(14), .bytes_written = I(15), .bytes_read = I(16),
                .started_usec = I(17), .write_usec = I(18), .read_usec = I(19), .prev_hash = T(20),
                .reason = T(21) };
        assert_int_equal(journal_event_hash(&e, hash), 0);
        sqlite3_finalize(s);
        snprintf(sql, sizeof(sql), "UPDATE events SET outcome = 'ok', step = 'done', message = NULL, hash = '%s' "
                 "WHERE station_seq = 4", hash);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(verify(j, &err), 1);
        assert_non_null(strstr(err.msg, "event 5 (row 5, uuid "));
        assert_non_null(strstr(err.msg, "does not follow event 4"));
        assert_non_null(strstr(err.msg, "event 4 was edited and its hash recomputed"));
}

static void test_chain_delete_and_insert(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("alpha");
        struct cart_error err;

        fill(j, 6);
        raw("DELETE FROM events WHERE station_seq = 3");
        assert_int_equal(verify(j, &err), 1);
        assert_non_null(strstr(err.msg, "station alpha: event 3 deleted (the chain resumes at event 4, row 4"));

        raw("DELETE FROM events WHERE station_seq IN (4, 5)");
        assert_int_equal(verify(j, &err), 1);
        assert_non_null(strstr(err.msg, "events 3 to 5 deleted"));

        /* A copy of event 2 inserted as event 3, under a new uuid: its hash no longer matches. */
        raw("INSERT INTO events (uuid, station, station_seq, kind, time_usec, key_uid, prev_hash, hash) "
            "SELECT 'inserted', station, 3, kind, time_usec, key_uid, prev_hash, hash FROM events WHERE station_seq = 2");
        assert_int_equal(verify(j, &err), 1);
        assert_non_null(strstr(err.msg, "event 3 (row 7, uuid inserted) was edited"));
}

static void test_chain_insert_replayed_row(void **state) {
        _cleanup_(journal_closep) struct journal *j = open_new("alpha");
        struct cart_error err;

        fill(j, 4);
        /* Event 2 moved to the end as event 5 by a renumbering: its content (the number) changed. */
        raw("UPDATE events SET station_seq = 5 WHERE station_seq = 2");
        assert_int_equal(verify(j, &err), 1);
        assert_non_null(strstr(err.msg, "event 2 deleted"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_schema_matches_file, setup),
                cmocka_unit_test_setup(test_pragmas, setup),
                cmocka_unit_test_setup(test_newer_version_refused_untouched, setup),
                cmocka_unit_test_setup(test_not_a_journal, setup),
                cmocka_unit_test_setup(test_migration_runner, setup),
                cmocka_unit_test_setup(test_binder, setup),
                cmocka_unit_test_setup(test_reopen_keeps_version, setup),
                cmocka_unit_test_setup(test_sync, setup),
                cmocka_unit_test_setup(test_sync_duplicates_change_nothing, setup),
                cmocka_unit_test_setup(test_list_order_and_filters, setup),
                cmocka_unit_test_setup(test_record_flash_and_issue, setup),
                cmocka_unit_test_setup(test_left_pupil_and_ambiguous_id, setup),
                cmocka_unit_test_setup(test_key_uid, setup),
                cmocka_unit_test_setup(test_chain_intact_two_stations, setup),
                cmocka_unit_test_setup(test_chain_edit, setup),
                cmocka_unit_test_setup(test_chain_edit_rehashed, setup),
                cmocka_unit_test_setup(test_chain_delete_and_insert, setup),
                cmocka_unit_test_setup(test_chain_insert_replayed_row, setup),
        };
        journal_test_backend();
        int r = cmocka_run_group_tests_name(pg_url ? "journal API on PostgreSQL" : "journal API on SQLite",
                                            tests, NULL, NULL);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                r = r ? r : 1;
        return r;
}
