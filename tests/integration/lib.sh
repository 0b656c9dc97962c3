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

# nbd_key NAME FILTER PARAMS...: a 1 GiB key image at $SCRATCH/NAME/nbd served by nbdkit
# through FILTER, under nbdfuse (a key that fails or is slow on demand); nbd_cleanup stops
# them all (call it from the script's EXIT trap).
NBD_PIDS=()
NBD_MOUNTS=()
nbd_key() {
        local name=$1 filter=$2; shift 2
        mkdir -p "$name"
        truncate -s 1G "$name.img"
        nbdkit -f -U "$SCRATCH/$name.sock" --filter="$filter" file file="$SCRATCH/$name.img" "$@" 2>"$name.log" &
        NBD_PIDS+=($!)
        for _ in $(seq 200); do [ -S "$name.sock" ] && break; sleep 0.1; done
        nbdfuse "$SCRATCH/$name" --unix "$SCRATCH/$name.sock" 2>>"$name.log" &
        NBD_PIDS+=($!)
        NBD_MOUNTS+=("$SCRATCH/$name")
        for _ in $(seq 200); do [ -e "$name/nbd" ] && break; sleep 0.1; done
        [ -e "$name/nbd" ] || fail "nbdfuse did not start for $name"
}
nbd_cleanup() {
        local m p
        for m in "${NBD_MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
        for p in "${NBD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
}
