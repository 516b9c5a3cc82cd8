"""Post-processing steps of `dlf data download`: a downloaded archive into the one file an experiment reads.

Both write JSON lines, one review a line, `{"id": ..., "label": ..., "text": ...}`, the format that
`dlf.data.sentiment.load_reviews` reads. `json.dumps` with its defaults (ASCII, `\\uXXXX` escapes), ids sorted, so
the output is the same bytes on every machine: for NLTK's movie_reviews.zip it is byte for byte the
`movie_reviews.jsonl` whose SHA-256 the catalogue holds.

- `movie_reviews`: NLTK's copy of Pang & Lee's polarity data set v2.0 (2,000 full reviews, 2004), members
  `movie_reviews/{neg,pos}/cvNNN_NNNNN.txt`; the text is kept verbatim.
- `imdb`: Maas et al.'s Large Movie Review Dataset (2011), members `aclImdb/{train,test}/{pos,neg}/ID_RATING.txt`
  and `aclImdb/train/unsup/ID_0.txt` (50,000 labelled and 50,000 unlabelled reviews); the HTML line breaks
  (`<br />`) become newlines; unlabelled reviews get label "".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from dlf.data.archive import Archive
from dlf.errors import DataError

_MOVIE_REVIEW = re.compile(r"^(?:[^/]+/)?(pos|neg)/(cv\d+_\d+)\.txt$")
_IMDB_REVIEW = re.compile(r"^(?:[^/]+/)?(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")
_IMDB_ORDER = {"train": 0, "test": 1, "pos": 0, "neg": 1, "unsup": 2}


def _decode(data: bytes) -> str:
    """UTF-8 when the bytes are, else latin-1 (every byte a character): never fails, never guesses twice."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _write_jsonl(path: Path, records: Iterable[dict]) -> int:
    """One `json.dumps(record)` a line, "\\n" line ends; returns the number of lines."""
    n = 0
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
            n += 1
    return n


def _layout_error(archive: Archive, expected: str) -> DataError:
    names = archive.names()
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return DataError(f"{archive.path.name}: unexpected layout: no {expected} member (it holds: {shown or 'nothing'}); "
                     f"the mirror serves another file, try another one")


def movie_reviews(archive: Archive, out: Path) -> None:
    """NLTK's movie_reviews.zip -> out/movie_reviews.jsonl: ids `pos/cv000_29590`, sorted, text verbatim."""
    found = {}  # id -> (label, member name)
    for name in archive.names():
        match = _MOVIE_REVIEW.match(name)
        if match:
            found[f"{match[1]}/{match[2]}"] = (match[1], name)
    if {label for label, _ in found.values()} != {"pos", "neg"}:
        raise _layout_error(archive, "pos/cvNNN_NNNNN.txt and neg/cvNNN_NNNNN.txt")
    records = ({"id": rid, "label": found[rid][0], "text": _decode(archive.read(found[rid][1]))}
               for rid in sorted(found))
    _write_jsonl(out / "movie_reviews.jsonl", records)


def imdb(archive: Archive, out: Path) -> None:
    """aclImdb_v1.tar.gz -> out/reviews.jsonl: ids `train/pos/0_9`, ordered train/test, pos/neg/unsup, by number."""
    found = {}  # sort key -> record
    for name, data in archive.iter_files():  # one pass over the .tar.gz
        match = _IMDB_REVIEW.match(name)
        if match is None:
            continue
        split, label, number, rating = match.groups()
        key = (_IMDB_ORDER[split], _IMDB_ORDER[label], int(number))
        text = _decode(data).replace("<br />", "\n")
        found[key] = {"id": f"{split}/{label}/{number}_{rating}", "label": "" if label == "unsup" else label,
                      "text": text}
    if not {"pos", "neg"} <= {record["label"] for record in found.values()}:
        raise _layout_error(archive, "aclImdb/{train,test}/{pos,neg}/ID_RATING.txt")
    _write_jsonl(out / "reviews.jsonl", (found[key] for key in sorted(found)))


CONVERTERS = {"movie_reviews": movie_reviews, "imdb": imdb}
