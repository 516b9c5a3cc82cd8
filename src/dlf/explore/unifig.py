"""The Universality page's figure: drawn whole as SVG, or, while training, patched in the browser.

Four panels: the target and the network's output; each unit's contribution v_j act(w_j x + b_j) and their
sum; the RMS error while training (log scale); the width sweep's errors with this network as a dot.

    fig, status = render(state, note)          # the whole figure (SVG) and the status line
    fig, status = live_frame(state, note, sent)  # a training frame: a patch when the figure shown still fits

A training frame changes only lines, a dot, a label and the figure's data-* attributes. `live_frame` sends
them as a patch (dlf.explore.patch: 16-bit pixel coordinates, a few kB) that the page's script applies
to the figure it shows, so a frame costs the server about a millisecond instead of building the SVG. The axes
are rounded outwards (the error panel's step axis to 1, 2 or 5 times a power of ten, its error axis and the
contributions' axis to half decades and round numbers), so they stay put for many frames; when they change, or
FULL_EVERY_S has passed (a browser may have missed a whole figure), the frame is the whole figure again.
"""

from __future__ import annotations

import math
import time
import zlib

import numpy as np

from dlf.explore import patch, svg
from dlf.explore.livefit import GRID, INTERVAL, LiveFit, measure

SHOWN_UNITS = 32  # most contributions drawn (the largest), so that a frame stays small
SWEEP_STEPS = 300  # steps each width of the sweep trains from its random start
ERROR_POINTS = 400  # most points of the error curve drawn
FULL_EVERY_S = 10.0  # a training frame is the whole figure at least this often
TOP, LOW, ERR, SWEEP = (60, 30, 520, 220), (60, 310, 520, 220), (660, 30, 220, 220), (660, 310, 220, 220)


def _ylim(values: np.ndarray, pad: float = 0.15) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    span = max(hi - lo, 1e-3)
    return lo - pad * span, hi + pad * span


def _round_out(lim: tuple[float, float]) -> tuple[float, float]:
    """Limits widened to multiples of a round step (a tenth to a fifth of the span), so they change seldom."""
    lo, hi = lim
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-300))) / 2
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _log_lim(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return 1e-3, 1.0
    return float(values.min()) / 1.5, float(values.max()) * 1.5


def _half_decades(lim: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (math.log10(max(v, 1e-300)) for v in lim)
    return 10 ** (math.floor(2 * lo) / 2), 10 ** (math.ceil(2 * hi) / 2)


def _nice_up(n: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, ... that is at least n."""
    mag = 10 ** math.floor(math.log10(max(n, 1)))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= n)


def _error_curve(live: LiveFit) -> tuple[np.ndarray, np.ndarray]:
    """The error curve's positive points, thinned to at most ERROR_POINTS (the last one always kept).

    Thinned before it becomes arrays: the curve holds up to thousands of points, a frame draws a few hundred.
    """
    steps, values = live.curve.steps, live.curve.values
    if len(steps) > ERROR_POINTS:
        idx = np.linspace(0, len(steps) - 1, ERROR_POINTS).round().astype(int).tolist()  # distinct, last kept
        steps, values = [steps[i] for i in idx], [values[i] for i in idx]
    steps, values = np.array(steps), np.array(values)
    ok = values > 0
    return steps[ok], values[ok]


def _sweep_lim(rows: list[tuple[int, float, float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    if not rows:
        return (1, 512), (1e-3, 1)
    widths = np.array([r[0] for r in rows], dtype=float)
    both = np.array([r[1] for r in rows] + [r[2] for r in rows])
    return (0.7, max(widths.max(), 2) * 1.4), _log_lim(both[both > 0])


def _limits(live: LiveFit, output: np.ndarray, sweep: list, errors: np.ndarray) -> dict:
    """Every panel's limits for this network, output and error curve, and the layout key that names them."""
    lims = {"top": _ylim(live.grid_target),
            "low": _round_out(_ylim(np.concatenate([live.grid_target, output]))),
            "err_x": (0, _nice_up(live.steps)), "err_y": _half_decades(_log_lim(errors)), "sweep": _sweep_lim(sweep)}
    shape = (live.width, live.activation, live.target.text, len(f"{live.steps:,}"), tuple(sweep),
             {k: np.round(v, 12).tolist() for k, v in lims.items()})
    lims["layout"] = f"{zlib.crc32(repr(shape).encode()):08x}"
    return lims


def _data(state) -> dict:
    live = state.live
    return {"step": live.steps if live else 0, "width": live.width if live else 0,
            "error": f"{live.curve.values[-1]:.6g}" if live else "", "sweep": len(state.sweep),
            "rate": f"{state.rate.per_second():.1f}"}


def _status(state, err: dict, note: str) -> str:
    live = state.live
    rate = state.rate.per_second() if note == "training" else 0.0  # the rate only while training runs
    parts = [f"step **{live.steps:,}**", f"RMS error **{err['rms_error']:.4g}**", f"max error {err['max_error']:.4g}",
             f"{live.width} hidden units", f"{rate:.1f} updates/s" if rate else "", note]
    return " · ".join(p for p in parts if p)


def _order(contrib: np.ndarray) -> list[int]:
    return np.argsort(-np.abs(contrib).max(0))[:SHOWN_UNITS].tolist()  # the largest contributions


def render(state, note: str = "", curves: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[str, str]:
    """The whole figure and the status line for the session's current network (or a placeholder); `curves` is
    `live.curves()` when already computed."""
    live = state.live
    fig = svg.Figure(900, 560, uid="universality-fig", data=_data(state))
    if live is None:
        return fig.render(), note or "Choose a target and press **Train**."
    xs, target = GRID, live.grid_target
    contrib, output = curves or live.curves()  # (161, width), (161,)
    err = measure(live, output)
    steps, values = _error_curve(live)
    lims = _limits(live, output, state.sweep, values)
    fig.data["layout"] = lims["layout"]
    formula = live.target.formula if len(live.target.formula) <= 40 else live.target.formula[:38] + "…"
    top = fig.panel(*TOP, INTERVAL, lims["top"], title=f"target {formula} and the network's output")
    top.line(xs, target, color="black", width=2, dash="6 4", cls="target")
    top.line(xs, output, color=svg.BLUE, width=2.5, cls="fit")
    top.legend([("target", "black"), ("network output", svg.BLUE)], dash={"target": "6 4"})

    shown = f"all {live.width}" if live.width <= SHOWN_UNITS else f"{SHOWN_UNITS} largest of {live.width}"
    low = fig.panel(*LOW, INTERVAL, lims["low"], xlabel="x",
                    title=f"each unit's v_j·{live.activation}(w_j x + b_j) ({shown}) and their sum")
    for k, j in enumerate(_order(contrib)):
        low.line(xs[::2], contrib[::2, j], color=svg.PALETTE[k % len(svg.PALETTE)], width=1.2, opacity=0.8,
                 cls="unit", digits=0)
    low.line(xs, output, color=svg.BLUE, width=2.5, cls="sum")

    err_ax = fig.panel(*ERR, lims["err_x"], lims["err_y"], ylog=True, title="RMS error while training", xlabel="step")
    err_ax.line(steps, values, color=svg.RED, width=1.8, cls="error-curve")
    _draw_sweep(fig, state.sweep, lims["sweep"], (live.width, err["rms_error"], live.steps))
    return fig.render(), _status(state, err, note)


def _draw_sweep(fig: svg.Figure, rows: list[tuple[int, float, float]], lims: tuple, live: tuple[int, float, int]
                ) -> None:
    """RMS and max error against width (each trained SWEEP_STEPS steps), and this network as a black dot."""
    ax = fig.panel(*SWEEP, *lims, xlog=True, ylog=True, xlabel="hidden units", title="error against width")
    if not rows:
        ax.text(10, 110, "press Width sweep", color=svg.GREY, data_units=False)
        return
    widths = np.array([r[0] for r in rows], dtype=float)
    rms, mx = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    ax.line(widths, rms, color=svg.BLUE, width=1.8, cls="sweep-rms")
    ax.points(widths, rms, colors=svg.BLUE, r=3)
    ax.line(widths, mx, color=svg.ORANGE, width=1.8, cls="sweep-max")
    ax.points(widths, mx, colors=svg.ORANGE, r=3)
    ax.points([live[0]], [live[1]], colors="black", r=4, cls="sweep-live")
    ax.legend([(f"RMS error, {SWEEP_STEPS} steps", svg.BLUE), ("max error", svg.ORANGE),
               (f"this network, step {live[2]:,}", "black")], corner="bottom left")


def live_frame(state, note: str, sent: dict) -> tuple[str, str]:
    """A frame while training: a patch of the figure last sent whole (`sent` remembers it), or the whole figure.

    The whole figure when the note is not "training" (the last frame), when the axes changed, when a value is
    not finite, or when FULL_EVERY_S has passed since the last whole one.
    """
    live = state.live
    contrib, output = live.curves()  # (161, width), (161,)
    steps, values = _error_curve(live)
    lims, now = _limits(live, output, state.sweep, values), time.perf_counter()
    if (note != "training" or lims["layout"] != sent.get("layout") or now - sent.get("at", -math.inf) > FULL_EVERY_S
            or not (np.isfinite(contrib).all() and np.isfinite(output).all())):
        sent.update(layout=lims["layout"], at=now)
        return render(state, note, (contrib, output))
    err = measure(live, output)
    top = svg.Panel("", *TOP, INTERVAL, lims["top"])
    low = svg.Panel("", *LOW, INTERVAL, lims["low"])
    err_ax = svg.Panel("", *ERR, lims["err_x"], lims["err_y"], ylog=True)
    units = contrib[::2, _order(contrib)].T  # (shown units, 81), the largest first, as `render` draws them
    paths = [(".fit", 0, "grid", 10 * top.py(output)), (".sum", 0, "grid", 10 * low.py(output)),
             (".error-curve", 0, "steps", 10 * err_ax.py(values)), (".unit", 0, "half", low.py(units))]
    circles, texts = [], []
    if state.sweep:
        ax = svg.Panel("", *SWEEP, *lims["sweep"], xlog=True, ylog=True)
        cx, cy = float(ax.px(live.width)), float(ax.py(err["rms_error"]))
        circles += [(".sweep-live circle", cx, cy)] if math.isfinite(cx) and math.isfinite(cy) else []
        texts.append(("this network, step", f"this network, step {live.steps:,}"))
    frame = patch.patch(lims["layout"], _data(state), {"grid": 10 * top.px(GRID), "half": low.px(GRID[::2]),
                                                      "steps": 10 * err_ax.px(steps)}, paths, circles, texts)
    return frame, _status(state, err, note)
