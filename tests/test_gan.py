"""GAN losses, the Parzen window and the Fréchet distance against hand-computed cases, the experiment end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dlf.cli import main
from dlf.experiments import _sample_metrics as M
from dlf.experiments import gan as exp
from dlf.models.gan import GAN, discriminator_loss, generator_loss
from dlf.runner import execute
from tests.fixtures import make_mnist_fixture
from tests.helpers import execute_until_checkpoint


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_mnist_fixture(tmp_path_factory.mktemp("mnist"), n_train=300, n_test=60)


def small(**changes) -> exp.Config:
    base = dict(z_dim=8, g_hidden=64, d_hidden=32, pieces=2, channels=4, epochs=4, batch_size=25, lr=1e-3,
                val_size=50, parzen_samples=100, parzen_val=20, snapshot_every=5, device="cpu", log_every=4,
                ckpt_every=8, classifier_epochs=1.0)
    return exp.Config(**{**base, **changes})


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    return execute("gan", small(), tmp_path_factory.mktemp("runs") / "full", data_dir=data, quiet=True)


# the Parzen window -----------------------------------------------------------------------------------------------

def test_parzen_matches_hand_computed_mixtures():
    # 1-D: windows at 0 and 1, sigma 1/2, x = 1/2: both at distance 1/2, p = N(1/2; 0, 1/4) = e^(-1/2) / sqrt(pi/2)
    ll = M.parzen_log_likelihood(torch.tensor([[0.5]]), torch.tensor([[0.0], [1.0]]), [0.5])
    assert ll.item() == pytest.approx(-0.5 - 0.5 * math.log(math.pi / 2), abs=1e-12)
    # 2-D: windows at (0, 0) and (3, 4), sigma 1, x = (0, 0): p = (1 + e^(-25/2)) / 2 / (2 pi)
    ll = M.parzen_log_likelihood(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0], [3.0, 4.0]]), [1.0, 2.0])
    by_hand = [math.log((1 + math.exp(-12.5)) / 2 / (2 * math.pi)),
               math.log((1 + math.exp(-25 / 8)) / 2 / (2 * math.pi * 4))]
    assert ll[0].tolist() == pytest.approx(by_hand, abs=1e-12)


def test_parzen_equals_a_gaussian_mixture_in_chunks():
    g = torch.Generator().manual_seed(0)
    samples, x = torch.randn(30, 5, generator=g), torch.randn(17, 5, generator=g)
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(30)),
        torch.distributions.Independent(torch.distributions.Normal(samples.double(), 0.3), 1))
    ll = M.parzen_log_likelihood(x, samples, [0.3], chunk=4)[:, 0]  # 17 rows in 5 uneven chunks
    assert torch.allclose(ll, mix.log_prob(x.double()), atol=1e-9)


def test_sigma_is_chosen_on_validation_points():
    g = torch.Generator().manual_seed(0)
    true = float(M.PARZEN_SIGMAS[3])  # 0.215
    centres = torch.rand(40, 30, generator=g, dtype=torch.float64)  # the "samples"
    draw = lambda n: centres[torch.randint(40, (n,), generator=g)] + true * torch.randn(n, 30, generator=g)  # noqa: E731
    result = M.parzen_evaluate(centres, draw(400), draw(300))
    assert result["sigma"] == pytest.approx(true)
    assert max(result["val_curve"]) == result["val_ll"] == result["val_curve"][3]
    exact = M.parzen_log_likelihood(draw(1), centres, [true])  # the same sort of number
    assert abs(result["ll"] - exact.item()) < 30 and 0 < result["se"] < 2
    with pytest.raises(Exception, match="at least one sample"):
        M.parzen_evaluate(centres[:0], centres, centres)


# the Fréchet distance ----------------------------------------------------------------------------------------------

def test_frechet_distance_known_cases():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    v1, v2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([4.0, 1.0, 0.25])
    # diagonal: ||mu1 - mu2||^2 + sum (sqrt(v1) - sqrt(v2))^2 = 5 + (1 + 1 + 0)
    assert M.frechet_distance(mu1, torch.diag(v1), mu2, torch.diag(v2)) == pytest.approx(7.0, abs=1e-9)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T, b @ b.T  # s2 is singular
    assert M.frechet_distance(mu1[:1].expand(6), s1, mu1[:1].expand(6), s1) == pytest.approx(0.0, abs=1e-6)
    scipy_linalg = pytest.importorskip("scipy.linalg")
    cross = scipy_linalg.sqrtm((s1 @ s2).numpy()).real.trace()
    want = float(s1.trace() + s2.trace()) - 2 * cross
    assert M.frechet_distance(torch.zeros(6), s1, torch.zeros(6), s2) == pytest.approx(want, rel=1e-6)
    f = torch.randn(500, 3, generator=g)
    assert M.frechet_distance_of(f, f) == pytest.approx(0.0, abs=1e-6)
    assert M.frechet_distance_of(f, f + 2) == pytest.approx(12.0, rel=1e-6)  # a shift by (2, 2, 2)


def test_digit_shares_and_entropy():
    share, bits = M.digit_shares(torch.arange(10).repeat(3))
    assert torch.allclose(share, torch.full((10,), 0.1, dtype=torch.float64)) and bits == pytest.approx(math.log2(10))
    share, bits = M.digit_shares(torch.tensor([3, 3, 3, 7]))
    assert share[3] == 0.75 and share[7] == 0.25 and share.sum() == 1
    assert bits == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    assert M.digit_shares(torch.full((5,), 2))[1] == 0.0


# the models and their losses ---------------------------------------------------------------------------------------

def test_losses_are_the_cross_entropies():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    s = torch.sigmoid
    want_d = -(s(real).log().mean() + (1 - s(fake)).log().mean())
    assert discriminator_loss(real, fake).item() == pytest.approx(want_d.item(), rel=1e-6)
    assert generator_loss(fake).item() == pytest.approx(-s(fake).log().mean().item(), rel=1e-6)
    assert discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2 * math.log(2))
    assert torch.isfinite(generator_loss(torch.tensor([-200.0]))), "stable where D rejects the sample outright"


@pytest.mark.parametrize("arch", ["fc", "dcgan"])
def test_shapes_and_each_player_learns_against_a_fixed_opponent(arch, data):
    from dlf.data.mnist import load_mnist

    torch.manual_seed(0)
    gan = GAN(arch, z_dim=8, g_hidden=32, d_hidden=16, pieces=2, channels=4)
    real = exp.pixels(load_mnist("train", data)[0][:64])
    z = gan.noise(64)
    fake = gan.generator(z).detach()
    assert fake.shape == (64, 784) and fake.min() >= 0 and fake.max() <= 1
    assert gan.discriminator(real).shape == (64,)
    opt = torch.optim.Adam(gan.discriminator.parameters(), 1e-3)
    losses = []
    for _ in range(30):  # D alone, real against the same fake batch
        opt.zero_grad()
        loss = discriminator_loss(gan.discriminator(real), gan.discriminator(fake))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], "D learns to tell the fixed fakes apart"
    opt = torch.optim.Adam(gan.generator.parameters(), 1e-3)
    g_losses = []
    for _ in range(30):  # G alone, against the D it just lost to (D's weights stay; its dropout and BN as in training)
        opt.zero_grad()
        loss = generator_loss(gan.discriminator(gan.generator(z)))
        loss.backward()
        opt.step()
        g_losses.append(loss.item())
    assert sum(g_losses[-5:]) < 0.75 * sum(g_losses[:5]), "G learns to fool the fixed D"


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="choose fc or dcgan"):
        GAN("mlp")


# the experiment ----------------------------------------------------------------------------------------------------

def test_tiny_fc_run_writes_everything(finished):
    from PIL import Image

    run, summary = finished
    for key in ("parzen_test_ll", "parzen_test_ll_se", "fd_classifier", "fd_real_reference", "digit_entropy_bits",
                "d_loss", "g_loss", "d_real", "d_fake"):
        assert math.isfinite(summary[key]), key
    assert summary["steps"] == 4 * (250 // 25) and summary["train_images"] == 250 and summary["test_images"] == 60
    assert min(abs(summary["parzen_sigma"] - s) for s in M.PARZEN_SIGMAS.tolist()) < 1e-12
    assert {p.name for p in run.path.glob("*.png")} == {"curves.png", "parzen.png", "digits.png", "samples.png"}
    snaps = sorted((run.path / "snapshots").glob("*.png"))
    assert [p.name for p in snaps] == [f"step-{s:08d}.png" for s in range(0, 41, 5)]
    with Image.open(snaps[0]) as first, Image.open(snaps[-1]) as last, Image.open(run.path / "progress.gif") as gif:
        assert first.size == last.size == gif.size, "every frame of the GIF is a snapshot, unscaled"
        assert gif.n_frames == summary["gif_frames"] == 9
        gif.seek(gif.n_frames - 1)
        assert np.array_equal(np.asarray(gif.convert("L")), np.asarray(last.convert("L")))
    assert (run.path / "classifier" / "config.json").exists(), "the feature CNN is kept as an mnist-cnn run"
    rows = [r for r in run.read_metrics() if "train_d_loss" in r]
    assert rows and all(math.isfinite(r["train_g_loss"]) for r in rows)
    assert abs(rows[0]["train_d_loss"] - 2 * math.log(2)) < 0.3, "D starts out guessing"


@pytest.fixture(scope="module")
def feature_cnn(data, tmp_path_factory) -> Path:
    """An mnist-cnn run on the fixture digits (about 80% test accuracy), whose features the FD tests use."""
    from dlf.experiments import mnist_cnn

    cfg = mnist_cnn.Config(width=4, max_steps=30, batch_size=50, augment=False, device="cpu")
    run, _ = execute("mnist-cnn", cfg, tmp_path_factory.mktemp("runs") / "cnn", data_dir=data, quiet=True)
    return run.path


def test_training_brings_the_samples_closer_to_the_data(feature_cnn, data, tmp_path):
    """The same scores after 1 step and after 100 (same feature CNN, same seed): the Fréchet distance to the test
    images falls by a fifth or more (by 40% or so when this was written), and the Parzen log-likelihood of the
    test images rises by hundreds of nats."""
    scores = {}
    for name, steps in (("start", dict(max_steps=1)), ("trained", dict(epochs=10))):
        cfg = small(g_hidden=128, d_hidden=64, lr=2e-3, ema=0.0, snapshot_every=0, classifier=str(feature_cnn), **steps)
        scores[name] = execute("gan", cfg, tmp_path / name, data_dir=data, quiet=True)[1]
    start, trained = scores["start"], scores["trained"]
    assert trained["steps"] == 100 and start["fd_real_reference"] == trained["fd_real_reference"]
    assert trained["classifier_test_accuracy"] > 0.6, "features of a CNN that reads the digits"
    assert trained["fd_classifier"] < 0.8 * start["fd_classifier"], (start["fd_classifier"], trained["fd_classifier"])
    assert trained["parzen_test_ll"] > start["parzen_test_ll"] + 200
    assert trained["fd_real_reference"] < trained["fd_classifier"], "real images stay closer than generated ones"


def test_resume_is_exact_with_both_optimizers(finished, data, tmp_path):
    run, _ = finished
    execute_until_checkpoint("gan", small(), tmp_path / "cut", step=16, data_dir=data)
    ckpt = tmp_path / "cut" / "checkpoints" / "step-00000016" / "tensors.safetensors"
    names = load_file(str(ckpt)).keys()
    assert any(k.startswith("optim.g.") for k in names) and any(k.startswith("optim.d.") for k in names)
    assert "model.fixed_z" in names and any(k.startswith("model.g_ema.") for k in names)
    execute("gan", resume=tmp_path / "cut", data_dir=data, quiet=True)
    full, cut = (load_file(str(p / "checkpoints" / "step-00000040" / "tensors.safetensors"))
                 for p in (run.path, tmp_path / "cut"))
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)
    summaries = [json.loads((p / "summary.json").read_text()) for p in (run.path, tmp_path / "cut")]
    assert summaries[0] == summaries[1]
    snaps = sorted((tmp_path / "cut" / "snapshots").iterdir())
    assert len(snaps) == 9 and all((run.path / "snapshots" / p.name).read_bytes() == p.read_bytes() for p in snaps)


def test_tiny_dcgan_run_with_an_mnist_cnn_classifier(feature_cnn, data, tmp_path):
    run, summary = execute("gan", small(arch="dcgan", max_steps=6, classifier=str(feature_cnn)), tmp_path / "dc",
                           data_dir=data, quiet=True)
    assert summary["steps"] == 6 and math.isfinite(summary["fd_classifier"])
    assert not (run.path / "classifier").exists(), "the given CNN is used, none is trained"
    assert summary["parameters_g"] > 0 and summary["parameters_d"] > 0


def test_dlf_sample_is_a_png_and_repeats_for_a_seed(finished, tmp_path, capsys):
    run, _ = finished
    outs = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for out, seed in zip(outs, (1, 1, 2)):
        assert main(["sample", str(run.path), "--n", "9", "--seed", str(seed), "--out", str(out)]) == 0
    assert outs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outs[0].read_bytes() == outs[1].read_bytes() != outs[2].read_bytes()
    assert "9 samples" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["--parzen-samples", "0"], "--parzen-samples must be in [1,"),
    (["--parzen-val", "2000", "--val-size", "1000"], "--parzen-val must be <= --val-size 1000"),
    (["--arch", "mlp"], "--arch must be one of fc, dcgan (got 'mlp')"),
    (["--ema", "1"], "--ema must be in [0, 1)"),
    (["--val-size", "5000"], "leaves none of the 300 training images"),
])
def test_bad_input_is_one_line_and_exit_2(args, fragment, data, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "gan", "--out", str(out), "--data-dir", str(data), "--device", "cpu", "--quiet", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    assert not out.exists()


def test_classifier_must_be_an_mnist_cnn_run(finished, data, tmp_path, capsys):
    run, _ = finished
    for folder, fragment in ((run.path, "is a 'gan' run; give the folder of an mnist-cnn run"),
                             (tmp_path / "nothing", "is not a dlf run folder")):
        out = tmp_path / "run"
        assert main(["run", "gan", "--out", str(out), "--data-dir", str(data), "--device", "cpu", "--quiet",
                     "--val-size", "50", "--parzen-val", "20", "--classifier", str(folder)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
        assert not out.exists()
