#!/bin/bash
# Signing and checking a release-sized file, and making an encrypted key: cartable (lib/sign
# through `cartable key` and tests/tools/signfile) side by side with minisign, the tool a
# user would pick instead. Run once; prints seconds, peak memory and ratios.
# Usage: bench/sign.sh [BUILD_DIR] [SIZE_MIB]
set -euo pipefail
BUILD=$(realpath "${1:-build}")
SIZE_MIB=${2:-256}
CARTABLE=$BUILD/cmd/cartable
SIGNFILE=$BUILD/tests/tools/signfile
command -v minisign >/dev/null || { echo "needs minisign" >&2; exit 1; }
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -f %M -o mem) || TIME=()
W=$(mktemp -d "${TMPDIR:-/tmp}/cartable-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# run NAME CMD...: seconds and peak KiB of one run, stdin from the file "in" if present.
run() {
        local name=$1 t0 t1; shift
        rm -f mem
        t0=$(date +%s%N)
        if [ -e in ]; then "${TIME[@]}" "$@" <in >/dev/null 2>&1; else "${TIME[@]}" "$@" </dev/null >/dev/null 2>&1; fi
        t1=$(date +%s%N)
        secs[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        mem[$name]=$([ -e mem ] && tail -1 mem || echo "?")
}
declare -A secs mem

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > release.cart
"$CARTABLE" key generate --secret c.key --public c.pub --unencrypted >/dev/null
minisign -G -W -p m.pub -s m.key >/dev/null

run c-sign "$SIGNFILE" sign c.key release.cart c.sig "" "bench"
run m-sign minisign -S -s m.key -m release.cart -x m.sig -t bench
run c-verify "$CARTABLE" key verify --trust c.pub --signature c.sig release.cart
run m-verify minisign -V -p m.pub -x m.sig -m release.cart
printf 'bench passphrase\n' > pass
run c-keygen "$CARTABLE" key generate --secret ce.key --public ce.pub --passphrase-file pass
cp pass in && printf 'bench passphrase\n' >> in
run m-keygen minisign -G -p me.pub -s me.key
rm -f in

ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-34s %10s %10s %8s\n' "task ($SIZE_MIB MiB file)" cartable minisign ratio
printf '%-34s %9ss %9ss %8s\n' "sign (prehashed ED)" "${secs[c-sign]}" "${secs[m-sign]}" "$(ratio c-sign m-sign)"
printf '%-34s %9ss %9ss %8s\n' "verify" "${secs[c-verify]}" "${secs[m-verify]}" "$(ratio c-verify m-verify)"
printf '%-34s %9ss %9ss %8s\n' "encrypted key (N=2^17 vs 2^20)" "${secs[c-keygen]}" "${secs[m-keygen]}" "$(ratio c-keygen m-keygen)"
printf '%-34s %8sK %8sK\n' "peak memory, sign" "${mem[c-sign]}" "${mem[m-sign]}"
printf '%-34s %8sK %8sK\n' "peak memory, verify" "${mem[c-verify]}" "${mem[m-verify]}"
printf '%-34s %9sB %9sB\n' "bytes written, signature" "$(stat -c %s c.sig)" "$(stat -c %s m.sig)"
printf '%-34s %9sB %9sB\n' "bytes written, secret key" "$(stat -c %s ce.key)" "$(stat -c %s me.key)"
