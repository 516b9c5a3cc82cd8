"""`dlf report` and the headline: one self-contained HTML page over runs, with the command that reproduces each."""

from __future__ import annotations

import json
import shlex

import pytest

from dlf.cli import main
from dlf.report import command, headline
from dlf.rundir import format_summary


@pytest.fixture(scope="module")
def runs(tiny_runs):
    return tiny_runs.get("mnist-mlp", "mnist-cnn")


def test_headline_says_the_main_figure_the_length_and_the_time_in_words():
    line = headline("mnist-cnn", {"test_accuracy": 0.99214, "steps": 940}, {"wall_time_s": 81.3}, {"epochs": 2.0})
    assert line == "test accuracy 99.21% after 2 epochs, 81 s"
    assert headline("char-rnn", {"val_bpc": 1.4567, "steps": 10, "epochs_done": 0.5}) == \
        "validation loss 1.457 bits per character after 0.5 epochs"
    assert headline("neuron", {}, {"wall_time_s": 1200}) == "neuron finished, 20 min"
    assert headline("mnist-mlp", {"test_accuracy": 0.5, "steps": 5}, None, {"epochs": 8.0, "max_steps": 5}) == \
        "test accuracy 50.00% after 5 steps"  # a dry run is not called 8 epochs


def test_the_summary_table_leads_with_the_headline():
    text = format_summary({"test_accuracy": 0.5, "steps": 3}, {"wall_time_s": 2.0}, "mnist-mlp", {"epochs": 1.0})
    first, *rest = text.splitlines()
    assert first.strip() == "test accuracy 50.00% after 1 epoch, 2 s"
    assert any("test_accuracy" in r for r in rest)
    assert format_summary({"a": 1.0}).strip() == "a  1"  # no experiment given: the table alone, as before


def test_command_names_every_changed_option_and_reproduces_the_config(runs):
    cfg = json.loads((runs["mnist-cnn"] / "config.json").read_text())
    cmd = command(cfg)
    assert cmd.startswith("dlf run mnist-cnn ") and "--width 4" in cmd and "--epochs 2.0" in cmd
    from dlf.experiments import mnist_cnn

    default = mnist_cnn.Config().to_dict()
    changed = {k for k, v in cfg.items() if k != "experiment" and default.get(k) != v}
    flags = {a[2:].replace("-", "_") for a in shlex.split(cmd) if a.startswith("--")}
    assert flags == changed, "exactly the options that differ from the defaults"


def test_report_is_one_offline_page_with_headlines_figures_commands_and_a_comparison(runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(runs["mnist-mlp"]), str(runs["mnist-cnn"]), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text()
    assert page.count("<section>") == 3  # two runs and the comparison
    assert "Comparison" in page and page.count('class="num best"') >= 1
    assert page.count('src="data:image/png;base64,') >= 2
    assert "src=\"http" not in page and "<script" not in page
    for name in ("mnist-mlp", "mnist-cnn"):
        assert f"dlf run {name}" in page
    assert "test accuracy" in page and "share of test images classified correctly" in page


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "no config.json"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text('{"experiment": "vae"}')), "has not finished"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{oops")), "damaged"),
])
def test_bad_run_folders_are_one_line_errors_and_nothing_is_written(tmp_path, capsys, make, message):
    bad = tmp_path / "bad"
    make(bad)
    out = tmp_path / "r.html"
    assert main(["report", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_out_must_be_an_html_file_in_an_existing_folder(runs, tmp_path, capsys):
    assert main(["report", str(runs["mnist-mlp"]), "--out", str(tmp_path / "r.txt")]) == 2
    assert main(["report", str(runs["mnist-mlp"]), "--out", str(tmp_path / "no" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
