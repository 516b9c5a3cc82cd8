"""What the word-vector page shows: neighbour and analogy tables, and a 2-D map of chosen words (PCA, as SVG)."""

from __future__ import annotations

import html

import numpy as np

from dlf.errors import DlfError
from dlf.explore import svg
from dlf.explore.trained.models import project

DEFAULT = ("king", "queen", "man", "woman", "paris", "france", "berlin", "germany")


def _table(title: str, rows: list[tuple[str, float]]) -> str:
    lines = [f"**{html.escape(title, quote=False)}**", "", "| word | cosine |", "|---|---|"]
    return "\n".join(lines + [f"| {html.escape(w, quote=False)} | {s:.3f} |" for w, s in rows])


def neighbours(wv, word: str, k: int = 10) -> str:
    word = word.strip()
    if not word:
        return "Type a word."
    found = wv.words[wv.lookup(word)]
    return _table(f"nearest to '{found}'", wv.most_similar([found], topn=k))


def analogy(wv, text: str, k: int = 5) -> str:
    words = text.replace(",", " ").split()
    if len(words) != 3:
        raise DlfError(f"an analogy needs three words, A B C (got {len(words)}), e.g. 'man king woman'")
    a, b, c = (wv.words[wv.lookup(w)] for w in words)
    return _table(f"{a} : {b} :: {c} : ?  (nearest to {b} - {a} + {c})", wv.most_similar([b, c], [a], topn=k))


def figure(wv, words: list[str]) -> str:
    """An SVG map of the known words among `words` (first two principal components of their unit vectors)."""
    known, xy = project(wv, words)
    unknown = [w for w in words if w not in wv]
    fig = svg.Figure(720, 460, uid="words-fig", data={"words": " ".join(known), "unknown": " ".join(unknown)})
    if len(known) < 2:
        fig.text(20, 40, "Give at least two words the model knows to draw the map.")
        return fig.render()
    pad = 0.15 * (np.ptp(xy, axis=0) + 1e-9)
    lo, hi = xy.min(0) - pad, xy.max(0) + pad
    ax = fig.panel(40, 25, 640, 400, (lo[0], hi[0]), (lo[1], hi[1]), xlabel="PC 1", ylabel="PC 2",
                   title="chosen words, 2-D PCA of their vectors" + (f" (not in vocabulary: {', '.join(unknown)})"
                                                                      if unknown else ""))
    ax.points(xy[:, 0], xy[:, 1], colors=svg.BLUE, r=4)
    for w, (x, y) in zip(known, xy, strict=True):
        ax.text(x, y, " " + w, size=12)
    return fig.render()
