"""A small, fast SVG plotter for the explorer's live figures (no maths here, only drawing).

Matplotlib takes tens of milliseconds to draw a figure; the explorer redraws each plot up to 20 times a second
for many sessions at once, so its figures are SVG text built with numpy and drawn by the browser. A `Figure`
holds `Panel`s; a panel maps data coordinates to pixels (linear or log axes), draws lines, points, images,
text and its axes, and clips what it draws to its frame.

    fig = Figure(600, 300, uid="demo", data={"step": 10})
    ax = fig.panel(50, 20, 500, 240, xlim=(0, 1), ylim=(0, 1), title="fit")
    ax.line(x, y, color=BLUE, cls="fit")
    html = fig.render()

Every figure carries `data-*` attributes (its uid, step, error ...) that the browser tests read.
"""

from __future__ import annotations

import base64
import html
import io
import math
import struct
from collections.abc import Iterable, Sequence

import numpy as np

BLUE, ORANGE, GREEN, RED, PURPLE, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#7f7f7f"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
FONT = "font-family:system-ui,sans-serif"
_FAR = 1e5  # pixel coordinates are clipped to +-_FAR, so that huge values still give a valid path


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = [(first + i) * step for i in range(int((hi - lo) / step + 1e-9) + 1)]
    return [0.0 if abs(t) < step * 1e-9 else t for t in ticks if t <= hi + step * 1e-9]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten inside [lo, hi] (lo > 0), thinned to at most 6."""
    a, b = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    powers = list(range(a, b + 1))
    if not powers:  # a narrow range: one tick in the middle, rounded when the rounding stays inside
        mid = math.sqrt(lo * hi)
        return [r if lo <= (r := float(f"{mid:.2g}")) <= hi else mid]
    stride = max(1, math.ceil(len(powers) / 6))
    return [10.0**p for p in powers[::stride]]


def fmt(v: float) -> str:
    """A short label for a tick or a readout: 0.01, 2.5, 5,000 (whole numbers under a million), 1e+07."""
    if v == 0:
        return "0"
    if 1000 <= abs(v) < 1e6 and float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def png_data_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) or (H, W, 4) uint8 array as a PNG data URI (row 0 is the top of the image)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def bmp_data_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 array as an uncompressed BMP data URI: larger than a PNG, but made in microseconds."""
    h, w = rgb.shape[:2]
    row = (3 * w + 3) & ~3  # a BMP row is padded to 4 bytes
    pix = np.zeros((h, row), dtype=np.uint8)
    pix[:, : 3 * w] = rgb[::-1, :, ::-1].reshape(h, 3 * w)  # rows bottom-up, colours as B, G, R
    head = struct.pack("<2sIHHI", b"BM", 54 + pix.size, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, pix.size, 2835, 2835, 0, 0)
    return "data:image/bmp;base64," + base64.b64encode(head + info + pix.tobytes()).decode("ascii")


def path_d(px: np.ndarray, py: np.ndarray, digits: int = 1) -> str:
    """Path data 'Mx y x y ...' in units of 10**-digits pixels (draw it with `scale(10**-digits)`).

    Integers format fast, which matters at 20 redraws a second; a non-finite point starts a new piece and
    huge coordinates are clipped so that the path stays valid.
    """
    ok = np.isfinite(px) & np.isfinite(py)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return ""
    scale = 10**digits
    xi = np.round(np.clip(px[idx], -_FAR, _FAR) * scale).astype(np.int64)
    yi = np.round(np.clip(py[idx], -_FAR, _FAR) * scale).astype(np.int64)
    flat = np.empty(2 * idx.size, dtype=np.int64)
    flat[0::2], flat[1::2] = xi, yi
    cuts = (np.flatnonzero(np.diff(idx) > 1) + 1).tolist()  # where a run of finite points ends
    parts = []
    for a, b in zip([0, *cuts], [*cuts, idx.size]):
        parts.append("M" + " ".join(map(str, flat[2 * a : 2 * b].tolist())))
    return "".join(parts)


def _attrs(attrs: dict[str, object]) -> str:
    return "".join(f' {k}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items() if v is not None)


class Panel:
    """One plot area at (left, top) of size (width, height) pixels, showing xlim x ylim in data units."""

    def __init__(self, uid: str, left: float, top: float, width: float, height: float, xlim: Sequence[float],
                 ylim: Sequence[float], *, xlog: bool = False, ylog: bool = False, title: str = "",
                 xlabel: str = "", ylabel: str = "", grid: bool = True, xticks: bool = True, yside: str = "left"):
        self.uid, self.left, self.top, self.width, self.height = uid, left, top, width, height
        self.xlog, self.ylog = xlog, ylog
        self.xlim, self.ylim = self._limits(xlim, xlog), self._limits(ylim, ylog)
        self.title, self.xlabel, self.ylabel, self.grid = title, xlabel, ylabel, grid
        self.xticks, self.yside = xticks, yside  # yside: "left" or "right", where the y tick labels go
        self.items: list[str] = []
        self.overlay: list[str] = []  # drawn over the frame, unclipped (legends, notes)

    @staticmethod
    def _limits(lim: Sequence[float], log: bool) -> tuple[float, float]:
        lo, hi = float(lim[0]), float(lim[1])
        if log:
            lo, hi = max(lo, 1e-300), max(hi, 1e-300)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = (1.0, 10.0) if log else (0.0, 1.0)
        if hi <= lo:
            lo, hi = (lo / 10, lo * 10) if log else (lo - 0.5, lo + 0.5)
        return lo, hi

    def _scale(self, v: np.ndarray, lim: tuple[float, float], log: bool) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        lo, hi = lim
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                v, lo, hi = np.log10(np.where(v > 0, v, np.nan)), math.log10(lo), math.log10(hi)
        return (v - lo) / (hi - lo)

    def px(self, x) -> np.ndarray:
        return self.left + self.width * self._scale(x, self.xlim, self.xlog)

    def py(self, y) -> np.ndarray:
        return self.top + self.height * (1 - self._scale(y, self.ylim, self.ylog))

    # drawing -----------------------------------------------------------------------------------------------
    def line(self, x, y, color: str = BLUE, width: float = 1.5, dash: str | None = None, opacity: float = 1.0,
             cls: str | None = None, digits: int = 1) -> None:
        d = path_d(self.px(x), self.py(y), digits)
        attrs = {"stroke": color, "stroke-width": width, "stroke-dasharray": dash, "stroke-opacity": opacity,
                 "class": cls, "transform": f"scale({10.0**-digits:g})" if digits else None,
                 "vector-effect": "non-scaling-stroke" if digits else None}
        if d:
            self.items.append(f'<path d="{d}" fill="none"{_attrs(attrs)}/>')

    def points(self, x, y, colors: str | Sequence[str] = BLUE, r: float = 3.0, stroke: str = "white",
               fill_opacity: float = 1.0, cls: str | None = None) -> None:
        px, py = np.round(self.px(x), 1), np.round(self.py(y), 1)
        cols = [colors] * len(px) if isinstance(colors, str) else list(colors)
        dots = "".join(f'<circle cx="{a:g}" cy="{b:g}" r="{r}" fill="{c}"/>'
                       for a, b, c in zip(px.tolist(), py.tolist(), cols) if math.isfinite(a) and math.isfinite(b))
        attrs = {"class": cls, "stroke": stroke, "stroke-width": 0.8, "fill-opacity": fill_opacity}
        self.items.append(f"<g{_attrs(attrs)}>{dots}</g>")

    def image(self, rgb: np.ndarray | str, extent: Sequence[float] | None = None, cls: str | None = None,
              smooth: bool = True, raw: bool = False) -> None:
        """An image whose row 0 is the top, stretched over extent (x0, x1, y0, y1), by default the whole panel.

        `rgb` is an array (a PNG, or an uncompressed BMP with raw=True, quicker to make) or a data URI already made.
        """
        x0, x1, y0, y1 = extent if extent is not None else (*self.xlim, *self.ylim)
        left, right = float(self.px(x0)), float(self.px(x1))
        top, bottom = float(self.py(y1)), float(self.py(y0))
        style = "" if smooth else "image-rendering:pixelated"
        uri = rgb if isinstance(rgb, str) else bmp_data_uri(rgb) if raw else png_data_uri(rgb)
        self.items.append(f'<image href="{uri}" x="{left:.1f}" y="{top:.1f}" '
                          f'width="{right - left:.1f}" height="{bottom - top:.1f}" preserveAspectRatio="none"'
                          f'{_attrs({"class": cls, "style": style or None})}/>')

    def contour(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, levels: Iterable[float], **kw) -> None:
        """Lines where the grid values z (len(y), len(x)) cross each level (traced by contourpy)."""
        import contourpy

        gen = contourpy.contour_generator(x, y, np.asarray(z, dtype=np.float64), line_type="Separate")
        for level in levels:
            for piece in gen.lines(float(level)):
                self.line(piece[:, 0], piece[:, 1], **kw)

    def hline(self, y: float, **kw) -> None:
        self.line(np.array(self.xlim), np.array([y, y]), **kw)

    def vline(self, x: float, **kw) -> None:
        self.line(np.array([x, x]), np.array(self.ylim), **kw)

    def arrow(self, x0: float, y0: float, x1: float, y1: float, color: str = "black", width: float = 2.0) -> None:
        a, b, c, d = (float(v) for v in (self.px(x0), self.py(y0), self.px(x1), self.py(y1)))
        self.items.append(f'<line x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{d:.1f}" stroke="{color}" '
                          f'stroke-width="{width}" marker-end="url(#{self.uid}-arrow)"/>')

    def text(self, x: float, y: float, label: str, color: str = "black", size: int = 11, anchor: str = "start",
             data_units: bool = True) -> None:
        a, b = (float(self.px(x)), float(self.py(y))) if data_units else (self.left + x, self.top + y)
        self.overlay.append(f'<text x="{a:.1f}" y="{b:.1f}" fill="{color}" font-size="{size}" '
                            f'text-anchor="{anchor}" style="{FONT}">{html.escape(label)}</text>')

    def legend(self, entries: Iterable[tuple[str, str]], corner: str = "top right", dash: dict | None = None) -> None:
        """(label, colour) pairs in a box in a corner of the panel."""
        entries = list(entries)
        if not entries:
            return
        w = 26 + 6.2 * max(len(label) for label, _ in entries)
        h = 8 + 15 * len(entries)
        x = self.left + self.width - w - 6 if "right" in corner else self.left + 6
        y = self.top + 6 if "top" in corner else self.top + self.height - h - 6
        rows = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="white" fill-opacity="0.85" '
                f'stroke="#ccc"/>']
        for i, (label, color) in enumerate(entries):
            cy = y + 11 + 15 * i
            da = (dash or {}).get(label)
            rows.append(f'<line x1="{x + 5:.1f}" y1="{cy:.1f}" x2="{x + 21:.1f}" y2="{cy:.1f}" stroke="{color}" '
                        f'stroke-width="2.5"{_attrs({"stroke-dasharray": da})}/>')
            rows.append(f'<text x="{x + 25:.1f}" y="{cy + 4:.1f}" font-size="11" style="{FONT}">'
                        f'{html.escape(label)}</text>')
        self.overlay.append("".join(rows))

    # axes --------------------------------------------------------------------------------------------------
    def _axes(self) -> str:
        out: list[str] = []
        xt = (log_ticks(*self.xlim) if self.xlog else nice_ticks(*self.xlim)) if self.xticks else []
        yt = log_ticks(*self.ylim) if self.ylog else nice_ticks(*self.ylim, count=4)
        bottom, right = self.top + self.height, self.left + self.width
        for t, p in zip(xt, self.px(xt).tolist()):
            if self.grid:
                out.append(f'<line x1="{p:.1f}" y1="{self.top}" x2="{p:.1f}" y2="{bottom}" stroke="#eee"/>')
            out.append(f'<text x="{p:.1f}" y="{bottom + 13}" font-size="10" text-anchor="middle">{fmt(t)}</text>')
        for t, p in zip(yt, self.py(yt).tolist()):
            if self.grid:
                out.append(f'<line x1="{self.left}" y1="{p:.1f}" x2="{right}" y2="{p:.1f}" stroke="#eee"/>')
            tx, anchor = (self.left - 4, "end") if self.yside == "left" else (right + 4, "start")
            out.append(f'<text x="{tx}" y="{p + 3:.1f}" font-size="10" text-anchor="{anchor}">{fmt(t)}</text>')
        if self.title:
            out.append(f'<text x="{self.left}" y="{self.top - 6}" font-size="12" font-weight="600">'
                       f'{html.escape(self.title)}</text>')
        if self.xlabel:
            out.append(f'<text x="{self.left + self.width / 2}" y="{bottom + 27}" font-size="11" '
                       f'text-anchor="middle">{html.escape(self.xlabel)}</text>')
        if self.ylabel:
            cx, cy = self.left - 34, self.top + self.height / 2
            out.append(f'<text x="{cx}" y="{cy}" font-size="11" text-anchor="middle" '
                       f'transform="rotate(-90 {cx} {cy})">{html.escape(self.ylabel)}</text>')
        return f'<g style="{FONT}" fill="#444">{"".join(out)}</g>'

    def render(self, index: int) -> str:
        clip = f"{self.uid}-clip{index}"
        frame = (f'<rect x="{self.left}" y="{self.top}" width="{self.width}" height="{self.height}" fill="none" '
                 f'stroke="#999"/>')
        return (f'<clipPath id="{clip}"><rect x="{self.left}" y="{self.top}" width="{self.width}" '
                f'height="{self.height}"/></clipPath>{self._axes()}'
                f'<g clip-path="url(#{clip})">{"".join(self.items)}</g>{frame}{"".join(self.overlay)}')


class Figure:
    """An SVG of width x height pixels made of panels; `data` becomes data-* attributes on the <svg>."""

    def __init__(self, width: int, height: int, uid: str, data: dict[str, object] | None = None):
        self.width, self.height, self.uid = width, height, uid
        self.data = dict(data or {})
        self.panels: list[Panel] = []
        self.extra: list[str] = []

    def panel(self, left: float, top: float, width: float, height: float, xlim, ylim, **kw) -> Panel:
        p = Panel(self.uid, left, top, width, height, xlim, ylim, **kw)
        self.panels.append(p)
        return p

    def text(self, x: float, y: float, label: str, size: int = 12, color: str = "#333", weight: str = "normal"):
        self.extra.append(f'<text x="{x}" y="{y}" font-size="{size}" fill="{color}" font-weight="{weight}" '
                          f'style="{FONT}">{html.escape(label)}</text>')

    def render(self) -> str:
        data = {f"data-{k.replace('_', '-')}": v for k, v in self.data.items()}
        marker = (f'<defs><marker id="{self.uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
                  f'markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>')
        body = "".join(p.render(i) for i, p in enumerate(self.panels))
        return (f'<svg viewBox="0 0 {self.width} {self.height}" '
                f'width="100%" style="max-width:{self.width}px;height:auto;background:white"'
                f'{_attrs({"id": self.uid, "data-plot": self.uid, **data})}>{marker}{body}{"".join(self.extra)}'
                f"</svg>")


_LUTS: dict[str, np.ndarray] = {}


def _lut(name: str) -> np.ndarray:
    """The colour map's table of colours as (N, 4) floats, looked up once (matplotlib maps through it too)."""
    if name not in _LUTS:
        import matplotlib

        cmap = matplotlib.colormaps[name]
        _LUTS[name] = cmap(np.arange(cmap.N))
    return _LUTS[name]


def colormap(values: np.ndarray, name: str, lo: float, hi: float, alpha: float = 1.0) -> np.ndarray:
    """Map values (any shape) in [lo, hi] to uint8 RGB(A) with a matplotlib colour map.

    Indexes the map's table as matplotlib does (floor(t * N), the top end to the last colour), without its
    per-call overhead: a redraw of the Neuron page during a drag takes a fraction of a millisecond here.
    """
    rgba = _lut(name)[colormap_index(values, name, lo, hi)]
    if alpha >= 1.0:
        rgba = rgba[..., :3]
    else:
        rgba[..., 3] = alpha
    return (rgba * 255).round().astype(np.uint8)


def colormap_index(values: np.ndarray, name: str, lo: float, hi: float) -> np.ndarray:
    """The row of the colour map's table (`colormap_table`) for each value, as `colormap` picks it."""
    n = len(_lut(name))
    t = np.clip((np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-300), 0, 1)
    return np.minimum((np.nan_to_num(t, nan=0.5) * n).astype(np.intp), n - 1)


def colormap_table(name: str) -> np.ndarray:
    """The colour map's table as (N, 3) uint8 RGB: colormap(v) == colormap_table(name)[colormap_index(v)]."""
    return (_lut(name)[:, :3] * 255).round().astype(np.uint8)
