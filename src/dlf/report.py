"""`dlf report RUN... [--out FILE]`: one self-contained HTML page for any set of finished runs.

For each run: a headline in words ("test accuracy 99.21% after 2 epochs, 81 s"), the lecture concept, its key
numbers with what they mean, its plots (embedded as base64 PNGs, so the file opens offline and can be mailed) and
the exact command that reproduces it from its config.json. Where runs share a metric, a comparison table lists
them side by side. `headline` also leads the summary table printed at the end of every `dlf run`.
"""

from __future__ import annotations

import base64
import html
import json
import shlex
from pathlib import Path
from typing import Any

from dlf import registry
from dlf.errors import DlfError
from dlf.rundir import atomic_write_text

MEANINGS: dict[str, str] = {
    "test_accuracy": "share of test images classified correctly",
    "test_loss": "cross-entropy on the test set (nats per image)",
    "shift_acc_2": "test accuracy with every digit moved 2 pixels (mean of 4 directions)",
    "shift_acc_4": "test accuracy with every digit moved 4 pixels: a CNN keeps more of it than an MLP",
    "val_bpc": "validation bits per character: lower is better; 8 would be raw bytes",
    "test_elbo_nats": "evidence lower bound on log p(x) per test digit (higher is better)",
    "test_iwae_nll_nats": "importance-weighted estimate of -log p(x) per test digit, in nats (lower is better)",
    "test_nll_nats": "-log p(x) per test digit, in nats (lower is better)",
    "test_bits_per_dim": "the same per pixel, in bits",
    "parzen_test_ll": "Parzen-window log-likelihood of test digits under the samples (higher is better)",
    "fd_classifier": "Fréchet distance of sample and test features (lower is better)",
    "digit_entropy_bits": "entropy of the classified digits of the samples: log2(10) = 3.32 is all ten evenly",
    "analogy_total": "share of analogy questions answered right (a : b :: c : ?)",
    "wordsim_spearman": "rank correlation of cosine similarities with human similarity judgements",
    "mean_final_eval_return": "mean greedy return at the end of training (CartPole's maximum is 500)",
    "median_solve_env_steps": "environment steps until the agent first solved the task (median over seeds)",
    "wall_time_s": "wall-clock seconds of the whole run",
}
"""What a summary key means, in words (keys not listed are shown without a meaning)."""


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def _secs(s: float) -> str:
    return f"{s:.0f} s" if s < 600 else f"{s / 60:.0f} min"


def _lead(summary: dict[str, Any]) -> str:
    s = summary
    if isinstance(s.get("test_accuracy"), float):
        return f"test accuracy {_pct(s['test_accuracy'])}"
    if isinstance(s.get("val_bpc"), float):
        return f"validation loss {s['val_bpc']:.3f} bits per character"
    if isinstance(s.get("test_iwae_nll_nats"), float):
        return f"test -log p(x) {s['test_iwae_nll_nats']:.2f} nats (IWAE bound)"
    if isinstance(s.get("test_nll_nats"), float):
        return f"test -log p(x) {s['test_nll_nats']:.2f} nats ({s.get('test_bits_per_dim', 0):.3f} bits per pixel)"
    if isinstance(s.get("parzen_test_ll"), float):
        return f"Parzen test log-likelihood {s['parzen_test_ll']:.1f}, FD {s.get('fd_classifier', float('nan')):.1f}"
    if "analogy_total" in s or "final_loss" in s and "vocab_size" in s:
        acc = s.get("analogy_total")
        return (f"analogies {_pct(acc)} right" if isinstance(acc, float) else "word vectors") + \
            f", {s.get('vocab_size', '?')} words"
    if "seeds_solved" in s:
        ret = s.get("mean_final_eval_return")
        ret_s = f", final return {ret:.0f}" if isinstance(ret, (int, float)) else ""
        return f"{s['seeds_solved']} of {s.get('seeds', '?')} seeds solved {s.get('env', '')}{ret_s}"
    for key in ("train_accuracy", "final_loss", "rel_diff"):
        if isinstance(s.get(key), float):
            return f"{key.replace('_', ' ')} {s[key]:.4g}"
    return ""


def headline(experiment: str, summary: dict[str, Any], timing: dict[str, Any] | None = None,
             config: dict[str, Any] | None = None) -> str:
    """One line in words: the main figure of the run, its training length and its wall time."""
    parts = [_lead(summary) or f"{experiment} finished"]
    config = config or {}
    epochs, steps = summary.get("epochs_done", config.get("epochs")), summary.get("steps")
    cut_short = config.get("max_steps") or config.get("time_limit")  # such a run may stop before its epochs
    if isinstance(steps, int) and cut_short and "epochs_done" not in summary:
        parts[0] += f" after {steps:,} steps"
    elif isinstance(epochs, (int, float)) and steps is not None:
        parts[0] += f" after {epochs:.3g} epoch{'s' if epochs != 1 else ''}"
    wall = (timing or {}).get("wall_time_s")
    if isinstance(wall, (int, float)):
        parts.append(_secs(wall))
    return ", ".join(parts)


def command(config: dict[str, Any]) -> str:
    """`dlf run NAME ...` with every option whose value differs from the default, from a run's config.json."""
    name = config.get("experiment", "?")
    try:
        defaults = registry.get(name).load().Config().to_dict()
    except (DlfError, TypeError, AttributeError):
        defaults = {}
    given = {k: v for k, v in config.items()
             if k != "experiment" and v is not None and not (k in defaults and defaults[k] == v)}
    return shlex.join(["dlf", "run", name, *option_args(given)])


def option_args(options: dict[str, Any]) -> list[str]:
    """Config fields as `dlf run` arguments: `--name value`, `--flag`/`--no-flag`, lists space-separated."""
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, (list, tuple)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return args


def _read(path: Path, name: str) -> dict[str, Any]:
    f = path / name
    if not f.is_file():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise DlfError(f"{f} is damaged (not valid JSON); the run folder cannot be reported") from None


def load_run(path: str | Path) -> dict[str, Any]:
    """config, summary and timing of a finished run folder; a one-line DlfError when it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise DlfError(f"{path} does not exist; give the folder of a run made by 'dlf run'")
    config = _read(path, "config.json")
    if "experiment" not in config:
        raise DlfError(f"{path} holds no config.json with an experiment; give the folder of a run made by 'dlf run'")
    summary = _read(path, "summary.json")
    if not summary:
        raise DlfError(f"{path} has not finished (no summary.json); finish it with "
                       f"'dlf run {config['experiment']} --resume {path}'")
    return {"path": path, "config": config, "summary": summary, "timing": _read(path, "timing.json")}


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:min(100%,620px);margin:.5em .5em .5em 0;border:1px solid #eee;vertical-align:top}
table{border-collapse:collapse;margin:.5em 0}
td,th{border-bottom:1px solid #ddd;padding:2px 12px 2px 0;text-align:left} td.num{font-family:monospace}
.cmd{font-family:monospace;background:#f6f6f6;padding:.4em .6em;overflow-x:auto;white-space:pre}
.headline{font-size:115%;font-weight:600} .meaning{color:#666} section{margin-bottom:2.5em} .best{font-weight:700}"""
MAX_FIGURES = 6


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else html.escape(str(v))


def img_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def key_numbers(summary: dict[str, Any], limit: int = 10) -> list[str]:
    """The keys to show: those with a meaning first, then the others, at most `limit`."""
    known = [k for k in MEANINGS if k in summary]
    rest = [k for k in summary if k not in MEANINGS and not k.startswith("seed")]
    return (known + rest)[:limit]


def section(run: dict[str, Any], title: str | None = None, text: str = "", extra_html: str = "") -> str:
    """One run as an HTML section: headline, concept (or `text`), key numbers, plots, command, `extra_html`."""
    exp = run["config"]["experiment"]
    concept = registry.BY_NAME[exp].concept if exp in registry.BY_NAME else ""
    numbers = {**run["summary"], **{k: v for k, v in run["timing"].items() if k == "wall_time_s"}}
    rows = "".join(f'<tr><td>{html.escape(k)}</td><td class="num">{_fmt(numbers[k])}</td>'
                   f'<td class="meaning">{html.escape(MEANINGS.get(k, ""))}</td></tr>' for k in key_numbers(numbers))
    figures = "".join(img_tag(p) for p in sorted(run["path"].glob("*.png"))[:MAX_FIGURES])
    head = headline(exp, run["summary"], run["timing"], run["config"])
    return (f'<section><h2>{html.escape(title or exp)}</h2><p class="headline">{html.escape(head)}</p>'
            f'<p>{html.escape(text or concept)}</p>{figures}<table>{rows}</table>'
            f'<p>Reproduce it:</p><div class="cmd">{html.escape(command(run["config"]))}</div>'
            f'<p class="meaning">run folder: {html.escape(str(run["path"]))}</p>{extra_html}</section>')


def comparisons(runs: list[dict[str, Any]]) -> str:
    """One table of the metrics with a meaning that two or more runs share, the best of each marked."""
    shared = [k for k in MEANINGS if sum(isinstance(r["summary"].get(k), (int, float)) for r in runs) >= 2]
    if not shared:
        return ""
    lower_better = ("loss", "nll", "bpc", "bits", "fd_", "wall", "solve_env")
    head = "<tr><th>run</th>" + "".join(f"<th>{html.escape(k)}</th>" for k in shared) + "</tr>"
    best = {}
    for k in shared:
        vals = [r["summary"].get(k) for r in runs if isinstance(r["summary"].get(k), (int, float))]
        best[k] = min(vals) if any(t in k for t in lower_better) else max(vals)
    body = ""
    for r in runs:
        cells = ""
        for k in shared:
            v = r["summary"].get(k)
            cls = ' class="num best"' if v == best[k] and isinstance(v, (int, float)) else ' class="num"'
            cells += f"<td{cls}>{_fmt(v) if v is not None else '-'}</td>"
        body += f"<tr><td>{html.escape(r['config']['experiment'])} ({html.escape(r['path'].name)})</td>{cells}</tr>"
    return (f"<section><h2>Comparison</h2><p>Metrics that two or more of these runs share; the best of each in "
            f"bold (lower is better for losses, distances and times).</p><table>{head}{body}</table></section>")


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{style}</style>
</head><body><h1>{title}</h1>{intro}{sections}</body></html>
"""


def page(title: str, intro_html: str, sections: list[str]) -> str:
    return PAGE.format(title=html.escape(title), style=STYLE, intro=intro_html, sections="".join(sections))


def report(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """Write the report of `run_dirs` to `out` (default: report.html in the current folder); return its path."""
    if not run_dirs:
        raise DlfError("give at least one run folder, e.g. 'dlf report runs/mnist-cnn-20261201-101500'")
    out = Path(out) if out else Path("report.html")
    if out.suffix.lower() not in (".html", ".htm"):
        raise DlfError(f"--out must name an .html file (got {out})")
    if not out.parent.is_dir():
        raise DlfError(f"cannot write {out}: folder {out.parent} does not exist; create it or choose another --out")
    runs = [load_run(p) for p in run_dirs]
    sections = [section(r) for r in runs]
    if len(runs) > 1:
        sections.insert(0, comparisons(runs))
    intro = (f"<p>{len(runs)} run{'s' if len(runs) > 1 else ''}: each section names the command that "
             "reproduces it.</p>")
    atomic_write_text(out, page("dlf report", intro, sections))
    return out
