#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Turns a FAT image (tests/tools/fatimg build) into fuzz-fat's sparse input: one record
# [sector: u32 LE][length: u16 LE][bytes] per run of non-zero 512-byte sectors.
#   tests/fuzz/fat-seed.py IMG OUT
import struct, sys

img, out = sys.argv[1], sys.argv[2]
records, run_start, run = [], None, b""
with open(img, "rb") as f:
    sector = 0
    while True:
        s = f.read(512)
        if not s:
            break
        if s.strip(b"\0") and len(run) + 512 <= 0xFFFF:
            if run_start is None:
                run_start = sector
            run += s
        else:
            if run_start is not None:
                records.append(struct.pack("<IH", run_start, len(run)) + run)
            run_start, run = (sector, s) if s.strip(b"\0") else (None, b"")
        sector += 1
if run_start is not None:
    records.append(struct.pack("<IH", run_start, len(run)) + run)
with open(out, "wb") as f:
    f.write(b"".join(records))
