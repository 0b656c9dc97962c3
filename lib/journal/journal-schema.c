/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The journal's one logical schema, for both backends: each version's migration in SQLite's
 * dialect (journal-pg.c translates it), and what only PostgreSQL has. A change is a new
 * version here, and an edit of manifests/schemas/journal.sql and journal-pg.sql, which the
 * tests compare with the live schemas.
 */
#include "journal/journal-internal.h"

/* Version 1, as manifests/schemas/journal.sql documents it (comments live there). */
static const char schema_v1[] =
        "CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_usec BIGINT NOT NULL);\n"
        "CREATE TABLE schools (uai TEXT NOT NULL PRIMARY KEY, year TEXT, created_usec BIGINT NOT NULL,"
        " updated_usec BIGINT NOT NULL);\n"
        "CREATE TABLE imports (id INTEGER PRIMARY KEY, time_usec BIGINT NOT NULL, source TEXT NOT NULL,"
        " station TEXT NOT NULL, n_pupils BIGINT NOT NULL, n_added BIGINT NOT NULL, n_moved BIGINT NOT NULL,"
        " n_renamed BIGINT NOT NULL, n_left BIGINT NOT NULL, n_rejoined BIGINT NOT NULL);\n"
        "CREATE TABLE pupils (school TEXT NOT NULL REFERENCES schools (uai), id TEXT NOT NULL,"
        " family_name TEXT NOT NULL, first_name TEXT NOT NULL, class_name TEXT NOT NULL,"
        " is_active INTEGER NOT NULL CHECK (is_active IN (0, 1)), ine_hmac TEXT,"
        " has_derived_id INTEGER NOT NULL CHECK (has_derived_id IN (0, 1)),"
        " roster_rank BIGINT NOT NULL, roster_line BIGINT NOT NULL,"
        " import_id BIGINT NOT NULL REFERENCES imports (id), created_usec BIGINT NOT NULL,"
        " updated_usec BIGINT NOT NULL, left_usec BIGINT, PRIMARY KEY (school, id));\n"
        "CREATE INDEX pupils_by_id ON pupils (id);\n"
        "CREATE INDEX pupils_by_class ON pupils (school, class_name, roster_rank);\n"
        "CREATE TABLE keys (uid TEXT NOT NULL PRIMARY KEY, serial TEXT, vid_pid TEXT, vendor TEXT,"
        " product TEXT, capacity BIGINT NOT NULL, real_capacity BIGINT, volume_id TEXT,"
        " status TEXT NOT NULL CHECK (status IN ('failed', 'stock', 'issued', 'returned', 'lost',"
        " 'stolen', 'replaced', 'retired')), pupil_school TEXT, pupil_id TEXT,"
        " created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL,"
        " FOREIGN KEY (pupil_school, pupil_id) REFERENCES pupils (school, id));\n"
        "CREATE INDEX keys_by_pupil ON keys (pupil_school, pupil_id);\n"
        "CREATE INDEX keys_by_serial ON keys (serial);\n"
        "CREATE INDEX keys_by_volume ON keys (volume_id);\n"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, station TEXT NOT NULL,"
        " station_seq BIGINT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('flashed', 'issued',"
        " 'verified', 'returned', 'lost', 'stolen', 'replaced', 'retired', 'purged')),"
        " time_usec BIGINT NOT NULL, operator TEXT, pupil_school TEXT, pupil_id TEXT,"
        " key_uid TEXT REFERENCES keys (uid), key_serial TEXT, release_name TEXT, release_version TEXT,"
        " release_serial BIGINT, release_key_id TEXT, outcome TEXT, reason TEXT, step TEXT, message TEXT,"
        " volume_id TEXT, bytes_written BIGINT, bytes_read BIGINT, started_usec BIGINT, write_usec BIGINT,"
        " read_usec BIGINT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (station, station_seq),"
        " FOREIGN KEY (pupil_school, pupil_id) REFERENCES pupils (school, id));\n"
        "CREATE INDEX events_by_pupil ON events (pupil_school, pupil_id);\n"
        "CREATE INDEX events_by_key ON events (key_uid);\n";

/* Version 2: events hash a salted commitment of the pupil's id (format 2), so that a
 * retention purge erases ids and salts and keeps the chain; purges and what they leave. */
static const char schema_v2[] =
        "ALTER TABLE pupils ADD COLUMN salt TEXT;\n"
        "ALTER TABLE events ADD COLUMN format INTEGER NOT NULL DEFAULT 1;\n"
        "ALTER TABLE events ADD COLUMN pupil_commit TEXT;\n"
        "CREATE TABLE purges (id INTEGER PRIMARY KEY, time_usec BIGINT NOT NULL, station TEXT NOT NULL,"
        " operator TEXT, left_before_usec BIGINT NOT NULL, n_pupils BIGINT NOT NULL, n_events BIGINT NOT NULL,"
        " n_kept_v1 BIGINT NOT NULL);\n"
        "CREATE TABLE purged_counts (school TEXT NOT NULL, class_name TEXT NOT NULL, n_pupils BIGINT NOT NULL,"
        " PRIMARY KEY (school, class_name));\n";

/* Version 3: several stations on one class claim pupils in the journal (a claim is
 * committed with the key's start and released with its end); a pupil may carry the salts of
 * other journals it was merged from, so that both stations' events verify (journal merge). */
static const char schema_v3[] =
        "ALTER TABLE pupils ADD COLUMN claim_station TEXT;\n"
        "ALTER TABLE pupils ADD COLUMN claim_key TEXT;\n"
        "ALTER TABLE pupils ADD COLUMN claim_usec BIGINT;\n"
        "CREATE TABLE pupil_salts (school TEXT NOT NULL, id TEXT NOT NULL, salt TEXT NOT NULL,"
        " PRIMARY KEY (school, id, salt), FOREIGN KEY (school, id) REFERENCES pupils (school, id));\n";

/* Version 4: what a key's life runs finds its rows through an index, whatever the size of
 * the roster and of the history: a key's end releases its claim by key (a partial index:
 * only claimed pupils are in it), and a batch lists the keys its station left started
 * among the starts alone. */
static const char schema_v4[] =
        "CREATE INDEX pupils_by_claim ON pupils (claim_station, claim_key) WHERE claim_key IS NOT NULL;\n"
        "CREATE INDEX events_started ON events (station, seq) WHERE kind = 'flashed' AND outcome = 'started';\n";

/* Version 5: each batch run has an identity, recorded in its keys' start events (format 3
 * hashes it), so that a batch closes as interrupted only the starts of runs that are gone
 * (journal_close_interrupted), never those of another batch of the station still running. */
static const char schema_v5[] =
        "ALTER TABLE events ADD COLUMN run TEXT;\n";

/* Version 6: when the last SIECLE export applied to a school was written (HORODATAGE, or
 * DATE_EXPORT), so that an older export of the same year is refused as stale; and when a
 * pupil still there leaves (a DATE_SORTIE to come), so that no key is given once it has come. */
static const char schema_v6[] =
        "ALTER TABLE schools ADD COLUMN exported TEXT;\n"
        "ALTER TABLE pupils ADD COLUMN leaves_usec BIGINT;\n"
        "CREATE INDEX pupils_leaving ON pupils (leaves_usec) WHERE leaves_usec IS NOT NULL;\n";

/* Version 7: stations are registered by the journal's owner (journal station add), with
 * their database role, the schools they serve and their public key; each event carries its
 * station's Ed25519 signature of its hash (journal-sign.c), checked by journal verify from
 * the station's signed_from event on. On PostgreSQL the server holds each station's role to
 * its name and its schools (journal_pg_extras[7]). */
static const char schema_v7[] =
        "CREATE TABLE stations (name TEXT NOT NULL PRIMARY KEY, role TEXT, public_key TEXT,"
        " signed_from BIGINT NOT NULL, added_usec BIGINT NOT NULL, removed_usec BIGINT);\n"
        "CREATE UNIQUE INDEX stations_by_role ON stations (role) WHERE removed_usec IS NULL;\n"
        "CREATE TABLE station_schools (station TEXT NOT NULL REFERENCES stations (name), school TEXT NOT NULL,"
        " PRIMARY KEY (station, school));\n"
        "ALTER TABLE events ADD COLUMN signature TEXT;\n";

/* Version 8: a purge leaves
 * tombstones, salted commitments that keep its pupils purged (journal-tombstone.c). Events a
 * purge detached before tombstones existed are buried here, if a purge was recorded. Events
 * of form 4 commit to their message, which a purge may then erase. */
static const char schema_v8[] =
        "CREATE TABLE purged_pupils (commitment TEXT NOT NULL PRIMARY KEY);\n"
        "CREATE TABLE purge_salt (salt TEXT NOT NULL PRIMARY KEY);\n"
        "INSERT INTO purged_pupils (commitment) SELECT DISTINCT pupil_commit FROM events"
        " WHERE pupil_id IS NULL AND pupil_commit IS NOT NULL AND EXISTS (SELECT 1 FROM purges);\n"
        /* Form 4 hashes a salted commitment of the message instead of the message, so that a
         * purge erases the words that name a pupil (an id in a swap's message) and keeps the chain. */
        "ALTER TABLE events ADD COLUMN message_salt TEXT;\n"
        "ALTER TABLE events ADD COLUMN message_commit TEXT;\n";

/* Version 9: "erased" events, what a key held erased before it was written (or, asked
 * never, not: cartable-flash(1)). SQLite cannot alter a CHECK constraint: the table's
 * definition is edited in place (SQLite's documented way for a change that no stored row
 * contradicts: the list only grows), the connection's schema reloaded, and the schema
 * cookie moved by a throwaway table so that every other connection reloads it too. */
static const char schema_v9[] =
        "PRAGMA writable_schema = ON;\n"
        "UPDATE sqlite_master SET sql = replace(sql, '''retired'', ''purged'')', '''retired'', ''purged'', ''erased'')')"
        " WHERE type = 'table' AND name = 'events';\n"
        "PRAGMA writable_schema = RESET;\n"
        "CREATE TABLE schema_reload (x INTEGER);\n"
        "DROP TABLE schema_reload;\n";
static const char schema_v9_pg[] =
        "ALTER TABLE events DROP CONSTRAINT events_kind_check;\n"
        "ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('flashed', 'issued', 'verified',"
        " 'returned', 'lost', 'stolen', 'replaced', 'retired', 'purged', 'erased'));\n";

/* Version 10: "updated" and "repaired" events, a key brought to a newer release or back to
 * its own in place (cartable-update(1)); the CHECK on kinds widened as version 9 did. */
static const char schema_v10[] =
        "PRAGMA writable_schema = ON;\n"
        "UPDATE sqlite_master SET sql = replace(sql, '''purged'', ''erased'')',"
        " '''purged'', ''erased'', ''updated'', ''repaired'')') WHERE type = 'table' AND name = 'events';\n"
        "PRAGMA writable_schema = RESET;\n"
        "CREATE TABLE schema_reload (x INTEGER);\n"
        "DROP TABLE schema_reload;\n";
static const char schema_v10_pg[] =
        "ALTER TABLE events DROP CONSTRAINT events_kind_check;\n"
        "ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('flashed', 'issued', 'verified',"
        " 'returned', 'lost', 'stolen', 'replaced', 'retired', 'purged', 'erased', 'updated', 'repaired'));\n";

const struct journal_migration journal_migrations[] = {
        { 1, schema_v1, NULL },
        { 2, schema_v2, NULL },
        { 3, schema_v3, NULL },
        { 4, schema_v4, NULL },
        { 5, schema_v5, NULL },
        { 6, schema_v6, NULL },
        { 7, schema_v7, NULL },
        { 8, schema_v8, NULL },
        { 9, schema_v9, schema_v9_pg },
        { 10, schema_v10, schema_v10_pg },
};
const size_t journal_n_migrations = ELEMENTSOF(journal_migrations);

/*
 * What only PostgreSQL has, after the migration of that version (journal-pg.c translates the
 * migrations above into its dialect). manifests/schemas/journal-pg.sql documents the result;
 * the journal-pg test checks the live schema against it.
 */
const char *const journal_pg_extras[] = {
        /* v1: append-only events for every role but the table's owner (migrations, purge): a
         * station's role has no UPDATE or DELETE grant on events, and this holds even if one
         * is granted by mistake (cartable-journal(1), GRANTs for a station). */
        [1] = "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF pg_has_role(current_user, (SELECT tableowner FROM pg_tables WHERE schemaname = TG_TABLE_SCHEMA"
        " AND tablename = TG_TABLE_NAME), 'MEMBER') THEN"
        " RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END IF;"
        " RAISE EXCEPTION 'events are append-only: % by % refused', TG_OP, current_user"
        " USING ERRCODE = 'insufficient_privilege'; END $$;\n"
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events"
        " FOR EACH ROW EXECUTE FUNCTION events_append_only();\n",
        /* v7: the server holds each station's role to its registered name and schools
         * (cartable-journal(1), STATIONS): its events carry its name and its schools' pupils
         * only (events_station); it reads and changes the pupils, salts, claims and issued keys
         * of its schools only, and its own imports (row-level security; the tables' owner is
         * not subject to it). A key no pupil holds (stock, returned, lost...) is the
         * département's: any station sees it, and issuing it moves it to that station's school.
         * cartable_station_grant() gives a role what a station needs, and no more. The policies
 * call the station's functions in a subquery, which the server runs once per statement
 * (an InitPlan), not once per row. */
        [7] = "CREATE FUNCTION cartable_station_name() RETURNS text LANGUAGE sql STABLE AS $$"
        " SELECT name FROM stations WHERE role = session_user AND removed_usec IS NULL $$;\n"
        "CREATE FUNCTION cartable_station_schools() RETURNS text[] LANGUAGE sql STABLE AS $$"
        " SELECT coalesce(array_agg(ss.school), '{}') FROM station_schools ss JOIN stations s ON s.name = ss.station"
        " WHERE s.role = session_user AND s.removed_usec IS NULL $$;\n"
        "CREATE FUNCTION events_station() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE me text; BEGIN"
        " IF pg_has_role(session_user, (SELECT tableowner FROM pg_tables WHERE schemaname = TG_TABLE_SCHEMA"
        " AND tablename = TG_TABLE_NAME), 'MEMBER') THEN RETURN NEW; END IF;"
        " me := cartable_station_name();"
        " IF me IS NULL THEN RAISE EXCEPTION 'role % is not a registered station (cartable journal station add)',"
        " session_user USING ERRCODE = 'insufficient_privilege'; END IF;"
        " IF NEW.station IS DISTINCT FROM me THEN RAISE EXCEPTION 'role % is station %: it cannot write events of"
        " station %', session_user, me, NEW.station USING ERRCODE = 'insufficient_privilege'; END IF;"
        " IF NEW.pupil_school IS NOT NULL AND NOT NEW.pupil_school = ANY (cartable_station_schools()) THEN"
        " RAISE EXCEPTION 'station % does not serve school %', me, NEW.pupil_school"
        " USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$;\n"
        "CREATE TRIGGER events_station BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_station();\n"
        "ALTER TABLE schools ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY schools_read ON schools FOR SELECT USING (true);\n"
        "CREATE POLICY schools_add ON schools FOR INSERT WITH CHECK (uai = ANY ((SELECT cartable_station_schools())::text[]));\n"
        "CREATE POLICY schools_change ON schools FOR UPDATE USING (uai = ANY ((SELECT cartable_station_schools())::text[]));\n"
        "ALTER TABLE pupils ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY pupils_of_station ON pupils USING (school = ANY ((SELECT cartable_station_schools())::text[]))"
        " WITH CHECK (school = ANY ((SELECT cartable_station_schools())::text[])"
        " AND (claim_station IS NULL OR claim_station = (SELECT cartable_station_name())));\n"
        "ALTER TABLE pupil_salts ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY pupil_salts_of_station ON pupil_salts USING (school = ANY ((SELECT cartable_station_schools())::text[]));\n"
        "ALTER TABLE keys ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY keys_of_station ON keys USING (pupil_school IS NULL OR status <> 'issued'"
        " OR pupil_school = ANY ((SELECT cartable_station_schools())::text[]))"
        " WITH CHECK (pupil_school IS NULL OR status <> 'issued' OR pupil_school = ANY ((SELECT cartable_station_schools())::text[]));\n"
        "ALTER TABLE imports ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY imports_of_station ON imports USING (station = (SELECT cartable_station_name()));\n"
        "CREATE FUNCTION cartable_station_grant(station_role text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
        " EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), station_role);"
        " EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), station_role);"
        " EXECUTE format('GRANT SELECT ON schema_version, schools, imports, pupils, pupil_salts, keys, events,"
        " stations, station_schools TO %I', station_role);"
        " EXECUTE format('GRANT INSERT, UPDATE ON schools, pupils, keys TO %I', station_role);"
        " EXECUTE format('GRANT INSERT ON imports, events, pupil_salts TO %I', station_role);"
        " EXECUTE format('GRANT USAGE ON SEQUENCE imports_id_seq, events_seq_seq TO %I', station_role);"
        " EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON events FROM %I', station_role); END $$;\n"
        "CREATE FUNCTION cartable_station_revoke(station_role text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
        " EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), station_role);"
        " EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', current_schema(), station_role);"
        " END $$;\n",
        /* v8: a station reads the purges' tombstones (journal verify tells a purge from
         * detached history; push and merge keep a purged pupil out) and adds those a pushed
         * journal carries: cartable_station_grant() gives it that too, and the stations
         * registered before get it now. */
        [8] = "CREATE OR REPLACE FUNCTION cartable_station_grant(station_role text) RETURNS void LANGUAGE plpgsql"
        " AS $$ BEGIN"
        " EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), station_role);"
        " EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), station_role);"
        " EXECUTE format('GRANT SELECT ON schema_version, schools, imports, pupils, pupil_salts, keys, events,"
        " stations, station_schools, purges, purged_pupils, purge_salt TO %I', station_role);"
        " EXECUTE format('GRANT INSERT, UPDATE ON schools, pupils, keys TO %I', station_role);"
        " EXECUTE format('GRANT INSERT ON imports, events, pupil_salts, purged_pupils TO %I', station_role);"
        " EXECUTE format('GRANT USAGE ON SEQUENCE imports_id_seq, events_seq_seq TO %I', station_role);"
        " EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON events FROM %I', station_role); END $$;\n"
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT role FROM stations WHERE removed_usec IS NULL"
        " AND role IS NOT NULL LOOP PERFORM cartable_station_grant(r.role); END LOOP; END $$;\n",
};

const size_t journal_n_pg_extras = ELEMENTSOF(journal_pg_extras);
