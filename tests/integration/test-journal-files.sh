#!/bin/bash
# Journal, export and report files (issue 21 case 7): created 0600, never through a symbolic
# link nor over an existing file; an existing journal that is a symbolic link, another user's
# or writable by others is refused with a reason code; only roster import and journal init
# create a journal, every other command refuses a missing one (66, naming the path).
. "$(dirname "$0")/lib.sh"
ROSTERS=$SOURCE_ROOT/manifests/rosters
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
mode() { stat -c %a "$1"; }

mkdir -p content/Cours
echo cours > content/Cours/a.txt
"$C" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$C" image build --name college --version 2026.1 --serial 1 --min-size 64M --sealed Cours \
        --label COLLEGE --key dep.key --output rel.cart -q content >/dev/null

# A journal that does not exist: refused by every command but roster import and journal init
# (a batch never starts a stray journal, nor flashes keys into one).
expect_exit 66 "$C" batch rel.cart --stock --journal typo.db --trust dep.pub --target k.img --size 64M
[ ! -e k.img ] || fail "a batch on a missing journal wrote a key"
expect_in err "typo\.db: no such journal: create it with cartable journal init, or import a roster"
expect_exit 66 "$C" journal verify --journal typo.db
expect_exit 66 "$C" journal merge typo.db --journal typo2.db
[ ! -e typo.db ] && [ ! -e typo2.db ] || fail "a command other than init or roster import created a journal"

expect_exit 0 "$C" journal init --journal new.db
expect_in out '^journal new\.db ready \(schema version [0-9]+\)$'
[ "$(mode new.db)" = 600 ] || fail "journal init made a journal of mode $(mode new.db)"
expect_exit 73 "$C" journal init --journal new.db
expect_in err 'new\.db: already exists, not overwritten'
expect_exit 0 "$C" journal verify --journal new.db

(umask 000; expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" --journal j.db)
[ "$(mode j.db)" = 600 ] || fail "roster import made a journal of mode $(mode j.db) under umask 000"
expect_exit 0 "$C" journal verify --journal j.db
for f in j.db-wal j.db-shm; do
        [ ! -e "$f" ] || [ "$(mode "$f")" = 600 ] || fail "$f has mode $(mode "$f")"
done

# Writable by others: refused, untouched.
chmod 0666 j.db
expect_exit 4 "$C" journal show --journal j.db
expect_in err 'j\.db: refused: other users may write it \(mode 0666\)'
chmod 0620 j.db
expect_exit 4 "$C" roster import "$ROSTERS/demo-roster.csv" --journal j.db
chmod 0600 j.db
expect_exit 0 "$C" journal verify --journal j.db

# Reached through a symbolic link, even one to a good journal; a dangling one is refused and
# its target never created.
ln -s j.db link.db
expect_exit 4 "$C" journal verify --journal link.db
expect_in err 'link\.db: refused: reached through a symbolic link'
ln -s "$SCRATCH/elsewhere.db" dangling.db
expect_exit 4 "$C" roster import "$ROSTERS/demo-roster.csv" --journal dangling.db
expect_in err 'dangling\.db: refused: reached through a symbolic link'
expect_exit 4 "$C" journal init --journal dangling.db
[ ! -e elsewhere.db ] || fail "the target of a dangling symbolic link was created"

# Another user's empty file is not filled with pupils (as root: chown).
if [ "$(id -u)" = 0 ]; then
        touch theirs.db
        chmod 0600 theirs.db
        chown 65534:65534 theirs.db
        expect_exit 4 "$C" roster import "$ROSTERS/demo-roster.csv" --journal theirs.db
        expect_in err 'theirs\.db: refused: owned by another user \(uid 65534\)'
        [ ! -s theirs.db ] || fail "another user's file was written"
else
        skip_part "another user's journal: needs root (chown)"
fi

# Exports and reports: 0600, or --mode for a shared folder; never through a link.
expect_exit 0 "$C" journal export --format csv --output events.csv --journal j.db
[ "$(mode events.csv)" = 600 ] || fail "the export has mode $(mode events.csv)"
(umask 000; expect_exit 0 "$C" report --output report.csv --journal j.db)
[ "$(mode report.csv)" = 600 ] || fail "the report has mode $(mode report.csv)"
expect_exit 0 "$C" report --format html --output shared.html --mode 0640 --journal j.db
[ "$(mode shared.html)" = 640 ] || fail "report --mode 0640 gave mode $(mode shared.html)"
# (no key was handed over here: receipts have no row and are refused; a class's report is written)
expect_exit 66 "$C" report receipts --school 0750001A --class 6A --output receipts.html --journal j.db
[ ! -e receipts.html ] || fail "refused receipts left a file"
expect_exit 0 "$C" report --school 0750001A --class 6A --format html --output class.html --journal j.db
[ "$(mode class.html)" = 600 ] || fail "the class report has mode $(mode class.html)"
expect_exit 64 "$C" report --output x.csv --mode 4755 --journal j.db
ln -s "$SCRATCH/stolen.csv" out-link.csv
expect_exit 73 "$C" journal export --format csv --output out-link.csv --journal j.db
expect_in err 'out-link\.csv: already exists, not overwritten'   # a link is never followed nor replaced
expect_exit 73 "$C" report --output out-link.csv --journal j.db
[ ! -e stolen.csv ] || fail "an output followed a symbolic link"
echo "journal files: ok"
