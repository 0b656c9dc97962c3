-- A version 3 journal (SQLite) as cartable made it before schema version 4 (commit 3f0fa81):
-- roster import of 3 pupils, then tests/tools/journal-record v3.db 3 v3-station W1 W2.
-- test-journal.sh loads it with sqlite3, opens it (migrated) and verifies its chain.
-- Its head: v3-station:5:e51dacf5326698ff95cc61c86d171ab376846253d7254d9bb87042668f646533
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_usec BIGINT NOT NULL);
INSERT INTO schema_version VALUES(1,1796663528705378);
INSERT INTO schema_version VALUES(2,1796663528717667);
INSERT INTO schema_version VALUES(3,1796663528720948);
CREATE TABLE schools (uai TEXT NOT NULL PRIMARY KEY, year TEXT, created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL);
INSERT INTO schools VALUES('0750001A',NULL,1796663528724266,1796663528724266);
CREATE TABLE imports (id INTEGER PRIMARY KEY, time_usec BIGINT NOT NULL, source TEXT NOT NULL, station TEXT NOT NULL, n_pupils BIGINT NOT NULL, n_added BIGINT NOT NULL, n_moved BIGINT NOT NULL, n_renamed BIGINT NOT NULL, n_left BIGINT NOT NULL, n_rejoined BIGINT NOT NULL);
INSERT INTO imports VALUES(1,1796663528724266,'v3.csv','v3-station',3,3,0,0,0,0);
CREATE TABLE pupils (school TEXT NOT NULL REFERENCES schools (uai), id TEXT NOT NULL, family_name TEXT NOT NULL, first_name TEXT NOT NULL, class_name TEXT NOT NULL, is_active INTEGER NOT NULL CHECK (is_active IN (0, 1)), ine_hmac TEXT, has_derived_id INTEGER NOT NULL CHECK (has_derived_id IN (0, 1)), roster_rank BIGINT NOT NULL, roster_line BIGINT NOT NULL, import_id BIGINT NOT NULL REFERENCES imports (id), created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL, left_usec BIGINT, salt TEXT, claim_station TEXT, claim_key TEXT, claim_usec BIGINT, PRIMARY KEY (school, id));
INSERT INTO pupils VALUES('0750001A','W1','Martin','Léa','6A',1,NULL,0,1,2,1,1796663528724266,1796663528724266,NULL,'681d5883284b6e1cba952821552a7fc1',NULL,NULL,NULL);
INSERT INTO pupils VALUES('0750001A','W2','Bernard','Hugo','6A',1,NULL,0,2,3,1,1796663528724266,1796663528724266,NULL,'36cccff93bb3ae938b618c1a0b6efa47',NULL,NULL,NULL);
INSERT INTO pupils VALUES('0750001A','W3','Petit','Inès','6B',1,NULL,0,3,4,1,1796663528724266,1796663528724266,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE keys (uid TEXT NOT NULL PRIMARY KEY, serial TEXT, vid_pid TEXT, vendor TEXT, product TEXT, capacity BIGINT NOT NULL, real_capacity BIGINT, volume_id TEXT, status TEXT NOT NULL CHECK (status IN ('failed', 'stock', 'issued', 'returned', 'lost', 'stolen', 'replaced', 'retired')), pupil_school TEXT, pupil_id TEXT, created_usec BIGINT NOT NULL, updated_usec BIGINT NOT NULL, FOREIGN KEY (pupil_school, pupil_id) REFERENCES pupils (school, id));
INSERT INTO keys VALUES('usb:0781:5581:v3-station-000000','v3-station-000000','0781:5581',NULL,NULL,8589934592,8589934592,'C0000000','issued','0750001A','W1',1796663528791736,1796663528791736);
INSERT INTO keys VALUES('usb:0781:5581:v3-station-000001','v3-station-000001','0781:5581',NULL,NULL,8589934592,8589934592,'C0000001','issued','0750001A','W2',1796663528808609,1796663528808609);
INSERT INTO keys VALUES('usb:0781:5581:v3-station-000002','v3-station-000002','0781:5581',NULL,NULL,8589934592,8589934592,'C0000002','stock',NULL,NULL,1796663528809878,1796663528809878);
CREATE TABLE events (seq INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, station TEXT NOT NULL, station_seq BIGINT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('flashed', 'issued', 'verified', 'returned', 'lost', 'stolen', 'replaced', 'retired', 'purged')), time_usec BIGINT NOT NULL, operator TEXT, pupil_school TEXT, pupil_id TEXT, key_uid TEXT REFERENCES keys (uid), key_serial TEXT, release_name TEXT, release_version TEXT, release_serial BIGINT, release_key_id TEXT, outcome TEXT, reason TEXT, step TEXT, message TEXT, volume_id TEXT, bytes_written BIGINT, bytes_read BIGINT, started_usec BIGINT, write_usec BIGINT, read_usec BIGINT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, format INTEGER NOT NULL DEFAULT 1, pupil_commit TEXT, UNIQUE (station, station_seq), FOREIGN KEY (pupil_school, pupil_id) REFERENCES pupils (school, id));
INSERT INTO events VALUES(1,'90451f58-3d0f-4ce3-bc9d-3650d1cc735c','v3-station',1,'flashed',1780000001000000,'technicien','0750001A','W1','usb:0781:5581:v3-station-000000','v3-station-000000','ent-college','2026.1',3,'0123456789ABCDEF','ok',NULL,'done',NULL,'C0000000',371800000,371800000,1780000000000000,610000,330000,'0000000000000000000000000000000000000000000000000000000000000000','ac6baea342dc49165991e6b8c622b58a64f0cce8308ee9b3d980c149793d615d',2,'8384ac3baf3448c7da5754104e8b568ade8b9b738795c92dab6a56c97330fb15');
INSERT INTO events VALUES(2,'fee66c02-186b-4c70-8297-f2407c1ee6a7','v3-station',2,'issued',1796663528791736,'technicien','0750001A','W1','usb:0781:5581:v3-station-000000','v3-station-000000','ent-college','2026.1',3,'0123456789ABCDEF',NULL,NULL,NULL,NULL,'C0000000',NULL,NULL,NULL,NULL,NULL,'ac6baea342dc49165991e6b8c622b58a64f0cce8308ee9b3d980c149793d615d','3d51c3a2ed61a03eda9ad24cc858ad18c073f244ee4521aa8104b746a8c349ab',2,'8384ac3baf3448c7da5754104e8b568ade8b9b738795c92dab6a56c97330fb15');
INSERT INTO events VALUES(3,'552df84a-278f-4664-ace5-a803a8657218','v3-station',3,'flashed',1780000001000001,'technicien','0750001A','W2','usb:0781:5581:v3-station-000001','v3-station-000001','ent-college','2026.1',3,'0123456789ABCDEF','ok',NULL,'done',NULL,'C0000001',371800000,371800000,1780000000000001,610000,330000,'3d51c3a2ed61a03eda9ad24cc858ad18c073f244ee4521aa8104b746a8c349ab','79d1c855812f9ab49965f04d209b3c96767ffc0a3816a0ae5f8371547f4ad034',2,'7acfda102e140e5c9ecb63fc5fb4d8ac0c3809957879fb3a4583060bb35b542b');
INSERT INTO events VALUES(4,'57e76a74-17e7-44b9-999f-c1cd176c023f','v3-station',4,'issued',1796663528808609,'technicien','0750001A','W2','usb:0781:5581:v3-station-000001','v3-station-000001','ent-college','2026.1',3,'0123456789ABCDEF',NULL,NULL,NULL,NULL,'C0000001',NULL,NULL,NULL,NULL,NULL,'79d1c855812f9ab49965f04d209b3c96767ffc0a3816a0ae5f8371547f4ad034','6f5283ef06143438f2ee4b487f3240efb823ba82f2f9fc0bcb1b569fad72a2a8',2,'7acfda102e140e5c9ecb63fc5fb4d8ac0c3809957879fb3a4583060bb35b542b');
INSERT INTO events VALUES(5,'43811afa-f4e9-4391-a8cf-5648213a0b7d','v3-station',5,'flashed',1780000001000002,'technicien',NULL,NULL,'usb:0781:5581:v3-station-000002','v3-station-000002','ent-college','2026.1',3,'0123456789ABCDEF','ok',NULL,'done',NULL,'C0000002',371800000,371800000,1780000000000002,610000,330000,'6f5283ef06143438f2ee4b487f3240efb823ba82f2f9fc0bcb1b569fad72a2a8','e51dacf5326698ff95cc61c86d171ab376846253d7254d9bb87042668f646533',2,NULL);
CREATE TABLE purges (id INTEGER PRIMARY KEY, time_usec BIGINT NOT NULL, station TEXT NOT NULL, operator TEXT, left_before_usec BIGINT NOT NULL, n_pupils BIGINT NOT NULL, n_events BIGINT NOT NULL, n_kept_v1 BIGINT NOT NULL);
CREATE TABLE purged_counts (school TEXT NOT NULL, class_name TEXT NOT NULL, n_pupils BIGINT NOT NULL, PRIMARY KEY (school, class_name));
CREATE TABLE pupil_salts (school TEXT NOT NULL, id TEXT NOT NULL, salt TEXT NOT NULL, PRIMARY KEY (school, id, salt), FOREIGN KEY (school, id) REFERENCES pupils (school, id));
CREATE INDEX pupils_by_id ON pupils (id);
CREATE INDEX pupils_by_class ON pupils (school, class_name, roster_rank);
CREATE INDEX keys_by_pupil ON keys (pupil_school, pupil_id);
CREATE INDEX keys_by_serial ON keys (serial);
CREATE INDEX keys_by_volume ON keys (volume_id);
CREATE INDEX events_by_pupil ON events (pupil_school, pupil_id);
CREATE INDEX events_by_key ON events (key_uid);
COMMIT;
