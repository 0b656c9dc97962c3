#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes fuzz-fat's sparse input (see fuzz-volume.h) for a hand-made 64 MiB FAT32 volume
# that fatimg cannot make: DEPTH nested directories, each named NAMELEN copies of U+4E00
# (3 bytes of UTF-8 each), so that paths grow far past what any OS opens. NAMELEN 0: no
# long names, and SHORT (11 bytes, default "D0000001   " and so on) as every short name.
#   tests/fuzz/fat-deep.py DEPTH NAMELEN OUT [SHORT]
import struct, sys

depth, namelen, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
fixed_short = sys.argv[4].encode().ljust(11)[:11] if len(sys.argv) > 4 else None
SS, RS, NFATS, FATSZ, TOT = 512, 32, 2, 1010, 131072
DATA = RS + NFATS * FATSZ
SPD = 2   # clusters (= sectors) per directory

boot = bytearray(512)
boot[0:3] = b"\xEB\x58\x90"
boot[3:11] = b"MSWIN4.1"
struct.pack_into("<HBHBHHBHHHII", boot, 11, SS, 1, RS, NFATS, 0, 0, 0xF8, 0, 32, 64, 0, TOT)
struct.pack_into("<IHHIHH", boot, 36, FATSZ, 0, 0, 2, 1, 6)
boot[64], boot[66] = 0x80, 0x29
struct.pack_into("<I", boot, 67, 0x12345678)
boot[71:82] = b"DEEP       "
boot[82:90] = b"FAT32   "
boot[510:512] = b"\x55\xAA"

def cluster(i):   # first cluster of directory i (0: root)
    return 2 + SPD * i

fat = {0: 0x0FFFFFF8, 1: 0x0FFFFFFF}
for i in range(depth + 1):
    for k in range(SPD):
        c = cluster(i) + k
        fat[c] = c + 1 if k < SPD - 1 else 0x0FFFFFFF

def short(name, attr, clus):
    e = bytearray(32)
    e[0:11] = name
    e[11] = attr
    struct.pack_into("<HH", e, 20, clus >> 16, clus & 0xFFFF)
    struct.pack_into("<H", e, 26, clus & 0xFFFF)
    return bytes(e)

def checksum(name):
    s = 0
    for c in name:
        s = (((s & 1) << 7) + (s >> 1) + c) & 0xFF
    return s

def lfn(units, name):
    units = units + ([0] if len(units) % 13 else [])
    units += [0xFFFF] * (-len(units) % 13)
    n, sum_, entries = len(units) // 13, checksum(name), []
    for ord_ in range(n, 0, -1):
        e = bytearray(32)
        e[0] = ord_ | (0x40 if ord_ == n else 0)
        e[11], e[13] = 0x0F, sum_
        chunk = units[(ord_ - 1) * 13:ord_ * 13]
        for j, pos in enumerate([1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]):
            struct.pack_into("<H", e, pos, chunk[j])
        entries.append(bytes(e))
    return b"".join(entries)

records = [(0, bytes(boot))]
fatbytes = bytearray(4 * (max(fat) + 1))
for c, v in fat.items():
    struct.pack_into("<I", fatbytes, 4 * c, v)
for f in range(NFATS):
    records.append((RS + f * FATSZ, bytes(fatbytes)))
for i in range(depth + 1):
    d = b""
    if i > 0:
        d += short(b".          ", 0x10, cluster(i)) + short(b"..         ", 0x10, cluster(i - 1) if i > 1 else 0)
    if i < depth:
        name = fixed_short or b"D%07d   " % (i + 1)
        if namelen:
            d += lfn([0x4E00] * namelen, name)
        d += short(name, 0x10, cluster(i + 1))
    assert len(d) <= SPD * SS
    records.append((DATA + cluster(i) - 2, d))
with open(out, "wb") as f:
    for sector, data in records:
        f.write(struct.pack("<IH", sector, len(data)) + data)
