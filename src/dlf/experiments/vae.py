"""Experiment `vae`: a variational autoencoder on dynamically binarized MNIST (the maths: dlf.models.vae).

Each time a training batch is used, its pixels are drawn afresh as Bernoulli(intensity / 255); the test set is
binarized once with a fixed seed, so every run is scored on the same binary images (see dlf.data.mnist.binarize).
The summary reports the test ELBO (a lower bound on log p(x), in nats, so negative) and the importance-weighted
NLL estimate -L_k (Burda et al. 2016), which the IWAE paper's one-layer VAE brings to about 86.8 nats after
thousands of epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import torch
from tqdm.auto import tqdm

from dlf.config import Range, train_bytes
from dlf.data.mnist import TEST_BINARIZATION_SEED, binarize, load_mnist
from dlf.models.vae import VAE
from dlf.plotting import figure, plot_train_val, show_images
from dlf.train import Task, TensorSource, TrainConfig, Trainer


@dataclass
class Config(TrainConfig):
    latent: Annotated[int, Range(1, 65_536)] = 50
    """Size of the latent vector z (2 also draws the decoded manifold as a grid)."""
    hidden: Annotated[int, Range(1, 65_536)] = 200
    """Units in each of the two tanh hidden layers of the encoder and of the decoder."""
    epochs: float = 10.0
    """Passes over the training set."""
    batch_size: int = 100
    """Global batch size (split evenly over processes under torchrun)."""
    iwae_k: Annotated[int, Range(1, 1_000_000)] = 1000
    """Importance samples per test image for the IWAE estimate of the NLL."""
    iwae_test_size: Annotated[int, Range(0, 10_000)] = 0
    """Estimate the IWAE NLL on the first N test images (0: all of them)."""
    train_size: Annotated[int, Range(0, 60_000)] = 0
    """Use only the first N training images (0: all 60,000)."""
    test_size: Annotated[int, Range(0, 10_000)] = 0
    """Use only the first N test images (0: all 10,000)."""

    reads_data: ClassVar[bool] = True

    def memory_bytes(self) -> tuple[float, str]:
        """Encoder and decoder (two hidden layers each), a batch's activations, and --iwae-k decoded images of one
        test image at a time for the IWAE bound."""
        h, z = self.hidden, self.latent
        params = 2 * (784 * h + h * h) + 3 * h * z
        acts = max(self.batch_size, self.iwae_k) * (2 * 784 + 4 * h + 3 * z)
        return train_bytes(params, acts), "--hidden, --latent, --iwae-k or --batch-size"


class VAETask(Task):
    """The loss is the negative one-sample ELBO, averaged over the batch (Kingma & Welling 2014, eq. 10):

        loss = -ELBO(x) = -log p(x|z) + KL(q(z|x) || p(z)),   z = mu(x) + sigma(x) * eps,  eps ~ N(0, I)

    logged with its two terms, "rec" = -log p(x|z) and "kl". Train on fresh binarizations of uint8 images;
    validate on images that are binarized already."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def training_step(self, batch):
        (images,) = batch
        return self._loss(binarize(images))

    def validation_step(self, batch):
        (x,) = batch
        with torch.no_grad():
            return {k: v.detach() for k, v in self._loss(x).items()}

    def _loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = self.model.elbo(x.float())
        return {"loss": -terms["elbo"].mean(), "rec": -terms["rec"].mean(), "kl": terms["kl"].mean()}


def load_data(cfg: Config, data_dir) -> tuple[TensorSource, torch.Tensor, torch.Tensor]:
    """Training images (uint8, binarized per batch), the fixed binary test set (float (N, 784)), test labels."""
    x_train, _ = load_mnist("train", data_dir)
    x_test, y_test = load_mnist("test", data_dir)
    if cfg.train_size:
        x_train = x_train[:cfg.train_size]
    if cfg.test_size:
        x_test, y_test = x_test[:cfg.test_size], y_test[:cfg.test_size]
    test = binarize(x_test, torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    return TensorSource(x_train), test, y_test


@torch.no_grad()
def iwae_nll(model: VAE, x: torch.Tensor, k: int, device, quiet: bool, batch_size: int = 100) -> float:
    """Mean of -L_k over the images x (N, 784): the importance-weighted NLL estimate in nats."""
    model.eval()
    total = 0.0
    for i in tqdm(range(0, len(x), batch_size), desc=f"IWAE k={k}", disable=True if quiet else None, leave=False):
        total -= float(model.iwae_bound(x[i:i + batch_size].to(device), k).double().sum())
    return total / len(x)


def run(cfg: Config, run) -> dict:
    train, test, labels = load_data(cfg, run.data_dir)
    model = VAE(cfg.latent, cfg.hidden)
    model.init_output_bias(train.tensors[0].flatten(1).float().mean(0) / 255.0)
    task = VAETask(model)
    trainer = Trainer(cfg, run, task, train, TensorSource(test))
    result = trainer.fit()
    scores = trainer.evaluate(TensorSource(test))
    n_iwae = min(cfg.iwae_test_size or len(test), len(test))
    summary = {
        "test_elbo_nats": -scores["loss"],
        "test_rec_nats": scores["rec"],
        "test_kl_nats": scores["kl"],
        "test_iwae_nll_nats": iwae_nll(model, test[:n_iwae], cfg.iwae_k, trainer.device, run.quiet),
        "iwae_k": cfg.iwae_k,
        "iwae_test_size": n_iwae,
        "train_loss": result.train.get("loss"),
        "steps": result.step,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    model.eval()
    with torch.no_grad():
        plot_curves_elbo(run)
        plot_reconstructions(run, model, test[:10].to(trainer.device))
        plot_interpolations(run, model, test, labels, trainer.device)
        plot_grid(run, model.sample(64).cpu(), "samples", "samples from the prior, z ~ N(0, I)")
        if cfg.latent == 2:
            plot_manifold(run, model, trainer.device)
    return summary


def plot_curves_elbo(run) -> None:
    """-ELBO and its KL term, train and test, against the step."""
    plot_train_val(run, (("loss", "-ELBO (nats)"), ("kl", "KL(q(z|x) || p(z)) (nats)")))


def plot_grid(run, images: torch.Tensor, name: str, title: str, cols: int = 8) -> None:
    fig, axes = figure(size=(6, 6))
    show_images(axes[0][0], images, cols)
    axes[0][0].set_title(title)
    run.save_figure(fig, name)


def plot_reconstructions(run, model: VAE, x: torch.Tensor) -> None:
    """Top: binary test digits; bottom: the decoder's pixel probabilities at z = mu(x)."""
    mu, _ = model.encode(x)
    recon = torch.sigmoid(model.decode(mu))
    fig, axes = figure(size=(8, 1.8))
    show_images(axes[0][0], torch.cat([x, recon]), len(x))
    axes[0][0].set_title("test digits (top) and their reconstructions (bottom)")
    run.save_figure(fig, "reconstructions")


def plot_interpolations(run, model: VAE, test: torch.Tensor, labels: torch.Tensor, device, steps: int = 10) -> None:
    """Each row: decode (1 - t) mu(a) + t mu(b) for t in [0, 1], from a test digit a to a digit b of another class."""
    pairs = []
    for d in range(5):
        a, b = (labels == d).nonzero().flatten()[:1], (labels == 9 - d).nonzero().flatten()[:1]
        if len(a) and len(b):
            pairs.append((int(a), int(b)))
    if not pairs:
        return
    mu, _ = model.encode(test[[i for p in pairs for i in p]].to(device))
    start, end = mu[0::2], mu[1::2]  # (R, D) each
    t = torch.linspace(0, 1, steps, device=device)[None, :, None]  # (1, T, 1)
    z = (1 - t) * start[:, None] + t * end[:, None]  # (R, T, D)
    fig, axes = figure(size=(8, 0.9 * len(pairs)))
    show_images(axes[0][0], torch.sigmoid(model.decode(z)).reshape(-1, 784), steps)
    axes[0][0].set_title("straight lines in latent space between two test digits")
    run.save_figure(fig, "interpolations")


def plot_manifold(run, model: VAE, device, n: int = 20) -> None:
    """With a 2-D latent: decode a grid of z at the Gaussian quantiles 0.05 ... 0.95 (Kingma & Welling, Fig. 4)."""
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
    zy, zx = torch.meshgrid(q.flip(0), q, indexing="ij")
    z = torch.stack([zx, zy], -1).reshape(-1, 2).to(device)  # (n * n, 2)
    fig, axes = figure(size=(7, 7))
    show_images(axes[0][0], torch.sigmoid(model.decode(z)), n)
    axes[0][0].set_title("the decoded 2-D latent space")
    run.save_figure(fig, "manifold")


def sample(run_dir, cfg: Config, opts) -> str:
    """`dlf sample`: decode z ~ N(0, I) into pixel probabilities, as a PNG grid."""
    from dlf.sampling import load_weights, output_path, save_image_grid

    model = VAE(cfg.latent, cfg.hidden)
    found = load_weights(run_dir, VAETask(model), "vae")
    path = output_path(run_dir, opts.out, "samples.png", ".png")
    probs = model.eval().sample(opts.n, torch.Generator().manual_seed(opts.seed))  # (n, 784)
    save_image_grid(probs, path, f"VAE: {opts.n} samples, p(x|z) with z ~ N(0, I) (seed {opts.seed})")
    return f"{opts.n} samples from {found.name}: {path}"
