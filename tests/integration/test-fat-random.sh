#!/bin/bash
# Randomized trees through the FAT32 engine, checked by fsck.fat, mtools and the engine's
# own reader. Seeded: FAT_SEED=N reproduces a run (the seed is printed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fat-lib.sh"
need_tool fsck.fat
need_tool mdir
need_tool perl

SEED=${FAT_SEED:-$(( $(date +%s) % 100000 ))}
echo "fat-random: seed $SEED (FAT_SEED=$SEED to replay)"

# gen DIR KIND: a random tree. Every name carries a unique number, so no two names of a
# directory differ only by case (the "case" kind adds such a pair on purpose).
gen() {
        perl -CS -e '
        use strict; use utf8;
        my ($root, $kind, $seed) = @ARGV;
        srand($seed);
        my @pool = ("a".."z", "A".."Z", 0..9, " ", "-", "_", ".", "é", "è", "à", "ç", "Ω", "ж",
                    "数", "学", "日本", "📚", "𝄞", "(", ")", "~", "+", ",", ";", "=", "[", "]");
        my $block = join("", map { chr(int(rand(256))) } 1..65536);
        my @sizes = (0, 1, 511, 512, 513, 4095, 4096, 4097);
        my $n = 0;
        sub name {
                my $len = 1 + int(rand(12));
                my $s = join("", map { $pool[int(rand(@pool))] } 1..$len);
                $s =~ s/^[ .]+//;
                return "n" . $n++ . $s . (rand() < 0.5 ? ".txt" : "x");
        }
        sub file {
                my ($path) = @_;
                my $size = rand() < 0.6 ? $sizes[int(rand(@sizes))] : int(rand(20000));
                open(my $f, ">:raw", Encode::encode("UTF-8", $path)) or die "$path: $!";
                while ($size > 0) {
                        my $k = $size < 65536 ? $size : 65536;
                        print $f substr($block, 0, $k);
                        $size -= $k;
                }
                close($f);
        }
        sub dir { my ($p) = @_; mkdir(Encode::encode("UTF-8", $p)) or die "$p: $!"; }
        use Encode;
        if ($kind eq "deep") {
                my $p = $root;
                for my $i (1..40) {
                        $p .= "/d$i";
                        dir($p);
                        file("$p/" . name()) if rand() < 0.5;
                }
        } elsif ($kind eq "wide") {
                dir("$root/wide");
                file("$root/wide/Long File Name $_.txt") for 1..1500;
                file("$root/wide/" . name()) for 1..500;
        } elsif ($kind eq "mixed") {
                my @dirs = ($root);
                for (1..400) {
                        my $d = $dirs[int(rand(@dirs))];
                        if (rand() < 0.15) { my $p = "$d/" . name(); dir($p); push @dirs, $p; }
                        else { file("$d/" . name()); }
                }
        } elsif ($kind eq "case") {
                file("$root/" . name());
                file("$root/Élève.txt");
                file("$root/éLÈVE.TXT");
        }' "$1" "$2" "$SEED"
}

for kind in deep wide mixed; do
        mkdir "$kind"
        gen "$kind" "$kind"
        expect_exit 0 "$TOOL_FATIMG" build --size 64M --time 1700000000 --volume-id 1 "$kind" "$kind.img"
        check_image "$kind" "$kind.img"
done
# Cluster-boundary sizes again with 4 KiB clusters, at 1 MiB into the target.
expect_exit 0 "$TOOL_FATIMG" build --size 300M --offset 1M --cluster-size 4096 mixed mixed4k.img
check_image mixed mixed4k.img 1048576

mkdir case
gen case case
expect_exit 1 "$TOOL_FATIMG" build --size 64M case case.img
expect_in err 'collides with'
expect_in err 'Élève\.txt|éLÈVE\.TXT'
echo "fat-random: ok (seed $SEED)"
