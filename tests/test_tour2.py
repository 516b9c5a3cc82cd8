"""`dlf tour --part 2` at a tiny scale (a few steps per stop on generated data): every stop runs, the report is
one self-contained HTML page that says the budgets are small, and the run folders open in the explorer's scan."""

from __future__ import annotations

import json

import pytest

from dlf.explore.trained.scan import scan
from dlf.tour2 import STOPS, tour2
from tests.fixtures import make_mnist_fixture
from tests.run_fixtures import play_text


@pytest.mark.slow
def test_tiny_tour_part_2_writes_the_report_and_explorable_runs(tmp_path, one_torch_thread):
    data = make_mnist_fixture(tmp_path / "data", n_train=300, n_test=60)
    text = tmp_path / "play.txt"
    text.write_text(play_text(), encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(play_text(400).split()), encoding="utf-8")
    out = tmp_path / "tour2"
    report = tour2(out, scale="tiny", quiet=True, data_dir=data,
                   overrides={"char-rnn": {"text": str(text)}, "word2vec": {"corpus": str(corpus)}})
    page = report.read_text()
    assert page.count("<section>") == len(STOPS) + 1  # one per stop, and the shift comparison
    assert "Small budgets" in page and "Full budget" in page
    assert "src=\"http" not in page and "<script" not in page  # opens offline
    for stop in STOPS:
        assert stop.title in page
        assert f"dlf run {stop.experiment}" in page
        assert json.loads((out / stop.experiment / "summary.json").read_text())
    assert (out / "shift-compare.png").is_file()
    infos = scan(out)
    assert sorted(i.experiment for i in infos) == sorted(s.experiment for s in STOPS)
    assert not [i.reason for i in infos if i.reason], "every run of the tour opens in the explorer"


def test_a_missing_data_set_leaves_nothing_behind(tmp_path, monkeypatch):
    from dlf.errors import DlfError

    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/dlf either

    with pytest.raises(DlfError, match="mnist"):
        tour2(tmp_path / "t", scale="tiny", quiet=True, data_dir=tmp_path / "nothing", stops=STOPS[:1])
    assert not (tmp_path / "t").exists()


def test_cli_dispatches_part_2_report_and_explore_runs(tmp_path, monkeypatch, capsys):
    import dlf.explore.server
    import dlf.tour2
    from dlf.cli import main

    calls = {}
    monkeypatch.setattr(dlf.tour2, "tour2", lambda **kw: calls.setdefault("tour2", kw))
    monkeypatch.setattr(dlf.explore.server, "serve", lambda *a, **kw: calls.setdefault("serve", (a, kw)))
    assert main(["tour", "--part", "2", "--out", str(tmp_path / "t"), "--seed", "3"]) == 0
    assert calls["tour2"] == {"out": str(tmp_path / "t"), "seed": 3}
    assert main(["explore", "--runs", str(tmp_path)]) == 0
    assert calls["serve"][1]["runs"] == str(tmp_path)
    assert main(["tour", "--part", "3"]) == 2
    assert "--part" in capsys.readouterr().err
