#!/bin/bash
# bash completion (data/cartable.bash): commands, sub-commands, every option of every
# help text, option arguments, releases (*.cart) and targets (USB keys by id, images).
. "$(dirname "$0")/lib.sh"
[ -f /usr/share/bash-completion/bash_completion ] || skip "needs bash-completion"

mkdir bin devices work
ln -s "$CARTABLE" bin/cartable
touch work/ent.cart work/notes.txt
# USB keys as udev names them, and a partition, which is never a target.
touch devices/usb-SanDisk_Cruzer_4C53-0:0 devices/usb-SanDisk_Cruzer_4C53-0:0-part1 devices/ata-ST1000_Z1

printf '[station]\nstate-dir = %s/nostate\n' "$SCRATCH" > default.conf
cat > complete.sh <<SH
. /usr/share/bash-completion/bash_completion
. "$SOURCE_ROOT/data/cartable.bash"
PATH=$SCRATCH/bin:\$PATH
CARTABLE_COMPLETION_DEVICES=$SCRATCH/devices
# Never the station's own configuration or journal.
export CARTABLE_CONFIG=$SCRATCH/default.conf
cd "$SCRATCH/work"
# One line per candidate for the command line \$1 (completing its last word).
line=\$1
read -ra COMP_WORDS <<<"\$line"
[[ \$line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMP_LINE=\$line; COMP_POINT=\${#line}
COMPREPLY=()
_cartable
printf '%s\n' "\${COMPREPLY[@]}" | sort
SH
# complete LINE: the candidates, space-separated, in $SCRATCH/out
complete() { bash complete.sh "$1" | tr '\n' ' ' | sed 's/ $//' > "$SCRATCH/out"; }
expect_completion() { # LINE EXPECTED
        complete "$1"
        [ "$(cat "$SCRATCH/out")" = "$2" ] || fail "'$1': got '$(cat "$SCRATCH/out")', expected '$2'"
}

commands=$("$CARTABLE" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')
expect_completion "cartable " "$commands"
expect_completion "cartable fl" "flash"
expect_completion "cartable --" "--config --help --version"
expect_completion "cartable help ima" "image"
expect_completion "cartable image " "build export show verify"
expect_completion "cartable key " "generate show verify"
expect_completion "cartable --config x.conf image " "build export show verify"

# Every option of every command's and sub-command's help is offered after "--".
for c in $commands; do
        [ "$c" = help ] && continue
        subs=$("$CARTABLE" "$c" --help | grep -oE "cartable $c [a-z][a-z-]*" | awk '{print $3}' | sort -u || true)
        for s in ${subs:-""}; do
                opts=$("$CARTABLE" $c $s --help | grep -oE -- '(^|[][ ,|])--[a-z][a-z-]*' | sed 's/^[][ ,|]//' | sort -u || true)
                complete "cartable $c ${s:+$s }--"
                for o in $opts; do
                        grep -qw -- "$o" out || fail "cartable $c $s: $o not completed (got: $(cat out))"
                done
        done
done
# Options of a sub-command with its own help: image export's, not image build's.
complete "cartable image export --"
expect_in out '--volume-id'
expect_not_in out '--max-files'
expect_completion "cartable flash --tr" "--trust"
expect_completion "cartable doctor --j" "--json"

# Option arguments: fixed words, files, nothing for a size.
expect_completion "cartable image build --scheme " "gpt mbr"
expect_completion "cartable flash --size " ""
expect_completion "cartable flash --trust " "ent.cart notes.txt"

# Positional arguments: a release, then a target.
expect_completion "cartable flash " "ent.cart"
expect_completion "cartable image verify " "ent.cart"
expect_completion "cartable flash --trust k.pub ent.cart " "$SCRATCH/devices/usb-SanDisk_Cruzer_4C53-0:0 ent.cart notes.txt"
expect_completion "cartable verify $SCRATCH/devices/u" "$SCRATCH/devices/usb-SanDisk_Cruzer_4C53-0:0"
expect_completion "cartable issue --pupil D1001 " "$SCRATCH/devices/usb-SanDisk_Cruzer_4C53-0:0 ent.cart notes.txt"
expect_completion "cartable devices " ""
# --pupil: the journal's pupils, from the configuration's journal or --journal's.
printf '[station]\nstate-dir = %s/state\n' "$SCRATCH" > work/c.conf
"$CARTABLE" --config work/c.conf roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" > /dev/null
want=$("$CARTABLE" --config work/c.conf roster list --all --json | jq -r '.[].id | select(startswith("D100"))' | sort | tr '\n' ' ' | sed 's/ $//')
[ -n "$want" ] || fail "no pupil D100x in the demo roster"
expect_completion "cartable --config c.conf journal show --pupil D100" "$want"
expect_completion "cartable --config c.conf journal show --pupil 0750001A/D1003" "0750001A/D1003"
expect_completion "cartable journal show --journal $SCRATCH/state/journal.db --pupil D1003" "D1003"
expect_completion "cartable journal show --pupil D100" ""     # no journal there: nothing, no error
echo "completion: ok"
