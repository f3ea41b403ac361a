#!/usr/bin/env python3
"""report.py -- render docs/benchmarks.md and its plots from benchmark JSON lines.

Reads the JSON lines written by stele-bench (`--json`, schema in bench/README.md) and by
stele-compare (the same keys plus `system`, `durability`, `runs`, `status`, `message`, see
bench/compare/README.md), and writes one markdown report: the machine and the date, the command
that reproduces the run, the physical limits, Stele's own figures against its targets, the
side-by-side comparison with the peers (durability of each stated), the hand-written analysis of
bench/report-notes.md at the sections its keys name, and three PNG plots drawn by gnuplot.

The same input gives the same output byte for byte: nothing depends on the time of the run of this
script, rows keep the order of the input or a fixed order, and the plots are drawn from fixed
scripts. Only the Python standard library is used.

    bench/report.py bench/results/2026-11-22T1618Z-quick.jsonl
    bench/report.py a.jsonl b.jsonl --out docs/benchmarks.md --plots docs/bench
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The systems of stele-compare, in the order of the comparison tables' columns; any other system
# name found in the input follows, sorted.
SYSTEM_ORDER = ["stele", "stele-http", "sqlite", "postgres", "nats"]
STELE_SYSTEMS = {"stele", "stele-http"}
# Where each system runs: a ratio column divides a Stele figure by a peer's only between systems on
# the same footing (a library in the benchmark's process, or a server over loopback), so that no
# column credits Stele with the cost of a network round trip it did not pay.
FOOTING = {"stele": "in-process", "sqlite": "in-process", "stele-http": "server",
           "postgres": "server", "nats": "server"}

# The targets of open time, RSS and one-stream read p99 are stated for one size: 10M events over
# 1M streams (bench/README.md). A verdict at another size is not given, and the report says when
# the size was not measured.
TARGET_SIZE = "10M"
SIZED_TARGETS = ["growth.open_time", "growth.rss_after_open", "growth.hwm_after_open",
                 "growth.rss_after_reads", "growth.hwm_after_reads", "readstream.p99"]

# Sections of Stele's own figures: notes key, heading, name prefixes.
BENCH_SECTIONS = [
    ("appends", "Durable appends, in-process", ("append.", "batch.", "commit.", "conflict.")),
    ("reads", "Reads", ("readall.", "readstream.")),
    ("growth", "Growth (store closed, reopened in a fresh process)", ("growth.",)),
    ("server", "The server, over loopback HTTP", ("http.",)),
]
# Sections of the comparison: notes key, heading, figure families (first part of the name).
COMPARE_SECTIONS = [
    ("compare-appends", "Appends", ("append", "batch", "commit", "conflict")),
    ("compare-reads", "Reads and subscriptions", ("readall", "readstream", "subscribe")),
    ("compare-growth", "Growth", ("growth",)),
]
FAMILY_ORDER = ["append", "batch", "commit", "conflict", "readall", "readstream", "subscribe",
                "growth"]
METRIC_ORDER = ["rate", "bandwidth", "p50", "p99", "conflict_ratio", "readstream_p99", "disk"]
NOTE_KEYS = ["intro", "limits", "appends", "reads", "growth", "server", "compare",
             "compare-appends", "compare-reads", "compare-growth"]

LIMIT_TEXT = {
    "limits.fsync4k.rate": "4 KiB `pwrite` + `fdatasync`, zero-filled synced file",
    "limits.fsync4k.p50": "the same, latency p50",
    "limits.fsync4k.p99": "the same, latency p99",
    "limits.fsync4k_fallocated.rate": "the same into a fallocated-only file",
    "limits.seqwrite": "sequential write in 1 MiB `write`s + one `fdatasync`",
    "limits.memcpy": "`memcpy` of 64 MiB blocks",
}
RATIO_TO_TEXT = {"fsync": "fsync rate", "fsync p50": "fsync p50", "fsync p99": "fsync p99",
                 "seqwrite": "seq. write", "memcpy": "memcpy"}
OP_TEXT = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}
PLOT_FILES = ["append-clients.png", "latency.png", "growth.png"]
MODE_COMMANDS = {"quick": "make bench-quick", "default": "make bench", "large": "make bench-large"}


def warn(msg):
    print("report.py: " + msg, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Reading


def read_lines(paths):
    """Every JSON object of every file, in order; bad lines are reported and skipped."""
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    warn("%s:%d: not JSON (%s), skipped" % (path, number, e))
                    continue
                if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
                    warn("%s:%d: no figure name, skipped" % (path, number))
                    continue
                records.append(obj)
    return records


def number(value):
    """The value as a float, or None when it is absent or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Results:
    """The input split into stele-bench runs and stele-compare figures."""

    def __init__(self, records):
        self.records = records
        self.bench_runs = []      # [(date, [record, ...])], in order of appearance
        self.bench = {}           # name -> record (first occurrence; limits excluded)
        self.limits = {}          # name -> record of the physical limits (first occurrence)
        self.compare = {}         # (system, name) -> record (first occurrence)
        self.compare_names = []   # figure names measured by stele-compare, first appearance
        self.systems = []         # compare systems, in column order
        self.skipped = {}         # system -> message
        self.durability = {}      # system -> durability string
        self.runs = {}            # system -> set of `runs` values
        duplicates = 0
        runs_by_date = {}
        for r in records:
            system = r.get("system")
            if system is None:
                date = r.get("date") or ""
                if date not in runs_by_date:
                    runs_by_date[date] = []
                    self.bench_runs.append((date, runs_by_date[date]))
                runs_by_date[date].append(r)
                if r["name"].startswith("limits."):
                    self.limits.setdefault(r["name"], r)
                    continue
                if r["name"] in self.bench:
                    duplicates += 1
                else:
                    self.bench[r["name"]] = r
                continue
            system = str(system)
            if r.get("durability") and system not in self.durability:
                self.durability[system] = str(r["durability"])
            if r.get("status") == "skipped":
                self.skipped.setdefault(system, str(r.get("message") or "not installed"))
                self._add_system(system)
                continue
            self._add_system(system)
            if r.get("status", "ok") == "ok" and (number(r.get("runs")) or 0) > 0:
                self.runs.setdefault(system, set()).add(int(r["runs"]))
            key = (system, r["name"])
            if key in self.compare:
                duplicates += 1
                continue
            self.compare[key] = r
            if r["name"] not in self.compare_names:
                self.compare_names.append(r["name"])
        if duplicates:
            warn("%d figures appear more than once; the first of each is reported" % duplicates)
        known = [s for s in SYSTEM_ORDER if s in self.systems]
        self.systems = known + sorted(s for s in self.systems if s not in SYSTEM_ORDER)

    def _add_system(self, system):
        if system not in self.systems:
            self.systems.append(system)

    def machines(self):
        seen = []
        for r in self.records:
            m = r.get("machine")
            if isinstance(m, dict) and m not in seen:
                seen.append(m)
        return seen

    def dates(self):
        return sorted({r["date"] for r in self.records if isinstance(r.get("date"), str)})

    def compare_value(self, system, name):
        r = self.compare.get((system, name))
        if r is None or r.get("status", "ok") != "ok" or system in self.skipped:
            return None
        return number(r.get("value"))


# ---------------------------------------------------------------------------------------------
# Formatting


def fmt(value):
    """A number for a table: thousands separated when large, three significant digits otherwise."""
    if value is None:
        return "—"
    a = abs(value)
    if a >= 1000:
        return "{:,.0f}".format(value)
    if a >= 100:
        return "{:.0f}".format(value)
    if a >= 10:
        return "{:.1f}".format(value)
    if a >= 1:
        return "{:.2f}".format(value)
    if a == 0:
        return "0"
    return "{:.3g}".format(value)


def ratio_fmt(ratio):
    """A ratio of two figures: two decimals, or two significant digits when it is small."""
    a = abs(ratio)
    if a >= 100:
        return "{:,.0f}×".format(ratio)
    if a >= 10:
        return "{:.1f}×".format(ratio)
    if a >= 0.1 or a == 0:
        return "{:.2f}×".format(ratio)
    return "{:.2g}×".format(ratio)


def unit_text(unit):
    if not unit:
        return ""
    unit = str(unit)
    return "µs" + unit[2:] if unit == "us" or unit.startswith("us/") else unit


def cell(text):
    """Text made safe for a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def table(header, rows, align=None):
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        out.append("| " + " | ".join(row) + " |")
    return out


def natural_key(text):
    """Orders `8clients` before `64clients` and `1M` before `10M` before `100M`."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKMG]?)", text)
    if m:
        scale = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
        return (0, float(m.group(1)) * scale, "")
    parts = re.split(r"(\d+)", text)
    return (1, 0.0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p))


def figure_key(name):
    parts = name.split(".")
    family = parts[0]
    fam = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
    metric = parts[-1] if len(parts) > 1 else ""
    met = METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)
    middle = tuple(natural_key(p) for p in parts[1:-1])
    return (fam, family, middle, met, name)


def sized_elsewhere(r):
    """True for a figure whose target is stated at TARGET_SIZE but which was measured at another."""
    base, _, at = r["name"].partition("@")
    return base in SIZED_TARGETS and at != TARGET_SIZE


def verdict_text(r):
    if sized_elsewhere(r):
        return "no verdict: the target is stated at %s events" % TARGET_SIZE
    verdict = r.get("verdict")
    if verdict == "met":
        return "met"
    if verdict == "error":
        return "**error**"
    if verdict != "missed":
        return ""
    value, target, op = number(r.get("value")), number(r.get("target")), r.get("target_op")
    if value is None or not target:
        return "**missed**"
    if op in (">=", ">"):
        return "**missed** by %.0f%%" % (100.0 * (1.0 - value / target))
    if op in ("<", "<="):
        over = value / target
        if over >= 2:
            return "**missed** by %.1f×" % over
        return "**missed** by %.0f%%" % (100.0 * (over - 1.0))
    return "**missed**"


def target_text(r):
    target = number(r.get("target"))
    if target is None or sized_elsewhere(r):
        return ""
    op = r.get("target_op") or ""
    return "%s %s" % (OP_TEXT.get(op, op), fmt(target))


def ratio_text(r):
    ratio = number(r.get("ratio"))
    if ratio is None:
        return ""
    to = r.get("ratio_to") or ""
    return "%.2f× %s" % (ratio, RATIO_TO_TEXT.get(to, to))


def runs_text(r):
    runs = number(r.get("runs"))
    return "%d" % runs if runs is not None else "not recorded"


def durability_text(r):
    if "durability" not in r:
        return "not recorded"
    return r["durability"] if r["durability"] else "—"


def value_text(r):
    value = number(r.get("value"))
    if value is None:
        return "—"
    unit = unit_text(r.get("unit"))
    return fmt(value) + (" " + unit if unit else "")


# ---------------------------------------------------------------------------------------------
# Notes
#
# The notes quote figures only through placeholders, filled in from the results being rendered, so
# that the text can never disagree with the tables beside it:
#   {{NAME}}            a stele-bench figure (or limit) with its unit: {{append.1client.rate}}
#   {{SYSTEM:NAME}}     a stele-compare figure with its unit: {{sqlite:append.1clients.rate}}
#   {{X / Y}}           the ratio of two figures of either kind: {{stele-http:readall.rate / postgres:readall.rate}}
#   {{ratio NAME}}      a stele-bench figure's ratio to its limit: "0.94× fsync rate"
#   {{runs NAME}}       the number of runs a figure is the median of
# A measured-looking number written out in the notes (digits with a unit such as µs, ms, ×, %,
# events/s or MB/s, outside `code`) is refused: it would come from no results file.

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
LITERAL_FIGURE = re.compile(
    r"(?<![\w.@/-])~?\d[\d,]*(?:\.\d+)?(?:\s*[–-]\s*\d[\d,]*(?:\.\d+)?)?\s*[kKMG]?\s*"
    r"(?:×|%|µs\b|us\b|ms\b|s\b|/s\b|MB/s|MB\b|MiB\b|GiB\b|GB\b|KiB\b|"
    r"(?:events|ops|commits|requests)/s)")


def read_notes(path):
    """`## notes: KEY` sections of the notes file, in order: {key: [(line number, text)]}."""
    notes = {}
    if not path or not os.path.exists(path):
        return notes
    key = None
    lines = {}
    with open(path, encoding="utf-8") as f:
        for number_, line in enumerate(f, 1):
            m = re.match(r"^##\s+notes:\s*(\S+)\s*$", line)
            if m:
                key = m.group(1)
                lines.setdefault(key, [])
                continue
            if key is not None:
                lines[key].append((number_, line.rstrip("\n")))
    for key, body in lines.items():
        while body and not body[0][1].strip():
            body.pop(0)
        while body and not body[-1][1].strip():
            body.pop()
        if body:
            notes[key] = body
    return notes


def literal_figures(notes, path):
    """'path:line: text' for every measured-looking number the notes write out."""
    found = []
    for body in notes.values():
        for line_number, line in body:
            text = PLACEHOLDER.sub(" ", re.sub(r"`[^`]*`", " ", line))
            for m in LITERAL_FIGURE.finditer(text):
                found.append("%s:%d: '%s'" % (display_path(path), line_number, m.group(0).strip()))
    return found


def figure_ref(res, ref):
    """(value, unit) of `NAME` or `SYSTEM:NAME`, or None when the results do not have it."""
    system, sep, name = ref.partition(":")
    if sep:
        r = res.compare.get((system, name))
        value = res.compare_value(system, name)
    else:
        r = res.bench.get(ref) or res.limits.get(ref)
        value = number(r.get("value")) if r else None
    if r is None or value is None:
        return None
    return value, unit_text(r.get("unit"))


def expand(res, expr):
    """The text of one placeholder, or None when a figure it names is not in the results."""
    words = expr.split(None, 1)
    if len(words) == 2 and words[0] in ("ratio", "runs"):
        r = res.bench.get(words[1])
        if r is None:
            return None
        text = ratio_text(r) if words[0] == "ratio" else runs_text(r)
        return text or None
    if " / " in expr:
        a, b = (figure_ref(res, part.strip()) for part in expr.split(" / ", 1))
        if a is None or b is None or not b[0]:
            return None
        return ratio_fmt(a[0] / b[0])
    got = figure_ref(res, expr)
    if got is None:
        return None
    unit = "" if got[1] == "fraction" else got[1]  # a ratio needs no unit in a sentence
    return fmt(got[0]) + (" " + unit if unit else "")


def fill_notes(res, notes):
    """{key: text} with every placeholder filled in; figures not measured say so."""
    filled = {}
    for key, body in notes.items():
        def one(m):
            text = expand(res, m.group(1))
            if text is None:
                warn("notes: {{%s}} names no figure of these results" % m.group(1))
                return "*not measured in this run*"
            return text
        filled[key] = PLACEHOLDER.sub(one, "\n".join(line for _, line in body))
    return filled


# ---------------------------------------------------------------------------------------------
# Plots


def series_file(tmp, index, points):
    path = os.path.join(tmp, "s%d.dat" % index)
    with open(path, "w", encoding="utf-8") as f:
        for x, y in points:
            f.write("%.10g %.10g\n" % (x, y))
    return path


# One colour per system in every plot (fallback titles start with the system's name).
COLOURS = {"stele": "#1f5fbf", "stele-http": "#6fa8ff", "sqlite": "#2ca02c", "postgres": "#8c564b",
           "nats": "#e69f00"}
OTHER_COLOURS = ["#d62728", "#9467bd", "#7f7f7f", "#17becf"]


def colour(title, index):
    name = title.split(" ")[0]
    return COLOURS.get(name, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def decade_range(series):
    """A log-scale y range of whole decades with room around every point of the series."""
    ys = [y for _, points in series for _, y in points]
    low = 10 ** math.floor(math.log10(min(ys) / 1.5))
    high = 10 ** math.ceil(math.log10(max(ys) * 1.5))
    return "set yrange [%g:%g]\n" % (low, high)


def gp_string(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


GP_HEAD = """set terminal pngcairo size 960,560 font "Sans,10" noenhanced
set output {out}
set grid
set title {title}
"""


def plot_clients(res, tmp, out):
    """(a) Append throughput against concurrent clients, one line per system, log y."""
    series = []
    for system in res.systems:
        points = []
        for name in res.compare_names:
            m = re.fullmatch(r"append\.(\d+)clients?\.rate", name)
            value = res.compare_value(system, name) if m else None
            if value is not None and value > 0:
                points.append((int(m.group(1)), value))
        if points:
            series.append((system, sorted(points)))
    source = "stele-compare"
    if not series:
        source = "stele-bench only: no stele-compare results"
        for title, pattern in (("stele (in-process)", r"append\.(\d+)clients?\.rate"),
                               ("stele-http", r"http\.append\.(\d+)conns?\.rate")):
            points = []
            for name, r in res.bench.items():
                m = re.fullmatch(pattern, name)
                value = number(r.get("value")) if m else None
                if value is not None and value > 0:
                    points.append((int(m.group(1)), value))
            if points:
                series.append((title, sorted(points)))
    if not series:
        return None
    xs = sorted({p[0] for _, pts in series for p in pts})
    script = GP_HEAD.format(out=gp_string(out), title=gp_string(
        "Durable appends, 1 event per append: throughput vs concurrent clients (" + source + ")"))
    script += """set xlabel "concurrent clients (connections for HTTP)"
set ylabel "events/s (log scale)"
set logscale x 2
set logscale y 10
set format y "%%.0s%%c"
set xrange [%g:%g]
set xtics (%s)
set key outside right top
""" % (min(xs) / 1.5, max(xs) * 1.5, ", ".join(str(x) for x in xs))
    script += decade_range(series)
    plots = []
    for i, (title, points) in enumerate(series):
        path = series_file(tmp, i, points)
        plots.append("%s using 1:2 with linespoints lw 2 pt 7 lc rgb %s title %s"
                     % (gp_string(path), gp_string(colour(title, i)), gp_string(title)))
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return script, source


def plot_latency(res, tmp, out):
    """(b) p50 and p99 of one-client appends, one-stream reads and subscription delivery."""
    categories = [("append 1 client", r"append\.1clients?\.%s"),
                  ("read stream", r"readstream\.%s"),
                  ("subscribe", r"subscribe\.%s")]
    columns = []  # (title, {category label: value})
    for system in res.systems:
        values = {}
        for label, pattern in categories:
            for p in ("p50", "p99"):
                for name in res.compare_names:
                    if re.fullmatch(pattern % p, name):
                        value = res.compare_value(system, name)
                        if value is not None and value > 0:
                            values["%s %s" % (label, p)] = value
                        break
        if values:
            columns.append((system, values))
    source = "stele-compare"
    if not columns:
        source = "stele-bench only: no stele-compare results"
        first_at = None
        for name in res.bench:
            m = re.fullmatch(r"readstream\.p50@(.+)", name)
            if m:
                first_at = m.group(1)
                break
        wanted = [("stele (in-process)", [("append 1 client", "append.1client.%s"),
                                          ("read stream", "readstream.%s@" + str(first_at))]),
                  ("stele-http", [("append 1 client", "http.append.1conn.%s"),
                                  ("subscribe", "http.sse.%s")])]
        for title, names in wanted:
            values = {}
            for label, name in names:
                for p in ("p50", "p99"):
                    r = res.bench.get(name % p)
                    value = number(r.get("value")) if r else None
                    if value is not None and value > 0:
                        values["%s %s" % (label, p)] = value
            if values:
                columns.append((title, values))
    if not columns:
        return None
    labels = ["%s %s" % (label, p) for label, _ in categories for p in ("p50", "p99")]
    labels = [l for l in labels if any(l in values for _, values in columns)]
    path = os.path.join(tmp, "latency.dat")
    with open(path, "w", encoding="utf-8") as f:
        for label in labels:
            row = [gp_string(label)]
            for _, values in columns:
                row.append("%.10g" % values[label] if label in values else "NaN")
            f.write(" ".join(row) + "\n")
    script = GP_HEAD.format(out=gp_string(out), title=gp_string(
        "Latency percentiles, p50 and p99 (" + source + ")"))
    ticks = ", ".join('"%s\\n%s" %d' % (label[:-4], label[-3:], i)
                      for i, label in enumerate(labels))
    script += """set ylabel "latency, microseconds (log scale)"
set logscale y 10
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xrange [-0.6:%g]
set xtics nomirror (%s)
set bmargin 4
set key outside right top
""" % (len(labels) - 0.4, ticks)
    plots = []
    for i, (title, _) in enumerate(columns):
        using = "%d" % (i + 2)
        plots.append("%s using %s lc rgb %s title %s" % (
            gp_string(path) if i == 0 else '""', using, gp_string(colour(title, i)),
            gp_string(title)))
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return script, source


def events_count(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKMG]?)", text)
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]


def plot_growth(res, tmp, out):
    """(c) Append rate against the number of events stored, one line per system."""
    series = []
    for system in res.systems:
        points = []
        for name in res.compare_names:
            m = re.fullmatch(r"growth\.([^.]+)\.rate", name)
            at = events_count(m.group(1)) if m else None
            value = res.compare_value(system, name) if at else None
            if value is not None and value > 0:
                points.append((at, value))
        if points:
            series.append((system, sorted(points)))
    source = "stele-compare: 8 clients x batches of 100, durable"
    if not series:
        source = "stele-bench preload, durability none; no stele-compare results"
        points = []
        for name, r in res.bench.items():
            m = re.fullmatch(r"growth\.preload_rate@(.+)", name)
            at = events_count(m.group(1)) if m else None
            value = number(r.get("value")) if at else None
            if value is not None and value > 0:
                points.append((at, value))
        if points:
            series.append(("stele (preload)", sorted(points)))
    if not series:
        return None
    xs = [x for _, pts in series for x, _ in pts]
    script = GP_HEAD.format(out=gp_string(out), title=gp_string(
        "Append rate as the store grows (" + source + ")"))
    script += """set xlabel "events stored (log scale)"
set ylabel "events/s (log scale)"
set logscale x 10
set logscale y 10
set xrange [%g:%g]
set format x "%%.0s%%c"
set format y "%%.0s%%c"
set key outside right top
""" % (min(xs) / 2, max(xs) * 2)
    script += decade_range(series)
    plots = []
    for i, (title, points) in enumerate(series):
        path = series_file(tmp, 10 + i, points)
        plots.append("%s using 1:2 with linespoints lw 2 pt 7 lc rgb %s title %s"
                     % (gp_string(path), gp_string(colour(title, i)), gp_string(title)))
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return script, source


def draw_plots(res, plots_dir, draw=True):
    """{file name: source} of the plots these results have data for, and the failures of drawing
    them. The report lists the plots from the data alone, so that its text does not depend on
    gnuplot; with draw=False nothing is written (the --check mode)."""
    planned, failures, drawn = {}, [], 0
    gnuplot = shutil.which("gnuplot") if draw else None
    if draw and gnuplot is None:
        failures.append("gnuplot is not installed (scripts/install-bench-deps installs it)")
    makers = [plot_clients, plot_latency, plot_growth]
    if draw:
        os.makedirs(plots_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stele-report-") as tmp:
        for file_name, maker in zip(PLOT_FILES, makers):
            out = os.path.join(plots_dir, file_name)
            made = maker(res, tmp, out)
            if made is None:
                if draw and os.path.exists(out):
                    os.remove(out)  # a plot of an earlier run would not match this report
                continue
            script, source = made
            planned[file_name] = source
            if gnuplot is None:
                continue
            script_path = os.path.join(tmp, file_name + ".gp")
            with open(script_path, "w", encoding="utf-8") as f:
                f.write(script)
            done = subprocess.run([gnuplot, script_path], cwd=tmp, capture_output=True,
                                  text=True)
            if done.returncode != 0 or not os.path.exists(out):
                failures.append("gnuplot failed for %s: %s" % (file_name, done.stderr.strip()))
            else:
                drawn += 1
    return planned, drawn, failures


# ---------------------------------------------------------------------------------------------
# The report


def display_path(path):
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    return os.path.basename(path) if rel.startswith("..") else rel


def machine_text(m):
    parts = []
    if m.get("cores") is not None:
        parts.append("%s cores" % m["cores"] + (" (%s)" % m["cpu"] if m.get("cpu") else ""))
    mem = number(m.get("mem_bytes"))
    if mem:
        parts.append("%.1f GiB memory" % (mem / 2**30))
    if m.get("fs"):
        parts.append("%s filesystem (of the data directory)" % m["fs"])
    if m.get("kernel"):
        parts.append(str(m["kernel"]))
    return ", ".join(parts) or "unknown machine"


def date_text(dates):
    if not dates:
        return "an unknown date"
    first, last = dates[0], dates[-1]
    day, time0 = first[:10], first[11:16]
    if last[:10] == day:
        if last[11:16] == time0:
            return "%s at %s UTC" % (day, time0)
        return "%s, %s–%s UTC" % (day, time0, last[11:16])
    return "%s %s UTC to %s %s UTC" % (day, time0, last[:10], last[11:16])


def infer_command(paths):
    for path in paths:
        m = re.search(r"-(quick|default|large)\.jsonl$", os.path.basename(path))
        if m:
            return MODE_COMMANDS[m.group(1)]
    return "bench/run"


def run_label(records):
    names = [r["name"] for r in records if not r["name"].startswith("limits.")]
    kinds = []
    if any(not n.startswith("http.") for n in names):
        kinds.append("in-process figures")
    if any(n.startswith("http.") for n in names):
        kinds.append("HTTP figures")
    return " and ".join(kinds) or "limits alone"


def limits_part(res, notes):
    out = ["## Physical limits (measured in the same run)", ""]
    runs = [(date, [r for r in recs if r["name"].startswith("limits.")], recs)
            for date, recs in res.bench_runs]
    runs = [run for run in runs if run[1]]
    if not runs:
        out += ["No physical limits in these results (stele-bench did not run `limits`).", ""]
    else:
        names = []
        for _, lims, _ in runs:
            for r in lims:
                if r["name"] not in names:
                    names.append(r["name"])
        header = ["figure", "what it is"]
        if len(runs) == 1:
            header.append("value")
        else:
            header += ["run of %s (%s)" % (date[11:19] or "?", run_label(recs))
                       for date, _, recs in runs]
        rows = []
        for name in names:
            row = ["`%s`" % name, LIMIT_TEXT.get(name, "")]
            for _, lims, _ in runs:
                r = next((x for x in lims if x["name"] == name), None)
                row.append(value_text(r) if r else "—")
            rows.append(row)
        out += table(header, rows, ["---", "---"] + ["---:"] * (len(header) - 2))
        out.append("")
        if len(runs) > 1:
            out += ["Each stele-bench run measures the limits again; its ratios are to its own "
                    "limits.", ""]
    if "limits" in notes:
        out += [notes["limits"], ""]
    return out


def bench_part(res, notes):
    out = ["## Stele's own figures against its targets", ""]
    if not res.bench:
        return out + ["No stele-bench figures in these results.", ""]
    out += ["From `stele-bench` (figures and flags: [bench/README.md](../bench/README.md)), "
            "in-process unless the name starts with `http.`. *durability* is the store's mode "
            "for that figure (`sync`: acknowledged after `fdatasync`; `none`: no syncs at all); "
            "*runs* is the number of runs the value is the median of. *ratio to limit* divides "
            "the figure by the physical limit above that bounds it; the verdict compares it with "
            "the project's target, only at the size the target is stated for.", ""]
    placed = set()
    sections = BENCH_SECTIONS + [("other", "Other figures", None)]
    for key, heading, prefixes in sections:
        if prefixes is None:
            names = [n for n in res.bench if n not in placed]
        else:
            names = [n for n in res.bench if n.startswith(prefixes) and n not in placed]
        placed.update(names)
        missing = [base + "@" + TARGET_SIZE for base in SIZED_TARGETS
                   if prefixes is not None and base.startswith(prefixes)
                   and base + "@" + TARGET_SIZE not in res.bench]
        if not names and not missing and key not in notes:
            continue
        out += ["### " + heading, ""]
        if names or missing:
            rows = []
            for name in names:
                r = res.bench[name]
                rows.append(["`%s`" % name, value_text(r), durability_text(r), runs_text(r),
                             target_text(r), ratio_text(r), verdict_text(r)])
            for name in missing:
                rows.append(["`%s`" % name, "not measured in this run", "", "", "", "",
                             "no verdict"])
            out += table(["figure", "value", "durability", "runs", "target", "ratio to limit",
                          "verdict"], rows, ["---", "---:", "---", "---:", "---", "---", "---"])
            out.append("")
        if key in notes:
            out += [notes[key], ""]
    return out


def compare_part(res, notes):
    out = ["## Side by side with the systems a user would otherwise pick", ""]
    if not res.systems:
        out += ["No `stele-compare` results in this run (the program was not built or not run: "
                "see [bench/compare/README.md](../bench/compare/README.md)).", ""]
        if "compare" in notes:
            out += [notes["compare"], ""]
        return out
    out += ["From `stele-compare` ([bench/compare/README.md](../bench/compare/README.md)): the "
            "same workloads, events (type `OrderPlaced`, 200 bytes of JSON data) and sizes "
            "against every system, in one run on this machine. A peer that does not sync before "
            "acknowledging is faster for that reason: its durability is stated here.", ""]
    rows = []
    for system in res.systems:
        if system in res.skipped:
            status = "skipped: " + res.skipped[system]
        else:
            errors = sum(1 for (s, _), r in res.compare.items()
                         if s == system and r.get("status") == "error")
            status = "measured" + (", %d error%s" % (errors, "s" if errors > 1 else "")
                                   if errors else "")
        runs = sorted(res.runs.get(system, ()))
        runs_text = "" if not runs else (str(runs[0]) if len(runs) == 1
                                         else "%d–%d" % (runs[0], runs[-1]))
        rows.append(["`%s`" % system, cell(res.durability.get(system, "")), runs_text,
                     cell(status)])
    out += table(["system", "durability", "runs (median of)", "status"], rows)
    out.append("")
    pairs = ratio_pairs(res)
    if pairs:
        out += ["The `A ÷ B` columns divide a Stele figure by a peer's on the same footing only: "
                "in-process Stele (`stele`) by the in-process peer (`sqlite`), Stele's server "
                "over loopback (`stele-http`) by the server peers (`postgres`, `nats`). Above 1× "
                "Stele is faster for rates and bandwidths, below 1× it is faster for latencies "
                "(µs).", ""]
    out += ["`unsupported`: the system has no such operation; `skipped`: the system is not "
            "installed; `error [n]`: the workload failed, see the note under the table; `—`: "
            "not measured.", ""]
    if "compare" in notes:
        out += [notes["compare"], ""]

    placed = set()
    sections = COMPARE_SECTIONS + [("compare-other", "Other figures", None)]
    for key, heading, families in sections:
        names = [n for n in res.compare_names if n not in placed and
                 (families is None or n.split(".")[0] in families)]
        placed.update(names)
        if not names and key not in notes:
            continue
        out += ["### " + heading, ""]
        if names:
            footnotes = []
            header = ["figure", "unit"] + ["`%s`" % s for s in res.systems]
            header += ["`%s` ÷ `%s`" % pair for pair in pairs]
            align = ["---", "---"] + ["---:"] * (len(header) - 2)
            rows = []
            for name in sorted(names, key=figure_key):
                unit = ""
                row = ["`%s`" % name]
                cells = []
                for system in res.systems:
                    r = res.compare.get((system, name))
                    if r is not None and r.get("unit") and not unit:
                        unit = unit_text(r["unit"])
                    cells.append(compare_cell(res, system, name, r, footnotes))
                row.append(unit)
                row += cells
                for mine_system, peer in pairs:
                    mine = res.compare_value(mine_system, name)
                    theirs = res.compare_value(peer, name)
                    row.append(ratio_fmt(mine / theirs) if mine is not None and theirs else "—")
                rows.append(row)
            out += table(header, rows, align)
            out.append("")
            for i, text in enumerate(footnotes, 1):
                out.append("[%d] %s  " % (i, text))
            if footnotes:
                out[-1] = out[-1].rstrip()
                out.append("")
        if key in notes:
            out += [notes[key], ""]
    return out


def ratio_pairs(res):
    """(Stele system, peer) for every measured pair on the same footing, in column order."""
    measured = [s for s in res.systems if s not in res.skipped]
    return [(mine, peer) for mine in measured if mine in STELE_SYSTEMS
            for peer in measured if peer not in STELE_SYSTEMS
            and FOOTING.get(peer) is not None and FOOTING.get(peer) == FOOTING.get(mine)]


def compare_cell(res, system, name, r, footnotes):
    if system in res.skipped:
        return "skipped"
    if r is None:
        return "—"
    status = r.get("status", "ok")
    if status == "unsupported":
        return "unsupported"
    if status == "error" or (status == "ok" and number(r.get("value")) is None):
        message = cell(r.get("message") or "no value")
        footnotes.append("`%s` `%s`: %s" % (system, name, message))
        return "error [%d]" % len(footnotes)
    if status != "ok":
        return cell(status)
    return fmt(number(r.get("value")))


def plots_part(drawn, out_path, plots_dir):
    out = ["## Plots", ""]
    rel = os.path.relpath(os.path.abspath(plots_dir), os.path.dirname(os.path.abspath(out_path)))
    rel = rel.replace(os.sep, "/")
    captions = {
        "append-clients.png": "Durable append throughput against concurrent clients",
        "latency.png": "Latency percentiles (p50, p99): one-client append, one-stream read, "
                       "subscription delivery",
        "growth.png": "Append rate as the store grows",
    }
    if not drawn:
        return out + ["No plots: these results have none of the figures they are drawn from.", ""]
    for name in PLOT_FILES:
        if name in drawn:
            out += ["%s (%s):" % (captions[name], drawn[name]), "",
                    "![%s](%s/%s)" % (captions[name], rel, name), ""]
    return out


def render(res, notes, paths, command, out_path, plots_dir, draw=True):
    planned, drawn, failures = draw_plots(res, plots_dir, draw)
    machines = res.machines()
    programs = []
    if res.bench_runs:
        programs.append("`stele-bench`")
    if res.systems:
        programs.append("`stele-compare`")
    lines = ["# Benchmarks", "",
             "<!-- Generated by bench/report.py from %s. Do not edit: the analysis lives in "
             "bench/report-notes.md. -->" % ", ".join(display_path(p) for p in paths), ""]
    lines.append("Measured by %s on %s, on %s. Results: %s." % (
        " and ".join(programs) or "nothing", date_text(res.dates()),
        machine_text(machines[0]) if machines else "an unknown machine",
        ", ".join("`%s`" % display_path(p) for p in paths)))
    lines.append("")
    if len(machines) > 1:
        lines += ["These results come from %d different machines:" % len(machines), ""]
        lines += ["- " + machine_text(m) for m in machines]
        lines.append("")
    lines += ["Reproduce with (`bench/run` installs what is missing, builds, runs every benchmark "
              "and regenerates this page):", "", "```sh",
              "%-28s # this run" % command]
    for mode, cmd in sorted(MODE_COMMANDS.items(), key=lambda kv: ["quick", "default",
                                                                    "large"].index(kv[0])):
        if cmd != command:
            lines.append("%-28s # %s mode" % (cmd, mode))
    lines += ["```", ""]
    if "intro" in notes:
        lines += [notes["intro"], ""]
    lines += limits_part(res, notes)
    lines += bench_part(res, notes)
    lines += compare_part(res, notes)
    lines += plots_part(planned, out_path, plots_dir)
    extra = [k for k in notes if k not in NOTE_KEYS]
    if extra:
        lines += ["## Further notes", ""]
        for key in extra:
            lines += ["### " + key, "", notes[key], ""]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n", drawn, failures


def main():
    parser = argparse.ArgumentParser(
        description="Render docs/benchmarks.md and its plots from stele-bench and stele-compare "
                    "JSON lines.")
    parser.add_argument("results", nargs="+", metavar="RESULTS.jsonl")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"),
                        help="the markdown to write (default docs/benchmarks.md)")
    parser.add_argument("--plots", default=os.path.join(ROOT, "docs", "bench"),
                        help="directory of the PNG plots (default docs/bench)")
    parser.add_argument("--notes", default=os.path.join(ROOT, "bench", "report-notes.md"),
                        help="hand-written analysis (default bench/report-notes.md)")
    parser.add_argument("--command",
                        help="the command shown to reproduce the run (default: from the "
                             "results file name, e.g. -quick.jsonl: make bench-quick)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing: exit 1 unless --out is exactly what these results "
                             "and notes render (a test that the page comes from its results)")
    args = parser.parse_args()

    records = read_lines(args.results)
    if not records:
        warn("no figures in %s" % ", ".join(args.results))
        return 1
    res = Results(records)
    raw_notes = read_notes(args.notes)
    literals = literal_figures(raw_notes, args.notes)
    if literals:
        warn("the notes write out figures that come from no results file; quote them with "
             "placeholders ({{NAME}}, {{SYSTEM:NAME}}, {{X / Y}}, see the top of this script):")
        for text in literals:
            print("  " + text, file=sys.stderr)
        return 1
    for key in raw_notes:
        if key not in NOTE_KEYS:
            warn("notes section '%s' has no place; it goes under Further notes" % key)
    notes = fill_notes(res, raw_notes)
    command = args.command or infer_command(args.results)
    text, drawn, failures = render(res, notes, args.results, command, args.out, args.plots,
                                   draw=not args.check)
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError as e:
            warn("cannot read %s: %s" % (args.out, e))
            return 1
        if current != text:
            import difflib
            sys.stderr.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), display_path(args.out),
                "rendered from " + ", ".join(display_path(p) for p in args.results)))
            warn("%s is not what its results render: run bench/report.py on them" %
                 display_path(args.out))
            return 1
        print("report.py: %s is exactly what %s render" % (
            display_path(args.out), ", ".join(display_path(p) for p in args.results)))
        return 0
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("report.py: wrote %s (%d figures) and %d plot%s in %s" % (
        display_path(args.out), len(records), drawn, "" if drawn == 1 else "s",
        display_path(args.plots)))
    for failure in failures:
        warn(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
