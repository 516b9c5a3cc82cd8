"""Where the sentiment unit finds its reviews and the MR sentences: --reviews (any name) and the data folder."""

from __future__ import annotations

import pytest

from dlf.data.sentiment import find_reviews
from dlf.errors import DataError


def test_reviews_elsewhere_take_mr_from_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DLF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data = tmp_path / "data" / "sentiment"
    data.mkdir(parents=True)
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        (data / name).write_text("a\n")
    imdb = tmp_path / "data" / "imdb"
    imdb.mkdir()
    (imdb / "reviews.jsonl").write_text('{"id": "train/pos/0_9", "label": "pos", "text": "fine"}\n')
    assert find_reviews(imdb / "reviews.jsonl", tmp_path / "data") == (imdb / "reviews.jsonl", data)
    (imdb / "rt-polarity.pos").write_text("b\n")  # one MR file beside the reviews, not the other: an error
    with pytest.raises(DataError, match="missing rt-polarity.neg .* put both MR sentence files beside"):
        find_reviews(imdb / "reviews.jsonl", tmp_path / "data")
    (imdb / "rt-polarity.neg").write_text("c\n")  # both beside: those win
    assert find_reviews(imdb / "reviews.jsonl", tmp_path / "data") == (imdb / "reviews.jsonl", imdb)


def test_missing_reviews_name_the_download(tmp_path, monkeypatch):
    monkeypatch.delenv("DLF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataError, match=r"dlf data download mr movie-reviews"):
        find_reviews(None, tmp_path)
    with pytest.raises(DataError, match=r"--reviews .*nope.jsonl: no such file.*dlf data download imdb"):
        find_reviews(tmp_path / "nope.jsonl", tmp_path)
