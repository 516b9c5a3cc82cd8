"""Movie-review text for the sentiment unit: the reviews a char-RNN learns from, and the MR sentences it is read on.

    <root>/sentiment/movie_reviews.jsonl    2,000 full reviews, one JSON object a line: {"id", "label", "text"}
    <root>/sentiment/rt-polarity.pos        5,331 positive review snippets, one a line (Pang & Lee 2005, "MR")
    <root>/sentiment/rt-polarity.neg        5,331 negative ones
    <root>/imdb/reviews.jsonl               optional: 100,000 IMDB reviews (Maas et al. 2011), the same format;
                                            ids train/{pos,neg,unsup}/N_R and test/{pos,neg}/N_R name the split

`dlf data download movie-reviews mr` (and `imdb`) fetches them (see dlf.data.catalogue).

The NLTK reviews and MR are lower-cased and tokenised alike (punctuation split off by spaces, one sentence a line
inside a review).
The MR files come from a latin-1 / Windows-1252 world: read as UTF-8 when they decode as such, else as latin-1
(every byte is a character), and `normalise` then maps the Windows-1252 punctuation (curly quotes, dashes, the
ellipsis; some reviews hold them with the high bit stripped, e.g. \\x12 for \\x92 ') to ASCII and strips accents,
so that both sources share one alphabet.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import numpy as np

from dlf.data.paths import locate
from dlf.errors import DataError

REVIEWS = "movie_reviews.jsonl"
POLARITY = ("rt-polarity.pos", "rt-polarity.neg")

# Windows-1252 punctuation in the C1 range, and the same codes with their high bit lost (seen in the reviews).
_CP1252 = {0x85: "...", 0x91: "'", 0x92: "'", 0x93: '"', 0x94: '"', 0x96: "-", 0x97: "--"}
PUNCTUATION = {chr(code): text for code, text in _CP1252.items()} | {chr(c - 0x80): t for c, t in _CP1252.items()}


def find_files(reviews: str | os.PathLike | None, data_dir: str | os.PathLike | None) -> Path:
    """The folder holding both MR files: beside `reviews` if both are there, else the data lookup.

    With no `reviews`, the folder must hold the default reviews too (`sentiment/` of `dlf data download
    movie-reviews mr`). One MR file beside `reviews` without the other is an error rather than a silent mix."""
    if reviews is None:
        return locate("sentiment", [REVIEWS, *POLARITY], data_dir)
    path = reviews_file(reviews)
    beside = [name for name in POLARITY if (path.parent / name).is_file()]
    if len(beside) == len(POLARITY):
        return path.parent
    if beside:
        lacking = [name for name in POLARITY if name not in beside]
        raise DataError(f"--reviews {path}: missing {', '.join(lacking)} in {path.parent}; put both MR sentence "
                        f"files beside the reviews, or neither (then the data folder's are used)")
    return locate("sentiment", POLARITY, data_dir)


def reviews_file(reviews: str | os.PathLike) -> Path:
    """The --reviews file, checked to exist."""
    path = Path(reviews).expanduser()
    if not path.is_file():
        raise DataError(f"--reviews {path}: no such file; give a JSON-lines file of reviews, e.g. the "
                        f"imdb/reviews.jsonl of 'dlf data download imdb'")
    return path


def find_reviews(reviews: str | os.PathLike | None, data_dir: str | os.PathLike | None) -> tuple[Path, Path]:
    """(the reviews file to learn from, the folder of the MR sentences): --reviews, or the data folder's."""
    folder = find_files(reviews, data_dir)
    return (folder / REVIEWS if reviews is None else reviews_file(reviews)), folder


def normalise(text: str) -> str:
    """Windows-1252 punctuation to ASCII, accents stripped (é -> e), lower case; other characters unchanged."""
    text = "".join(PUNCTUATION.get(ch, ch) for ch in text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return text.lower()


def load_reviews(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The normalised `text` of every review in a JSON-lines file, and its `label` ("" if none); one-line errors.

    The labels only pick which reviews to show in plots: the language model never sees them."""
    texts, labels, _ = read_reviews(path)
    return texts, labels


def read_reviews(path: str | os.PathLike) -> tuple[list[str], list[str], list[str]]:
    """As `load_reviews`, plus each review's `id` ("" if none): IMDB's ids name their split, e.g. test/pos/12_9."""
    path = Path(path)
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (bad byte at offset {exc.start}); give the JSON-lines file of "
                        f"reviews") from None
    texts, labels, ids = [], [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid JSON ({exc.msg}); fix or remove that line") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise DataError(f"{path} line {number}: no \"text\" string; each line must be a JSON object with one")
        texts.append(normalise(text))
        labels.append(str(record.get("label", "")))
        ids.append(str(record.get("id", "")))
    if not any(t.strip() for t in texts):
        raise DataError(f"{path}: holds no review text; give a JSON-lines file with a \"text\" in each line")
    return texts, labels, ids


def split_of(review_id: str) -> str:
    """"train" or "test" for an IMDB id (train/pos/0_9, test/neg/3_2, train/unsup/7_0), else ""."""
    head = review_id.split("/", 1)[0]
    return head if head in ("train", "test") and "/" in review_id else ""


def labelled(splits: list[str], labels: list[str], split: str, n: int = 0) -> list[int]:
    """Indices of the pos/neg reviews of one split; n > 0 keeps the first n/2 of each label (in file order)."""
    pos = [i for i, (s, y) in enumerate(zip(splits, labels)) if s == split and y == "pos"]
    neg = [i for i, (s, y) in enumerate(zip(splits, labels)) if s == split and y == "neg"]
    if n:
        pos, neg = pos[:n // 2], neg[:n - n // 2]
    return pos + neg


# bytes ------------------------------------------------------------------------------------------------------
BYTE_SYMBOLS = "".join(map(chr, range(256)))  # a byte-level model's vocabulary: byte b is the character chr(b)


def as_bytes(text: str) -> str:
    """The UTF-8 bytes of `text`, one character per byte (chr(b)): what a byte-level model reads."""
    return text.encode("utf-8").decode("latin-1")


def from_bytes(symbols: str) -> str:
    """Back from `as_bytes` (an incomplete UTF-8 sequence, as a sampled one may be, becomes U+FFFD)."""
    return symbols.encode("latin-1").decode("utf-8", errors="replace")


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a text file, UTF-8 if it decodes as such, else latin-1, normalised and stripped."""
    data = path.read_bytes()
    if b"\x00" in data[:1 << 20]:
        raise DataError(f"{path}: looks like a binary file (it holds NUL bytes); give the MR sentence file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # the original release: latin-1 / Windows-1252 bytes
    # split on "\n" only: str.splitlines() would also break at \x85 (an ellipsis here) and \x1c-\x1e
    return [line for line in (normalise(raw).strip() for raw in text.split("\n")) if line]


def load_polarity(folder: Path, max_sentences: int = 0) -> tuple[list[str], np.ndarray]:
    """MR sentences and labels (1 positive, 0 negative): positives first; `max_sentences` > 0 keeps half of each."""
    pos, neg = (read_lines(folder / name) for name in POLARITY)
    for name, lines in zip(POLARITY, (pos, neg)):
        if not lines:
            raise DataError(f"{folder / name}: holds no sentences; give the MR file with one sentence a line")
    if max_sentences:
        pos, neg = pos[:max_sentences // 2], neg[:max_sentences - max_sentences // 2]
    labels = np.concatenate([np.ones(len(pos), dtype=np.int64), np.zeros(len(neg), dtype=np.int64)])
    return pos + neg, labels
