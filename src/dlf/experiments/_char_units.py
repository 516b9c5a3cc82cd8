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

import numpy as np

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


def analyze(model, vocab, text: str, run) -> dict:
    """Find the units of `model` that track each property over `text`; write units.json and one HTML page per
    property (its top unit) under RUN/units/; return the summary entries unit_<property> and unit_<property>_corr."""
    acts = model.hidden_states(vocab.encode(text)[None])[0].double().numpy()  # (T, H)
    found = top_units(acts, text)
    summary = {}
    for name, units in found.items():
        summary[f"unit_{name}"], summary[f"unit_{name}_corr"] = units[0]
    if run.enabled and found:
        folder = run.path / "units"
        folder.mkdir(exist_ok=True)
        (folder / "units.json").write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
        rows = []
        for name, units in found.items():
            unit, r = units[0]
            page = f"{name}-unit{unit}.html"
            title = f"unit {unit}: {DESCRIPTIONS[name]} (r = {r:+.2f})"
            (folder / page).write_text(unit_page(text[:PAGE_CHARS], acts[:PAGE_CHARS, unit], title), encoding="utf-8")
            others = ", ".join(f"{u} ({c:+.2f})" for u, c in units[1:])
            rows.append(f"<tr><td>{html.escape(DESCRIPTIONS[name])}</td><td><a href='{page}'>unit {unit}</a></td>"
                        f"<td>{r:+.3f}</td><td>{others}</td></tr>")
        (folder / "index.html").write_text(_index(rows), encoding="utf-8")
    return summary


def _index(rows: list[str]) -> str:
    return ("<!doctype html><meta charset='utf-8'><title>char-rnn units</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:left}</style>"
            "<h1>Units that track simple properties of the validation text</h1>"
            "<p>Pearson r between a unit's activation after each character and the property.</p>"
            "<table><tr><th>property</th><th>best unit</th><th>r</th><th>runners-up (r)</th></tr>"
            + "".join(rows) + "</table>\n")


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
