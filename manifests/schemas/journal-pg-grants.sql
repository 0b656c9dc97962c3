-- SPDX-License-Identifier: GPL-2.0-or-later
-- The rights of a station's role on a PostgreSQL journal (cartable-journal(1), "GRANTs for a
-- station"): what roster import, flash, batch and journal show/verify/push use, and no more.
-- Events can be inserted and read, never updated or deleted: a compromised station cannot
-- rewrite history (the events_append_only trigger refuses it even if UPDATE or DELETE is
-- granted by mistake). Run as the journal's owner after cartable created the schema, once per
-- station role (replace cartable_station by its name):
--   psql "postgresql://owner@server/cartable" -f journal-pg-grants.sql
-- The unit test journal-pg runs this file and checks each refusal with a restricted role.
GRANT CONNECT ON DATABASE cartable TO cartable_station;
GRANT USAGE ON SCHEMA public TO cartable_station;
GRANT SELECT ON schema_version, schools, imports, pupils, pupil_salts, keys, events, purges, purged_pupils, purge_salt TO cartable_station;
GRANT INSERT, UPDATE ON schools, pupils, keys TO cartable_station;
GRANT INSERT ON imports, events, pupil_salts, purged_pupils TO cartable_station;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO cartable_station;
REVOKE UPDATE, DELETE, TRUNCATE ON events FROM cartable_station;
