# Sourced by test-fat*.sh: check a FAT image built by fatimg against independent tools.
: "${TOOL_FATIMG:?run through meson test}"
export LANG=C.UTF-8 LC_ALL=C.UTF-8

# fsck_clean IMG: fsck.fat -n prints its banner and the summary line, nothing else.
fsck_clean() {
        local out
        out=$(fsck.fat -n "$1" 2>&1) || { echo "$out"; fail "fsck.fat -n $1 exited non-zero"; }
        if [ "$(printf '%s\n' "$out" | wc -l)" != 2 ] ||
           ! printf '%s\n' "$out" | tail -n1 | grep -qE "^$1: [0-9]+ files, [0-9]+/[0-9]+ clusters$"; then
                echo "$out"
                fail "fsck.fat -n $1 reported something"
        fi
}

# mtools_names < MDIR_OUTPUT: "path<TAB>SHORT.EXT" for every entry, as mdir -/ -a lists them.
mtools_names() {
        awk '
                /^Directory for ::\// { dir = substr($0, 18); if (dir != "") dir = dir "/"; next }
                length($0) < 40 || substr($0, 1, 1) == " " || $1 == "." || $1 == ".." { next }
                /^ *[0-9]+ files/ { next }
                {
                        base = substr($0, 1, 8); ext = substr($0, 10, 3)
                        sub(/ +$/, "", base); sub(/ +$/, "", ext)
                        short = ext == "" ? base : base "." ext
                        long = substr($0, 43)
                        if (long == "") long = short
                        print dir long "\t" short
                }' | LC_ALL=C sort
}

# map_nonbmp FILE|DIR: mtools 4.0.32 shows each half of a surrogate pair as "_"; rename the
# expected tree (or rewrite the expected listing) the same way.
nonbmp_names() { perl -CS -pe 's/[\x{10000}-\x{10FFFF}]/__/g'; }
nonbmp_tree() {
        perl -MFile::Find -MEncode -e 'finddepth(sub {
                my $n = decode("UTF-8", $_);
                (my $m = $n) =~ s/[\x{10000}-\x{10FFFF}]/__/g;
                rename($_, encode("UTF-8", $m)) or die "rename $_: $!" if $m ne $n;
        }, $ARGV[0])' "$1"
}

# check_image SRC IMG [OFFSET]: fsck, mtools names and bytes, the engine's own reader.
check_image() {
        local src=$1 img=$2 offset=${3:-0} region=$2 work
        work=$(mktemp -d "$SCRATCH/check.XXXXXX")
        if [ "$offset" != 0 ]; then
                region=$work/region.img
                dd if="$img" of="$region" bs=1M skip=$((offset / 1048576)) conv=sparse status=none
        fi
        fsck_clean "$region"

        # Names: mdir, the engine's reader and the source tree agree.
        (cd "$src" && find . -mindepth 1 -printf '%P\n') | LC_ALL=C sort >"$work/src.names"
        nonbmp_names <"$work/src.names" | LC_ALL=C sort >"$work/src.mnames"
        # mtools runs its own sanity checks on the boot sector: any warning fails.
        mdir -/ -a -i "$img@@$offset" :: >"$work/mdir.out" 2>"$work/mdir.err" || { cat "$work/mdir.err"; fail "mdir failed"; }
        [ ! -s "$work/mdir.err" ] || { cat "$work/mdir.err"; fail "mdir warned"; }
        mtools_names <"$work/mdir.out" >"$work/mtools.pairs"
        cut -f1 "$work/mtools.pairs" >"$work/mtools.names"
        diff -u "$work/src.mnames" "$work/mtools.names" || fail "mdir lists other names than $src"
        "$TOOL_FATIMG" tree --offset "$offset" "$img" | LC_ALL=C sort >"$work/engine.pairs"
        cut -f1 "$work/engine.pairs" >"$work/engine.names"
        diff -u "$work/src.names" "$work/engine.names" || fail "fatimg tree lists other names than $src"
        nonbmp_names <"$work/engine.pairs" | LC_ALL=C sort >"$work/engine.mpairs"
        diff -u "$work/engine.mpairs" "$work/mtools.pairs" || fail "short names differ between mdir and fatimg"

        # Bytes: mcopy and the engine's reader give back the source tree.
        mkdir "$work/mcopy" "$work/engine"
        cp -a "$src" "$work/expected"
        nonbmp_tree "$work/expected"
        if [ -n "$(ls -A "$src")" ]; then
                mcopy -s -n -i "$img@@$offset" '::/*' "$work/mcopy/" 2>"$work/mcopy.err" || { cat "$work/mcopy.err"; fail "mcopy failed"; }
                [ ! -s "$work/mcopy.err" ] || { cat "$work/mcopy.err"; fail "mcopy warned"; }
                # mcopy's '*' skips names starting with '.': copy those one by one.
                for f in "$src"/.[!.]*; do
                        [ -e "$f" ] || continue
                        mcopy -s -n -i "$img@@$offset" "::/$(basename "$f")" "$work/mcopy/"
                done
        fi
        diff -r "$work/expected" "$work/mcopy" || fail "mcopy gives other bytes than $src"
        "$TOOL_FATIMG" extract --offset "$offset" "$img" "$work/engine" >/dev/null
        diff -r "$src" "$work/engine" || fail "fatimg extract gives other bytes than $src"
        "$TOOL_FATIMG" check --offset "$offset" "$img" >"$work/check"
        grep -qE '^ok: [0-9]+ directories, [0-9]+ files' "$work/check" || fail "fatimg check: $(cat "$work/check")"
        rm -rf "$work"
}
