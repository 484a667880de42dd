#!/usr/bin/env python3
"""The tables scripts/bench.sh prints, from what it recorded in its work directory.

  report.py WORKDIR

WORKDIR/results.tsv: SCENARIO TOOL RUN STATUS SECONDS PEAK_RSS_KB CPU_SECONDS SERVER_CPU_SECONDS, one
                     line per timed run
WORKDIR/facts.tsv:   KEY VALUE (scale, machine floors, sizes, byte counts)

Prints Markdown: per scenario every tool's median and min–max wall time over its runs, how many
times slower than sealift it is (the peer's median over sealift's), the median CPU time (user +
system) of the tool's processes and of the registries serving it, and the largest peak RSS of any one process in any run; then the machine's floors, the delta and memory comparisons, and the issue's targets, each
with the measured value and whether it is met.
"""
import statistics
import sys
from collections import OrderedDict

SCENARIOS = OrderedDict([
    ("build", "1. build a bundle from the upstream registry"),
    ("push", "2. push into an empty target"),
    ("repush", "3. push again, nothing changed"),
    ("verify", "4. verify a bundle"),
    ("small-build", "6. memory: build at a quarter of the scale"),
    ("small-push", "6. memory: push at a quarter of the scale"),
    ("small-verify", "6. memory: verify at a quarter of the scale"),
    ("serve-pull", "7. pull every blob, one client: sealift-install serve vs docker-registry"),
    ("serve-pull-40", "7. pull every blob, 40 clients at once"),
])


def load(workdir):
    runs = OrderedDict()
    with open(f"{workdir}/results.tsv") as f:
        for line in f:
            scenario, tool, _run, status, seconds, rss, cpu, server = line.rstrip("\n").split("\t")
            r = runs.setdefault(scenario, OrderedDict()).setdefault(
                tool, {"t": [], "rss": [], "cpu": [], "server": [], "failed": 0, "na": 0})
            if status == "ok":
                r["t"].append(float(seconds))
                r["rss"].append(int(rss))
                r["cpu"].append(float(cpu))
                r["server"].append(float(server))
            elif status == "n/a":
                r["na"] += 1
            else:
                r["failed"] += 1
    facts = {}
    try:
        with open(f"{workdir}/facts.tsv") as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("\t")
                facts[key] = value
    except FileNotFoundError:
        pass
    return runs, facts


def median(r):
    return statistics.median(r["t"]) if r["t"] else None


def mib(nbytes):
    return float(nbytes) / (1 << 20)


def fmt_s(x):
    return "–" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def print_times(runs):
    print("| scenario | tool | median s | min–max s | runs | time ÷ sealift's | CPU s | registries' CPU s | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for scenario, title in SCENARIOS.items():
        tools = runs.get(scenario)
        if not tools:
            continue
        base = median(tools["sealift"]) if "sealift" in tools else None
        for tool, r in tools.items():
            if r["na"] and not r["t"]:
                print(f"| {title} | {tool} | not available | | | | | | |")
                continue
            if not r["t"]:
                print(f"| {title} | {tool} | failed ({r['failed']} runs) | | | | | | |")
                continue
            m = median(r)
            ratio = f"{m / base:.2f}×" if base and tool != "sealift" else ("1" if tool == "sealift" else "–")
            failed = f" ({r['failed']} failed)" if r["failed"] else ""
            print(f"| {title} | {tool} | {fmt_s(m)} | {fmt_s(min(r['t']))}–{fmt_s(max(r['t']))} | "
                  f"{len(r['t'])}{failed} | {ratio} | {fmt_s(statistics.median(r['cpu']))} | "
                  f"{fmt_s(statistics.median(r['server']))} | {max(r['rss']) / 1024:.0f} |")
    print()


def print_floors(facts):
    rows = [
        ("sha256 per CPU second (openssl speed, 16 KiB blocks, CPU time)", "sha256_1core_cpu_mbs", "MB/s"),
        ("sha256 on two cores (openssl speed -multi 2, wall time, under this run's load)", "sha256_2core_mbs", "MB/s"),
        ("sequential write of the scratch directory (dd, fdatasync)", "write_mbs", "MB/s"),
        ("one layer from the upstream registry (curl to /dev/null)", "registry_read_mbs", "MB/s"),
        ("zstd -T0 -3 of the skopeo layout's tar (compressed layers)", "zstd_mbs", "MB/s"),
    ]
    print("| machine floor | value |")
    print("|---|---:|")
    for label, key, unit in rows:
        if key in facts:
            print(f"| {label} | {float(facts[key]):.0f} {unit} |")
    print()


def print_delta(facts):
    if "delta_bytes" not in facts:
        return
    full, delta = int(facts["full2_bytes"]), int(facts["delta_bytes"])
    print("| 5. next release (one changed backend layer) | bytes | MiB | share of the full bundle |")
    print("|---|---:|---:|---:|")
    print(f"| full bundle | {full} | {mib(full):.1f} | 100 % |")
    print(f"| delta bundle (--base the previous release) | {delta} | {mib(delta):.2f} | {100.0 * delta / full:.2f} % |")
    print()


def peak(runs, scenario):
    r = runs.get(scenario, {}).get("sealift")
    return max(r["rss"]) / 1024 if r and r["rss"] else None


def print_memory(runs, facts):
    if "small_scale" not in facts:
        return
    print(f"| 6. sealift peak RSS | scale {facts['small_scale']} | scale {facts['scale']} | change |")
    print("|---|---:|---:|---:|")
    for what in ("build", "push", "verify"):
        small, big = peak(runs, "small-" + what), peak(runs, what)
        if small is None or big is None:
            print(f"| {what} | {small or '–'} | {big or '–'} | |")
            continue
        print(f"| {what} | {small:.0f} MiB | {big:.0f} MiB | {100.0 * (big - small) / small:+.0f} % |")
    print()


def verdict(ok):
    return "met" if ok else "missed"


def print_targets(runs, facts):
    rows = []

    def m(scenario, tool):
        r = runs.get(scenario, {}).get(tool)
        return median(r) if r else None

    build = m("build", "sealift")
    if build:
        diy = m("build", "skopeo+tar+zstd")
        if diy:
            rows.append(("build ≥ 4× faster than skopeo, tar and zstd", f"{diy / build:.2f}×", verdict(diy / build >= 4)))
        others = [(m("build", t), t) for t in runs.get("build", {}) if t not in ("sealift", "skopeo+tar+zstd")]
        others = [(t, name) for t, name in others if t]
        if others:
            fastest, name = min(others)
            rows.append((f"build ≥ 2× faster than the fastest other peer ({name})", f"{fastest / build:.2f}×",
                         verdict(fastest / build >= 2)))
    push = m("push", "sealift")
    if push:
        diy = m("push", "unpack+skopeo")
        if diy:
            rows.append(("push into an empty target ≥ 3× faster than unpack + skopeo", f"{diy / push:.2f}×",
                         verdict(diy / push >= 3)))
        again = m("repush", "sealift")
        if again:
            rows.append(("push of an unchanged bundle ≤ 3 % of the full push", f"{100 * again / push:.1f} %",
                         verdict(again / push <= 0.03)))
    verify = m("verify", "sealift")
    if verify and "verified_bytes" in facts and "sha256_2core_mbs" in facts:
        rate = int(facts["verified_bytes"]) / 1e6 / verify
        floor = float(facts["sha256_2core_mbs"])
        rows.append((f"verify ≥ 70 % of two-core sha256 ({floor:.0f} MB/s, wall time)",
                     f"{rate:.0f} MB/s = {100 * rate / floor:.0f} %", verdict(rate >= 0.7 * floor)))
    cpu = runs.get("verify", {}).get("sealift")
    if cpu and cpu["cpu"] and "verified_bytes" in facts and "sha256_1core_cpu_mbs" in facts:
        # The same target without the other users of the machine: bytes per CPU second against
        # sha256's bytes per CPU second (two busy cores give twice both).
        rate = int(facts["verified_bytes"]) / 1e6 / statistics.median(cpu["cpu"])
        floor = float(facts["sha256_1core_cpu_mbs"])
        rows.append((f"verify per CPU second ≥ 70 % of sha256's ({floor:.0f} MB/s)",
                     f"{rate:.0f} MB/s = {100 * rate / floor:.0f} %", verdict(rate >= 0.7 * floor)))
    if "delta_bytes" in facts:
        share = int(facts["delta_bytes"]) / int(facts["full2_bytes"])
        rows.append(("delta for a backend-only change ≤ 2 % of the full bundle", f"{100 * share:.2f} %", verdict(share <= 0.02)))
    for what in ("build", "push", "verify"):
        big = peak(runs, what)
        if big is None:
            continue
        rows.append((f"peak RSS of {what} ≤ 100 MB", f"{big * 1.048576:.0f} MB", verdict(big * 1.048576 <= 100)))
        small = peak(runs, "small-" + what)
        if small:
            change = (big - small) / small
            rows.append((f"peak RSS of {what} flat from scale {facts.get('small_scale')} to {facts.get('scale')} (±10 %)",
                         f"{100 * change:+.0f} %", verdict(abs(change) <= 0.10)))
    if not rows:
        return
    print("| target | measured | |")
    print("|---|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def print_serve(facts):
    if "serve_pull_bytes" not in facts:
        return
    print(f"7. Served: {int(facts['serve_pull_bytes']) / 1e6:.1f} MB of blobs per client. Peak RSS of the server "
          "(VmHWM, reset after start-up) under 40 parallel pulls:")
    print()
    print("| server | at start (after verifying) | under 40 parallel pulls |")
    print("|---|---:|---:|")
    for key, name in (("serve", "sealift-install serve"), ("registry", "docker-registry")):
        if f"{key}_rss_kb_40" in facts:
            start = facts.get(f"{key}_rss_kb_start")
            start = f"{int(start) / 1024:.0f} MiB" if start else "–"
            print(f"| {name} | {start} | {int(facts[f'{key}_rss_kb_40']) / 1024:.0f} MiB |")
    print()


def main():
    workdir = sys.argv[1]
    runs, facts = load(workdir)
    print_times(runs)
    print_delta(facts)
    print_memory(runs, facts)
    print_serve(facts)
    print_floors(facts)
    print_targets(runs, facts)


if __name__ == "__main__":
    main()
