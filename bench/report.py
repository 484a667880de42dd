#!/usr/bin/env python3
"""The tables scripts/bench.sh prints, from what it recorded in its work directory.

  report.py WORKDIR

WORKDIR/results.tsv: SCENARIO TOOL RUN STATUS SECONDS PEAK_RSS_KB CPU_SECONDS SERVER_CPU_SECONDS, one
                     line per timed run
WORKDIR/facts.tsv:   KEY VALUE (scale, machine floors, sizes, byte counts)
WORKDIR/phases.tsv:  SCENARIO PHASE SECONDS, the phases of every timed install / upgrade run (from the
                     install report's JSON)
WORKDIR/big.tsv:     STEP STATUS SECONDS PEAK_RSS_KB CPU_SECONDS BYTES_WRITTEN CACHE_PEAK_BYTES
                     BUNDLE_BYTES, one line per step of the big-bundle scenario

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
    ("install", "8. install end to end (verify, push, helm) into a local cluster"),
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


def print_push_floor(facts):
    if "floor_blobs" in facts:
        print(f"2. curl-floor sent {facts['floor_blobs']} distinct blobs ({int(float(facts['floor_bytes'])) / 1e6:.1f} MB, each "
              f"uploaded once and mounted into the other repositories holding it), {facts['floor_manifests']} manifests "
              f"and {facts['floor_tags']} tags: what the target held after sealift's push.")
        print()


def print_floors(facts):
    rows = [
        ("sha256 per CPU second (openssl speed, 16 KiB blocks, CPU time)", "sha256_1core_cpu_mbs", "MB/s"),
        ("sha256 on two cores (openssl speed -multi 2, wall time, under this run's load)", "sha256_2core_mbs", "MB/s"),
        ("sequential write of the scratch directory (dd, fdatasync)", "write_mbs", "MB/s"),
        ("one layer from the upstream registry (curl to /dev/null)", "registry_read_mbs", "MB/s"),
        ("zstd -T0 -3 of the skopeo layout's tar (compressed layers)", "zstd_mbs", "MB/s"),
    ]
    rows = [row for row in rows if row[1] in facts]
    if not rows:
        return
    print("| machine floor | value |")
    print("|---|---:|")
    for label, key, unit in rows:
        print(f"| {label} | {float(facts[key]):.0f} {unit} |")
    print()


def print_delta(facts):
    if "delta_bytes" not in facts:
        return
    full, delta = int(float(facts["full2_bytes"])), int(float(facts["delta_bytes"]))
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


def print_targets(runs, facts, workdir):
    rows = []

    def m(scenario, tool):
        r = runs.get(scenario, {}).get(tool)
        return median(r) if r else None

    build = m("build", "sealift")
    if build:
        diy = m("build", "skopeo+tar+zstd")
        if diy:
            rows.append(("build ≥ 4× faster than skopeo, tar and zstd", f"{diy / build:.2f}×", verdict(diy / build >= 4)))
        for peer, factor in (("oras-copy", 2), ("crane-pull", 3)):
            t = m("build", peer)
            if t:
                rows.append((f"build ≥ {factor}× faster than {peer}", f"{t / build:.2f}×", verdict(t / build >= factor)))
    push = m("push", "sealift")
    if push:
        diy = m("push", "unpack+skopeo")
        if diy:
            rows.append(("push into an empty target ≥ 3× faster than unpack + skopeo", f"{diy / push:.2f}×",
                         verdict(diy / push >= 3)))
        floor = m("push", "curl-floor")
        if floor:
            rows.append(("push wall time ≤ 1.15× the curl floor (same target, same blobs and manifests)",
                         f"{push / floor:.2f}×", verdict(push / floor <= 1.15)))
        for peer in ("crane-push", "oras-copy"):
            t = m("push", peer)
            if t:
                rows.append((f"push ≥ 2× faster than {peer}", f"{t / push:.2f}×", verdict(t / push >= 2)))
        again = m("repush", "sealift")
        if again:
            rows.append(("push of an unchanged bundle ≤ 2 % of the full push", f"{100 * again / push:.1f} %",
                         verdict(again / push <= 0.02)))
    verify = m("verify", "sealift")
    if verify and "verified_bytes" in facts and "sha256_2core_mbs" in facts:
        rate = int(float(facts["verified_bytes"])) / 1e6 / verify
        floor = float(facts["sha256_2core_mbs"])
        rows.append((f"verify ≥ 75 % of two-core sha256 ({floor:.0f} MB/s, wall time)",
                     f"{rate:.0f} MB/s = {100 * rate / floor:.0f} %", verdict(rate >= 0.75 * floor)))
    cpu = runs.get("verify", {}).get("sealift")
    if cpu and cpu["cpu"] and "verified_bytes" in facts and "sha256_1core_cpu_mbs" in facts:
        # The same target without the other users of the machine: bytes per CPU second against
        # sha256's bytes per CPU second (two busy cores give twice both).
        rate = int(float(facts["verified_bytes"])) / 1e6 / statistics.median(cpu["cpu"])
        floor = float(facts["sha256_1core_cpu_mbs"])
        rows.append((f"verify per CPU second ≥ 75 % of sha256's ({floor:.0f} MB/s)",
                     f"{rate:.0f} MB/s = {100 * rate / floor:.0f} %", verdict(rate >= 0.75 * floor)))
    if "delta_bytes" in facts:
        share = int(float(facts["delta_bytes"])) / int(float(facts["full2_bytes"]))
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
    rows += big_targets(runs, facts, load_big(workdir))
    if not rows:
        return
    print("| target | measured | |")
    print("|---|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def print_install(runs, workdir):
    """8. phase x (install, upgrade with a delta), medians over the runs."""
    phases = OrderedDict()  # phase -> {scenario: [seconds]}
    try:
        with open(f"{workdir}/phases.tsv") as f:
            for line in f:
                scenario, phase, seconds = line.rstrip("\n").split("\t")
                phases.setdefault(phase, {}).setdefault(scenario, []).append(float(seconds))
    except FileNotFoundError:
        return
    if not phases:
        return
    cols = [("install", "install"), ("upgrade-delta", "upgrade with the delta bundle")]
    print("| 8. install end to end, median s | " + " | ".join(title for _, title in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for phase, by in phases.items():
        cells = [fmt_s(statistics.median(by[c])) if by.get(c) else "–" for c, _ in cols]
        print(f"| {phase} | " + " | ".join(cells) + " |")
    tools = runs.get("install", {})
    cells = [fmt_s(median(tools[c])) if c in tools and tools[c]["t"] else "–" for c, _ in cols]
    print("| **total (wall, whole command)** | " + " | ".join(cells) + " |")
    print()


def load_big(workdir):
    steps = OrderedDict()
    try:
        with open(f"{workdir}/big.tsv") as f:
            for line in f:
                step, status, seconds, rss, cpu, written, cache, nbytes = line.rstrip("\n").split("\t")
                steps[step] = None if status != "ok" else {
                    "t": float(seconds), "rss": int(rss), "cpu": float(cpu), "written": int(written),
                    "cache": int(float(cache)), "bytes": int(float(nbytes))}
    except FileNotFoundError:
        pass
    return steps


# The step of the big scenario, and the sealift scenario of the main run it compares with.
BIG_STEPS = OrderedDict([
    ("build", ("build to one file, cold cache, --sbom none", "build")),
    ("verify", ("verify the one file", "verify")),
    ("build-split", ("build into split parts, cold cache", "build")),
    ("verify-split", ("verify the split parts", "verify")),
    ("push-split", ("push the split parts into an empty target", "push")),
])


def per_gb_main(runs, facts, scenario):
    r = runs.get(scenario, {}).get("sealift")
    if not r or not r["t"] or "bundle_bytes" not in facts:
        return None
    return median(r) / (int(float(facts["bundle_bytes"])) / 1e9)


def print_big(runs, facts, steps):
    if not steps:
        return
    split = facts.get("big_split", "?")
    parts = facts.get("big_parts", "?")
    print(f"9. Big bundle: --big-gb {facts.get('big_gb')} ({int(facts.get('big_fixture_bytes', 0)) / 1e9:.2f} GB of "
          f"distinct blobs), split into {parts} parts of at most {split}; each step once. "
          "\"written\" is what the process itself wrote (/usr/bin/time %O); \"cache peak\" the largest size of the "
          "blob cache during the build (du every second): the temporary disk the build needs.")
    print()
    print(f"| 9. big-bundle step | s | s per GB | s per GB at scale {facts.get('scale')} | change | peak RSS MiB | "
          "CPU s | written MiB | cache peak MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for step, (title, main) in BIG_STEPS.items():
        if step not in steps:
            continue
        r = steps[step]
        if r is None:
            print(f"| {title} | failed | | | | | | | |")
            continue
        gb = r["bytes"] / 1e9
        mine = r["t"] / gb if gb else None
        base = per_gb_main(runs, facts, main)
        change = f"{100 * (mine - base) / base:+.0f} %" if mine and base else "–"
        cache = f"{mib(r['cache']):.0f}" if step.startswith("build") else ""
        print(f"| {title} | {fmt_s(r['t'])} | {fmt_s(mine)} | {fmt_s(base)} | {change} | {r['rss'] / 1024:.0f} | "
              f"{fmt_s(r['cpu'])} | {mib(r['written']):.0f} | {cache} |")
    print()


def big_targets(runs, facts, steps):
    rows = []
    for step, (title, main) in BIG_STEPS.items():
        r = steps.get(step)
        if not r:
            continue
        mb = r["rss"] * 1024 / 1e6
        rows.append((f"big bundle, {title}: peak RSS ≤ 100 MB", f"{mb:.0f} MB", verdict(mb <= 100)))
        base = per_gb_main(runs, facts, main)
        if base and r["bytes"]:
            change = (r["t"] / (r["bytes"] / 1e9) - base) / base
            rows.append((f"big bundle, {title}: time per GB within 10 % of the scale-{facts.get('scale')} {main}",
                         f"{100 * change:+.0f} %", verdict(change <= 0.10)))
        if step.startswith("verify") or step.startswith("push"):
            share = r["written"] / r["bytes"] if r["bytes"] else 0
            rows.append((f"big bundle, {title}: no temporary copy (bytes written ≤ 1 % of the bundle)",
                         f"{mib(r['written']):.0f} MiB = {100 * share:.2f} %", verdict(share <= 0.01)))
    return rows


def print_serve(facts):
    if "serve_pull_bytes" not in facts:
        return
    print(f"7. Served: {int(float(facts['serve_pull_bytes'])) / 1e6:.1f} MB of blobs per client. Peak RSS of the server "
          "(VmHWM, reset after start-up) under 40 parallel pulls:")
    print()
    print("| server | at start (after verifying) | under 40 parallel pulls |")
    print("|---|---:|---:|")
    for key, name in (("serve", "sealift-install serve"), ("registry", "docker-registry")):
        if f"{key}_rss_kb_40" in facts:
            start = facts.get(f"{key}_rss_kb_start")
            start = f"{int(start) / 1024:.0f} MiB" if start else "–"
            print(f"| {name} | {start} | {int(float(facts[f'{key}_rss_kb_40'])) / 1024:.0f} MiB |")
    print()


def main():
    workdir = sys.argv[1]
    runs, facts = load(workdir)
    print_times(runs)
    print_push_floor(facts)
    print_delta(facts)
    print_memory(runs, facts)
    print_serve(facts)
    print_floors(facts)
    print_install(runs, workdir)
    print_big(runs, facts, load_big(workdir))
    print_targets(runs, facts, workdir)


if __name__ == "__main__":
    main()
