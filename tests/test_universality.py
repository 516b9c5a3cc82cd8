"""The one-hidden-layer network, its fit, and the `universality` experiment."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dlf.cli import main
from dlf.errors import ConfigError
from dlf.experiments.universality import Config
from dlf.fundamentals import universality as uni
from dlf.fundamentals.expr import parse_target
from dlf.runner import execute

ACTS = ("sigmoid", "tanh", "relu")
REFERENCE = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}  # torch's own, as ground truth


def _random_model(width: int, activation: str, seed: int = 0) -> uni.OneHiddenLayer:
    gen = torch.Generator().manual_seed(seed)
    model = uni.OneHiddenLayer(width, activation)
    model.spread_kinks((-2.0, 2.0), gen)
    with torch.no_grad():
        model.v.copy_(torch.randn(width, generator=gen, dtype=torch.float64))
        model.c.fill_(0.3)
    return model


@pytest.mark.parametrize("activation", ACTS)
def test_contributions_are_the_formula_and_sum_to_the_output(activation):
    model = _random_model(7, activation)
    x = torch.linspace(-2.5, 2.5, 101, dtype=torch.float64)
    parts = model.contributions(x)
    assert parts.shape == (101, 7)
    for j in range(7):  # v_j * act(w_j x + b_j), unit by unit, with torch's activation
        expected = model.v[j] * REFERENCE[activation](model.w[j] * x + model.b[j])
        torch.testing.assert_close(parts[:, j], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(parts.sum(-1) + model.c, model(x), rtol=1e-12, atol=1e-12)


def test_spread_kinks_puts_one_switch_at_each_evenly_spaced_point():
    model = _random_model(4, "tanh")
    torch.testing.assert_close(model.kinks(), torch.tensor([-1.5, -0.5, 0.5, 1.5], dtype=torch.float64))


@pytest.mark.parametrize("activation", ACTS)
def test_rescale_changes_the_units_not_the_function(activation):
    model = _random_model(5, activation)
    u = torch.linspace(-1, 1, 41, dtype=torch.float64)
    before = model(u).detach()
    model.rescale(x_shift=3.0, x_scale=2.0, y_shift=-1.0, y_scale=10.0)
    x = 3.0 + 2.0 * u
    torch.testing.assert_close(model(x).detach(), 10.0 * before - 1.0, rtol=1e-12, atol=1e-12)


def test_errors_of_an_exact_network_and_of_a_shifted_one():
    model = uni.OneHiddenLayer(2, "relu")  # |x| = relu(x) + relu(-x)
    with torch.no_grad():
        model.w.copy_(torch.tensor([1.0, -1.0]))
        model.v.copy_(torch.tensor([1.0, 1.0]))
    abs_target = parse_target("abs")
    assert uni.errors(model, abs_target, (-2.0, 3.0)) == {"max_error": 0.0, "rms_error": 0.0}
    with torch.no_grad():
        model.c.fill_(0.25)
    err = uni.errors(model, abs_target, (-2.0, 3.0))
    assert err["max_error"] == pytest.approx(0.25, abs=1e-15) and err["rms_error"] == pytest.approx(0.25, abs=1e-15)


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.mark.parametrize("activation", ACTS)
def test_error_on_sin_falls_as_the_width_grows(activation):
    target, widths, rms = parse_target("sin"), (2, 4, 8, 32), {}
    for width in widths:
        gen = torch.Generator().manual_seed(0)
        model, _ = uni.fit(target, width, activation, steps=100, points=128, generator=gen)
        rms[width] = uni.errors(model, target, (-np.pi, np.pi))["rms_error"]
    assert rms[32] < rms[2] / 4 and rms[32] < rms[4] / 4, rms
    assert _spearman(widths, [rms[w] for w in widths]) < 0, rms


@pytest.mark.parametrize("optimizer", uni.OPTIMIZERS)
def test_every_optimizer_lowers_the_training_error(optimizer):
    gen = torch.Generator().manual_seed(0)
    _, curve = uni.fit(parse_target("gauss"), 6, "tanh", steps=40, lr=0.01, optimizer=optimizer, points=64,
                       generator=gen)
    assert curve.shape == (41,) and np.all(np.isfinite(curve))
    assert curve[-1] < curve[0]


def test_fit_does_not_depend_on_the_units_of_the_target():
    def fit_rms(text: str) -> float:
        target = parse_target(text)
        model, _ = uni.fit(target, 8, "tanh", steps=30, points=64, generator=torch.Generator().manual_seed(0))
        return uni.errors(model, target, (-np.pi, np.pi))["rms_error"]

    assert fit_rms("100*sin(x) + 50") == pytest.approx(100 * fit_rms("sin(x)"), rel=1e-6)


def test_divergence_is_a_config_error():
    with pytest.raises(ConfigError, match="diverged"):
        uni.fit(parse_target("sin"), 8, "tanh", steps=50, lr=1e4, optimizer="sgd", points=32)


def _small(**changes) -> Config:
    return Config(widths=(1, 4), steps=10, points=32, **changes)


def test_experiment_writes_the_contract_and_repeats_itself(tmp_path):
    run_a, summary = execute("universality", _small(), out=tmp_path / "a", quiet=True)
    names = {p.name for p in run_a.path.iterdir()}
    assert {"config.json", "metrics.jsonl", "summary.json", "timing.json", "fits.png", "error_vs_width.png",
            "contributions.png"} <= names
    rows = run_a.read_metrics()
    assert [(r["activation"], r["width"]) for r in rows] == [(a, w) for a in ACTS for w in (1, 4)]
    for a in ACTS:
        for w in (1, 4):
            assert summary[f"{a}_w{w}_max_error"] >= summary[f"{a}_w{w}_rms_error"] > 0
    execute("universality", _small(), out=tmp_path / "b", quiet=True)
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()


def test_cli_fits_a_typed_expression(tmp_path):
    out = tmp_path / "run"
    code = main(["run", "universality", "--target", "sin(3*x) + x**2", "--widths", "1", "4", "--activations",
                 "relu", "--steps", "5", "--points", "32", "--interval", "-1", "2", "--out", str(out), "--quiet"])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["target"] == "sin(3*x) + x**2" and config["interval"] == [-1.0, 2.0]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"relu_w1_max_error", "relu_w1_rms_error", "relu_w4_max_error", "relu_w4_rms_error",
                            "relu_rms_loglog_slope"}


@pytest.mark.parametrize(
    "args",
    [["--widths", "0", "4"], ["--widths", "4", "4"], ["--activations", "softplus"], ["--interval", "1", "-1"],
     ["--optimizer", "rmsprop"], ["--target", "nosuchpreset"], ["--target", "1/x", "--interval", "-1", "1"]],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args):
    out = tmp_path / "run"
    assert main(["run", "universality", *args, "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not out.exists()
