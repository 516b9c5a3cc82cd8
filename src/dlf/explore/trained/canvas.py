"""The handwriting canvas: the user draws on 28 x 28 pixels in the browser; the server only classifies.

The page keeps the pixels on the client and sends them compactly (784 bytes as base64) to the server function
`classify`, one request at a time (a stroke that moves while a request is out sends only its latest state), and
draws the returned probabilities as bars. Arrow buttons, or the arrow keys on the canvas, move the digit one pixel.
"""

TEMPLATE = """
<div class="hw">
  <div class="hw-left">
    <canvas id="hw-canvas" width="280" height="280" tabindex="0" title="draw a digit; arrow keys move it"></canvas>
    <div class="hw-buttons">
      <button id="hw-left" title="move left one pixel">&larr;</button><button id="hw-up" title="up">&uarr;</button>
      <button id="hw-down" title="down">&darr;</button><button id="hw-right" title="right">&rarr;</button>
      <button id="hw-clear">clear</button>
    </div>
    <div id="hw-shift" class="hw-note">shift (0, 0)</div>
  </div>
  <div id="hw-probs" data-updates="0"><p class="hw-note">Draw a digit with the mouse.</p></div>
</div>
"""

CSS = """
.hw {display: flex; gap: 24px; flex-wrap: wrap}
#hw-canvas {border: 1px solid #999; background: #fff; cursor: crosshair; touch-action: none; width: 280px;
            height: 280px; image-rendering: pixelated}
.hw-buttons button {margin: 4px 4px 0 0; padding: 2px 10px; border: 1px solid #bbb; border-radius: 4px}
.hw-note {color: #666; font-size: 90%}
.hw-run {margin-bottom: 10px} .hw-run b {font-family: monospace}
.hw-bar {display: flex; align-items: center; gap: 6px; font-family: monospace; font-size: 12px; height: 15px}
.hw-bar span.fill {display: inline-block; height: 11px; background: #1f6fb4}
.hw-bar.top span.fill {background: #e8710a}
"""

JS = """
const N = 28, S = 10;
const canvas = element.querySelector('#hw-canvas');
const ctx = canvas.getContext('2d');
const probsDiv = element.querySelector('#hw-probs');
let px = new Float32Array(N * N), shift = [0, 0], busy = false, dirty = false, drawing = false, updates = 0;

function paint() {
  const img = ctx.createImageData(N, N);
  for (let i = 0; i < N * N; i++) {
    const v = 255 - Math.round(255 * px[i]);
    img.data.set([v, v, v, 255], 4 * i);
  }
  const tmp = document.createElement('canvas'); tmp.width = N; tmp.height = N;
  tmp.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, N * S, N * S);
}
function encode() {
  const bytes = new Uint8Array(N * N);
  for (let i = 0; i < N * N; i++) bytes[i] = Math.round(255 * Math.min(1, px[i]));
  let s = ''; bytes.forEach(b => s += String.fromCharCode(b));
  return btoa(s);
}
function bars(result) {
  if (result.error) { probsDiv.innerHTML = '<p class="hw-note">' + result.error + '</p>'; return; }
  let html = '', tops = [];
  for (const [name, p] of Object.entries(result.probs)) {
    const top = p.indexOf(Math.max(...p));
    tops.push(name + ':' + top + ':' + p[top].toFixed(4));
    html += '<div class="hw-run"><b>' + name + '</b>: ' + top + ' (' + (100 * p[top]).toFixed(1) + '%)';
    p.forEach((v, d) => {
      html += '<div class="hw-bar' + (d === top ? ' top' : '') + '">' + d + ' <span class="fill" style="width:' +
              Math.round(160 * v) + 'px"></span> ' + (100 * v).toFixed(1) + '%</div>';
    });
    html += '</div>';
  }
  probsDiv.innerHTML = html;
  probsDiv.dataset.top = tops.join(' ');
  probsDiv.dataset.updates = String(++updates);
}
async function send() {
  if (busy) { dirty = true; return; }
  busy = true; dirty = false;
  try { bars(await server.classify(encode())); }
  catch (e) { probsDiv.innerHTML = '<p class="hw-note">the server did not answer: ' + e + '</p>'; }
  busy = false;
  if (dirty) send();
}
function ink(x, y) {  // a soft round brush, as a pen on MNIST's 28 x 28 grid
  for (let r = Math.floor(y - 2); r <= y + 2; r++) for (let c = Math.floor(x - 2); c <= x + 2; c++) {
    if (r < 0 || c < 0 || r >= N || c >= N) continue;
    const d2 = (r + 0.5 - y) ** 2 + (c + 0.5 - x) ** 2;
    px[r * N + c] = Math.min(1, px[r * N + c] + Math.exp(-d2 / 1.2) * 0.9);
  }
}
let last = null;
function at(e) {
  const b = canvas.getBoundingClientRect();
  return [(e.clientX - b.left) / b.width * N, (e.clientY - b.top) / b.height * N];
}
function stroke(e) {
  const p = at(e);
  if (last) {
    const steps = Math.ceil(Math.hypot(p[0] - last[0], p[1] - last[1]) * 2);
    for (let k = 1; k <= steps; k++) {
      ink(last[0] + (p[0] - last[0]) * k / steps, last[1] + (p[1] - last[1]) * k / steps);
    }
  } else ink(p[0], p[1]);
  last = p; paint(); send();
}
canvas.addEventListener('pointerdown', e => {
  drawing = true; last = null; canvas.setPointerCapture(e.pointerId); stroke(e);
});
canvas.addEventListener('pointermove', e => { if (drawing) stroke(e); });
canvas.addEventListener('pointerup', () => { drawing = false; last = null; });
function move(dx, dy) {
  const out = new Float32Array(N * N);
  for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) {
    const r2 = r - dy, c2 = c - dx;
    if (r2 >= 0 && c2 >= 0 && r2 < N && c2 < N) out[r * N + c] = px[r2 * N + c2];
  }
  px = out; shift = [shift[0] + dx, shift[1] + dy];
  element.querySelector('#hw-shift').textContent = 'shift (' + shift[0] + ', ' + shift[1] + ') pixels';
  paint(); send();
}
const moves = {left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1]};
for (const [k, d] of Object.entries(moves)) {
  element.querySelector('#hw-' + k).addEventListener('click', () => move(...d));
}
canvas.addEventListener('keydown', e => {
  const d = {ArrowLeft: moves.left, ArrowRight: moves.right, ArrowUp: moves.up, ArrowDown: moves.down}[e.key];
  if (d) { e.preventDefault(); move(...d); }
});
element.querySelector('#hw-clear').addEventListener('click', () => {
  px = new Float32Array(N * N); shift = [0, 0]; paint();
  element.querySelector('#hw-shift').textContent = 'shift (0, 0)';
  probsDiv.innerHTML = '<p class="hw-note">Draw a digit with the mouse.</p>'; probsDiv.dataset.top = '';
});
paint();
"""
