#!/bin/bash
# The mutation test of cartable's safety checks: for each named mutant of
# tests/mutation/mutants (one check removed or inverted), patch a scratch copy of the tree,
# rebuild it, run the tests the mutant names, and print whether any failed (killed) or
# none did (survived), with the tests that caught it (and their failing cmocka cases). A
# safety check should be killed by at least two independent tests: two cases or scripts.
#
#   tests/mutation/run.sh [NAME...]      all mutants, or only those named
#
# Slow (a rebuild and several suites per mutant, 15 to 20 minutes for all of them on 2 cores)
# and run by hand, not by `meson test`. Run it as root, as CI runs the suite: the tests on
# loop devices, FUSE and nbdkit otherwise skip, and their mutants survive. Exit status:
# 0 when every mutant was killed, 1 when one survived, 2 on a broken mutant or baseline.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
list=$src/tests/mutation/mutants
work=$(mktemp -d "${TMPDIR:-/var/tmp}/cartable-mutation.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/tree

log() { printf '%s\n' "$*" >&2; }

# The tree as it is now (committed or not), without build directories.
mkdir "$tree"
(cd "$src" && git ls-files -co --exclude-standard -z |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp --parents -t "$tree")
meson setup "$tree/build" "$tree" -Dwerror=true >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 2; }
ninja -C "$tree/build" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 2; }

# mutants NAME...: "name|file|tests|old|new" lines, one per mutant (all when no name).
mutants() {
        python3 - "$list" "$@" <<'EOF'
import sys
want = set(sys.argv[2:])
cur = None
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if line.startswith("@ "):
        name, path, tests = (x.strip() for x in line[2:].split("|"))
        cur = [name, path, tests, None, None]
        out.append(cur)
    elif line.startswith("- ") and cur:
        cur[3] = line[2:]
    elif line.startswith("+ ") and cur:
        cur[4] = line[2:]
for m in out:
    if m[3] is None or m[4] is None:
        sys.exit(f"mutant {m[0]}: needs a '-' and a '+' line")
    if not want or m[0] in want:
        print("\x1f".join(m))
EOF
}

# apply FILE OLD NEW: replace the one occurrence of OLD; fails when it is not exactly one.
apply() {
        python3 - "$@" <<'EOF'
import sys
path, old, new = sys.argv[1:4]
s = open(path, encoding="utf-8").read()
n = s.count(old)
if n != 1:
    sys.exit(f"{path}: '{old}' occurs {n} times, not once")
open(path, "w", encoding="utf-8").write(s.replace(old, new))
EOF
}

# run_tests NAME...: each test once; prints one word per test that failed or timed out,
# with the cmocka cases that failed in it: "device(test_a,test_b)", or "flash-loop".
run_tests() {
        meson test -C "$tree/build" --no-rebuild --num-processes 2 "$@" >"$work/test.log" 2>&1 || true
        python3 - "$tree/build/meson-logs/testlog.json" <<'EOF'
import json, re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    t = json.loads(line)
    if t["result"] in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
        name = t["name"].split(":", 1)[-1].replace(" / ", "/")
        cases = sorted(set(re.findall(r"\[  FAILED  \] (test_\w+)", t.get("stdout") or "")))
        print(f"{name}({','.join(cases)})" if cases else name)
EOF
}
# skipped: the tests that skipped in the last run (a skip cannot kill a mutant).
skipped() { sed -nE 's/^ *[0-9]+\/[0-9]+ +[^ ]+ \/ ([^ ]+) +SKIP.*/\1/p' "$work/test.log" | sort -u; }
# kills "WORDS": how many independent tests failed: each cmocka case counts, or the script.
kills() { tr ' ' '\n' <<<"$1" | awk -F'[(,]' 'NF { n += (NF > 1 ? NF - 1 : 1) } END { print n + 0 }'; }

mapfile -t all < <(mutants "$@")
[ "${#all[@]}" -gt 0 ] || { log "no such mutant: $*"; exit 2; }

# Baseline: every test a mutant names passes on the unmutated tree.
mapfile -t every < <(for m in "${all[@]}"; do IFS=$'\x1f' read -r _ _ t _ _ <<<"$m"; tr ' ' '\n' <<<"$t"; done | sort -u)
failing=$(run_tests "${every[@]}")
[ -z "$failing" ] || { log "baseline fails: $failing"; cat "$work/test.log" >&2; exit 2; }
skips=$(skipped)
[ -z "$skips" ] || log "warning: skipped here, so they kill nothing: $skips"

killed=0 survived=0 twice=0 broken=0
printf '| mutant | file | result | killed by |\n|---|---|---|---|\n'
for m in "${all[@]}"; do
        IFS=$'\x1f' read -r name file tests old new <<<"$m"
        cp "$tree/$file" "$work/orig"
        if ! apply "$tree/$file" "$old" "$new" 2>"$work/apply.err"; then
                printf '| %s | %s | BROKEN: %s | |\n' "$name" "$file" "$(cat "$work/apply.err")"
                broken=$((broken + 1))
                continue
        fi
        if ! ninja -C "$tree/build" >"$work/build.log" 2>&1; then
                printf '| %s | %s | BROKEN: does not build | |\n' "$name" "$file"
                broken=$((broken + 1))
        else
                # shellcheck disable=SC2086
                by=$(run_tests $tests | paste -sd' ' -)
                if [ -n "$by" ]; then
                        killed=$((killed + 1))
                        [ "$(kills "$by")" -ge 2 ] && twice=$((twice + 1))
                        printf '| %s | %s | killed | %s |\n' "$name" "$file" "$by"
                else
                        survived=$((survived + 1))
                        printf '| %s | %s | **survived** | (ran: %s) |\n' "$name" "$file" "$tests"
                fi
        fi
        cp "$work/orig" "$tree/$file"
        touch "$tree/$file"
done
printf '\n%d mutants: %d killed (%d by two tests or more), %d survived, %d broken.\n' \
        "${#all[@]}" "$killed" "$twice" "$survived" "$broken"
[ "$broken" = 0 ] || exit 2
[ "$survived" = 0 ]
