# Sourced by the integration scripts: a scratch directory, assertions that name what failed.
set -euo pipefail
: "${CARTABLE:?run through meson test}"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cartable-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
cd "$SCRATCH"

fail() { echo "FAIL: $*" >&2; exit 1; }
# A skip in CI (CI=true) is a failure: a missing tool must not hide a safety test there.
is_ci() { [ "${CI:-}" = true ]; }
skip() { is_ci && fail "CI=true, cannot skip: $*"; echo "SKIP: $*" >&2; exit 77; }
# skip_part WHAT: a part of a test cannot run here; the same rule in CI.
skip_part() { is_ci && fail "CI=true, cannot skip: $*"; echo "SKIP (part): $*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_tool() { command -v "$1" >/dev/null 2>&1 || skip "needs $1"; }

# expect_exit CODE CMD...: run CMD, check its exit code; its stderr is kept in $SCRATCH/err.
expect_exit() {
        local want=$1; shift
        local got=0
        "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" || got=$?
        if [ "$got" != "$want" ]; then
                echo "--- stdout"; cat "$SCRATCH/out"; echo "--- stderr"; cat "$SCRATCH/err"
                fail "'$*' exited $got, expected $want"
        fi
}
# expect_in FILE PATTERN: grep -E the pattern in the file.
expect_in() { grep -qE -- "$2" "$1" || { cat "$1"; fail "'$2' not in $1"; }; }
expect_not_in() { ! grep -qE -- "$2" "$1" || { cat "$1"; fail "'$2' unexpectedly in $1"; }; }

# nbd_key NAME FILTER[,FILTER...] PARAMS...: a 1 GiB key image at $SCRATCH/NAME/nbd served
# by nbdkit through the filters (the first outermost), under nbdfuse (a key that fails or is
# slow on demand); nbd_cleanup stops them all (call it from the script's EXIT trap).
NBD_PIDS=()
NBD_MOUNTS=()
nbd_key() {
        local name=$1 f filters=(); shift
        IFS=, read -ra f <<< "$1"; shift
        for f in "${f[@]}"; do filters+=(--filter="$f"); done
        mkdir -p "$name"
        truncate -s 1G "$name.img"
        nbdkit -f -U "$SCRATCH/$name.sock" "${filters[@]}" file file="$SCRATCH/$name.img" "$@" 2>"$name.log" &
        NBD_PIDS+=($!)
        for _ in $(seq 200); do [ -S "$name.sock" ] && break; sleep 0.1; done
        nbdfuse "$SCRATCH/$name" --unix "$SCRATCH/$name.sock" 2>>"$name.log" &
        NBD_PIDS+=($!)
        NBD_MOUNTS+=("$SCRATCH/$name")
        for _ in $(seq 200); do [ -e "$name/nbd" ] && break; sleep 0.1; done
        [ -e "$name/nbd" ] || fail "nbdfuse did not start for $name"
}
nbd_cleanup() {
        local m p c
        # A key left held (a test that failed midway) would keep its batch waiting.
        for c in "$SCRATCH"/*.ctl; do [ -S "$c" ] && { printf r | timeout 5 socat - UNIX-CONNECT:"$c" || true; } >/dev/null 2>&1; done
        for m in "${NBD_MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
        for p in "${NBD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
}

# nbd_hold NAME / nbd_resume NAME: pause and resume the NBD requests of a key served
# through nbdkit's pause filter (nbd_key NAME pause,... pause-control=$SCRATCH/NAME.ctl);
# each returns once it took effect (a pause waits for the requests in flight). Hold a key
# once its batch said "started": sector 0 is written last, then synced, so while it is still
# clear on the image the key's job has I/O left to do and cannot end: its process provably
# runs until the key is resumed.
nbd_control() {
        python3 - "$SCRATCH/$1.ctl" "$2" <<'PY' || fail "$1: no answer from the pause filter"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
sys.exit(0 if s.recv(1) == sys.argv[2].upper().encode() else 1)
PY
}
nbd_hold() {
        nbd_control "$1" p
        cmp -s -n 512 "$SCRATCH/$1.img" /dev/zero || fail "$1 wrote its sector 0 before it could be held"
}
nbd_resume() { nbd_control "$1" r; }
# wait_delivered PID SIG: until no signal SIG (a number) is pending for PID, that is, until
# its handler has been entered (two signals sent back to back could merge into one).
wait_delivered() {
        local bit=$((1 << ($2 - 1))) pending a b
        for _ in $(seq 1200); do
                pending=$(awk '$1 == "SigPnd:" || $1 == "ShdPnd:" { printf "%s ", $2 }' "/proc/$1/status" 2>/dev/null) \
                        || fail "process $1 ended before its signal $2 was delivered"
                read -r a b <<< "$pending"
                (( (16#$a & bit) == 0 && (16#$b & bit) == 0 )) && return 0
                sleep 0.05
        done
        fail "signal $2 still pending for process $1 after 60 s"
}
