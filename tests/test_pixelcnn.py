"""PixelCNN: the masks, the autoregressive property through gradients, sampling and completion, the experiment."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from dlf.cli import main
from dlf.experiments import pixelcnn as exp
from dlf.models.pixelcnn import PIXELS, MaskedConv2d, PixelCNN, causal_mask
from dlf.runner import execute
from tests.fixtures import make_mnist_fixture
from tests.helpers import execute_until_checkpoint, without_speed


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Sampling runs 784 tiny forward passes: on busy cores a second thread only adds waiting (30x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_mnist_fixture(tmp_path_factory.mktemp("mnist"), n_train=200, n_test=40)


def small(**changes) -> exp.Config:
    base = dict(channels=8, blocks=2, epochs=4, batch_size=20, lr=1e-2, samples=4, completions=2, val_size=20,
                device="cpu", log_every=5, ckpt_every=10, schedule="constant")
    return exp.Config(**{**base, **changes})


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    return execute("pixelcnn", small(), tmp_path_factory.mktemp("runs") / "full", data_dir=data, quiet=True)


def test_masks_a_and_b():
    a, b = causal_mask(3, "A"), causal_mask(3, "B")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    a7, b7 = causal_mask(7, "A"), causal_mask(7, "B")
    assert a7.shape == b7.shape == (7, 7)
    assert a7.sum() == 3 * 7 + 3 and b7.sum() == 3 * 7 + 4  # three full rows above, then the centre row
    assert (b7 - a7).nonzero().tolist() == [[3, 3]], "A and B differ in the centre tap only"
    conv = MaskedConv2d(2, 5, 7, "A")
    assert conv.weight.shape == (5, 2, 7, 7) and conv.mask.shape == (1, 1, 7, 7)
    assert "mask" not in conv.state_dict(), "the mask is rebuilt, not stored in checkpoints"
    assert conv(torch.zeros(3, 2, 28, 28)).shape == (3, 5, 28, 28)
    with pytest.raises(ValueError, match="'A' or 'B'"):
        causal_mask(3, "C")
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2d(1, 1, 4, "B")


@pytest.mark.parametrize("kind", ["plain", "bottleneck"])
def test_logit_i_depends_only_on_pixels_before_i(kind):
    torch.manual_seed(0)
    model = PixelCNN(channels=8, blocks=4, block=kind).double()
    x = torch.bernoulli(torch.full((2, 1, 28, 28), 0.3, dtype=torch.float64)).requires_grad_()
    logits = model(x).flatten(1)  # (2, 784)
    for i in (0, 1, 27, 28, 29, 300, 405, 783):
        (grad,) = torch.autograd.grad(logits[0, i], x, retain_graph=True)
        g = grad[0, 0].flatten()  # (784,) d logit_i / d x_j
        assert torch.all(g[i:] == 0), f"logit {i} sees pixel {i + int((g[i:] != 0).nonzero()[0])}"
        assert torch.all(grad[1] == 0), "images in a batch do not mix"
        if i == 0:
            assert torch.all(g == 0), "the first pixel's logit is a constant"
            continue
        if i % 28:
            assert g[i - 1] != 0, "the pixel to the left is seen"
        if i >= 28:
            assert g[i - 28] != 0, "the pixel above is seen"


@pytest.mark.parametrize("mask", ["none", "top half", "scattered"])
def test_each_sampled_pixel_follows_the_full_forward_pass(mask):
    """The row-cached sampler draws x_i = [u_i < sigmoid(logit_i(x))] with logit_i from one full pass over x."""
    torch.manual_seed(4)
    model = PixelCNN(channels=6, blocks=2, block="bottleneck").double()
    keep = {"none": torch.zeros(PIXELS, dtype=torch.bool), "top half": exp.top_half_mask(),
            "scattered": torch.rand(PIXELS) < 0.5}[mask]  # scattered: whole rows and row ends are given too
    given = torch.bernoulli(torch.full((2, PIXELS), 0.5))
    x = model.sample(2, torch.Generator().manual_seed(5), given=given, mask=keep)
    u = torch.rand(2, PIXELS, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        p = torch.sigmoid(model(x.double().view(-1, 1, 28, 28))).flatten(1)  # (2, 784)
    assert torch.equal(x[:, ~keep], (u < p).float()[:, ~keep])
    assert torch.equal(x[:, keep], given[:, keep])


def test_nll_is_the_bernoulli_likelihood_in_nats():
    torch.manual_seed(2)
    model = PixelCNN(channels=4, blocks=1)
    x = torch.bernoulli(torch.full((5, PIXELS), 0.2))
    p = torch.sigmoid(model(x.view(-1, 1, 28, 28))).flatten(1)
    expected = -(x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    assert torch.allclose(model.nll(x), expected, rtol=1e-4)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.zero_()
                layer.bias.zero_()
    assert torch.allclose(model.nll(x), torch.full((5,), PIXELS * math.log(2)))  # p = 1/2: one bit per pixel


def test_samples_are_binary_deterministic_and_completions_keep_the_given_half():
    torch.manual_seed(3)
    model = PixelCNN(channels=4, blocks=1)
    draw = lambda seed, **kw: model.sample(3, torch.Generator().manual_seed(seed), **kw)  # noqa: E731
    a, b = draw(0), draw(0)
    assert a.shape == (3, PIXELS) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b), "the same generator seed draws the same images"
    given = torch.bernoulli(torch.full((3, PIXELS), 0.5))
    out = draw(0, given=given, mask=exp.top_half_mask())
    assert torch.equal(out[:, :392], given[:, :392]), "the top half is kept"
    assert not torch.equal(out[:, 392:], given[:, 392:]), "the bottom half is drawn"
    assert model.training, "sampling leaves the model's mode as it was"
    with pytest.raises(ValueError, match="mask"):
        model.sample(1, given=given[:1])


def test_tiny_pixelcnn_learns(finished):
    run, summary = finished
    losses = [r["train_loss"] for r in run.read_metrics() if "train_loss" in r]
    assert losses[0] > 300 and losses[-1] < 0.6 * losses[0], losses  # from ~543 nats (p = 1/2 everywhere)
    assert summary["steps"] == 4 * (200 // 20)
    assert summary["test_bits_per_dim"] == pytest.approx(summary["test_nll_nats"] / (784 * math.log(2)))
    assert 0 < summary["test_nll_nats"] < 0.6 * losses[0]
    assert summary["parameters"] == sum(p.numel() for p in PixelCNN(8, 2, "plain").parameters())
    assert {p.name for p in run.path.glob("*.png")} == {"curves.png", "samples.png", "completions.png"}
    val = [r["val_loss"] for r in run.read_metrics() if "val_loss" in r]
    assert len(val) == 4 and val[-1] < val[0], "scored once per epoch on the first 20 test images"


def test_exact_resume(data, finished, tmp_path):
    run, _ = finished
    # no figures drawn at the end: training and scores are what must match
    execute_until_checkpoint("pixelcnn", small(samples=0, completions=0), tmp_path / "cut", step=20, data_dir=data)
    assert not (tmp_path / "cut" / "summary.json").exists()
    execute("pixelcnn", resume=tmp_path / "cut", data_dir=data, quiet=True)
    summaries = [json.loads((path / "summary.json").read_text()) for path in (run.path, tmp_path / "cut")]
    assert summaries[0] == summaries[1]
    assert without_speed(run.read_metrics()) == without_speed(type(run)(tmp_path / "cut").read_metrics())


def test_dlf_sample_writes_a_png_and_repeats_for_a_seed(finished, tmp_path, capsys):
    run, _ = finished
    outs = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for out, seed in zip(outs, (1, 1, 2)):
        assert main(["sample", str(run.path), "--n", "4", "--seed", str(seed), "--out", str(out)]) == 0
    assert outs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()
    assert "4 samples from step-00000040" in capsys.readouterr().out


def test_sampling_a_run_without_checkpoints_is_one_line(finished, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished[0].path, copy)
    shutil.rmtree(copy / "checkpoints")
    assert main(["sample", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no checkpoint" in err[0] and "dlf run pixelcnn" in err[0]


@pytest.mark.parametrize("option, value, fragment", [
    ("--channels", "0", "--channels must be in [1,"),
    ("--blocks", "-1", "--blocks must be in [0,"),
    ("--samples", "-2", "--samples must be in [0,"),
    ("--train-size", "-5", "--train-size must be in [0,"),
])
def test_bad_config_is_one_line_and_exit_2(option, value, fragment, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "pixelcnn", option, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not out.exists()


def test_a_batch_larger_than_the_data_is_one_line(data, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "pixelcnn", "--train-size", "10", "--batch-size", "64", "--out", str(out), "--data-dir", str(data)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "larger than the 10 training examples" in err[0]
    assert not out.exists()
