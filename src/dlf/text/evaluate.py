"""Scoring word vectors: the Google analogy set (3CosAdd) and WordSim-353 (Spearman correlation).

Analogies (Mikolov et al. 2013): a question "a b c d" asks for the word x nearest by cosine to b - a + c
(3CosAdd, on unit vectors), the three question words excluded; it is right if x = d. The protocol is gensim's
`evaluate_word_analogies(restrict_vocab=30000)`: words are lowercased, the candidates are the 30,000 most frequent
words, and a question counts only if all four of its words are among them. Sections whose name starts with "gram" are
syntactic (plural, past tense, ...), the others semantic (capitals, currencies, family, ...).

Word similarity (Finkelstein et al. 2002): the Spearman rank correlation between the cosine similarity of each pair
and the mean human score. Pairs with a word out of the vocabulary are skipped and counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlf.errors import DataError
from dlf.text.vectors import WordVectors

ANALOGY_FILE, WORDSIM_FILE = "questions-words.txt", "wordsim353.tsv"


# --- analogies ----------------------------------------------------------------------------------------------------
def read_analogies(path: str | os.PathLike) -> list[tuple[str, str, str, str, str]]:
    """(section, a, b, c, d) for each question, lowercased; sections are the ': name' lines."""
    questions, section = [], ""
    for n, line in enumerate(_lines(path), 1):
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            words = line.lower().split()
            if len(words) != 4:
                raise DataError(f"{path} line {n}: an analogy has 4 words, this line has {len(words)}")
            questions.append((section, *words))
    return questions


@dataclass
class AnalogyScore:
    """Right answers and questions asked per section; questions with a word outside the candidates are skipped."""

    sections: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (correct, asked)
    skipped: int = 0

    def _sum(self, syntactic: bool | None) -> tuple[int, int]:
        parts = [v for k, v in self.sections.items() if syntactic is None or k.startswith("gram") == syntactic]
        return sum(c for c, _ in parts), sum(n for _, n in parts)

    def accuracy(self, syntactic: bool | None = None) -> float:
        """Fraction right: over the syntactic sections (True), the semantic ones (False) or all (None)."""
        correct, asked = self._sum(syntactic)
        return correct / asked if asked else 0.0

    def asked(self, syntactic: bool | None = None) -> int:
        return self._sum(syntactic)[1]


def evaluate_analogies(wv: WordVectors, questions, restrict_vocab: int = 30_000, batch: int = 256) -> AnalogyScore:
    """3CosAdd over the questions (from read_analogies), candidates restricted to the `restrict_vocab` first words."""
    limit = min(restrict_vocab, len(wv))
    index = {w: i for i, w in enumerate(wv.words[:limit])}
    asked = [(s, [index[w] for w in q]) for s, *q in questions if all(w in index for w in q)]
    score = AnalogyScore(skipped=len(questions) - len(asked))
    if not asked:
        return score
    ids = np.array([q for _, q in asked])  # (Q, 4): a, b, c, d
    unit = wv.unit[:limit]  # (N, D)
    right = np.zeros(len(ids), dtype=bool)
    for start in range(0, len(ids), batch):
        q = ids[start:start + batch]
        target = unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]]  # (B, D): b - a + c
        sims = target @ unit.T  # (B, N); the target's length does not change the ranking
        np.put_along_axis(sims, q[:, :3], -np.inf, axis=1)  # the question words are not answers
        right[start:start + batch] = sims.argmax(1) == q[:, 3]
    for (section, _), ok in zip(asked, right):
        correct, n = score.sections.get(section, (0, 0))
        score.sections[section] = (correct + int(ok), n + 1)
    return score


# --- word similarity ----------------------------------------------------------------------------------------------
def read_word_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """(word1, word2, human score) per line of a tab-separated file; '#' lines are comments."""
    pairs = []
    for n, line in enumerate(_lines(path), 1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        try:
            pairs.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
        except (IndexError, ValueError):
            raise DataError(f"{path} line {n}: expected 'word1<TAB>word2<TAB>score'") from None
    return pairs


def evaluate_similarity(wv: WordVectors, pairs) -> tuple[float, int, int]:
    """(Spearman correlation of cosine similarity with the human scores, pairs used, pairs skipped as OOV)."""
    known = [(wv.index[a], wv.index[b], s) for a, b, s in pairs if a in wv.index and b in wv.index]
    if len(known) < 2:
        return float("nan"), len(known), len(pairs) - len(known)
    rows_a, rows_b, human = (np.array(col) for col in zip(*known))
    cosine = (wv.unit[rows_a] * wv.unit[rows_b]).sum(1)
    return spearman(cosine, human), len(known), len(pairs) - len(known)


def ranks(x) -> np.ndarray:
    """Ranks 1..n of the values of x; tied values share the mean of their ranks (x = [5, 1, 5] -> [2.5, 1, 2.5])."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranked = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        ranked[order[i:j + 1]] = (i + j) / 2 + 1  # positions i..j hold ranks i+1..j+1
        i = j + 1
    return ranked


def spearman(x, y) -> float:
    """Spearman's rho: the Pearson correlation of the ranks (ties get average ranks)."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def _lines(path: str | os.PathLike) -> list[str]:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it as UTF-8 text ({exc.__class__.__name__}); check the file") from None
