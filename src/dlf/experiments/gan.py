"""Experiment `gan`: a generative adversarial network on MNIST (the models and losses: dlf.models.gan).

Data as in Goodfellow et al. (2014): pixels are intensity / 255 in [0, 1]; the last 10,000 training images are
held out as validation and the GAN trains on the first 50,000. Each step trains D once on a real and a generated
batch, then G once with the non-saturating loss (two Adam optimisers, both checkpointed). G's weights are also
averaged over the steps (an exponential moving average, --ema); that average is what is sampled and scored.

Every --snapshot-every steps the generator draws the same 64 noise vectors (a buffer of the task, so it survives
resume) into RUN/snapshots/step-*.png; at the end these become progress.gif. Then it is scored on 10,000 samples:

  * Parzen-window log-likelihood of the 10,000 test images, sigma picked from 10 values log-spaced in [0.1, 1]
    on the last 1,000 validation images (the paper's protocol; its Table 1: GAN 225 +- 2, Deep GSN 214, DBN 138);
  * the Fréchet distance between samples and test images in the feature space of dlf's MNIST CNN (--classifier,
    or one trained here for --classifier-epochs and kept in RUN/classifier), beside the same distance between
    the 10,000 real validation images and the test images (what a perfect generator would score);
  * the share of each digit among the samples, as the CNN reads them (a GAN that drops modes shows gaps).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal, NamedTuple

import torch

from dlf.config import Range, Text, require, train_bytes
from dlf.data.mnist import load_mnist
from dlf.errors import ConfigError, DataError
from dlf.experiments import _gan_plots as plots
from dlf.experiments import _sample_metrics as metrics
from dlf.models.gan import GAN, discriminator_loss, generator_loss
from dlf.plotting import gif_of_pngs
from dlf.sampling import save_image_grid
from dlf.train import Task, TensorSource, TrainConfig, Trainer
from dlf.train.task import make_optimizer

EVAL_SEED = 7_000_000  # the noise of the scored samples: seed + EVAL_SEED, apart from every training draw


@dataclass
class Config(TrainConfig):
    arch: Literal["fc", "dcgan"] = "fc"
    """fc: the paper's fully connected GAN (ReLU G, maxout D with dropout); dcgan: convolutional, batch-normalised."""
    z_dim: Annotated[int, Range(1, 65_536)] = 100
    """Size of the noise vector z ~ N(0, I)."""
    g_hidden: Annotated[int, Range(1, 65_536)] = 1200
    """fc: units in each of the generator's two ReLU layers."""
    d_hidden: Annotated[int, Range(1, 65_536)] = 240
    """fc: maxout units in each of the discriminator's two hidden layers."""
    pieces: Annotated[int, Range(1, 64)] = 5
    """fc: linear pieces per maxout unit."""
    channels: Annotated[int, Range(1, 4096)] = 64
    """dcgan: channels of D's first and G's last hidden convolution (the middle ones have twice as many)."""
    epochs: float = 200.0
    """Passes over the 50,000 training images (on a CPU, --time-limit usually ends the run first)."""
    batch_size: int = 100
    """Real images per step (D also sees as many generated ones)."""
    optimizer: Literal["adamw", "adam", "sgd"] = "adam"
    """Optimizer of G and of D: adam or adamw (betas --beta1, 0.999), or sgd with momentum."""
    lr: float = 1e-3
    """Learning rate of both optimizers (fc: 1e-3 keeps pace with the maxout D; for dcgan Radford et al. use 2e-4)."""
    beta1: Annotated[float, Range(0, 1, high_open=True)] = 0.5
    """Adam's beta1 for both optimizers (Radford et al.: 0.5; beta2 is 0.999)."""
    schedule: Literal["constant", "cosine", "linear", "onecycle"] = "linear"
    """Learning-rate schedule over the run, after the warm-up (linear: decays to 0 as the run, or time, ends)."""
    ema: Annotated[float, Range(0, 1, high_open=True)] = 0.999
    """Decay of the moving average of G's weights that is sampled and scored (0: use G itself)."""
    snapshot_every: Annotated[int, Range(0, 10**9)] = 500
    """Draw the fixed noise into RUN/snapshots/ every N steps (0: only at the start and the end)."""
    gif_frames: Annotated[int, Range(2, 10_000)] = 60
    """Frames of progress.gif at most (snapshots evenly spaced, the first and last included)."""
    val_size: Annotated[int, Range(1, 59_999)] = 10000
    """Training images held out at the end of the training file as validation (paper: the last 10,000)."""
    train_size: Annotated[int, Range(0, 60_000)] = 0
    """Train on the first N training images only (0: all 50,000 left after --val-size)."""
    test_size: Annotated[int, Range(0, 10_000)] = 0
    """Score on the first N test images only (0: all 10,000)."""
    parzen_samples: Annotated[int, Range(1, 1_000_000)] = 10000
    """Generated samples for the Parzen window, the Fréchet distance and the digit histogram (paper: 10,000)."""
    parzen_val: Annotated[int, Range(1, 59_999)] = 1000
    """Validation images (the last ones) on which the Parzen width sigma is chosen (paper: 1,000)."""
    classifier: Annotated[str | None, Text()] = None
    """Folder of an mnist-cnn run whose CNN gives the features (none: train one here, into RUN/classifier)."""
    classifier_epochs: Annotated[float, Range(0, 1e6, low_open=True)] = 1.0
    """Epochs of the feature CNN trained here when --classifier is not given."""

    reads_data: ClassVar[bool] = True

    def validate(self) -> None:
        super().validate()
        require(self.parzen_val <= self.val_size, "parzen_val", f"must be <= --val-size {self.val_size}",
                self.parzen_val)

    def memory_bytes(self) -> tuple[float, str]:
        """G and D (and G's average), a batch's activations, and the Parzen window's samples x validation images."""
        if self.arch == "fc":
            gh, dh = self.g_hidden, self.d_hidden * self.pieces
            params = 2 * (self.z_dim * gh + gh * gh + gh * 784) + 784 * dh + self.d_hidden * dh
            acts = 3 * self.batch_size * (2 * gh + 2 * dh + 784)
        else:
            c = self.channels
            params = 2 * (self.z_dim * 98 * c + 32 * c * c + 16 * c) + 48 * c * c + 98 * c
            acts = 3 * self.batch_size * 784 * 6 * c
        parzen = min(self.parzen_samples * max(self.parzen_val, 1), 64 * 10**6)  # chunked beyond this
        return train_bytes(params, acts + parzen), "--g-hidden, --d-hidden, --pieces, --channels or --batch-size"


class GANTask(Task):
    """One step of Goodfellow et al. (2014), Algorithm 1 with k = 1 and the non-saturating G loss of their Section 3:

        D:  minimise L_D = -mean log s(D(x)) - mean log(1 - s(D(G(z))))     x: a real batch, z ~ N(0, I)
        G:  minimise L_G = -mean log s(D(G(z)))                             (s = sigmoid, D gives a logit)

    then G's weight average. At the game's equilibrium p_G = p_data and D(x) = 1/2 everywhere: L_D = 2 log 2.
    """

    def __init__(self, gan: GAN, ema: float = 0.0, seed: int = 0, snapshot_every: int = 0,
                 snapshot_dir: Path | None = None, n_fixed: int = 64):
        super().__init__()
        self.model, self.ema = gan, ema
        self.g_ema = copy.deepcopy(gan.generator).requires_grad_(False) if ema > 0 else None
        self.register_buffer("fixed_z", torch.randn(n_fixed, gan.z_dim, generator=torch.Generator().manual_seed(seed)))
        self.snapshot_every, self.snapshot_dir = snapshot_every, snapshot_dir

    @property
    def sampler(self) -> torch.nn.Module:
        """The generator that is sampled and scored: the moving average if there is one."""
        return self.g_ema if self.g_ema is not None else self.model.generator

    def configure_optimizers(self, cfg) -> dict[str, torch.optim.Optimizer]:
        betas = (cfg.beta1, 0.999)  # Radford et al.: beta1 = 0.5 steadies the two-player game
        return {"g": make_optimizer(self.model.generator.parameters(), cfg, betas),
                "d": make_optimizer(self.model.discriminator.parameters(), cfg, betas)}

    def optimizer_step(self, batch, trainer) -> dict[str, torch.Tensor]:
        (images,) = batch
        real = images.flatten(1).float() / 255.0  # (B, 784) in [0, 1]
        G, D = self.model.generator, self.model.discriminator
        opt_g, opt_d = trainer.optimizers["g"], trainer.optimizers["d"]
        z = torch.randn(len(real), self.model.z_dim, device=real.device)
        opt_d.zero_grad(set_to_none=True)
        with trainer.autocast():
            fake = G(z)  # (B, 784); its graph is used again by G's step
            real_logits, fake_logits = D(real), D(fake.detach())
            d_loss = discriminator_loss(real_logits, fake_logits)
        trainer.backward_and_step(d_loss, opt_d)
        opt_g.zero_grad(set_to_none=True)
        D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
        with trainer.autocast():
            g_loss = generator_loss(D(fake))
        trainer.backward_and_step(g_loss, opt_g)
        D.requires_grad_(True)
        self.update_average(trainer.step)
        if self.snapshot_every and (trainer.step + 1) % self.snapshot_every == 0:
            self.snapshot(trainer.step + 1)
        return {"loss": (d_loss + g_loss).detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach().float()).mean()}

    @torch.no_grad()
    def update_average(self, step: int) -> None:
        """g_ema <- d g_ema + (1 - d) G, with d = min(ema, (1 + step) / (10 + step)) so that it starts quickly."""
        if self.g_ema is None:
            return
        decay = min(self.ema, (1 + step) / (10 + step))
        torch._foreach_lerp_(list(self.g_ema.parameters()), list(self.model.generator.parameters()), 1 - decay)
        for avg, cur in zip(self.g_ema.buffers(), self.model.generator.buffers()):
            avg.copy_(cur)  # batch-norm statistics

    def snapshot(self, step: int) -> Path | None:
        """The fixed noise through the scored generator, as RUN/snapshots/step-XXXXXXXX.png."""
        if self.snapshot_dir is None:
            return None
        images = self.model.sample(len(self.fixed_z), net=self.sampler, z=self.fixed_z)
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        return save_image_grid(images, self.snapshot_dir / f"step-{step:08d}.png", f"step {step}", cols=8)


def build(cfg: Config, snapshot_dir: Path | None = None) -> GANTask:
    gan = GAN(cfg.arch, cfg.z_dim, cfg.g_hidden, cfg.d_hidden, cfg.pieces, cfg.channels)
    return GANTask(gan, cfg.ema, cfg.seed, cfg.snapshot_every, snapshot_dir)


# data ----------------------------------------------------------------------------------------------------------

class Splits(NamedTuple):
    train: torch.Tensor  # uint8 (N, 28, 28): the first 50,000 training images (or --train-size of them)
    train_labels: torch.Tensor  # (N,) for the feature CNN trained here
    val: torch.Tensor  # uint8 (V, 28, 28): the last --val-size training images
    test: torch.Tensor  # uint8 (T, 28, 28)
    test_labels: torch.Tensor


def load_data(cfg: Config, data_dir) -> Splits:
    images, labels = load_mnist("train", data_dir)
    x_test, y_test = load_mnist("test", data_dir)
    n = len(images)
    if n <= cfg.val_size:
        raise DataError(f"--val-size {cfg.val_size} leaves none of the {n} training images to train on; lower it")
    cut = n - cfg.val_size
    end = min(cfg.train_size, cut) if cfg.train_size else cut
    t = cfg.test_size or len(x_test)
    return Splits(images[:end], labels[:end], images[cut:], x_test[:t], y_test[:t])


def pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 784), intensity / 255 in [0, 1] (the Parzen protocol's scale)."""
    return images.flatten(1).float() / 255.0


# the run -------------------------------------------------------------------------------------------------------

def run(cfg: Config, run) -> dict:
    data = load_data(cfg, run.data_dir)
    if cfg.classifier is not None:
        metrics.load_classifier(cfg.classifier)  # a bad folder fails now, not after training
    snapshots = run.path / "snapshots" if run.enabled else None
    task = build(cfg, snapshots)
    trainer = Trainer(cfg, run, task, TensorSource(data.train))
    if trainer.distributed:
        raise ConfigError("gan trains in one process (its custom step does not synchronise gradients); "
                          "run it without torchrun")
    if snapshots is not None and not (snapshots / "step-00000000.png").exists():
        task.snapshot(0)
    clock = time.perf_counter()
    result = trainer.fit()
    run.timing["train_s"] = round(time.perf_counter() - clock, 1)
    if snapshots is not None and not (snapshots / f"step-{result.step:08d}.png").exists():
        task.snapshot(result.step)
    frames = 0
    if snapshots is not None:
        frames = gif_of_pngs(sorted(snapshots.glob("step-*.png")), run.path / "progress.gif", cfg.gif_frames)

    summary = evaluate(cfg, run, task, data, trainer.device)
    summary.update({
        "d_loss": result.train.get("d_loss"),
        "g_loss": result.train.get("g_loss"),
        "d_real": result.train.get("d_real"),
        "d_fake": result.train.get("d_fake"),
        "steps": result.step,
        "epochs_done": result.step * cfg.batch_size / len(data.train),
        "train_images": len(data.train),
        "test_images": len(data.test),
        "gif_frames": frames,
        "parameters_g": sum(p.numel() for p in task.model.generator.parameters()),
        "parameters_d": sum(p.numel() for p in task.model.discriminator.parameters()),
    })
    plots.plot_curves(run)
    return summary


def evaluate(cfg: Config, run, task: GANTask, data: Splits, device: torch.device) -> dict:
    """Score --parzen-samples images from the scored generator: Parzen window, Fréchet distance, digit shares."""
    clock = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed + EVAL_SEED)
    samples = task.model.sample(cfg.parzen_samples, gen, net=task.sampler)  # (K, 784)
    test, val = pixels(data.test), pixels(data.val)
    parzen = metrics.parzen_evaluate(samples.to(device), val[-cfg.parzen_val:], test)
    run.timing["parzen_s"] = round(time.perf_counter() - clock, 1)
    clock = time.perf_counter()
    clf = metrics.feature_classifier(cfg, run, data.train, data.train_labels, device)
    run.timing["classifier_s"] = round(time.perf_counter() - clock, 1)
    f_gen, digits = metrics.classify(clf, samples)  # (K, F), (K,)
    f_test, test_pred = metrics.classify(clf, test)
    f_val, _ = metrics.classify(clf, val)
    share, entropy = metrics.digit_shares(digits)
    plots.plot_parzen(run, parzen)
    plots.plot_digits(run, share, metrics.digit_shares(test_pred)[0])
    if run.enabled:
        save_image_grid(samples[:64], run.path / "samples.png", f"GAN ({cfg.arch}): 64 samples G(z), z ~ N(0, I)")
    return {
        "parzen_test_ll": parzen["ll"],
        "parzen_test_ll_se": parzen["se"],
        "parzen_sigma": parzen["sigma"],
        "parzen_val_ll": parzen["val_ll"],
        "fd_classifier": metrics.frechet_distance_of(f_gen, f_test),
        "fd_real_reference": metrics.frechet_distance_of(f_val, f_test),
        "digit_share_min": float(share.min()),
        "digit_share_max": float(share.max()),
        "digit_entropy_bits": entropy,
        "classifier_test_accuracy": float((test_pred == data.test_labels).float().mean()),
        "samples_scored": cfg.parzen_samples,
    }


def sample(run_dir, cfg: Config, opts) -> str:
    """`dlf sample`: images G(z) from the scored generator (the weight average), z ~ N(0, I), as a PNG grid."""
    from dlf.sampling import load_weights, output_path

    task = build(cfg)
    found = load_weights(run_dir, task, "gan")
    path = output_path(run_dir, opts.out, "samples.png", ".png")
    images = task.model.sample(opts.n, torch.Generator().manual_seed(opts.seed), net=task.sampler)
    save_image_grid(images, path, f"GAN ({cfg.arch}): {opts.n} samples G(z), z ~ N(0, I) (seed {opts.seed})")
    return f"{opts.n} samples from {found.name}: {path}"
