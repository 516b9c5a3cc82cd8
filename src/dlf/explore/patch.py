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
updates the figure in place: each path's points, circles, texts and data-* attributes, and only when its
"layout" is the one the shown figure carries in data-layout (axes, titles and legends stay as drawn). So
during training the server sends the numbers that change, 16-bit integers in pixels, instead of building the
whole SVG each frame.
"""


def patch(layout: str, data: dict[str, object], xs: dict[str, np.ndarray],
          paths: list[tuple[str, int, str, np.ndarray]], circles: Sequence[tuple[str, float, float]] = (),
          texts: Sequence[tuple[str, str]] = ()) -> str:
    """A patch for PATCH_JS: paths are (CSS selector, index among its matches, key of its x in `xs`, y).

    x and y are in the path's own units (pixels, or tenths of a pixel for a path drawn with digits=1); a y of
    shape (rows, len(x)) sets the index-th match and those after it, a row each.
    """
    return json.dumps({
        "layout": layout, "data": {k.replace("_", "-"): str(v) for k, v in data.items()},
        "xs": {k: ints_b64(v) for k, v in xs.items()},
        "paths": [[sel, i, xk, ints_b64(y)] for sel, i, xk, y in paths],
        "circles": [[sel, round(cx, 1), round(cy, 1)] for sel, cx, cy in circles], "texts": list(texts)},
        separators=(",", ":"))
