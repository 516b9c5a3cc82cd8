"""Drawing the playground's network as TensorFlow Playground does: every unit a small heatmap, the weights lines.

`network_svg` draws the inputs, each hidden unit and the output as heatmaps of what they compute over the plane
(a small image each, shaded through one colour table, SHADE_LUT, that the page's script also paints with), the
weights as lines between them (thickness |w|; blue w > 0, orange w < 0; each
carries data-cmd="w <layer> <to> <from>" and data-w, its value), and + / - buttons over each hidden layer
(data-cmd="n+ <layer>", "n- <layer>"). CLICK_JS, run by the page's figure, turns a click on any of them into an
event for the server and shows a hovered weight's value. No maths here: dlf.fundamentals.playground computes.
"""

from __future__ import annotations

import base64

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
  if (t) trigger('click', {cmd: t.dataset.cmd, w: t.dataset.w});  // a weight's value as shown
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



def shade_index(values: np.ndarray, discrete: bool = False) -> np.ndarray:
    """Values on the scale [-1, 1] (clipped; NaN as 0) as indices 0..254 into SHADE_LUT: (...) -> (...) uint8."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), -1, 1)
    if discrete:
        v = np.where(v >= 0, 1.0, -1.0)
    return np.round((v + 1) * 127).astype(np.uint8)


def _shade_lut() -> np.ndarray:
    """(255, 3) uint8: orange for -1, white for 0, blue for +1, as TensorFlow Playground shades (index i: i/127 - 1)."""
    colours = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLORS], dtype=np.float64)
    v = (np.arange(255) / 127 - 1)[:, None]
    side = np.where(v >= 0, colours[1], colours[0])
    return (255 + 0.75 * np.abs(v) * (side - 255)).round().astype(np.uint8)


SHADE_LUT = _shade_lut()
SHADE_LUT_B64 = base64.b64encode(SHADE_LUT.tobytes()).decode("ascii")
"""The table in base64, as a patch carries it for the page's script (dlf.explore.patch)."""


def shade(values: np.ndarray, discrete: bool = False) -> np.ndarray:
    """Orange for -1, white for 0, blue for +1 (values clipped to [-1, 1]): (...) -> (..., 3) uint8."""
    return SHADE_LUT[shade_index(values, discrete)]


def plane_grid(n: int) -> tuple[np.ndarray, torch.Tensor]:
    xs = np.linspace(-EXTENT, EXTENT, n)
    g1, g2 = np.meshgrid(xs, xs[::-1])  # row 0 is the top
    return xs, torch.from_numpy(np.stack([g1.ravel(), g2.ravel()], 1))  # (n * n, 2)


def signed(out: np.ndarray, regression: bool) -> np.ndarray:
    """The output on a scale of about [-1, 1] for shading (the output probability p as 2p - 1)."""
    out = np.asarray(out)
    return out if regression else 2 * out - 1


def unit_positions(sizes: tuple[int, ...]) -> list[list[tuple[float, float]]]:
    """Top-left corner of every unit's tile, column by column (features, hidden layers, output), in even pixels."""
    step = (NET_WIDTH - TILE) / max(len(sizes) - 1, 1)
    return [[(NET_LEFT + 2 * round(c * step / 2), NET_TOP + j * PITCH) for j in range(n)] for c, n in enumerate(sizes)]


def tile_indices(outs: list[np.ndarray], regression: bool, discrete: bool) -> np.ndarray:
    """Every unit's heatmap as SHADE_LUT indices, column by column (features, hidden units, output):
    (units, TILE_GRID, TILE_GRID) uint8, from each column's outputs at plane_grid(TILE_GRID)'s points
    [(TILE_GRID^2, n_c), ...] (Playground.neuron_outputs). Features and hidden units are shown on their own
    range when it exceeds [-1, 1]; the output as 2p - 1 (its value in regression), in two colours when
    `discrete`."""
    tiles = []
    for c, out in enumerate(outs):
        last = c == len(outs) - 1
        vals = signed(out, regression) if last else out
        if not last:
            vals = vals / np.maximum(np.abs(vals).max(0), 1.0)
        tiles.append(shade_index(vals.T, discrete and last))  # (n_c, TILE_GRID^2)
    return np.concatenate(tiles).reshape(-1, TILE_GRID, TILE_GRID)


def weight_style(net: pg.Playground) -> tuple[list[str], list[str], list[str]]:
    """Every weight line's colour, stroke width and value label, in the order `network_svg` draws the lines."""
    w = np.concatenate([net.params[2 * (layer - 1)].numpy().ravel() for layer in range(1, len(net.sizes))])
    colours = np.where(w >= 0, CLASS_COLORS[1], CLASS_COLORS[0]).tolist()
    widths = [f"{v:.1f}" for v in np.minimum(0.6 + 1.6 * np.abs(w), 7.0).tolist()]
    return colours, widths, [f"{v:.4g}" for v in w.tolist()]


def network_svg(net: pg.Playground, tiles: np.ndarray) -> str:
    """Every unit's heatmap (an <image class="tile"> each, from `tile_indices`), the weights as lines, and + / -
    buttons over the hidden layers."""
    sizes = net.sizes
    pos = unit_positions(sizes)
    tiles = SHADE_LUT[tiles]  # (units, n, n, 3)
    flat = [xy for col in pos for xy in col]
    parts = [f'<image class="tile" href="{svg.bmp_data_uri(tile)}" x="{x}" y="{y}" width="{TILE}" height="{TILE}" '
             f'preserveAspectRatio="none"/>' for tile, (x, y) in zip(tiles, flat)]
    colours, widths, values = weight_style(net)
    k = 0
    for layer in range(1, len(sizes)):
        for i, (x1, y1) in enumerate(pos[layer]):
            for j, (x0, y0) in enumerate(pos[layer - 1]):
                parts.append(f'<line class="weight" data-cmd="w {layer} {i} {j}" data-w="{values[k]}" '
                             f'x1="{x0 + TILE:.0f}" y1="{y0 + TILE / 2:.0f}" x2="{x1:.0f}" y2="{y1 + TILE / 2:.0f}" '
                             f'stroke="{colours[k]}" stroke-width="{widths[k]}"/>')
                k += 1
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
    return ('<style>.weight{stroke-opacity:.7;cursor:pointer}.weight:hover{stroke-opacity:1}</style>'
            f'<g font-family="system-ui,sans-serif">{"".join(parts)}{"".join(labels)}</g>')
