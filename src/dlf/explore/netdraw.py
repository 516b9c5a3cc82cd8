"""Drawing the playground's network as TensorFlow Playground does: every unit a small heatmap, the weights lines.

`network_svg` draws the inputs, each hidden unit and the output as heatmaps of what they compute over the plane
(one PNG holds all the tiles), the weights as lines between them (thickness |w|; blue w > 0, orange w < 0; each
carries data-cmd="w <layer> <to> <from>" and data-w, its value), and + / - buttons over each hidden layer
(data-cmd="n+ <layer>", "n- <layer>"). CLICK_JS, run by the page's figure, turns a click on any of them into an
event for the server and shows a hovered weight's value. No maths here: dlf.fundamentals.playground computes.
"""

from __future__ import annotations

import numpy as np
import torch

from dlf.explore import svg
from dlf.fundamentals import playground as pg

EXTENT = 7.0  # the plane shown is [-EXTENT, EXTENT]^2
TILE = 24  # pixels of one unit's heatmap
TILE_GRID = 12  # grid points along its side (drawn at TILE / TILE_GRID pixels a point)
PITCH = 30  # vertical distance between units
NET_LEFT, NET_TOP, NET_WIDTH = 50, 56, 470
CLASS_COLORS = ("#e8710a", "#1f6fb4")  # negative / class 0 orange, positive / class 1 blue, as in TF Playground
# clicks on the figure (data-cmd of the element clicked): "w <layer> <to> <from>", "n+ <layer>", "n- <layer>"
# hovering a weight writes its value into the figure's readout (and a tooltip)
CLICK_JS = """element.addEventListener('click', (e) => {
  const t = e.target.closest('[data-cmd]');
  if (t) trigger('click', {cmd: t.dataset.cmd});
});
element.addEventListener('mouseover', (e) => {
  const t = e.target.closest('.weight');
  const out = element.querySelector('.hover-readout');
  if (!t || !out) return;
  const [, layer, to, from] = t.dataset.cmd.split(' ').map(Number);
  out.textContent = `weight ${t.dataset.w} (layer ${layer}, unit ${from + 1} to unit ${to + 1})`;
  if (!t.querySelector('title')) {
    const tip = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    tip.textContent = `weight ${t.dataset.w}; click to edit`;
    t.appendChild(tip);
  }
});"""



def shade(values: np.ndarray, discrete: bool = False) -> np.ndarray:
    """Orange for -1, white for 0, blue for +1 (values clipped to [-1, 1]): (...) -> (..., 3) uint8."""
    colours = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLORS], dtype=np.float64)
    v = np.clip(np.nan_to_num(values), -1, 1)[..., None]
    if discrete:
        v = np.where(v >= 0, 1.0, -1.0)
    side = np.where(v >= 0, colours[1], colours[0])
    return (255 + 0.75 * np.abs(v) * (side - 255)).round().astype(np.uint8)


def plane_grid(n: int) -> tuple[np.ndarray, torch.Tensor]:
    xs = np.linspace(-EXTENT, EXTENT, n)
    g1, g2 = np.meshgrid(xs, xs[::-1])  # row 0 is the top
    return xs, torch.from_numpy(np.stack([g1.ravel(), g2.ravel()], 1))  # (n * n, 2)


def signed(out: torch.Tensor, regression: bool) -> np.ndarray:
    """A layer's outputs on a scale of about [-1, 1] for shading (the output probability p as 2p - 1)."""
    return out.numpy() if regression else 2 * out.numpy() - 1


def unit_positions(sizes: tuple[int, ...]) -> list[list[tuple[float, float]]]:
    """Top-left corner of every unit's tile, column by column (features, hidden layers, output), in even pixels."""
    step = (NET_WIDTH - TILE) / max(len(sizes) - 1, 1)
    return [[(NET_LEFT + 2 * round(c * step / 2), NET_TOP + j * PITCH) for j in range(n)] for c, n in enumerate(sizes)]


def network_svg(net: pg.Playground, discrete: bool) -> str:
    """Every unit's heatmap (one PNG with all tiles), the weights as lines, and +/- buttons over hidden layers."""
    sizes = net.sizes
    pos = unit_positions(sizes)
    _, points = plane_grid(TILE_GRID)
    outs = net.neuron_outputs(points)  # [(TILE_GRID^2, n_c) per column]
    height, k, n = NET_TOP + PITCH * max(sizes) + 4, TILE // TILE_GRID, TILE_GRID
    atlas = np.zeros((height // k, (NET_LEFT + NET_WIDTH) // k + 2, 4), dtype=np.uint8)  # transparent, 1/k scale
    for c, (out, col) in enumerate(zip(outs, pos)):
        vals = signed(out, net.regression) if c == len(sizes) - 1 else out.numpy()
        if c < len(sizes) - 1:  # features and hidden units: their own range when it exceeds [-1, 1]
            vals = vals / np.maximum(np.abs(vals).max(0), 1.0)
        for j, (x, y) in enumerate(col):
            tile = shade(vals[:, j].reshape(n, n), discrete and c == len(sizes) - 1)
            r, q = int(round(y / k)), int(round(x / k))
            atlas[r : r + n, q : q + n, :3] = tile
            atlas[r : r + n, q : q + n, 3] = 255
    parts = []
    for layer in range(1, len(sizes)):
        w = net.params[2 * (layer - 1)].numpy()  # (out, in)
        for i, (x1, y1) in enumerate(pos[layer]):
            for j, (x0, y0) in enumerate(pos[layer - 1]):
                wij = float(w[i, j])
                colour = CLASS_COLORS[1] if wij >= 0 else CLASS_COLORS[0]
                parts.append(f'<line class="weight" data-cmd="w {layer} {i} {j}" data-w="{wij:.4g}" '
                             f'x1="{x0 + TILE:.0f}" y1="{y0 + TILE / 2:.0f}" x2="{x1:.0f}" y2="{y1 + TILE / 2:.0f}" '
                             f'stroke="{colour}" stroke-width="{min(0.6 + 1.6 * abs(wij), 7.0):.1f}"/>')
    labels = [f'<text x="{x - 3:.0f}" y="{y + 16:.0f}" font-size="10" text-anchor="end">{n}</text>'
              for n, (x, y) in zip(net.phi.names, pos[0])]
    for layer in range(1, len(sizes) - 1):
        x = pos[layer][0][0]
        for i, (sign, cmd) in enumerate((("+", "n+"), ("\u2212", "n-"))):
            parts.append(f'<g class="neuron-button" data-cmd="{cmd} {layer}" style="cursor:pointer">'
                         f'<rect x="{x - 2 + 15 * i:.0f}" y="{NET_TOP - 34}" width="13" height="13" rx="2" '
                         f'fill="#eee" stroke="#999"/><text x="{x + 4.5 + 15 * i:.0f}" y="{NET_TOP - 24}" '
                         f'font-size="12" text-anchor="middle">{sign}</text></g>')
        parts.append(f'<text x="{x - 2:.0f}" y="{NET_TOP - 6}" font-size="10">{sizes[layer]} units</text>')
    # the atlas at its own size, scaled by a transform (the page's CSS may size an <image> by its pixels)
    return (f'<g transform="scale({k})"><image class="neurons" href="{svg.png_data_uri(atlas)}" x="0" y="0" '
            f'width="{atlas.shape[1]}" height="{atlas.shape[0]}"/></g>'
            '<style>.weight{stroke-opacity:.7;cursor:pointer}.weight:hover{stroke-opacity:1}</style>'
            f'<g font-family="system-ui,sans-serif">'
            f'{"".join(parts)}{"".join(labels)}</g>')
