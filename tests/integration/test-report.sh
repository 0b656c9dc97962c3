#!/bin/bash
# lost, stolen, identify and report (CSV, JSON, HTML in headless Chromium, receipts), on a
# journal filled through lib/journal; counts checked against SQLite's own shell.
. "$(dirname "$0")/lib.sh"
D=$(pwd -P)   # image files are known by their absolute path: file:$D/NAME
need_tool sqlite3
need_tool jq
: "${TOOL_JOURNAL_RECORD:?}" "${TOOL_FATIMG:?}"
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n[journal]\npath = %s/j.db\n[schools]\n0750001A = Collège <Jean> Moulin\n' \
        "$SCRATCH" "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
q() { sqlite3 -batch j.db "$1"; }
n_events() { q 'SELECT count(*) FROM events'; }

# A roster with a name that is markup and one that is a spreadsheet formula.
{ cat "$SOURCE_ROOT/manifests/rosters/demo-roster.csv"
  echo 'D8888;0750001A;6A;<script>alert(1)</script>;Zoé;'
  echo 'D7777;0750001A;6A;=HYPERLINK("http://x");@SUM(A1);'; } > roster.csv
expect_exit 0 "$C" roster import roster.csv
# Keys 0..5: the fifth flash fails (journal-record), so D1007 gets no key.
"$TOOL_JOURNAL_RECORD" j.db 6 atelier-1 D1001 D1004 D8888 D7777 D1007 D1006 > /dev/null || fail "journal-record"
"$TOOL_JOURNAL_RECORD" j.db 1 atelier-2 > /dev/null || fail "journal-record (a stock key)"

# ---- lost, stolen ----
expect_exit 0 "$C" lost --pupil D1001 --operator vie-scolaire
expect_in out '^lost atelier-1-000000: key usb:0781:5581:atelier-1-000000 of 0750001A/D1001 \(Mercier Adam, 6A\)'
[ "$(q "SELECT status FROM keys WHERE serial = 'atelier-1-000000'")" = lost ] || fail "key not marked lost"
[ "$(q "SELECT kind || ' ' || operator || ' ' || station || ' ' || pupil_id FROM events ORDER BY seq DESC LIMIT 1")" = \
  "lost vie-scolaire atelier-1 D1001" ] || fail "lost event: kind, operator, station, pupil"
# Refusals change nothing: the pupil holds no key any more, a stock key, an unknown key.
before=$(n_events)
expect_exit 66 "$C" lost --pupil D1001
expect_in err 'D1001 \(Mercier Adam\) holds no key'
expect_exit 65 "$C" stolen --key atelier-2-000000
expect_in err 'key usb:0781:5581:atelier-2-000000 is stock, not issued to a pupil: it cannot be marked stolen'
expect_exit 66 "$C" stolen --key NOPE
expect_in err 'key NOPE is not in the journal'
expect_exit 64 "$C" lost --pupil D1004 --key atelier-1-000001
[ "$(n_events)" = "$before" ] || fail "a refused mark wrote events"
# By FAT volume ID, in any case.
expect_exit 0 "$C" stolen --key c0000001
expect_in out '^stolen atelier-1-000001: .* of 0750001A/D1004 '
expect_exit 0 "$C" journal verify

# ---- identify ----
mkdir empty
"$TOOL_FATIMG" build --size 64M --volume-id C0000003 --label RENOMMEE empty found.img > /dev/null
expect_exit 0 "$C" identify found.img
expect_in out '^key: usb:0781:5581:atelier-1-000003$'
expect_in out '^volume: C000-0003 "RENOMMEE"$'
expect_in out '^status: issued$'
expect_in out '^pupil: 0750001A/D7777 =HYPERLINK\("http://x"\) @SUM\(A1\), class 6A$'
expect_in out '^release: ent-college 2026.1 \(serial 3\)$'
expect_in out '^key record: missing or unreadable \(identified by its volume ID\)$'
"$TOOL_FATIMG" build --size 64M --volume-id 0BADF00D empty stranger.img > /dev/null
expect_exit 66 "$C" identify stranger.img
expect_in err 'volume 0BADF00D is not in the journal'
head -c 1M /dev/zero > zero.img
expect_exit 2 "$C" identify zero.img

# ---- verify --journal, return: real keys flashed with the volume IDs the journal holds ----
mkdir -p content/Cours
echo "Théorème" > content/Cours/pythagore.txt
printf 'Cette clé appartient à @FIRST_NAME@ @LAST_NAME@ (@CLASS@).\n' > owner.tpl
"$C" key generate --secret dep.key --public dep.pub --unencrypted > /dev/null
"$C" image build --name ent-college --version 2026.1 --serial 3 --min-size 64M --sealed Cours --label COLLEGE \
        --owner-template owner.tpl --owner-path "A MOI.txt" --key dep.key --output rel.cart -q content > /dev/null
# D1006 (Brunet Léa) holds key 5, volume C0000005.
"$C" flash rel.cart lea.img --size 96M --trust dep.pub --volume-id C000-0005 --owner last-name=Brunet \
        --owner first-name=Léa --owner class=4A > /dev/null 2>&1 || fail "flash lea.img"
before=$(n_events)
expect_exit 0 "$C" verify lea.img --trust dep.pub --journal j.db --operator cpe
expect_in err 'journal: intact recorded for key usb:0781:5581:atelier-1-000005 of 0750001A/D1006'
[ "$(q "SELECT kind || ' ' || outcome || ' ' || operator || ' ' || pupil_id FROM events ORDER BY seq DESC LIMIT 1")" = \
  "verified intact cpe D1006" ] || fail "verification not recorded"
# A key whose volume the journal gives to another pupil (D8888) than its record names: swapped.
"$C" flash rel.cart swap.img --size 96M --trust dep.pub --volume-id C000-0002 --owner last-name=Brunet \
        --owner first-name=Léa --owner class=4A > /dev/null 2>&1 || fail "flash swap.img"
expect_exit 1 "$C" verify swap.img --trust dep.pub --journal j.db
expect_in err 'SWAPPED: the journal gives volume C0000002 to 0750001A/D8888'
[ "$(q "SELECT outcome FROM events ORDER BY seq DESC LIMIT 1")" = swapped ] || fail "swap not recorded"
# A key the journal does not know: said, nothing recorded.
"$C" flash rel.cart unknown.img --size 96M --trust dep.pub --volume-id 1234-5678 > /dev/null 2>&1 || fail "flash unknown.img"
n=$(n_events)
expect_exit 66 "$C" verify unknown.img --trust dep.pub --journal j.db
expect_in err 'volume 12345678 is not in the journal: nothing recorded'
[ "$(n_events)" = "$n" ] || fail "an unknown key was recorded"
# return reads the key as verify does, from the one exit table: a target that is not there is
# a missing input (66); a malformed signature on the key is a trust failure (3), as for verify;
# neither records anything.
n=$(n_events)
expect_exit 66 "$C" return nothing-here.img --trust dep.pub
cp lea.img proof.img
printf 'untrusted comment: x\nnot base64 at all\n' > bad.sig
mcopy -o -i proof.img@@1M bad.sig ::/.cartable/manifest.json.minisig
expect_exit 3 "$C" verify proof.img --trust dep.pub
expect_exit 3 "$C" return proof.img --trust dep.pub
expect_in err 'malformed signature.*nothing recorded'
[ "$(n_events)" = "$n" ] || fail "a return refused before the journal was recorded"
rm -f proof.img bad.sig
# return: the pupil's files listed, never printed; the key returned, the pupil without a key.
mmd -i lea.img@@1M "::Mes documents"
echo "journal intime" > secret.txt
mcopy -i lea.img@@1M secret.txt "::Mes documents/secret.txt"
expect_exit 0 "$C" return lea.img --reason left --trust dep.pub --operator cpe
expect_in out '^returned atelier-1-000005 \(left\): key usb:0781:5581:atelier-1-000005 of 0750001A/D1006, intact'
expect_in out '^  file Mes documents/secret.txt \(15 bytes\)$'
expect_not_in out 'journal intime'
[ "$(q "SELECT status FROM keys WHERE serial = 'atelier-1-000005'")" = returned ] || fail "key not returned"
[ "$(q "SELECT kind || ' ' || reason || ' ' || outcome FROM events ORDER BY seq DESC LIMIT 1")" = "returned left intact" ] \
        || fail "return event"
# Returning it again makes no sense: refused, nothing recorded.
n=$(n_events)
expect_exit 65 "$C" return lea.img --trust dep.pub
expect_in err 'is returned, not issued to a pupil: it cannot be returned; nothing recorded'
[ "$(n_events)" = "$n" ] || fail "a refused return wrote"
expect_exit 0 "$C" journal verify

# ---- report: CSV ----
expect_exit 0 "$C" report --school 0750001A --output r.csv
[ "$(head -c 3 r.csv | od -An -tx1 | tr -d ' ')" = efbbbf ] || fail "CSV without a UTF-8 BOM"
expect_in r.csv $'^\xef\xbb\xbfschool;class;pupils;issued;without_key;lost;stolen;replaced;returned;left\r$'
want=$(q "SELECT count(*) FROM pupils WHERE school = '0750001A' AND class_name = '6A' AND is_active = 1")
expect_in r.csv "^0750001A;6A;$want;2;$((want - 2));1;1;0;0;0"$'\r$'
expect_in r.csv $'^ent-college;2026.1;3;2\r$'   # D8888, D7777 (D1006 returned hers)
# Formula cells start with a quote; a cell with ';' or '"' is quoted.
expect_in r.csv $'^0750001A;6A;D7777;"\'=HYPERLINK\\(""http://x""\\)";"\'@SUM\\(A1\\)";atelier-1-000003;C0000003;issued;'
expect_not_in r.csv ';=HYPERLINK'
expect_exit 73 "$C" report --output r.csv
expect_in err 'r\.csv: already exists, not overwritten'
# Written through lib/base/output-file: 0600 (pupils' names); a report that fails, and one
# that cannot be written, leave nothing in the directory, not even a temporary.
[ "$(stat -c %a r.csv)" = 600 ] || fail "the report's mode is $(stat -c %a r.csv), not 600"
mkdir failed
expect_exit 66 "$C" report receipts --school 0750001A --class 9Z --output failed/r.html
expect_exit 73 "$C" report --output nosuch/r.csv
[ -z "$(ls -A failed)" ] || fail "a failed report left $(ls -A failed)"
expect_exit 64 "$C" report --format docx

# ---- report: JSON, against its schema ----
expect_exit 0 "$C" report --format json --output r.json
PY=${PYTHON:-python3}
if $PY -c 'import jsonschema' 2>/dev/null; then
        $PY - "$SOURCE_ROOT/manifests/schemas/report.schema.json" r.json <<'PYEOF' || fail "report JSON does not follow its schema"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errs = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errs:
    print(list(e.absolute_path), e.message, file=sys.stderr)
sys.exit(1 if errs else 0)
PYEOF
fi
[ "$(jq '.totals.pupils' r.json)" = "$(q 'SELECT count(*) FROM pupils WHERE is_active = 1')" ] || fail "JSON total pupils"
[ "$(jq '.totals.issued' r.json)" = "$(q "SELECT count(DISTINCT pupil_id) FROM keys WHERE status = 'issued'")" ] || fail "JSON issued"
[ "$(jq -c '[.totals.lost, .totals.stolen]' r.json)" = '[1,1]' ] || fail "JSON lost, stolen"
[ "$(jq -r '.keys[] | select(.pupil_id == "D8888") | .family_name' r.json)" = '<script>alert(1)</script>' ] || fail "JSON name"
[ "$(jq -r '.keys[] | select(.pupil_id == "D1001") | .status' r.json)" = lost ] || fail "JSON key status"
[ "$(jq -r '.months | length' r.json)" = 1 ] || fail "JSON months"
# An edit of the schema's required list is caught (the check can fail).
jq 'del(.keys)' r.json > broken.json
if $PY -c 'import jsonschema' 2>/dev/null; then
        ! $PY -c 'import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' \
                "$SOURCE_ROOT/manifests/schemas/report.schema.json" broken.json 2>/dev/null || fail "schema accepts a report without keys"
fi

# ---- report: HTML ----
expect_exit 0 "$C" report --school 0750001A --format html --operator auditeur --output r.html
expect_not_in r.html '<script'
expect_in r.html '<td>&lt;script&gt;alert\(1\)&lt;/script&gt;</td><td>Zoé</td>'
# Self-contained: no link, no src, no url(), no @import; inline SVG charts; A4 print CSS.
expect_not_in r.html ' (src|href)=|url\(|@import'
[ "$(grep -o '<svg ' r.html | wc -l)" = 3 ] || fail "three inline SVG charts expected"
expect_in r.html '@page\{size:A4'
expect_in r.html '@media print'
# Provenance: the school's name from [schools], station, operator, version, journal and heads.
expect_in r.html '<h1>Pupils&#39; USB keys — Collège &lt;Jean&gt; Moulin</h1>'
expect_in r.html '@top-left\{[^}]*content:"Collège \\3c Jean\\3e  Moulin \(0750001A\)"'
expect_in r.html '<dt>Operator:</dt><dd>auditeur</dd>'
expect_in r.html "<dt>Station:</dt><dd>atelier-1 \\(cartable [0-9.]+\\)</dd>"
expect_in r.html "atelier-1: $(q "SELECT count(*) FROM events WHERE station = 'atelier-1'") events, last hash <code>$(q "SELECT hash FROM events WHERE station = 'atelier-1' ORDER BY station_seq DESC LIMIT 1")</code>"
expect_in r.html '<b class="intact">journal intact</b>'
# The pupils without a key by name (D1007's flash failed), the short key id, the verified key.
expect_in r.html '<h2>Pupils without a key \([0-9]+\)</h2>'
expect_in r.html "<li>$(q "SELECT family_name || ' ' || first_name FROM pupils WHERE id = 'D1007'")</li>"
expect_in r.html '<li>Denis Manon</li>'                # her key was stolen
expect_not_in r.html '<li>&lt;script&gt;'              # D8888 holds one
expect_in r.html '<td>Brunet</td><td>Léa</td><td>C0000005</td><td class="s-returned">returned</td><td>[^<]*</td><td>20[0-9]{2}-[01][0-9]-[0-3][0-9] intact</td>'
never=$(q "SELECT count(*) FROM keys k WHERE k.status = 'issued' AND k.pupil_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.key_uid = k.uid AND e.kind = 'verified')")
expect_in r.html "issued keys never verified: $never\\."

# ---- receipts: a line per key handed over (not a pupil without a key, not one who left) ----
expect_exit 0 "$C" report receipts --school 0750001A --class 6A --output receipts.html
want_keys=$(q "SELECT count(*) FROM keys k JOIN pupils p ON p.school = k.pupil_school AND p.id = k.pupil_id
               WHERE k.status = 'issued' AND p.is_active = 1 AND p.school = '0750001A' AND p.class_name = '6A'")
[ "$want_keys" -ge 2 ] || fail "6A should hold at least two issued keys: the checks below prove nothing"
[ "$(grep -c '<td class="sig">' receipts.html)" = "$want_keys" ] || fail "one receipt row per key handed over in 6A"
# Denis's key was stolen, Mercier's lost, Perrin (D1007) never got one: no line for them.
expect_not_in receipts.html '<td>Denis</td>|<td>Mercier</td>|<td>Perrin</td>'
# The date of issue and the short key id (its volume ID, as the report and the label show it), never a path.
expect_in receipts.html '<td>&lt;script&gt;alert\(1\)&lt;/script&gt;</td><td>Zoé</td><td>6A</td><td>20[0-9]{2}-[01][0-9]-[0-3][0-9]</td><td>C0000002</td><td class="sig">'
expect_not_in receipts.html "<td>[^<]*(file:|$D)"
# The school, class and journal on every printed page (page margins), the page number too.
expect_in receipts.html '@top-left\{[^}]*content:"Collège [^"]*\(0750001A\) — 6A"'
expect_in receipts.html '@bottom-right\{[^}]*content:"page " counter\(page\) " / " counter\(pages\)'
expect_in receipts.html '@top-right\{[^}]*content:"journal intact"'
# --since: today's keys are all of them, tomorrow's none.
expect_exit 0 "$C" report receipts --school 0750001A --class 6A --since today --force --output receipts.html
[ "$(grep -c '<td class="sig">' receipts.html)" = "$want_keys" ] || fail "--since today: every key of today"
expect_exit 66 "$C" report receipts --school 0750001A --class 6A --since "$(date -d tomorrow +%F)"
expect_in err 'no key handed over to a pupil of class 6A of school 0750001A since that date or in that batch run'
expect_exit 64 "$C" report receipts --school 0750001A --class 6A --since 31/12/2026
expect_exit 64 "$C" report --since today
expect_exit 66 "$C" report receipts --school 0750001A --class 6A --batch last
expect_in err 'no batch run started a key of class 6A of school 0750001A'
# --batch: only the keys a run started. The run is set by hand on a copy, which breaks its
# chain: the sheet says so, in red, on every page.
cp j.db runs.db
sqlite3 -batch runs.db "UPDATE events SET run = 'run-d7777' WHERE kind = 'flashed' AND pupil_id = 'D7777'"
expect_exit 0 "$C" report receipts --journal runs.db --school 0750001A --class 6A --batch run-d7777 --output run.html
[ "$(grep -c '<td class="sig">' run.html)" = 1 ] || fail "--batch: one key of that run"
expect_in run.html '<td>C0000003</td><td class="sig">'
expect_exit 0 "$C" report receipts --journal runs.db --school 0750001A --class 6A --batch last --force --output run.html
expect_in run.html '<td>C0000003</td><td class="sig">'
expect_in run.html '@top-right\{[^}]*color:#b3261e[^}]*content:"JOURNAL BROKEN: run cartable journal verify"'
expect_in run.html '<b class="broken">JOURNAL BROKEN'
expect_exit 64 "$C" report receipts --school 0750001A
expect_exit 66 "$C" report receipts --school 0750001A --class 9Z
expect_in err 'no class 9Z at school 0750001A in the journal \(its classes: .*6A'
[ ! -e receipts-9z.html ] || fail "a refused report left a file"
# An unknown school or class is an error naming the known ones, never an empty report.
expect_exit 66 "$C" report --school 0759999Z --output unknown.csv
expect_in err 'no school 0759999Z in the journal \(it holds: .*0750001A'
[ ! -e unknown.csv ] || fail "a report of an unknown school wrote its output"
expect_exit 66 "$C" report --class 9Z --format json
expect_in err 'no class 9Z in the journal'
expect_exit 66 "$C" report --school 0750001A --class 9Z --format html
# --force replaces an output; without it an existing one is refused.
expect_exit 73 "$C" report receipts --school 0750001A --class 6A --output run.html
expect_in run.html 'C0000003'
# A --force whose new file cannot be written (a file system of one page, which the old file
# fills: ENOSPC) leaves the old one whole, and nothing beside it. Removing the old one first
# would have made room, and lost it had the new one failed otherwise.
if [ "$(id -u)" = 0 ] && mkdir one-page && mount -t tmpfs -o size=4k tmpfs one-page 2>/dev/null; then
        trap 'umount "$SCRATCH/one-page" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
        cp run.html one-page/run.html
        expect_exit 73 "$C" report receipts --school 0750001A --class 6A --force --output one-page/run.html
        expect_in err 'one-page/run\.html: .*(No space left on device|Input/output error)'
        cmp -s run.html one-page/run.html || fail "a failed --force lost the old file"
        [ "$(ls -A one-page)" = run.html ] || fail "a failed --force left: $(ls -A one-page)"
        umount one-page
fi

# ---- labels: one per key handed over, its short id in a QR code of that id alone ----
expect_exit 0 "$C" report labels --school 0750001A --class 6A --output labels.html
[ "$(grep -c '<div class="label"' labels.html)" = "$want_keys" ] || fail "one label per key handed over in 6A"
[ "$(grep -c '<svg class="qr"' labels.html)" = "$want_keys" ] || fail "one QR code per label"
expect_in labels.html '<b>Zoé</b><b>&lt;script&gt;alert\(1\)&lt;/script&gt;</b><span>6A</span><code>C0000002</code>'
expect_in labels.html '\.label\{position:absolute;box-sizing:border-box;width:63\.50mm;height:33\.90mm'
expect_exit 0 "$C" report labels --school 0750001A --class 6A --layout l7163 --force --output labels.html
expect_in labels.html 'width:99\.10mm;height:38\.10mm'
expect_exit 64 "$C" report labels --school 0750001A --class 6A --layout L7160
expect_exit 64 "$C" report labels --school 0750001A
expect_exit 64 "$C" report --layout L7159
expect_exit 66 "$C" report labels --school 0750001A --class 9Z
expect_exit 0 "$C" report labels --school 0750001A --class 6A --since "$(date +%F)"
[ "$(grep -c '<div class="label"' out)" = "$want_keys" ] || fail "labels --since today"

# ---- journal purge: personal data of pupils who left go, the chain stays verifiable ----
# Swapping an event's pupil is caught: the hash covers the pupil's salted commitment.
cp j.db before-purge.db
q "UPDATE events SET pupil_id = 'D1004' WHERE pupil_id = 'D8888' AND kind = 'issued'"
expect_exit 1 "$C" journal verify
expect_in out "pupil 0750001A/D1004 is not the one its hash commits to"
cp before-purge.db j.db; rm -f j.db-wal j.db-shm
# D1006 (who returned her key) leaves.
grep -v '^D1006;' roster.csv > roster-left.csv
expect_exit 0 "$C" roster import roster-left.csv
expect_in out '^left .*D1006'
tomorrow=$(date -u -d tomorrow +%F)
n=$(n_events); before=$(q 'SELECT count(*) FROM pupils')
expect_exit 0 "$C" journal purge --left-before "$tomorrow" --dry-run
expect_in out '^would purge 0750001A/D1006, class 4A, left [0-9-]{10}$'
[ "$(n_events)/$(q 'SELECT count(*) FROM pupils')" = "$n/$before" ] || fail "a dry-run purge wrote"
# Nobody left before 2000: nothing to do.
expect_exit 0 "$C" journal purge --left-before 2000-01-01
expect_in out '^0 pupils who left before 2000-01-01'
expect_exit 64 "$C" journal purge --left-before 31/12/2026
grep -aqs 'Brunet' j.db j.db-wal || fail "the name is not in the journal's files before the purge: the check below proves nothing"
n_d1006=$(q "SELECT count(*) FROM events WHERE pupil_id = 'D1006'")
[ "$n_d1006" -ge 4 ] || fail "D1006 should have events (flashed, issued, verified, returned)"
expect_exit 0 "$C" journal purge --left-before "$tomorrow" --operator dpo
expect_in out "^[0-9]+ pupils who left before $tomorrow: names and ids erased$"
expect_in out '^[0-9]+ events lost their pupil id$'
[ "$(q "SELECT count(*) FROM pupils WHERE id = 'D1006'")" = 0 ] || fail "D1006 still in pupils"
[ "$(q "SELECT count(*) FROM events WHERE pupil_id = 'D1006'")" = 0 ] || fail "D1006 still in events"
# Erased on disk too: freed pages are zeroed and the write-ahead log emptied.
! grep -aqs 'Brunet' j.db j.db-wal || fail "the purged name is still in the journal's files"
[ "$(q "SELECT count(*) FROM events WHERE pupil_id IS NULL AND pupil_commit IS NOT NULL")" -ge "$n_d1006" ] \
        || fail "purged events lost their commitment"
[ "$(q "SELECT sum(n_pupils) FROM purged_counts WHERE school = '0750001A' AND class_name = '4A'")" = 1 ] || fail "anonymous count"
[ "$(q "SELECT kind || ' ' || operator FROM events ORDER BY seq DESC LIMIT 1")" = "purged dpo" ] || fail "purge event"
expect_exit 0 "$C" journal verify
expect_in out '^station atelier-1: [0-9]+ events, intact'
expect_exit 0 "$C" identify lea.img
expect_in out '^pupil: personal data purged \(school 0750001A\)$'
expect_exit 0 "$C" report --format json
jq -e '[.keys[] | select(.pupil_id == "D1006")] | length == 0' out > /dev/null || fail "a purged pupil in the report"
# An edit after the purge is still caught: an anonymised event's kind, or its commitment.
cp j.db purged.db
q "UPDATE events SET reason = 'broken' WHERE kind = 'returned' AND pupil_id IS NULL AND pupil_commit IS NOT NULL"
expect_exit 1 "$C" journal verify
expect_in out 'was edited: its content does not match its hash'
cp purged.db j.db; rm -f j.db-wal j.db-shm
q "UPDATE events SET pupil_commit = '$(printf '%064d' 1)' WHERE pupil_id IS NULL AND pupil_commit IS NOT NULL"
expect_exit 1 "$C" journal verify
cp purged.db j.db; rm -f j.db-wal j.db-shm
expect_exit 0 "$C" journal verify

# ---- replace: flash through the station and issue in one step; the old key replaced ----
expect_exit 0 "$C" replace --pupil D8888 rel.cart new.img --size 96M --trust dep.pub --operator cpe
expect_in out '^issued to 0750001A/D8888 \(<script>alert\(1\)</script> Zoé, 6A\); key usb:0781:5581:atelier-1-000002 marked replaced$'
[ "$(q "SELECT status FROM keys WHERE serial = 'atelier-1-000002'")" = replaced ] || fail "old key not replaced"
[ "$(q "SELECT status || ' ' || pupil_id FROM keys WHERE uid = 'file:$D/new.img'")" = "issued D8888" ] || fail "new key not issued"
mtype -i new.img@@1M "::A MOI.txt" > owner.txt
expect_in owner.txt '^Cette clé appartient à Zoé <script>alert\(1\)</script> \(6A\)\.$'
expect_exit 0 "$C" verify new.img --trust dep.pub --journal j.db
# D1001's key was lost: the new key replaces it (the lost event stays, a replaced one comes).
expect_exit 0 "$C" replace --pupil D1001 rel.cart d1001.img --size 96M --trust dep.pub
expect_in out '^issued to 0750001A/D1001 \(Mercier Adam, 6A\); key usb:0781:5581:atelier-1-000000 marked replaced$'
[ "$(q "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events WHERE key_uid = 'usb:0781:5581:atelier-1-000000' ORDER BY seq)")" = \
  "flashed issued lost replaced" ] || fail "the lost key's events"
expect_exit 0 "$C" report --school 0750001A --class 6A --format json
[ "$(jq -c '[.totals.lost, .totals.replaced]' out)" = '[1,2]' ] || fail "report: lost 1, replaced 2 in 6A"
# A pupil who has left gets no key, and nothing is written.
grep -v '^D1005;' roster-left.csv > roster-left2.csv
expect_exit 0 "$C" roster import roster-left2.csv
n=$(n_events)
expect_exit 65 "$C" replace --pupil D1005 rel.cart left.img --size 96M --trust dep.pub
expect_in err 'D1005.*has left'
[ ! -e left.img ] || fail "replace wrote a key for a pupil who left"
[ "$(n_events)" = "$n" ] || fail "a refused replace wrote events"
expect_exit 66 "$C" replace --pupil D0000 rel.cart left.img --size 96M --trust dep.pub
expect_exit 64 "$C" replace --pupil D1004 rel.cart
expect_exit 0 "$C" journal verify

# ---- HTML in headless Chromium: it renders, prints, logs no console error, runs no script ----
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip "needs chromium for the rendering checks (tools/install-deps); the rest passed"
mkdir -p "$BUILD_ROOT/test-output"
chrome() {
        timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
                --disable-background-networking --disable-component-update --disable-sync \
                --user-data-dir="$SCRATCH/chrome-$1" --enable-logging=stderr --v=0 "${@:2}"
}
# The same documents in French (their words follow the locale): accents render too.
pages="r receipts"
if locale -a 2>/dev/null | grep -iE '^fr_FR\.utf-?8$' >/dev/null; then
        expect_exit 0 env LC_ALL=fr_FR.UTF-8 LANGUAGE=fr TZ=Europe/Paris "$C" report --format html --output r-fr.html
        expect_exit 0 env LC_ALL=fr_FR.UTF-8 LANGUAGE=fr "$C" report receipts --school 0750001A --class 6A \
                --output receipts-fr.html
        pages="$pages r-fr receipts-fr"
else
        skip_part "no fr_FR.UTF-8 locale: the French documents are not rendered"
fi
for page in $pages; do
        chrome "$page-dom" --dump-dom "file://$SCRATCH/$page.html" > "$page.dom" 2> "$page.log" || { cat "$page.log"; fail "chromium --dump-dom $page"; }
        expect_not_in "$page.log" 'CONSOLE|Uncaught|SyntaxError'
        expect_not_in "$page.dom" '<script'
        chrome "$page-pdf" --print-to-pdf="$SCRATCH/$page.pdf" --no-pdf-header-footer "file://$SCRATCH/$page.html" \
                > /dev/null 2> "$page-pdf.log" || { cat "$page-pdf.log"; fail "chromium --print-to-pdf $page"; }
        [ "$(head -c 5 "$page.pdf")" = "%PDF-" ] || fail "$page.pdf is not a PDF"
        chrome "$page-png" --screenshot="$SCRATCH/$page.png" --window-size=1024,1400 "file://$SCRATCH/$page.html" \
                > /dev/null 2> "$page-png.log" || { cat "$page-png.log"; fail "chromium --screenshot $page"; }
        [ "$(head -c 8 "$page.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "$page.png is not a PNG"
        cp "$page.pdf" "$page.png" "$BUILD_ROOT/test-output/"
done
# The name is text in the rendered DOM, and the page is A4 (595 x 842 points).
expect_in r.dom '&lt;script&gt;alert\(1\)&lt;/script&gt;'
case $pages in *r-fr*)
        expect_in r-fr.dom '<html lang="fr">'
        expect_in r-fr.dom '<h1>Clés USB des élèves</h1>'
        expect_in receipts-fr.dom '<th>Prénom</th>.*<th>N° de clé</th>'
        grep -aqE 'MediaBox \[0 0 59[45]\.[0-9]* 84[12]' receipts-fr.pdf || fail "French receipts PDF not A4" ;;
esac
grep -aqE 'MediaBox \[0 0 59[45]\.[0-9]* 84[12]' r.pdf || fail "report PDF not A4"
# The labels' QR codes, decoded by a real reader from a screenshot of the sheet, are the
# keys' short ids (volume ID, else serial) of the class's keys handed over, and nothing else.
if command -v zbarimg > /dev/null; then
        expect_exit 0 "$C" report labels --school 0750001A --class 6A --force --output labels.html
        chrome labels-png --screenshot="$SCRATCH/labels.png" --hide-scrollbars --force-device-scale-factor=2 \
                --window-size=794,1123 "file://$SCRATCH/labels.html" > /dev/null 2> labels-png.log \
                || { cat labels-png.log; fail "chromium --screenshot labels"; }
        zbarimg --raw -q labels.png | sort > decoded || true
        q "SELECT CASE WHEN coalesce(k.volume_id, '') <> '' THEN k.volume_id ELSE k.serial END FROM keys k
           JOIN pupils p ON p.school = k.pupil_school AND p.id = k.pupil_id WHERE k.status = 'issued'
           AND p.is_active = 1 AND p.school = '0750001A' AND p.class_name = '6A'" | sort > wanted
        [ -s wanted ] || fail "no key handed over in 6A: the QR check proves nothing"
        cmp -s decoded wanted || { diff decoded wanted; fail "the labels' QR codes are not the keys' ids"; }
        cp labels.png "$BUILD_ROOT/test-output/"
else
        skip_part "no zbarimg (zbar-tools): the labels' QR codes are not decoded"
fi
# PDF straight from cartable (headless Chromium): the same document, printed.
expect_exit 0 "$C" report receipts --school 0750001A --class 6A --output receipts-direct.pdf
[ "$(head -c 5 receipts-direct.pdf)" = "%PDF-" ] || fail "report receipts --output x.pdf is not a PDF"
expect_exit 0 "$C" report --school 0750001A --format pdf --output report-direct.bin
[ "$(head -c 5 report-direct.bin)" = "%PDF-" ] || fail "report --format pdf is not a PDF"
if command -v pdftotext > /dev/null; then
        pdftotext -layout receipts-direct.pdf receipts-direct.txt
        expect_in receipts-direct.txt 'Zoé'
        expect_in receipts-direct.txt 'page 1 / [0-9]+'
fi
# Without Chromium: exit 69, and no file left.
mkdir nobrowser
ln -s "$(command -v sqlite3)" nobrowser/sqlite3
expect_exit 69 env PATH="$SCRATCH/nobrowser" "$C" report --school 0750001A --format pdf --output none.pdf
expect_in err 'PDF needs headless Chromium'
[ ! -e none.pdf ] || fail "a failed PDF left its file"
# No horizontal overflow on a 640 px wide screen: the page measures itself (a script added
# to a copy only; the documents have none).
for page in $pages; do
        sed 's|</body>|<script>document.body.setAttribute("data-w", document.documentElement.scrollWidth + "/" + window.innerWidth)</script></body>|' \
                "$page.html" > "$page-640.html"
        chrome "$page-640" --window-size=640,900 --dump-dom "file://$SCRATCH/$page-640.html" > "$page-640.dom" 2> /dev/null
        w=$(grep -oE 'data-w="[0-9]+/[0-9]+"' "$page-640.dom" | tr -dc '0-9/')
        [ -n "$w" ] && [ "${w%/*}" -le "${w#*/}" ] || fail "$page.html overflows a 640 px screen (scroll width/window: $w)"
done
# Printed: every page numbered "page N / M" and carrying the journal's state (pdftotext reads
# what Chromium printed in the page margins); the French date in words.
if command -v pdftotext > /dev/null; then
        for page in $pages; do
                pdftotext -layout "$page.pdf" "$page.txt"
                m=$(tr -cd '\f' < "$page.txt" | wc -c)
                [ "$m" -ge 1 ] || fail "$page.pdf: no page"
                for i in $(seq 1 "$m"); do
                        grep -q "page $i / $m" "$page.txt" || fail "$page.pdf: no 'page $i / $m'"
                done
                [ "$(grep -c 'journal intact' "$page.txt")" -ge "$m" ] || fail "$page.pdf: the journal's state is not on every page"
                [ "$(grep -c 'atelier-1' "$page.txt")" -ge "$m" ] || fail "$page.pdf: the station is not on every page"
        done
        [ "$(grep -c 'Collège <Jean> Moulin (0750001A) — 6A' receipts.txt)" -ge "$(tr -cd '\f' < receipts.txt | wc -c)" ] \
                || fail "receipts.pdf: the school and class are not on every page"
        case $pages in *r-fr*)
                grep -qE '[1-9][0-9]? (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) 20[0-9]{2}, [0-9]{2} h [0-9]{2} CES?T' \
                        r-fr.txt || fail "r-fr.pdf: no French date" ;;
        esac
else
        skip_part "no pdftotext (poppler-utils): the printed pages' margins are not read"
fi
grep -aqE 'MediaBox \[0 0 59[45]\.[0-9]* 84[12]' receipts.pdf || fail "receipts PDF not A4"
exit 0
