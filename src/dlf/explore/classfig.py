"""The Classification page's figure: drawn whole as SVG, or, while training, patched in the browser.

Left, the network as TensorFlow Playground draws it (dlf.explore.netdraw): every unit a small heatmap, the
weights as lines. Right, the output over the plane with the training (filled) and test (ringed) points and,
in classification, the decision boundary; under it, the training and test loss.

    fig, status = render(state, note)           # the whole figure (SVG) and the status line
    fig, status = live_frame(state, note, sent)  # a training frame: a patch when the figure shown still fits

While training, only the heatmaps, the weights' colours and widths, the boundary and the loss curves change.
`live_frame` sends them as a patch (dlf.explore.patch): the heatmaps as indices into one colour table that the
page's script paints, the weights' styles as attributes, the curves as 16-bit pixel coordinates. That costs
the server about a millisecond instead of building the SVG and its images. The loss axes are rounded
outwards (steps to 1, 2 or 5 times a power of ten, the loss to a round number), so they stay put for many
frames; when they change, or FULL_EVERY_S has passed, the frame is the whole figure again.
"""

from __future__ import annotations

import math
import time
import zlib

import numpy as np
import torch

from dlf.explore import patch, svg
from dlf.explore.netdraw import (
    CLASS_COLORS,
    EXTENT,
    NET_LEFT,
    SHADE_LUT_B64,
    TILE_GRID,
    network_svg,
    plane_grid,
    shade,
    shade_index,
    signed,
    tile_indices,
    weight_style,
)

GRID = 64  # the output heatmap's points along a side
CURVE_POINTS = 400  # most points of a loss curve drawn
FULL_EVERY_S = 10.0  # a training frame is the whole figure at least this often
OUT, LOSS = (560, 30, 320, 320), (560, 400, 320, 130)
_XS, _POINTS = plane_grid(GRID)
_POINTS = torch.cat([_POINTS, plane_grid(TILE_GRID)[1]])  # the output heatmap's points, then the tiles'


def _nice_up(v: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least v (v > 0)."""
    mag = 10 ** math.floor(math.log10(max(v, 1e-12)))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= v * (1 - 1e-12))


def _curves(state) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loss curves' steps, training and test values, thinned to at most CURVE_POINTS (the last one kept)."""
    live = state.live
    steps, train, test = live.train_curve.steps, live.train_curve.values, live.test_curve.values
    if len(steps) > CURVE_POINTS:
        idx = np.linspace(0, len(steps) - 1, CURVE_POINTS).round().astype(int).tolist()
        steps, train, test = [steps[i] for i in idx], [train[i] for i in idx], [test[i] for i in idx]
    return np.array(steps, dtype=float), np.array(train), np.array(test)


def _layout(state, train: np.ndarray, test: np.ndarray) -> dict:
    """The loss panel's limits and the layout key that names everything a patch cannot change."""
    net = state.live.net
    both = np.concatenate([train, test])
    both = both[np.isfinite(both)]  # a diverging network's inf and NaN set no axis
    top = float(both.max()) if both.size else 1.0
    lims = {"x": (0.0, _nice_up(max(net.steps, 1))), "y": (0.0, _nice_up(max(top * 1.1, 0.1)))}
    shape = (net.sizes, net.phi.names, net.regression, bool(state.tune["discretize"]), lims["x"], lims["y"],
             len(f"{net.steps:,}"), state.key)
    lims["layout"] = f"{zlib.crc32(repr(shape).encode()):08x}"
    return lims


def _data(state, lims: dict | None = None) -> dict:
    net = state.live.net
    live = state.live
    return {"epoch": net.epochs, "step": net.steps, "train-loss": f"{live.train_curve.values[-1]:.6g}",
            "test-loss": f"{live.test_curve.values[-1]:.6g}", "hidden": ",".join(map(str, net.sizes[1:-1])),
            "discretize": int(bool(state.tune["discretize"])), "weights": len(net.sizes) - 1,
            **({"layout": lims["layout"]} if lims else {})}


def _grids(state) -> tuple[np.ndarray, np.ndarray]:
    """One forward pass over the plane: the output on the scale [-1, 1] (2p - 1, or the value) as (GRID, GRID),
    row 0 the top, and every unit's heatmap as colour indices (netdraw.tile_indices). The same pass records the
    losses at the network's step, if not recorded yet (playfit.LivePlay.grids): what the frame shows."""
    net = state.live.net
    outs = [o.numpy() for o in state.live.grids(_POINTS)]
    out = signed(outs[-1][: GRID * GRID, 0], net.regression).reshape(GRID, GRID)
    tiles = tile_indices([o[GRID * GRID :] for o in outs], net.regression, bool(state.tune["discretize"]))
    return out, tiles


def _boundary(out: np.ndarray, ax: svg.Panel) -> str:
    """The decision boundary (where p = 1/2) as one path's data, in tenths of a pixel (contourpy's lines)."""
    import contourpy

    if not np.isfinite(out).all():
        return ""
    gen = contourpy.contour_generator(_XS, _XS[::-1], out, line_type="Separate")
    return "".join(svg.path_d(ax.px(piece[:, 0]), ax.py(piece[:, 1])) for piece in gen.lines(0.0))


def render(state, note: str = "") -> tuple[str, str]:
    """The whole figure and the status line for the session's network (or a placeholder)."""
    live = state.live
    if live is None:
        return svg.Figure(900, 560, uid="classify-fig").render(), note or "Press **Train**."
    net, discrete = live.net, bool(state.tune["discretize"])
    out, tiles = _grids(state)
    steps, train, test = _curves(state)
    lims = _layout(state, train, test)
    fig = svg.Figure(900, 560, uid="classify-fig", data=_data(state, lims))
    fig.text(NET_LEFT, 14, "features → hidden layers → output; hover a weight to read it, click it to edit it",
             size=11)
    fig.extra.append('<text class="hover-readout" x="330" y="14" font-size="11" fill="#333"></text>')
    fig.extra.append(network_svg(net, tiles))
    ax = fig.panel(*OUT, (-EXTENT, EXTENT), (-EXTENT, EXTENT), grid=False,
                   title="output; filled: training, ringed: test points")
    ax.image(shade(out, discrete), cls="boundary-image", raw=True)
    if not net.regression:
        ax.items.append(f'<path class="boundary" d="{_boundary(out, ax)}" fill="none" stroke="black" '
                        'stroke-width="1.5" transform="scale(0.1)" vector-effect="non-scaling-stroke"/>')
    d = net.data
    for x, y, stroke in ((d.x_train, d.y_train, "white"), (d.x_test, d.y_test, "black")):
        vals = y.numpy() if net.regression else 2 * y.numpy() - 1
        if net.regression:
            cols = ["#{:02x}{:02x}{:02x}".format(*c) for c in shade(vals).tolist()]
        else:
            cols = [CLASS_COLORS[int(c > 0)] for c in vals.tolist()]
        ax.points(x[:, 0].numpy(), x[:, 1].numpy(), colors=cols, r=3.2, stroke=stroke)
    curve = fig.panel(*LOSS, lims["x"], lims["y"], xlabel="step",
                      title="loss (" + ("mean squared error)" if net.regression else "cross-entropy)"))
    curve.line(steps, train, color=svg.BLUE, width=2, cls="train-loss")
    curve.line(steps, test, color=svg.RED, width=2, dash="5 3", cls="test-loss")
    curve.legend([("training", svg.BLUE), ("test", svg.RED)], dash={"test": "5 3"})
    return fig.render(), status(state, note)


def live_frame(state, note: str, sent: dict) -> tuple[str, str]:
    """A frame while training: a patch of the figure last sent whole (`sent` remembers it), or the whole figure.

    The whole figure when the note is not "training" (the last frame), when the layout changed, when a value
    is not finite, or when FULL_EVERY_S has passed since the last whole one.
    """
    net, discrete = state.live.net, bool(state.tune["discretize"])
    out, tiles = _grids(state)
    steps, train, test = _curves(state)
    lims, now = _layout(state, train, test), time.perf_counter()
    finite = all(bool(torch.isfinite(p).all()) for p in net.params)
    if (note != "training" or lims["layout"] != sent.get("layout") or now - sent.get("at", -math.inf) > FULL_EVERY_S
            or not finite):
        sent.update(layout=lims["layout"], at=now)
        return render(state, note)
    ax = svg.Panel("", *OUT, (-EXTENT, EXTENT), (-EXTENT, EXTENT))
    curve = svg.Panel("", *LOSS, lims["x"], lims["y"])
    colours, widths, values = weight_style(net)
    attrs = [(".weight", "stroke", colours), (".weight", "stroke-width", widths), (".weight", "data-w", values)]
    if not net.regression:
        attrs.append((".boundary", "d", [_boundary(out, ax)]))
    images = [(".tile", 0, tiles, "shade"),
              (".boundary-image", 0, shade_index(out, discrete)[None], "shade")]
    frame = patch.patch(lims["layout"], _data(state), {"steps": 10 * curve.px(steps)},
                        [(".train-loss", 0, "steps", 10 * curve.py(train)),
                         (".test-loss", 0, "steps", 10 * curve.py(test))],
                        images=images, attrs=attrs, luts={"shade": SHADE_LUT_B64})
    return frame, status(state, note)


def status(state, note: str) -> str:
    """The status line: epoch, step, losses, accuracy, the update rate while training, and the note."""
    net, live = state.live.net, state.live
    rate = state.rate.per_second() if note == "training" else 0.0  # the rate only while training runs
    acc = live.accuracy  # at the last record, as the losses
    parts = [f"epoch **{net.epochs}**", f"step {net.steps:,}", f"training loss **{live.train_curve.values[-1]:.4f}**",
             f"test loss **{live.test_curve.values[-1]:.4f}**",
             "" if net.regression else f"accuracy {100 * acc[0]:.0f}% / {100 * acc[1]:.0f}% (train / test)",
             f"{rate:.1f} updates/s" if rate else "", note]
    return " · ".join(p for p in parts if p)

