"""Looking inside a char-rnn: which hidden units track simple properties of the text (Karpathy, Johnson and Fei-Fei
2015, "Visualizing and Understanding Recurrent Networks").

Each property is a number per character (1/0 flags, or a count such as the position in the line). A unit tracks a
property when its activation after each character correlates with it over the validation text (Pearson r); the
sign says whether the unit goes up or down. `unit_page` writes the text with each character's background coloured
by one unit's activation (red positive, blue negative), as in the paper's figures.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import torch

from dlf.errors import DlfError

TOP = 5  # units listed per property
PAGE_CHARS = 3000  # characters shown on each property's page

DESCRIPTIONS = {
    "inside_quotes": "inside double quotes",
    "inside_parens": "inside parentheses",
    "line_position": "characters since the last newline",
    "speaker_line": "on a speaker line (a short line ending in ':' after a blank line, e.g. 'ROMEO:')",
    "word_position": "letters since the start of the word",
    "vowel": "the character is a vowel",
    "capital": "the character is a capital letter",
    "sentence_end": "the character ends a sentence (. ! ?)",
}


def _toggle(text: str, opens: str, closes: str) -> np.ndarray:
    """1 from an opening mark up to and including its closing mark (nesting counted for brackets)."""
    out, depth = np.zeros(len(text)), 0
    same = opens == closes
    for i, ch in enumerate(text):
        if same and ch == opens:
            depth = 1 - depth
            out[i] = 1
            continue
        if ch == opens:
            depth += 1
        out[i] = depth > 0
        if ch == closes and depth > 0:
            depth -= 1
    return out


def _counter(text: str, resets) -> np.ndarray:
    """For each character, how many characters since the last one for which resets(ch) held."""
    out, n = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        n = 0 if resets(ch) else n + 1
        out[i] = n
    return out


def _speaker_lines(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    for m in re.finditer(r"(?:^|(?<=\n\n))[^\n]{1,40}:(?=\n)", text):
        out[m.start():m.end()] = 1
    return out


def properties(text: str) -> dict[str, np.ndarray]:
    """Each property's value after every character of `text`, as float arrays of len(text)."""
    chars = np.array(list(text)) if text else np.array([], dtype="<U1")
    return {
        "inside_quotes": _toggle(text, '"', '"'),
        "inside_parens": _toggle(text, "(", ")"),
        "line_position": _counter(text, lambda c: c == "\n"),
        "speaker_line": _speaker_lines(text),
        "word_position": _counter(text, lambda c: not c.isalpha()) * np.char.isalpha(chars),
        "vowel": np.isin(chars, list("aeiouAEIOU")).astype(float),
        "capital": np.char.isupper(chars).astype(float),
        "sentence_end": np.isin(chars, list(".!?")).astype(float),
    }


def correlations(acts: np.ndarray, prop: np.ndarray) -> np.ndarray:
    """Pearson r between each unit's activation acts (T, H) and the property (T,): (H,); 0 for a constant unit."""
    a = acts - acts.mean(0)
    p = prop - prop.mean()
    denom = np.sqrt((a**2).sum(0) * (p**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * p[:, None]).sum(0) / denom
    return np.nan_to_num(r)


def top_units(acts: np.ndarray, text: str, k: int = TOP) -> dict[str, list[tuple[int, float]]]:
    """The k units with the largest |r| for each property that varies over the text."""
    found = {}
    for name, prop in properties(text).items():
        if prop.std() == 0 or prop.sum() < 3:  # e.g. no quotes in Shakespeare: nothing to track
            continue
        r = correlations(acts, prop)
        order = np.argsort(-np.abs(r), kind="stable")[:k]
        found[name] = [(int(u), round(float(r[u]), 4)) for u in order]
    return found


def untrained_like(model, seed: int):
    """A freshly initialised network of the same shape as `model`, from `seed` (the global RNG is left as it was)."""
    from dlf.models.charrnn import CharRNN

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = CharRNN(model.vocab_size, model.hidden, model.layers, model.cell, model.embed.embedding_dim)
    return fresh.eval()


def analyze(model, vocab, text: str, run, seed: int) -> dict:
    """Find the units of `model` that track each property over `text`, and, as a baseline, the units of an untrained
    network of the same shape (seed `seed`) found by the same search: with hundreds of units, some correlate with
    anything by chance, so a trained unit's r means something only well above the untrained network's best r.

    Writes RUN/units/: units.json (trained), untrained.json (the baseline), index.html (both, side by side), one
    HTML page per property (its top unit) and units.png; returns the summary entries unit_<property>,
    unit_<property>_corr and unit_<property>_untrained_corr (the untrained network's best r for that property)."""
    acts = model.hidden_states(vocab.encode(text)[None])[0].double().numpy()  # (T, H)
    found = top_units(acts, text)
    fresh = untrained_like(model, seed).hidden_states(vocab.encode(text)[None])[0].double().numpy()  # (T, H)
    baseline = top_units(fresh, text)
    summary = {}
    for name, units in found.items():
        summary[f"unit_{name}"], summary[f"unit_{name}_corr"] = units[0]
        summary[f"unit_{name}_untrained_corr"] = baseline[name][0][1]
    if run.enabled and found:
        write_pages(run.path / "units", text, acts, found, baseline)
        plot_units(run, found, baseline)
    return summary


def write_pages(folder, text: str, acts: np.ndarray, found: dict, baseline: dict) -> None:
    folder.mkdir(exist_ok=True)
    for name, table in (("units.json", found), ("untrained.json", baseline)):
        (folder / name).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    rows = []
    for name, units in found.items():
        unit, r = units[0]
        base_unit, base_r = baseline[name][0]
        page = f"{name}-unit{unit}.html"
        title = f"unit {unit}: {DESCRIPTIONS[name]} (r = {r:+.2f}; untrained network's best: {base_r:+.2f})"
        (folder / page).write_text(unit_page(text[:PAGE_CHARS], acts[:PAGE_CHARS, unit], title), encoding="utf-8")
        others = ", ".join(f"{u} ({c:+.2f})" for u, c in units[1:])
        rows.append(f"<tr><td>{html.escape(DESCRIPTIONS[name])}</td><td><a href='{page}'>unit {unit}</a></td>"
                    f"<td>{r:+.3f}</td><td>{base_r:+.3f} (unit {base_unit})</td><td>{others}</td></tr>")
    (folder / "index.html").write_text(_index(rows), encoding="utf-8")


def plot_units(run, found: dict, baseline: dict) -> None:
    """|r| of the best unit for each property: the trained network beside an untrained one of the same shape."""
    from dlf.plotting import figure

    names = list(found)
    x = np.arange(len(names))
    fig, axes = figure(size=(max(5.0, 0.9 * len(names) + 1.5), 3.8))
    ax = axes[0][0]
    ax.bar(x - 0.2, [abs(found[n][0][1]) for n in names], 0.4, label="trained")
    ax.bar(x + 0.2, [abs(baseline[n][0][1]) for n in names], 0.4, label="untrained (same shape and seed)")
    ax.set_xticks(x, [n.replace("_", " ") for n in names], rotation=30, ha="right")
    ax.set_ylabel("|r| of the best unit")
    ax.set_ylim(0, 1.15)
    ax.set_title("units that track properties of the text, against chance")
    ax.legend(loc="upper left", ncols=2, fontsize=8)
    run.save_figure(fig, "units")


def _index(rows: list[str]) -> str:
    return ("<!doctype html><meta charset='utf-8'><title>char-rnn units</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:left}</style>"
            "<h1>Units that track simple properties of the validation text</h1>"
            "<p>Pearson r between a unit's activation after each character and the property. The baseline is the "
            "same search over an untrained network of the same shape and seed: with many units, some correlate by "
            "chance, so only an r well above the baseline says the network learnt to track the property.</p>"
            "<table><tr><th>property</th><th>best unit</th><th>r</th><th>untrained network's best r</th>"
            "<th>runners-up (r)</th></tr>" + "".join(rows) + "</table>\n")


def _colour(v: float) -> str:
    """v in [-1, 1] -> a background: white at 0, red towards +1, blue towards -1."""
    v = max(-1.0, min(1.0, v))
    fade = int(255 - 175 * abs(v))  # never fully saturated, so black text stays readable
    return f"rgb(255,{fade},{fade})" if v >= 0 else f"rgb({fade},{fade},255)"


def unit_page(text: str, acts: np.ndarray, title: str) -> str:
    """A self-contained HTML page: each character of `text` on a background coloured by acts (len(text),)."""
    scale = float(np.abs(acts).max()) or 1.0
    spans = []
    for ch, a in zip(text, acts.tolist()):
        shown = "\u21b5\n" if ch == "\n" else html.escape(ch)
        spans.append(f"<span style='background:{_colour(a / scale)}' title='{a:+.3f}'>{shown}</span>")
    legend = "".join(f"<span style='background:{_colour(v)}'>&nbsp;{v * scale:+.2f}&nbsp;</span>"
                     for v in np.linspace(-1, 1, 9))
    return ("<!doctype html><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}"
            "pre{font-family:monospace;font-size:14px;line-height:1.5;white-space:pre-wrap}</style>"
            f"<h1>{html.escape(title)}</h1>"
            f"<p>Activation after each character (hover for the value); colour scale: {legend}</p>"
            f"<pre>{''.join(spans)}</pre>\n")


def inspect_unit(run_dir, unit: int, chars: int = 3000, out: str | None = None) -> str:
    """`dlf inspect RUN_DIR --unit N`: an HTML page of validation text coloured by unit N's activation."""
    from dlf import registry
    from dlf.experiments.char_rnn import load_model
    from dlf.runner import load_run_config
    from dlf.sampling import output_path, run_experiment

    run_dir = Path(run_dir)
    name = run_experiment(run_dir)
    if not registry.get(name).inspects:
        raise DlfError(f"{run_dir} is a '{name}' run; inspect the folder of a char-rnn or sentiment-unit run")
    cfg = load_run_config(name, run_dir)
    if not 0 <= unit < cfg.hidden:
        raise DlfError(f"--unit {unit} is out of range: this network has {cfg.hidden} hidden units, "
                       f"0 to {cfg.hidden - 1}")
    if chars < 1:
        raise DlfError(f"--chars must be >= 1 (got {chars})")
    model, vocab = load_model(run_dir, cfg)
    text_path = run_dir / "validation.txt"
    if not text_path.is_file():
        raise DlfError(f"{run_dir} holds no validation.txt; give the folder of a finished {name} run")
    text = text_path.read_text(encoding="utf-8")[:chars]
    acts = model.hidden_states(vocab.encode(text)[None])[0, :, unit]  # (T,)
    path = output_path(run_dir, out, f"unit-{unit}.html", ".html")
    what = "cell state c_t" if cfg.cell in ("lstm", "mlstm") else "hidden state h_t"
    path.write_text(unit_page(text, acts.numpy(), f"unit {unit} ({what}, last layer)"), encoding="utf-8")
    return f"unit {unit} over {len(text)} validation characters: {path}"
