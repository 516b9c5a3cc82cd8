"""Drawing canvases: the user draws on 28 x 28 pixels in the browser; the server only computes.

CORE is the pad itself (brush, painting, the compact form: 784 bytes as base64). The handwriting page (TEMPLATE,
JS) sends the pixels to the server function `classify`, one request at a time (a stroke that moves while a request
is out sends only its latest state), and draws the returned probabilities as bars; arrow buttons, or the arrow keys
on the canvas, move the digit one pixel. The PixelCNN pad (PAD_TEMPLATE, PAD_JS) sends a drawn top half to
`complete_drawn` and shows the drawn rows one after another, in the order the model drew them.
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
#pad-canvas {border: 1px solid #999; cursor: crosshair; touch-action: none; width: 224px; height: 224px}
.hw-run {margin-bottom: 10px} .hw-run b {font-family: monospace}
.hw-bar {display: flex; align-items: center; gap: 6px; font-family: monospace; font-size: 12px; height: 15px}
.hw-bar span.fill {display: inline-block; height: 11px; background: #1f6fb4}
.hw-bar.top span.fill {background: #e8710a}
"""

CORE = """
// A 28 x 28 drawing pad on a canvas: pad(canvas, onDraw) -> {get(), set(px), paint(), encode()}.
function pad(canvas, onDraw) {
  const N = 28, ctx = canvas.getContext('2d');
  let px = new Float32Array(N * N), last = null, drawing = false;
  function paint(extra) {  // extra(i): an optional grey level in [0, 1] for pixels to show but not draw
    const img = ctx.createImageData(N, N);
    for (let i = 0; i < N * N; i++) {
      const v = 255 - Math.round(255 * Math.max(px[i], extra ? extra(i) : 0));
      img.data.set([v, v, v, 255], 4 * i);
    }
    const tmp = document.createElement('canvas'); tmp.width = N; tmp.height = N;
    tmp.getContext('2d').putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  }
  function encode() {
    let s = '';
    for (let i = 0; i < N * N; i++) s += String.fromCharCode(Math.round(255 * Math.min(1, px[i])));
    return btoa(s);
  }
  function ink(x, y) {  // a soft round brush, as a pen on MNIST's 28 x 28 grid
    for (let r = Math.floor(y - 2); r <= y + 2; r++) for (let c = Math.floor(x - 2); c <= x + 2; c++) {
      if (r < 0 || c < 0 || r >= N || c >= N) continue;
      const d2 = (r + 0.5 - y) ** 2 + (c + 0.5 - x) ** 2;
      px[r * N + c] = Math.min(1, px[r * N + c] + Math.exp(-d2 / 1.2) * 0.9);
    }
  }
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
    last = p; paint(); onDraw();
  }
  canvas.addEventListener('pointerdown', e => {
    drawing = true; last = null; canvas.setPointerCapture(e.pointerId); stroke(e);
  });
  canvas.addEventListener('pointermove', e => { if (drawing) stroke(e); });
  canvas.addEventListener('pointerup', () => { drawing = false; last = null; });
  paint();
  return {get: () => px, set: v => { px = v; paint(); }, paint, encode};
}
"""

JS = CORE + """
const N = 28;
const canvas = element.querySelector('#hw-canvas');
const probsDiv = element.querySelector('#hw-probs');
let shift = [0, 0], busy = false, dirty = false, updates = 0;
const drawn = pad(canvas, () => send());

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
  try { bars(await server.classify(drawn.encode())); }
  catch (e) { probsDiv.innerHTML = '<p class="hw-note">the server did not answer: ' + e + '</p>'; }
  busy = false;
  if (dirty) send();
}
function move(dx, dy) {
  const px = drawn.get(), out = new Float32Array(N * N);
  for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) {
    const r2 = r - dy, c2 = c - dx;
    if (r2 >= 0 && c2 >= 0 && r2 < N && c2 < N) out[r * N + c] = px[r2 * N + c2];
  }
  drawn.set(out); shift = [shift[0] + dx, shift[1] + dy];
  element.querySelector('#hw-shift').textContent = 'shift (' + shift[0] + ', ' + shift[1] + ') pixels';
  send();
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
  drawn.set(new Float32Array(N * N)); shift = [0, 0];
  element.querySelector('#hw-shift').textContent = 'shift (0, 0)';
  probsDiv.innerHTML = '<p class="hw-note">Draw a digit with the mouse.</p>'; probsDiv.dataset.top = '';
});
"""

PAD_TEMPLATE = """
<div class="hw">
  <div class="hw-left">
    <canvas id="pad-canvas" width="224" height="224" title="draw the top of a digit"></canvas>
    <div class="hw-buttons"><button id="pad-go">complete the bottom half</button><button id="pad-clear">clear</button>
    </div>
    <div id="pad-note" class="hw-note">Draw the top of a digit above the line; the model draws the rest.</div>
  </div>
</div>
"""

PAD_JS = CORE + """
const N = 28, canvas = element.querySelector('#pad-canvas'), note = element.querySelector('#pad-note');
let timer = null;
const drawn = pad(canvas, () => {});
const line = () => { const c = canvas.getContext('2d'); c.strokeStyle = '#e8710a';
  c.beginPath(); c.moveTo(0, canvas.height / 2); c.lineTo(canvas.width, canvas.height / 2); c.stroke(); };
canvas.addEventListener('pointerup', line); line();
element.querySelector('#pad-clear').addEventListener('click', () => {
  clearInterval(timer); drawn.set(new Float32Array(N * N)); line(); note.dataset.rows = '';
});
element.querySelector('#pad-go').addEventListener('click', async () => {
  clearInterval(timer);
  const run = document.querySelector('#complete-run input')?.value || '';
  const seed = document.querySelector('#complete-seed input')?.value || '0';
  note.textContent = 'drawing pixel by pixel...';
  const r = await server.complete_drawn(JSON.stringify({pixels: drawn.encode(), run, seed}));
  if (r.error) { note.textContent = r.error; return; }
  const given = drawn.get().map((v, i) => i < N * N / 2 ? (v > 0.5 ? 1 : 0) : 0);
  drawn.set(given);
  let row = N / 2;
  timer = setInterval(() => {  // the drawn rows appear in the order they were drawn
    const px = drawn.get().slice();
    for (let c = 0; c < N; c++) px[row * N + c] = r.pixels[row * N + c];
    drawn.set(px); row++;
    note.dataset.rows = String(row - N / 2);
    note.textContent = 'rows drawn: ' + (row - N / 2) + ' of ' + (N / 2);
    if (row >= N) { clearInterval(timer); line(); }
  }, 60);
});
"""
