"""Experiment `word2vec`: unsupervised word vectors, learned by predicting the words around each word.

Skip-gram or CBOW with negative sampling (Mikolov et al. 2013) on a corpus of space-separated words, by default text8
(17 M words of Wikipedia, `dlf data download text8`), or any file given with --corpus. The maths and the SGD kernel
are in dlf.text.w2v, the vocabulary and the two word distributions in dlf.text.vocab, the scores in
dlf.text.evaluate. word2vec is shallow and has its own SGD
kernel (compiled by numba, run by `--threads` threads at once), so it does not use the deep-model Trainer.

The run folder gets vectors.safetensors + vocab.json (read back by `dlf neighbors` and `dlf analogy`), vectors.txt in
the word2vec text format (gensim: `KeyedVectors.load_word2vec_format`), the loss curve (loss.png) and a 2-D PCA
projection of chosen words (projection.png). summary.json holds the analogy accuracies (semantic, syntactic, total)
and the WordSim-353 Spearman correlation. With --threads 1 it is exactly reproducible from the seed; with more threads
the updates interleave differently from run to run (Hogwild), so the figures vary slightly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from tqdm.auto import tqdm

from dlf.config import BaseConfig, Range, Text
from dlf.data.paths import find_file, locate
from dlf.errors import DataError, DlfError
from dlf.plotting import figure
from dlf.text.evaluate import (
    ANALOGY_FILE,
    WORDSIM_FILE,
    evaluate_analogies,
    evaluate_similarity,
    read_analogies,
    read_word_pairs,
)
from dlf.text.vectors import WordVectors
from dlf.text.vocab import read_corpus
from dlf.text.w2v import Word2Vec

# Countries and their capitals, in pairs: in Mikolov et al.'s figure the country -> capital arrows run parallel.
PLOT_WORDS = ("france", "paris", "germany", "berlin", "italy", "rome", "spain", "madrid", "russia", "moscow",
              "japan", "tokyo", "china", "beijing", "egypt", "cairo", "greece", "athens", "england", "london")


@dataclass
class Config(BaseConfig):
    corpus: Annotated[str | None, Text()] = None
    """Text file of words separated by spaces; None: text8 in the data folder (dlf data download text8)."""
    model: Literal["skipgram", "cbow"] = "skipgram"
    """skipgram: each word's vector predicts the words around it; cbow: the mean of the context predicts the word."""
    dim: Annotated[int, Range(1, 10_000)] = 100
    """Length of each word vector."""
    window: Annotated[int, Range(1, 1000)] = 5
    """Largest distance between a word and its context words; each word draws its own radius from 1..window."""
    negative: Annotated[int, Range(1, 1000)] = 5
    """Noise words drawn from the unigram^0.75 distribution for each positive example."""
    min_count: Annotated[int, Range(1, 10**9)] = 5
    """Drop words seen fewer times than this."""
    sample: Annotated[float, Range(0, 1, high_open=True)] = 1e-3
    """Subsampling threshold t: a word of frequency f is kept with probability (sqrt(f/t) + 1) t/f (0: keep all)."""
    epochs: Annotated[int, Range(1, 10_000)] = 5
    """Passes over the corpus."""
    lr: Annotated[float | None, Range(0, 10, low_open=True)] = None
    """Initial learning rate, falling linearly to lr * 1e-4; None: 0.025 for skipgram, 0.05 for cbow."""
    threads: Annotated[int, Range(1, 1024)] = 2
    """Threads updating the shared vectors at once (Hogwild); 1 makes the run exactly reproducible."""
    max_words: Annotated[int, Range(0, 10**12)] = 0
    """Read only the first N words of the corpus (0: all of it), for quick runs."""
    restrict_vocab: Annotated[int, Range(1, 10**8)] = 30000
    """Analogy answers and questions come from this many most frequent words (the usual protocol)."""
    evaluate: bool = True
    """Score the vectors on the analogy and WordSim-353 sets (eval/ in the data folder)."""
    export_text: bool = True
    """Also write vectors.txt in the word2vec text format, which gensim can load."""
    plot_words: Annotated[tuple[str, ...], Text(100)] = PLOT_WORDS
    """Words to draw in the 2-D PCA projection; consecutive pairs are joined by a line."""
    log_every: Annotated[int, Range(1, 10**12)] = 1_000_000
    """Log the loss and words/s to metrics.jsonl every this many words."""

    @property
    def learning_rate(self) -> float:
        """The lr option, or the C code's default for the model."""
        if self.lr is not None:
            return self.lr
        return 0.025 if self.model == "skipgram" else 0.05

    reads_data: ClassVar[bool] = True


def run(cfg: Config, run) -> dict:
    corpus = corpus_path(cfg, run.data_dir)
    eval_dir = eval_folder(run.data_dir) if cfg.evaluate else None  # a missing eval set fails before training
    start = time.perf_counter()
    vocab, ids = read_corpus(corpus, cfg.min_count, cfg.max_words)
    run.timing["read_s"] = round(time.perf_counter() - start, 3)
    model = Word2Vec(vocab, cfg.dim, cfg.model == "cbow", cfg.window, cfg.negative, cfg.sample, cfg.seed)
    final_loss = train(cfg, run, model, ids)
    wv = WordVectors(vocab.words, model.syn0, vocab.counts)
    wv.save(run.path)
    if cfg.export_text:
        wv.save_word2vec_text(run.path / "vectors.txt")
    summary = {"vocab_size": len(vocab), "corpus_words": vocab.corpus_words, "train_words": vocab.train_words,
               "words_trained": vocab.train_words * cfg.epochs, "final_loss": final_loss}
    if eval_dir is not None:
        start = time.perf_counter()
        summary.update(scores(wv, eval_dir, cfg.restrict_vocab))
        run.timing["eval_s"] = round(time.perf_counter() - start, 3)
    plot_loss(run)
    plot_projection(run, wv, cfg.plot_words)
    return summary


def corpus_path(cfg: Config, data_dir) -> Path:
    """--corpus, or text8/text8 (or .gz) found through the data lookup."""
    if cfg.corpus:
        path = Path(cfg.corpus).expanduser()
        if not path.is_file():
            raise DataError(f"--corpus {path}: no such file; give the path of a text file of space-separated words")
        return path
    return find_file(locate("text8", ["text8"], data_dir), "text8")


def eval_folder(data_dir) -> Path:
    try:
        return locate("eval", [ANALOGY_FILE, WORDSIM_FILE], data_dir)
    except DataError as exc:
        raise DataError(f"{exc}; or pass --no-evaluate to skip the scores") from None


def train(cfg: Config, run, model: Word2Vec, ids: np.ndarray) -> float:
    """Run the SGD with a progress bar; log the mean loss per example and words/s every --log-every words."""
    total = len(ids) * cfg.epochs
    bar = tqdm(total=total, unit="word", unit_scale=True, desc=cfg.model, disable=True if run.quiet else None)
    loss_sum, examples, next_log, loss = 0.0, 0, cfg.log_every, float("nan")
    model.compile(ids.dtype)
    start = time.perf_counter()
    for res in model.train(ids, cfg.epochs, cfg.learning_rate, cfg.threads):
        bar.update(res.words)
        if not math.isfinite(res.loss):  # SGD blew up; stop before a plot or the PCA meets NaN vectors
            bar.close()
            raise DlfError(f"training diverged at word {res.words_done:,} of {total:,} (epoch {res.epoch + 1}): "
                           f"the loss is {res.loss}; lower --lr (it was {cfg.learning_rate:g})")
        loss_sum, examples = loss_sum + res.loss, examples + res.examples
        if res.words_done >= next_log or res.words_done == total:
            loss = loss_sum / max(examples, 1)
            rate = res.words_done / (time.perf_counter() - start)
            run.log(res.words_done, epoch=res.epoch + 1, loss=loss, lr=res.lr, words_per_s=round(rate))
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{res.lr:.4f}")
            loss_sum, examples, next_log = 0.0, 0, res.words_done + cfg.log_every
    bar.close()
    if not np.isfinite(model.syn0).all():
        raise DlfError(f"training diverged: the word vectors hold NaN or inf after {total:,} words; "
                       f"lower --lr (it was {cfg.learning_rate:g})")
    seconds = time.perf_counter() - start
    run.timing.update(train_s=round(seconds, 3), words_per_s=round(total / max(seconds, 1e-9)))
    run.count("words", total, seconds)
    return loss


def scores(wv: WordVectors, eval_dir: Path, restrict_vocab: int) -> dict:
    """The analogy accuracies (3CosAdd, restricted vocabulary) and the WordSim-353 Spearman correlation."""
    analogies = evaluate_analogies(wv, read_analogies(eval_dir / ANALOGY_FILE), restrict_vocab)
    rho, pairs, oov = evaluate_similarity(wv, read_word_pairs(eval_dir / WORDSIM_FILE))
    return {"analogy_semantic": analogies.accuracy(False), "analogy_syntactic": analogies.accuracy(True),
            "analogy_total": analogies.accuracy(), "analogy_semantic_questions": analogies.asked(False),
            "analogy_syntactic_questions": analogies.asked(True), "analogy_skipped": analogies.skipped,
            "wordsim_spearman": rho, "wordsim_pairs": pairs, "wordsim_oov": oov}


def plot_loss(run) -> None:
    """The mean negative-sampling loss and the learning rate against the words processed.

    The loss of each logged stretch depends on which part of the corpus it covers (the sources differ in how
    predictable they are), and that pattern repeats every epoch; the mean over each epoch shows the trend."""
    rows = [r for r in run.read_metrics() if r.get("loss") is not None]
    if not rows:
        return
    fig, axes = figure(size=(6.5, 3.6))
    ax = axes[0][0]
    words = [r["step"] for r in rows]
    ax.plot(words, [r["loss"] for r in rows], "o-", ms=2, lw=0.8, alpha=0.6, label="loss (each logged stretch)")
    for epoch in sorted({r["epoch"] for r in rows}):
        part = [r for r in rows if r["epoch"] == epoch]
        mean = sum(r["loss"] for r in part) / len(part)
        ax.plot([part[0]["step"], part[-1]["step"]], [mean, mean], color="tab:red", lw=2,
                label="epoch mean" if epoch == rows[0]["epoch"] else None)
    ax.legend(fontsize=8)
    ax.set_xlabel("words processed")
    ax.set_ylabel("negative-sampling loss per example")
    lr_ax = ax.twinx()
    lr_ax.plot(words, [r["lr"] for r in rows], color="tab:gray", ls="--", label="learning rate")
    lr_ax.set_ylabel("learning rate")
    lr_ax.grid(False)
    ax.set_title("word2vec training")
    run.save_figure(fig, "loss")


def plot_projection(run, wv: WordVectors, words: tuple[str, ...]) -> None:
    """The chosen words' unit vectors projected on their first two principal components; pairs joined by lines."""
    pairs = [words[i:i + 2] for i in range(0, len(words), 2)]
    shown = [w for w in words if w in wv]
    if len(shown) < 2:
        return
    x = wv.unit[[wv.index[w] for w in shown]]  # (n, D)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = dict(zip(shown, x @ vt[:2].T))  # word -> (2,)
    fig, axes = figure(size=(6.5, 5))
    ax = axes[0][0]
    for pair in pairs:
        if len(pair) == 2 and all(w in xy for w in pair):
            ax.plot(*zip(xy[pair[0]], xy[pair[1]]), color="tab:gray", lw=0.8, alpha=0.6)
    for word, (px, py) in xy.items():
        ax.plot(px, py, "o", color="tab:blue", ms=4)
        ax.annotate(word, (px, py), xytext=(3, 3), textcoords="offset points", fontsize=8)
    missing = [w for w in words if w not in wv]
    ax.set_title("PCA of word vectors" + (f"\n(not in the vocabulary: {', '.join(missing[:8])})" if missing else ""),
                 fontsize=10)
    run.save_figure(fig, "projection")


# --- queries on a finished run (dlf neighbors, dlf analogy) -------------------------------------------------------
def neighbors(run_dir, word: str, k: int = 10) -> str:
    """The k words nearest to `word` by cosine similarity, as a printable table."""
    wv = WordVectors.load(run_dir)
    found = wv.words[wv.lookup(word)]
    return _table(f"nearest to '{found}' (cosine similarity)", wv.most_similar([found], topn=k))


def analogy(run_dir, a: str, b: str, c: str, k: int = 5) -> str:
    """a is to b as c is to ?: the k words nearest to b - a + c (3CosAdd), as a printable table."""
    wv = WordVectors.load(run_dir)
    a, b, c = (wv.words[wv.lookup(w)] for w in (a, b, c))
    return _table(f"{a} : {b} :: {c} : ?   (nearest to {b} - {a} + {c})", wv.most_similar([b, c], [a], topn=k))


def _table(title: str, rows: list[tuple[str, float]]) -> str:
    width = max([len(w) for w, _ in rows] + [4])
    return "\n".join([title] + [f"{i:3d}  {w:<{width}}  {s:.3f}" for i, (w, s) in enumerate(rows, 1)])
