"""Scores for generated MNIST images: a Parzen-window log-likelihood, a Fréchet distance, the digits a classifier sees.

Parzen windows (the protocol of Goodfellow et al. 2014, after Breuleux et al. 2011): put an isotropic Gaussian
of width sigma on each of K generated samples s_i and score the test images x (d = 784 pixels in [0, 1]) under it,

    log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log K - (d / 2) log(2 pi sigma^2),

with sigma picked on validation images. The estimate is known to be a poor measure of likelihood in 784
dimensions (Theis, van den Oord & Bethge 2016: blurry k-means centroids outscore the true data), but it is
the figure the paper reports.

Fréchet distance (Heusel et al. 2017, FID, here with dlf's own MNIST CNN instead of Inception): fit a Gaussian
to the classifier's penultimate features of each image set and compare them,

    FD = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr((S_1^1/2 S_2 S_1^1/2)^1/2).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from dlf.errors import ConfigError, DlfError

CLASSIFIER_SEED = 0  # the in-run feature CNN is the same for every --seed, so FDs compare across runs
PARZEN_SIGMAS = torch.logspace(-1, 0, 10, dtype=torch.float64)  # 0.1 ... 1.0, as in the paper's search


def squared_distances(x: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """||x_a - s_i||^2 for every pair, (N, D) and (K, D) -> (N, K), in float64 (no cancellation trouble)."""
    x, samples = x.double(), samples.double()
    d2 = x.pow(2).sum(1, keepdim=True) + samples.pow(2).sum(1) - 2 * x @ samples.T
    return d2.clamp_min_(0)


def parzen_log_likelihood(x: torch.Tensor, samples: torch.Tensor, sigmas, chunk: int = 500) -> torch.Tensor:
    """log p(x_a) under the Parzen window of `samples` for each sigma: (N, D), (K, D), S sigmas -> (N, S) float64.

    The distances are computed once per chunk of `chunk` rows of x and reused for every sigma.
    """
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1).to(samples.device)  # (S,)
    k, d = samples.shape
    const = math.log(k) + 0.5 * d * torch.log(2 * math.pi * sigmas**2)  # (S,)
    out = []
    for i in range(0, len(x), chunk):
        d2 = squared_distances(x[i:i + chunk].to(samples.device), samples)  # (n, K)
        lse = torch.stack([torch.logsumexp(-d2 / (2 * s**2), 1) for s in sigmas], 1)  # (n, S)
        out.append((lse - const).cpu())
    return torch.cat(out)


def parzen_evaluate(samples: torch.Tensor, val: torch.Tensor, test: torch.Tensor, sigmas=PARZEN_SIGMAS,
                    chunk: int = 500) -> dict[str, float]:
    """Pick sigma by the mean log-likelihood of `val`, then score `test`: its mean, standard error, and sigma."""
    if len(samples) < 1 or len(val) < 1 or len(test) < 1:
        raise ConfigError("the Parzen estimate needs at least one sample, validation image and test image")
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
    val_ll = parzen_log_likelihood(val, samples, sigmas, chunk).mean(0)  # (S,)
    best = int(val_ll.argmax())
    sigma = float(sigmas[best])
    ll = parzen_log_likelihood(test, samples, sigma, chunk)[:, 0]  # (N,)
    se = float(ll.std() / math.sqrt(len(ll))) if len(ll) > 1 else float("nan")
    return {"ll": float(ll.mean()), "se": se, "sigma": sigma, "val_ll": float(val_ll[best]),
            "val_curve": val_ll.tolist()}


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (F,) and unbiased covariance (F, F) of features (N, F), in float64."""
    f = features.double()
    return f.mean(0), torch.cov(f.T)


def _sqrtm_psd(s: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(s)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """FD between N(mu1, s1) and N(mu2, s2); exact for PSD matrices (tr sqrt(S1 S2) via the symmetric form)."""
    mu1, s1, mu2, s2 = (t.double() for t in (mu1, s1, mu2, s2))
    root1 = _sqrtm_psd(s1)
    middle = root1 @ s2 @ root1
    tr_cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * tr_cross)


def frechet_distance_of(a: torch.Tensor, b: torch.Tensor) -> float:
    """FD between the Gaussians fitted to features a (N, F) and b (M, F)."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def digit_shares(predicted: torch.Tensor, n_classes: int = 10) -> tuple[torch.Tensor, float]:
    """Share of each predicted class (n_classes,) and the entropy of that histogram in bits (log2 10 = 3.32 max)."""
    share = torch.bincount(predicted, minlength=n_classes).double() / max(len(predicted), 1)
    nz = share[share > 0]
    return share, max(0.0, float(-(nz * nz.log2()).sum()))


# the feature network: dlf's MNIST CNN (the mnist-cnn experiment) ---------------------------------------------------

def load_classifier(run_dir: str | Path):
    """The Classifier task of a finished `mnist-cnn` run, in eval mode; a one-line error for any other folder."""
    from dlf.experiments._mnist import Classifier
    from dlf.models.cnn import CNN
    from dlf.runner import load_run_config
    from dlf.sampling import load_weights, run_experiment

    path = Path(run_dir)
    try:
        name = run_experiment(path)
    except DlfError:
        raise ConfigError(f"--classifier {path} is not a dlf run folder; give the folder of an mnist-cnn run") from None
    if name != "mnist-cnn":
        raise ConfigError(f"--classifier {path} is a '{name}' run; give the folder of an mnist-cnn run")
    ccfg = load_run_config("mnist-cnn", path)
    task = Classifier(CNN(ccfg.width, ccfg.dropout))
    load_weights(path, task, "mnist-cnn")
    return task.eval()


@torch.no_grad()
def classify(task, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (N, F) and predicted digits (N,) of images (N, 784) or (N, 28, 28) in [0, 1]."""
    from dlf.experiments._mnist import normalize

    task.eval()
    cnn = task.model
    device = next(task.parameters()).device
    feats, preds = [], []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i:i + batch_size].reshape(-1, 28, 28).to(device) * 255.0)  # (B, 1, 28, 28)
        h = cnn.features(x).flatten(1)  # (B, F): what the CNN's last linear layer reads
        feats.append(h.float().cpu())
        preds.append(cnn.head[-1](h).argmax(1).cpu())
    return torch.cat(feats), torch.cat(preds)


def feature_classifier(cfg, run, train: torch.Tensor, train_labels: torch.Tensor, device: torch.device):
    """The CNN whose features the Fréchet distance uses: cfg.classifier's (an mnist-cnn run folder), or one trained
    here on `train` (uint8 (N, 28, 28)) for cfg.classifier_epochs into RUN/classifier (resumed if it is there)."""
    if cfg.classifier is not None:
        return load_classifier(cfg.classifier).to(device)
    from dlf.config import dumps
    from dlf.experiments import mnist_cnn
    from dlf.experiments._mnist import Classifier
    from dlf.models.cnn import CNN
    from dlf.rundir import Run
    from dlf.train import TensorSource, Trainer

    ccfg = mnist_cnn.Config(epochs=cfg.classifier_epochs, batch_size=min(128, len(train)), seed=CLASSIFIER_SEED,
                            device=cfg.device, amp=cfg.amp, ckpt_every=10**9, log_every=50)
    path = run.path / "classifier"
    resume = (path / "config.json").exists()
    sub = Run.create(path, dumps(ccfg, "mnist-cnn"), resume=resume, enabled=run.enabled, name="mnist-cnn",
                     data_dir=run.data_dir, quiet=run.quiet)
    sub.keep = True  # a partly trained classifier is continued by the next try
    torch.manual_seed(CLASSIFIER_SEED)
    task = Classifier(CNN(ccfg.width, ccfg.dropout), augment=ccfg.augment)
    try:
        Trainer(ccfg, sub, task, TensorSource(train, train_labels)).fit()
    finally:
        sub.close()
    return task.eval()
