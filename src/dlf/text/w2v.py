"""word2vec: skip-gram and CBOW with negative sampling, trained by SGD kernels that numba compiles.

Mikolov et al. 2013, "Efficient Estimation of Word Representations in Vector Space" (the two models) and
"Distributed Representations of Words and Phrases and their Compositionality" (negative sampling, subsampling).
The recipe follows the released C code (word2vec.c), which gensim follows too.

Two matrices are learned: `syn0` (V, D), the input vectors (these are the word vectors), and `syn1neg` (V, D), the
output vectors. One training example is an input vector h and a target word w; negative sampling maximises

    log sigma(h . u_w) + sum_{i=1..k} log sigma(-h . u_{n_i}),   n_i ~ P_n(w) = c(w)^0.75 / Z

so the loss is minus that. Its gradient with respect to the score h . u for label l (1 for w, 0 for a noise word) is
sigma(h . u) - l, so an SGD step with learning rate alpha moves u += g h and h += g u with g = alpha (l - sigma(h . u)).

- skip-gram: each (centre, context) pair inside the window is one example, with h = syn0[context] and w = centre
  (the C code's order; predicting the context from the centre is the same set of pairs).
- CBOW: one example per centre word, h = the mean of syn0 over the context words; every context vector then moves
  by the whole step for h (as in the C code).

Noise words are drawn in constant time from an alias table of P_n (dlf.text.vocab.noise_alias_table). The window is
dynamic: for each centre word its radius is drawn uniformly from 1..window, so near words count more. Frequent words
are subsampled (dlf.text.vocab.keep_probabilities) afresh at each pass. The learning rate falls linearly from lr to
lr * 1e-4 over all the words of all epochs. A chunk of ~10,000 words is the unit of work (the C code's and gensim's
sentence length); `threads` Python threads run the compiled kernel on chunks at the same time, sharing syn0 and
syn1neg without locks ("Hogwild"), as the C code and gensim do. With one thread, training is exactly reproducible
from the seed; with more, the order of the updates varies a little from run to run."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from dlf.text.vocab import Vocab, keep_probabilities, noise_alias_table

CHUNK_WORDS = 10_000  # words per unit of work (gensim's and the C code's maximum sentence length)
MIN_LR_FRACTION = 1e-4  # the learning rate decays to lr * this (the C code's floor)

# sigma(x) and log sigma(x) tabulated on (-MAX_EXP, MAX_EXP) at bin centres, as the C code does, because a table
# look-up is cheaper than exp() in the innermost loop. Outside the range sigma is taken as 0 or 1.
MAX_EXP = 6.0
TABLE_SIZE = 1000
_TABLE_X = ((np.arange(TABLE_SIZE) + 0.5) / TABLE_SIZE * 2 - 1) * MAX_EXP
SIGMOID_TABLE = (1 / (1 + np.exp(-_TABLE_X))).astype(np.float32)
LOG_SIGMOID_TABLE = (-np.log1p(np.exp(-_TABLE_X))).astype(np.float32)
TABLE_SCALE = TABLE_SIZE / (2 * MAX_EXP)

F0, F1 = np.float32(0.0), np.float32(1.0)


# --- small compiled helpers ---------------------------------------------------------------------------------------
@njit(inline="always")
def next_random(r):
    """The C code's linear congruential generator on a uint64 state (fast, and the same on every machine)."""
    return r * np.uint64(25214903917) + np.uint64(11)


@njit(inline="always")
def random_below(r, n):
    """An integer in [0, n) from the state's high 32 bits (the low bits of an LCG are poor), by a multiply and a
    shift instead of a division: floor(x n / 2^32) for x uniform below 2^32."""
    return np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(inline="always")
def sigmoid(x):
    if x >= MAX_EXP:
        return F1
    if x <= -MAX_EXP:
        return F0
    return SIGMOID_TABLE[int((x + MAX_EXP) * TABLE_SCALE)]


@njit(inline="always")
def log_sigmoid(x):
    if x >= MAX_EXP:
        return F0
    if x <= -MAX_EXP:
        return x
    return LOG_SIGMOID_TABLE[int((x + MAX_EXP) * TABLE_SCALE)]


@njit(inline="always")
def add_to_row(a, x, m, row):
    """m[row] += a * x, in place (2-D indexing: a view m[row] would cost an atomic reference count per use, which
    two threads contend for)."""
    for k in range(x.shape[0]):
        m[row, k] += a * x[k]


@njit(nogil=True, cache=True)
def draw_noise(noise, r):
    """A word drawn from P_n through the alias table `noise` (dlf.text.vocab.noise_alias_table): bucket i uniform
    in [0, V), then word i if a uniform 32-bit integer is below its threshold, else its alias. Returns (w, state)."""
    r = next_random(r)
    i = random_below(r, noise.shape[0])
    r = next_random(r)
    if (r >> np.uint64(32)) < noise[i, 0]:
        return i, r
    return np.int64(noise[i, 1]), r


@njit(nogil=True, cache=True)
def subsample(ids, keep, r):
    """The words of `ids` that survive subsampling (word w is kept with probability keep[w]), and the new state."""
    kept = np.empty_like(ids)
    n = 0
    for w in ids:
        r = next_random(r)
        if keep[w] * 16777216.0 > random_below(r, 16777216):  # keep[w] > uniform(0, 1), with 24 random bits
            kept[n] = w
            n += 1
    return kept[:n], r


# --- the kernels --------------------------------------------------------------------------------------------------
@njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def negative_sampling_step(src, row, target, syn1neg, grad_h, noise, negative, alpha, r):
    """One example: push sigma(h . u_target) towards 1 and sigma(h . u_n) towards 0 for `negative` noise words.

    The input vector h (D,) is src[row]: a row of syn0 itself for skip-gram (no copy; it does not move until the
    caller applies the step), the context mean for CBOW. Moves the output vectors (rows of syn1neg) in place and sets
    grad_h (D,) to the step for h, which the caller applies after all k + 1 targets, as the C code does. Returns the
    example's loss and the new random state.
    """
    dim = grad_h.shape[0]
    for k in range(dim):
        grad_h[k] = 0
    loss = F0
    for d in range(negative + 1):
        if d == 0:
            w, label = np.int64(target), F1
        else:
            w, r = draw_noise(noise, r)
            if w == target:
                continue
            label = F0
        score = F0
        for k in range(dim):
            score += src[row, k] * syn1neg[w, k]  # h . u_w
        g = (label - sigmoid(score)) * alpha
        for k in range(dim):
            grad_h[k] += g * syn1neg[w, k]  # the step for h uses u_w before u_w moves
            syn1neg[w, k] += g * src[row, k]
        loss -= log_sigmoid(score if d == 0 else -score)
    return loss, r


@njit(nogil=True, fastmath=True, error_model="numpy", cache=True)
def train_chunk(ids, syn0, syn1neg, keep, noise, cbow, window, negative, alpha, seed):
    """SGD over one chunk of word ids (skip-gram, or CBOW if `cbow`); returns (summed loss, examples, words kept)."""
    words, r = subsample(ids, keep, np.uint64(seed))
    dim = syn0.shape[1]
    h = np.empty((1, dim), np.float32)  # CBOW's input vector: the mean of the context vectors
    grad_h = np.empty(dim, np.float32)  # the SGD step for h
    loss, examples = 0.0, 0
    for i in range(len(words)):
        r = next_random(r)
        radius = window - random_below(r, window)  # the dynamic window: uniform in 1..window
        lo, hi = max(0, i - radius), min(len(words), i + radius + 1)
        if cbow:  # one example: the mean of the context vectors predicts the centre word
            if hi - lo <= 1:
                continue
            scale = F1 / (hi - lo - 1)
            for k in range(dim):
                h[0, k] = 0
            for j in range(lo, hi):
                if j != i:
                    for k in range(dim):
                        h[0, k] += scale * syn0[words[j], k]
            step_loss, r = negative_sampling_step(h, 0, words[i], syn1neg, grad_h, noise, negative, alpha, r)
            for j in range(lo, hi):
                if j != i:
                    add_to_row(F1, grad_h, syn0, words[j])
            loss += step_loss
            examples += 1
        else:  # one example per context word: its vector predicts the centre word
            for j in range(lo, hi):
                if j != i:
                    step_loss, r = negative_sampling_step(syn0, words[j], words[i], syn1neg, grad_h, noise,
                                                          negative, alpha, r)
                    add_to_row(F1, grad_h, syn0, words[j])
                    loss += step_loss
                    examples += 1
    return loss, examples, len(words)


# --- the driver ---------------------------------------------------------------------------------------------------
@dataclass
class ChunkResult:
    """What one chunk reports back: for progress bars, loss curves and words per second."""

    epoch: int
    words_done: int  # corpus words (in the vocabulary) processed so far, this chunk included
    words: int  # words in this chunk
    loss: float  # summed negative-sampling loss
    examples: int
    lr: float


class Word2Vec:
    """The two matrices and the two distributions; `train` runs the SGD over a corpus of word ids."""

    def __init__(self, vocab: Vocab, dim: int = 100, cbow: bool = False, window: int = 5, negative: int = 5,
                 sample: float = 1e-3, seed: int = 0):
        self.vocab, self.cbow, self.window, self.negative, self.seed = vocab, cbow, window, negative, seed
        rng = np.random.default_rng(seed)
        # The C code's initialisation: input vectors uniform in (-0.5/D, 0.5/D), output vectors zero.
        self.syn0 = ((rng.random((len(vocab), dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)  # (V, D)
        self.syn1neg = np.zeros((len(vocab), dim), np.float32)  # (V, D)
        self.keep = keep_probabilities(vocab.counts, sample)  # (V,) float64
        self.noise = noise_alias_table(vocab.counts)  # (V, 2) uint32

    def compile(self, dtype=np.int32) -> None:
        """Compile the kernel for word ids of `dtype` now (or load it from numba's cache, about a second), so that
        timings leave it out."""
        train_chunk(np.zeros(0, dtype), self.syn0, self.syn1neg, self.keep, self.noise, self.cbow, self.window,
                    self.negative, np.float32(0.0), np.uint64(0))

    def train(self, ids: np.ndarray, epochs: int, lr: float, threads: int = 1) -> Iterator[ChunkResult]:
        """Run `epochs` passes over `ids` (uint16 or int32 word ids); yield one ChunkResult per chunk, in order."""
        starts = range(0, len(ids), CHUNK_WORDS)
        total = len(ids) * epochs

        def job(t: int) -> ChunkResult:
            epoch, start = divmod(t, len(starts))
            start = starts[start]
            chunk = ids[start:start + CHUNK_WORDS]
            done = epoch * len(ids) + start  # words before this chunk: the learning rate is a function of the chunk
            alpha = np.float32(lr * max(1 - done / total, MIN_LR_FRACTION))
            seed = (self.seed * 1_000_003 + t) * 2654435761 % 2**64  # a different random stream for every chunk
            loss, examples, _ = train_chunk(chunk, self.syn0, self.syn1neg, self.keep, self.noise, self.cbow,
                                            self.window, self.negative, alpha, np.uint64(seed))
            return ChunkResult(epoch, done + len(chunk), len(chunk), loss, examples, float(alpha))

        pending: deque = deque()
        with ThreadPoolExecutor(threads) as pool:
            try:
                for t in range(len(starts) * epochs):
                    pending.append(pool.submit(job, t))
                    if len(pending) > 2 * threads:  # keep every thread busy, but do not queue the whole corpus
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

