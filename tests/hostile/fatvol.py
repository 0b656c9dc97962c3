# SPDX-License-Identifier: GPL-2.0-or-later
"""A small FAT32 editor for hostile-key tests: crafts directory entries on a key image
that cartable flashed, the way a pupil with a hex editor would (fatgen103 §6-7)."""
import struct


def lfn_checksum(short11):
    s = 0
    for b in short11:
        s = (((s & 1) << 7) + (s >> 1) + b) & 0xFF
    return s


def lfn_entries(name, short11):
    """The LFN entries of name, in on-disk order (last part first)."""
    units = list(name.encode("utf-16-le"))
    units = [units[i] | units[i + 1] << 8 for i in range(0, len(units), 2)]
    parts = [units[i:i + 13] for i in range(0, len(units), 13)]
    if len(parts[-1]) < 13:
        parts[-1] = parts[-1] + [0] + [0xFFFF] * (12 - len(parts[-1]))
    out, csum = [], lfn_checksum(short11)
    for n, p in enumerate(parts, 1):
        e = bytearray(32)
        e[0] = n | (0x40 if n == len(parts) else 0)
        for j, off in enumerate((1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30)):
            struct.pack_into("<H", e, off, p[j])
        e[11], e[13] = 0x0F, csum
        out.append(bytes(e))
    return out[::-1]


def short_entry(short11, attr, cluster, size):
    e = bytearray(32)
    e[0:11] = short11
    e[11] = attr
    # high cluster, time 00:00, date 2025-09-01, low cluster, size
    struct.pack_into("<HHHHI", e, 20, cluster >> 16, 0, 0x5B21, cluster & 0xFFFF, size)
    return bytes(e)


def short11(name):
    base, _, ext = name.partition(b".")
    return base.ljust(8, b" ") + ext.ljust(3, b" ")


class Volume:
    def __init__(self, path):
        self.f = open(path, "r+b")
        mbr = self.read(0, 512)
        self.base = struct.unpack_from("<I", mbr, 446 + 8)[0] * 512
        b = self.read(self.base, 512)
        self.bps, self.spc = struct.unpack_from("<HB", b, 11)
        rsv, nfats = struct.unpack_from("<HB", b, 14)
        self.fatsz, = struct.unpack_from("<I", b, 36)
        self.root, = struct.unpack_from("<I", b, 44)
        self.nfats = nfats
        self.fat = self.base + rsv * self.bps
        self.data = self.fat + nfats * self.fatsz * self.bps
        self.csize = self.bps * self.spc

    def read(self, at, n):
        self.f.seek(at)
        return self.f.read(n)

    def write(self, at, data):
        self.f.seek(at)
        self.f.write(data)

    def fat_get(self, c):
        return struct.unpack("<I", self.read(self.fat + 4 * c, 4))[0] & 0x0FFFFFFF

    def fat_set(self, c, v):
        for i in range(self.nfats):
            self.write(self.fat + i * self.fatsz * self.bps + 4 * c, struct.pack("<I", v))

    def alloc(self):
        c = 3
        while self.fat_get(c) != 0:
            c += 1
        self.fat_set(c, 0x0FFFFFFF)
        self.write(self.cluster(c), bytes(self.csize))
        return c

    def cluster(self, c):
        return self.data + (c - 2) * self.csize

    def dir_entries(self, c):
        """The entries of a one-cluster directory, as a list of 32-byte blocks (up to the end mark)."""
        raw = self.read(self.cluster(c), self.csize)
        out = []
        for i in range(0, self.csize, 32):
            if raw[i] == 0:
                break
            out.append(raw[i:i + 32])
        return out

    def set_dir_entries(self, c, entries):
        raw = b"".join(entries)
        assert len(raw) <= self.csize
        self.write(self.cluster(c), raw + bytes(self.csize - len(raw)))

    def find(self, entries, long_name):
        """Index of the first entry (LFN included) of the entry named long_name."""
        start = None
        for i, e in enumerate(entries):
            if e[11] & 0x3F == 0x0F:
                if e[0] & 0x40:
                    start = i
                continue
            name = self.name_at(entries, start, i)
            if name.lower() == long_name.lower():
                return (start if start is not None else i), i
            start = None
        raise KeyError(long_name)

    def name_at(self, entries, start, i):
        if start is None:
            base, ext = entries[i][0:8].rstrip(b" "), entries[i][8:11].rstrip(b" ")
            return (base + (b"." + ext if ext else b"")).decode("latin-1")
        units = b""
        for e in reversed(entries[start:i]):
            units += e[1:11] + e[14:26] + e[28:32]
        return units.decode("utf-16-le").split("\0")[0]

    def new_file(self, content):
        c = self.alloc()
        self.write(self.cluster(c), content)
        return c

    def new_dir(self, parent, children):
        """A one-cluster directory holding children (lists of entries)."""
        c = self.alloc()
        dot = short_entry(b".          ", 0x10, c, 0)
        dotdot = short_entry(b"..         ", 0x10, 0 if parent == self.root else parent, 0)
        self.set_dir_entries(c, [dot, dotdot] + [e for ch in children for e in ch])
        return c
