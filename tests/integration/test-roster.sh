#!/bin/bash
# roster import as collèges really export (issue 22): the quirks make-samples.py --quirks
# writes, imported with the command, checked in its output and in the journal (SQLite's shell).
. "$(dirname "$0")/lib.sh"
need_tool sqlite3
need_tool jq
ROSTERS=$SOURCE_ROOT/manifests/rosters
python3 "$ROSTERS/make-samples.py" --quirks q || fail "make-samples.py --quirks"
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
J=(--journal "$SCRATCH/j.db")
q() { sqlite3 -batch j.db "$1"; }

# --- The counts add up: every pupil of the file once; the one already gone and the one in
# no class are named.
expect_exit 0 "$C" roster import "$ROSTERS/ElevesSansAdresses.xml" "${J[@]}"
expect_in out '^8 pupils: 7 added, 0 moved, 0 renamed, 0 left, 0 rejoined, 0 unchanged, 1 already left$'
expect_in out '^gone     0750001A 5A  BRUNET Noël  \[4004\]$'
expect_in err 'ElevesSansAdresses.xml:72: Zoé ŠEBESTA \[4007\] \(school 0750001A\) is in no class$'
# The sample's invented UAI: its check letter is U, said as a warning.
expect_in err 'school 0750001A: the check letter of this UAI should be U'
[ "$(q "SELECT year FROM schools WHERE uai = '0750001A'")" = 2026-2027 ] || fail "the school year is not recorded"
expect_exit 0 "$C" roster import "$ROSTERS/ElevesSansAdresses.xml" "${J[@]}" --json
jq -e -s 'last.summary | .pupils == 8 and .added + .moved + .renamed + .left + .rejoined + .unchanged
        + .already_left == .pupils and .unchanged == 7 and .already_left == 1 and .no_class == 1' out >/dev/null \
        || { cat out; fail "the JSON counts do not add up"; }
jq -e -s 'map(select(.warning == "no-class")) | length == 1 and .[0].id == "4007"' out >/dev/null \
        || fail "no no-class warning in --json"

# --- A leave date to come: active until then, and said.
expect_exit 0 "$C" roster import q/siecle-date-sortie.xml "${J[@]}"
expect_in out '^leaves   0750001A 3A  FERRAND François  \[4008\] on 2099-08-31$'
expect_in out '^8 pupils: 0 added, 0 moved, 0 renamed, 0 left, 0 rejoined, 7 unchanged, 1 already left$'
[ "$(q "SELECT is_active FROM pupils WHERE id = '4008'")" = 1 ] || fail "4008 left before its date"
# The date is kept (00:00 local time that day), for the day it comes without another import.
[ "$(q "SELECT leaves_usec = $(date -d 2099-08-31 +%s)000000 FROM pupils WHERE id = '4008'")" = 1 ] \
        || fail "4008's leave date is not kept"

# --- "Inactifs" is no class: those pupils are not active, and can get no key.
expect_exit 0 "$C" roster import q/siecle-inactifs.xml "${J[@]}" --dry-run
expect_in out '^left     0750001A   CŒURDEROY Chloé  \[4002\]$'
expect_in out '^inactive 0750001A   CŒURDEROY Chloé  \[4002\] \(SIECLE.s "Inactifs": in no class, not active\)$'
expect_in out '^8 pupils: 0 added, 0 moved, 0 renamed, 2 left, 0 rejoined, 5 unchanged, 1 already left \(dry run'
expect_exit 0 "$C" roster import q/siecle-inactifs.xml "${J[@]}"
[ "$(q "SELECT is_active || class_name FROM pupils WHERE id = '4002'")" = 0 ] || fail "an Inactifs pupil is active"
expect_exit 66 "$C" roster list "${J[@]}" --class Inactifs --all
expect_in err '^cartable: no class Inactifs in the journal \(its classes: 3A, 5A, 6A, 6B\)$'
expect_exit 0 "$C" roster import "$ROSTERS/ElevesSansAdresses.xml" "${J[@]}"
expect_in out '^rejoined 0750001A 6A  CŒURDEROY Chloé  \[4002\]$'
expect_in out '^8 pupils: 0 added, 0 moved, 0 renamed, 0 left, 2 rejoined, 5 unchanged, 1 already left$'

# --- A stale export: last year's is refused (the journal unchanged), then taken with --force.
before=$(q 'SELECT group_concat(id || class_name || is_active) FROM pupils')
expect_exit 65 "$C" roster import q/siecle-2025.xml "${J[@]}"
expect_in err 'siecle-2025.xml: an export of school year 2025-2026, older than the last one imported for school 0750001A \(2026-2027\)'
expect_in err '--force \(nothing was imported\)$'
[ "$(q 'SELECT group_concat(id || class_name || is_active) FROM pupils')" = "$before" ] || fail "a stale export wrote"
expect_exit 0 "$C" roster import q/siecle-2025.xml "${J[@]}" --force --dry-run
expect_in err 'imported anyway \(--force\)$'
# This year's, but exported before the one already applied: refused too, naming both times.
[ "$(q "SELECT exported FROM schools WHERE uai = '0750001A'")" = "2026-09-01 08:00:00" ] \
        || fail "the export time is not recorded"
expect_exit 65 "$C" roster import q/siecle-older.xml "${J[@]}"
expect_in err 'siecle-older.xml: exported on 2026-08-25 09:30:00, before the export already imported for school 0750001A \(exported on 2026-09-01 08:00:00\)'
[ "$(q 'SELECT group_concat(id || class_name || is_active) FROM pupils')" = "$before" ] || fail "an older export wrote"
expect_exit 0 "$C" roster import q/siecle-older.xml "${J[@]}" --force --dry-run
expect_in err 'siecle-older.xml: exported on 2026-08-25 09:30:00, .*imported anyway \(--force\)$'
[ "$(q "SELECT exported FROM schools WHERE uai = '0750001A'")" = "2026-09-01 08:00:00" ] \
        || fail "a dry run recorded its export time"

# --- The same children from an ENT's CSV, under logins: refused, then mapped onto the
# journal's pupils by names and class, on request.
expect_exit 65 "$C" roster import q/ent-same-school.csv "${J[@]}"
expect_in err 'school 0750001A: none of the 7 pupils of the files has an id the journal knows, yet 7 of them have the names and class of pupils it holds'
expect_in err '--match-names'
[ "$(q 'SELECT group_concat(id || class_name || is_active) FROM pupils')" = "$before" ] || fail "a refused scheme change wrote"
expect_exit 0 "$C" roster import q/ent-same-school.csv "${J[@]}" --match-names --dry-run
expect_in out '^mapped   0750001A 6B  NGUYEN Éloïse  \[4003\] \(the file.s id: é\.nguyen\)$'
expect_in out '^7 pupils: 0 added, 0 moved, 0 renamed, 0 left, 0 rejoined, 7 unchanged, 0 already left \(dry run'
expect_exit 0 "$C" roster import q/ent-same-school.csv "${J[@]}" --match-names
[ "$(q "SELECT count(*) FROM pupils WHERE id LIKE '%.%'")" = 0 ] || fail "--match-names added the logins as pupils"
[ "$(q 'SELECT count(*) FROM pupils WHERE is_active = 1')" = 7 ] || fail "--match-names changed who is active"

# --- Zips as they come: macOS's files and a nomenclature beside the export are passed over;
# two exports, or a cut zip, are refused, and leave no journal behind.
for z in siecle-macos.zip siecle-with-nomenclature.zip; do
        expect_exit 0 "$C" roster import "q/$z" --journal "$SCRATCH/z.db" --dry-run
        expect_in out "^q/$z: 8 pupils \(siecle, ISO-8859-15, school 0750001A\)$"
done
expect_exit 65 "$C" roster import q/siecle-two-exports.zip --journal "$SCRATCH/new.db"
expect_in err '2 SIECLE pupils exports in one zip \(ElevesSansAdresses.xml, ElevesAvecAdresses.xml\)'
expect_exit 65 "$C" roster import q/siecle-truncated.zip --journal "$SCRATCH/new.db"
expect_in err 'siecle-truncated.zip: not a readable zip \(damaged or truncated\?\)'
ls new.db* >/dev/null 2>&1 && fail "a refused import left a journal behind: $(ls new.db*)"
# A journal that holds something stays, whatever the import.
cp j.db kept.db
expect_exit 65 "$C" roster import q/siecle-truncated.zip --journal "$SCRATCH/kept.db"
[ -s kept.db ] || fail "a refused import removed a journal that held pupils"

# --- A hostile ELEVE (300,000 children) is one pupil; UTF-8 under an ISO-8859-15 prolog
# is read as UTF-8, and said.
expect_exit 0 "$C" roster import q/siecle-hostile-eleve.zip --journal "$SCRATCH/h.db" --dry-run
expect_in out '^added    0750001A 6A  HOSTILE Un  \[1\]$'
expect_exit 0 "$C" roster import q/siecle-utf8-latin9-prolog.xml "${J[@]}" --dry-run
expect_in err 'the XML prolog says ISO-8859-15, but the bytes are UTF-8 .*: read as UTF-8$'
expect_in out '^moved    0750001A 5°2 \(from 5A\)  BRUNET Noël  \[4004\]$'
expect_not_in out 'Ã|Â'

# --- CSV exports: Pronote, ONDE, Excel's Windows-1252.
expect_exit 0 "$C" roster import q/pronote.csv --school 0750002B --journal "$SCRATCH/p.db"
expect_in out '^added    0750002B 5A  N.DIAYE Awa Marie  \[[0-9a-f]{32}\]$'
expect_in out '^4 pupils: 4 added,'
expect_exit 0 "$C" roster import q/onde.csv --school 0750002B --journal "$SCRATCH/o.db"
expect_in out '^added    0750002B CM2 Mme Roux  BRUNET Noël  '
expect_exit 0 "$C" roster import q/excel-cp1252.csv --journal "$SCRATCH/x.db"
expect_in out "^added    0750001A 6A  O’Neil Seán  "
expect_in out 'excel-cp1252.csv: 3 pupils \(csv, Windows-1252, school 0750001A\)$'

# --- roster list: an unknown school or class is an error naming the known ones.
expect_exit 66 "$C" roster list "${J[@]}" --school 0750009X
expect_in err 'no school 0750009X in the journal \(it holds: 0750001A\)$'
expect_exit 66 "$C" roster list "${J[@]}" --school 0750001A --class 9Z
expect_in err 'no class 9Z at school 0750001A in the journal \(its classes: 3A, 4A, 5A, 6A, 6B\)$'
expect_exit 0 "$C" roster list "${J[@]}" --school 0750001A --class 6B
expect_in out '^0750001A	6B	4003	NGUYEN	Éloïse	'
echo "roster: ok"
