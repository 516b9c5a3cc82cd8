"""The VAE: its KL term, the ELBO and IWAE bounds against Monte Carlo and quadrature, and the experiment end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from dlf.cli import main
from dlf.data.mnist import binarize
from dlf.experiments import vae as vae_exp
from dlf.models.vae import VAE, gaussian_kl, log_bernoulli, log_normal
from dlf.runner import execute
from tests.fixtures import make_mnist_fixture
from tests.helpers import execute_until_checkpoint, without_speed


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_mnist_fixture(tmp_path_factory.mktemp("mnist"), n_train=300, n_test=100)


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, generator=g, dtype=torch.float64)  # (B, D)
    logvar = torch.randn(5, 3, generator=g, dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 5, 3, generator=g, dtype=torch.float64)  # (N, B, D)
    terms = log_normal(z, mu, logvar) - log_normal(z, torch.zeros(3), torch.zeros(3))  # (N, B) log q - log p
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(len(terms))
    kl = gaussian_kl(mu, logvar)
    assert ((mc - kl).abs() < 4 * se).all(), (mc, kl, se)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(kl, ref)


def tiny_model() -> tuple[VAE, torch.Tensor, torch.Tensor]:
    """A 1-D latent VAE whose encoder is poor (so the bounds are loose), 4 binary images, and their exact log p(x)."""
    torch.manual_seed(0)
    model = VAE(latent=1, hidden=8, n_in=12).double()
    with torch.no_grad():
        model.decoder[-1].weight.mul_(20)  # a sharp likelihood: the true posterior is narrow
        model.encoder[-1].weight.mul_(0.1)  # q(z|x) stays near the prior
    x = torch.bernoulli(torch.full((4, 12), 0.5, dtype=torch.float64))
    z = torch.linspace(-10, 10, 4001, dtype=torch.float64)[:, None]  # quadrature grid over the latent line
    with torch.no_grad():
        log_joint = log_bernoulli(x, model.decode(z)[:, None, :]) - 0.5 * (math.log(2 * math.pi) + z**2)  # (Z, B)
        log_px = torch.logsumexp(log_joint, 0) + math.log(20 / 4000)  # (B,)
    return model, x, log_px


@torch.no_grad()
def test_iwae_with_one_sample_equals_the_elbo_in_expectation():
    model, x, log_px = tiny_model()
    reps = 20_000
    l1 = model.log_weights(x, reps)  # (R, B): one-sample IWAE bounds, log p(x, z) - log q(z|x)
    elbo = model.elbo(x.repeat(reps, 1))["elbo"].view(reps, -1)  # (R, B): log p(x|z) - analytic KL
    se = (l1.var(0) / reps + elbo.var(0) / reps).sqrt()
    assert ((l1.mean(0) - elbo.mean(0)).abs() < 4 * se).all()
    assert (elbo.mean(0) < log_px - 0.5).all(), "this model's ELBO is visibly below log p(x)"


@torch.no_grad()
def test_iwae_bound_grows_with_k_towards_log_px():
    model, x, log_px = tiny_model()
    reps = 100
    means, ses = [], []
    for k, chunk in ((1, 0), (10, 0), (100, 7), (1000, 0)):  # chunk 7: 100 samples in 15 uneven chunks
        bounds = model.iwae_bound(x.repeat(reps, 1), k, chunk=chunk).view(reps, -1)  # (R, B)
        means.append(bounds.mean(0))
        ses.append(bounds.std(0) / math.sqrt(reps))
    for i in range(len(means) - 1):
        assert (means[i + 1] > means[i] - 3 * (ses[i] + ses[i + 1])).all(), f"L_k fell from step {i}"
    assert (means[-1] <= log_px + 4 * ses[-1]).all(), "L_k is a lower bound on log p(x)"
    assert ((log_px - means[-1]) < 0.05 * (log_px - means[0])).all(), "k = 1000 closes 95% of the ELBO's gap"
    with pytest.raises(ValueError, match="k must be >= 1"):
        model.iwae_bound(x, 0)


def test_output_bias_starts_the_decoder_at_the_mean_image():
    model = VAE(latent=2, hidden=4, n_in=3)
    model.init_output_bias(torch.tensor([0.1, 0.5, 0.9]))
    with torch.no_grad():
        model.decoder[-1].weight.zero_()
        probs = torch.sigmoid(model.decode(torch.randn(5, 2)))
    assert torch.allclose(probs, torch.tensor([0.1, 0.5, 0.9]).expand(5, 3), atol=1e-6)


def test_binarization_is_dynamic_for_training_and_fixed_for_test(data):
    images = torch.full((2000, 28, 28), 64, dtype=torch.uint8)
    x = binarize(images)
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert x.mean().item() == pytest.approx(64 / 255, abs=0.005)
    assert not torch.equal(x, binarize(images)), "each use of a batch draws new pixels"
    cfg = vae_exp.Config(test_size=50)
    _, test_a, _ = vae_exp.load_data(cfg, data)
    torch.manual_seed(123)
    _, test_b, _ = vae_exp.load_data(cfg, data)
    assert test_a.shape == (50, 784) and torch.equal(test_a, test_b)


def small(**changes) -> vae_exp.Config:
    base = dict(latent=2, hidden=32, epochs=4, batch_size=25, lr=1e-2, iwae_k=50, iwae_test_size=40, device="cpu",
                log_every=4, ckpt_every=8, schedule="constant")
    return vae_exp.Config(**{**base, **changes})


def test_tiny_vae_learns_and_resumes_exactly(data, tmp_path):
    run, summary = execute("vae", small(), tmp_path / "full", data_dir=data, quiet=True)
    losses = [r["train_loss"] for r in run.read_metrics() if "train_loss" in r]
    # the decoder starts at the mean image, so what is left to learn is where each bar lies (the fixture's noise stays)
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 5, "the negative ELBO should fall"
    assert summary["test_kl_nats"] > 0.5, "the latent code should carry information"
    assert summary["steps"] == 4 * (300 // 25)
    assert summary["iwae_k"] == 50 and summary["iwae_test_size"] == 40
    assert summary["test_elbo_nats"] == pytest.approx(-(summary["test_rec_nats"] + summary["test_kl_nats"]))
    assert 0 < summary["test_iwae_nll_nats"] < -summary["test_elbo_nats"] + 1.0
    plots = {p.name for p in run.path.glob("*.png")}
    assert plots == {"curves.png", "reconstructions.png", "interpolations.png", "samples.png", "manifold.png"}

    execute_until_checkpoint("vae", small(), tmp_path / "cut", step=8, data_dir=data)
    assert not (tmp_path / "cut" / "summary.json").exists()
    assert sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()) == ["step-00000008"]
    execute("vae", resume=tmp_path / "cut", data_dir=data, quiet=True)
    summaries = [json.loads((tmp_path / name / "summary.json").read_text()) for name in ("full", "cut")]
    assert summaries[0] == summaries[1]
    assert without_speed(run.read_metrics()) == without_speed(type(run)(tmp_path / "cut").read_metrics())


@pytest.mark.parametrize("option, value, fragment", [
    ("--latent", "0", "--latent must be in [1,"),
    ("--hidden", "-3", "--hidden must be in [1,"),
    ("--iwae-k", "0", "--iwae-k must be in [1,"),
    ("--iwae-test-size", "-1", "--iwae-test-size must be in [0,"),
])
def test_bad_config_is_one_line_and_exit_2(option, value, fragment, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "vae", option, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not out.exists()
