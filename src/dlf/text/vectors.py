"""Trained word vectors: look-up, nearest words by cosine similarity, analogies, and saving them.

A run folder keeps them as `vectors.safetensors` (one float32 tensor "vectors", (V, D), row i for word i) and
`vocab.json` (the words in row order with their corpus counts). `save_word2vec_text` writes the plain-text format of
the word2vec C tool ("V D" on the first line, then "word x1 ... xD" per line), which gensim reads with
`KeyedVectors.load_word2vec_format(path)`.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import numpy as np

from dlf.errors import DataError, DlfError

VECTORS_FILE, VOCAB_FILE = "vectors.safetensors", "vocab.json"


class WordVectors:
    """Words (most frequent first) and their vectors (V, D); like gensim's KeyedVectors, much smaller."""

    def __init__(self, words: list[str], vectors: np.ndarray, counts: np.ndarray | None = None):
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
        self.words = list(words)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # (V, D)
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)  # (V, D): rows of length 1, for cosine similarity

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.lookup(word)]

    def lookup(self, word: str) -> int:
        """The row of `word` (or of its lowercase form); a word not in the vocabulary is a one-line DlfError."""
        for form in (word, word.lower()):
            if form in self.index:
                return self.index[form]
        close = difflib.get_close_matches(word.lower(), self.words[:50_000], n=3)
        hint = f"; close words: {', '.join(close)}" if close else ""
        raise DlfError(f"'{word}' is not in the vocabulary ({len(self)} words seen >= min-count times){hint}")

    def most_similar(self, positive: list[str], negative: list[str] = (), topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """The `topn` words nearest by cosine to unit(sum of unit(positive) - sum of unit(negative)), the query
        words left out; among the first `restrict_vocab` words only, if given. With positive=[b, c], negative=[a]
        this is 3CosAdd, the answer to "a is to b as c is to ?" (gensim's most_similar does the same)."""
        rows = [self.lookup(w) for w in [*positive, *negative]]
        signs = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
        query = signs @ self.unit[rows]  # (D,)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        sims = self.unit[:limit] @ query  # (limit,)
        sims[[r for r in rows if r < limit]] = -np.inf
        best = np.argsort(-sims, kind="stable")[:topn]
        return [(self.words[i], float(sims[i])) for i in best if np.isfinite(sims[i])]

    # --- files ----------------------------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> None:
        """`folder`/vectors.safetensors and `folder`/vocab.json."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        save_file({"vectors": self.vectors}, str(folder / VECTORS_FILE))
        counts = None if self.counts is None else self.counts.tolist()
        (folder / VOCAB_FILE).write_text(json.dumps({"words": self.words, "counts": counts}) + "\n",
                                         encoding="utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike) -> WordVectors:
        from safetensors.numpy import load_file

        folder = Path(folder)
        if not (folder / VECTORS_FILE).is_file() or not (folder / VOCAB_FILE).is_file():
            raise DlfError(f"{folder} holds no word vectors ({VECTORS_FILE}, {VOCAB_FILE}); give the folder of "
                           f"a finished 'dlf run word2vec' run")
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        return cls(vocab["words"], load_file(str(folder / VECTORS_FILE))["vectors"], vocab.get("counts"))

    def save_word2vec_text(self, path: str | os.PathLike) -> None:
        """The word2vec C tool's text format: a header "V D", then one line "word x1 ... xD" per word."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"{len(self)} {self.vectors.shape[1]}\n")
            for word, vec in zip(self.words, self.vectors):
                fh.write(word + " " + " ".join(f"{x:.6g}" for x in vec.tolist()) + "\n")

    @classmethod
    def load_word2vec_text(cls, path: str | os.PathLike) -> WordVectors:
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as fh:
                n, dim = (int(x) for x in fh.readline().split())
                words, rows = [], []
                for line in fh:
                    parts = line.rstrip("\n").split(" ")
                    words.append(parts[0])
                    rows.append(np.array(parts[1:dim + 1], dtype=np.float32))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a word2vec text file ({exc}); the first line should be 'V D'") from None
        if len(words) != n or any(len(r) != dim for r in rows):
            raise DataError(f"{path}: the header says {n} words of dimension {dim}, the file disagrees")
        return cls(words, np.stack(rows) if rows else np.zeros((0, dim), np.float32))
