"""Explorer page "Neuron": two weights, a bias and an activation; the output over the input plane, and where it fires.

The maths is dlf.fundamentals.neuron.Neuron: z = w1 x1 + w2 x2 + b, output = act(z), and the neuron fires where
the output exceeds act(0), i.e. on the side of the line z = 0 that w points to.
"""

from __future__ import annotations

import base64
import functools
import json
import math

import numpy as np
import torch

from dlf.explore import share, svg
from dlf.explore.share import Field
from dlf.fundamentals.activations import NAMES
from dlf.fundamentals.neuron import Neuron

TAB = "neuron"
TITLE = "Neuron"
EXTENT = 3.0  # the plane shown is [-EXTENT, EXTENT]^2
GRID = 80  # pixels of the output image per side

FIELDS = (
    Field("w1", "weight w1", "float", 1.0, -5.0, 5.0, 0.1, info="how strongly input x1 counts"),
    Field("w2", "weight w2", "float", -0.5, -5.0, 5.0, 0.1, info="how strongly input x2 counts"),
    Field("b", "bias b", "float", 0.5, -5.0, 5.0, 0.1, info="shifts the line where the neuron starts to fire"),
    Field("activation", "activation", "choice", "sigmoid", choices=NAMES),
    Field("x1", "probe input x1", "float", 1.0, -EXTENT, EXTENT, 0.1, info="a point to evaluate the neuron at"),
    Field("x2", "probe input x2", "float", 1.0, -EXTENT, EXTENT, 0.1),
)


@functools.cache
def _grid() -> torch.Tensor:
    """The image's pixel centres as (GRID*GRID, 2) points (x1, x2), row by row from the top (x2 = +EXTENT)."""
    xs = np.linspace(-EXTENT, EXTENT, GRID)
    g1, g2 = np.meshgrid(xs, xs[::-1])  # (GRID, GRID) each
    return torch.from_numpy(np.stack([g1.ravel(), g2.ravel()], axis=1))


def _surface(v: dict) -> tuple[Neuron, np.ndarray, np.ndarray, tuple[float, float]]:
    """The neuron, its output on the grid (GRID, GRID), where it fires, and the colour range."""
    neuron = Neuron(torch.tensor([v["w1"], v["w2"]]), v["b"], v["activation"])
    pts = _grid()
    z_t = neuron.z(pts)  # (GRID*GRID,): once, for the output and where it fires
    out_t = neuron.act(z_t)  # = neuron.output(pts)
    out = out_t.numpy().reshape(GRID, GRID)
    fires = (out_t > neuron.act.threshold).numpy().reshape(GRID, GRID)  # = neuron.fires(pts)
    lo, hi = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(v["activation"], (0.0, max(float(out.max()), 1.0)))
    return neuron, out, fires, (lo, hi)


def _washed(rgb: np.ndarray, fires: np.ndarray) -> np.ndarray:
    """The colours with the region that does not fire washed out (uint8)."""
    rgb = rgb.astype(np.float64)
    rgb[~fires] = 0.45 * rgb[~fires] + 0.55 * 255
    return rgb.round().astype(np.uint8)


def boundary(w1: float, w2: float, b: float) -> np.ndarray | None:
    """The ends (2, 2) of the line z = w1 x1 + w2 x2 + b = 0 inside the square shown, or None when it misses it.

    z is linear, so the line where it is 0 is straight: clipped to the square (Liang-Barsky) rather than traced
    on the grid, it is the same line, in a fraction of the time.
    """
    w = np.array([w1, w2], dtype=np.float64)
    norm2 = float(w @ w)
    if norm2 < 1e-18:
        return None
    foot, direction = -b * w / norm2, np.array([-w2, w1]) / math.sqrt(norm2)  # the point nearest 0, and along
    lo, hi = -math.inf, math.inf
    for p, d in zip(foot, direction):  # keep -EXTENT <= p + t d <= EXTENT on each axis
        if abs(d) < 1e-12:
            if abs(p) > EXTENT:
                return None
            continue
        t0, t1 = sorted(((-EXTENT - p) / d, (EXTENT - p) / d))
        lo, hi = max(lo, t0), min(hi, t1)
    if hi - lo < 1e-9:
        return None
    return np.stack([foot + lo * direction, foot + hi * direction])


def render(v: dict, token: str | None = None, pixels: bool = True, surface: tuple | None = None) -> tuple[str, str]:
    """The figure (SVG) and the formula (markdown) for the settings `v`.

    `token` (dlf.explore.stream) goes into the figure's data-token, for the page's drags to use; with
    pixels=False the output image is left empty (`compact` sends its colour indices for the page to paint);
    `surface` is `_surface(v)` when already computed.
    """
    neuron, out, fires, (lo, hi) = surface or _surface(v)
    probe = torch.tensor([v["x1"], v["x2"]], dtype=torch.float64)
    p_out = float(neuron.output(probe))
    data = {"w1": v["w1"], "w2": v["w2"], "b": v["b"], "activation": v["activation"],
            "fires": f"{fires.mean():.4f}", "output": f"{p_out:.6g}", **({"token": token} if token else {})}
    fig = svg.Figure(560, 470, uid="neuron-fig", data=data)
    ax = fig.panel(50, 28, 400, 400, (-EXTENT, EXTENT), (-EXTENT, EXTENT), xlabel="x1", ylabel="x2", grid=False,
                   title=f"output = {v['activation']}(w·x + b); bright: where it fires")
    if pixels:  # uncompressed: quick to make while dragging
        ax.image(_washed(svg.colormap(out, "viridis", lo, hi), fires), cls="surface", raw=True)
    else:
        ax.image("", cls="surface")
    ends = boundary(v["w1"], v["w2"], v["b"])
    if ends is not None:
        ax.line(ends[:, 0], ends[:, 1], color="white", width=2.5, dash="6 4", cls="boundary")
    w = np.array([v["w1"], v["w2"]])
    if np.linalg.norm(w) > 1e-9:  # w is normal to the line z = 0 and points to where z grows
        foot = -v["b"] * w / float(w @ w)
        tip = foot + w / np.linalg.norm(w)
        ax.arrow(foot[0], foot[1], tip[0], tip[1], color="white")
        ax.text(tip[0], tip[1], " w", color="white", size=13)
    ax.points([v["x1"]], [v["x2"]], colors=svg.RED, r=6, stroke="black", cls="probe")
    bar = fig.panel(490, 28, 18, 400, (0, 1), (lo, hi), grid=False, xticks=False, yside="right")
    bar.image(_colorbar())
    return fig.render(), formula(neuron, probe, float(fires.mean()))


def compact(query: dict, token: str | None = None) -> bytes:
    """A drag's answer (dlf.explore.stream's route), as JSON the page draws (DRAG_JS): the figure without its
    pixels, the colour map's index of each pixel and where the neuron fires, both base64, and the formula.

    The query's values are checked and clamped as a link's are; a bad one falls back to its default. The
    figure carries `token`, the session's, for the drags after it.
    """
    v = share.values_of(FIELDS, [query.get(f.name, f.default) for f in FIELDS])
    surface = _surface(v)
    _, out, fires, (lo, hi) = surface
    fig, text = render(v, token=token, pixels=False, surface=surface)
    return json.dumps({"svg": fig, "formula": text, "index": _b64(svg.colormap_index(out, "viridis", lo, hi)),
                       "fires": _b64(np.packbits(fires.ravel())), "lut": _viridis(), "size": GRID},
                      separators=(",", ":")).encode()


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


@functools.cache
def _viridis() -> str:
    """The colour map's table, 256 RGB triples (uint8, base64), as `svg.colormap` uses it."""
    return _b64(svg.colormap_table("viridis"))


DRAG_JS = """
async (w1, w2, b, activation, x1, x2) => {
  // a drag of the Neuron page's controls: one request at a time to the page's own route, always the newest value
  const st = window.__dlfNeuron || (window.__dlfNeuron = {seq: 0, busy: null});
  const my = ++st.seq;
  while (st.busy) { await st.busy; if (my !== st.seq) return undefined; }
  let done;
  st.busy = new Promise((r) => { done = r; });
  try {
    let token;  // the session's, in the figure of the page's first draw (a load event: it may still be on its way)
    for (let i = 0; i < 300 && !(token = document.querySelector('#neuron-fig')?.dataset.token); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!token || my !== st.seq) return undefined;  // a newer value came meanwhile: that one is drawn
    const q = new URLSearchParams({w1, w2, b, activation, x1, x2});
    const r = await fetch('/dlf/neuron/' + encodeURIComponent(token) + '?' + q);
    if (!r.ok) return undefined;
    const a = await r.json();
    const dec = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    const index = dec(a.index), fires = dec(a.fires), lut = dec(a.lut), n = a.size;
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = n;
    const ctx = canvas.getContext('2d'), img = ctx.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const k = 3 * index[i], on = (fires[i >> 3] >> (7 - (i & 7))) & 1;
      for (let c = 0; c < 3; c++) img.data[4 * i + c] = on ? lut[k + c] : Math.round(0.45 * lut[k + c] + 140.25);
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const svg = a.svg.replace('<image href=""', '<image href="' + canvas.toDataURL() + '"');
    return [svg, a.formula];
  } catch (e) {
    return undefined;
  } finally {
    st.busy = null;
    done();
  }
}
"""
"""The browser's half of a drag on the Neuron page (gradio runs it for each control's input event, js=...):
it asks `compact`'s route for the figure, paints the pixels from the colour indices, and shows the figure and
the formula. Only the newest value is asked for once the one before has been answered."""


@functools.cache
def _colorbar() -> str:
    """The colour bar's image: the whole colour map from top to bottom, whatever the range its ticks show."""
    return svg.png_data_uri(svg.colormap(np.linspace(1, 0, 64).reshape(64, 1), "viridis", 0, 1))


def formula(neuron: Neuron, probe: torch.Tensor, fire_fraction: float) -> str:
    at = neuron.formula(probe).split("; ", 1)[-1]
    return (f"**`{neuron.formula()}`**\n\n"
            f"at the red point, `{at}`\n\n"
            f"It fires where `z = w1·x1 + w2·x2 + b > 0`: the bright side of the dashed line, "
            f"{100 * fire_fraction:.0f}% of the square shown. The arrow `w` points towards growing `z`.")


def build(limits) -> dict:
    """The page's widgets and events (call inside a gr.Tab); returns what the app needs to restore it."""
    from dlf.explore import stream, widgets

    def draw(v: dict) -> tuple[str, str]:  # in a gradio event: the figure carries the session's token for drags
        session = stream.session_hash()
        return render(v, token=stream.SESSIONS.token(session) if session and stream.attached() else None)

    return widgets.redraw_page(TAB, FIELDS, draw, "formula", event="input", widths=(1, 2, 280), client=DRAG_JS)
