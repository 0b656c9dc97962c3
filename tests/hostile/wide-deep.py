#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes a sparse FAT32 volume image whose directories nest LEVELS deep, each holding
# FILES empty files with unique 8.3 names (one 32-byte entry each) and the next directory:
# what a pupil's tool can make, and what makes a reader that holds every directory on
# its path hold LEVELS * FILES entries at once.
#   tests/hostile/wide-deep.py LEVELS FILES OUT.img
import struct, sys

levels, files, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
SS, SPC, RS, NFATS = 512, 8, 32, 2
CS = SS * SPC
CLUSTERS = 70000                               # over FAT32's 65525
FATSZ = (4 * (CLUSTERS + 2) + SS - 1) // SS
DATA = RS + NFATS * FATSZ
TOT = DATA + CLUSTERS * SPC
dir_clusters = (32 * (files + 3) + CS - 1) // CS

boot = bytearray(512)
boot[0:3] = b"\xEB\x58\x90"
boot[3:11] = b"MSWIN4.1"
struct.pack_into("<HBHBHHBHHHII", boot, 11, SS, SPC, RS, NFATS, 0, 0, 0xF8, 0, 32, 64, 0, TOT)
struct.pack_into("<IHHIHH", boot, 36, FATSZ, 0, 0, 2, 1, 6)
boot[64], boot[66] = 0x80, 0x29
struct.pack_into("<I", boot, 67, 0x20260016)
boot[71:82] = b"WIDEDEEP   "
boot[82:90] = b"FAT32   "
boot[510:512] = b"\x55\xAA"

def first(i):      # first cluster of directory i (0: root, one cluster)
    return 2 if i == 0 else 3 + (i - 1) * dir_clusters

fat = bytearray(4 * (first(levels) + dir_clusters + 1))
struct.pack_into("<II", fat, 0, 0x0FFFFFF8, 0x0FFFFFFF)
struct.pack_into("<I", fat, 8, 0x0FFFFFFF)
for i in range(1, levels + 1):
    for k in range(dir_clusters):
        c = first(i) + k
        struct.pack_into("<I", fat, 4 * c, c + 1 if k < dir_clusters - 1 else 0x0FFFFFFF)

def entry(name, attr, clus):
    return name + struct.pack("<BBBHHHHHHHI", attr, 0, 0, 0, 0x21, 0x21, clus >> 16, 0, 0x21, clus & 0xFFFF, 0)

with open(out, "wb") as f:
    f.truncate(TOT * SS)
    f.seek(0); f.write(boot)
    f.seek(6 * SS); f.write(boot)
    for n in range(NFATS):
        f.seek((RS + n * FATSZ) * SS); f.write(fat)
    for i in range(levels + 1):
        d = []
        if i > 0:
            d.append(entry(b".          ", 0x10, first(i)))
            d.append(entry(b"..         ", 0x10, first(i - 1) if i > 1 else 0))
            d.extend(entry(b"F%07d   " % k, 0x20, 0) for k in range(files))
        if i < levels:
            d.append(entry(b"D%07d   " % (i + 1), 0x10, first(i + 1)))
        f.seek((DATA + (first(i) - 2) * SPC) * SS)
        f.write(b"".join(d))
