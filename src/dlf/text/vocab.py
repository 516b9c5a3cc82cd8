"""The one vocabulary class for text (characters or words), the word2vec corpus reader and its two distributions.

A corpus is a text file of words separated by whitespace (text8: one line of lowercase words). One pass over it
counts every word and writes the corpus as integer ids. Words seen fewer than `min_count` times are dropped (the
window then closes over the gap, as in the C code and gensim); the rest are ordered by descending count, so word 0 is
the most frequent and "the 30,000 most frequent words" is the prefix `vectors[:30000]`.

Two distributions come from the counts c(w) (Mikolov et al. 2013, "Distributed Representations of Words and
Phrases and their Compositionality", sections 2.2 and 2.3):

- the noise distribution of negative sampling, P_n(w) = c(w)^0.75 / sum_v c(v)^0.75 (`noise_distribution`),
  drawn in constant time through an alias table (`noise_alias_table`);
- subsampling of frequent words: each occurrence of w is kept with probability
  keep(w) = min(1, (sqrt(f(w) / t) + 1) * t / f(w)), with f(w) = c(w) / N, N the number of corpus words in the
  vocabulary and t = `sample` (`keep_probabilities`).
  This is the formula of the released C code and of gensim; the paper writes the discard probability
  1 - sqrt(t / f(w)), which keeps fewer words.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlf.data.text import check_text_bytes
from dlf.errors import DataError, DlfError

if TYPE_CHECKING:
    import torch

NOISE_POWER = 0.75


class Vocab:
    """The tokens of a text, characters (char-rnn, sentiment-unit) or words (word2vec); id i is `tokens[i]`.

    A character vocabulary (`from_text`) is sorted by code point; a word vocabulary (`read_corpus`) is sorted by
    descending count and keeps the counts, from which word2vec draws its two distributions.
    """

    def __init__(self, tokens: Sequence[str], counts: np.ndarray | None = None, corpus_words: int = 0):
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.counts = counts  # (V,) int64, descending (word vocabularies); None for characters
        self.corpus_words = corpus_words  # words in the corpus, the rare ones included (word vocabularies)
        self._sorted_codes = None  # code points of a sorted character vocabulary, for a fast `encode`
        if all(len(t) == 1 for t in self.tokens) and self.tokens == sorted(self.tokens):
            self._sorted_codes = _codes("".join(self.tokens))

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """The characters of `text`, sorted by code point."""
        return cls(list(map(chr, np.unique(_codes(text)))))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def words(self) -> list[str]:
        return self.tokens

    @property
    def chars(self) -> str:
        return "".join(self.tokens)

    @property
    def train_words(self) -> int:
        """Corpus words that are in the vocabulary: the words one epoch trains on (before subsampling)."""
        return int(self.counts.sum())

    def missing(self, tokens: str | Sequence[str]) -> list[str]:
        """Tokens (a str: its characters) that are not in the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    def encode(self, tokens: str | Sequence[str]) -> torch.Tensor:
        """(len(tokens),) int64 ids (a str: its characters); ValueError naming the first unknown token."""
        import torch  # here, not at the top: word2vec reads its corpus without torch (200 MB of memory)

        if isinstance(tokens, str) and self._sorted_codes is not None:  # fast for megabytes of text
            codes = _codes(tokens)
            idx = np.searchsorted(self._sorted_codes, codes).clip(max=max(len(self) - 1, 0))
            if len(codes) and (not len(self) or (self._sorted_codes[idx] != codes).any()):
                raise ValueError(f"character {self.missing(tokens)[0]!r} is not in the vocabulary")
            return torch.from_numpy(idx.astype(np.int64))
        unknown = self.missing(tokens)
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not in the vocabulary")
        return torch.tensor([self.index[t] for t in tokens], dtype=torch.int64)

    def decode(self, ids, sep: str = "") -> str:
        return sep.join(self.tokens[int(i)] for i in ids)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"tokens": self.tokens}, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        """Read what `save` wrote (a char-rnn run's vocab.json); a one-line error when it is missing or damaged."""
        if not path.is_file():
            raise DlfError(f"{path.parent} holds no vocab.json; give the folder of a finished char-rnn run")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            tokens = data["tokens"] if "tokens" in data else list(data["chars"])  # "chars": runs of earlier versions
            if not all(isinstance(t, str) for t in tokens):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{path} is damaged (no list of tokens); train the run again") from None
        return cls(tokens)


def _codes(text: str) -> np.ndarray:
    """Unicode code points of `text` as uint32, fast for long texts."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def read_corpus(path: str | os.PathLike, min_count: int, max_words: int = 0,
                option: str = "--corpus") -> tuple[Vocab, np.ndarray]:
    """Count the words of the corpus at `path` (its first `max_words` words if > 0) and encode it.

    Returns the vocabulary of the words seen at least `min_count` times and the corpus as an array of their ids,
    rare words left out: uint16 (2 bytes a word) when the vocabulary has at most 65,536 words, else int32. Errors
    (missing, empty, binary, non-UTF-8 file, no word frequent enough) are one line.
    """
    first_seen: dict[str, int] = {}  # word -> id in order of first occurrence
    pieces = []  # the corpus as int32 arrays of first-occurrence ids, one per block read
    for words in word_blocks(Path(path), max_words, option):
        pieces.append(np.array([first_seen.setdefault(w, len(first_seen)) for w in words], dtype=np.int32))
    if not first_seen:
        raise DataError(f"{option} {path}: the file holds no words; give a text file of space-separated words")
    counts = sum(np.bincount(p, minlength=len(first_seen)) for p in pieces)
    # Descending count; among equal counts the later first occurrence comes first, as gensim orders them, so that
    # "the 30,000 most frequent words" is the same set in dlf and in gensim.
    order = np.lexsort((-np.arange(len(counts)), -counts))
    order = order[counts[order] >= min_count]
    if len(order) == 0:
        raise DataError(f"{option} {path}: no word occurs {min_count} times or more; lower --min-count "
                        f"or give a larger corpus")
    new_id = np.full(len(counts), -1, dtype=np.int32)  # first-occurrence id -> vocabulary id (-1: too rare)
    new_id[order] = np.arange(len(order), dtype=np.int32)
    words = list(first_seen)
    vocab = Vocab([words[i] for i in order], counts[order].astype(np.int64), corpus_words=int(counts.sum()))
    ids = np.empty(vocab.train_words, np.uint16 if len(vocab) <= 2**16 else np.int32)
    n = 0
    pieces.reverse()
    while pieces:  # fill ids piece by piece, freeing each piece once copied: the corpus is never held twice
        kept = new_id[pieces.pop()]
        kept = kept[kept >= 0]
        ids[n:n + len(kept)] = kept
        n += len(kept)
    return vocab, ids


def word_blocks(path: Path, max_words: int, option: str, block_bytes: int = 1 << 20):
    """Lists of words, read 1 MB at a time (a whole 10M-word corpus as one list of str would take GBs)."""
    if not path.is_file():
        raise DataError(f"{option} {path}: no such file; give the path of a text file of space-separated words")
    opener = gzip.open if path.suffix == ".gz" else open
    seen, offset, rest = 0, 0, b""
    with opener(path, "rb") as fh:
        head = fh.read(block_bytes)
        check_text_bytes(head, path, option)
        block = head
        while block:
            data = rest + block
            block = fh.read(block_bytes)
            cut = len(data) if not block else max(data.rfind(b" "), data.rfind(b"\n"), data.rfind(b"\t")) + 1
            data, rest = data[:cut], data[cut:]  # whitespace is ASCII: a cut there never splits a UTF-8 character
            if b"\x00" in data:
                raise DataError(f"{option} {path}: looks like a binary file (it holds NUL bytes); give a text file")
            try:
                words = data.decode("utf-8").split()
            except UnicodeDecodeError as exc:
                raise DataError(f"{option} {path}: not UTF-8 text (bad byte at offset {offset + exc.start}); "
                                f"convert it with 'iconv -t UTF-8' or give another file") from None
            offset += len(data)
            if max_words and seen + len(words) >= max_words:
                yield words[:max_words - seen]
                return
            seen += len(words)
            yield words


def noise_distribution(counts: np.ndarray, power: float = NOISE_POWER) -> np.ndarray:
    """P_n(w) = c(w)^power / sum_v c(v)^power, the distribution negative samples are drawn from (float64, (V,))."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def noise_alias_table(counts: np.ndarray, power: float = NOISE_POWER) -> np.ndarray:
    """Walker's alias table for P_n (Vose's construction): (V, 2) uint32, row i = (threshold_i, alias_i).

    A draw picks a bucket i uniformly from the V buckets and a uniform 32-bit integer u, and returns i if
    u < threshold_i, else alias_i. Bucket i holds probability threshold_i / 2^32 of word i and the rest of 1 of
    alias_i, so word w is drawn with probability (threshold_w + sum_{i: alias_i = w} (2^32 - threshold_i)) / (V 2^32)
    = P_n(w), exact up to the 32-bit rounding. One draw costs two random numbers and one row read, where a
    cumulative table (gensim) needs a binary search of ~log2(V) dependent reads, and the C code's table of 10^8 word
    ids 400 MB.
    """
    scaled = noise_distribution(counts, power) * len(counts)  # (V,), mean 1: each bucket holds mass 1
    accept, alias = np.ones(len(counts)), np.arange(len(counts))
    small = [i for i, p in enumerate(scaled) if p < 1]
    large = [i for i, p in enumerate(scaled) if p >= 1]
    while small and large:
        s, big = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], big  # bucket s: word s with scaled[s], the rest goes to `big`
        scaled[big] -= 1 - scaled[s]
        (small if scaled[big] < 1 else large).append(big)
    # Whatever is left holds mass 1 up to rounding: those buckets keep their own word (accept 1, alias itself).
    table = np.empty((len(counts), 2), np.uint32)
    table[:, 0] = np.minimum(np.round(accept * 2.0**32), 2**32 - 1)
    table[:, 1] = alias
    return table


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """keep(w) = min(1, (sqrt(f / t) + 1) * t / f) with f = c(w) / N and t = sample; all ones if sample is 0."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)
