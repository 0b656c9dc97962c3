#!/usr/bin/env python3
# screen-lines.py TYPESCRIPT: every line a batch table drew in script(1)'s typescript,
# one per output line, without its escape sequences, as the terminal shows it (each
# "\r\033[K" starts a line drawn afresh); and each line's width in terminal columns.
import re
import sys
import unicodedata


def width(s):
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return w


data = open(sys.argv[1], "rb").read().decode("utf-8", "strict")
body = data.split("\n", 1)[1].rsplit("\nScript done", 1)[0]
for raw in body.split("\n"):
    for seg in raw.split("\r\x1b[K")[1:]:
        seg = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", seg).replace("\r", "").replace("\a", "")
        print(f"{width(seg)}\t{seg}")
