#!/bin/bash
# Discovery speed: `cartable devices --all --json` against `lsblk --json -O` (what a
# technician runs to see disks), side by side in one run, on this machine's disks and on
# the umockdev beds (9 fake USB disks). Both only read: bytes written are 0 for both, and
# checked (no open for writing under strace). Usage: bench/devices.sh [CARTABLE] [RUNS]
set -euo pipefail
cartable=${1:-build/cmd/cartable}
runs=${2:-20}
beds=()
for b in tests/data/umockdev/*.umockdev; do
        [ "$(basename "$b")" = reinserted.umockdev ] || beds+=(-d "$b")
done

# seconds for $runs runs of the command
timeit() {
        local start end
        start=$(date +%s.%N)
        for _ in $(seq "$runs"); do "$@" >/dev/null; done
        end=$(date +%s.%N)
        echo "$end - $start" | bc -l
}
writes() {
        strace -f -qq -e trace=open,openat -o /tmp/bench-devices.trace "$@" >/dev/null 2>&1 || true
        { grep -E 'O_(RDWR|WRONLY)' /tmp/bench-devices.trace || true; } | { grep -vc '/tmp/' || true; }
        rm -f /tmp/bench-devices.trace
}

printf '%-34s %10s %10s %8s %14s\n' "case ($runs runs)" cartable lsblk ratio "opens for write"
c=$(timeit "$cartable" devices --all --json); l=$(timeit lsblk --json -O)
printf '%-34s %9.3fs %9.3fs %8.2f %7s / %-5s\n' "this machine, --all" "$c" "$l" "$(echo "$c / $l" | bc -l)" \
        "$(writes "$cartable" devices --all --json)" "$(writes lsblk --json -O)"
c=$(timeit umockdev-run "${beds[@]}" -- "$cartable" devices --all --json)
l=$(timeit umockdev-run "${beds[@]}" -- lsblk --json -O)
printf '%-34s %9.3fs %9.3fs %8.2f\n' "umockdev beds (9 USB disks)" "$c" "$l" "$(echo "$c / $l" | bc -l)"
