#!/usr/bin/python3
"""Parsing and reporting for bench/run.sh (standard library; matplotlib only for the chart).

  report.py record --runs RUNS.jsonl --id ID ... [--out PGBENCH_OUTPUT --lat-prefix P | --skipped WHY]
      parses one pgbench run (its summary and its --log per-transaction files), stores the
      latencies compactly as P.lat (int64 microseconds), deletes the raw logs, appends a JSON
      line to RUNS.jsonl and, with --echo, prints a one-line summary.
  report.py report --run DIR --md OUT.md --png OUT.png
      aggregates the rounds of every cell (TPS: mean over rounds; p50/p99: over all the
      transactions of all rounds; peak RSS: max VmHWM) and writes the Markdown table and chart.
  report.py pooling --run DIR --md OUT.md
      the --pooling report: pgbench -S per client count and -M mode, pgstash ÷ PgBouncer per
      cell, and the RSS per idle client from DIR/idle-*.json (lib/idle_clients.py).
"""
import argparse
import array
import glob
import json
import os
import re
import shlex
import sys
from collections import OrderedDict

TARGET_NAMES = {
    "direct": "direct", "pgstash": "pgstash", "pgbouncer": "PgBouncer",
    "pgstash_session": "pgstash (session)", "pgbouncer_session": "PgBouncer (session)",
    "pgstash_tx": "pgstash (transaction)", "pgbouncer_tx": "PgBouncer (transaction)",
}


def tname(t):
    return TARGET_NAMES.get(t, t)


# ---------------------------------------------------------------------------- record

def parse_pgbench_output(text):
    r = {}
    m = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", text, re.M)
    if m:
        r["tps"] = float(m.group(1))
    m = re.search(r"^number of transactions actually processed: (\d+)", text, re.M)
    if m:
        r["processed"] = int(m.group(1))
    m = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    r["failed"] = int(m.group(1)) if m else 0
    aborted = re.findall(r"client (\d+) (?:script \d+ )?aborted", text)
    r["aborted_clients"] = len(set(aborted))
    r["incomplete"] = "Run was aborted" in text
    err = None
    for line in text.splitlines():
        if re.search(r"(ERROR|FATAL|error):", line):
            err = line.strip()
            break
    if err:
        # two pgbench threads can interleave their messages: "pgbench:pgbench: error: …"
        err = re.sub(r"^(pgbench:\s*)+(error:\s*)?", "", err)
        r["error"] = err[:300]
    return r


def read_latencies(prefix, window=None):
    """pgbench --log lines: client_id transaction_no time script_no time_epoch time_us [lag].
    Returns the latencies, and how many transactions ended inside `window` (µs since the
    epoch, from, to), if given."""
    lats = array.array("q")
    inside = 0
    files = sorted(f for f in glob.glob(glob.escape(prefix) + ".*") if not f.endswith(".lat"))
    for f in files:
        with open(f, "r", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 6 and parts[2].isdigit():
                    lats.append(int(parts[2]))
                    if window and parts[4].isdigit() and parts[5].isdigit():
                        if window[0] <= int(parts[4]) * 1000000 + int(parts[5]) < window[1]:
                            inside += 1
        os.unlink(f)
    return lats, inside


def read_kv(path):
    """name=value lines (run.sh's `observe` and `window` files) -> {name: value text}."""
    d = {}
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d


def read_window(prefix):
    """The steady-state window's two samples (run.sh `window`): {seconds, proxy_user,
    proxy_sys, cpu_busy, cpu_idle} as differences (CPU in seconds), and its edges in µs."""
    def kv(path):
        return {k: int(v) for k, v in read_kv(path).items() if v.strip().lstrip("-").isdigit()}
    a, b = kv(prefix + ".w0"), kv(prefix + ".w1")
    if "time_ns" not in a or "time_ns" not in b:
        return None, None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    w = {"seconds": (b["time_ns"] - a["time_ns"]) / 1e9}
    for k in ("proxy_user", "proxy_sys", "cpu_busy", "cpu_idle"):
        if k in a and k in b:
            w[k] = (b[k] - a[k]) / tick
    return w, (a["time_ns"] // 1000, b["time_ns"] // 1000)


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def cmd_record(a):
    rec = {"id": a.id, "cell": a.cell, "target": a.target, "label": a.label, "mode": a.mode,
           "clients": a.clients, "round": a.round}
    if a.skipped:
        rec["skipped"] = a.skipped
    else:
        text = open(a.out, errors="replace").read() if a.out and os.path.exists(a.out) else ""
        rec.update(parse_pgbench_output(text))
        rec["rc"] = a.rc
        if a.rc == 124 or a.rc == 137:
            rec["hung"] = True
            rec["error"] = "hung: pgbench had not finished %d s after it started, killed" % a.limit + (
                " (after: %s)" % rec["error"] if rec.get("error") else "")
        elif a.rc != 0 and "error" not in rec:
            tail = [l for l in text.splitlines() if l.strip()][-1:] or ["no output"]
            rec["error"] = "pgbench exit status %d: %s" % (a.rc, tail[0][:200])
        win, edges = read_window(a.window) if a.window else (None, None)
        lats, inside = read_latencies(a.lat_prefix, edges)
        if win and win["seconds"] > 0:
            win["tx"] = inside
            rec["window"] = win
        with open(a.lat_prefix + ".lat", "wb") as fh:
            lats.tofile(fh)
        rec["lat_file"] = a.lat_prefix + ".lat"
        rec["n_lat"] = len(lats)
        s = sorted(lats)
        rec["p50_us"] = pct(s, 50)
        rec["p99_us"] = pct(s, 99)
        if a.rss_kb:
            rec["rss_kb"] = a.rss_kb
    with open(a.runs, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    if a.echo or a.skipped:
        print("    " + one_line(rec), flush=True)


def ms(us):
    return "–" if us is None else ("%.1f" % (us / 1000.0) if us < 100000 else "%.0f" % (us / 1000.0))


def one_line(rec):
    head = "%-20s -M %-8s %3dc r%d: " % (tname(rec["target"]), rec["mode"], rec["clients"], rec["round"])
    if rec.get("skipped"):
        return head + "skipped: " + rec["skipped"]
    parts = []
    if "tps" in rec:
        parts.append("%.0f tps, p50 %s ms, p99 %s ms" % (rec["tps"], ms(rec.get("p50_us")), ms(rec.get("p99_us"))))
    if rec.get("rss_kb"):
        parts.append("peak RSS %.1f MB" % (rec["rss_kb"] / 1024.0))
    if rec.get("failed"):
        parts.append("%d failed" % rec["failed"])
    if rec.get("aborted_clients"):
        parts.append("%d client(s) aborted" % rec["aborted_clients"])
    if rec.get("error"):
        parts.append("error: " + rec["error"])
    return head + ("; ".join(parts) or "no result")


# ---------------------------------------------------------------------------- report

def load_meta(path):
    meta = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                try:
                    v = " ".join(shlex.split(v))
                except ValueError:
                    pass
                meta[k] = v
    return meta


class Agg:
    """One target in one cell, over its rounds."""

    def __init__(self, target):
        self.target = target
        self.tps = []
        self.lats = array.array("q")
        self.rss = 0
        self.failed = 0
        self.aborted = 0
        self.processed = 0
        self.errors = []
        self.skipped = None
        self.rounds = 0
        self.window = {}         # the steady-state windows' sums (run.sh `window`)
        self.window_tps = []     # per round

    def add(self, rec):
        self.rounds += 1
        if rec.get("skipped"):
            self.skipped = rec["skipped"]
            return
        if "tps" in rec:
            self.tps.append(rec["tps"])
        self.processed += rec.get("processed", 0)
        w = rec.get("window")
        if w and w.get("tx"):
            for k, v in w.items():
                self.window[k] = self.window.get(k, 0) + v
            self.window_tps.append(w["tx"] / w["seconds"])
        if rec.get("lat_file") and os.path.exists(rec["lat_file"]):
            a = array.array("q")
            with open(rec["lat_file"], "rb") as fh:
                a.frombytes(fh.read())
            self.lats.extend(a)
        self.rss = max(self.rss, rec.get("rss_kb", 0) or 0)
        self.failed += rec.get("failed", 0)
        self.aborted = max(self.aborted, rec.get("aborted_clients", 0))
        e = re.sub(r"^(pgbench:\s*)+(error:\s*)?", "", rec.get("error") or "")
        if e and e not in self.errors:
            self.errors.append(e)

    def finish(self):
        s = sorted(self.lats)
        self.p50 = pct(s, 50)
        self.p99 = pct(s, 99)
        self.mean_tps = sum(self.tps) / len(self.tps) if self.tps else None
        self.lats = None
        return self

    @property
    def usable(self):
        return self.mean_tps is not None and not self.skipped

    def problem(self):
        """Short text for a cell whose figures are missing or suspect."""
        if self.skipped:
            return self.skipped
        bits = []
        if self.aborted:
            bits.append("%d clients aborted" % self.aborted)
        if self.failed:
            bits.append("%d failed tx" % self.failed)
        if self.errors:
            bits.append(self.errors[0])
        return "; ".join(bits)


def aggregate(runs_path):
    cells = OrderedDict()
    if not os.path.exists(runs_path):
        return cells
    for line in open(runs_path):
        rec = json.loads(line)
        cell = cells.setdefault(rec["cell"], {"label": rec["label"], "mode": rec["mode"],
                                              "clients": rec["clients"], "targets": OrderedDict()})
        cell["targets"].setdefault(rec["target"], Agg(rec["target"])).add(rec)
    for cell in cells.values():
        for agg in cell["targets"].values():
            agg.finish()
    return cells


def fmt_tps(v):
    return "–" if v is None else ("%.0f" % v if v >= 100 else "%.1f" % v)


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "%.2f×" % (a / b)


def fmt_rss(kb):
    return "%.1f MB" % (kb / 1024.0) if kb else "–"


WORKLOAD_TITLES = OrderedDict([
    ("orders_page", "orders page"), ("search", "search"), ("dashboard", "dashboard stats"),
    ("assign", "agent assignment"), ("mix", "mix 60/20/15/5"),
])


def workload_table(cells, notes):
    wl = [(k, c) for k, c in cells.items() if c["label"] in WORKLOAD_TITLES]
    if not wl:
        return []
    # direct reference for ratios: same cell, else the direct run of the same workload and
    # mode with the most clients (direct PostgreSQL is not run at 256 clients).
    direct_best = {}
    for _, c in wl:
        d = c["targets"].get("direct")
        if d and d.usable:
            key = (c["label"], c["mode"])
            if key not in direct_best or c["clients"] > direct_best[key][0]:
                direct_best[key] = (c["clients"], d)
    out = ["| workload | -M | clients | direct TPS | direct p50 / p99 ms | pgstash TPS | ×direct | "
           "pgstash p50 / p99 ms | pgstash peak RSS | PgBouncer TPS | ×direct | PgBouncer p50 / p99 ms | "
           "PgBouncer peak RSS |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for _, c in wl:
        t = c["targets"]
        d = t.get("direct")
        ref, ref_mark = None, ""
        if d and d.usable:
            ref = d.mean_tps
        elif (c["label"], c["mode"]) in direct_best:
            n, dd = direct_best[(c["label"], c["mode"])]
            ref, ref_mark = dd.mean_tps, " (vs %d)" % n
        row = [WORKLOAD_TITLES[c["label"]], c["mode"], str(c["clients"])]
        if d is None:
            row += ["–", "–"]
        else:
            row += cols_for(d, notes, with_ratio=False)
        for name in ("pgstash", "pgbouncer"):
            a = t.get(name)
            if a is None:
                row += ["not run", "", "", ""]
            else:
                row += cols_for(a, notes, ref=ref, ref_mark=ref_mark, with_rss=True)
        out.append("| " + " | ".join(row) + " |")
    return out


def cols_for(a, notes, ref=None, ref_mark="", with_ratio=True, with_rss=False):
    """TPS [, ×direct], p50 / p99 [, RSS] for one target in one cell, with a note if needed."""
    prob = a.skipped or (a.errors[0] if a.errors else "")
    mark = ""
    if prob:
        if prob not in notes:
            notes.append(prob)
        mark = " [%d]" % (notes.index(prob) + 1)
    extra = []
    if a.aborted:
        extra.append("%d aborted" % a.aborted)
    if a.failed:
        extra.append("%d failed" % a.failed)
    if extra:
        mark += " (%s)" % ", ".join(extra)
    if not a.usable:
        cols = [("not run" if a.skipped else "failed") + mark]
        if with_ratio:
            cols.append("–")
        cols.append("–")
        if with_rss:
            cols.append(fmt_rss(a.rss))
        return cols
    cols = [fmt_tps(a.mean_tps) + mark]
    if with_ratio:
        # with clients aborted the figure is not comparable: no ratio
        cols.append("–" if a.aborted else fmt_ratio(a.mean_tps, ref) + ref_mark)
    cols.append("%s / %s" % (ms(a.p50), ms(a.p99)))
    if with_rss:
        cols.append(fmt_rss(a.rss))
    return cols


def scenario_tables(cells, notes):
    out = []
    sess = cells.get("select-only-session")
    if sess:
        t = sess["targets"]
        d = t.get("direct")
        ref = d.mean_tps if d and d.usable else None
        out += ["", "### select-only-session — `pgbench -S`, 16 clients, session pooling (pool %s)" % "{POOL}",
                "", "| target | TPS | ×direct | p50 / p99 ms | peak RSS |", "|---|--:|--:|--:|--:|"]
        for name, a in t.items():
            c = cols_for(a, notes, ref=ref, with_rss=True)
            out.append("| %s | %s |" % (tname(name), " | ".join(c)))
        ps, pb = t.get("pgstash_session"), t.get("pgbouncer_session")
        if ps and pb and ps.usable and pb.usable and not ps.problem() and not pb.problem():
            r = ps.mean_tps / pb.mean_tps
            out += ["", "pgstash / PgBouncer = **%.2f×** (target ≥ 1.00: %s)" % (r, "met" if r >= 1 else "not met")]
        else:
            out += ["", "pgstash / PgBouncer: not available (see notes)"]
    prep = cells.get("select-only-prepared/prepared")
    ext = cells.get("select-only-prepared/extended")
    if prep or ext:
        out += ["", "### select-only-prepared — `pgbench -S`, 64 clients, transaction pooling (pool %s)" % "{POOL}",
                "", "PgBouncer 1.18 does not track protocol-level prepared statements in transaction mode: with "
                "`-M prepared` its clients fail with \"prepared statement … already exists / does not exist\" and "
                "pgbench aborts them; the figures beside \"(k aborted)\" come from the clients left. "
                "`-M extended` (unnamed statements) is its working comparison.", "", "| target | -M | TPS | ×direct | p50 / p99 ms | peak RSS |", "|---|---|--:|--:|--:|--:|"]
        ref = None
        if prep and prep["targets"].get("direct") and prep["targets"]["direct"].usable:
            ref = prep["targets"]["direct"].mean_tps
        for cell in (prep, ext):
            if not cell:
                continue
            for name, a in cell["targets"].items():
                c = cols_for(a, notes, ref=ref, with_rss=True)
                out.append("| %s | %s | %s |" % (tname(name), cell["mode"], " | ".join(c)))
        g = lambda cell, n: cell["targets"].get(n) if cell else None
        ps, pbp, pbe = g(prep, "pgstash_tx"), g(prep, "pgbouncer_tx"), g(ext, "pgbouncer_tx")
        lines = []
        clean = lambda a: a is not None and a.usable and not a.problem()
        if clean(ps) and clean(pbe):
            lines.append("pgstash `-M prepared` / PgBouncer `-M extended` = **%.2f×**" % (ps.mean_tps / pbe.mean_tps))
        if clean(ps) and clean(pbp):
            lines.append("pgstash `-M prepared` / PgBouncer `-M prepared` = **%.2f×**" % (ps.mean_tps / pbp.mean_tps))
        if ps is not None and not clean(ps):
            lines.append("pgstash `-M prepared`: no ratio, its runs had errors or did not run (see notes)")
        if pbp is not None and pbp.usable and pbp.problem():
            lines.append("PgBouncer `-M prepared`: %s — no ratio" % pbp.problem())
        out += [""] + [l + "  " for l in lines]
    return out


def chart(cells, png, meta):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # pragma: no cover
        return "chart not drawn: matplotlib unavailable (%s)" % e
    colors = {"direct": "#7f7f7f", "pgstash": "#1f77b4", "pgbouncer": "#ff7f0e"}
    family = lambda t: "pgstash" if t.startswith("pgstash") else ("pgbouncer" if t.startswith("pgbouncer") else "direct")
    groups = OrderedDict()   # panel title -> list of (xlabel, {target: Agg})
    for _, c in cells.items():
        if c["label"] in WORKLOAD_TITLES:
            groups.setdefault(WORKLOAD_TITLES[c["label"]], []).append(("%s\n%dc" % (c["mode"], c["clients"]), c["targets"]))
        else:
            groups.setdefault(c["label"], []).append((c["mode"], c["targets"]))
    if not groups:
        return "chart not drawn: no results"
    n = len(groups)
    fig, axes = plt.subplots(n, 2, figsize=(13, 2.9 * n + 0.8), squeeze=False, constrained_layout=True)
    for row, (title, xs) in enumerate(groups.items()):
        for col, (what, getter, unit) in enumerate((("TPS", lambda a: a.mean_tps, "TPS"),
                                                    ("p99 latency", lambda a: None if a.p99 is None else a.p99 / 1000.0, "ms"))):
            ax = axes[row][col]
            fams = ["direct", "pgstash", "pgbouncer"]
            width = 0.26
            for fi, fam in enumerate(fams):
                vals, pos, fails, hatches = [], [], [], []
                for xi, (_, targets) in enumerate(xs):
                    a = next((a for t, a in targets.items() if family(t) == fam), None)
                    if a is None:
                        continue
                    v = getter(a) if a.usable else None
                    if v is None:
                        fails.append(xi + (fi - 1) * width)
                    else:
                        vals.append(v); pos.append(xi + (fi - 1) * width)
                        hatches.append("///" if a.problem() else "")
                bars = ax.bar(pos, vals, width, color=colors[fam], label=fam)
                for b, h in zip(bars, hatches):
                    if h:
                        b.set_hatch(h); b.set_edgecolor("black"); b.set_linewidth(0)
                for p in fails:
                    ax.text(p, 0.02, "×", ha="center", va="bottom", color=colors[fam], fontsize=12,
                            fontweight="bold", transform=ax.get_xaxis_transform())
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels([x for x, _ in xs], fontsize=8)
            ax.set_title("%s — %s" % (title, what), fontsize=10)
            ax.set_ylabel(unit, fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
            ax.grid(axis="y", alpha=0.3)
            if col == 1 and any(b.get_height() > 0 for b in ax.patches):
                ax.set_yscale("log")
            if row == 0 and col == 0:
                ax.legend(fontsize=8, ncol=3)
    fig.suptitle("pgstash bench (%s, %s s × %s rounds, pool %s) — %s; × = failed or not run, hatched = run had errors" % (
        meta.get("MODE", "?"), meta.get("DURATION", "?"), meta.get("ROUNDS", "?"), meta.get("POOL_SIZE", "?"),
        meta.get("STARTED", "")), fontsize=10)
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return None


def cmd_report(a):
    meta = load_meta(os.path.join(a.run, "meta.env"))
    cells = aggregate(os.path.join(a.run, "runs.jsonl"))
    notes = []
    md = ["# pgstash benchmark — latest results", "",
          "Produced by `bench/run.sh --%s` (see [docs/benchmarks.md](../../docs/benchmarks.md)). "
          "Do not edit by hand." % (meta.get("MODE", "?") if meta.get("MODE") != "scenario" else "scenario …"), "",
          "- started %s on %s" % (meta.get("STARTED", "?"), meta.get("HOST", "?")),
          "- PostgreSQL %s, %s, pgstash %s (commit %s)" % (meta.get("PG_VERSION", "?"), meta.get("PGBOUNCER_VERSION", "?"),
                                                       re.sub(r"^pgstash\s+", "", meta.get("PGSTASH_VERSION", "?")),
                                                       meta.get("PGSTASH_COMMIT", "?")),
          "- each run: `pgbench -T %s -j 2`, %s round(s) per cell, targets interleaved round-robin; "
          "pool size %s for both proxies; TPS is the mean over rounds, p50/p99 over every transaction "
          "of every round (pgbench `--log`); peak RSS is the proxy's VmHWM during the run" % (
              meta.get("DURATION", "?"), meta.get("ROUNDS", "?"), meta.get("POOL_SIZE", "?")),
          "- data load: %s; whole run: %s s" % (
              "already loaded (kept from an earlier run)" if meta.get("LOAD_SECONDS") == "cached"
              else ("%s s" % meta["LOAD_SECONDS"] if "LOAD_SECONDS" in meta else "not needed"),
              meta.get("TOTAL_SECONDS", "?")),
          ""]
    for key, label in (("STATUS_pgstash", "pgstash"), ("STATUS_pgbouncer", "PgBouncer"),
                       ("STATUS_pgstash_session", "pgstash (session mode)"), ("STATUS_pgstash_tx", "pgstash (transaction mode)")):
        v = meta.get(key)
        if v and v != "ok" and v != "not run":
            md.append("**%s: %s**  " % (label, v))
    if meta.get("STATUS_pgstash") == "ok" and meta.get("STATUS_END_pgstash", "ok") != "ok":
        md.append("**pgstash: %s**  " % meta["STATUS_END_pgstash"])
    md.append("")
    wt = workload_table(cells, notes)
    if wt:
        md += ["## The seed plan's workloads (200,000 orders)", "",
               "×direct is the ratio of TPS to direct PostgreSQL at the same client count; direct is not run at "
               "256 clients, so those rows compare with direct at 64 (marked). Latencies in ms. "
               "[n] points to a note below; \"(k aborted)\" counts pgbench clients that stopped on an error, "
               "so the figures beside it come from the clients that were left and get no ratio.", ""] + wt
    st = scenario_tables(cells, notes)
    if st:
        md += ["", "## Named scenarios"] + [l.replace("{POOL}", meta.get("POOL_SIZE", "?")) for l in st]
    if notes:
        md += ["", "### Notes", ""] + ["%d. %s" % (i + 1, n.replace("|", "\\|")) for i, n in enumerate(notes)]
    try:
        err = chart(cells, a.png, meta)
    except Exception as e:  # the table matters more than the picture
        err = "chart not drawn: %s: %s" % (type(e).__name__, e)
    md += ["", "## Chart", "",
           ("![TPS and p99 latency per workload](%s)" % os.path.basename(a.png)) if not err else err]
    micro = os.path.join(a.run, "micro.txt")
    if os.path.exists(micro):
        md += ["", "## Micro-benchmarks (`.build/release/pgstash-bench`)", "", "```",
               open(micro, errors="replace").read().rstrip(), "```"]
    text = "\n".join(md) + "\n"
    with open(a.md, "w") as fh:
        fh.write(text)
    if a.docs:
        embed_in_docs(a.docs, md, a.md, a.png)
    print()
    print(text)


def spread(a):
    """min–max of the per-round TPS, to show the noise beside the mean."""
    if len(a.tps) < 2:
        return ""
    return " (%s–%s)" % (fmt_tps(min(a.tps)), fmt_tps(max(a.tps)))


T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


def mean_interval(values):
    """'mean [lo–hi]': the mean of per-round ratios and its 95 % interval (Student's t over
    the rounds), so that a cell's distance from 1.00× can be read against its own noise."""
    if len(values) < 2:
        return ""
    n = len(values)
    m = sum(values) / n
    sd = (sum((v - m) ** 2 for v in values) / (n - 1)) ** 0.5
    h = T95.get(n - 1, 2.0) * sd / n ** 0.5
    return "; mean %.2f [%.2f–%.2f]" % (m, m - h, m + h)


def cpu_table(cells, order):
    """Per cell, in each round's steady-state window (40 % to 90 % of the run, the clients
    connected): TPS, each proxy's CPU per transaction (user + system, /proc/PID/stat), the
    machine's busy CPU per transaction and idle share (/proc/stat), and the round-by-round
    pgstash ÷ PgBouncer ratio of window TPS (the two ran back to back)."""
    def per_tx(ag, *keys):
        w = ag.window if ag else {}
        if not w.get("tx") or any(k not in w for k in keys):
            return "–"
        return "%.1f" % (sum(w[k] for k in keys) / w["tx"] * 1e6)

    def idle(ag):
        w = ag.window if ag else {}
        total = w.get("cpu_busy", 0) + w.get("cpu_idle", 0)
        return "%.0f %%" % (100.0 * w["cpu_idle"] / total) if total else "–"

    def tps(ag):
        w = ag.window if ag else {}
        return fmt_tps(w["tx"] / w["seconds"]) if w.get("tx") and w.get("seconds") else "–"

    md = ["", "## Steady state: throughput and CPU per transaction", "",
          "Each run's steady-state window, 40 % to 90 % of its time (every client has connected by then): "
          "transactions that ended in it (pgbench's log), the proxy's own CPU (user + system from "
          "/proc/PID/stat; user in brackets), and the whole machine's busy CPU per transaction (/proc/stat: "
          "PostgreSQL's backends, pgbench and the proxy) with its idle share. Where the machine has no idle "
          "CPU, TPS follows its CPU per transaction, so a proxy's own µs per transaction is the figure "
          "that the noise moves least. Round ratios: pgstash ÷ PgBouncer window TPS, round by round, then "
          "their mean and its 95 % interval (Student's t over the rounds).", "",
          "| clients | -M | pgstash TPS | PgBouncer TPS | pgstash CPU µs/tx (user) | PgBouncer CPU µs/tx (user) "
          "| machine busy µs/tx, idle (pgstash / PgBouncer) | round ratios |",
          "|--:|---|--:|--:|--:|--:|--:|---|"]
    for k in order:
        c = cells[k]
        s, b = c["targets"].get("pgstash"), c["targets"].get("pgbouncer")
        per_round = [x / y for x, y in zip(s.window_tps, b.window_tps) if y] if s and b else []
        rounds = " ".join("%.2f" % r for r in per_round) + mean_interval(per_round)
        md.append("| %s | %s | %s | %s | %s (%s) | %s (%s) | %s, %s / %s, %s | %s |" % (
            c["clients"], c["mode"], tps(s), tps(b),
            per_tx(s, "proxy_user", "proxy_sys"), per_tx(s, "proxy_user"),
            per_tx(b, "proxy_user", "proxy_sys"), per_tx(b, "proxy_user"),
            per_tx(s, "cpu_busy"), idle(s), per_tx(b, "cpu_busy"), idle(b), rounds or "–"))
    return md


def cmd_pooling(a):
    meta = load_meta(os.path.join(a.run, "meta.env"))
    cells = aggregate(os.path.join(a.run, "runs.jsonl"))
    notes = []
    pool = meta.get("POOL_SIZE", "?")
    md = ["# pgstash benchmark — transaction pooling against PgBouncer", "",
          "Produced by `bench/run.sh --pooling%s` (see [docs/benchmarks.md](../../docs/benchmarks.md)). "
          "Do not edit by hand. Figures are printed, never asserted." % (
              " --quick" if meta.get("QUICK") == "1" else ""), "",
          "- started %s on %s — a shared, noisy machine: pgbench, PostgreSQL and the proxy share the "
          "same cores with other work" % (meta.get("STARTED", "?"), meta.get("HOST", "?")),
          "- PostgreSQL %s, %s, pgstash %s (commit %s)" % (
              meta.get("PG_VERSION", "?"), meta.get("PGBOUNCER_VERSION", "?"),
              re.sub(r"^pgstash\s+", "", meta.get("PGSTASH_VERSION", "?")), meta.get("PGSTASH_COMMIT", "?")),
          "- `pgbench -S -j 2 -T %s` (database `pgbench`, scale 10), %s round(s) per cell; every round "
          "sweeps the whole matrix, the targets of a cell run back to back in an order that rotates; "
          "both proxies in **transaction** mode with an upstream pool of %s, idle servers kept %s s; "
          "direct PostgreSQL up to %s clients for reference" % (
              meta.get("DURATION", "?"), meta.get("ROUNDS", "?"), pool, meta.get("IDLE_TIMEOUT", "?"),
              meta.get("DIRECT_MAX_CLIENTS", "?")),
          "- TPS: mean over rounds (min–max of the rounds in brackets); p50 / p99: over every "
          "transaction of every round, ms; peak RSS: the proxy's VmHWM during the cell",
          "- whole run: %s s" % meta.get("TOTAL_SECONDS", "?"), ""]
    for key, label in (("STATUS_pgstash", "pgstash"), ("STATUS_pgbouncer", "PgBouncer")):
        v, end = meta.get(key), meta.get(key.replace("STATUS_", "STATUS_END_"))
        if v and v not in ("ok", "not run"):
            md.append("**%s: %s**  " % (label, v))
        elif end and end not in ("ok", "not run"):
            md.append("**%s: %s**  " % (label, end))
    md += ["", "## `pgbench -S`, transaction pooling, pool %s" % pool, "",
           "| clients | -M | direct TPS | direct p50 / p99 | pgstash TPS | pgstash p50 / p99 | pgstash peak RSS "
           "| PgBouncer TPS | PgBouncer p50 / p99 | PgBouncer peak RSS | **pgstash ÷ PgBouncer** |",
           "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    order = sorted((k for k, c in cells.items() if c["label"] == "pooling"),
                   key=lambda k: (cells[k]["clients"], cells[k]["mode"] != "simple", cells[k]["mode"]))
    ratios = []
    for k in order:
        c = cells[k]
        t = c["targets"]
        row = [str(c["clients"]), c["mode"]]
        for name, rss in (("direct", False), ("pgstash", True), ("pgbouncer", True)):
            ag = t.get(name)
            if ag is None:
                row += ["–", "–"] + (["–"] if rss else [])
                continue
            cols = cols_for(ag, notes, with_ratio=False, with_rss=rss)
            if ag.usable:
                cols[0] += spread(ag)
            row += cols
        ps, pb = t.get("pgstash"), t.get("pgbouncer")
        if ps and pb and ps.usable and pb.usable and not ps.aborted and not pb.aborted:
            r = ps.mean_tps / pb.mean_tps
            ratios.append((c["clients"], c["mode"], r))
            row.append("**%.2f×**" % r)
        else:
            row.append("–")
        md.append("| " + " | ".join(row) + " |")
    if ratios:
        lo = min(ratios, key=lambda x: x[2])
        md += ["", "pgstash ÷ PgBouncer ranges from %.2f× (%d clients, -M %s) to %.2f×; the target is ≥ 1.00× "
               "in every cell (%d of %d cells at or above it in this run)." % (
                   lo[2], lo[0], lo[1], max(r for _, _, r in ratios),
                   sum(1 for _, _, r in ratios if r >= 1.0), len(ratios))]
    md += cpu_table(cells, order)
    md += ["", "## RSS per idle client", "",
           "%s logged-in clients (`bench/lib/idle_clients.py`: startup, SCRAM-SHA-256, ReadyForQuery, then "
           "nothing) held on a freshly started proxy after one warm-up login; VmRSS from /proc/PID/status "
           "2 s before the first and 2 s after the last; per client = (after − before) ÷ clients held." % (
               meta.get("IDLE_CLIENTS", "?")), "",
           "| proxy | clients held | failed | logins took | VmRSS before | VmRSS after | **per idle client** |",
           "|---|--:|--:|--:|--:|--:|--:|"]
    for t, label in (("pgstash", "pgstash"), ("pgbouncer", "PgBouncer")):
        f = os.path.join(a.run, "idle-%s.json" % t)
        if not os.path.exists(f):
            md.append("| %s | not run | | | | | |" % label)
            continue
        r = json.load(open(f))
        err = r.get("error") or r.get("first_error")
        mark = ""
        if err:
            if err not in notes:
                notes.append(err)
            mark = " [%d]" % (notes.index(err) + 1)
        kb = lambda v: "–" if v is None else "%.1f MB" % (v / 1024.0)
        per = "**%.2f kB**" % r["per_client_kb"] if r.get("per_client_kb") is not None else "–"
        md.append("| %s%s | %s | %s | %s | %s | %s | %s |" % (
            label, mark, r.get("held", "–"), r.get("failed", "–"),
            ("%.1f s" % r["login_seconds"]) if "login_seconds" in r else "–",
            kb(r.get("before_kb")), kb(r.get("after_kb")), per))
    md += ["", "Target, for context: ≤ 4 kB per idle client for pgstash (PgBouncer: about 0.8 kB)."]
    if notes:
        md += ["", "### Notes", ""] + ["%d. %s" % (i + 1, n.replace("|", "\\|")) for i, n in enumerate(notes)]
    text = "\n".join(md) + "\n"
    with open(a.md, "w") as fh:
        fh.write(text)
    print()
    print(text)


BEGIN, END = "<!-- latest-results:begin -->", "<!-- latest-results:end -->"


def embed_in_docs(docs, md, md_path, png_path):
    """Replace the block between the markers in docs/benchmarks.md with this run's figures."""
    if not os.path.exists(docs):
        return
    text = open(docs).read()
    if BEGIN not in text or END not in text:
        return
    rel = lambda p: os.path.relpath(p, os.path.dirname(os.path.abspath(docs)))
    body = []
    for line in md[2:]:
        if line.startswith("## Chart"):
            break
        if line.startswith("Produced by"):
            line = "From [`%s`](%s), written by the last `bench/run.sh` run." % (
                os.path.relpath(md_path, os.path.dirname(os.path.dirname(os.path.abspath(docs)))), rel(md_path))
        if line.startswith("#"):
            line = "#" + line
        body.append(line)
    body += ["", "![TPS and p99 latency per workload](%s)" % rel(png_path), ""]
    new = text.split(BEGIN)[0] + BEGIN + "\n" + "\n".join(body) + "\n" + END + text.split(END, 1)[1]
    with open(docs, "w") as fh:
        fh.write(new)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--runs", required=True)
    r.add_argument("--id", required=True)
    r.add_argument("--cell", required=True)
    r.add_argument("--target", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--mode", required=True)
    r.add_argument("--clients", type=int, required=True)
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--skipped")
    r.add_argument("--rc", type=int, default=0)
    r.add_argument("--out")
    r.add_argument("--lat-prefix")
    r.add_argument("--window", help="prefix of the steady-state window's samples (ID.w0, ID.w1)")
    r.add_argument("--rss-kb", type=int, default=0)
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--echo", action="store_true")
    g = sub.add_parser("report")
    g.add_argument("--run", required=True)
    g.add_argument("--md", required=True)
    g.add_argument("--png", required=True)
    g.add_argument("--docs", help="docs/benchmarks.md: replace its latest-results block")
    g = sub.add_parser("pooling")
    g.add_argument("--run", required=True)
    g.add_argument("--md", required=True)
    a = p.parse_args()
    {"record": cmd_record, "report": cmd_report, "pooling": cmd_pooling}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
