"""Experiment `sentiment-unit`: a char-RNN trained without labels on movie reviews grows a unit that tracks sentiment.

Radford, Jozefowicz and Sutskever (2017), "Learning to Generate Reviews and Discovering Sentiment": a 4,096-unit
multiplicative LSTM trained for a month to predict the next byte of 82 million Amazon reviews. Its final cell
state, read by an L1-regularised logistic regression, scores 86.9% on MR (the sentence polarity set of Pang & Lee
2005), and most of the L1 weight lands on one unit, which alone separates the classes well: the sentiment unit.

Here the char-RNN of `char-rnn` learns from the 2,000 movie reviews of `movie_reviews.jsonl` (their text only;
the labels are never used in training). Each MR sentence is then read from a zero state as "\\n" + sentence + " "
(the way a sentence sits in a review) and its final cell state c_T (hidden state for a GRU or RNN) is the feature
vector. On 10 stratified folds, dlf.experiments._probe scores the L1 read-out on all units, the best single unit
(picked inside each training fold), and a bag-of-words logistic regression on the same folds: the floor to beat.

With IMDB (`--reviews imdb/reviews.jsonl` of `dlf data download imdb`: 25,000 train, 25,000 test and 50,000
unlabelled reviews, Maas et al. 2011) the network learns from the train and unlabelled reviews (never the test
ones), and the same three read-outs are also fitted on the labelled train reviews' final states and scored on
the test reviews. `--encoding bytes` reads UTF-8 bytes (256 symbols) as Radford et al. do; `--cell mlstm` is
their multiplicative LSTM (dlf.models.mlstm).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from dlf.config import Range, Text, require
from dlf.data.sentiment import (
    BYTE_SYMBOLS,
    as_bytes,
    find_reviews,
    from_bytes,
    labelled,
    load_polarity,
    read_reviews,
    split_of,
)
from dlf.errors import DataError, DlfError
from dlf.experiments import _probe, _sentiment_plots, char_rnn
from dlf.experiments._char_units import unit_page
from dlf.models.charrnn import CharRNN
from dlf.runtime import pick_device
from dlf.text.vocab import Vocab

PREFIX, SUFFIX = "\n", " "  # an MR sentence is read as a line of a review: "\n" + sentence + " "
REVIEW_ORDER_SEED = 0  # the reviews are joined in one fixed shuffled order, whatever --seed is
FEATURE_CHUNK = 256  # an mLSTM reads long texts this many steps at a time (its input projection is (B, T, 5H))


@dataclass
class Config(char_rnn.Config):
    reviews: Annotated[str | None, Text()] = None
    """JSON-lines file of reviews to learn from (default: sentiment/movie_reviews.jsonl in the data folder; 'dlf
    data download imdb' gives imdb/reviews.jsonl, 100,000 reviews). MR is read from beside it, else the data folder."""
    folds: Annotated[int, Range(2, 100)] = 10
    """Folds of the stratified cross-validation on the MR sentences (the same folds for every read-out)."""
    l1_C: Annotated[float, Range(0, 1e6)] = 0.0
    """Inverse strength C of the L1 penalty on the standardised states (0: pick C from 2^-6, 2^-4, 2^-2, 1 by an
    inner 3-fold CV inside each training fold)."""
    max_sentences: Annotated[int, Range(0, 10_000_000)] = 0
    """Read out only the first N/2 positive and N/2 negative MR sentences (0: all 10,662)."""
    from_run: Annotated[str | None, Text()] = None
    """Reuse the trained model of this char-rnn or sentiment-unit run folder instead of training one."""
    jobs: Annotated[int, Range(0, 1024)] = 0
    """Threads fitting the read-out folds in parallel (0: one per CPU core, at most one per fold)."""
    encoding: Literal["chars", "bytes"] = "chars"
    """What the network reads: chars (the distinct characters of the reviews) or bytes (their UTF-8 bytes, a
    fixed 256-symbol vocabulary, as Radford et al.). With --from-run, the earlier run's encoding is used."""
    imdb_reviews: Annotated[int, Range(0, 1_000_000)] = 0
    """With IMDB's reviews: read out on the first N/2 positive and N/2 negative train reviews, and as many test
    reviews (0: all, 25,000 and 25,000). Each review is read whole: on a CPU, thousands take minutes."""
    text: str | None = None
    """Not used here: sentiment-unit learns from --reviews."""
    cell: Literal["lstm", "gru", "rnn", "mlstm"] = "lstm"
    """Recurrent cell: lstm (its cell states c_t are read, as Radford et al. do), gru, rnn (tanh) or mlstm
    (multiplicative LSTM, Krause et al. 2016: Radford et al.'s cell; cell states read; no fused kernel)."""
    hidden: int = 1024
    """Units in each recurrent layer (Radford et al.: 4,096)."""
    seq_len: int = 256
    """Characters per training chunk: gradients flow back this far (truncated BPTT); the state carries on."""
    dropout: float = 0.2
    """Dropout on the embedding, between layers and before the output layer."""
    epochs: float = 10.0
    """Passes over the training text (with --time-limit the clock may end the run first)."""
    lr: float = 2e-3
    """Peak learning rate."""
    time_limit: float = 60.0
    """Stop training after this many minutes if > 0; the LR schedule then runs on time, not steps."""
    eval_every: int = 500
    """Evaluate on the validation text every N steps (0: once per epoch)."""
    analyze_chars: int = 0
    """Validation characters read to find units that track simple properties, as char-rnn does (0: skip)."""
    pool: Literal["final", "mean"] = "final"
    """Features of a sentence: the state after its last character (final, as Radford et al.) or the mean over
    its characters (mean: shows what the states hold even where the network does not carry it to the end)."""

    def validate(self) -> None:
        super().validate()
        require(self.text is None, "text", "does not apply to sentiment-unit; give the reviews with --reviews",
                self.text)
        require(self.max_sentences == 0 or self.max_sentences >= 2 * self.folds, "max_sentences",
                f"must be 0 (all) or at least 2 x --folds = {2 * self.folds}", self.max_sentences)


# text -------------------------------------------------------------------------------------------------------
def training_text(reviews: list[str]) -> tuple[str, np.ndarray]:
    """The reviews in one fixed shuffled order, joined by "\\n"; and that order (review indices)."""
    order = np.random.default_rng(REVIEW_ORDER_SEED).permutation(len(reviews))
    return "\n".join(reviews[i] for i in order), order


def symbols(text: str, encoding: str) -> str:
    """`text` as the network reads it: itself (chars), or its UTF-8 bytes one character each (bytes)."""
    return as_bytes(text) if encoding == "bytes" else text


def encode_known(vocab: Vocab, text: str) -> tuple[torch.Tensor, int]:
    """Ids of `text`, a character the model never saw read as a space (or its first character); and how many."""
    unknown = set(vocab.missing(text))
    if not unknown:
        return vocab.encode(text), 0
    fallback = " " if " " in vocab.chars else vocab.chars[0]
    return vocab.encode("".join(fallback if c in unknown else c for c in text)), sum(c in unknown for c in text)


@torch.no_grad()
def final_states(model: CharRNN, seqs: list[torch.Tensor], device, batch_size: int = 512) -> np.ndarray:
    """The last layer's state after the last character of each sequence: (N, hidden) float32; LSTM: c_T.

    Batches of sequences, sorted by length, go through the recurrent layers as packed sequences, so each one
    stops at its own last character and the fused kernel returns the state there (c_n for an LSTM, h_n else).
    """
    model = model.to(device).eval()
    out = torch.empty(len(seqs), model.hidden)
    for idx, x, lengths in _batches(seqs, batch_size):
        if model.cell == "mlstm":
            out[idx] = _mlstm_final_cells(model, model.embed(x.to(device)), lengths, device)
            continue
        packed = pack_padded_sequence(model.embed(x.to(device)), lengths, batch_first=True, enforce_sorted=False)
        _, state = model.rnn(packed)  # (layers, B, H) each
        out[idx] = (state[1] if model.cell == "lstm" else state)[-1].float().cpu()
    return out.numpy()


def _mlstm_final_cells(model: CharRNN, emb: torch.Tensor, lengths: torch.Tensor, device) -> torch.Tensor:
    """c_T of the mLSTM's last layer at each sequence's own end: (B, H). It reads FEATURE_CHUNK steps at a time,
    the state carried over (a whole IMDB review at once would need (B, T, 5H) input projections), in bf16 on a GPU."""
    state, lengths = None, lengths.to(device)
    with torch.autocast("cuda", torch.bfloat16, enabled=device.type == "cuda"):
        for start in range(0, emb.shape[1], FEATURE_CHUNK):
            _, state = model.rnn(emb[:, start:start + FEATURE_CHUNK], state, lengths=(lengths - start).clamp(min=0))
    return state[1][-1].float().cpu()


def read_features(cfg: Config, model: CharRNN, vocab: Vocab, encoding: str, texts: list[str], device,
                  suffix: str = SUFFIX) -> tuple[np.ndarray, int]:
    """The state (--pool) of each text read from a zero state as PREFIX + text + suffix: (N, hidden); and how
    many of its characters the model never saw."""
    encoded = [encode_known(vocab, symbols(PREFIX + t + suffix, encoding)) for t in texts]
    features = (final_states if cfg.pool == "final" else mean_states)(model, [ids for ids, _ in encoded], device)
    if not np.isfinite(features).all():  # weights that diverged: stop before the probe's solver meets NaN
        raise DlfError("the char-RNN's states hold NaN or inf (its weights diverged); train it again with a "
                       "lower --lr")
    return features, sum(n for _, n in encoded)


@torch.no_grad()
def mean_states(model: CharRNN, seqs: list[torch.Tensor], device, batch_size: int = 512) -> np.ndarray:
    """The last layer's state averaged over every character of each sequence (padding left out): (N, hidden)."""
    model = model.to(device).eval()
    out = torch.empty(len(seqs), model.hidden)
    for idx, x, lengths in _batches(seqs, batch_size):
        states = model.hidden_states(x.to(device)).float().cpu()  # (B, T, H)
        mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).float()  # (B, T): 1 up to each true end
        out[idx] = (states * mask[..., None]).sum(1) / lengths[:, None]
    return out.numpy()


def _batches(seqs: list[torch.Tensor], batch_size: int):
    """(indices, ids (B, T) padded with 0 after each end, lengths (B,)) over the sequences sorted by length."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield idx, pad_sequence([seqs[i] for i in idx], batch_first=True), torch.tensor([len(seqs[i]) for i in idx])


# the model --------------------------------------------------------------------------------------------------
def load_trained(path: str) -> tuple[CharRNN, Vocab, dict]:
    """The model, vocabulary and validation bits per character of an earlier char-rnn or sentiment-unit run."""
    from dlf.runner import load_run_config
    from dlf.sampling import run_experiment

    folder = Path(path).expanduser()
    name = run_experiment(folder)
    if name not in ("char-rnn", "sentiment-unit"):
        raise DlfError(f"--from-run {folder} is a '{name}' run; give the folder of a char-rnn or sentiment-unit run")
    cfg = load_run_config(name, folder)
    model, vocab = char_rnn.load_model(folder, cfg)
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    return model, vocab, {"val_bpc": summary.get("val_bpc", summary.get("val_bits_per_char")),
                          "train_bpc": summary.get("train_bpc", summary.get("train_bits_per_char")),
                          "steps": summary.get("steps"), "parameters": sum(p.numel() for p in model.parameters()),
                          "encoding": getattr(cfg, "encoding", "chars")}


def cpu_jobs(cfg: Config, most: int) -> int:
    """--jobs, or one thread per CPU core this process may use, at most `most` (the fits that can run at once)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cfg.jobs or max(1, min(most, cores))


# the experiment ---------------------------------------------------------------------------------------------
def run(cfg: Config, run) -> dict:
    reviews_path, folder = find_reviews(cfg.reviews, run.data_dir)
    reviews, review_labels, ids = read_reviews(reviews_path)
    sentences, labels = load_polarity(folder, cfg.max_sentences)
    if min(labels.sum(), len(labels) - labels.sum()) < cfg.folds:
        raise DataError(f"{folder}: {labels.sum()} positive and {len(labels) - labels.sum()} negative MR "
                        f"sentences, too few for --folds {cfg.folds}; give more sentences or fewer folds")
    splits = [split_of(i) for i in ids]
    imdb = imdb_sets(cfg, review_labels, splits)  # checked before any training
    read = [i for i, split in enumerate(splits) if split != "test"]  # the network never reads IMDB's test reviews
    model, vocab, trained = load_trained(cfg.from_run) if cfg.from_run else (None, None, {})
    encoding = trained.get("encoding", cfg.encoding)
    text, order = training_text([symbols(reviews[i], encoding) for i in read])
    if model is None:
        fixed = Vocab(list(BYTE_SYMBOLS)) if encoding == "bytes" else None
        model, vocab, trained = char_rnn.train_model(cfg, run, text, fixed)
        char_rnn.plot_curves(run)
    device = pick_device(cfg.device)

    start = time.perf_counter()
    features, unknown = read_features(cfg, model, vocab, encoding, sentences, device)
    run.timing["features_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    readout = _probe.cross_validate(features, labels, sentences, cfg.folds, cfg.seed, cfg.l1_C,
                                    cpu_jobs(cfg, cfg.folds), run.quiet)
    run.timing["readout_s"] = round(time.perf_counter() - start, 3)

    summary = {
        "sentences": len(sentences), "sentences_positive": int(labels.sum()), "reviews_read": len(read),
        "review_chars": len(text), "encoding": encoding, "vocab_size": len(vocab), "mr_unknown_chars": unknown,
        "hidden": model.hidden, "cell": model.cell, "parameters": trained.get("parameters"),
        "steps": trained.get("steps"), "val_bits_per_char": trained.get("val_bpc"),
        "train_bits_per_char": trained.get("train_bpc"), "folds": cfg.folds, "pool": cfg.pool, **readout,
    }
    summary |= imdb_readout(cfg, run, model, vocab, encoding, device, reviews, review_labels, imdb)
    _, val_text = char_rnn.split(text)
    held_out = held_out_reviews([reviews[i] for i in read], [review_labels[i] for i in read], order,
                                len(text) - len(val_text), encoding)
    make_plots(run, model, vocab, device, encoding, features, labels, sentences, held_out, summary)
    if cfg.analyze_chars:  # char-rnn's search for units that track quotes, line position, ... (on the CPU)
        from dlf.experiments import _char_units

        summary.update(_char_units.analyze(model.cpu(), vocab, val_text[:cfg.analyze_chars], run, cfg.seed))
    return summary


def imdb_sets(cfg: Config, labels: list[str], splits: list[str]) -> tuple[list[int], list[int]] | None:
    """The indices of the labelled IMDB train and test reviews the read-out uses (None if the reviews have no
    train/ and test/ ids); a one-line DataError unless each holds both labels."""
    train, test = (labelled(splits, labels, split, cfg.imdb_reviews) for split in ("train", "test"))
    if not train and not test:
        return None
    for split, idx in (("train", train), ("test", test)):
        if len({labels[i] for i in idx}) < 2:
            raise DataError(f"--reviews {cfg.reviews}: its {split}/ reviews do not hold both labels pos and neg; "
                            f"give IMDB's reviews.jsonl whole, or a larger --imdb-reviews")
    return train, test


def imdb_readout(cfg: Config, run, model, vocab, encoding, device, reviews, labels,
                 sets: tuple[list[int], list[int]] | None) -> dict:
    """IMDB's read-outs: fitted on the labelled train reviews' states, scored on the test reviews' ({} without
    IMDB's reviews). Bag of words on the same reviews: the floor, in the same run."""
    if sets is None:
        return {}
    train, test = sets
    start = time.perf_counter()
    x_train, unknown_train = read_features(cfg, model, vocab, encoding, [reviews[i] for i in train], device, "")
    x_test, unknown_test = read_features(cfg, model, vocab, encoding, [reviews[i] for i in test], device, "")
    run.timing["imdb_features_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    y_train, y_test = (np.array([labels[i] == "pos" for i in idx], dtype=np.int64) for idx in (train, test))
    fits = len(_probe.L1_GRID) * _probe.INNER_FOLDS  # the fits that choose C, run at once
    out = _probe.train_test(x_train, y_train, x_test, y_test, [reviews[i] for i in train],
                            [reviews[i] for i in test], cfg.seed, cfg.l1_C, cpu_jobs(cfg, fits))
    run.timing["imdb_readout_s"] = round(time.perf_counter() - start, 3)
    return {"imdb_train_reviews": len(train), "imdb_test_reviews": len(test),
            "imdb_unknown_chars": unknown_train + unknown_test, **out}


def held_out_reviews(reviews: list[str], labels: list[str], order: np.ndarray, cut: int,
                     encoding: str = "chars") -> list[tuple[str, str]]:
    """(text, label) of the reviews wholly inside the validation part of the training text (never trained on);
    `cut` counts symbols as the network reads them (characters or bytes)."""
    sizes = [len(symbols(reviews[i], encoding)) + 1 for i in order[:-1]]  # +1: the "\n" joining them
    starts = np.cumsum([0] + sizes)
    return [(reviews[i], labels[i]) for i, s in zip(order, starts) if s >= cut]


# plots ------------------------------------------------------------------------------------------------------
@torch.no_grad()
def unit_trace(model: CharRNN, vocab: Vocab, device, text: str, unit: int, encoding: str = "chars") -> np.ndarray:
    """The unit's value after each character of `text` (read after PREFIX, from a zero state): (len(text),).

    Bytes: the value after each character's last byte."""
    ids, _ = encode_known(vocab, symbols(PREFIX + text, encoding))
    values = model.hidden_states(ids[None].to(device))[0, :, unit].float().cpu().numpy()  # (symbols,)
    if encoding == "bytes":
        values = values[np.cumsum([len(ch.encode("utf-8")) for ch in PREFIX + text]) - 1]  # (characters,)
    return values[len(PREFIX):]


def make_plots(run, model, vocab, device, encoding, features, labels, sentences, held_out, summary,
               shown: int = 4) -> None:
    """Histogram of the best unit by label, the unit over a few MR sentences and over held-out reviews."""
    unit, sign = summary["best_unit"], summary["best_unit_sign"] or 1.0
    name = f"unit {unit}" if sign > 0 else f"-(unit {unit})"
    final = features[:, unit] * sign  # (N,): oriented so that up means positive
    threshold = float(final[labels == 1].mean() + final[labels == 0].mean()) / 2
    chosen = f"chosen in {summary['best_unit_folds']}/{summary['folds']} folds"
    title = f"{name} on MR: {summary['mr_cv_acc_best_unit']:.1%} CV accuracy alone ({chosen})"
    _sentiment_plots.histogram(run, final, labels, threshold, name, title)

    def pick(wanted: int) -> list[int]:  # the first few sentences of one label, of middling length if there are
        ok = [i for i in range(len(sentences)) if labels[i] == wanted and 50 <= len(sentences[i]) <= 140]
        return (ok or [i for i in range(len(sentences)) if labels[i] == wanted])[:shown]

    items = [("+" if labels[i] else "-", sentences[i],
              sign * unit_trace(model, vocab, device, sentences[i], unit, encoding)) for i in pick(1) + pick(0)]
    _sentiment_plots.text_heatmap(run, items, threshold, f"{name} after each character of MR sentences "
                                                         f"(green: positive side, red: negative side)")
    reviews = [r for r in held_out if r[1] == "pos"][:2] + [r for r in held_out if r[1] == "neg"][:2]
    if reviews:
        items = [(label, text, sign * unit_trace(model, vocab, device, text, unit, encoding))
                 for text, label in reviews]
        _sentiment_plots.traces(run, items, threshold, name, f"{name} along held-out reviews")
        if run.enabled:
            page = "".join(PREFIX + text for _, text, _ in items)
            values = np.concatenate([np.r_[threshold, v] for _, _, v in items]) - threshold
            (run.path / "unit_reviews.html").write_text(
                unit_page(page, values, f"{name} along held-out reviews (minus the midpoint {threshold:+.3f})"),
                encoding="utf-8")


def sample(run_dir: Path, cfg: Config, opts) -> str:
    """`dlf sample RUN_DIR`: review text from the model, as for char-rnn (a byte-level model: --length in bytes)."""
    if cfg.encoding == "bytes":
        return char_rnn.sample(run_dir, cfg, opts, encode=as_bytes, decode=from_bytes, unit="bytes")
    return char_rnn.sample(run_dir, cfg, opts)
