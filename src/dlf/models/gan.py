"""Generative adversarial networks: the fully connected GAN of Goodfellow et al. (2014) and a DCGAN-style one.

A generator G maps noise z ~ N(0, I) to an image x = G(z) with pixels in [0, 1]; a discriminator D maps an image
to a logit, the log-odds that it is real. D minimises the cross-entropy of telling real from generated images,

    L_D = -E_x log s(D(x)) - E_z log(1 - s(D(G(z))))        (s = sigmoid; softplus(-l) = -log s(l))

and G minimises the non-saturating loss L_G = -E_z log s(D(G(z))) (Goodfellow et al. 2014, Section 3). It has the
same fixed point as the minimax game min_G max_D -L_D, p_G = p_data, but gives G strong gradients early on,
when D rejects its samples easily and log(1 - s(D(G(z)))) saturates.

    fc     G: z(100) -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid        (the paper's MNIST generator)
           D: 784 -> dropout 0.2 -> maxout 240x5 -> dropout 0.5 -> maxout 240x5 -> dropout 0.5 -> 1
    dcgan  G: z -> 7x7x2c BN ReLU -> up 14x14xc BN ReLU -> up 28x28x1 sigmoid    (Radford et al. 2016)
           D: 28x28x1 -> 14x14xc LeakyReLU -> 7x7x2c BN LeakyReLU -> 1
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SIDE, PIXELS = 28, 784


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = mean -log s(D(x)) + mean -log(1 - s(D(G(z)))), from the logits (numerically stable softplus)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating L_G = mean -log s(D(G(z)))."""
    return F.softplus(-fake_logits).mean()


class Maxout(nn.Module):
    """Goodfellow et al. (2013): each unit is the max of `pieces` linear functions of the input."""

    def __init__(self, n_in: int, n_out: int, pieces: int):
        super().__init__()
        self.n_out, self.pieces = n_out, pieces
        self.linear = nn.Linear(n_in, n_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), self.n_out, self.pieces).amax(-1)  # (B, n_out)


class FCGenerator(nn.Sequential):
    def __init__(self, z_dim: int = 100, hidden: int = 1200):
        super().__init__(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, PIXELS), nn.Sigmoid())  # (B, 784)


class FCDiscriminator(nn.Sequential):
    def __init__(self, hidden: int = 240, pieces: int = 5, dropout: float = 0.5, input_dropout: float = 0.2):
        super().__init__(nn.Dropout(input_dropout), Maxout(PIXELS, hidden, pieces), nn.Dropout(dropout),
                         Maxout(hidden, hidden, pieces), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(2 * x - 1).squeeze(-1)  # (B, 784) in [0, 1] -> (B,) logits


class DCGenerator(nn.Module):
    def __init__(self, z_dim: int = 100, channels: int = 64):
        super().__init__()
        c = channels
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * c * 49, bias=False), nn.BatchNorm1d(2 * c * 49), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),  # (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Sigmoid())  # (B, 1, 28, 28)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(len(z), -1, 7, 7)  # (B, 2c, 7, 7)
        return self.up(h).flatten(1)  # (B, 784)


class DCDiscriminator(nn.Module):
    def __init__(self, channels: int = 64):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),  # (B, 2c, 7, 7)
            nn.Flatten(), nn.Linear(2 * c * 49, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((2 * x - 1).view(len(x), 1, SIDE, SIDE)).squeeze(-1)  # (B,) logits


def init_dcgan(module: nn.Module) -> None:
    """Radford et al.: weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class GAN(nn.Module):
    """A generator and a discriminator; `sample` draws images from G (pixels in [0, 1])."""

    def __init__(self, arch: str = "fc", z_dim: int = 100, g_hidden: int = 1200, d_hidden: int = 240,
                 pieces: int = 5, channels: int = 64):
        super().__init__()
        self.arch, self.z_dim = arch, z_dim
        if arch == "fc":
            self.generator: nn.Module = FCGenerator(z_dim, g_hidden)
            self.discriminator: nn.Module = FCDiscriminator(d_hidden, pieces)
        elif arch == "dcgan":
            self.generator, self.discriminator = DCGenerator(z_dim, channels), DCDiscriminator(channels)
            init_dcgan(self)
        else:
            raise ValueError(f"unknown GAN architecture {arch!r}; choose fc or dcgan")

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), (n, z_dim), drawn on the CPU (the same z on every device) and moved to the model."""
        device = next(self.parameters()).device
        return torch.randn(n, self.z_dim, generator=generator).to(device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, net: nn.Module | None = None,
               z: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
        """n images (n, 784) in [0, 1] on the CPU, from `net` (default: G) in eval mode, for noise z or fresh z."""
        net = net if net is not None else self.generator
        was = net.training
        net.eval()
        parts = []
        for i in range(0, n, batch_size):
            zi = z[i:i + batch_size] if z is not None else self.noise(min(batch_size, n - i), generator)
            parts.append(net(zi.to(next(net.parameters()).device)).float().cpu())
        net.train(was)
        return torch.cat(parts)
