"""PixelCNN: an autoregressive model of binary images built from masked convolutions.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural Networks", section 3.5. The pixels are
ordered in raster order (row by row, left to right) and the joint distribution is factorised exactly:

    p(x) = prod_i p(x_i | x_1, ..., x_{i-1}),      p(x_i = 1 | x_<i) = sigmoid(logit_i(x_<i))

so -log p(x) = sum_i BCE(logit_i, x_i) is the exact negative log-likelihood, with no bound involved. One forward
pass gives all 784 logits at once; the masks make logit_i blind to pixel i and to every pixel after it. The first
convolution uses mask A (the centre tap is zeroed: a pixel never sees itself), every later one mask B (the centre
tap is kept: a feature at pixel i may use features computed at i, which saw only x_<i). Sampling needs one pass
per pixel. The paper's PixelCNN reaches 81.30 nats on binarized MNIST (its Table 2; the best model, a 7-layer
Diagonal BiLSTM, 79.20).

Layers: a 7x7 mask-A convolution, `blocks` residual blocks, then ReLU, 1x1, ReLU, 1x1 down to one logit per pixel
(a 1x1 mask B is all ones, so those are plain 1x1 convolutions). A residual block is either the paper's
bottleneck (Figure 5: ReLU, 1x1 to h/2, ReLU, 3x3 mask B, ReLU, 1x1 back to h, plus the input) or "plain"
(ReLU, 3x3 mask B at full width, plus the input). No normalisation: batch norm over a batch's pixels would let
a pixel's own value leak into the statistics that its logit uses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SIDE = 28  # images are SIDE x SIDE, one binary channel
PIXELS = SIDE * SIDE


def causal_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """(k, k) of 0s and 1s: 1 on every tap above the centre row, and left of the centre (A) or up to it (B)."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B' (got {mask_type!r})")
    k, c = kernel_size, kernel_size // 2
    mask = torch.zeros(k, k)
    mask[:c] = 1  # rows above
    mask[c, :c + (mask_type == "B")] = 1  # the centre row: left of centre, and the centre itself for mask B
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution whose weight is multiplied by a causal mask on every call (odd kernel sizes)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (got {kernel_size})")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(kernel_size, mask_type)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the masked taps get zero weight AND zero gradient, so they stay irrelevant whatever the optimizer does
        return self._conv_forward(x, self.weight * self.mask, self.bias)

    def last_row(self, x: torch.Tensor) -> torch.Tensor:
        """The output's last row only, (B, C_out, 1, W), from x's last k // 2 + 1 rows: the kernel's rows below
        the centre are masked out, so they are not computed, and missing rows above are the usual zero padding."""
        need = self.kernel_size[0] // 2 + 1
        x = F.pad(x, (0, 0, need - x.shape[2], 0)) if x.shape[2] < need else x[:, :, -need:]
        return F.conv2d(x, (self.weight * self.mask)[:, :, :need], self.bias, padding=(0, self.padding[1]))


class ResidualBlock(nn.Module):
    """x + f(x), where f only looks at pixels up to and including the current one (mask B)."""

    def __init__(self, channels: int, kind: str = "bottleneck"):
        super().__init__()
        if kind == "bottleneck":  # Figure 5 of the paper: 1x1 down to h/2, 3x3 mask B, 1x1 up to h
            mid = max(1, channels // 2)
            self.f = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, mid, 1), nn.ReLU(),
                                   MaskedConv2d(mid, mid, 3, "B"), nn.ReLU(), nn.Conv2d(mid, channels, 1))
        elif kind == "plain":
            self.f = nn.Sequential(nn.ReLU(), MaskedConv2d(channels, channels, 3, "B"))
        else:
            raise ValueError(f"block kind must be 'bottleneck' or 'plain' (got {kind!r})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


class PixelCNN(nn.Module):
    """One Bernoulli logit per pixel of (B, 1, 28, 28) binary images; logit i depends on pixels before i only."""

    def __init__(self, channels: int = 64, blocks: int = 8, block: str = "bottleneck"):
        super().__init__()
        self.channels, self.blocks, self.block = channels, blocks, block
        self.input = MaskedConv2d(1, channels, 7, "A")
        self.body = nn.Sequential(*[ResidualBlock(channels, block) for _ in range(blocks)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1))

    def stages(self) -> list[nn.Module]:
        """The layers in order, as the sampler caches their outputs: the input convolution, each block, the head."""
        return [self.input, *self.body, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, H, W) of 0s and 1s -> logits (B, 1, H, W)."""
        return self.head(self.body(self.input(x)))

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """-log p(x) in nats per image: x (B, 784) or (B, 1, 28, 28) of 0s and 1s -> (B,)."""
        x = x.reshape(-1, 1, SIDE, SIDE)
        logits = self(x).float()  # the sum over 784 pixels in float32, also under autocast
        return F.binary_cross_entropy_with_logits(logits, x.float(), reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, given: torch.Tensor | None = None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        """Draw n images pixel by pixel in raster order: float (n, 784) of 0s and 1s, on the model's device.

        With `given` (n, 784) and `mask` (784,) or (n, 784), True where a pixel is given, the given pixels are kept
        and only the others are drawn from p(x_i | x_<i) (completion: give the top half, draw the bottom half).
        The uniforms come from `generator` on the CPU, so a seed gives the same samples on any device.

        Each pixel needs a forward pass, but not over the whole image: the rows above the current one are final,
        so every layer's output is cached row by row, and a step recomputes only the current row of each layer
        from the few rows it reads (see `last_row`): one row of work per layer instead of 28.
        """
        weight = next(self.parameters())
        device, dtype = weight.device, weight.dtype
        u = torch.rand(n, PIXELS, generator=generator).to(device)  # (n, 784), drawn up front
        x = torch.zeros(n, 1, SIDE, SIDE, device=device, dtype=dtype)
        keep = torch.zeros(n, PIXELS, dtype=torch.bool, device=device)
        if given is not None:
            if mask is None:
                raise ValueError("sample(given=...) needs the mask of given pixels")
            keep = mask.to(device=device, dtype=torch.bool).expand(n, PIXELS)
            x = (given.to(device, dtype).reshape(n, PIXELS) * keep).view(n, 1, SIDE, SIDE)
        given_everywhere = keep.all(0).tolist()  # (784,) bools on the host: no device sync per pixel
        stages = self.stages()
        outputs = [x] + [None] * len(stages)  # outputs[s + 1]: stage s's output for every row, filled row by row
        exact_rows = 0  # rows [0, exact_rows) of every cached output are final
        was_training = self.training
        self.eval()
        for i in range(PIXELS):
            if given_everywhere[i]:
                continue
            r, c = divmod(i, SIDE)
            for row in range(exact_rows, r + 1):  # rows skipped or left unfinished, then the current one
                self._advance(outputs, stages, row)
            exact_rows = r  # row r's columns after c still change
            p = torch.sigmoid(outputs[-1][:, 0, r, c].float())  # (n,)
            draw = (u[:, i] < p).to(dtype)
            x[:, 0, r, c] = torch.where(keep[:, i], x[:, 0, r, c], draw)
            if c == SIDE - 1:
                exact_rows = r + 1  # nothing at (r, 27) depends on x[r, 27] itself
        self.train(was_training)
        return x.view(n, PIXELS).float()

    @staticmethod
    def _advance(outputs: list, stages: list[nn.Module], row: int) -> None:
        """Recompute row `row` of every stage's cached output from the rows that stage reads."""
        for s, layer in enumerate(stages):
            out = last_row(layer, outputs[s][:, :, max(0, row - rows_read(layer)):row + 1])[:, :, 0]  # (n, C, W)
            if outputs[s + 1] is None:  # (n, C, H, W) stored as NHWC, so that a band of rows is one block of memory
                shape = (*out.shape[:2], SIDE, SIDE)
                outputs[s + 1] = torch.empty(shape, dtype=out.dtype, device=out.device,
                                             memory_format=torch.channels_last).zero_()
            outputs[s + 1][:, :, row] = out


def rows_read(layer: nn.Module) -> int:
    """How many rows above an output row `layer` reads: k // 2 summed over the masked convolutions in it."""
    return sum(m.kernel_size[0] // 2 for m in layer.modules() if isinstance(m, MaskedConv2d))


def last_row(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`layer`'s output on the last row of x (B, C, rows, W) only: (B, C', 1, W), exact when x holds the
    rows_read(layer) rows above it (or starts at the image's top row)."""
    if isinstance(layer, MaskedConv2d):
        return layer.last_row(x)
    if isinstance(layer, ResidualBlock):
        return x[:, :, -1:] + last_row(layer.f, x)
    if isinstance(layer, nn.Sequential):
        for part in layer:
            x = last_row(part, x)
        return x[:, :, -1:]
    return layer(x)  # pointwise: ReLU, 1x1 convolution
