#!/usr/bin/env python3
"""hub-report.py: the Markdown table of bench/hub-bench.sh, from the guest's console
protocol (events stamped with the guest's uptime, udevadm monitor's add events, the
BENCH lines), the keys the host plugged per phase, and the native CPU rounds."""
import argparse
import json
import re
import statistics

BUS = {"usb2": 37748736, "usb3": 367001600}
KEY = {"usb2": (12582912, 25165824), "usb3": (31457280, 94371840)}
MIB = 1048576

ap = argparse.ArgumentParser()
for a in ("console", "keys", "native", "phases", "release-bytes", "release-files", "host-sha",
          "qemu", "load", "date", "cores"):
    ap.add_argument("--" + a, required=True)
ap.add_argument("--swap", type=float, default=5.0)
o = ap.parse_args()

lines = [l.rstrip("\n") for l in open(o.console)]


def block(name):
    out, on = [], False
    for l in lines:
        if l == "@@ BEGIN " + name:
            on = True
        elif l == "@@ END " + name:
            return out
        elif on:
            out.append(re.sub(r"^@@\| ?", "", l))
    raise SystemExit(f"hub-report: the guest printed no block {name!r}")


def bench(name):
    for l in lines:
        if l.startswith(f"@@ BENCH {name} "):
            return dict(kv.split("=", 1) for kv in l.split()[3:] if "=" in kv)
    raise SystemExit(f"hub-report: no BENCH line {name!r}")


for l in lines:
    if l.startswith("@@ BENCH_FAIL") or l.startswith("@@ TIMEOUT"):
        raise SystemExit("hub-report: " + l)

# udevadm monitor --kernel --udev --property: records separated by blank lines.
arrival = {}        # serial -> (kernel uevent time, udev event time)
last_kernel = {}
rec = []
for l in block("udevmon") + [""]:
    if l.strip():
        rec.append(l)
        continue
    if rec:
        m = re.match(r"(KERNEL|UDEV)\s*\[([0-9.]+)\]\s+(\w+)", rec[0])
        p = dict(x.split("=", 1) for x in rec[1:] if "=" in x)
        if m and m.group(3) == "add" and p.get("DEVTYPE") == "disk":
            t = float(m.group(2))
            if m.group(1) == "KERNEL":
                last_kernel[p.get("DEVNAME")] = t
            elif "ID_SERIAL_SHORT" in p and p["ID_SERIAL_SHORT"] not in arrival:
                arrival[p["ID_SERIAL_SHORT"]] = (last_kernel.get(p.get("DEVNAME"), t), t)
    rec = []

keys = {}           # phase -> [(serial, hub)]
for l in open(o.keys):
    t, _id, hub, serial = l.split()
    keys.setdefault(t, []).append((serial, hub))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def f(x, d=2):
    return f"{x:.{d}f}"


def cpu_busy(c0, c1):
    a = [int(x) for x in c0.split(":")]
    b = [int(x) for x in c1.split(":")]
    d = [y - x for x, y in zip(a, b)]
    tot = sum(d)
    return 1 - (d[3] + d[4]) / tot if tot else float("nan")


def moved_at(k, t):
    """A key's bytes moved by time t, interpolated between its samples."""
    c = k["curve"]
    if t <= c[0][0]:
        return 0
    for (t0, b0), (t1, b1) in zip(c, c[1:]):
        if t0 <= t <= t1:
            return b0 + (b1 - b0) * ((t - t0) / (t1 - t0) if t1 > t0 else 1)
    return c[-1][1]


SEGMENTS = [("seen by the batch", "udev", "added"), ("does it hold the release already? then the journal's start record", "added", "started"),
            ("opening the key (policy judged before and after an O_EXCL open; --erase auto: what it held, 16 MiB read of a blank key)", "started", "check"), ("checks (size)", "check", "capacity probe"),
            ("capacity probe", "capacity probe", "layout"), ("layout (partition table, FAT planned)", "layout", "write")]

phases = {}
for t in o.phases.split():
    kind, hubs, per = t.split("-")
    hubs, per = int(hubs), int(per)
    ev = {}
    prog = {}       # serial -> [(uptime, step, bytes done in that step)]
    starts = []     # the batch's start on the guest's clock, from each line with elapsed
    for l in block(t):
        ts, js = l.split(" ", 1)
        if js.startswith("P "):
            fs = js.split()
            # With its "at" (seconds from the batch's start), placed once the start is known.
            prog.setdefault(fs[1], []).append((float(ts) if len(fs) < 5 else "at " + fs[4], fs[2], int(fs[3])))
            continue
        e = json.loads(js)
        s = e.get("serial")
        if not s:
            continue
        k = ev.setdefault(s, {})
        name = e["step"] if e["event"] == "step" else e["event"]
        k.setdefault(name, float(ts))
        # A step's own time (its worker's clock, seconds since the batch started), when the
        # batch gives it: the line itself may have been written later.
        if "at" in e:
            k.setdefault("at " + name, e["at"])
            starts.append(float(ts) - e["at"])
        if e["event"] == "done":
            k["w"], k["r"], k["outcome"] = e["bytes_written"], e["bytes_read"], e["outcome"]
    # The batch's start on the guest's clock: a line is stamped when read, never before its
    # event, so the earliest (stamp - at) is the closest. Each event is then placed at its
    # own time (a step when its worker entered it), not when its line was read.
    if starts:
        t0 = min(starts)
        for k in ev.values():
            for name in [n for n in k if n.startswith("at ")]:
                k[name[3:]] = t0 + k.pop(name)
        for serial, c in prog.items():
            prog[serial] = [(t0 + float(t[3:]) if isinstance(t, str) else t, st, d) for t, st, d in c]
    b = bench(t)
    rows = []
    for serial, hub in keys[t]:
        k = ev.get(serial)
        if not k or k.get("outcome") != "ok":
            raise SystemExit(f"hub-report: {t}: key {serial} not done: {k}")
        if serial not in arrival:
            raise SystemExit(f"hub-report: {t}: no udev add event for {serial}")
        k["kernel"], k["udev"] = arrival[serial]
        k["hub"] = hub
        k["serial"] = serial
        rows.append(k)
    # Each key's bytes moved over time: (uptime, bytes written + read back so far).
    for k in rows:
        pts = [(k["write"], 0)]
        for ts, step, done in prog.get(k["serial"], []):
            if step == "write":
                pts.append((ts, done))
            elif step == "read-back":
                pts.append((ts, k["w"] + done))
        if "read-back" in k:
            pts.append((k["read-back"], k["w"]))
        pts.append((k["done"], k["w"] + k["r"]))
        k["curve"] = sorted(pts)
    first = min(k["udev"] for k in rows)
    last = max(k["done"] for k in rows)
    moved = sum(k["w"] + k["r"] for k in rows)
    bus = BUS[kind] * (1 if kind == "usb3" else hubs)
    span = last - first
    kw, kr = KEY[kind]
    # The model's own bound: the bus, or one key's rates if the bus does not bind.
    bound = max(moved / bus, max(k["w"] / kw + k["r"] / kr for k in rows))
    per_hub = {}
    for k in rows:
        per_hub.setdefault(k["hub"], 0)
        per_hub[k["hub"]] += k["w"] + k["r"]
    # The steady window: every key present (the last one's udev event) to the first key done.
    full_a = max(k["udev"] for k in rows)
    full_b = min(k["done"] for k in rows)
    full = (sum(moved_at(k, full_b) - moved_at(k, full_a) for k in rows) / (bus * (full_b - full_a))
            if full_b > full_a + 1 else float("nan"))
    phases[t] = dict(full=full, full_window=(full_b - full_a), arrival_spread=full_a - first,kind=kind, hubs=hubs, per=per, n=len(rows), rows=rows, span=span, moved=moved,
                     bus=bus, util=moved / (bus * span), bound=bound,
                     write_span=last - min(k["write"] for k in rows),
                     per_hub={h: v / span / MIB for h, v in per_hub.items()},
                     first_byte=[k["write"] - k["udev"] for k in rows],
                     check=float(b["ready"]) - float(b["start"]),
                     busy=cpu_busy(b["cpu0"], b["cpu1"]),
                     batchcpu=sum(int(x) for x in b["batchcpu"].split(":")) / int(b["hz"]),
                     batchsys=int(b["batchcpu"].split(":")[1]) / int(b["hz"]),
                     w=statistics.mean(k["w"] for k in rows), r=statistics.mean(k["r"] for k in rows))

print(f"Hub benchmark, {o.date}: QEMU {o.qemu} (TCG), guest of 2 vCPUs and 2 GiB on {o.cores} host cores; "
      f"release {int(o.release_bytes) / MIB:.1f} MiB ({o.release_files} generated files over images/ent-college); "
      f"keys hot-plugged all at once when the batch listens.")
print(f"Host load (uptime): {o.load}")
print()
print("| phase | keys | bus | moved (written + read back) | first udev event to last key done | bus utilisation | all keys present (last arrival to first done) | per hub | × the model's bound | guest CPU busy | the batch's own CPU in the guest |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for t, p in phases.items():
    hubs = "one USB 3 hub" if p["kind"] == "usb3" else ("one USB 2.0 hub" if p["hubs"] == 1 else f"{p['hubs']} USB 2.0 hubs, {p['per']} keys each")
    ph = ", ".join(f"{h} {v:.1f} MiB/s" for h, v in sorted(p["per_hub"].items()))
    print(f"| {t} | {p['n']} on {hubs} | {p['bus'] / MIB:.0f} MiB/s | {p['moved'] / MIB:.0f} MiB ({p['w'] / MIB:.1f} + {p['r'] / MIB:.1f} MiB a key) "
          f"| {f(p['span'], 1)} s (release check before: {f(p['check'], 1)} s) | **{f(p['util'], 3)}** (from the first write step: {f(p['moved'] / (p['bus'] * p['write_span']), 3)}) "
          f"| **{f(p['full'], 3)}** over {f(p['full_window'], 1)} s (arrivals spread over {f(p['arrival_spread'], 1)} s) | {ph} | {f(p['span'] / p['bound'])} × | {p['busy'] * 100:.0f} % | {f(p['batchcpu'], 1)} s, {p['batchsys'] / p['batchcpu'] * 100:.0f} % of it in the guest's kernel ({f(p['batchcpu'] / p['n'])} s a key) |")
print()

# Arrival to first byte written, in the biggest USB 2.0 phase (16 keys).
big = max((p for p in phases.values() if p["kind"] == "usb2"), key=lambda p: p["n"], default=None)
if big:
    fb = big["first_byte"]
    t = [k for k, v in phases.items() if v is big][0]
    print(f"Arrival (udev's add event in the guest) to the first byte of the release written (the write step), {big['n']} keys of {t}: "
          f"median **{f(med(fb))} s**, worst **{f(max(fb))} s**. Spent on (median / worst of the keys):")
    print()
    print("| segment | median | worst |")
    print("|---|---|---|")
    kern = [k["udev"] - k["kernel"] for k in big["rows"]]
    print(f"| kernel uevent to udev's event (rules, by-id link: before the arrival counted) | {f(med(kern))} s | {f(max(kern))} s |")
    for name, a, b in SEGMENTS:
        xs = [k[b] - k[a] for k in big["rows"] if a in k and b in k]
        if xs:
            print(f"| {name} | {f(med(xs))} s | {f(max(xs))} s |")
    print()

# A day: one station with two USB 2.0 hubs, from the 16-key phase.
two = [p for p in phases.values() if p["kind"] == "usb2" and p["hubs"] == 2]
if two:
    p = two[0]
    per_key = p["span"] / p["n"]        # bus time per key at the measured utilisation
    def total(n, overlap):
        flash = n * per_key
        return p["check"] + (max(n * o.swap, flash) if overlap else n * o.swap + flash)
    print(f"A day on one station with two USB 2.0 hubs (16 ports), from the 16-key phase: {f(per_key)} s of bus per key "
          f"({f(p['span'], 1)} s for 16, rounds of up to 16 at that rate), the release checked once ({f(p['check'], 1)} s), "
          f"key swaps at {o.swap:g} s a key:")
    print()
    print("| | rounds: plug all keys, then flash (not overlapped) | each key swapped as it ends (the bus never idle) |")
    print("|---|---|---|")
    for label, n in (("a class of 30", 30), ("a collège of 600", 600)):
        a, b = total(n, False), total(n, True)
        print(f"| {label} | {a / 60:.1f} min, {n * 3600 / a:.0f} keys/hour | {b / 60:.1f} min, {n * 3600 / b:.0f} keys/hour |")
    a, b = total(6500, False), total(6500, True)
    print(f"| the département's 6,500 keys | {a / 3600:.1f} h ({a / 3600 / 7:.1f} days of 7 h) | {b / 3600:.1f} h ({b / 3600 / 7:.1f} days of 7 h) |")
    print()

# Native CPU.
nat = {}
for l in open(o.native):
    label, w, r, cpu, dd, wall, ddwall = l.split()
    nat.setdefault(label, []).append((int(w), int(r), float(cpu), float(dd), float(wall), float(ddwall)))
print("cartable's own CPU per key natively (8 image files on a tmpfs, one `cartable batch`, `/usr/bin/time`: user + sys ÷ 8), "
      "against 8 parallel `dd` + `cmp` of the same bytes (median of 3 rounds, min-max):")
print()
print("| release | written, read back a key | cartable CPU a key | dd + cmp CPU a key | ratio | MiB written per CPU second | wall, 8 keys: batch / dd + cmp |")
print("|---|---|---|---|---|---|---|")
for label, rs in nat.items():
    cpu = [x[2] for x in rs]
    dd = [x[3] for x in rs]
    w, r = rs[0][0], rs[0][1]
    print(f"| {'this release' if label == 'big' else 'the e2e release'} | {w / MIB:.1f} MiB, {r / MIB:.1f} MiB | {f(med(cpu), 3)} s ({f(min(cpu), 3)}-{f(max(cpu), 3)}) "
          f"| {f(med(dd), 3)} s ({f(min(dd), 3)}-{f(max(dd), 3)}) | {f(med(cpu) / med(dd))} × | {w / MIB / med(cpu):.0f} "
          f"| {f(med([x[4] for x in rs]))} s / {f(med([x[5] for x in rs]))} s |")
print()
tcg = bench("tcg")
gs, hs = float(tcg["sha256"]), float(o.host_sha)
print(f"The emulated CPU: busybox `sha256sum` of the release takes {f(gs)} s in the guest, {f(hs)} s on the host: "
      f"**{gs / hs:.0f} ×** slower.", end=" ")
if "e2e" in nat:
    c = med([x[2] for x in nat["e2e"]])
    print(f"cartable's native CPU for one key of the e2e release ({f(c, 3)} s) is then about {f(c * gs / hs)} s of emulated CPU, "
          f"{f(8 * c * gs / hs / 2)} s of both vCPUs for eight keys at once, beside the guest kernel's emulated USB and "
          "udev's work for each key.")
else:
    print()
