"""The benchmark protocol: dlf and its peer run interleaved, each in its own process, and are measured alike.

A benchmark describes each side as a command (`Side`) that prints one JSON object as the last line of its standard
output. `interleave` runs the two commands A B A B ... for `pairs` pairs (at least 3 for a published figure), so
that a machine that gets busier or quieter during the run slows both sides alike. For every run it records:

- what the command printed (its own figures: seconds to a target, words/s, a loss ...);
- `wall_s`: the wall time of the whole process, start-up and imports included;
- `peak_rss_mb`: the peak resident memory in MiB, as the kernel reports it to `wait4` when the process ends, which
  is what `/usr/bin/time -v` prints as "Maximum resident set size": the largest RSS reached by the process or by
  any descendant it waited for. Like /usr/bin/time, a small launcher process starts the command (see LAUNCHER), so
  the figure never includes this process's own memory. Both sides are measured the same way, whatever they do
  inside.

`report` prints a markdown table: each run's figures, each pair's ratio (dlf / peer) for every figure, and the
median of the pair ratios, under a header with the date, the machine, its load average before and after, and
the command. A ratio of a median over 3+ pairs is what the README and docs quote; a single run is not.

Run as a script, it is a self-check on two trivial commands:

    python benchmarks/_protocol.py
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MIN_PAIRS = 3  # fewer pairs than this: the table says the result is not a protocol figure


class BenchmarkError(RuntimeError):
    """A side failed or printed no JSON result."""


@dataclass
class Side:
    """One contestant: a name and the command that runs it once."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables (e.g. OMP_NUM_THREADS) on top of this process's."""


@dataclass
class Measurement:
    side: str
    pair: int
    result: dict
    wall_s: float
    peak_rss_mb: float

    def get(self, key: str) -> float | None:
        """A figure by name: wall_s, peak_rss_mb, or a key of the printed result."""
        value = getattr(self, key) if key in ("wall_s", "peak_rss_mb") else self.result.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class Metric:
    """A figure to tabulate: `key` of the result (or wall_s / peak_rss_mb), how to print it, which way is better
    ("lower", "higher", or "" for a figure that is neither, such as a parameter count)."""

    key: str
    label: str
    fmt: str = ",.2f"
    better: str = "lower"


WALL = Metric("wall_s", "process wall s", ",.1f")
RSS = Metric("peak_rss_mb", "peak RSS MiB", ",.0f")


def rss_mib(ru_maxrss: int) -> float:
    """ru_maxrss in MiB: Linux reports kilobytes, macOS bytes."""
    return ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


# A tiny process that starts the command and reports its rusage. Linux carries a process's peak RSS across fork and
# exec, so a command started straight from this (large) process would inherit its peak as a floor; started from this
# launcher, a fresh Python of about 10 MiB, it inherits only that, as under /usr/bin/time.
LAUNCHER = """
import json, os, subprocess, sys
report, argv = sys.argv[1], sys.argv[2:]
proc = subprocess.Popen(argv)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = code = os.waitstatus_to_exitcode(status)
with open(report, "w") as fh:
    json.dump({"code": code, "maxrss": usage.ru_maxrss}, fh)
"""


def measure(side: Side, pair: int = 0, cwd: str | None = None, expect_json: bool = True) -> Measurement:
    """Run side's command once; its last stdout line must be a JSON object (unless not expect_json, for a command
    that writes its figures elsewhere, e.g. a run folder). stderr goes to ours."""
    env = {**os.environ, **side.env}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), *side.argv], stdout=out, env=env,
                       cwd=cwd, check=False)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        try:
            usage = json.loads(report.read_text())
        except (OSError, ValueError):
            raise BenchmarkError(f"{side.name} could not be started: {shlex.join(side.argv)}") from None
    code, peak = usage["code"], rss_mib(usage["maxrss"])
    if code != 0:
        raise BenchmarkError(f"{side.name} failed (exit {code}): {shlex.join(side.argv)}")
    lines = text.strip().splitlines()
    if not expect_json:
        return Measurement(side.name, pair, {}, wall, peak)
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise BenchmarkError(f"{side.name} printed no JSON result line: {shlex.join(side.argv)}") from None
    if not isinstance(result, dict):
        raise BenchmarkError(f"{side.name}'s last line is not a JSON object: {lines[-1][:100]}")
    return Measurement(side.name, pair, result, wall, peak)


def interleave(a: Side | Callable[[int], Side], b: Side | Callable[[int], Side], pairs: int = MIN_PAIRS,
               cwd: str | None = None, progress=None) -> list[tuple[Measurement, Measurement]]:
    """Run A B A B ... (`pairs` of each); progress(measurement) is called after each run.

    A side may be a function of the pair number (1, 2, ...) giving its Side, e.g. to give each pair its own seed.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1 (got {pairs})")
    out = []
    for i in range(1, pairs + 1):
        ma = measure(a(i) if callable(a) else a, i, cwd)
        if progress:
            progress(ma)
        mb = measure(b(i) if callable(b) else b, i, cwd)
        if progress:
            progress(mb)
        out.append((ma, mb))
    return out


def ratio(x: float | None, y: float | None) -> float | None:
    return x / y if x is not None and y not in (None, 0) else None


def pair_ratios(pairs: list[tuple[Measurement, Measurement]], key: str) -> list[float | None]:
    """A / B of one figure for each pair (None where either side lacks it, e.g. a target never reached)."""
    return [ratio(a.get(key), b.get(key)) for a, b in pairs]


def median_ratio(pairs: list[tuple[Measurement, Measurement]], key: str) -> float | None:
    """Median of the pair ratios; None unless every pair has one."""
    rs = pair_ratios(pairs, key)
    return statistics.median(rs) if rs and all(r is not None for r in rs) else None


def machine() -> str:
    """The CPU model, core count and OS, and the GPUs nvidia-smi lists, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = ""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10).stdout.split("\n")
        gpus = "; GPU: " + ", ".join(g.strip() for g in out if g.strip()) if any(g.strip() for g in out) else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}{gpus}"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def header(title: str, load_before: str | None = None) -> str:
    """Title, date, machine, load average and the command line: what every table of figures needs."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loads = f"{load_before} before, {load()} after" if load_before else load()
    return "\n".join([f"## {title}", "",
                      f"- date: {now}",
                      f"- machine: {machine()}",
                      f"- load average (1, 5, 15 min): {loads}",
                      f"- command: {shlex.join([Path(sys.executable).name, *sys.argv])}", ""])


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def report(title: str, pairs: list[tuple[Measurement, Measurement]], metrics: list[Metric],
           load_before: str | None = None, note: str = "") -> str:
    """The markdown table: every run, each pair's ratio, and the median ratio of every figure."""
    metrics = [*metrics, WALL, RSS]
    a, b = pairs[0][0].side, pairs[0][1].side
    lines = [header(title, load_before)]
    if note:
        lines += [note, ""]
    lines += ["| pair | side | " + " | ".join(m.label for m in metrics) + " |",
              "| ---: | --- |" + " ---: |" * len(metrics)]
    for ma, mb in pairs:
        for m in (ma, mb):
            lines.append(f"| {m.pair} | {m.side} | " + " | ".join(_cell(m.get(x.key), x.fmt) for x in metrics) + " |")
        lines.append(f"| {ma.pair} | ratio | "
                     + " | ".join(_cell(ratio(ma.get(x.key), mb.get(x.key)), ".3f") for x in metrics) + " |")
    lines.append("| all | **median ratio** | "
                 + " | ".join(f"**{_cell(median_ratio(pairs, x.key), '.3f')}**" for x in metrics) + " |")
    lines.append("")
    which = ", ".join(f"{x.label}: {x.better} is better" for x in metrics if x.better)
    lines.append(f"{len(pairs)} pair(s), {a} then {b} in each; ratio = {a} / {b} ({which}).")
    if len(pairs) < MIN_PAIRS:
        lines.append(f"Fewer than {MIN_PAIRS} pairs: a look, not a figure to publish.")
    return "\n".join(lines)


def runs_table(title: str, runs: list[Measurement], metrics: list[Metric], load_before: str | None = None,
               note: str = "") -> str:
    """One side alone (no peer, so no ratio): each run's figures under the same header."""
    metrics = [*metrics, WALL, RSS]
    lines = [header(title, load_before)] + ([note, ""] if note else [])
    lines += ["| run | side | " + " | ".join(m.label for m in metrics) + " |",
              "| ---: | --- |" + " ---: |" * len(metrics)]
    for i, m in enumerate(runs, 1):
        lines.append(f"| {i} | {m.side} | " + " | ".join(_cell(m.get(x.key), x.fmt) for x in metrics) + " |")
    return "\n".join(lines)


def save_json(path: str | None, title: str, pairs: list[tuple[Measurement, Measurement]]) -> None:
    """Every measurement, with the date and machine, for scripts (e.g. scripts/check-docs.py)."""
    if not path:
        return
    data = {"title": title, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "command": sys.argv,
            "pairs": [[vars(m) for m in pair] for pair in pairs]}
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def add_arguments(parser, pairs: int = MIN_PAIRS) -> None:
    """The options every protocol benchmark takes."""
    parser.add_argument("--pairs", type=int, default=pairs,
                        help=f"interleaved dlf/peer pairs (default: {pairs}; at least {MIN_PAIRS} to publish)")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")


def main() -> None:
    """Self-check: a side that holds 80 MiB against one that holds little."""
    code = "import json, time; b = bytearray({n} << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.05); " \
           "print(json.dumps({{'mib': {n}}}))"
    big = Side("big", [sys.executable, "-c", code.format(n=80)])
    small = Side("small", [sys.executable, "-c", code.format(n=1)])
    before = load()
    pairs = interleave(big, small, 3)
    print(report("protocol self-check", pairs, [Metric("mib", "MiB asked", ",.0f")], before))


if __name__ == "__main__":
    main()
