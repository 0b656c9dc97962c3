#!/bin/bash
# Hostile bundles: each refused with a message naming the entry, a documented exit code,
# and no release file left behind.
. "$(dirname "$0")/lib.sh"
need_tool bsdtar
export CARTABLE_CONFIG=

"$CARTABLE" key generate --secret k.key --public k.pub --unencrypted >/dev/null 2>&1
mkdir src && printf 'contenu' > src/ok.txt

# refuse CODE PATTERN ARCHIVE [options]: the build fails with CODE, names PATTERN, leaves nothing.
refuse() {
        local code=$1 pattern=$2 archive=$3; shift 3
        expect_exit "$code" "$CARTABLE" image build --key k.key --output out.cart \
                --name h --version 1 --serial 1 --min-size 64M "$@" "$archive"
        expect_in err "$pattern"
        [ -z "$(ls | grep -E '^out\.cart')" ] || fail "$archive: output left behind: $(ls | grep out.cart)"
}

# Every supported format and filter is read; the same content gives the same release.
for spec in "ustar:" "pax:--gzip" "gnutar:--xz" "pax:--zstd" "ustar:--bzip2" "zip:"; do
        fmt=${spec%%:*}; filter=${spec#*:}
        bsdtar --format "$fmt" $filter -cf "b.$fmt$filter" -C src ok.txt
        expect_exit 0 "$CARTABLE" image build --key k.key --output "r$fmt$filter.cart" --name h --version 1 \
                --serial 1 --time 0 "b.$fmt$filter"
        cmp "rustar.cart" "r$fmt$filter.cart" || fail "$fmt $filter gives a different release"
done

# Paths libarchive's reader lets through.
bsdtar -cf abs.tar -P "$PWD/src/ok.txt"
refuse 65 "abs.tar: /.*ok.txt: absolute path" abs.tar
bsdtar -cf dotdot.tar -P -s ',^,../../,' -C src ok.txt
refuse 65 "dotdot.tar: ../../ok.txt" dotdot.tar
bsdtar -cf empty.tar -P -s ',^,a//,' -C src ok.txt
refuse 65 "empty.tar: a//ok.txt" empty.tar

# Names FAT cannot hold.
mkdir fat1 fat2 fat3 fat4
printf x > 'fat1/deux:points.txt'; printf x > fat2/CON.txt; printf x > 'fat3/point.'
printf x > "fat4/$(printf 'bad\001char')"
for d in fat1 fat2 fat3 fat4; do bsdtar -cf $d.tar -C $d .; done
refuse 65 "fat1.tar: ./deux:points.txt" fat1.tar
refuse 65 "fat2.tar: ./CON.txt" fat2.tar
refuse 65 "fat3.tar: ./point\." fat3.tar
refuse 65 "fat4.tar: ./bad" fat4.tar
# Not UTF-8: a Latin-1 name.
mkdir l1 && printf x > "l1/$(printf 'caf\351.txt')"
bsdtar -cf latin1.tar -C l1 . 2>/dev/null || true
refuse 65 "latin1.tar: .*(UTF-8|caf)" latin1.tar
# Two names FAT takes for one.
mkdir case && printf a > case/Notes.txt && printf b > case/NOTES.TXT
bsdtar -cf case.tar -C case .
refuse 65 "case.tar: .*same name on FAT" case.tar

# Entries that are not regular files or directories.
mkdir links && ln -s /etc/passwd links/ent.html && bsdtar -cf symlink.tar -C links .
refuse 65 "symlink.tar: ent.html: a symbolic link" symlink.tar
refuse 65 "links: ent.html: a symbolic link" links
mkdir fifo && mkfifo fifo/pipe && bsdtar -cf fifo.tar -C fifo .
refuse 65 "fifo.tar: pipe: a FIFO" fifo.tar
if [ "$(id -u)" = 0 ]; then
        mkdir dev && mknod dev/null c 1 3 && bsdtar -cf dev.tar -C dev .
        refuse 65 "dev.tar: null: a character device" dev.tar
fi
mkdir hard && printf x > hard/a.txt && ln hard/a.txt hard/b.txt && bsdtar -cf hard.tar -C hard a.txt b.txt
refuse 65 "hard.tar: b.txt: a hard link" hard.tar
bsdtar --format zip -cf links.zip -C links .
refuse 65 "links.zip: ent.html: a symbolic link" links.zip

# Size bombs: a sparse file stored in a few KiB that expands to gigabytes.
mkdir bomb && truncate -s 5G bomb/zeros.bin
bsdtar --format pax -cf bomb5g.tar -C bomb zeros.bin
[ "$(stat -c %s bomb5g.tar)" -lt 1048576 ] || fail "the bomb archive is not small"
refuse 65 "bomb5g.tar: zeros.bin: declares 5368709120 bytes" bomb5g.tar
truncate -s 3G bomb/zeros.bin
bsdtar --format pax --zstd -cf bomb3g.tar.zst -C bomb zeros.bin
refuse 65 "bomb3g.tar.zst: zeros.bin: declares 3221225472 bytes: the bundles would hold more than 67108864" bomb3g.tar.zst
refuse 65 "zeros.bin: declares 3221225472 bytes, more than 1048576" bomb3g.tar.zst --max-file-size 1M
# A sparse file's holes, trailing one included, are content: FAT has no holes.
mkdir sp && printf 'head' > sp/s.bin && truncate -s 100K sp/s.bin
bsdtar --format pax -cf sparse.tar -C sp s.bin
expect_exit 0 "$CARTABLE" image build --key k.key --output sparse.cart --name h --version 1 --serial 1 sparse.tar
bsdtar -xOf sparse.cart s.bin | cmp - sp/s.bin || fail "the sparse file's content differs"
mkdir many && (cd many && touch f1 f2 f3 f4 f5) && bsdtar -cf many.tar -C many .
refuse 65 "many.tar: .*more than 3 entries" many.tar --max-files 3
refuse 64 "max-file-size" many.tar --max-file-size lots

# Corrupt and truncated archives.
bsdtar --format pax --gzip -cf good.tar.gz -C src ok.txt
head -c 30 good.tar.gz > truncated.tar.gz
refuse 65 "truncated.tar.gz" truncated.tar.gz
bsdtar --format ustar -cf flipped.tar -C src ok.txt
printf 'Z' | dd of=flipped.tar bs=1 seek=150 conv=notrunc status=none   # the header checksum
refuse 65 "flipped.tar" flipped.tar
printf 'PK\003\004 not really a zip' > fake.zip
refuse 65 "fake.zip" fake.zip

# Links outside the allowed domains, autorun.inf that starts a program, undefined variables.
mkdir web && printf '<a href="https://ent.example.fr/">ENT</a>\n<a href="http://jeux-gratuits.example.com/x">!</a>\n' > web/index.html
refuse 65 "web: index.html: link to http://jeux-gratuits.example.com/x" web --allow-domain ent.example.fr
expect_exit 0 "$CARTABLE" image build --key k.key --output web.cart --name h --version 1 --serial 1 web \
        --allow-domain example.fr --allow-domain example.com
mkdir ar && printf '[autorun]\r\nicon=cle.ico\r\nshellexecute=virus.exe\r\n' > ar/autorun.inf
refuse 65 "ar: autorun.inf: line 3: \"shellexecute\" would start a program" ar
mkdir tpl && printf 'Va sur @ENT_URL@\n' > tpl/LISEZ-MOI.txt
refuse 65 "LISEZ-MOI.txt: @ENT_URL@ is not defined" tpl --template LISEZ-MOI.txt
expect_exit 0 "$CARTABLE" image build --key k.key --output tpl.cart --name h --version 1 --serial 1 tpl \
        --template LISEZ-MOI.txt --set ENT_URL=https://ent.example.fr/
[ "$(bsdtar -xOf tpl.cart LISEZ-MOI.txt)" = "Va sur https://ent.example.fr/" ] || fail "template not filled"

# The owner template may not ask for personal data.
printf 'Clé de @FIRST_NAME@, né le @DATE_NAISSANCE@\n' > owner.txt
refuse 65 "@DATE_NAISSANCE@: personal data" src --owner-template owner.txt --owner-path "A MOI.txt"
echo "image-hostile: ok"
