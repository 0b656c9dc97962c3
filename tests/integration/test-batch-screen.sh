#!/bin/bash
# The batch's live table on terminals of 80 and 200 columns, in English and French, under
# script(1): no line is wider than the terminal (none wraps), a header names the release,
# the class, the station and the journal, the pupil shows as "Family First (class)", two
# targets with a long common prefix stay apart, and a resized terminal (SIGWINCH) gets
# the table at its new width. Image files only, no root.
. "$(dirname "$0")/lib.sh"
need_tool script
need_tool python3
D=$(pwd -P)
LINES_OF="$SOURCE_ROOT/tests/integration/screen-lines.py"
printf '[station]\nstate-dir = %s/state\nname = atelier-7\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
"$C" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$C" image build "$SOURCE_ROOT/images/ent-college" --key dep.key --output rel.cart >/dev/null 2>&1
expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" --journal "$D/j.db"
version=$("$C" image show rel.cart --json --trust dep.pub | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["version"])')
mkdir -p "keys of the workshop with a long name"

# on_tty COLS FILE CMD...: CMD on a pseudo-terminal of COLS columns; its screen in FILE.
on_tty() {
        local cols=$1 file=$2; shift 2
        local cmd
        printf -v cmd '%q ' "$@"
        script -qfec "stty cols $cols rows 50; $cmd" "$file.ts" >/dev/null 2>&1 || true
        python3 "$LINES_OF" "$file.ts" > "$file" || fail "$file.ts: not UTF-8"
}

# fits COLS FILE: no line of the screen reaches the last column (none is wrapped).
fits() {
        local cols=$1 file=$2
        [ -s "$file" ] || fail "$file: the table drew nothing"
        awk -F'\t' -v max=$((cols - 1)) '$1 > max { print; bad = 1 } END { exit bad }' "$file" \
                || fail "$file: a line wider than $((cols - 1)) columns on a $cols-column terminal"
}

n=0
for cols in 80 200; do
        for lang in en fr; do
                if [ $lang = fr ]; then
                        locale -a 2>/dev/null | grep -iE '^fr_FR\.utf-?8$' >/dev/null || { skip_part "no fr_FR.UTF-8 locale"; continue; }
                        env=(env LC_ALL=fr_FR.UTF-8 LANGUAGE=fr)
                else
                        env=(env LC_ALL=C.UTF-8 LANGUAGE=)
                fi
                n=$((n + 2))
                k="$D/keys of the workshop with a long name"
                on_tty $cols screen-$cols-$lang "${env[@]}" "$C" batch rel.cart --trust dep.pub --journal "$D/j.db" \
                        --school 0750001A --class 6A --target "$k/key-$n-a.img" --target "$k/key-$n-b.img" --size 1G
                s=screen-$cols-$lang
                fits $cols $s
                # The header: release, version and serial, the class, the station, the journal (cut
                # at 80 columns, never wrapped).
                expect_in $s "^[0-9]+	ent-college $version \((serial|série) 1\) · (class|classe) 6A (of|de) 0750001A · (station|poste) atelier-7"
                # Each key's pupil as "Family First (class)": the two pupils the journal issued them to.
                for img in "key-$n-a.img" "key-$n-b.img"; do
                        pupil=$(sqlite3 -batch j.db "SELECT p.family_name || ' ' || p.first_name || ' (' || p.class_name || ')'
                                FROM keys k JOIN pupils p ON p.school = k.pupil_school AND p.id = k.pupil_id
                                WHERE k.uid LIKE '%$img'")
                        [ -n "$pupil" ] || fail "$img: not issued"
                        # the target's end tells the two keys apart, whatever the width
                        grep -F "${img}" $s | grep -F "$pupil" >/dev/null || { cat $s; fail "$s: $img and its pupil $pupil not on one line"; }
                done
        done
done

# A resized terminal: a batch waiting for keys on a 200-column terminal, narrowed to 60
# columns; its last table fits 60 columns.
cmd=$(printf '%q ' env LC_ALL=C.UTF-8 LANGUAGE= "$C" batch rel.cart --trust dep.pub --journal "$D/j.db" --stock \
        --idle-exit 600)
# The batch is sent its signals on what its screen shows, never after a delay: SIGWINCH once
# it waits for keys, SIGINT once it has drawn its table anew (a header line more: the header
# starts with the release's name). The steps
# run from a file, so that script(1)'s first line (the command it ran) holds none of the
# words waited for. The waits end when the batch has gone too; their bound (600 s of 0.2 s
# naps, longer on a loaded machine) is there only so a broken batch cannot hang the test.
cat > resize.sh <<EOS
drawn() { sed 1d resize.ts | grep -c "\$1"; }
is_waiting() { [ "\$(drawn 'waiting for keys')" -ge 1 ]; }
is_redrawn() { [ "\$(drawn 'ent-college ')" -gt "\$headers" ]; }
wait_for() {   # wait_for COMMAND...: until it succeeds, the batch ends, or the bound
        local i=0
        until "\$@"; do
                kill -0 \$pid 2>/dev/null && [ \$i -lt 3000 ] || return 1
                sleep 0.2; i=\$((i + 1))
        done
}
stty cols 200 rows 50
$cmd & pid=\$!
wait_for is_waiting || echo "RESIZE: the batch never waited for keys" >&2
headers=\$(drawn 'ent-college ')
stty cols 60
kill -WINCH \$pid
wait_for is_redrawn || echo "RESIZE: no table drawn after SIGWINCH" >&2
kill -INT \$pid
wait \$pid
EOS
script -qfec "bash resize.sh" resize.ts >/dev/null 2>&1 || true
! grep -a 'RESIZE:' resize.ts || fail "resize: the batch's screen did not show what was waited for"
python3 "$LINES_OF" resize.ts > resize
# the last table drawn: from the last header line on
awk -F'\t' '$2 ~ /^ent-college / { n = NR } { l[NR] = $0 } END { for (i = n; i <= NR; i++) print l[i] }' resize > resize-last
[ "$(wc -l < resize-last)" -ge 3 ] || { cat resize; fail "no table drawn after the resize"; }
fits 60 resize-last
expect_in resize 'waiting for keys'
echo "batch screen: ok"
