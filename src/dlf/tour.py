"""`dlf tour`: the lecture's first half in about a minute, as one self-contained HTML report.

Each stop runs one fundamentals experiment with small settings into a sub-folder of the tour's run folder, then
the report embeds its plots (as base64 PNGs, so the HTML file can be mailed or opened offline), its key figures
and one paragraph saying what the plot shows.
"""

from __future__ import annotations

import base64
import html
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dlf import registry
from dlf.rundir import Run, atomic_write_text, default_out


@dataclass(frozen=True)
class Stop:
    experiment: str
    title: str
    text: str
    options: dict[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()
    """Summary keys shown under the plots."""


STOPS: tuple[Stop, ...] = (
    Stop("neuron", "1. A neuron",
         "A neuron computes a weighted sum of its inputs plus a bias, z = w·x + b, and passes it through an "
         "activation. With a sigmoid the output is a probability and the neuron fires where it exceeds 0.5, so its "
         "decision boundary is the line w·x + b = 0. Gradient descent on the cross-entropy moves that line until it "
         "separates the two classes; the shading is the neuron's output over the input plane.",
         figures=("train_accuracy", "final_loss", "w1", "w2", "b")),
    Stop("activations", "2. Activations",
         "Sigmoid squashes z into (0, 1), tanh into (-1, 1), and ReLU passes positive z and cuts negative z to 0. "
         "Their derivatives (dashed) are what gradient descent multiplies through: sigmoid's is at most 0.25 and "
         "vanishes for large |z|, ReLU's is 1 wherever the unit is active. The hand-written derivatives agree with "
         "autograd to machine precision.",
         figures=("sigmoid_max_grad_error", "tanh_max_grad_error", "relu_max_grad_error")),
    Stop("linreg", "3. Linear regression as line fitting",
         "Find w and b that minimise the mean squared error between the line wx + b and the data. Least squares "
         "solves this in closed form; gradient descent, starting from a random guess and stepping against the "
         "gradient, reaches the same line. The loss curve falls geometrically, as it does for any convex quadratic.",
         figures=("closed_form_w", "gd_w", "closed_form_b", "gd_b", "rel_diff")),
    Stop("gradient-descent", "4. Full-batch, stochastic and mini-batch gradient descent",
         "The same problem solved three ways. Full-batch descent computes the exact gradient over all examples per "
         "step: smooth, but one step per epoch. Stochastic descent (one example per step) is noisy but takes n steps "
         "per epoch; mini-batches sit in between. Plotted against examples seen or wall time, the noisier methods "
         "get close to the optimum far sooner."),
    Stop("universality", "5. Universality",
         "Hornik's theorem: one hidden layer with enough units approximates any continuous function on an interval. "
         "Each hidden unit contributes one scaled bump or ramp; their sum is the network's output. As the width "
         "grows the fit tightens and the error falls, for sigmoid, tanh and ReLU alike.",
         options={"widths": (1, 2, 4, 8, 16, 32, 64), "steps": 500}),
)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else html.escape(str(v))


def _section(stop: Stop, run: Run, summary: dict[str, Any], seconds: float) -> str:
    keys = stop.figures or tuple(summary)[:8]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(summary[k])}</td></tr>" for k in keys if k in summary)
    images = "".join(_img(p) for p in sorted(run.path.glob("*.png")))
    return (f'<section><h2>{html.escape(stop.title)}</h2><p>{html.escape(stop.text)}</p>{images}'
            f'<table>{rows}</table><p class="cmd">dlf run {stop.experiment} · {seconds:.1f} s · '
            f'<a href="{html.escape(run.path.name)}/">{html.escape(run.path.name)}/</a></p></section>')


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dlf tour</title><style>
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
img{{max-width:100%;margin:.5em 0;border:1px solid #eee}} table{{border-collapse:collapse;margin:.5em 0}}
td{{border-bottom:1px solid #ddd;padding:2px 12px 2px 0;font-family:monospace}} .cmd{{color:#777;font-size:90%}}
section{{margin-bottom:2.5em}}</style></head><body><h1>Deep Learning Fundamentals: the tour</h1>
<p>The first half of the lecture, computed just now on this machine in {total:.0f} s (seed {seed}). Each section
names the command that reproduces it with full settings.</p>{sections}</body></html>
"""


def tour(out: str | Path | None = None, seed: int = 0, quiet: bool = False) -> Path:
    """Run every stop and write report.html into the tour folder; return the report's path."""
    from dlf.runner import execute

    root = Path(out) if out is not None else default_out("tour")
    Run.create(root, json.dumps({"experiment": "tour", "seed": seed}) + "\n")
    sections, start = [], time.perf_counter()
    for stop in tqdm(STOPS, desc="tour", disable=True if quiet else None):
        module = registry.get(stop.experiment).load()
        cfg = module.Config(seed=seed, **stop.options)
        t0 = time.perf_counter()
        run, summary = execute(stop.experiment, cfg, root / stop.experiment, quiet=True)
        sections.append(_section(stop, run, summary, time.perf_counter() - t0))
    total = time.perf_counter() - start
    report = root / "report.html"
    atomic_write_text(report, PAGE.format(total=total, seed=seed, sections="".join(sections)))
    if not quiet:
        print(f"tour finished in {total:.0f} s; open the report:\n  {report}", file=sys.stdout)
    return report
