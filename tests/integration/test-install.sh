#!/bin/bash
# meson install into a scratch root: the binary, every man page, bash completion, the
# example configuration (valid, every setting of lib/base/config.c documented) and the
# opt-in udev rule, where a Debian station expects them.
. "$(dirname "$0")/lib.sh"

meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$SCRATCH/root" >/dev/null
prefix=$(meson introspect "$BUILD_ROOT" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
sysconf=$(meson introspect "$BUILD_ROOT" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "sysconfdir"))')
case $sysconf in /*) ;; *) sysconf=$prefix/$sysconf ;; esac
r=$SCRATCH/root

[ -x "$r$prefix/bin/cartable" ] || fail "no $prefix/bin/cartable"
"$r$prefix/bin/cartable" --version > out
expect_in out '^cartable [0-9]'
# Every page the sources hold, installed.
for page in "$SOURCE_ROOT"/man/*.scd; do
        p=$(basename "$page" .scd)
        [ -s "$r$prefix/share/man/man1/$p" ] || fail "man page $p not installed"
done
# ...each with its French page, and the alias pages (cartable-lost.1...) in both
# hierarchies, each pointing to a page installed beside it.
for page in "$SOURCE_ROOT"/man/*.scd; do
        p=$(basename "$page" .scd)
        [ -s "$r$prefix/share/man/fr/man1/$p" ] || fail "French man page $p not installed"
done
for alias in lost stolen identify return replace; do
        for dir in man1 fr/man1; do
                f=$r$prefix/share/man/$dir/cartable-$alias.1
                [ -s "$f" ] || fail "alias page $dir/cartable-$alias.1 not installed"
                target=$(sed -n 's/^\.so //p' "$f")
                [ -s "$r$prefix/share/man/${dir%man1}$target" ] || fail "$dir/cartable-$alias.1 points to a missing $target"
        done
done
# Each command of --help has its page.
for c in $("$CARTABLE" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f && $1 != "help" {print $1}'); do
        case $c in cat) p=cartable-ls.1 ;; *) p=cartable-$c.1 ;; esac
        [ -s "$r$prefix/share/man/man1/$p" ] || fail "command $c has no man page $p"
done
completion=$(find "$r" -path '*bash-completion/completions/cartable')
[ -n "$completion" ] || fail "bash completion not installed"
cmp "$completion" "$SOURCE_ROOT/data/cartable.bash" || fail "installed completion differs"
expect_in "$r$prefix/share/cartable/udev/70-cartable-udisks.rules" '^ENV\{UDISKS_IGNORE\}="1", ENV\{UDISKS_AUTO\}="0"$'
[ ! -e "$r$prefix/lib/udev/rules.d/70-cartable-udisks.rules" ] || fail "the udev rule must be opt-in"

# The example configuration: valid as installed (every setting commented out)...
conf=$r$sysconf/cartable/cartable.conf
[ -s "$conf" ] || fail "no $sysconf/cartable/cartable.conf"
"$CARTABLE" key generate --secret k.key --public k.pub --unencrypted >/dev/null 2>&1
expect_exit 0 "$CARTABLE" --config "$conf" key show k.pub
# ...and with every setting uncommented, so each one shown is one cartable reads.
sed -E 's/^#([a-z-]+ = )/\1/' "$conf" > active.conf
[ "$(grep -cE '^[a-z-]+ = ' active.conf)" -ge 6 ] || { cat active.conf; fail "settings missing from the example"; }
expect_exit 0 "$CARTABLE" --config active.conf key show k.pub
# Every setting lib/base/config.c accepts is in the example, under its section.
for name in $(grep -oE 'streq\(name, "[a-z-]+"\)' "$SOURCE_ROOT/lib/base/config.c" | sed -E 's/.*"(.*)".*/\1/'); do
        expect_in "$conf" "^#$name = "
done
for section in $(grep -oE 'streq\(section, "[a-z]+"\)' "$SOURCE_ROOT/lib/base/config.c" | sed -E 's/.*"(.*)".*/\1/' | sort -u); do
        expect_in "$conf" "^\[$section\]$"
done
# The defaults it shows are the built-in ones: the state directory doctor reports.
state=$(sed -nE 's/^#state-dir = //p' "$conf")
"$CARTABLE" --config "$conf" doctor --json --root "$SCRATCH" > doctor.json || true
jq -e --arg s "$state" '.checks[] | select(.check == "state-dir") | .detail | contains($s)' doctor.json >/dev/null \
        || { cat doctor.json; fail "example's state-dir $state is not the built-in default"; }
echo "install: ok"
