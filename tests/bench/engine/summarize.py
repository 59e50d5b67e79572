#!/usr/bin/env python3
"""summarize.py - the engine benchmark's markdown report from its CSVs.

  summarize.py --raw RAW.csv --peaks PEAKS.csv [--idle IDLE.csv] --env ENV.txt --summary OUT.csv > REPORT.md

Every cell is the median over the repetitions of one (variant, test); ratios
divide by `direct` of the same run.  The targets of issue 8 are checked and
reported with the distance to them, never asserted (timings of a shared
machine are not a test).
"""
import argparse
import csv
import statistics

NAMES = {"pipelock": "pipelock-fw"}
ORDER = ["direct", "pipelock", "haproxy", "squid", "mitmproxy", "sslsplit"]
TEST_ORDER = ["http-1k-c1", "http-1k-c16", "http-1k-c128", "https-1k-c1", "https-1k-c16",
              "https-1k-c128", "http-1k-close-c16", "https-1k-close-c16", "http-1m-c4",
              "http-1k-seq100"]
TEST_TEXT = {
    "http-1k-c1": "HTTP 1 KiB keep-alive, 1 conn",
    "http-1k-c16": "HTTP 1 KiB keep-alive, 16 conns",
    "http-1k-c128": "HTTP 1 KiB keep-alive, 128 conns",
    "https-1k-c1": "HTTPS 1 KiB keep-alive, 1 conn",
    "https-1k-c16": "HTTPS 1 KiB keep-alive, 16 conns",
    "https-1k-c128": "HTTPS 1 KiB keep-alive, 128 conns",
    "http-1k-close-c16": "HTTP 1 KiB, new conn per request, 16",
    "https-1k-close-c16": "HTTPS 1 KiB, new conn + handshake per request, 16",
    "http-1m-c4": "HTTP 1 MiB bodies, 4 conns (MiB/s)",
    "http-1k-seq100": "100 sequential curl fetches (stalls = errors)",
}


def name(v):
    return NAMES.get(v, v)


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--peaks", required=True)
    ap.add_argument("--idle")
    ap.add_argument("--env", required=True)
    ap.add_argument("--summary", required=True)
    a = ap.parse_args()

    rows = load(a.raw)
    peaks = load(a.peaks)
    env = open(a.env).read().splitlines()
    groups = {}
    for r in rows:
        groups.setdefault((r["variant"], r["test"]), []).append(r)
    present = {r["variant"] for r in rows}
    variants = [v for v in ORDER if v in present] + sorted(present - set(ORDER))
    tests = [t for t in TEST_ORDER if any(r["test"] == t for r in rows)]

    def med(rs, k):
        return statistics.median(float(r[k]) for r in rs)

    s = {}
    for (v, t), rs in groups.items():
        s[(v, t)] = {
            "runs": len(rs), "rps": med(rs, "rps"), "p50": med(rs, "p50_ms"),
            "p99": med(rs, "p99_ms"), "mib": med(rs, "mib_s"),
            "errors": sum(max(int(r["errors"]), 0) for r in rs),
            "failed": sum(1 for r in rs if int(r["errors"]) < 0 or float(r["rps"]) == 0),
            "rss": max(float(r["rss_kb"]) for r in rs) / 1024, "cpu": med(rs, "cpu_pct"),
            "min": min(float(r["rps"]) for r in rs), "max": max(float(r["rps"]) for r in rs),
            # CPU time per request (µs): the interceptor's cost, barely moved by
            # other load on the machine (older raw files lack cpu_ms)
            "us_req": statistics.median(
                1000 * float(r["cpu_ms"]) / float(r["requests"]) for r in rs
                if float(r["requests"]) > 0) if all(r.get("cpu_ms") for r in rs)
            and any(float(r["requests"]) > 0 for r in rs) else None,
        }

    def paired_all(v, base, t):
        """v's req/s / base's req/s in each repetition: the two ran seconds
        apart, so a load burst from elsewhere on the machine mostly cancels."""
        b = {r["rep"]: float(r["rps"]) for r in groups.get((base, t), [])}
        return [float(r["rps"]) / b[r["rep"]] for r in groups.get((v, t), [])
                if b.get(r["rep"], 0) > 0]

    def paired(v, base, t):
        q = paired_all(v, base, t)
        return statistics.median(q) if q else None

    def ratio(v, t):
        return paired(v, "direct", t)

    def spread(v, t):
        q = paired_all(v, "direct", t)
        return f" ({min(q):.2f}–{max(q):.2f})" if len(q) > 1 else ""

    out = []
    p = out.append
    tag = next((l.split(": ", 1)[1] for l in env if l.startswith("tag: ")), "?")
    p(f"# pipelock-fw engine benchmark ({tag})\n")
    p("Agents (one uid per variant; pipelock-fw's is 1000) → interceptor → nginx over a veth, "
      "in network namespaces on one machine.  All variants run throughout and take turns test "
      "by test.  Absolute numbers are medians over the repetitions; a ratio is the median over "
      "the repetitions of (variant ÷ direct measured seconds before or after it).\n")
    p("```")
    p("\n".join(l for l in env if not l.startswith(("note ", "engine-log: "))))
    p("```\n")

    p("## Throughput, ratio to direct\n")
    p("req/s (MiB/s for 1 MiB bodies); the `direct` column is absolute, the others are × direct "
      "(median, and in brackets the lowest–highest repetition).\n")
    p("| test | direct | " + " | ".join(name(v) for v in variants if v != "direct") + " |")
    p("|---|---:|" + "---:|" * (len(variants) - 1))
    for t in tests:
        d = s.get(("direct", t))
        unit = "MiB/s" if "-1m-" in t else "req/s"
        val = (d["mib"] if unit == "MiB/s" else d["rps"]) if d else 0
        cells = [f"{val:.0f} {unit}" if d else "–"]
        for v in variants:
            if v == "direct":
                continue
            r = ratio(v, t)
            x = s.get((v, t))
            c = "–" if r is None else f"{r:.2f}×"
            if v == "pipelock" and r is not None:
                c = f"**{c}**"
            if r is not None:
                c += spread(v, t)
            if x and x["errors"]:
                c += f" ({x['errors']} err)"
            cells.append(c)
        p(f"| {TEST_TEXT.get(t, t)} | " + " | ".join(cells) + " |")
    p("")

    def per_test(title, cols, cell, intro=""):
        """One row per test, one column per variant; cell(x) formats a summary."""
        p(title + "\n")
        if intro:
            p(intro + "\n")
        p("| test | " + " | ".join(name(v) for v in cols) + " |")
        p("|---|" + "---:|" * len(cols))
        for t in tests:
            cells = []
            for v in cols:
                x = s.get((v, t))
                cells.append(cell(x) if x else "–")
            p(f"| {t} | " + " | ".join(cells) + " |")
        p("")

    others = [v for v in variants if v != "direct"]
    per_test("## Latency p50 / p99 (ms)", variants,
             lambda x: f"{x['p50']:.2f} / {x['p99']:.2f}")
    per_test("## Interceptor cost: peak RSS (MiB) / CPU (% of one core)", others,
             lambda x: f"{x['rss']:.1f} / {x['cpu']:.0f}")
    per_test("## Interceptor CPU time per request (µs; 1 MiB bodies: per MiB)", others,
             lambda x: f"{x['us_req']:.1f}" if x["us_req"] is not None else "–",
             "Less sensitive to the rest of the machine's load than req/s: the cost each variant adds.")
    p("Memory of the interceptor processes (MiB):\n")
    p("| | " + " | ".join(name(v) for v in others) + " |")
    p("|---|" + "---:|" * len(others))
    p("| peak sampled VmRSS, any test | " + " | ".join(
        f"{max(x['rss'] for (vv, t), x in s.items() if vv == v):.1f}" for v in others) + " |")
    pk = {r["variant"]: r for r in peaks}
    if pk:
        def cell(v, k):
            return f"{float(pk[v][k]) / 1024:.1f}" if v in pk and pk[v].get(k) else "–"
        p("| peak VmHWM over the measured runs | " + " | ".join(cell(v, "vmhwm_kb") for v in others) + " |")
        p("| after them: RssAnon (heap, stacks) | " + " | ".join(cell(v, "rss_anon_kb") for v in others) + " |")
        p("| after them: RssFile (mapped code, libraries) | " + " | ".join(cell(v, "rss_file_kb") for v in others) + " |")
    idle = {}
    for r in (load(a.idle) if a.idle else []):
        idle[(r["variant"], int(r["conns"]))] = r
    for n in sorted({n for _, n in idle}):
        def held(v):
            r = idle.get((v, n))
            if not r:
                return "–"
            c = f"{int(r['ok'])}/{n}"
            if int(r["ok"]) < n and r.get("reason"):	# older CSVs lack it
                why = r["reason"]
                if r.get("fds") and int(r["fds"]) >= int(r["nofile"]) - 64:
                    why = f"out of file descriptors, then: {why}"
                c += f" ({why})"
            return c

        def fds(v):
            r = idle.get((v, n))
            if not r or not r.get("fds"):
                return "–"
            return f"{r['fds']} of {r['nofile']} / {r['upstream']}"

        def rss(v):
            r = idle.get((v, n))
            if not r:
                return "–"
            return f"{float(r['rss_before_kb']) / 1024:.1f} → {float(r['rss_held_kb']) / 1024:.1f}"

        def per_conn(v):
            r = idle.get((v, n))
            if not r or int(r["ok"]) == 0:
                return "–"
            return f"{(float(r['rss_held_kb']) - float(r['rss_before_kb'])) / int(r['ok']):.1f}"
        p(f"| {n} idle relayed keep-alive connections (fresh process): held | " +
          " | ".join(held(v) for v in others) + " |")
        if any(r.get("fds") for r in idle.values()):
            p(f"| … descriptors of the interceptor (of its RLIMIT_NOFILE) / connections open to nginx | " +
              " | ".join(fds(v) for v in others) + " |")
        p(f"| … VmRSS before → while holding them | " + " | ".join(rss(v) for v in others) + " |")
        p(f"| … RSS growth per held connection (KiB) | " + " | ".join(per_conn(v) for v in others) + " |")
    p("")

    p("## Targets (issue 8)\n")
    p("| target | measured | verdict |")
    p("|---|---:|---|")

    def target(label, val, want, unit="×", lower_is_better=False):
        if val is None:
            p(f"| {label} | – | not measured |")
            return
        ok = val <= want if lower_is_better else val >= want
        if ok:
            verdict = "met"
        elif lower_is_better:
            verdict = f"**missed** by {val - want:.1f} {unit} ({val / want:.2f}× the budget)"
        else:
            verdict = f"**missed** by {want - val:.2f}{unit} (reaches {100 * val / want:.0f} % of it)"
        fmt = f"{val:.1f} {unit}" if unit != "×" else f"{val:.2f}×"
        p(f"| {label} | {fmt} | {verdict} |")

    target("HTTP 1 KiB keep-alive c16 (DLP on) ≥ 0.6× direct", ratio("pipelock", "http-1k-c16"), 0.6)
    target("HTTP 1 KiB keep-alive c16 ≥ 3× squid", paired("pipelock", "squid", "http-1k-c16"), 3.0)
    target("HTTPS SNI passthrough c16 ≥ 0.7× direct", ratio("pipelock", "https-1k-c16"), 0.7)
    target("1 MiB bodies ≥ 0.8× direct", ratio("pipelock", "http-1m-c4"), 0.8)
    target("new connection per request ≥ 0.6× direct", ratio("pipelock", "http-1k-close-c16"), 0.6)
    prss = [x["rss"] for (v, t), x in s.items() if v == "pipelock"]
    target("engine RSS ≤ 16 MiB (peak VmRSS over every test)", max(prss) if prss else None, 16.0, "MiB", True)
    p("")

    p("## Every cell\n")
    p("| test | variant | runs | req/s | × direct | p50 ms | p99 ms | MiB/s | errors | RSS MiB | CPU % | req/s min–max |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    with open(a.summary, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["test", "variant", "runs", "rps", "ratio", "p50_ms", "p99_ms", "mib_s",
                    "errors", "rss_mib", "cpu_pct", "rps_min", "rps_max"])
        for t in tests:
            for v in variants:
                x = s.get((v, t))
                if not x:
                    continue
                r = ratio(v, t)
                rs = f"{r:.2f}" if r is not None else ""
                direct = v == "direct"
                p(f"| {t} | {name(v)} | {x['runs']} | {x['rps']:.0f} | {rs or '–'} | {x['p50']:.2f} | "
                  f"{x['p99']:.2f} | {x['mib']:.1f} | {x['errors']}{' (' + str(x['failed']) + ' failed runs)' if x['failed'] else ''} | "
                  f"{'–' if direct else format(x['rss'], '.1f')} | {'–' if direct else format(x['cpu'], '.0f')} | "
                  f"{x['min']:.0f}–{x['max']:.0f} |")
                w.writerow([t, v, x["runs"], f"{x['rps']:.1f}", rs, f"{x['p50']:.3f}",
                            f"{x['p99']:.3f}", f"{x['mib']:.2f}", x["errors"], f"{x['rss']:.1f}",
                            f"{x['cpu']:.0f}", f"{x['min']:.1f}", f"{x['max']:.1f}"])
    p("")
    notes = [l for l in env if l.startswith(("note ", "engine-log: "))]
    if notes:
        p("## Notes\n")
        for l in notes:
            p(f"- {l}")
        p("")
    cmd = next((l.split(": ", 1)[1] for l in env if l.startswith("command: ")), None)
    if cmd:
        p(f"Reproduce: `{cmd}`")
    print("\n".join(out))


if __name__ == "__main__":
    main()
