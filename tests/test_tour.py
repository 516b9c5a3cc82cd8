"""`dlf tour`, the README's main job: every stop runs and the report is one self-contained HTML file."""

from __future__ import annotations

import json

from dlf.cli import main
from dlf.tour import STOPS


def test_tour_writes_one_self_contained_report(tmp_path, capsys):
    out = tmp_path / "tour"
    assert main(["tour", "--out", str(out)]) == 0
    report = out / "report.html"
    assert str(report) in capsys.readouterr().out
    page = report.read_text()
    assert page.count("<section>") == len(STOPS)
    assert page.count('src="data:image/png;base64,') >= len(STOPS)
    assert "src=\"http" not in page and "<script" not in page  # opens offline, nothing fetched
    for stop in STOPS:
        assert stop.title in page
        summary = json.loads((out / stop.experiment / "summary.json").read_text())
        assert summary
    assert json.loads((out / "linreg" / "summary.json").read_text())["rel_diff"] < 1e-4
