#!/usr/bin/python3
"""The report of `bench/run.sh --cache` (standard library only).

  cache_report.py --run DIR --md OUT.md

Reads DIR/runs.jsonl (one line per pgbench run, written by report.py record), DIR/meta.env,
and what run.sh's `observe` wrote around every run in DIR/obs: ID.before / ID.after (load
average, the machine's CPU ticks, the proxy's CPU ticks, Redis's CPU seconds and command
counts), ID.{before,after}.metrics (pgstash's /metrics) and ID.pgbench (pgbench's own CPU).
Writes the figures and ratios against the targets of issue 10; asserts nothing.
"""
import argparse
import json
import os
import re
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import aggregate, cols_for, fmt_ratio, fmt_tps, load_meta, ms, read_kv  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# workload -> (title, target ×direct or None, what it is)
WORKLOADS = OrderedDict([
    ("orders_page", ("orders page", 20.0, "read-only: the 50-row page of `order_summary_view` and the pager's COUNT(*)")),
    ("dashboard", ("dashboard, as written", 50.0,
                   "read-only: the two statistics queries **and the unread-notifications count, which proxy.conf "
                   "never caches** (`cache = false`): one of its three statements always reaches PostgreSQL")),
    ("dashboard_stats", ("dashboard_stats (no notifications)", 50.0,
                         "read-only: `dashboard_stats.sql`, the dashboard without the notifications query — every "
                         "statement cacheable")),
    ("mix", ("mix 60/20/15/5", 1.0,
             "orders page 60, search 20, dashboard 15, assignment 5 (writes: UPDATE orders, INSERT agent_activities); "
             "the issue's bar: not below 1× direct")),
])
PK = "pk_read"
PK_TARGET_US = 100


# ---------------------------------------------------------------------------- inputs

def read_metrics(path):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    m = {}
    if not os.path.exists(path):
        return m
    for line in open(path, errors="replace"):
        if not line or line[0] == "#":
            continue
        mo = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)', line)
        if not mo:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', mo.group(3) or ""))
        try:
            m[(mo.group(1), labels)] = float(mo.group(4))
        except ValueError:
            pass
    return m


def delta(after, before):
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None


class Obs:
    """What changed during one run (or several, summed)."""

    def __init__(self):
        self.runs = 0
        self.seconds = 0.0
        self.processed = 0
        self.cpu_busy = 0.0      # machine, s
        self.cpu_idle = 0.0
        self.proxy_cpu = 0.0     # s
        self.redis_cpu = 0.0     # s
        self.pgbench_cpu = 0.0   # s
        self.metrics = {}        # summed deltas
        self.redis_cmds = {}     # redis_cmdstat_<cmd>_{calls,usec} deltas
        self.loads = []
        self.has_proxy = self.has_redis = self.has_pgbench = False

    def add(self, prefix, processed):
        b, a = read_kv(prefix + ".before"), read_kv(prefix + ".after")
        if not b or not a:
            return
        self.runs += 1
        self.processed += processed or 0
        t0, t1 = num(b, "time_ns"), num(a, "time_ns")
        if t0 and t1:
            self.seconds += (t1 - t0) / 1e9
        for k in ("cpu_busy", "cpu_idle", "proxy_cpu"):
            x, y = num(b, k), num(a, k)
            if x is not None and y is not None:
                setattr(self, k, getattr(self, k) + (y - x) / TICK)
                if k == "proxy_cpu":
                    self.has_proxy = True
        x, y = num(b, "redis_cpu_s"), num(a, "redis_cpu_s")
        if x is not None and y is not None:
            self.redis_cpu += y - x
            self.has_redis = True
        for k, v in a.items():
            if k.startswith("redis_cmdstat_") and num(a, k) is not None:
                self.redis_cmds[k] = self.redis_cmds.get(k, 0.0) + num(a, k) - (num(b, k) or 0.0)
        p = read_kv(prefix + ".pgbench")
        if num(p, "pgbench_cpu_s") is not None:
            self.pgbench_cpu += num(p, "pgbench_cpu_s")
            self.has_pgbench = True
        for v in (a.get("loadavg"), b.get("loadavg")):
            if v:
                self.loads.append(float(v.split()[0]))
        mb, ma = read_metrics(prefix + ".before.metrics"), read_metrics(prefix + ".after.metrics")
        if ma:
            for k, v in delta(ma, mb).items():
                self.metrics[k] = self.metrics.get(k, 0.0) + v

    # metric helpers over the summed deltas
    def series(self, name, **want):
        out = []
        for (n, labels), v in self.metrics.items():
            if n != name:
                continue
            ld = dict(labels)
            if all(ld.get(k) == w for k, w in want.items()):
                out.append((ld, v))
        return out

    def total(self, name, **want):
        return sum(v for _, v in self.series(name, **want))

    def rules(self):
        r = OrderedDict()
        for ld, v in sorted(self.series("pgstash_cache_lookups_total"), key=lambda x: x[0].get("rule", "")):
            e = r.setdefault(ld.get("rule", "?"), {"hit": 0.0, "miss": 0.0})
            e[ld.get("result", "?")] = e.get(ld.get("result", "?"), 0.0) + v
        return r

    def redis_script_call(self):
        """(calls, µs inside Redis per call) of the scripts (EVALSHA, EVAL) during the runs."""
        calls = sum(self.redis_cmds.get("redis_cmdstat_%s_calls" % c, 0.0) for c in ("evalsha", "eval"))
        usec = sum(self.redis_cmds.get("redis_cmdstat_%s_usec" % c, 0.0) for c in ("evalsha", "eval"))
        return calls, (usec / calls if calls else None)

    def hits(self):
        return self.total("pgstash_cache_lookups_total", result="hit")

    def lookups(self):
        return self.total("pgstash_cache_lookups_total")

    def histogram(self, name):
        """(count, sum, [(le, cumulative)]) of a histogram's deltas."""
        buckets = []
        for ld, v in self.series(name + "_bucket"):
            le = ld.get("le")
            buckets.append((float("inf") if le == "+Inf" else float(le), v))
        buckets.sort()
        return self.total(name + "_count"), self.total(name + "_sum"), buckets


def quantile(buckets, count, q):
    """The q-quantile as text: "≤ first bound" when it falls in the first bucket (the
    histogram cannot say more), else linear interpolation inside its bucket (Prometheus' way)."""
    if not count or not buckets:
        return "–"
    rank = q * count
    prev_le, prev_c = 0.0, 0.0
    for i, (le, c) in enumerate(buckets):
        if c >= rank:
            if i == 0:
                return "≤ " + us(le)
            if le == float("inf"):
                return "> " + us(prev_le)
            return us(prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c))
        prev_le, prev_c = le, c
    return "> " + us(prev_le)


def first_bucket_share(buckets, count):
    """"89 % ≤ 500 µs": the share of lookups in the histogram's first bucket."""
    if not count or not buckets:
        return "–"
    return "%.0f %% ≤ %s" % (100.0 * buckets[0][1] / count, us(buckets[0][0]))


def us(s):
    return "–" if s is None else ("%.0f µs" % (s * 1e6) if s < 0.01 else "%.1f ms" % (s * 1e3))


def pct(a, b):
    return "–" if not b else "%.1f %%" % (100.0 * a / b)


# ---------------------------------------------------------------------------- report

def observations(run, runs_path):
    """{(cell, target): Obs} over the measured runs."""
    obs = {}
    if not os.path.exists(runs_path):
        return obs
    for line in open(runs_path):
        rec = json.loads(line)
        if rec.get("skipped"):
            continue
        o = obs.setdefault((rec["cell"], rec["target"]), Obs())
        o.add(os.path.join(run, "obs", rec["id"]), rec.get("processed", 0))
    return obs


def verdict(ratio, target):
    if ratio is None:
        return "–"
    return "**met**" if ratio >= target else "not met"


def latency_verdict(p50_us):
    return "**met**" if p50_us <= PK_TARGET_US else "not met"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--md", required=True)
    a = p.parse_args()
    meta = load_meta(os.path.join(a.run, "meta.env"))
    runs_path = os.path.join(a.run, "runs.jsonl")
    cells = aggregate(runs_path)
    obs = observations(a.run, runs_path)
    notes = []
    loads = [l for o in obs.values() for l in o.loads]
    md = ["# pgstash benchmark — the result cache", "",
          "Produced by `%s` (see [docs/benchmarks.md](../../docs/benchmarks.md), "
          "\"The result cache\"). Do not edit by hand. Figures and ratios are printed, never asserted." % (
              meta.get("COMMAND") or ("bench/run.sh --cache" + (" --quick" if meta.get("QUICK") == "1" else ""))), "",
          "- started %s on %s; load average (1 min) during the runs: %s — a shared machine: pgbench, pgstash, "
          "Redis and PostgreSQL share these cores with other work" % (
              meta.get("STARTED", "?"), meta.get("HOST", "?"),
              ("%.1f–%.1f" % (min(loads), max(loads))) if loads else "?"),
          "- PostgreSQL %s, %s, pgstash %s (commit %s), Redis of this run" % (
              meta.get("PG_VERSION", "?"), meta.get("PGBOUNCER_VERSION", "?"),
              re.sub(r"^pgstash\s+", "", meta.get("PGSTASH_VERSION", "?")), meta.get("PGSTASH_COMMIT", "?")),
          "- **pgstash (cache)**: proxy.conf's `[cache]`, `[cache.tiers]` and `[[cache.rules]]` verbatim, "
          "`-c cache.enabled=true`, transaction pooling, pool %s; **PgBouncer** 1.18 transaction mode, "
          "`default_pool_size = %s`; **direct**: PostgreSQL itself" % (meta.get("POOL_SIZE", "?"), meta.get("POOL_SIZE", "?")),
          "- each run `pgbench -j 2 -T %s` (+1 s for 64 clients' logins); %s round(s) per cell, the targets of a "
          "cell back to back in an order that rotates each round; before each cell %s s of the same workload "
          "through pgstash fill the cache (untimed, not counted); TPS: mean over rounds; p50/p99: over every "
          "transaction of every round (pgbench `--log`)" % (
              meta.get("DURATION", "?"), meta.get("ROUNDS", "?"), meta.get("WARMUP", "?")),
          "- hit rates: `pgstash_cache_lookups_total{rule,result}` read from `/metrics` before and after each "
          "measured run, summed over the rounds; whole run: %s s" % meta.get("TOTAL_SECONDS", "?"), ""]
    for key in ("STATUS_pgstash_cache", "STATUS_END_pgstash_cache", "STATUS_pgbouncer"):
        v = meta.get(key)
        if v and v not in ("ok", "not run"):
            md.append("**%s: %s**  " % (key.replace("STATUS_END_", "at the end, ").replace("STATUS_", ""), v))

    # ---- 64 clients
    md += ["", "## Throughput at %s clients" % next((str(c["clients"]) for c in cells.values()
                                                     if c["label"] in WORKLOADS), "64"), "",
           "| workload | -M | direct TPS | direct p50 / p99 ms | pgstash (cache) TPS | **×direct** | target | "
           "pgstash p50 / p99 ms | hit rate | PgBouncer TPS | PgBouncer ×direct | pgstash ÷ PgBouncer |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    summary = []
    for w, (title, target, _) in WORKLOADS.items():
        for k, c in cells.items():
            if c["label"] != w:
                continue
            t = c["targets"]
            d, ps, pb = t.get("direct"), t.get("pgstash_cache"), t.get("pgbouncer")
            ref = d.mean_tps if d and d.usable and not d.aborted else None
            row = [title, c["mode"]]
            row += cols_for(d, notes, with_ratio=False) if d else ["–", "–"]
            ratio = None
            if ps:
                pc = cols_for(ps, notes, ref=ref)
                if ps.usable and ref and not ps.aborted and not ps.failed:
                    ratio = ps.mean_tps / ref
                    pc[1] = "**%.1f×**" % ratio
                row += pc[:2] + ["≥ %g×" % target + " " + verdict(ratio, target)] + pc[2:]
                o = obs.get((k, "pgstash_cache"))
                row.append(pct(o.hits(), o.lookups()) if o and o.lookups() else "–")
            else:
                row += ["not run", "–", "≥ %g×" % target, "–", "–"]
            if pb:
                bc = cols_for(pb, notes, ref=ref)
                row += bc[:2]
                ok = ps and pb.usable and ps.usable and not pb.aborted and not ps.aborted
                row.append(fmt_ratio(ps.mean_tps, pb.mean_tps) if ok else "–")
            else:
                row += ["–", "–", "–"]
            md.append("| " + " | ".join(row) + " |")
            summary.append((title, c["mode"], ratio, target))
    md += ["", "What each workload is:", ""]
    md += ["- **%s** — %s" % (title, what) for title, _, what in WORKLOADS.values()]
    md += ["- **hit rate** — hits ÷ lookups over the measured runs (statements that were not looked up at "
           "all, such as the notifications count or the assignment's writes, are not in it; see below)"]

    # ---- per rule
    rule_rows = []
    for w in WORKLOADS:
        for k, c in cells.items():
            if c["label"] != w:
                continue
            o = obs.get((k, "pgstash_cache"))
            if not o or not o.metrics:
                continue
            for rule, e in o.rules().items():
                n = e.get("hit", 0) + e.get("miss", 0)
                if not n:
                    continue
                stored = o.total("pgstash_cache_fills_total", rule=rule, result="stored")
                refused = o.total("pgstash_cache_fills_total", rule=rule, result="refused")
                rule_rows.append("| %s | %s | %s | %.0f | %.0f | %.0f | **%s** | %.0f / %.0f |" % (
                    WORKLOADS[w][0], c["mode"], rule, n, e.get("hit", 0), e.get("miss", 0),
                    pct(e.get("hit", 0), n), stored, refused))
            byp = ", ".join("%s %.0f" % (dict(ld).get("reason"), v)
                            for ld, v in o.series("pgstash_cache_bypasses_total") if v)
            rule_rows.append("| %s | %s | *not looked up* | %s | | | | |" % (
                WORKLOADS[w][0], c["mode"], byp or "0"))
            pubs = o.total("pgstash_cache_publications_total")
            if pubs or w == "mix":
                rule_rows.append("| %s | %s | *writes published* | %.0f (epoch bumps %.0f) | | | | |" % (
                    WORKLOADS[w][0], c["mode"], pubs, o.total("pgstash_cache_epoch_bumps_total")))
    if rule_rows:
        md += ["", "## Hit rate per rule (measured runs, from `/metrics`)", "",
               "| workload | -M | rule | lookups | hits | misses | **hit rate** | fills stored / refused |",
               "|---|---|---|--:|--:|--:|--:|--:|"] + rule_rows
        md += ["", "The warm-up before each cell filled the entries first, so misses here are entries that "
               "expired, were invalidated by a write, or were never filled (keys the warm-up did not draw). "
               "*Fills refused* were captured on a miss but not stored: too large, a notice, or a tag the entry "
               "depends on was bumped by a write since its lookup (the metric does not split the reasons). "
               "*not looked up* counts requests pgstash sent to PostgreSQL without a lookup, by reason."]

    # ---- primary-key read
    pk = [(k, c) for k, c in cells.items() if c["label"] == PK]
    if pk:
        md += ["", "## Cached primary-key read at %s client(s)" % pk[0][1]["clients"], "",
               "`pk_read.sql`: `\\set id random(1, 1000)`, then one order by `\"id\"` (rule `orders`, tier L1). "
               "Latency per transaction from pgbench's `--log`, in µs; the target is p50 ≤ %d µs for the cached "
               "read." % PK_TARGET_US, "",
               "| -M | direct TPS | direct p50 / p99 | pgstash (cache) TPS | pgstash p50 / p99 | **p50 ≤ %d µs** | "
               "hit rate | pgstash CPU per tx | Redis CPU per tx | pgbench CPU per tx | lookups ≤ first bucket / mean |" % PK_TARGET_US,
               "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for k, c in pk:
            t = c["targets"]
            d, ps = t.get("direct"), t.get("pgstash_cache")
            lat = lambda x: "–" if x is None or not x.usable else "%d / %d" % (x.p50, x.p99)
            row = [c["mode"], fmt_tps(d.mean_tps) if d and d.usable else "–", lat(d),
                   fmt_tps(ps.mean_tps) if ps and ps.usable else "–", lat(ps)]
            row.append(("%d µs " % ps.p50 + latency_verdict(ps.p50)) if ps and ps.usable else "–")
            o = obs.get((k, "pgstash_cache"))
            if o and o.processed:
                n = o.processed
                cnt, sm, bk = o.histogram("pgstash_cache_lookup_duration_seconds")
                row += [pct(o.hits(), o.lookups()),
                        us(o.proxy_cpu / n) if o.has_proxy else "–",
                        us(o.redis_cpu / n) if o.has_redis else "–",
                        us(o.pgbench_cpu / n) if o.has_pgbench else "–",
                        "%s / %s" % (first_bucket_share(bk, cnt), us(sm / cnt if cnt else None))]
            else:
                row += ["–"] * 5
            md.append("| " + " | ".join(row) + " |")
            if ps and ps.usable:
                summary.append(("primary-key read p50", c["mode"], ps.p50, "p50"))
            dd = obs.get((k, "direct"))
            if dd and dd.processed and dd.has_pgbench:
                md.append("| %s, direct | | | | | | | | | %s | |" % (c["mode"], us(dd.pgbench_cpu / dd.processed)))

    # ---- where the time goes
    wt = []
    for k, c in cells.items():
        for tname_, label in (("pgstash_cache", "pgstash (cache)"), ("direct", "direct"), ("pgbouncer", "PgBouncer")):
            o = obs.get((k, tname_))
            if not o or not o.processed or not o.seconds:
                continue
            n = o.processed
            cnt, sm, bk = o.histogram("pgstash_cache_lookup_duration_seconds")
            util = o.cpu_busy / (o.cpu_busy + o.cpu_idle) if (o.cpu_busy + o.cpu_idle) else None
            title = WORKLOADS[c["label"]][0] if c["label"] in WORKLOADS else c["label"]
            calls, per = o.redis_script_call()
            wt.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                title, c["mode"], c["clients"], label,
                "%.0f %%" % (100 * util) if util is not None else "–",
                us(o.cpu_busy / n),
                us(o.proxy_cpu / n) if o.has_proxy else "–",
                us(o.redis_cpu / n) if o.has_redis else "–",
                us(o.pgbench_cpu / n) if o.has_pgbench else "–",
                us(max(0.0, o.cpu_busy - o.proxy_cpu - o.redis_cpu - o.pgbench_cpu) / n),
                ("%s / %s / %s" % (quantile(bk, cnt, 0.5), quantile(bk, cnt, 0.99), us(sm / cnt)))
                if cnt else "–",
                ("%.2f, %.1f µs" % (calls / n, per)) if calls and per is not None else "–"))
    if wt:
        md += ["", "## Where the time goes", "",
               "CPU per transaction over each target's measured runs: the whole machine's busy time (/proc/stat, "
               "both cores, including other work on this shared machine), the proxy's (/proc/PID/stat), Redis's "
               "(`INFO cpu`), pgbench's (its process), and the rest (PostgreSQL, other work). Logins are included "
               "(64 SCRAM logins per run). The lookup histogram column is `pgstash_cache_lookup_duration_seconds` "
               "(estimated from its buckets, whose first bound is 0.5 ms, so a quantile below it reads \"≤ 500 µs\"). It starts "
               "from the event loop's clock, which is read once per loop iteration after `epoll_wait`: it includes "
               "pgstash's own work on the requests of that iteration before the lookup is sent, and the wait for the "
               "loop to get back to the reply — an upper bound of the Redis round trip, not the round trip. The last column "
               "is Redis's `INFO commandstats` for EVALSHA/EVAL: scripts called per transaction (lookups, fills, "
               "publications, lease renewals) and the time each spent executing inside Redis.", "",
               "| workload | -M | clients | target | machine busy | machine CPU / tx | proxy CPU / tx | Redis CPU / tx | "
               "pgbench CPU / tx | rest / tx | lookup histogram p50 / p99 / mean | Redis scripts per tx, µs each inside Redis |",
               "|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"] + wt
    perf = os.path.join(a.run, "perf.txt")
    if os.path.exists(perf) and os.path.getsize(perf):
        md += ["", "### perf profile of pgstash answering hits", "",
               "`perf record -F 997 -g -p <pgstash>` for %s s while 64 clients ran `dashboard_stats` with "
               "`-M %s` (every statement a hit), Swift names demangled:" % (meta.get("DURATION", "?"), meta.get("PERF_MODE", "prepared")), "", "```",
               open(perf, errors="replace").read().rstrip(), "```"]

    # ---- summary
    if summary:
        md += ["", "## Against the targets", ""]
        for title, mode, v, target in summary:
            if target == "p50":
                md.append("- %s, -M %s: %d µs — target ≤ %d µs: %s" % (title, mode, v, PK_TARGET_US, latency_verdict(v)))
            elif v is None:
                md.append("- %s, -M %s: no ratio (see notes)" % (title, mode))
            else:
                md.append("- %s, -M %s: %.1f× direct — target ≥ %g×: %s" % (title, mode, v, target, verdict(v, target)))
    if notes:
        md += ["", "### Notes", ""] + ["%d. %s" % (i + 1, n.replace("|", "\\|")) for i, n in enumerate(notes)]
    text = "\n".join(md) + "\n"
    with open(a.md, "w") as fh:
        fh.write(text)
    print()
    print(text)


if __name__ == "__main__":
    sys.exit(main())
