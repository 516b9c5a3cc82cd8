"""Vectorised backpropagation (dlf.fundamentals.backprop) and the `backprop` experiment.

Every backward rule is checked against torch.autograd in float64 (to 1e-10) and against central finite
differences (to 1e-6), alone and composed into random networks of several shapes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from dlf.errors import ConfigError, DataError, DlfError
from dlf.experiments import backprop as experiment
from dlf.fundamentals import backprop as bp
from dlf.runner import execute

TORCH_ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def torch_grads(net: bp.MLP, act: str, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """The loss and every parameter's gradient of the same network, computed by torch.autograd in float64."""
    params = [torch.tensor(p, requires_grad=True) for p in net.params()]
    h = torch.from_numpy(x)
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        h = TORCH_ACT[act](h) if i < len(params) - 2 else h
    loss = torch.nn.functional.cross_entropy(h, torch.from_numpy(y))
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params]


def random_problem(sizes, seed, batch=7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0]))  # (B, n_in)
    y = rng.integers(0, sizes[-1], size=batch)  # (B,)
    return x, y, rng


@pytest.mark.parametrize("act", sorted(bp.ACTIVATIONS))
@pytest.mark.parametrize("sizes", [(3, 5, 2), (10, 7, 7, 4), (1, 1, 3), (20, 16, 8, 8, 10)])
def test_gradients_match_torch_autograd_in_float64(sizes, act):
    x, y, rng = random_problem(sizes, seed=len(sizes) * 10 + sizes[0])
    net = bp.MLP(sizes, act=act, rng=rng)
    loss = net.loss(x, y)
    grads = net.backward()
    ref_loss, ref_grads = torch_grads(net, act, x, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert [g.shape for g in grads] == [p.shape for p in net.params()]
    for g, ref in zip(grads, ref_grads):
        np.testing.assert_allclose(g, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("act", sorted(bp.ACTIVATIONS))
def test_gradients_match_central_finite_differences(act):
    x, y, rng = random_problem((4, 6, 3), seed=5, batch=5)
    net = bp.MLP((4, 6, 3), act=act, rng=rng)
    net.loss(x, y)
    grads = net.backward()
    h = 1e-6
    for p, g in zip(net.params(), grads):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):  # every entry of every parameter
            keep = p[i]
            p[i] = keep + h
            up = net.loss(x, y)
            p[i] = keep - h
            down = net.loss(x, y)
            p[i] = keep
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(5,), (1, 5), (4, 1), (1, 1), ()])
def test_a_broadcast_array_gets_the_sum_of_its_copies_gradients(shape):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=shape)
    g = rng.normal(size=(4, 5))  # dL/d(a + b)
    tb = torch.tensor(b, requires_grad=True)
    (torch.from_numpy(a) + tb).backward(torch.from_numpy(g))
    got = bp.unbroadcast(g, b.shape)
    assert got.shape == b.shape
    np.testing.assert_allclose(got, tb.grad.numpy(), atol=1e-12)


def test_linear_layer_rules_are_the_matrix_formulas():
    rng = np.random.default_rng(1)
    layer = bp.Linear(3, 2, rng)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer.forward(x)
    dx, (dw, db) = layer.backward(g)
    np.testing.assert_allclose(dw, x.T @ g)  # dL/dW = X^T G
    np.testing.assert_allclose(db, g.sum(axis=0))  # dL/db = sum over the batch
    np.testing.assert_allclose(dx, g @ layer.w.T)  # dL/dX = G W^T


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    y = np.array([2, 1])
    loss, g = bp.softmax_cross_entropy(z, y)
    tz = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(tz, torch.from_numpy(y))
    ref.backward()
    assert np.isfinite(loss) and loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(g, tz.grad.numpy(), atol=1e-12)


def test_training_with_the_hand_written_rules_fits_the_spiral():
    rng = np.random.default_rng(0)
    x, y = experiment.spiral(100, rng)
    net = bp.MLP((2, 64, 3), rng=rng)
    losses = bp.train(net, x, y, epochs=200, batch_size=60, lr=0.1, momentum=0.9, rng=rng)
    assert losses[-1] < 0.3 < 1.0 < losses[0]
    assert bp.accuracy(net, x, y) > 0.9  # a linear model cannot pass about 0.5 on the three arms


@pytest.mark.full_data
@pytest.mark.skipif(not os.environ.get("DLF_DATA_DIR"), reason="needs the full MNIST: set DLF_DATA_DIR")
def test_a_two_layer_net_trained_by_hand_reaches_97_percent_on_mnist():
    from dlf.data.mnist import load_mnist

    (xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
    xtr, xte = ((x.reshape(len(x), -1).numpy() / np.float32(255)).astype(np.float32) for x in (xtr, xte))
    rng = np.random.default_rng(0)
    net = bp.MLP((784, 128, 10), rng=rng, dtype=np.float32)
    bp.train(net, xtr, ytr.numpy(), epochs=4, batch_size=32, lr=0.02, momentum=0.9, rng=rng)
    assert bp.accuracy(net, xte, yte.numpy()) >= 0.97


# the experiment ---------------------------------------------------------------------------------------------
def test_experiment_losses_agree_with_autograd_at_every_step(tmp_path):
    cfg = experiment.Config(data="spiral", steps=60, hidden=32, spiral_points=100)
    run, summary = execute("backprop", cfg, tmp_path / "run", quiet=True)
    assert summary["data"] == "spiral"
    assert summary["max_loss_diff"] < 1e-12 and summary["max_weight_diff"] < 1e-12
    assert summary["steps_in_agreement"] == 60
    assert summary["final_loss_numpy"] < 0.8 * summary["initial_loss"]
    assert summary["test_accuracy_numpy"] == summary["test_accuracy_torch"]
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and all(abs(r["loss_numpy"] - r["loss_torch"]) < 1e-12 for r in rows)
    timing = json.loads((run.path / "timing.json").read_text())
    assert timing["numpy_ms_per_step"] > 0 and timing["torch_ms_per_step"] > 0
    assert (run.path / "backprop.png").stat().st_size > 0


def test_experiment_falls_back_to_the_spiral_only_when_asked_to(tmp_path, monkeypatch):
    monkeypatch.setenv("DLF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    _, summary = execute("backprop", experiment.Config(steps=2, hidden=4, spiral_points=20), tmp_path / "a",
                         quiet=True)
    assert summary["data"] == "spiral"  # auto: no MNIST here
    with pytest.raises(DataError):
        execute("backprop", experiment.Config(data="mnist", steps=2), tmp_path / "b", quiet=True)
    assert not (tmp_path / "b").exists()


def test_experiment_stops_in_one_line_when_training_diverges(tmp_path, monkeypatch):
    real, calls = bp.softmax_cross_entropy, []

    def blows_up_at_step_3(z, y):  # the options' ranges keep real runs finite; force the case
        calls.append(1)
        loss, g = real(z, y)
        return (float("inf") if len(calls) >= 3 else loss), g

    monkeypatch.setattr(bp, "softmax_cross_entropy", blows_up_at_step_3)
    cfg = experiment.Config(data="spiral", steps=20, hidden=4, spiral_points=20)
    with pytest.raises(DlfError, match="diverged at step 3: .* is inf; lower --lr"):
        execute("backprop", cfg, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("field,value", [("hidden", 0), ("lr", float("inf")), ("momentum", 1.0), ("steps", 10**12)])
def test_experiment_refuses_bad_options(field, value):
    with pytest.raises(ConfigError, match=field.replace("_", "-")):
        experiment.Config(**{field: value}).validate()


# the explorer page ------------------------------------------------------------------------------------------
def page_values(**changes):
    from dlf.explore import backprop as page
    from dlf.explore.share import defaults

    return page, {**defaults(page.FIELDS), **changes}


@pytest.mark.parametrize("hidden, act", [(2, "tanh"), (3, "sigmoid"), (4, "relu")])
def test_explorer_graph_gradients_match_torch(hidden, act):
    page, v = page_values(hidden=hidden, activation=act, x1=0.7, x2=-1.2, t=-0.4)
    g = page.build_graph(v)
    t = {name: torch.tensor(v[name], dtype=torch.float64, requires_grad=True) for name in page.PARAMS}
    x = torch.tensor([v["x1"], v["x2"]], dtype=torch.float64)
    hs = [TORCH_ACT[act](t[f"w{i}1"] * x[0] + t[f"w{i}2"] * x[1] + t[f"b{i}"]) for i in range(1, hidden + 1)]
    y = sum(t[f"v{i}"] * h for i, h in zip(range(1, hidden + 1), hs)) + t["c"]
    loss = (y - v["t"]) ** 2
    loss.backward()
    assert g.loss.data == pytest.approx(loss.item(), rel=1e-12)
    used = [p for p in page.PARAMS if p in g.nodes]
    assert len(used) == 4 * hidden + 1
    for name in used:
        assert g.nodes[name].grad == pytest.approx(t[name].grad.item(), rel=1e-10, abs=1e-12), name
    assert g.total == len(g.forward) + len(g.trace) == (2 * hidden + 2) + (8 * hidden + 2)


def test_explorer_steps_show_values_then_gradients_edge_by_edge():
    page, v = page_values()
    g = page.build_graph(v)
    f = len(g.forward)
    fig0, text0 = page.render(v, 0)
    assert 'data-step="0"' in fig0 and 'data-loss=""' in fig0 and "?" in fig0 and "∂" not in fig0
    fig_f, text_f = page.render(v, f)
    assert f'data-loss="{g.loss.data:.6g}"' in fig_f and "?" not in fig_f and "Forward pass done" in text_f
    _, first_back = page.render(v, f + 1)
    assert "dL/dL = 1" in first_back and "2 (y - t)" in first_back
    x1_edges = [k for k, (_, inp, _, _) in enumerate(g.trace) if inp.label == "x1"]
    _, mid = page.render(v, f + 1 + x1_edges[0])
    assert "x1 feeds 2 nodes" in mid  # an input used twice: its gradient is a sum
    fig_end, text_end = page.render(v, 10**9)  # the step is clamped to the events that exist
    assert f'data-step="{g.total}"' in fig_end and "Backward pass done" in text_end
    assert f"w11:{g.nodes['w11'].grad:.6g}" in fig_end


def test_explorer_update_lowers_the_loss_and_stays_in_range():
    page, v = page_values()
    new, before, after = page.apply_update(v)
    assert after < before
    assert new["w11"] != v["w11"] and new["w31"] == v["w31"]  # unit 3 is not in use with 2 hidden units
    _, v_big = page_values(lr=2.0, t=3.0, x1=3.0, x2=3.0, w11=4.99, v1=5.0)
    new_big, _, _ = page.apply_update(v_big)
    assert all(-5.0 <= new_big[p] <= 5.0 for p in page.PARAMS)
