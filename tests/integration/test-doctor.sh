#!/bin/bash
# cartable doctor: each check against a prepared station (a fake sys/proc/run tree given
# with --root, a configuration, a state directory), its word, its fix and the exit code.
. "$(dirname "$0")/lib.sh"
need_tool jq
need_tool sqlite3
: "${TOOL_JOURNAL_RECORD:?run through meson test}"

kernel=$(uname -r)
"$CARTABLE" key generate --secret dept.key --public dept.pub --unencrypted >/dev/null 2>&1

# A station where everything is fine: usb_storage loaded, udevd running, no automounter.
good_root() { # good_root DIR
        rm -rf "$1"
        mkdir -p "$1/sys/module/usb_storage" "$1/run/udev" "$1/proc/1" "$1/lib/modules/$kernel" "$1/etc/udev/rules.d"
        : > "$1/run/udev/control"
        echo systemd > "$1/proc/1/comm"
        : > "$1/proc/modules"
}
good_root root
mkdir -m 0700 state
cat > good.conf <<CONF
[trust]
key = $SCRATCH/dept.pub
[station]
state-dir = $SCRATCH/state
CONF
doctor() { "$CARTABLE" --config "$SCRATCH/${CONF:-good.conf}" doctor --root "$SCRATCH/root" --min-free 1M "$@"; }
# status CHECK: the word doctor --json gave for CHECK (run first with expect_exit).
status() { jq -r --arg c "$1" '.checks[] | select(.check == $c) | .status' "$SCRATCH/out"; }
expect_status() { # expect_status CHECK WORD
        local got
        got=$(status "$1")
        [ "$got" = "$2" ] || { cat "$SCRATCH/out"; fail "$1: $got, expected $2"; }
}

# --- all good: exit 0, every check OK, one line per check in text
expect_exit 0 doctor --json
[ "$(jq -r .ready out)" = true ] || fail "ready should be true"
[ "$(jq -r '[.checks[].check] | join(",")' out)" = "usb-storage,udevd,automounter,state-dir,trust,journal,state-space,tmp-space,release-serials" ] \
        || { cat out; fail "checks not in their order"; }
[ "$(jq -r '[.checks[] | select(.status != "OK")] | length' out)" = 0 ] || { cat out; fail "not all OK"; }
expect_in out '"detail":"1 trusted key \(\[trust\] key\)"'
expect_exit 0 doctor
expect_in out '^OK    usb-storage      usb_storage or uas is loaded$'
expect_in out '^Ready to provision keys \(0 warnings\)\.$'
expect_not_in out 'fix:'

# --- USB storage: built in, loadable, absent; uas alone counts
rm -rf root/sys/module/usb_storage
echo "kernel/drivers/usb/storage/usb-storage.ko" > "root/lib/modules/$kernel/modules.builtin"
expect_exit 0 doctor --json; expect_status usb-storage OK
expect_in out "built into kernel $kernel"
rm "root/lib/modules/$kernel/modules.builtin"
echo "kernel/drivers/usb/storage/usb-storage.ko.xz: kernel/drivers/usb/common/usb-common.ko.xz" > "root/lib/modules/$kernel/modules.dep"
expect_exit 0 doctor --json; expect_status usb-storage OK
expect_in out "not loaded yet"
rm "root/lib/modules/$kernel/modules.dep"
expect_exit 78 doctor --json; expect_status usb-storage FAIL
[ "$(jq -r .ready out)" = false ] || fail "ready should be false"
expect_exit 78 doctor
expect_in out '^FAIL  usb-storage .*no usb-storage driver'
expect_in out 'fix: .*modprobe usb_storage'
expect_in out '^Not ready: 1 check failed, 0 warnings\.$'
echo "uas 262144 0 - Live 0x0000000000000000" > root/proc/modules
expect_exit 0 doctor --json; expect_status usb-storage OK
good_root root

# --- udevd
rm root/run/udev/control
expect_exit 78 doctor --json; expect_status udevd FAIL
expect_in out 'systemctl start systemd-udevd'
good_root root

# --- automounter: udisksd in the process table or /run/udisks2 warns (exit 0); the rule silences it
mkdir root/proc/4242; echo udisksd > root/proc/4242/comm
expect_exit 0 doctor --json; expect_status automounter WARN
expect_in out 'cp /[^ ]*/cartable/udev/70-cartable-udisks.rules /etc/udev/rules.d/'
rm -r root/proc/4242; mkdir root/run/udisks2
expect_exit 0 doctor --json; expect_status automounter WARN
: > root/etc/udev/rules.d/70-cartable-udisks.rules
expect_exit 0 doctor --json; expect_status automounter OK
good_root root

# --- state directory: group/other writable fails, readable warns, missing warns, a file fails
chmod 0777 state
expect_exit 78 doctor --json; expect_status state-dir FAIL
expect_in out "mode 0777.*chmod 0700 $SCRATCH/state"
chmod 0755 state
expect_exit 0 doctor --json; expect_status state-dir WARN
chmod 0700 state
if [ "$(id -u)" = 0 ]; then
        chown 65534 state
        expect_exit 78 doctor --json; expect_status state-dir FAIL
        expect_in out 'owned by uid 65534'
        chown 0 state
fi
sed "s|$SCRATCH/state|$SCRATCH/absent/state|" good.conf > absent-state.conf
CONF=absent-state.conf expect_exit 0 doctor --json; expect_status state-dir WARN
expect_status state-space OK    # measured on the nearest existing parent
: > notdir
sed "s|$SCRATCH/state|$SCRATCH/notdir|" good.conf > notdir.conf
CONF=notdir.conf expect_exit 78 doctor --json; expect_status state-dir FAIL
expect_status release-serials FAIL

# --- trusted keys: none configured, an absent key, a malformed key, --trust replacing them
printf '[station]\nstate-dir = %s\n' "$SCRATCH/state" > notrust.conf
CONF=notrust.conf expect_exit 78 doctor --json; expect_status trust FAIL
expect_in out 'no trusted key'
CONF=notrust.conf expect_exit 0 doctor --json --trust "$SCRATCH/dept.pub"; expect_status trust OK
expect_in out '1 trusted key \(--trust\)'
sed "s|$SCRATCH/dept.pub|$SCRATCH/gone.pub|" good.conf > absent-key.conf
CONF=absent-key.conf expect_exit 78 doctor --json; expect_status trust FAIL
expect_in out 'gone.pub'
echo "not a key" > bad.pub
CONF=absent-key.conf expect_exit 78 doctor --json --trust "$SCRATCH/bad.pub"; expect_status trust FAIL
expect_in out 'bad.pub'

# --- journal: none yet is fine; one with intact chains is counted; a broken chain, a
# file that is not a journal, or an unreadable [journal] path block.
expect_exit 0 doctor --json; expect_status journal OK
expect_in out "no journal yet at $SCRATCH/state/journal.db"
"$TOOL_JOURNAL_RECORD" state/journal.db 3 atelier-1 > /dev/null
"$TOOL_JOURNAL_RECORD" state/journal.db 2 atelier-2 > /dev/null
expect_exit 0 doctor --json; expect_status journal OK
expect_in out '5 events from 2 stations, chain intact'
sqlite3 -batch state/journal.db "UPDATE events SET message = 'edited afterwards' WHERE station = 'atelier-1' AND station_seq = 2"
expect_exit 78 doctor --json; expect_status journal FAIL
expect_in out 'hash chain broken: .*event 2 .*was edited'
expect_in out 'cartable journal verify'
rm -f state/journal.db*
echo "not a database, only text that goes on for a while......................................................" > other.db
{ cat good.conf; printf '[journal]\npath = %s/other.db\n' "$SCRATCH"; } > journal.conf
CONF=journal.conf expect_exit 78 doctor --json; expect_status journal FAIL
expect_in out 'other.db'
expect_in out 'not an SQLite database'

# --- free space: more than the file system holds fails, for both places
expect_exit 78 doctor --json --min-free 1000000T
expect_status state-space FAIL
expect_status tmp-space FAIL
TMPDIR=$SCRATCH/state expect_exit 0 doctor --json
expect_in out "\"detail\":\"TMPDIR $SCRATCH/state: "

# --- rollback state: recorded serials are counted; a malformed file blocks
printf 'ent-college 3\nautre 7\n' > state/release-serials
expect_exit 0 doctor --json; expect_status release-serials OK
expect_in out '2 releases recorded'
printf 'ent-college three\n' > state/release-serials
expect_exit 78 doctor --json; expect_status release-serials FAIL
expect_in out 'release-serials:1'
rm state/release-serials

# --- usage
expect_exit 64 doctor extra
expect_exit 64 doctor --min-free lots
echo "doctor: ok"
