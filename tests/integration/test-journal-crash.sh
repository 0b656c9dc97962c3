#!/bin/bash
# kill -9 at random moments during roster imports and key records: the journal must open
# cleanly afterwards (integrity_check, journal verify), hold every record reported done,
# and each import must be all or nothing.
. "$(dirname "$0")/lib.sh"
need_tool sqlite3
: "${TOOL_JOURNAL_RECORD:?}"
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
ROUNDS=${JOURNAL_CRASH_ROUNDS:-40}

# Two versions of a 6000-pupil roster: B moves every third pupil and drops every seventh.
awk 'BEGIN { print "id;uai;classe;nom;prénom"; for (i = 0; i < 6000; i++) printf "P%05d;0750001A;%d%c;Nom%d;Prénom%d\n", i, 6 - i % 4, 65 + i % 5, i, i }' > a.csv
awk -F';' -v OFS=';' 'NR > 1 && (NR % 7) == 0 {next} NR > 1 && (NR % 3) == 0 {$3 = "3Z"} {print}' a.csv > b.csv
fingerprint() { sqlite3 -batch "$1" "SELECT count(*), sum(is_active), sum(class_name = '3Z') FROM pupils"; }

# The two states a sync can leave: after A over B, after B over A.
# An import's kill comes within the time a whole one takes here (measured on the reference
# journal, at least 10 ms), so that most land mid-way on a fast machine as on a slow one; a
# recorder's 100,000 events take seconds, so any moment up to 250 ms is mid-way.
ms() { echo $(( $(date +%s%N) / 1000000 )); }
import_ms=10
for f in a b a; do
        t0=$(ms)
        "$C" roster import $f.csv --journal ref.db > /dev/null
        (( $(ms) - t0 > import_ms )) && import_ms=$(( $(ms) - t0 ))
done
fp_a=$(fingerprint ref.db)
"$C" roster import b.csv --journal ref.db > /dev/null
fp_b=$(fingerprint ref.db)
[ "$fp_a" != "$fp_b" ] || fail "the two rosters give the same state"
"$C" roster import a.csv --journal j.db > /dev/null
"$C" roster import b.csv --journal j.db > /dev/null

done_events=0
killed_imports=0
killed_records=0
for round in $(seq "$ROUNDS"); do
        if (( round % 2 )); then
                delay=$(( RANDOM % import_ms ))
        else
                delay=$(( RANDOM % 250 ))
        fi
        delay=$(printf '%d.%03d' $(( delay / 1000 )) $(( delay % 1000 )))
        if (( round % 2 )); then
                f=$([ $(( RANDOM % 2 )) = 0 ] && echo a || echo b)
                "$C" roster import $f.csv --journal j.db > /dev/null 2>&1 &
        else
                # Emptied here, not by the redirection below: a recorder killed before its
                # shell opened done.txt would leave the last round's count in it.
                : > done.txt
                "$TOOL_JOURNAL_RECORD" j.db 100000 crash-station > done.txt 2> /dev/null &
        fi
        pid=$!
        # A random moment: the checks below hold whatever it is (killed mid-way or done).
        sleep "$delay"
        kill -9 "$pid" 2> /dev/null || true
        st=0
        wait "$pid" 2> /dev/null || st=$?
        # Killed mid-way is what its status says (137), not kill's: a child that has exited but
        # not been waited for can still be sent a signal.
        if [ "$st" = 137 ]; then
                (( round % 2 )) && killed_imports=$((killed_imports + 1)) || killed_records=$((killed_records + 1))
        fi

        check=$(sqlite3 -batch j.db 'PRAGMA integrity_check')
        [ "$check" = ok ] || fail "round $round: integrity_check: $check"
        "$C" journal verify --journal j.db > verify.out 2>&1 || { cat verify.out; fail "round $round: journal verify"; }
        fp=$(fingerprint j.db)
        [ "$fp" = "$fp_a" ] || [ "$fp" = "$fp_b" ] || fail "round $round: pupils half-imported: $fp (A: $fp_a, B: $fp_b)"
        if (( round % 2 == 0 )); then
                reported=$(tail -1 done.txt | awk '{print $2}')
                done_events=$(( done_events + ${reported:-0} ))
                n=$(sqlite3 -batch j.db "SELECT count(*) FROM events WHERE station = 'crash-station'")
                # Every record reported done is there; at most the one in flight is more.
                (( n >= done_events && n <= done_events + 1 )) || fail "round $round: $n events, $done_events reported done"
                done_events=$n
        fi
done
(( killed_imports > 0 && killed_records > 0 )) || fail "no process was killed mid-way ($killed_imports imports, $killed_records records)"
echo "journal-crash: ok ($ROUNDS rounds, $killed_imports imports and $killed_records recorders killed, $done_events events kept)"
