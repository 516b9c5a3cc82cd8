"""The benchmark protocol (benchmarks/_protocol.py) on trivial commands: order, ratios, medians, peak memory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


P = load_script("benchmarks/_protocol.py", "bench_protocol")


def holder(name: str, mib: int, log: Path, value: float, nested: bool = False) -> P.Side:
    """A side that appends its name to `log`, touches `mib` MiB (in a grandchild if nested) and prints `value`."""
    touch = f"b = bytearray({mib} << 20); b[::4096] = b'x' * len(b[::4096])"
    if nested:
        touch = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {touch!r}], check=True)"
    code = (f"import json; open({str(log)!r}, 'a').write({name!r} + ' '); {touch}; "
            f"print('some noise'); print(json.dumps({{'value': {value}}}))")
    return P.Side(name, [sys.executable, "-c", code])


def test_interleaved_order_ratios_and_memory(tmp_path):
    log = tmp_path / "order.txt"
    a, b = holder("A", 120, log, 6.0), holder("B", 1, log, 2.0)
    pairs = P.interleave(a, b, 3)
    assert log.read_text().split() == ["A", "B"] * 3  # A B A B A B, never two of a side in a row
    assert [(ma.pair, ma.side, mb.side) for ma, mb in pairs] == [(1, "A", "B"), (2, "A", "B"), (3, "A", "B")]
    assert P.pair_ratios(pairs, "value") == [3.0, 3.0, 3.0]
    assert P.median_ratio(pairs, "value") == 3.0
    for ma, mb in pairs:  # 120 MiB touched shows up in the max RSS; the small side stays well below
        assert ma.peak_rss_mb > 120 > mb.peak_rss_mb + 60
        assert ma.wall_s > 0 and mb.wall_s > 0
    assert P.median_ratio(pairs, "missing") is None


def test_peak_memory_counts_the_whole_process_tree(tmp_path):
    log = tmp_path / "order.txt"
    m = P.measure(holder("nested", 150, log, 1.0, nested=True))
    assert m.peak_rss_mb > 150  # the grandchild's memory, as /usr/bin/time reports it
    assert m.result == {"value": 1.0}


def test_the_benchmark_process_own_memory_is_not_counted(tmp_path):
    ballast = bytearray(300 << 20)  # this process is large (Linux carries a parent's peak RSS into a forked child)
    ballast[::4096] = b"x" * len(ballast[::4096])
    m = P.measure(holder("small", 1, tmp_path / "order.txt", 1.0))
    assert m.peak_rss_mb < 100, m.peak_rss_mb  # what the command used, not what its launcher's parent holds
    del ballast


def test_median_of_uneven_pairs(tmp_path):
    M = P.Measurement
    pairs = [(M("dlf", i, {"s": s}, 1.0, 10.0), M("peer", i, {"s": 10.0}, 2.0, 40.0))
             for i, s in enumerate([1.0, 9.0, 4.0], 1)]
    assert P.pair_ratios(pairs, "s") == [0.1, 0.9, 0.4]
    assert P.median_ratio(pairs, "s") == 0.4
    assert P.median_ratio(pairs, "peak_rss_mb") == 0.25
    pairs[1][0].result["s"] = None  # a side that never reached its target has no ratio, so neither does the median
    assert P.pair_ratios(pairs, "s")[1] is None and P.median_ratio(pairs, "s") is None


def test_report_names_date_machine_command_and_median(tmp_path):
    log = tmp_path / "order.txt"
    pairs = P.interleave(holder("dlf", 1, log, 1.0), holder("peer", 1, log, 4.0), 2)
    text = P.report("trivial", pairs, [P.Metric("value", "seconds", ".1f")], load_before="0.0 0.0 0.0")
    assert "- date: 20" in text and "- machine: " in text and "- command: " in text
    assert "| all | **median ratio** | **0.250** |" in text
    assert "Fewer than 3 pairs" in text
    out = tmp_path / "m.json"
    P.save_json(str(out), "trivial", pairs)
    data = json.loads(out.read_text())
    assert data["machine"] and len(data["pairs"]) == 2 and data["pairs"][0][1]["result"] == {"value": 4.0}


def test_sides_may_depend_on_the_pair(tmp_path):
    log = tmp_path / "order.txt"
    pairs = P.interleave(lambda i: holder(f"A{i}", 1, log, i), holder("B", 1, log, 2.0), 3)
    assert log.read_text().split() == ["A1", "B", "A2", "B", "A3", "B"]
    assert P.pair_ratios(pairs, "value") == [0.5, 1.0, 1.5]


def test_failures_are_reported(tmp_path):
    with pytest.raises(P.BenchmarkError, match="exit 3"):
        P.measure(P.Side("bad", [sys.executable, "-c", "raise SystemExit(3)"]))
    with pytest.raises(P.BenchmarkError, match="no JSON"):
        P.measure(P.Side("mute", [sys.executable, "-c", "print('hello')"]))
    with pytest.raises(ValueError):
        P.interleave(P.Side("a", []), P.Side("b", []), 0)
