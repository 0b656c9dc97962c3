#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile keys, names (issue 16, items 1 and 9): entries that Windows, Linux and mtools
would open in place of the signed ones, and names that drive the terminal. Each key is a
genuinely flashed image edited as a pupil would; verify must never call it intact, cat
must refuse the ambiguous path, and no output may carry an escape character."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fatvol import Volume, lfn_entries, short_entry, short11  # noqa: E402

CARTABLE = os.environ["CARTABLE"]
FORGED = b"<html>FORGED: send your ENT password to evil.example</html>\n"
GENUINE = b"<html>Guide des \xc3\xa9l\xc3\xa8ves et des parents</html>\n"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(*args, want=None, **kw):
    p = subprocess.run(args, capture_output=True, **kw)
    if want is not None and p.returncode != want:
        fail("%s exited %d, expected %d\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(args), p.returncode, want, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace")))
    return p


def expect(cond, msg, p=None):
    if not cond:
        if p is not None:
            msg += "\n--- stdout\n%s\n--- stderr\n%s" % (p.stdout.decode(errors="replace"),
                                                       p.stderr.decode(errors="replace"))
        fail(msg)


def flash(tmp):
    os.makedirs(tmp + "/content/Guide")
    os.makedirs(tmp + "/content/\u00c9l\u00e8ves")
    with open(tmp + "/content/Guide/guide-eleves-parents.html", "wb") as f:
        f.write(GENUINE)
    with open(tmp + "/content/Lisez-moi.txt", "wb") as f:
        f.write(b"Lisez-moi\n")
    with open(tmp + "/content/\u00c9l\u00e8ves/liste.txt", "wb") as f:
        f.write(b"liste\n")
    run(CARTABLE, "key", "generate", "--secret", tmp + "/k.key", "--public", tmp + "/k.pub",
        "--unencrypted", want=0)
    run(CARTABLE, "image", "build", "--name", "college", "--version", "1", "--serial", "1",
        "--min-size", "64M", "--sealed", "Guide", "--label", "COLLEGE", "--key", tmp + "/k.key",
        "--output", tmp + "/rel.cart", "-q", tmp + "/content", want=0)
    run(CARTABLE, "flash", tmp + "/rel.cart", tmp + "/key.img", "--size", "128M",
        "--trust", tmp + "/k.pub", want=0)
    p = run(CARTABLE, "verify", tmp + "/key.img", "--trust", tmp + "/k.pub", want=0)
    expect(b": intact:" in p.stdout, "the genuine key is not intact", p)


def crafted(tmp, name, edit):
    img = "%s/%s.img" % (tmp, name)
    shutil.copyfile(tmp + "/key.img", img)
    v = Volume(img)
    edit(v)
    v.f.close()
    return img


def insert_before(v, dir_cluster, long_name, new):
    entries = v.dir_entries(dir_cluster)
    at, _ = v.find(entries, long_name)
    v.set_dir_entries(dir_cluster, entries[:at] + new + entries[at:])


def forged_guide_dir(v):
    """A directory holding a forged guide-eleves-parents.html, as the real Guide's."""
    f = v.new_file(FORGED)
    s = short11(b"GUIDE-~1.HTM")
    return v.new_dir(v.root, [lfn_entries("guide-eleves-parents.html", s) +
                              [short_entry(s, 0x20, f, len(FORGED))]])


def shadow_dir(v):
    """Issue 16 item 1: long name zz, 8.3 name GUIDE, before the real Guide."""
    d = forged_guide_dir(v)
    s = short11(b"GUIDE")
    insert_before(v, v.root, "Guide", lfn_entries("zz", s) + [short_entry(s, 0x10, d, 0)])


def shadow_dir_deleted_lfn(v):
    """The same, its LFN entries deleted (0xE5): a bare GUIDE entry is left, as after a
    deletion whose short slot was reused."""
    d = forged_guide_dir(v)
    s = short11(b"GUIDE")
    lfn = [b"\xe5" + e[1:] for e in lfn_entries("zz", s)]
    insert_before(v, v.root, "Guide", lfn + [short_entry(s, 0x10, d, 0)])


def long_is_short(v):
    """A long name equal to another entry's 8.3 name: Lisez-moi.txt is LISEZ-~1.TXT."""
    f = v.new_file(FORGED)
    s = short11(b"ZZ.TXT")
    insert_before(v, v.root, "Lisez-moi.txt",
                  lfn_entries("lisez-~1.txt", s) + [short_entry(s, 0x20, f, len(FORGED))])


def oem_short(v):
    """An 8.3 name in the OEM code page: 0x90 0x4C 0x8A... is ÉLèVES in code page 850,
    which Windows matches with Élèves."""
    f = v.new_file(FORGED)
    s = b"\x90L\x8aVES  " + b"   "
    d = v.new_dir(v.root, [[short_entry(short11(b"LISTE.TXT"), 0x20, f, len(FORGED))]])
    insert_before(v, v.root, "\u00c9l\u00e8ves", lfn_entries("zz", s) + [short_entry(s, 0x10, d, 0)])


def misplaced_dot(v):
    """A '..' entry after the first two slots of Guide, pointing at forged content."""
    entries = v.dir_entries(v.root)
    _, i = v.find(entries, "Guide")
    e = entries[i]
    guide = int.from_bytes(e[26:28], "little") | int.from_bytes(e[20:22], "little") << 16
    d = forged_guide_dir(v)
    g = v.dir_entries(guide)
    v.set_dir_entries(guide, g + [short_entry(b"..         ", 0x10, d, 0)])


ESC_NAMES = ["\x1b]2;pwned\x07.txt", "\x1b[2J\x1b[H.txt", "tab\there\u009b31m.txt"]


def escapes(v):
    """Names that retitle and clear the technician's terminal (issue 16 item 9)."""
    new = []
    for i, name in enumerate(ESC_NAMES):
        f = v.new_file(b"x\n")
        s = short11(b"ESC%d.TXT" % i)
        new += lfn_entries(name, s) + [short_entry(s, 0x20, f, 2)]
    v.set_dir_entries(v.root, v.dir_entries(v.root) + new)


def main():
    tmp = tempfile.mkdtemp(prefix="cartable-hostile.")
    try:
        flash(tmp)
        pub = tmp + "/k.pub"

        # Short-name shadowing: mtools (as Windows and Linux) opens the forged page.
        for name, edit, path, other in [
                ("shadow", shadow_dir, "Guide/guide-eleves-parents.html", "zz"),
                ("shadow-deleted-lfn", shadow_dir_deleted_lfn, "Guide/guide-eleves-parents.html", "GUIDE"),
                ("long-is-short", long_is_short, "LISEZ-~1.TXT", "lisez-~1.txt"),
                ("oem-short", oem_short, "\u00c9l\u00e8ves/liste.txt", "zz")]:
            img = crafted(tmp, name, edit)
            if shutil.which("mtype") and name != "oem-short":
                m = run("mtype", "-i", img + "@@1M", "::" + path, env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
                expect(FORGED in m.stdout, "%s: the crafted key does not fool mtools" % name, m)
            p = run(CARTABLE, "verify", img, "--trust", pub, want=1)
            out = p.stdout.decode()
            expect("MODIFIED" in out, "%s: verify does not say MODIFIED" % name, p)
            expect(('same name on FAT as "%s"' % other) in out, "%s: verify does not name %s" % (name, other), p)
            p = run(CARTABLE, "cat", img, path, want=2)
            expect(FORGED not in p.stdout and GENUINE not in p.stdout, "%s: cat printed a page" % name, p)
            expect(b"both answer to" in p.stderr, "%s: cat does not say why" % name, p)
            p = run(CARTABLE, "verify", img, "--trust", pub, "--json", want=1)
            expect(b'"collides_with":' in p.stdout, "%s: --json does not name the collision" % name, p)

        # A dot entry out of its place hides a directory from the walk.
        img = crafted(tmp, "misplaced-dot", misplaced_dot)
        p = run(CARTABLE, "verify", img, "--trust", pub, want=2)
        expect(b'".." entry in slot' in p.stderr, "misplaced-dot: no reason given", p)

        # Escape sequences in names never reach the terminal, in any output.
        img = crafted(tmp, "escapes", escapes)
        outputs = [run(CARTABLE, "verify", img, "--trust", pub, want=0),
                   run(CARTABLE, "ls", img, want=0),
                   run(CARTABLE, "cat", img, ESC_NAMES[0] + "x", want=66)]
        for p in outputs:
            expect(b"\x1b" not in p.stdout + p.stderr and b"\x07" not in p.stdout + p.stderr and
                   b"\xc2\x9b" not in p.stdout + p.stderr,
                   "an escape character reached the terminal", p)
        out = outputs[0].stdout.decode()
        expect("extra     \\x1b]2;pwned\\x07.txt" in out, "verify does not show the escaped name", outputs[0])
        expect("tab\\x09here\\u009b31m.txt" in out, "verify does not escape TAB and C1", outputs[0])
        expect("\\x1b[2J\\x1b[H.txt" in outputs[1].stdout.decode(), "ls does not show the escaped name", outputs[1])
        expect("\\x1b]2;pwned\\x07.txtx" in outputs[2].stderr.decode(), "cat's error does not escape the path", outputs[2])
    finally:
        shutil.rmtree(tmp)
    print("ok")


main()
