#!/bin/bash
# cartable devices on this machine (read-only: nothing opened for writing) and on umockdev
# test beds (tests/data/umockdev) that give it USB sticks, a hub, a SATA and a USB disk.
. "$(dirname "$0")/lib.sh"
need_tool jq
BEDS=$SOURCE_ROOT/tests/data/umockdev

expect_exit 0 "$CARTABLE" help devices
expect_in out "cartable devices"
expect_exit 64 "$CARTABLE" devices --bogus
expect_in err "unknown option or missing argument '--bogus'"
expect_exit 64 "$CARTABLE" devices extra
expect_in err "unexpected argument 'extra'"

# This machine has no USB key (CI neither); a station with keys plugged skips this part.
expect_exit 0 "$CARTABLE" devices --json
if [ "$(jq length out)" = 0 ]; then
        expect_exit 0 "$CARTABLE" devices
        [ "$(cat out)" = "No USB key found." ] || fail "unexpected listing: $(cat out)"
fi

# The disk behind / is listed with --all and refused: mounted, system disk (and not USB).
root_src=$(findmnt -no SOURCE / || true)
if [ -b "$root_src" ]; then
        parent=$(lsblk -no PKNAME "$root_src" | head -n1)
        disk=/dev/${parent:-${root_src#/dev/}}
        expect_exit 0 "$CARTABLE" devices --all
        expect_in out "^$disk  .*refused: .*mounted \(${root_src#/dev/} on /[,)].*system disk \(holds /"
        expect_exit 0 "$CARTABLE" devices --all --json
        jq -e --arg p "$disk" '.[] | select(.path == $p) | .eligible == false and (.refusals | index("mounted") != null)
                and (.refusals | index("system disk") != null)' out >/dev/null || fail "$disk not refused in JSON"
        # Read-only probing: no open() for writing, anywhere. (LeakSanitizer cannot run
        # under ptrace; containers may forbid ptrace: then strace fails and this is skipped.)
        if command -v strace >/dev/null &&
           ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=open,openat -o trace "$CARTABLE" devices --all --json >/dev/null; then
                expect_in trace 'openat\(.*"/sys/'
                ! grep -E 'O_(RDWR|WRONLY)' trace | grep -v '/tmp/' || fail "devices opened something for writing"
        fi
fi

# umockdev beds: identity, verdicts, content, JSON fields.
need_tool umockdev-run
# umockdev's preload library comes before ASan's runtime (ASan builds).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
beds=()
for b in stick twins hub-stick sata usb-hdd ro-stick held-stick; do beds+=(-d "$BEDS/$b.umockdev"); done
expect_exit 0 umockdev-run "${beds[@]}" -- "$CARTABLE" devices
expect_not_in out "No USB key found|/dev/sda"
expect_in out "^/dev/sdb  1\.0 GiB  1234:5678  Feas Stick  serial ABC123  port 2-9 \(480 Mb/s\)  sectors 512/4096  removable  content: blank or unknown  eligible$"
expect_in out "^/dev/sdc  4\.0 GiB  0781:5581  SanDisk Ultra  serial TWIN0001  port 2-2 .* eligible$"
expect_in out "^/dev/sdd  4\.0 GiB  0781:5581  SanDisk Ultra  serial TWIN0002  port 2-3 .* eligible$"
expect_in out "^/dev/sdh  8\.0 GiB  0951:1666  Kingston DataTraveler 3\.0  serial HUB0013  port 2-1\.3 "
expect_in out "^/dev/sdi  1\.8 TiB  .* hotplug  .*refused: too large \(1\.8 TiB > 256\.0 GiB\)$"
expect_in out "^/dev/sdf  .*read-only  .*refused: read-only \(write-protected\)$"
expect_in out "^/dev/sdg  .*refused: held \(dm-0 holds sdg1\)$"
[ "$(wc -l < out)" = 7 ] || fail "expected 7 USB disks"
expect_exit 0 umockdev-run "${beds[@]}" -- "$CARTABLE" devices --all
expect_in out "^/dev/sda  465\.8 GiB  sectors 512/512  refused: not USB; not removable; too large"

# The configuration's policy: allow list, sizes.
cat > conf <<'CONF'
[policy]
min-size = 2G
allow = 0781:5581
CONF
expect_exit 0 umockdev-run "${beds[@]}" -- "$CARTABLE" --config conf devices --json
jq -e '[.[] | select(.eligible) | .serial] == ["TWIN0001", "TWIN0002"]' out >/dev/null || fail "allow list not applied: $(jq -c '[.[] | {serial, reasons}]' out)"
jq -e '.[] | select(.serial == "ABC123") | .reasons == ["too small (1.0 GiB < 2.0 GiB)", "not allowed (1234:5678 is not on the allow list)"]' out >/dev/null ||
        fail "reasons for ABC123: $(jq -c '.[] | select(.serial == "ABC123") | .reasons' out)"
# ...and each refusal's reason code, the stable string scripts and the journal keep.
jq -e '.[] | select(.serial == "ABC123") | .reason_codes == ["policy-too-small", "policy-not-allowed"]' out >/dev/null ||
        fail "reason codes for ABC123: $(jq -c '.[] | select(.serial == "ABC123") | .reason_codes' out)"
jq -e '.[] | select(.eligible) | .reason_codes == []' out >/dev/null || fail "an eligible key has reason codes"
# ...and what each rule found, as data: sizes as integers, the VID:PID, a holder and what it holds.
jq -e '.[] | select(.serial == "ABC123") | .findings_complete and (.findings | length == 2)
        and .findings[0].reason == "policy-too-small" and .findings[0].limit == 2147483648
        and .findings[0].size < .findings[0].limit
        and .findings[1] == {"reason": "policy-not-allowed", "vid_pid": "1234:5678"}' out >/dev/null ||
        fail "findings for ABC123: $(jq -c '.[] | select(.serial == "ABC123") | .findings' out)"
jq -e '.[] | select(.name == "sdg") | any(.findings[]; . == {"reason": "policy-held", "device": "dm-0", "holds": "sdg1"})' \
        out >/dev/null || fail "findings for sdg: $(jq -c '.[] | select(.name == "sdg") | .findings' out)"
jq -e '.[] | select(.eligible) | .findings == []' out >/dev/null || fail "an eligible key has findings"
jq -e '.[] | select(.serial == "HUB0013") | .port == "2-1.3" and .vendor_id == "0951" and .product_id == "1666"
        and .manufacturer == "Kingston" and .size == 8589934592 and .logical_sector_size == 512 and .removable
        and .content.probed and .content.error == null' out >/dev/null || fail "hub stick identity in JSON"
echo "devices: ok"
