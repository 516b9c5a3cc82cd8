"""Figures updated in the browser: a patch of the numbers that change, and the page's script that applies it.

A live figure (dlf.explore.widgets.live_plot) shows a whole SVG made by dlf.explore.svg; while training runs,
most frames are patches made here (see dlf.explore.unifig.live_frame), a few kB of 16-bit pixel coordinates
that PATCH_JS writes into the figure's paths, instead of the whole SVG built again on the server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import numpy as np


def ints_b64(values) -> str:
    """Numbers rounded to 16-bit integers (clipped), little-endian, in base64: compact data for `PATCH_JS`."""
    a = np.asarray(values, dtype=np.float64).round()
    a[~np.isfinite(a)] = 0
    a = a.clip(-32767, 32767).astype("<i2")
    return base64.b64encode(a.tobytes()).decode("ascii")


PATCH_JS = r"""
const box = element.querySelector('.dlf-live');
const dec = (s) => { const b = atob(s), a = new Int16Array(b.length >> 1);
  for (let i = 0; i < a.length; i++) a[i] = b.charCodeAt(2 * i) | (b.charCodeAt(2 * i + 1) << 8);
  return a; };
function patch(p) {
  const fig = box.querySelector('svg[data-layout]');
  if (!fig || fig.dataset.layout !== p.layout) return;  // not the figure shown: the next whole one comes soon
  const xs = {};
  for (const k in p.xs) xs[k] = dec(p.xs[k]);
  for (const [sel, i, xk, yb] of p.paths) {  // y holds one row per path: the i-th match of sel and on
    const els = fig.querySelectorAll(sel), x = xs[xk], y = dec(yb), n = x.length;
    for (let r = 0; r * n < y.length && i + r < els.length; r++) {
      const pts = new Array(n);
      for (let j = 0; j < n; j++) pts[j] = x[j] + ' ' + y[r * n + j];
      els[i + r].setAttribute('d', 'M' + pts.join(' '));
    }
  }
  for (const [sel, cx, cy] of p.circles) {
    const c = fig.querySelector(sel);
    if (c) { c.setAttribute('cx', cx); c.setAttribute('cy', cy); }
  }
  for (const [prefix, text] of p.texts) {
    for (const t of fig.querySelectorAll('text')) if (t.textContent.startsWith(prefix)) { t.textContent = text; break; }
  }
  const luts = {};
  for (const k in (p.luts || {})) luts[k] = Uint8Array.from(atob(p.luts[k]), (c) => c.charCodeAt(0));
  for (const [sel, i, w, h, lk, b] of (p.images || [])) {  // colour-table indices, one image of w x h per match
    const els = fig.querySelectorAll(sel), idx = Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
    const lut = luts[lk], n = w * h, canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h);
    for (let r = 0; r * n < idx.length && i + r < els.length; r++) {
      for (let j = 0; j < n; j++) {
        const k = 3 * idx[r * n + j];
        img.data[4 * j] = lut[k]; img.data[4 * j + 1] = lut[k + 1]; img.data[4 * j + 2] = lut[k + 2];
        img.data[4 * j + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      els[i + r].setAttribute('href', canvas.toDataURL());
    }
  }
  for (const [sel, name, values] of (p.attrs || [])) {  // one value per match of sel, in order
    const els = fig.querySelectorAll(sel);
    for (let j = 0; j < values.length && j < els.length; j++) els[j].setAttribute(name, values[j]);
  }
  for (const k in p.data) fig.setAttribute('data-' + k, p.data[k]);
}
const note = element.querySelector('.dlf-live-note');
let source = null;  // the training stream followed (dlf.explore.stream), if any
function unfollow() { if (source) { source.close(); source = null; } if (note) note.textContent = ''; }
function follow(url) {
  unfollow();
  const s = source = new EventSource(url);
  s.onmessage = (e) => { if (source === s) draw(e.data); };
  s.addEventListener('note', (e) => { if (source === s && note) note.textContent = e.data.replace(/\*\*/g, ''); });
  s.addEventListener('end', () => {  // the job ended: gradio brings its last figure and status (a hidden button)
    if (source !== s) return;
    s.close(); source = null;
    const host = element.closest('[id$="-plot"]');
    const finish = host && document.getElementById(host.id.replace(/-plot$/, '-finish'));
    if (finish) finish.click();
  });
  s.onerror = () => { if (source === s && s.readyState === EventSource.CLOSED) source = null; };
}
function draw(v) {
  if (typeof v === 'string' && v.startsWith('{')) patch(JSON.parse(v));
  else box.innerHTML = v || '';
}
function show(v) {  // a value from gradio: a figure, a patch, or a stream to follow
  if (typeof v === 'string' && v.startsWith('{"stream"')) { follow(JSON.parse(v).stream); return; }
  unfollow();  // the last figure of a press comes from gradio: frames still on their way are stale
  draw(v);
}
show(props.value);
watch('value', () => show(props.value));
"""
"""The browser's half of a live figure (a gr.HTML's js_on_load; see dlf.explore.widgets.live_plot).

A value that is an SVG replaces the figure. A value {"stream": url} makes the page follow a training stream
(dlf.explore.stream: Server-Sent Events whose data are such values, and "note" events, the status line shown
under the figure) until it ends or gradio sends the next value. A value that is a patch (JSON, from `patch`)
updates the figure in place: each path's points, circles, texts, images (painted from colour-table indices),
other attributes and data-* attributes, and only when its
"layout" is the one the shown figure carries in data-layout (axes, titles and legends stay as drawn). So
during training the server sends the numbers that change, 16-bit integers in pixels, instead of building the
whole SVG each frame.
"""


def patch(layout: str, data: dict[str, object], xs: dict[str, np.ndarray],
          paths: list[tuple[str, int, str, np.ndarray]], circles: Sequence[tuple[str, float, float]] = (),
          texts: Sequence[tuple[str, str]] = (), images: Sequence[tuple[str, int, np.ndarray, str]] = (),
          attrs: Sequence[tuple[str, str, list]] = (), luts: dict[str, str] | None = None) -> str:
    """A patch for PATCH_JS: paths are (CSS selector, index among its matches, key of its x in `xs`, y).

    x and y are in the path's own units (pixels, or tenths of a pixel for a path drawn with digits=1); a y of
    shape (rows, len(x)) sets the index-th match and those after it, a row each. `images` are (selector, index,
    pixels, key of its colour table in `luts`): pixels (rows, h, w) of uint8 indices into the table (256 RGB
    triples at most, base64), painted into the index-th <image> and those after it, a row each. `attrs` are
    (selector, attribute, values): the j-th match of the selector gets the j-th value.
    """
    return json.dumps({
        "layout": layout, "data": {k.replace("_", "-"): str(v) for k, v in data.items()},
        "xs": {k: ints_b64(v) for k, v in xs.items()},
        "paths": [[sel, i, xk, ints_b64(y)] for sel, i, xk, y in paths],
        "circles": [[sel, round(cx, 1), round(cy, 1)] for sel, cx, cy in circles], "texts": list(texts),
        "images": [[sel, i, int(px.shape[-1]), int(px.shape[-2]), lut,
                    base64.b64encode(np.ascontiguousarray(px, dtype=np.uint8).tobytes()).decode("ascii")]
                   for sel, i, px, lut in images],
        "attrs": [[sel, name, list(values)] for sel, name, values in attrs], "luts": luts or {}},
        separators=(",", ":"))
