#!/bin/bash
# The FAT32 engine through fatimg, checked by fsck.fat, mtools, blkid and objdump; golden image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fat-lib.sh"
need_tool fsck.fat
need_tool mdir
need_tool blkid
need_tool perl

# A fixed small tree: long and short names, tails, accents, CJK, empty and cluster-sized files.
make_tree() {
        local d=$1 i
        mkdir -p "$d/Cours/Mathématiques/Géométrie" "$d/Vide" "$d/数学" "$d/.config"
        printf 'upper-case 8.3 name\n' >"$d/README.TXT"
        printf 'lower-case 8.3 name\n' >"$d/notes.txt"
        for i in $(seq 1 12); do printf 'file %d\n' "$i" >"$d/Long File Name $i.txt"; done
        printf 'élève\n' >"$d/Cours/Élève été.txt"
        printf 'fractions\n' >"$d/Cours/Mathématiques/fractions.pdf"
        : >"$d/Cours/Mathématiques/Géométrie/vide.txt"
        head -c 512 /dev/zero | tr '\0' 'a' >"$d/Cours/cluster.bin"
        head -c 513 /dev/zero | tr '\0' 'b' >"$d/Cours/cluster+1.bin"
        head -c 100000 /dev/zero | tr '\0' 'c' >"$d/数学/大きい.dat"
        printf 'hidden\n' >"$d/.config/settings.ini"
        printf 'a.b.c\n' >"$d/a.b.c"
        printf 'très long nom de fichier avec des accents et des espaces.html\n' \
                >"$d/Cours/très long nom de fichier avec des accents et des espaces.html"
}

make_tree src
FIXED=(--size 64M --label golden --volume-id 2A2B2C2D --time 1700000000)

# Layout, then every independent check.
expect_exit 0 "$TOOL_FATIMG" build "${FIXED[@]}" src golden.img
expect_in out '^cluster_size 512$'
expect_in out '^data_offset 2097152$'
check_image src golden.img

blkid -p -O 0 -o export golden.img >blkid.out
expect_in blkid.out '^TYPE=vfat$'
expect_in blkid.out '^VERSION=FAT32$'
expect_in blkid.out '^LABEL=GOLDEN$'
expect_in blkid.out '^UUID=2A2B-2C2D$'

# Short names as fatgen103 makes them: exact 8.3 kept, tails in name order, no clash.
"$TOOL_FATIMG" tree golden.img >tree.out
expect_in tree.out $'^README.TXT\tREADME.TXT$'
expect_in tree.out $'^notes.txt\tNOTES.TXT$'
expect_in tree.out $'^Long File Name 1.txt\tLONGFI~1.TXT$'
expect_in tree.out $'^Long File Name 9.txt\tLONGF~12.TXT$'
expect_in tree.out $'^a.b.c\tAB~1.C$'
[ "$(cut -f2 tree.out | sort | uniq -d | wc -l)" = 0 ] || fail "duplicate short names"
mdir -a -i golden.img ::/ >mdir.out
expect_in mdir.out '^HIDDEN|^CONFIG~1 +<DIR>.* \.config$'

# The boot code prints the message through BIOS int 10h and halts (objdump, 8086 mode).
if command -v objdump >/dev/null; then
        objdump -D -b binary -m i8086 --start-address=0x5a --stop-address=0x73 golden.img >boot.dis
        expect_in boot.dis 'int +\$0x10'
        expect_in boot.dis 'hlt'
        expect_in boot.dis 'lods'
fi
head -c 512 golden.img | grep -aq 'not a bootable disk' || fail "boot message missing"

# Golden: the same inputs give the same bytes, and the hash is pinned. When the format
# changes on purpose: CARTABLE_UPDATE_GOLDEN=1 meson test -C build fat (then commit).
expect_exit 0 "$TOOL_FATIMG" build "${FIXED[@]}" src golden2.img
cmp golden.img golden2.img || fail "two builds differ"
hash=$(sha256sum golden.img | cut -d' ' -f1)
golden_file=$SOURCE_ROOT/tests/data/fat-golden.sha256
if [ "${CARTABLE_UPDATE_GOLDEN:-}" = 1 ]; then
        echo "$hash" >"$golden_file"
        echo "updated $golden_file"
fi
[ "$hash" = "$(cat "$golden_file")" ] || fail "golden image hash $hash, pinned $(cat "$golden_file")"

# At 1 MiB into the target, on a larger volume with 4 KiB clusters, and the chosen cluster size.
expect_exit 0 "$TOOL_FATIMG" build --size 300M --offset 1M --label OFFSET src offset.img
expect_in out '^cluster_size 4096$'
expect_in out '^data_offset [0-9]+$'
[ $(( $(awk '/^data_offset/ {print $2}' out) % 1048576 )) = 0 ] || fail "data region not on 1 MiB"
check_image src offset.img 1048576
blkid -p -O 1048576 -o export offset.img >blkid.out
expect_in blkid.out '^TYPE=vfat$'
expect_in blkid.out '^VERSION=FAT32$'
expect_in blkid.out '^LABEL=OFFSET$'
expect_exit 0 "$TOOL_FATIMG" info --offset 1M offset.img
expect_in out '^label OFFSET$'
expect_in out '^data_offset [0-9]+$'

expect_exit 0 "$TOOL_FATIMG" build --size 300M --auto-cluster src auto.img
check_image src auto.img

# 4096-byte logical sectors (4Kn media).
expect_exit 0 "$TOOL_FATIMG" build --size 300M --sector-size 4096 --label FOURK src 4k.img
check_image src 4k.img
blkid -p -O 0 -o export 4k.img >blkid.out
expect_in blkid.out '^BLOCK_SIZE=4096$'
expect_in blkid.out '^LABEL=FOURK$'

# Only metadata and content are written: the image stays sparse.
[ "$(du -k golden.img | cut -f1)" -lt 2048 ] || fail "golden.img has $(du -k golden.img) KiB allocated"

# Refusals name the path.
mkdir -p bad/Dir
: >bad/Dir/Name.txt
: >bad/Dir/NAME.TXT
expect_exit 1 "$TOOL_FATIMG" build --size 64M bad bad.img
expect_in err 'Dir/N(ame|AME)\.(txt|TXT)" collides with "Dir/N(ame|AME)\.(txt|TXT)"'
[ ! -e bad.img ] || fail "bad.img left behind"
rm -rf bad && mkdir -p bad && : >'bad/a?b'
expect_exit 1 "$TOOL_FATIMG" build --size 64M bad bad.img
expect_in err '"a\?b": character'
rm -rf bad && mkdir -p bad && truncate -s 70M bad/big.bin
expect_exit 1 "$TOOL_FATIMG" build --size 64M bad bad.img
expect_in err 'too many'

# The reader refuses what is not FAT32, and a damaged FAT.
truncate -s 64M zero.img
expect_exit 1 "$TOOL_FATIMG" check zero.img
expect_in err 'no FAT boot sector'
cp golden.img broken.img
reserved=$(od -An -tu2 -j14 -N2 golden.img | tr -d ' ')
# Cluster 3 (the first directory after the root) points to itself: a loop.
printf '\x03\x00\x00\x00' | dd of=broken.img bs=1 seek=$((reserved * 512 + 12)) conv=notrunc status=none
expect_exit 1 "$TOOL_FATIMG" check broken.img
expect_in err 'used twice|longer than'
echo "fat: ok"
