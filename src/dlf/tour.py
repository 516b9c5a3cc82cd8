"""`dlf tour`: the lecture's first half in about a minute, as one self-contained HTML report.

Each stop runs one fundamentals experiment with small settings into a sub-folder of the tour's run folder, then
the report embeds its plots (as base64 PNGs, so the HTML file can be mailed or opened offline), its key figures,
one paragraph saying what the plot shows, a sentence of findings written from the numbers just computed, and
the `dlf run` command, with every option the tour set, that reproduces the section's summary.json.
"""

from __future__ import annotations

import html
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dlf import registry
from dlf.report import img_tag, option_args
from dlf.rundir import Run, atomic_write_text, default_out


@dataclass(frozen=True)
class Stop:
    experiment: str
    title: str
    text: str
    options: dict[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()
    """Summary keys shown under the plots."""
    finding: Callable[[dict[str, Any]], str] | None = None
    """What the numbers show, written from the summary (so the text never states a figure the run did not give)."""


def _descent_finding(s: dict[str, Any]) -> str:
    def reached(key: str) -> str:
        n = s[f"{key}_examples_to_target"]
        return f"after {n:,} examples" if n is not None else "not within the run"

    return (f"Within 10% of the optimal loss {s['optimal_loss']:.4g}: full batch {reached('full')}, stochastic "
            f"{reached('sgd')}, mini-batch {reached('minibatch')}. Final loss: full batch {s['full_final_loss']:.4g}, "
            f"stochastic {s['sgd_final_loss']:.4g}, mini-batch {s['minibatch_final_loss']:.4g}: the noisy methods "
            f"stay above the optimum, jittering around it, while full batch settles on it.")


def _backprop_finding(s: dict[str, Any]) -> str:
    return (f"Over the run the two losses differ by at most {s['max_loss_diff']:.2g} and the final weights by at "
            f"most {s['max_weight_diff']:.2g}: rounding error of float64, so the hand-written gradients are "
            f"PyTorch's. Test accuracy {s['test_accuracy_numpy']:.1%} ({s['data']}).")


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
         "The same problem solved three ways, each at a learning rate that suits it. Full-batch descent computes the "
         "exact gradient over all examples per step: smooth, but one step per epoch; its learning rate 0.5 is close "
         "to its fastest (it diverges above 2/lambda_max, lr_stable_limit below). Stochastic descent (one example "
         "per step) is noisy and needs a smaller rate, but takes n steps per epoch; mini-batches sit in between. "
         "Plotted against examples seen, the noisy methods get close to the optimum after far fewer examples, then "
         "jitter around it.",
         options={"lr": 0.5, "sgd_lr": 0.01, "minibatch_lr": 0.1},
         figures=("optimal_loss", "lr_stable_limit", "full_examples_to_target", "sgd_examples_to_target",
                  "minibatch_examples_to_target", "full_final_loss", "sgd_final_loss", "minibatch_final_loss"),
         finding=_descent_finding),
    Stop("backprop", "5. Backpropagation",
         "To follow the gradient a network needs dL/dw for every weight. Backpropagation gets them all in one sweep "
         "backwards through the network, by the chain rule: each layer turns the gradient arriving at its output "
         "into the gradient at its input and at its weights (for Y = X W + b: dL/dW = X^T dL/dY, dL/dX = dL/dY "
         "W^T). Here a 2-layer network on a three-armed spiral is trained twice from the same weights: once with "
         "these rules written out in numpy, once with PyTorch's autograd. The loss curves lie on top of each other "
         "at every step.",
         options={"data": "spiral", "steps": 300},
         figures=("final_loss_numpy", "final_loss_torch", "max_loss_diff", "max_weight_diff",
                  "test_accuracy_numpy"),
         finding=_backprop_finding),
    Stop("universality", "6. Universality",
         "Hornik's theorem: one hidden layer with enough units approximates any continuous function on an interval. "
         "Each hidden unit contributes one scaled bump or ramp; their sum is the network's output. As the width "
         "grows the fit tightens and the error falls, for sigmoid, tanh and ReLU alike.",
         options={"widths": (1, 2, 4, 8, 16, 32, 64), "steps": 500},
         figures=("sigmoid_w64_rms_error", "tanh_w64_rms_error", "relu_w64_rms_error", "sigmoid_rms_loglog_slope",
                  "tanh_rms_loglog_slope", "relu_rms_loglog_slope")),
)


def command(stop: Stop, seed: int) -> str:
    """The `dlf run` command that reproduces the stop: the tour's seed and every option the tour set."""
    return shlex.join(["dlf", "run", stop.experiment, "--seed", str(seed), *option_args(stop.options)])


def _fmt(v: Any) -> str:
    if v is None:
        return "not reached"
    return f"{v:.6g}" if isinstance(v, float) else html.escape(str(v))


def _section(stop: Stop, seed: int, run: Run, summary: dict[str, Any], seconds: float) -> str:
    keys = stop.figures or tuple(summary)[:8]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(summary[k])}</td></tr>" for k in keys if k in summary)
    images = "".join(img_tag(p) for p in sorted(run.path.glob("*.png")))
    finding = f'<p class="finding">{html.escape(stop.finding(summary))}</p>' if stop.finding else ""
    return (f'<section><h2>{html.escape(stop.title)}</h2><p>{html.escape(stop.text)}</p>{images}{finding}'
            f'<table>{rows}</table><p class="cmd">reproduce: <code>{html.escape(command(stop, seed))}</code> · '
            f'{seconds:.1f} s here · <a href="{html.escape(run.path.name)}/">{html.escape(run.path.name)}/</a>'
            f'</p></section>')


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dlf tour</title><style>
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
img{{max-width:100%;margin:.5em 0;border:1px solid #eee}} table{{border-collapse:collapse;margin:.5em 0}}
td{{border-bottom:1px solid #ddd;padding:2px 12px 2px 0;font-family:monospace}} .cmd{{color:#777;font-size:90%}}
section{{margin-bottom:2.5em}}</style></head><body><h1>Deep Learning Fundamentals: the tour</h1>
<p>The first half of the lecture, computed just now on this machine in {total:.0f} s (seed {seed}). Each section
ends with the command that reproduces its summary.json: every option the tour set is in it, the rest are the
defaults.</p>{sections}</body></html>
"""


def tour(out: str | Path | None = None, seed: int = 0, quiet: bool = False) -> Path:
    """Run every stop and write report.html into the tour folder; return the report's path."""
    from dlf.runner import execute

    root = Path(out) if out is not None else default_out("tour")
    configs = [registry.get(s.experiment).load().Config(seed=seed, **s.options) for s in STOPS]
    for cfg in configs:  # a bad seed fails here, before the tour folder exists
        cfg.validate()
    Run.create(root, json.dumps({"experiment": "tour", "seed": seed}) + "\n")
    sections, start = [], time.perf_counter()
    for stop, cfg in tqdm(list(zip(STOPS, configs)), desc="tour", disable=True if quiet else None):
        t0 = time.perf_counter()
        run, summary = execute(stop.experiment, cfg, root / stop.experiment, quiet=True)
        sections.append(_section(stop, seed, run, summary, time.perf_counter() - t0))
    total = time.perf_counter() - start
    report = root / "report.html"
    atomic_write_text(report, PAGE.format(total=total, seed=seed, sections="".join(sections)))
    if not quiet:
        print("each section, reproduced alone:", file=sys.stdout)
        for stop in STOPS:
            print(f"  {stop.title}: {command(stop, seed)}", file=sys.stdout)
        print(f"tour finished in {total:.0f} s; open the report:\n  {report}", file=sys.stdout)
    return report
