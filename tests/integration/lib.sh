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
        # The pid file, not the socket: nbdkit writes it once it accepts connections (the
        # socket exists from bind(), before listen(): a loaded host showed the gap).
        nbdkit -f -U "$SCRATCH/$name.sock" -P "$SCRATCH/$name.pid" "${filters[@]}" file file="$SCRATCH/$name.img" \
                "$@" 2>"$name.log" &
        NBD_PIDS+=($!)
        for _ in $(seq 600); do [ -s "$name.pid" ] && break; sleep 0.1; done
        [ -s "$name.pid" ] || { cat "$name.log" >&2; fail "nbdkit did not start for $name"; }
        nbdfuse "$SCRATCH/$name" --unix "$SCRATCH/$name.sock" 2>>"$name.log" &
        NBD_PIDS+=($!)
        NBD_MOUNTS+=("$SCRATCH/$name")
        for _ in $(seq 600); do [ -e "$name/nbd" ] && break; kill -0 $! 2>/dev/null || break; sleep 0.1; done
        [ -e "$name/nbd" ] || { cat "$name.log" >&2; fail "nbdfuse did not start for $name"; }
}
nbd_cleanup() {
        local m p
        rm -f "$SCRATCH"/*.gate   # a gate left shut (a test that failed midway) would keep its batch waiting
        for m in "${NBD_MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
        for p in "${NBD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
}

# nbd_gated_key NAME: a key as nbd_key makes, whose writes wait while $SCRATCH/NAME.gate
# exists (nbdkit's error filter fails them, its retry-request filter retries each one every
# second, for up to 1000 s); reads pass. Made with its gate shut: a batch on it reads it,
# records the key's start, says "started", then waits at the key's first write, so the
# key's job cannot end and the batch provably runs until nbd_open_gate NAME.
nbd_gated_key() {
        touch "$SCRATCH/$1.gate"
        nbd_key "$1" retry-request,error error-pwrite=EIO error-pwrite-rate=100% \
                error-pwrite-file="$SCRATCH/$1.gate" retry-request-retries=1000 retry-request-delay=1
}
nbd_open_gate() { rm -f "$SCRATCH/$1.gate"; }
# wait_delivered PID SIG: until no signal SIG (a number) is pending for PID, that is, until
# its handler has been entered (two signals sent back to back could merge into one), or PID
# is gone (what it did with the signal is then for its exit status to say).
wait_delivered() {
        local bit=$((1 << ($2 - 1))) pending a b
        for _ in $(seq 1200); do
                pending=$(awk '$1 == "SigPnd:" || $1 == "ShdPnd:" { printf "%s ", $2 }' "/proc/$1/status" 2>/dev/null) \
                        || return 0
                read -r a b <<< "$pending"
                (( (16#$a & bit) == 0 && (16#$b & bit) == 0 )) && return 0
                sleep 0.05
        done
        fail "signal $2 still pending for process $1 after 60 s"
}

# update_setup: for the update tests, M (mtools on a key image), a station's configuration
# (its state directory in $SCRATCH), T (--trust dep.pub) and fsck_clean IMAGE (fsck.fat -n of
# the key's volume, which says nothing but its two lines).
update_setup() {
        M() { MTOOLS_SKIP_CHECK=1 "$@"; }
        printf '[station]\nstate-dir = %s/state\n' "$SCRATCH" > cartable.conf
        export CARTABLE_CONFIG=$SCRATCH/cartable.conf
        T=(--trust dep.pub)
        fsck_clean() {
                dd if="$1" of=vol.img bs=1M skip=1 conv=sparse status=none
                fsck.fat -n vol.img > fsck.out 2>&1 || { cat fsck.out; fail "fsck.fat -n $1"; }
                [ "$(wc -l < fsck.out)" = 2 ] || { cat fsck.out; fail "fsck.fat -n $1 said more than its two lines"; }
        }
}

# update_releases: dep.key/dep.pub, and the example release as a.cart (serial 1, 2026.09,
# 64M) and b.cart (serial 2, 2027.09: a resource changed, fractions.html added,
# multiplications.html removed), for the update tests.
update_releases() {
        "$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted > /dev/null
        cp -r "$SOURCE_ROOT/images/ent-college" a
        sed -i 's/^min-size = .*/min-size = 64M/' a/recipe.ini
        "$CARTABLE" image build a --key dep.key --output a.cart > /dev/null 2>&1 || fail "image build a"
        cp -r a b
        sed -i 's/^serial = .*/serial = 2/; s/^version = .*/version = 2027.09/' b/recipe.ini
        echo "Réviser : relire, résumer, réciter." >> b/content/Ressources/methode-revision.txt
        printf '<!doctype html><title>Fractions</title>\n' > b/content/Ressources/fractions.html
        rm b/content/Ressources/multiplications.html
        "$CARTABLE" image build b --key dep.key --output b.cart > /dev/null 2>&1 || fail "image build b"
}
