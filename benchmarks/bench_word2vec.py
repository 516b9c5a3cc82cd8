"""word2vec: dlf's numba kernels against gensim's Word2Vec (optimised Cython), same corpus, same settings.

Both train skip-gram and/or CBOW with negative sampling on the same text (the data folder's text/corpus.txt, or its
first --words words) with dimension 100, window 5, 5 negatives, min_count 5, sample 1e-3, the same epochs, the same
learning-rate schedule (lr falling linearly to lr * 1e-4; lr 0.025 for skip-gram, 0.05 for CBOW, the C code's
defaults) and 2 threads. gensim reads the corpus as `Text8Corpus` (sentences of 10,000 words, the same chunks as
dlf's). The two run interleaved under the benchmark protocol (benchmarks/_protocol.py): dlf, gensim, dlf, gensim ...
(--pairs, default 3) for each model, each in its own process, with each pair's ratio and the median ratio. Peak RSS
is the whole process's, training and evaluation, as /usr/bin/time reports it; "RSS after training" is the peak
read inside the process right after training (before the evaluation).

words/s counts corpus words times epochs over the training time (vocabulary building, reading and numba's
compilation excluded, for both). CPU s is the process's CPU time during training (both threads, and gensim's
corpus-reading thread): on a shared machine, where wall time depends on what else runs, it is the steadier measure
of the work done.

Both sets of vectors are scored by the same code, dlf.text.evaluate, which gives the same numbers as gensim's
evaluate_word_analogies(restrict_vocab=30000) and evaluate_word_pairs (tests/test_word2vec.py checks this):
3CosAdd analogy accuracy (semantic, syntactic, total) and the WordSim-353 Spearman correlation.

    DLF_DATA_DIR=path/to/data python benchmarks/bench_word2vec.py [--quick] [--epochs 5] [--words 0]

--quick: the first 2M words, 1 epoch (about a minute). The default is the whole corpus (10.3M words), 5 epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from _protocol import Metric, Side, add_arguments, interleave, load, report, save_json

SETTINGS = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-3, threads=2, seed=1)
LR = {"skipgram": 0.025, "cbow": 0.05}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_dlf(corpus: str, model: str, epochs: int) -> tuple[dict, object]:
    from dlf.text.vectors import WordVectors
    from dlf.text.vocab import read_corpus
    from dlf.text.w2v import Word2Vec

    s = SETTINGS
    start = time.perf_counter()
    vocab, ids = read_corpus(corpus, s["min_count"])
    prep = time.perf_counter() - start
    w2v = Word2Vec(vocab, s["dim"], model == "cbow", s["window"], s["negative"], s["sample"], s["seed"])
    w2v.compile(ids.dtype)  # numba compiles (or loads from its cache) on the first call: keep that out of the clock
    start, cpu = time.perf_counter(), time.process_time()
    for _ in w2v.train(ids, epochs, LR[model], s["threads"]):
        pass
    train, cpu = time.perf_counter() - start, time.process_time() - cpu
    stats = {"name": "dlf", "corpus_words": vocab.corpus_words, "vocab": len(vocab), "prep_s": prep,
             "train_s": train, "cpu_s": cpu, "train_peak_rss_mb": peak_mb()}
    return stats, WordVectors(vocab.words, w2v.syn0)


def run_gensim(corpus: str, model: str, epochs: int) -> tuple[dict, object]:
    import gensim
    from gensim.models import Word2Vec
    from gensim.models.word2vec import Text8Corpus

    from dlf.text.vectors import WordVectors

    s = SETTINGS
    sentences = Text8Corpus(corpus, max_sentence_length=10_000)
    w2v = Word2Vec(vector_size=s["dim"], window=s["window"], negative=s["negative"], hs=0,
                   min_count=s["min_count"], sample=s["sample"], sg=int(model == "skipgram"), alpha=LR[model],
                   min_alpha=LR[model] * 1e-4, workers=s["threads"], epochs=epochs, seed=s["seed"],
                   cbow_mean=1, ns_exponent=0.75, shrink_windows=True)  # gensim's defaults, dlf's settings: said aloud
    start = time.perf_counter()
    w2v.build_vocab(sentences)
    prep = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    w2v.train(sentences, total_examples=w2v.corpus_count, epochs=epochs)
    train, cpu = time.perf_counter() - start, time.process_time() - cpu
    stats = {"name": f"gensim {gensim.__version__}", "corpus_words": w2v.corpus_total_words,
             "vocab": len(w2v.wv), "prep_s": prep, "train_s": train, "cpu_s": cpu, "train_peak_rss_mb": peak_mb()}
    return stats, WordVectors(w2v.wv.index_to_key, w2v.wv.vectors)


def one_side(side: str, corpus: str, model: str, epochs: int, eval_dir: Path) -> dict:
    from dlf.text.evaluate import evaluate_analogies, evaluate_similarity, read_analogies, read_word_pairs

    stats, wv = (run_dlf if side == "dlf" else run_gensim)(corpus, model, epochs)
    score = evaluate_analogies(wv, read_analogies(eval_dir / "questions-words.txt"), restrict_vocab=30_000)
    rho, pairs, _ = evaluate_similarity(wv, read_word_pairs(eval_dir / "wordsim353.tsv"))
    stats.update(model=model, words_per_s=stats["corpus_words"] * epochs / stats["train_s"],
                 semantic=score.accuracy(False), syntactic=score.accuracy(True), total=score.accuracy(),
                 questions=score.asked(), wordsim=rho, wordsim_pairs=pairs)
    return stats


def truncated(corpus: Path, words: int, folder: str) -> Path:
    """The first `words` words of the corpus, as a file both sides read."""
    from dlf.text.vocab import word_blocks

    out = Path(folder) / "corpus.txt"
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(" ".join(w for block in word_blocks(corpus, words, "--corpus") for w in block))
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2M words, 1 epoch")
    p.add_argument("--epochs", type=int, help="passes over the corpus (default: 5, --quick: 1)")
    p.add_argument("--words", type=int, help="use the first N words (default: all, --quick: 2,000,000)")
    p.add_argument("--models", default="skipgram,cbow", help="comma-separated: skipgram, cbow")
    p.add_argument("--data-dir", help="data folder with text/ and eval/ "
                   "(default: $DLF_DATA_DIR, then the development data beside the clone)")
    add_arguments(p)
    p.add_argument("--only", nargs=3, metavar=("SIDE", "CORPUS", "MODEL"), help=argparse.SUPPRESS)
    return p


METRICS = [Metric("words_per_s", "words/s", ",.0f", "higher"), Metric("train_s", "train s", ",.1f"),
           Metric("cpu_s", "CPU s", ",.1f"), Metric("total", "analogy total", ".2%", "higher"),
           Metric("semantic", "sem", ".2%", "higher"), Metric("syntactic", "syn", ".2%", "higher"),
           Metric("wordsim", "WS353 Spearman", ".3f", "higher"),
           Metric("train_peak_rss_mb", "RSS after training MiB", ",.0f")]


def main() -> None:
    a = parser().parse_args()
    epochs = a.epochs or (1 if a.quick else 5)
    words = a.words if a.words is not None else (2_000_000 if a.quick else 0)
    from dlf.data.paths import locate

    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    data_dir = a.data_dir or os.environ.get("DLF_DATA_DIR") or (str(default) if default.is_dir() else None)
    eval_dir = locate("eval", ["questions-words.txt", "wordsim353.tsv"], data_dir)
    if a.only:
        side, corpus, model = a.only
        print(json.dumps(one_side(side, corpus, model, epochs, eval_dir)))
        return
    corpus = locate("text", ["corpus.txt"], data_dir) / "corpus.txt"
    before, tables, everything = load(), [], []
    with tempfile.TemporaryDirectory() as tmp:
        if words:
            corpus = truncated(corpus, words, tmp)
        for model in a.models.split(","):
            dlf, gensim = (Side(name, [sys.executable, __file__, "--only", name, str(corpus), model, "--epochs",
                                       str(epochs)] + (["--data-dir", str(data_dir)] if data_dir else []))
                           for name in ("dlf", "gensim"))
            pairs = interleave(dlf, gensim, a.pairs, progress=lambda m: print(
                f"  pair {m.pair} {m.side} {m.result['model']}: {m.result['train_s']:.1f} s, "
                f"{m.result['words_per_s']:,.0f} words/s, analogy {m.result['total']:.2%}, "
                f"peak {m.peak_rss_mb:,.0f} MiB, load {load()}", file=sys.stderr, flush=True))
            r0 = pairs[0][0].result
            note = (f"{r0['model']} on {r0['corpus_words']:,} words x {epochs} epoch(s), vocabulary {r0['vocab']:,}; "
                    f"dim 100, window 5, 5 negatives, min_count 5, sample 1e-3, {SETTINGS['threads']} threads; "
                    f"{r0['questions']:,} analogy questions, {r0['wordsim_pairs']} WordSim pairs; peer: "
                    f"{pairs[0][1].result['name']}")
            tables.append(report(f"word2vec {model}: dlf against gensim", pairs, METRICS, before, note=note))
            everything += pairs
    print("\n\n".join(tables))
    save_json(a.json, "bench_word2vec", everything)


if __name__ == "__main__":
    main()
