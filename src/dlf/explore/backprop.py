"""Explorer page "Backpropagation": a tiny network's computation graph, stepped through forward and backward.

Two inputs, one hidden layer of 2 to 4 units, one output y and the loss L = (y - t)^2, built from the values of
dlf.fundamentals.autograd (each hidden unit is z = w·x + b, then h = act(z); the output is y = v·h + c). The
forward pass computes one node per step and shows its value; the backward pass replays autograd's own sweep one
edge per step (Value.backward's trace): the gradient arriving at a node times the edge's local derivative is
added to the gradient of the node at the edge's other end. An input feeds every hidden unit, so its gradient is
the sum of one contribution per unit. "Apply update" takes one gradient-descent step w <- w - lr dL/dw.

Everything the page computes is a graph of at most 23 scalar nodes; the server clamps every value to its
field's range and the step to the events that exist.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from dlf.explore import svg
from dlf.explore.share import Field
from dlf.fundamentals import autograd as ag
from dlf.fundamentals.autograd import Value

TAB = "backprop"
TITLE = "Backpropagation"
MAX_HIDDEN = 4
W0 = ((0.5, -0.4), (-0.3, 0.8), (0.9, 0.2), (-0.6, -0.7))  # starting weights of hidden units 1..4
B0, V0, C0 = (0.1, -0.2, 0.0, 0.3), (0.7, -0.5, 0.4, 0.6), 0.1


def _wfield(name: str, label: str, default: float) -> Field:
    return Field(name, label, "float", default, -5.0, 5.0, 0.01, widget="number")


FIELDS = (
    Field("x1", "input x1", "float", 1.0, -3.0, 3.0, 0.1),
    Field("x2", "input x2", "float", -0.5, -3.0, 3.0, 0.1),
    Field("t", "target t", "float", 1.5, -3.0, 3.0, 0.1, info="the loss is L = (y - t)^2"),
    Field("hidden", "hidden units", "int", 2, 2, MAX_HIDDEN, 1),
    Field("activation", "activation", "choice", "tanh", choices=("tanh", "sigmoid", "relu")),
    Field("lr", "learning rate", "float", 0.1, 0.001, 2.0, 0.001, info="used by Apply update"),
    *(f for i in range(MAX_HIDDEN) for f in (
        _wfield(f"w{i + 1}1", f"w{i + 1}1", W0[i][0]), _wfield(f"w{i + 1}2", f"w{i + 1}2", W0[i][1]),
        _wfield(f"b{i + 1}", f"b{i + 1}", B0[i]), _wfield(f"v{i + 1}", f"v{i + 1}", V0[i]))),
    _wfield("c", "c (output bias)", C0),
)
PARAMS = tuple(f.name for f in FIELDS[6:])  # every weight and bias field


@dataclass
class Graph:
    """The network for one setting: every value by label, the forward order and backward's edge-by-edge trace."""

    nodes: dict[str, Value]
    forward: list[Value]
    trace: list[tuple[Value, Value, float, float]]
    loss: Value

    @property
    def total(self) -> int:
        return len(self.forward) + len(self.trace)


def build_graph(v: dict) -> Graph:
    """Forward and backward once with dlf.fundamentals.autograd; the page replays the recorded steps."""
    n = {k: Value(v[k], label=k) for k in ("x1", "x2")}
    hs = []
    for i in range(1, v["hidden"] + 1):
        ws = [Value(v[f"w{i}1"], label=f"w{i}1"), Value(v[f"w{i}2"], label=f"w{i}2")]
        b = Value(v[f"b{i}"], label=f"b{i}")
        z = ag.linear(ws, [n["x1"], n["x2"]], b, label=f"z{i}")
        h = getattr(z, v["activation"])()
        h.label = f"h{i}"
        n.update({w.label: w for w in ws} | {b.label: b, z.label: z, h.label: h})
        hs.append(h)
    vs = [Value(v[f"v{i}"], label=f"v{i}") for i in range(1, v["hidden"] + 1)]
    n.update({w.label: w for w in vs} | {"c": Value(v["c"], label="c")})
    n["y"] = ag.linear(vs, hs, n["c"], label="y")
    n["L"] = ag.squared_error(n["y"], v["t"])
    trace: list = []
    n["L"].backward(trace)
    forward = [node for node in ag.topological_order(n["L"]) if node.inputs]
    return Graph(n, forward, trace, n["L"])


def apply_update(v: dict) -> tuple[dict, float, float]:
    """One step w <- w - lr dL/dw on every weight in use, clamped to the fields' range; (new values, L before,
    L after)."""
    g = build_graph(v)
    new = dict(v)
    for name in PARAMS:
        if name in g.nodes:
            f = next(f for f in FIELDS if f.name == name)
            new[name] = f.coerce(round(v[name] - v["lr"] * g.nodes[name].grad, 6))
    return new, g.loss.data, build_graph(new).loss.data


# what each step says -------------------------------------------------------------------------------------------
def _n(x: float) -> str:
    return f"{x:.4g}" if x >= 0 else f"({x:.4g})"


def forward_text(node: Value, t: float) -> str:
    a = node.inputs
    if node.op == "w·x+b":
        k = (len(a) - 1) // 2
        terms = " + ".join(f"{w.label}·{x.label}" for w, x in zip(a[:k], a[k:-1]))
        nums = " + ".join(f"{_n(w.data)}·{_n(x.data)}" for w, x in zip(a[:k], a[k:-1]))
        return f"{node.label} = {terms} + {a[-1].label} = {nums} + {_n(a[-1].data)} = {node.data:.4g}"
    if node.op == "(y-t)^2":
        return f"L = (y - t)^2 = ({a[0].data:.4g} - {_n(t)})^2 = {node.data:.4g}"
    return f"{node.label} = {node.op}({a[0].label}) = {node.op}({a[0].data:.4g}) = {node.data:.4g}"


def local_rule(node: Value, inp: Value) -> str:
    """The local derivative d node / d inp as the lecture writes it."""
    d = f"d{node.label}/d{inp.label}"
    if node.op == "w·x+b":
        k = (len(node.inputs) - 1) // 2
        i = next(j for j, x in enumerate(node.inputs) if x is inp)
        if i == len(node.inputs) - 1:
            return f"{d} = 1 (a bias)"
        other = node.inputs[i + k] if i < k else node.inputs[i - k]
        return f"{d} = {other.label} (what {inp.label} multiplies)"
    return {"tanh": f"{d} = 1 - tanh({inp.label})^2", "sigmoid": f"{d} = σ({inp.label}) (1 - σ({inp.label}))",
            "relu": f"{d} = 1 if {inp.label} > 0 else 0", "(y-t)^2": f"{d} = 2 (y - t)"}[node.op]


def backward_text(g: Graph, j: int) -> str:
    node, inp, d, amount = g.trace[j]
    start = "Start: dL/dL = 1. " if j == 0 else ""
    users = sum(1 for _, other, _, _ in g.trace if other is inp)
    sofar = sum(a for _, other, _, a in g.trace[: j + 1] if other is inp)
    extra = (f" {inp.label} feeds {users} nodes: its gradient is the sum of {users} such terms, "
             f"{sofar:.4g} so far." if users > 1 else "")
    return (f"{start}edge {node.label} → {inp.label}: local rule {local_rule(node, inp)} = {d:.4g}; "
            f"dL/d{inp.label} += dL/d{node.label} · {d:.4g} = {node.grad:.4g} · {d:.4g} = {amount:.4g}.{extra}")


def status(v: dict, g: Graph, k: int) -> str:
    f = len(g.forward)
    head = f"**step {k} of {g.total}** ({f} forward, {len(g.trace)} backward). "
    if k == 0:
        return head + "Press **Step** to compute the first node, or **Forward pass** for all of them."
    if k <= f:
        tail = "" if k < f else " Forward pass done; **Step** on to send the gradient back."
        return head + f"Forward: `{forward_text(g.forward[k - 1], v['t'])}`.{tail}"
    text = head + f"Backward: `{backward_text(g, k - f - 1)}`"
    if k == g.total:
        grads = ", ".join(f"dL/d{p} = {g.nodes[p].grad:.4g}" for p in PARAMS if p in g.nodes)
        text += f"\n\nBackward pass done: {grads}. **Apply update** steps every weight by -{v['lr']:g} × its gradient."
    return text


# drawing -------------------------------------------------------------------------------------------------------
W, H, R = 960, 470, 30


def positions(hidden: int) -> dict[str, tuple[float, float]]:
    ys = [H / 2 + (i - (hidden - 1) / 2) * (H - 90) / max(hidden, 1) for i in range(hidden)]
    pos = {"x1": (80.0, H / 2 - 80), "x2": (80.0, H / 2 + 80), "y": (760.0, H / 2), "L": (900.0, H / 2)}
    for i, y in enumerate(ys, 1):
        pos[f"z{i}"], pos[f"h{i}"] = (360.0, y), (540.0, y)
    return pos


def shown(g: Graph, k: int) -> tuple[set[int], dict[int, float]]:
    """ids of the nodes whose value is known after step k, and each value's gradient so far."""
    f = len(g.forward)
    known = {id(v) for v in g.nodes.values() if not v.inputs} | {id(v) for v in g.forward[: min(k, f)]}
    grads: dict[int, float] = {}
    if k > f:
        grads[id(g.loss)] = 1.0
        for _, inp, _, amount in g.trace[: k - f]:
            grads[id(inp)] = grads.get(id(inp), 0.0) + amount
    return known, grads


def _edge(a, b, color, width, cls="edge") -> str:
    return (f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" stroke="{color}" '
            f'stroke-width="{width}" class="{cls}"/>')


def _text(x, y, s, color="#222", size=12, weight="normal", cls=None) -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}" font-weight="{weight}" '
            f'text-anchor="middle" style="{svg.FONT}"{c}>{html.escape(s)}</text>')


def _focus(g: Graph, k: int) -> tuple[str, str] | None:
    """The edge (from, to labels) or node (label, label) the current step is about."""
    f = len(g.forward)
    if 0 < k <= f:
        return g.forward[k - 1].label, g.forward[k - 1].label
    if k > f:
        node, inp, _, _ = g.trace[k - f - 1]
        return inp.label, node.label
    return None


def render(v: dict, k: int) -> tuple[str, str]:
    g = build_graph(v)
    k = max(0, min(int(k), g.total))
    known, grads = shown(g, k)
    pos = positions(v["hidden"])
    focus = _focus(g, k)
    back = k > len(g.forward)

    def val(name: str) -> str:
        return f"{g.nodes[name].data:.3g}" if id(g.nodes[name]) in known else "?"

    def grad(name: str) -> str:
        return f"∂ {grads[id(g.nodes[name])]:.3g}" if id(g.nodes[name]) in grads else ""

    parts = []
    edges = [(f"x{j}", f"z{i}", f"w{i}{j}", 0.7) for i in range(1, v["hidden"] + 1) for j in (1, 2)]
    edges += [(f"z{i}", f"h{i}", None, 0) for i in range(1, v["hidden"] + 1)]
    edges += [(f"h{i}", "y", f"v{i}", 0.3) for i in range(1, v["hidden"] + 1)] + [("y", "L", None, 0)]
    for a, b, weight, at in edges:
        hot = focus is not None and focus[1] == b and focus[0] in (a, weight)
        parts.append(_edge(pos[a], pos[b], svg.RED if hot and back else svg.BLUE if hot else "#bbb", 4 if hot else 1.5,
                           "edge hot" if hot else "edge"))
        if weight:
            x = pos[a][0] + at * (pos[b][0] - pos[a][0])
            y = pos[a][1] + at * (pos[b][1] - pos[a][1])
            parts.append(_text(x, y - 4, f"{weight}={val(weight)}", "#555", 11))
            parts.append(_text(x, y + 9, grad(weight), svg.RED, 11, cls="param-grad"))
    for name, (x, y) in pos.items():
        hot = focus is not None and name in focus
        stroke = svg.RED if hot and back else svg.BLUE if hot else "#666"
        parts.append(f'<circle cx="{x}" cy="{y}" r="{R}" fill="{"#fff7e0" if hot else "white"}" stroke="{stroke}" '
                     f'stroke-width="{3 if hot else 1.5}" class="node" data-name="{name}"/>')
        parts.append(_text(x, y - 10, name, weight="600"))
        parts.append(_text(x, y + 5, val(name), cls="node-value"))
        parts.append(_text(x, y + 19, grad(name), svg.RED, 11, cls="node-grad"))
    for i in range(1, v["hidden"] + 1):  # biases under their nodes
        x, y = pos[f"z{i}"]
        parts.append(_text(x, y + R + 13, f"b{i}={val(f'b{i}')} {grad(f'b{i}')}", "#555", 11))
    x, y = pos["y"]
    parts.append(_text(x, y + R + 13, f"c={val('c')} {grad('c')}", "#555", 11))
    x, y = pos["L"]
    parts.append(_text(x, y + R + 13, f"t={v['t']:g}", "#555", 11))
    act = v["activation"]
    parts.append(_text(W / 2, 18, f"z = w·x + b, h = {act}(z), y = v·h + c, L = (y - t)^2; values in black, "
                                  f"gradients dL/d(·) in red", "#333", 12))
    phase = "start" if k == 0 else "forward" if k <= len(g.forward) else "backward"
    data = {"step": k, "total": g.total, "forward": len(g.forward), "phase": phase,
            "loss": f"{g.loss.data:.6g}" if id(g.loss) in known else ""}
    if k == g.total:
        data["grads"] = ",".join(f"{p}:{g.nodes[p].grad:.6g}" for p in PARAMS if p in g.nodes)
    fig = svg.Figure(W, H, uid="backprop-fig", data=data)
    fig.extra.extend(parts)
    return fig.render(), status(v, g, k)


# the page ------------------------------------------------------------------------------------------------------
def build(limits) -> dict:
    """The page's widgets and events (call inside a gr.Tab); returns what the app needs to restore it."""
    import gradio as gr

    from dlf.explore import widgets

    step = gr.State(0)
    by_name = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                buttons = {key: gr.Button(label, elem_id=f"{TAB}-{key}", min_width=60, size="sm",
                                          variant="primary" if key == "step" else "secondary")
                           for key, label in (("back", "◀ Back"), ("step", "Step ▶"), ("forward", "Forward pass"),
                                              ("backward", "Backward pass"), ("update", "Apply update"),
                                              ("reset", "Reset"))}
            for f in FIELDS[:6]:
                by_name[f.name] = widgets.control(TAB, f)
        with gr.Column(scale=3):
            fig = widgets.plot(TAB)
            text = widgets.status_box(TAB)
            with gr.Accordion("weights and biases: one row per hidden unit (rows past the number of hidden units "
                              "are unused)", open=True):
                for row in [PARAMS[i : i + 4] for i in range(0, len(PARAMS), 4)]:
                    with gr.Row():
                        for name in row:
                            f = next(f for f in FIELDS if f.name == name)
                            by_name[name] = gr.Number(value=f.default, minimum=f.lo, maximum=f.hi, step=f.step,
                                                      label=f.label, elem_id=f"{TAB}-{name}", min_width=80)
    comps = [by_name[f.name] for f in FIELDS]
    widgets.link_row(TAB, FIELDS, comps)
    inputs, outputs = {step, *comps}, [fig, text, step]

    def values(data: dict) -> dict:
        return widgets.read(FIELDS, comps, data)

    def goto(target):
        def handler(data: dict):
            v = values(data)
            g = build_graph(v)
            k = max(0, min(target(int(data[step] or 0), g.total, len(g.forward)), g.total))
            return (*render(v, k), k)
        return handler

    def update(data: dict):
        v = values(data)
        new, before, after = apply_update(v)
        k = len(build_graph(new).forward)  # show the new forward pass, with its loss
        fig_html, note = render(new, k)
        note = f"**Updated** every weight by -{v['lr']:g} × dL/dw: L went from {before:.6g} to {after:.6g}.\n\n" + note
        return (fig_html, note, k, *(new[f.name] for f in FIELDS))

    moves = {"back": lambda k, total, f: k - 1, "step": lambda k, total, f: k + 1,
             "forward": lambda k, total, f: f, "backward": lambda k, total, f: total, "reset": lambda k, total, f: 0}
    for key, move in moves.items():
        buttons[key].click(goto(move), inputs, outputs, api_visibility="private", **widgets.QUIET)
    buttons["update"].click(update, inputs, [*outputs, *comps], api_visibility="private", **widgets.QUIET)
    redraw = goto(lambda k, total, f: k)
    for c in comps:
        c.input(redraw, inputs, outputs, api_name=False, **widgets.LIVE)
    return {"fields": FIELDS, "comps": comps, "refresh": (redraw, inputs, outputs)}
