-- A version 2 journal (SQLite) as cartable made it before schema version 3 (commit 0252f77):
-- roster import of 3 pupils, then tests/tools/journal-record v2.db 3 v2-station V1 V2.
-- test-journal.sh loads it with sqlite3, opens it (migrated to v3) and verifies its chain.
-- Its head: v2-station:5:3e9402603f0e57768e3bca04084f5d0327b9b3195fc8805b8c1c4cf46d05e466
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_usec BIGINT NOT NULL);
INSERT INTO schema_version VALUES(1,1795992092689803);
INSERT INTO schema_version VALUES(2,1795992092697559);
CREATE TABLE schools (uai TEXT NOT NULL PRIMARY KEY, year TEXT, created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL);
INSERT INTO schools VALUES('0750001A',NULL,1795992092700966,1795992092700966);
CREATE TABLE imports (id INTEGER PRIMARY KEY, time_usec BIGINT NOT NULL, source TEXT NOT NULL, station TEXT NOT NULL, n_pupils BIGINT NOT NULL, n_added BIGINT NOT NULL, n_moved BIGINT NOT NULL, n_renamed BIGINT NOT NULL, n_left BIGINT NOT NULL, n_rejoined BIGINT NOT NULL);
INSERT INTO imports VALUES(1,1795992092700966,'v2.csv','v2-station',3,3,0,0,0,0);
CREATE TABLE pupils (school TEXT NOT NULL REFERENCES schools (uai), id TEXT NOT NULL, family_name TEXT NOT NULL, first_name TEXT NOT NULL, class_name TEXT NOT NULL, is_active INTEGER NOT NULL CHECK (is_active IN (0, 1)), ine_hmac TEXT, has_derived_id INTEGER NOT NULL CHECK (has_derived_id IN (0, 1)), roster_rank BIGINT NOT NULL, roster_line BIGINT NOT NULL, import_id BIGINT NOT NULL REFERENCES imports (id), created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL, left_usec BIGINT, salt TEXT, PRIMARY KEY (school, id));
INSERT INTO pupils VALUES('0750001A','V1','Martin','Léa','6A',1,NULL,0,1,2,1,1795992092700966,1795992092700966,NULL,'c90eec0bfb9cce5390f33f5927ea9f55');
INSERT INTO pupils VALUES('0750001A','V2','Bernard','Hugo','6A',1,NULL,0,2,3,1,1795992092700966,1795992092700966,NULL,'2798027a6e85ea0fadf139aeb600763d');
INSERT INTO pupils VALUES('0750001A','V3','Petit','Inès','6B',1,NULL,0,3,4,1,1795992092700966,1795992092700966,NULL,NULL);
CREATE TABLE keys (uid TEXT NOT NULL PRIMARY KEY, serial TEXT, vid_pid TEXT, vendor TEXT, product TEXT, capacity BIGINT NOT NULL, real_capacity BIGINT, volume_id TEXT, status TEXT NOT NULL CHECK (status IN ('failed', 'stock', 'issued', 'returned', 'lost', 'stolen', 'replaced', 'retired')), pupil_school TEXT, pupil_id TEXT, created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL, FOREIGN KEY (pupil_school, pupil_id) REFERENCES pupils (school, id));
INSERT INTO keys VALUES('usb:0781:5581:v2-station-000000','v2-station-000000','0781:5581',NULL,NULL,8589934592,8589934592,'C0000000','issued','0750001A','V1',1795992092866843,1795992092866843);
INSERT INTO keys VALUES('usb:0781:5581:v2-station-000001','v2-station-000001','0781:5581',NULL,NULL,8589934592,8589934592,'C0000001','issued','0750001A','V2',1795992092873202,1795992092873202);
INSERT INTO keys VALUES('usb:0781:5581:v2-station-000002','v2-station-000002','0781:5581',NULL,NULL,8589934592,8589934592,'C0000002','stock',NULL,NULL,1795992092873837,1795992092873837);
CREATE TABLE events (seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, station TEXT NOT NULL, station_seq BIGINT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('flashed', 'issued', 'verified', 'returned', 'lost', 'stolen', 'replaced', 'retired', 'purged')), time_usec BIGINT NOT NULL, operator TEXT, pupil_school TEXT, pupil_id TEXT, key_uid TEXT REFERENCES keys (uid), key_serial TEXT, release_name TEXT, release_version TEXT, release_serial BIGINT, release_key_id TEXT, outcome TEXT, reason TEXT, step TEXT, message TEXT, volume_id TEXT, bytes_written BIGINT, bytes_read BIGINT, started_usec BIGINT, write_usec BIGINT, read_usec BIGINT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, format INTEGER NOT NULL DEFAULT 1, pupil_commit TEXT, UNIQUE (station, station_seq), FOREIGN KEY (pupil_school, pupil_id) REFERENCES pupils (school, id));
INSERT INTO events VALUES(1,'640c8ca5-4bb8-44bb-af5a-c4b922359e59','v2-station',1,'flashed',1780000001000000,'technicien','0750001A','V1','usb:0781:5581:v2-station-000000','v2-station-000000','ent-college','2026.1',3,'0123456789ABCDEF','ok',NULL,'done',NULL,'C0000000',371800000,371800000,1780000000000000,610000,330000,'0000000000000000000000000000000000000000000000000000000000000000','835154a8932f91913b2945a2f3e7a2b3ce08512787f9a7f7f48a995e7b115761',2,'540c4ee2a155f4fdb7f98f6a2625c3c5f7929a0daa486497fb25d44cfcfc4509');
INSERT INTO events VALUES(2,'44c1da2a-921e-45d2-a409-0691fff02e72','v2-station',2,'issued',1795992092866843,'technicien','0750001A','V1','usb:0781:5581:v2-station-000000','v2-station-000000','ent-college','2026.1',3,'0123456789ABCDEF',NULL,NULL,NULL,NULL,'C0000000',NULL,NULL,NULL,NULL,NULL,'835154a8932f91913b2945a2f3e7a2b3ce08512787f9a7f7f48a995e7b115761','950fd7d9fbb6a1b36b4aaab6a52976c72001d5dfc272baf2503378d2909bfc73',2,'540c4ee2a155f4fdb7f98f6a2625c3c5f7929a0daa486497fb25d44cfcfc4509');
INSERT INTO events VALUES(3,'f8936379-4409-4a6c-8b3f-52af9ddd0730','v2-station',3,'flashed',1780000001000001,'technicien','0750001A','V2','usb:0781:5581:v2-station-000001','v2-station-000001','ent-college','2026.1',3,'0123456789ABCDEF','ok',NULL,'done',NULL,'C0000001',371800000,371800000,1780000000000001,610000,330000,'950fd7d9fbb6a1b36b4aaab6a52976c72001d5dfc272baf2503378d2909bfc73','e46d9c391feef9a9413d0a6f47b128e945e96b28d17f57681277421e9da9a38e',2,'14f5f815a7ef5bdd700d48dfd680dd65d2301dea7d311d4c702cab818579dd07');
INSERT INTO events VALUES(4,'bbf9c298-be0b-4693-997b-f9109a1c1c54','v2-station',4,'issued',1795992092873202,'technicien','0750001A','V2','usb:0781:5581:v2-station-000001','v2-station-000001','ent-college','2026.1',3,'0123456789ABCDEF',NULL,NULL,NULL,NULL,'C0000001',NULL,NULL,NULL,NULL,NULL,'e46d9c391feef9a9413d0a6f47b128e945e96b28d17f57681277421e9da9a38e','b53bc48df2164fdd9ff8775122bfc741c5cdc6372218b16547dd602eb50a2b80',2,'14f5f815a7ef5bdd700d48dfd680dd65d2301dea7d311d4c702cab818579dd07');
INSERT INTO events VALUES(5,'47fbd164-67b5-420a-a368-291b1f35a516','v2-station',5,'flashed',1780000001000002,'technicien',NULL,NULL,'usb:0781:5581:v2-station-000002','v2-station-000002','ent-college','2026.1',3,'0123456789ABCDEF','ok',NULL,'done',NULL,'C0000002',371800000,371800000,1780000000000002,610000,330000,'b53bc48df2164fdd9ff8775122bfc741c5cdc6372218b16547dd602eb50a2b80','3e9402603f0e57768e3bca04084f5d0327b9b3195fc8805b8c1c4cf46d05e466',2,NULL);
CREATE TABLE purges (id INTEGER PRIMARY KEY, time_usec BIGINT NOT NULL, station TEXT NOT NULL, operator TEXT, left_before_usec BIGINT NOT NULL, n_pupils BIGINT NOT NULL, n_events BIGINT NOT NULL, n_kept_v1 BIGINT NOT NULL);
CREATE TABLE purged_counts (school TEXT NOT NULL, class_name TEXT NOT NULL, n_pupils BIGINT NOT NULL, PRIMARY KEY (school, class_name));
CREATE INDEX pupils_by_id ON pupils (id);
CREATE INDEX pupils_by_class ON pupils (school, class_name, roster_rank);
CREATE INDEX keys_by_pupil ON keys (pupil_school, pupil_id);
CREATE INDEX keys_by_serial ON keys (serial);
CREATE INDEX keys_by_volume ON keys (volume_id);
CREATE INDEX events_by_pupil ON events (pupil_school, pupil_id);
CREATE INDEX events_by_key ON events (key_uid);
COMMIT;
