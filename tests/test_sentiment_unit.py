"""The sentiment unit: reading the MR files, reading states at each sentence's true end, the cross-validated
read-outs on planted signals, and the experiment end to end on a tiny fake sentiment/ folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dlf.cli import main
from dlf.data.sentiment import (
    BYTE_SYMBOLS,
    as_bytes,
    find_files,
    from_bytes,
    labelled,
    load_polarity,
    load_reviews,
    normalise,
    split_of,
)
from dlf.errors import DataError
from dlf.experiments import _probe
from dlf.experiments import sentiment_unit as su
from dlf.models.charrnn import CharRNN
from dlf.text.vocab import Vocab

GOOD = ["great", "wonderful", "brilliant", "moving"]
BAD = ["awful", "terrible", "boring", "dull"]
FILLER = ["the plot", "the cast", "this film", "the story", "the music", "the ending"]


def sentence(rng: np.random.Generator, positive: bool, review: bool = True) -> str:
    """A sentence whose clue to its label is one sentiment word; in reviews it also predicts how the line ends."""
    word = rng.choice(GOOD if positive else BAD)
    if review:
        return f"{rng.choice(FILLER)} is {word} and i {'loved' if positive else 'hated'} it ."
    return f"{rng.choice(FILLER)} is {word} ."


def make_sentiment_fixture(root: Path, n_reviews: int = 30, n_sentences: int = 40, seed: int = 0) -> Path:
    """root/sentiment/ with a reviews JSON-lines file and MR-style files; the .neg file is latin-1 encoded."""
    rng = np.random.default_rng(seed)
    folder = root / "sentiment"
    folder.mkdir(parents=True)
    with open(folder / "movie_reviews.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n_reviews):
            label = "pos" if i % 2 else "neg"
            text = "just so , a cafe - deja vu . \n" + "".join(sentence(rng, label == "pos") + " \n" for _ in range(8))
            fh.write(json.dumps({"id": f"{label}/cv{i:03d}", "label": label, "text": text}) + "\n")
    pos = [sentence(rng, True, review=False) + " " for _ in range(n_sentences)]
    neg = [sentence(rng, False, review=False) for _ in range(n_sentences)]
    pos[0] = "a caf\u00e9 scene , great \x85 and moving < ."  # accent, cp1252 ellipsis, a character never trained on
    neg[0] = "an awful , \x96 boring d\u00e9j\u00e0 vu ."
    (folder / "rt-polarity.pos").write_text("\n".join(pos) + "\n", encoding="utf-8")
    (folder / "rt-polarity.neg").write_bytes(("\n".join(neg) + "\n").encode("latin-1"))
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_sentiment_fixture(tmp_path_factory.mktemp("data"))


def run_args(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "sentiment-unit", "--reviews", str(folder / "movie_reviews.jsonl"), "--out", str(out),
            "--device", "cpu", "--hidden", "24", "--embed", "8", "--batch-size", "8", "--seq-len", "32",
            "--max-steps", "30", "--eval-every", "15", "--val-chunk", "128", "--folds", "3", "--jobs", "1",
            "--lr", "0.01", "--quiet", *extra]


# data ---------------------------------------------------------------------------------------------------------
def test_mr_files_decode_and_normalise(data):
    sentences, labels = load_polarity(data)
    assert len(sentences) == 80 and labels.tolist() == [1] * 40 + [0] * 40
    assert sentences[0] == "a cafe scene , great ... and moving < .", "\\x85 is an ellipsis, not a line break"
    assert sentences[40] == "an awful , - boring deja vu .", "the latin-1 file decodes; cp1252 dash to ASCII"
    assert all(s == s.strip() for s in sentences)
    assert normalise("Don\x92t \x93stop\x94 \x12") == "don't \"stop\" '"
    texts, review_labels = load_reviews(data / "movie_reviews.jsonl")
    assert len(texts) == 30 and review_labels[:2] == ["neg", "pos"]
    small, small_labels = load_polarity(data, max_sentences=10)
    assert len(small) == 10 and small_labels.sum() == 5


def test_bad_input_is_a_one_line_error(tmp_path, data, capsys, monkeypatch):
    monkeypatch.delenv("DLF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        (broken / name).write_bytes((data / name).read_bytes())
    lines = (data / "movie_reviews.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:25]  # a truncated line
    (broken / "movie_reviews.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3: not valid JSON"):
        load_reviews(broken / "movie_reviews.jsonl")
    out = tmp_path / "run"
    assert main(run_args(broken, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 3" in err[0]
    assert not out.exists(), "a failed start leaves no half-written run folder"

    (broken / "rt-polarity.neg").unlink()
    with pytest.raises(DataError, match="missing rt-polarity.neg"):
        find_files(broken / "movie_reviews.jsonl", None)
    with pytest.raises(DataError, match="sentiment data not found: missing .*rt-polarity.neg"):
        find_files(None, broken.parent / "nowhere")
    assert main(["run", "sentiment-unit", "--max-sentences", "5", "--out", str(tmp_path / "r2")]) == 2
    assert "--max-sentences must be 0 (all) or at least" in capsys.readouterr().err


# reading the states ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 1)])
def test_batched_states_are_read_at_each_true_end(cell, layers):
    torch.manual_seed(0)
    model = CharRNN(11, hidden=12, layers=layers, cell=cell, embed=5).eval()
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, 11, (int(n),), generator=g) for n in (7, 1, 19, 3, 12, 19, 5)]
    batched = su.final_states(model, seqs, torch.device("cpu"), batch_size=3)  # padding inside every batch
    one_by_one = np.stack([model.hidden_states(s[None])[0, -1].numpy() for s in seqs])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    means = su.mean_states(model, seqs, torch.device("cpu"), batch_size=3)
    np.testing.assert_allclose(means, [model.hidden_states(s[None])[0].mean(0).numpy() for s in seqs], atol=1e-6)
    if cell == "lstm":  # the cell state c_T, not h_T = o * tanh(c_T), which never leaves (-1, 1)
        _, (h, c) = model(seqs[2][None])
        np.testing.assert_allclose(batched[2], c[-1, 0].detach().numpy(), atol=1e-5)


# the read-outs --------------------------------------------------------------------------------------------------
def test_readout_finds_a_planted_unit_and_not_noise():
    rng = np.random.default_rng(0)
    y = np.repeat([1, 0], 100)
    x = rng.standard_normal((200, 30))
    x[:, 7] += 2.0 * (y - 0.5) * 2  # unit 7 separates the classes; the rest is noise
    texts = [f"w{rng.integers(50)} {'good' if label else 'bad'} w{rng.integers(50)}" for label in y]
    out = _probe.cross_validate(x, y, texts, folds=5, seed=0)
    assert out["best_unit"] == 7 and out["best_unit_folds"] == 5 and out["best_unit_sign"] == 1.0
    assert out["best_unit_univariate"] == 7
    assert out["mr_cv_acc_best_unit"] > 0.9 and out["mr_cv_acc_all_units"] > 0.9
    assert out["mr_cv_acc_bow"] == 1.0, "the word good/bad gives the label away"
    assert out["mr_nonzero_weights"] < 30, "the L1 penalty zeroes some of the noise units"
    shuffled = rng.permutation(y)
    noise = _probe.cross_validate(x, shuffled, texts, folds=5, seed=0)
    assert noise["mr_cv_acc_all_units"] < 0.65 and noise["mr_cv_acc_best_unit"] < 0.65, "no leak from test folds"
    again = _probe.cross_validate(x, y, texts, folds=5, seed=0, jobs=2)
    assert again == out, "the same folds and numbers in parallel threads"


def test_encode_maps_unseen_characters_to_a_space():
    vocab = Vocab.from_text("ab \n")
    ids, unknown = su.encode_known(vocab, "\nab<c")
    assert unknown == 2 and vocab.decode(ids) == "\nab  "


# end to end -------------------------------------------------------------------------------------------------------
def test_experiment_end_to_end_and_from_run(tmp_path, data, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    assert main(run_args(data, out)) == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sentences"] == 80 and summary["sentences_positive"] == 40 and summary["folds"] == 3
    assert summary["mr_unknown_chars"] == 1  # the "<"
    assert summary["mr_cv_acc_all_units"] > 0.75, "the planted words are visible in the final state"
    assert summary["mr_cv_acc_bow"] > 0.9
    assert 0 <= summary["best_unit"] < 24 and summary["val_bits_per_char"] > 0 and summary["steps"] == 30
    for name in ("curves", "unit_histogram", "unit_sentences", "unit_reviews"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
    assert (out / "unit_reviews.html").is_file() and (out / "vocab.json").is_file()
    assert "label" not in (out / "validation.txt").read_text(), "the language model reads review text only"

    again = tmp_path / "again"  # the same model, read out again: the same numbers, no training
    assert main(run_args(data, again, "--from-run", str(out))) == 0, capsys.readouterr().err
    reused = json.loads((again / "summary.json").read_text())
    for key in ("mr_cv_acc_all_units", "mr_cv_acc_best_unit", "best_unit", "mr_cv_acc_bow", "val_bits_per_char"):
        assert reused[key] == summary[key], key
    assert not (again / "checkpoints").exists()
    assert main(run_args(data, tmp_path / "bad", "--from-run", str(tmp_path))) == 2
    assert "holds no config.json" in capsys.readouterr().err


@pytest.mark.full_data
@pytest.mark.skipif(not os.environ.get("DLF_DATA_DIR"), reason="needs the movie reviews: set DLF_DATA_DIR")
def test_real_files_run(tmp_path):
    folder = find_files(None, None)
    sentences, labels = load_polarity(folder)
    assert len(sentences) == 10662 and labels.sum() == 5331
    texts, _ = load_reviews(folder / "movie_reviews.jsonl")
    assert len(texts) == 2000
    assert main(["run", "sentiment-unit", "--out", str(tmp_path / "r"), "--device", "cpu", "--hidden", "16",
                 "--max-steps", "2", "--batch-size", "4", "--max-sentences", "400", "--folds", "3",
                 "--jobs", "1", "--quiet"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["sentences"] == 400 and summary["mr_cv_acc_bow"] > 0.55


# IMDB, bytes and the mLSTM -----------------------------------------------------------------------------------------
def make_imdb_fixture(root: Path, per_label: int = 16, unlabelled: int = 16, seed: int = 1) -> Path:
    """root/imdb/reviews.jsonl shaped like the converter's output (ids train/pos/N_R, test/neg/N_R, train/unsup/N_0,
    in its order), MR files beside it. Test reviews carry a marker word the network must never read."""
    rng = np.random.default_rng(seed)
    folder = root / "imdb"
    folder.mkdir(parents=True)
    rows = []
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            for n in range(per_label):
                text = " ".join(sentence(rng, label == "pos") for _ in range(3))
                rows.append({"id": f"{split}/{label}/{n}_{8 if label == 'pos' else 2}", "label": label,
                             "text": (f"zzqq {n} . " if split == "test" else "") + "\u2014 " + text})
    rows[16:16] = [{"id": f"train/unsup/{n}_0", "label": "", "text": " ".join(sentence(rng, n % 2 == 0)
                                                                            for _ in range(3))}
                   for n in range(unlabelled)]
    with open(folder / "reviews.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    pos = [sentence(rng, True, review=False) for _ in range(20)]
    neg = [sentence(rng, False, review=False) for _ in range(20)]
    (folder / "rt-polarity.pos").write_text("\n".join(pos) + "\n", encoding="utf-8")
    (folder / "rt-polarity.neg").write_text("\n".join(neg) + "\n", encoding="utf-8")
    return folder


def test_imdb_splits_and_bytes():
    assert [split_of(i) for i in ("train/pos/0_9", "test/neg/3_2", "train/unsup/7_0", "pos/cv001", "", "train")] \
        == ["train", "test", "train", "", "", ""]
    splits, labels = ["train", "train", "test", "train", "test", "train"], ["pos", "neg", "pos", "", "neg", "pos"]
    assert labelled(splits, labels, "train") == [0, 5, 1] and labelled(splits, labels, "train", 2) == [0, 1]
    text = "caf\u00e9 \u2014 ok"
    assert len(as_bytes(text)) == len(text.encode("utf-8")) and from_bytes(as_bytes(text)) == text
    assert set(as_bytes(text)) <= set(BYTE_SYMBOLS) and from_bytes(as_bytes(text)[:4]) == "caf\ufffd"


def test_mlstm_states_are_read_at_each_true_end_in_chunks(monkeypatch):
    monkeypatch.setattr(su, "FEATURE_CHUNK", 4)  # sequences of up to 19 steps: several chunks, ends inside them
    torch.manual_seed(0)
    model = CharRNN(11, hidden=12, layers=2, cell="mlstm", embed=5).eval()
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, 11, (int(n),), generator=g) for n in (7, 1, 19, 3, 12, 19, 5, 4)]
    batched = su.final_states(model, seqs, torch.device("cpu"), batch_size=3)
    one_by_one = np.stack([model.hidden_states(s[None])[0, -1].numpy() for s in seqs])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    _, (_, c) = model(seqs[2][None])
    np.testing.assert_allclose(batched[2], c[-1, 0].detach().numpy(), atol=1e-6)


def test_imdb_run_with_a_byte_level_mlstm(tmp_path, capsys, monkeypatch):
    torch.set_num_threads(1)
    folder = make_imdb_fixture(tmp_path)
    read = []
    train_model = su.char_rnn.train_model
    monkeypatch.setattr(su.char_rnn, "train_model", lambda cfg, run, text, vocab=None: read.append(text) or
                        train_model(cfg, run, text, vocab))
    out = tmp_path / "run"
    args = run_args(folder, out, "--cell", "mlstm", "--encoding", "bytes", "--max-steps", "15", "--eval-every", "15")
    args[args.index("--reviews") + 1] = str(folder / "reviews.jsonl")
    assert main(args) == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cell"] == "mlstm" and summary["encoding"] == "bytes" and summary["vocab_size"] == 256
    assert summary["reviews_read"] == 48 and "zzqq" not in read[0], "the network never reads the test reviews"
    assert summary["review_chars"] == len(read[0]) and "\u00e2\u0080\u0094" in read[0], "an em dash is 3 bytes"
    assert summary["imdb_train_reviews"] == summary["imdb_test_reviews"] == 32
    assert summary["imdb_acc_bow"] > 0.9, "the planted words give the label away"
    assert summary["imdb_acc_all_units"] > 0.7, "the final state of a review ending in 'i loved it' holds it"
    assert 0 <= summary["imdb_best_unit"] < 24 and 0.0 <= summary["imdb_acc_best_unit"] <= 1.0
    assert summary["mr_unknown_chars"] == summary["imdb_unknown_chars"] == 0, "every byte is in the vocabulary"
    assert (out / "unit_reviews.png").is_file()

    assert main(["sample", str(out), "--prime", "caf\u00e9", "--length", "40"]) == 0
    assert capsys.readouterr().out.startswith("caf\u00e9")
    again = tmp_path / "again"  # the earlier run's encoding, though --encoding is not given
    args = run_args(folder, again, "--from-run", str(out), "--imdb-reviews", "8")
    args[args.index("--reviews") + 1] = str(folder / "reviews.jsonl")
    assert main(args) == 0, capsys.readouterr().err
    reused = json.loads((again / "summary.json").read_text())
    assert reused["encoding"] == "bytes" and reused["mr_cv_acc_all_units"] == summary["mr_cv_acc_all_units"]
    assert reused["imdb_train_reviews"] == reused["imdb_test_reviews"] == 8


def test_imdb_reviews_missing_a_label_are_refused_before_training(tmp_path, capsys, monkeypatch):
    folder = make_imdb_fixture(tmp_path, per_label=4, unlabelled=2)
    reviews = folder / "reviews.jsonl"
    rows = [r for r in reviews.read_text(encoding="utf-8").splitlines() if '"train/neg/' not in r]
    reviews.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(su.char_rnn, "train_model", lambda *a, **k: pytest.fail("trained before the check"))
    out = tmp_path / "run"
    args = run_args(folder, out)
    args[args.index("--reviews") + 1] = str(reviews)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train/ reviews do not hold both labels pos and neg" in err[0], err
    assert not out.exists(), "nothing is left behind"
