"""The CLI and the run contract, end to end and in-process."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from dlf import registry
from dlf.cli import main
from dlf.config import BaseConfig
from dlf.errors import ConfigError


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_list_names_every_experiment_with_its_concept(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(registry.EXPERIMENTS)
    for line, exp in zip(out, registry.EXPERIMENTS):
        assert line.split()[0] == exp.name and exp.concept in line


@pytest.mark.parametrize("exp", registry.EXPERIMENTS, ids=lambda e: e.name)
def test_every_experiment_has_a_documented_config(exp, capsys):
    cfg_cls = exp.load().Config
    cfg = cfg_cls()
    cfg.validate()
    with pytest.raises(SystemExit) as stop:
        main(["run", exp.name, "--help"])
    assert stop.value.code == 0
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", capsys.readouterr().out).split())
    for name in cfg.to_dict():
        flag = "--" + name.replace("_", "-")
        start = min(i for i in (text.find(flag + " "), text.find(flag + ",")) if i >= 0)
        words = text[start:text.index("(default:", start)].split()
        assert len(words) >= 4, f"{flag} has no help text from a docstring: {words}"


def test_run_writes_the_contract_and_a_summary_table(tmp_path, capsys):
    out = tmp_path / "act"
    assert main(["run", "activations", "--out", str(out), "--points", "11", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "relu_max_grad_error" in printed and str(out) in printed
    assert json.loads((out / "config.json").read_text()) == {
        "experiment": "activations", "seed": 3, "z_max": 6.0, "points": 11}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows and all("step" in r for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["relu_at_2"] == 2.0
    assert list(out.glob("*.png"))


def test_same_seed_gives_the_same_summary(tmp_path):
    for name in ("a", "b"):
        assert main(["run", "activations", "--out", str(tmp_path / name), "--quiet"]) == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()


@pytest.mark.parametrize("argv, fragment", [
    (["run", "nope"], "unknown experiment 'nope'"),
    (["run", "activation"], "did you mean 'activations'"),
    (["run", "activations", "--points", "abc"], "invalid value for --points"),
    (["run", "activations", "--points", "1"], "--points must be in [3, "),
    (["run", "universality", "--device", "gpu"], "--device must be one of auto, cpu, cuda, mps (got 'gpu')"),
    (["run", "activations", "--seed", "-1"], "--seed must be in [0, "),
    (["run", "activations", "--device", "cpu"], "--device does not apply: activations computes on the CPU only"),
    (["run", "linreg", "--resume", "somewhere"], "--resume does not apply: linreg writes no checkpoints"),
    (["run", "neuron", "--data-dir", "somewhere"], "--data-dir does not apply: neuron reads no data set"),
    (["run", "mnist-mlp", "--out", ""], "--out must name a folder"),
    (["run", "mnist-mlp", "--resume", ""], "--resume must name a folder"),
    (["run", "activations", "--frobnicate", "1"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    assert fragment in one_line_error(capsys)


def test_unwritable_out_is_an_error_and_writes_nothing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", "activations", "--out", str(blocker / "run")]) == 2
    assert "cannot write to output directory" in one_line_error(capsys)
    assert blocker.read_text() == "x"


def test_out_that_holds_a_run_is_not_overwritten(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["run", "activations", "--out", out, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", "activations", "--out", out]) == 2
    assert "already holds a run" in one_line_error(capsys)


def test_resume_errors(tmp_path, capsys):
    assert main(["run", "mnist-mlp", "--resume", str(tmp_path)]) == 2
    assert "holds no config.json" in one_line_error(capsys)
    assert main(["run", "activations", "--out", str(tmp_path / "a"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", "mnist-mlp", "--resume", str(tmp_path / "a")]) == 2
    assert "is a 'activations' run" in one_line_error(capsys)
    assert main(["run", "mnist-mlp", "--resume", str(tmp_path / "a"), "--hidden", "5"]) == 2
    assert "drop --hidden" in one_line_error(capsys)


@dataclass
class _Demo(BaseConfig):
    widths: tuple[int, ...] = (1, 2)
    """Widths."""
    rate: float | None = None
    """A rate, or none."""


def test_config_round_trips_through_json_and_rejects_unknown_keys():
    cfg = _Demo(widths=(3, 4), rate=0.5)
    assert _Demo.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="unknown key"):
        _Demo.from_dict({"nope": 1})
    with pytest.raises(ConfigError, match='key "widths" must be a list'):
        _Demo.from_dict({"widths": "many"})
    with pytest.raises(ConfigError, match='key "rate" must be a number'):
        _Demo.from_dict({"rate": "fast"})
