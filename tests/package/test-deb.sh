#!/bin/bash
# Build the Debian package from a copy of the sources (dpkg-buildpackage -us -uc -b, its
# dh_auto_test running the unit and fuzz-replay suites), check it with lintian, unpack it
# into a scratch root (dpkg -x) and run the installed binary there against the system's
# libraries: --version, --help, its man pages, configuration and completion, then the
# demo's core on image files (key, release of images/ent-college, flash, verify).
# Run by tools/bootstrap test; by hand: tests/package/test-deb.sh [WORKDIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -gt 0 ]; then
        work=$1          # kept afterwards, to look at
else
        work=$(mktemp -d "${TMPDIR:-/tmp}/cartable-deb.XXXXXX")
        trap 'rm -rf "$work"' EXIT
fi
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "test-deb: $*" >&2; }
for tool in dpkg-buildpackage lintian dh; do
        command -v "$tool" >/dev/null || fail "$tool missing (tools/install-deps installs it)"
done

# A copy of the tracked and new files only: no build directory leaks into the package.
rm -rf "$work/src" && mkdir -p "$work/src"
(cd "$top" && git ls-files -co --exclude-standard -z | grep -zv '^debian/\.gitignore$' |
        tar --null -cf - -T -) | tar -xf - -C "$work/src"
step "dpkg-buildpackage in $work/src (log: $work/build.log)"
(cd "$work/src" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "dpkg-buildpackage"; }
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
deb=$work/cartable_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "no $deb"
# dh_auto_test ran and passed something (not an empty suite).
grep -qE '^Ok: +[1-9]' "$work/build.log" || fail "dh_auto_test ran no test"

step "lintian"
# Errors and warnings fail; overrides in debian/*.lintian-overrides say why each is there.
lintian --fail-on error,warning "$deb" > "$work/lintian.log" 2>&1 \
        || { cat "$work/lintian.log"; fail "lintian"; }
if grep -E '^[EW]:' "$work/lintian.log"; then fail "lintian"; fi

step "contents"
dpkg-deb -I "$deb" > "$work/info"
grep -qE '^ Depends: .*libfdisk1.*libudev1' "$work/info" || { cat "$work/info"; fail "Depends lacks the shared libraries"; }
dpkg-deb -f "$deb" Conffiles > /dev/null
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | grep -qx /etc/cartable/cartable.conf || fail "cartable.conf is not a conffile"

root=$work/root
rm -rf "$root" && dpkg -x "$deb" "$root"
bin=$root/usr/bin/cartable
run() { env -u LD_LIBRARY_PATH -u LD_PRELOAD "$bin" "$@"; }
# Every library comes from the system, none from a build tree.
env -u LD_LIBRARY_PATH ldd "$bin" > "$work/ldd"
if grep -E 'not found|/work/|obj-|build' "$work/ldd"; then fail "libraries not from the system"; fi
run --version | grep -qx "cartable $version" || fail "--version is not $version"
run --help | grep -q '^Usage: cartable' || fail "--help"
run doctor --help | grep -q 'cartable doctor' || fail "doctor --help"
for page in cartable cartable-flash cartable-verify cartable-doctor cartable-image cartable-key; do
        f=$root/usr/share/man/man1/$page.1.gz
        zcat "$f" | grep -q '^\.TH' || fail "man page $page.1 missing or not roff"
done
zcat "$root/usr/share/man/man1/cartable-doctor.1.gz" | grep -q 'UDISKS_IGNORE' || fail "doctor page lacks the udev rule"
[ -s "$root/usr/share/bash-completion/completions/cartable" ] || fail "no bash completion"
[ -s "$root/usr/share/cartable/udev/70-cartable-udisks.rules" ] || fail "no udev rule"
[ ! -e "$root/lib/udev/rules.d/70-cartable-udisks.rules" ] && [ ! -e "$root/usr/lib/udev/rules.d/70-cartable-udisks.rules" ] \
        || fail "the udev rule must be opt-in"
grep -qx '#state-dir = /var/lib/cartable' "$root/etc/cartable/cartable.conf" || fail "example conf: state-dir"

step "smoke run on image files"
demo=$work/demo && rm -rf "$demo" && mkdir -p "$demo"
cat > "$demo/cartable.conf" <<CONF
[trust]
key = $demo/dept.pub
[station]
state-dir = $demo/state
CONF
run --config "$root/etc/cartable/cartable.conf" key generate --secret "$demo/dept.key" --public "$demo/dept.pub" \
        --unencrypted --comment "package smoke test" > /dev/null
run --config "$demo/cartable.conf" image build "$top/images/ent-college" --key "$demo/dept.key" \
        --output "$demo/ent.cart" --quiet
run --config "$demo/cartable.conf" image verify "$demo/ent.cart" > /dev/null
run --config "$demo/cartable.conf" flash "$demo/ent.cart" "$demo/stick.img" --size 1G \
        --owner first-name=Léa --owner class="6e A" --owner school="Collège Jean Moulin" > /dev/null
run --config "$demo/cartable.conf" verify "$demo/stick.img" --json > "$demo/verify.json"
grep -q '"intact":true' "$demo/verify.json" || { cat "$demo/verify.json"; fail "verify: not intact"; }
run --config "$demo/cartable.conf" cat "$demo/stick.img" "CETTE CLE APPARTIENT A.txt" | grep -q 'Léa' || fail "owner file"

# The maintainer scripts, in a private mount namespace whose /var/lib is a tmpfs: the
# state directory appears 0700 root on configure and goes on purge.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
        step "maintainer scripts"
        dpkg-deb -e "$deb" "$work/ctl"
        unshare --mount --propagation private sh -ec '
                mount -t tmpfs tmpfs /var/lib
                sh "$1/postinst" configure
                [ "$(stat -c %a:%U:%G /var/lib/cartable)" = 700:root:root ] || { stat /var/lib/cartable; exit 1; }
                chmod 0750 /var/lib/cartable
                sh "$1/postinst" configure        # an upgrade leaves the admin'"'"'s mode alone
                [ "$(stat -c %a /var/lib/cartable)" = 750 ]
                sh "$1/postrm" remove
                [ -d /var/lib/cartable ]
                sh "$1/postrm" purge
                [ ! -e /var/lib/cartable ]' sh "$work/ctl" || fail "maintainer scripts"
fi
step "ok: $deb"
