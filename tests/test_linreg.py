"""Linear regression: closed form against numpy, gradient descent against the closed form, and the three
first-half experiments (linreg, neuron, gradient-descent) end to end under the run contract."""

import json

import numpy as np
import pytest
import torch

from dlf import cli
from dlf.errors import DataError
from dlf.experiments import gradient_descent as gd_exp
from dlf.experiments import linreg as linreg_exp
from dlf.experiments import neuron as neuron_exp
from dlf.fundamentals import linreg
from dlf.runner import execute

D = torch.float64


def _numpy_lstsq(x, y):
    a = np.c_[x.numpy(), np.ones(x.shape[0])]
    theta = np.linalg.lstsq(a, y.numpy(), rcond=None)[0]
    return theta[:-1], theta[-1]


def test_closed_form_equals_numpy_lstsq_on_a_line():
    x, y = linreg.make_line(50, torch.Generator().manual_seed(0), w=-3.0, b=2.0, noise=0.3)
    w, b = linreg.closed_form(x, y)
    w_np, b_np = _numpy_lstsq(x, y)
    np.testing.assert_allclose(w.numpy(), w_np, rtol=1e-12)
    assert b == pytest.approx(b_np, rel=1e-12)
    assert abs(float(w[0]) + 3.0) < 0.2  # and it recovers the line the data came from


def test_closed_form_equals_numpy_lstsq_multivariate_offset_and_chunked():
    x, y, _ = linreg.make_multivariate(300, 6, torch.Generator().manual_seed(1))
    x = x * torch.arange(1, 7, dtype=D) + 100.0  # large means and mixed scales: centring matters
    w_np, b_np = _numpy_lstsq(x, y)
    for chunk in (7, 1_000_000):
        w, b = linreg.closed_form(x, y, chunk_rows=chunk)
        np.testing.assert_allclose(w.numpy(), w_np, rtol=1e-9, atol=1e-12)
        assert b == pytest.approx(b_np, rel=1e-9)


def test_collinear_features_are_a_data_error():
    x, y, _ = linreg.make_multivariate(20, 2, torch.Generator().manual_seed(2))
    with pytest.raises(DataError, match="linearly dependent"):
        linreg.closed_form(torch.cat([x, 2 * x[:, :1]], dim=1), y)


@pytest.mark.parametrize("features", [1, 5])
def test_gradient_descent_reaches_closed_form_within_1e_4(features):
    x, y, _ = linreg.make_multivariate(200, features, torch.Generator().manual_seed(3))
    w_cf, b_cf = linreg.closed_form(x, y)
    w, b, hist = linreg.fit_gd(x, y, lr=0.5 * linreg.stable_lr(x), epochs=5000, tol=1e-10,
                               generator=torch.Generator())
    assert hist.converged
    assert linreg.rel_diff(w, b, w_cf, b_cf) < 1e-4


SMALL = {
    "linreg": linreg_exp.Config(points=30, multi_points=40, features=3, max_steps=3000),
    "neuron": neuron_exp.Config(points=40, steps=150),
    "gradient-descent": gd_exp.Config(points=200, features=2, epochs=3, lr=0.1, sgd_lr=0.1, minibatch_lr=0.1,
                                      records_per_epoch=10),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_experiment_runs_end_to_end_and_is_reproducible(name, tmp_path):
    runs = [execute(name, SMALL[name], out=tmp_path / f"run{i}", quiet=True) for i in (1, 2)]
    path = runs[0][0].path
    for file in ("config.json", "metrics.jsonl", "summary.json"):
        assert (path / file).stat().st_size > 0
    assert list(path.glob("*.png"))
    assert json.loads((path / "config.json").read_text())["experiment"] == name
    assert (path / "metrics.jsonl").read_text().count("\n") >= 3
    assert (path / "summary.json").read_text() == (tmp_path / "run2" / "summary.json").read_text()
    summary = runs[0][1]
    if name == "linreg":
        assert summary["rel_diff"] < 1e-4 and summary["multi_rel_diff"] < 1e-4
        assert summary["converged"] == 1 and summary["multi_converged"] == 1
        keys = {"closed_form_w", "closed_form_b", "gd_w", "gd_b", "multi_gd_w_2", "multi_closed_form_w_0"}
        assert keys <= set(summary)
    elif name == "neuron":
        assert summary["train_accuracy"] == 1.0
        assert summary["final_loss"] < summary["initial_loss"]
    else:
        for key in ("full", "sgd", "minibatch"):
            assert summary[f"{key}_final_loss"] >= summary["optimal_loss"] * (1 - 1e-12)
        assert summary["sgd_steps"] == 200 * 3 and summary["full_steps"] == 3 and summary["minibatch_steps"] == 7 * 3
        # per example, SGD gets there first; full batch (3 steps in 3 epochs) does not get there at all
        assert summary["sgd_examples_to_target"] < summary["minibatch_examples_to_target"]
        assert summary["full_examples_to_target"] is None
        assert summary["minibatch_final_loss"] < summary["full_final_loss"]
        assert set(runs[0][0].timing) >= {"full_s", "sgd_s", "minibatch_s"}


@pytest.mark.parametrize("name, option, value", [("linreg", "--lr", "-1"), ("neuron", "--margin", "0"),
                                                 ("gradient-descent", "--batch-size", "5000")])
def test_bad_option_exits_2_with_one_line(name, option, value, tmp_path, capsys):
    assert cli.main(["run", name, option, value, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err
    assert not (tmp_path / "r").exists()


def test_too_large_lr_is_reported_not_silent(tmp_path, capsys):
    cfg = linreg_exp.Config(points=30, multi_points=40, features=3, lr=0.5, max_steps=3000)
    _, summary = execute("linreg", cfg, out=tmp_path / "r", quiet=True)
    err = capsys.readouterr().err
    assert "stability limit" in err and "--lr 0.5" in err
    assert summary["converged"] == 0 and summary["lr_stable_limit"] < 0.5
