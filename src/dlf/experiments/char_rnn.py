"""Experiment `char-rnn`: a character-level LSTM, GRU or plain RNN (Karpathy 2015) on Tiny Shakespeare or any text.

The model (dlf.models.charrnn) reads one character at a time and predicts the next; the loss is the mean
negative log-likelihood in nats per character (divide by ln 2 for bits per character). Training is truncated
backpropagation through time: the training text is cut into `batch_size` parallel streams, each read in order in
chunks of `seq_len` characters; the recurrent state carries from one chunk to the next (detached, so gradients
stop at the chunk boundary) and starts from zero at the beginning of every epoch. The state lives in buffers of
the task, so a checkpoint holds it and `--resume` continues exactly.

The text is split like nanoGPT's: the first 90% for training, the last 10% for validation. The validation loss
is the mean per-character NLL over non-overlapping chunks of `val_chunk` characters, each read from a zero state.
After training, the run writes a sample, the loss curves and which hidden units track simple properties of the
text (line position, speaker lines, quotes...; see dlf.experiments._char_units).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import torch
import torch.nn.functional as F

from dlf.config import Range, Text, train_bytes
from dlf.data.paths import find_file, locate
from dlf.data.text import read_text
from dlf.errors import ConfigError
from dlf.models.charrnn import CharRNN
from dlf.plotting import figure
from dlf.text.streams import ChunkSource, StreamSource
from dlf.text.vocab import Vocab
from dlf.train import Task, TrainConfig, Trainer, distributed

VAL_KEPT = 1_000_000  # validation characters saved in the run folder for `dlf inspect`
EVAL_POSITIONS = 8192  # characters read at once in validation (a window of every chunk of the batch)


@dataclass
class Config(TrainConfig):
    text: Annotated[str | None, Text()] = None
    """UTF-8 text file to learn from (default: Tiny Shakespeare, tinyshakespeare/input.txt in the data folder)."""
    cell: Literal["lstm", "gru", "rnn"] = "gru"
    """Recurrent cell: lstm, gru or rnn (tanh). GRU learns fastest per second on a CPU."""
    hidden: Annotated[int, Range(1, 16_384)] = 512
    """Units in each recurrent layer."""
    layers: Annotated[int, Range(1, 64)] = 1
    """Stacked recurrent layers."""
    embed: Annotated[int, Range(0, 16_384)] = 64
    """Size of the character embedding (0: as wide as --hidden)."""
    dropout: Annotated[float, Range(0, 1, high_open=True)] = 0.0
    """Dropout on the embedding, between layers and before the output layer."""
    seq_len: Annotated[int, Range(1, 100_000)] = 64
    """Characters per training chunk: gradients flow back this far (truncated BPTT); the state carries on."""
    val_chunk: Annotated[int, Range(1, 10_000_000)] = 1024
    """Characters per validation chunk, each read from a zero state (the loss averages every position)."""
    analyze_chars: Annotated[int, Range(0, 100_000_000)] = 20000
    """Validation characters read to find the units that track simple properties (0: skip the analysis)."""
    epochs: float = 4.0
    """Passes over the training text (with --time-limit, set it large: the clock ends the run)."""
    batch_size: int = 128
    """Parallel streams of text, one chunk of each per step (split evenly over processes under torchrun)."""
    optimizer: Literal["adamw", "adam", "sgd"] = "adam"
    """Optimizer: adamw, adam, or sgd with momentum."""
    lr: float = 3e-3
    """Peak learning rate."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this value if > 0."""
    eval_every: int = 100
    """Evaluate on the validation text every N steps (0: once per epoch)."""


    reads_data: ClassVar[bool] = True

    def memory_bytes(self) -> tuple[float, str]:
        """Gate weights (4 lstm, 3 gru, 1 rnn) per layer for up to 256 characters, and every gate of --seq-len
        steps of a batch kept for backward (the validation chunks are read without gradients)."""
        gates, h, e = {"lstm": 4, "gru": 3, "rnn": 1, "mlstm": 5}[self.cell], self.hidden, self.embed or self.hidden
        params = 256 * e + gates * self.layers * (2 * h * h + e * h) + 257 * h
        acts = max(self.batch_size * self.seq_len, self.val_chunk) * (self.layers * gates * h * 2 + 256)
        return train_bytes(params, acts), "--hidden, --layers, --embed, --batch-size or --seq-len"


# text -------------------------------------------------------------------------------------------------------
def load_text(cfg: Config, data_dir=None) -> str:
    """The --text file, or Tiny Shakespeare from the data folder."""
    if cfg.text:
        return read_text(cfg.text, "--text")
    path = find_file(locate("tinyshakespeare", ["input.txt"], data_dir), "input.txt")
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return read_text(path, "tinyshakespeare")


def split(text: str) -> tuple[str, str]:
    """First 90% for training, last 10% for validation (as nanoGPT's shakespeare_char does)."""
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


# the task ---------------------------------------------------------------------------------------------------
class CharTask(Task):
    """Next-character cross-entropy with the recurrent state carried between chunks in buffers `h` (and `c`).

    The buffers hold the state of all `streams` streams; under DDP each process runs its own contiguous slice and
    the slices are gathered after every step, so every process (and rank 0's checkpoint) holds the whole state.
    """

    def __init__(self, model: CharRNN, streams: int):
        super().__init__()
        self.model = model
        shape = (model.layers, streams, model.hidden)
        self.register_buffer("h", torch.zeros(shape))
        self.register_buffer("c", torch.zeros(shape if model.cell in ("lstm", "mlstm") else (0,)))

    unit = "characters"  # the throughput in timing.json: characters predicted per second

    def units(self, batch, batch_size: int) -> int:
        return batch_size * (batch[0].shape[1] - 1)  # B streams x T predicted characters

    def training_step(self, batch) -> dict[str, torch.Tensor]:
        x, fresh = batch  # (b, T + 1) ids, (b,) bool
        rows = slice(distributed.rank() * len(x), (distributed.rank() + 1) * len(x))
        keep = (~fresh).to(self.h.dtype)[None, :, None]  # (1, b, 1): 0 zeroes a stream's state
        state = self.h[:, rows] * keep
        if self.model.cell in ("lstm", "mlstm"):
            state = (state, self.c[:, rows] * keep)
        logits, state = self.model(x[:, :-1], state)  # (b, T, V)
        self._keep_state(state, rows)
        return {"loss": F.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten())}

    @torch.no_grad()
    def validation_step(self, batch) -> dict[str, torch.Tensor]:
        """Mean NLL of every character of the chunks, each read from a zero state.

        The chunks are read EVAL_POSITIONS characters at a time across the batch, the state carried from one
        window to the next: the same loss as reading them whole, but the recurrent layer's intermediate
        activations (3-4 x hidden floats per position) never exist for all of the validation text at once.
        """
        (x,) = batch  # (b, L + 1)
        inputs, targets = x[:, :-1], x[:, 1:]  # (b, L) each
        window = max(1, EVAL_POSITIONS // len(x))
        total, state = torch.zeros((), dtype=torch.float64, device=x.device), None
        for t in range(0, inputs.shape[1], window):
            logits, state = self.model(inputs[:, t:t + window], state)  # (b, w, V)
            total += F.cross_entropy(logits.flatten(0, 1).float(), targets[:, t:t + window].flatten(),
                                     reduction="sum").double()
        loss = (total / targets.numel()).float()
        return {"loss": loss, "bpc": loss / math.log(2)}

    @torch.no_grad()
    def _keep_state(self, state, rows: slice) -> None:
        parts = state if isinstance(state, tuple) else (state,)
        for buf, new in zip((self.h, self.c), parts):
            new = new.detach().to(buf.dtype)  # (layers, b, hidden)
            if distributed.world_size() > 1:
                pieces = [torch.empty_like(new) for _ in range(distributed.world_size())]
                torch.distributed.all_gather(pieces, new.contiguous())
                buf.copy_(torch.cat(pieces, dim=1))
            else:
                buf[:, rows] = new


def build(cfg: Config, vocab_size: int) -> CharTask:
    model = CharRNN(vocab_size, cfg.hidden, cfg.layers, cfg.cell, cfg.embed, cfg.dropout)
    return CharTask(model, cfg.batch_size)


def train_model(cfg: Config, run, text: str, vocab: Vocab | None = None) -> tuple[CharRNN, Vocab, dict]:
    """Train on the first 90% of `text` through the shared Trainer in `run`; evaluate on the last 10%.

    Writes vocab.json and validation.txt into the run folder. Returns the model (on the CPU, in eval mode), the
    vocabulary and the final metrics: val_loss_nats, val_bpc, train_loss_nats, steps, parameters, ...
    `vocab`: a fixed vocabulary holding every character of `text` (default: the characters of `text`).
    """
    vocab = vocab or Vocab.from_text(text)
    train_text, val_text = split(text)
    if len(train_text) - 1 < cfg.batch_size * cfg.seq_len or len(val_text) < 2:
        raise ConfigError(f"the text holds {len(text)} characters: too few for --batch-size {cfg.batch_size} "
                          f"streams of --seq-len {cfg.seq_len} (90%) plus validation (10%); lower them or "
                          f"give a longer --text")
    if run.enabled:
        vocab.save(run.path / "vocab.json")
        (run.path / "validation.txt").write_text(val_text[:VAL_KEPT], encoding="utf-8")
    task = build(cfg, len(vocab))
    train = StreamSource(vocab.encode(train_text), cfg.batch_size, cfg.seq_len)
    val = ChunkSource(vocab.encode(val_text), cfg.val_chunk)
    trainer = Trainer(cfg, run, task, train, val)
    result = trainer.fit()
    val_loss = result.val.get("loss", float("nan"))
    metrics = {
        "val_loss_nats": val_loss,
        "val_bpc": val_loss / math.log(2),
        "train_loss_nats": result.train.get("loss"),
        "train_bpc": result.train.get("loss", float("nan")) / math.log(2),
        "steps": result.step,
        "epochs_done": result.step / trainer.steps_per_epoch,
        "train_chars_seen": result.step * cfg.batch_size * cfg.seq_len,
        "parameters": sum(p.numel() for p in task.model.parameters()),
        "vocab_size": len(vocab),
        "train_chars": len(train_text),
        "val_chars_scored": len(val) * val.length,
    }
    return task.model.cpu().eval(), vocab, metrics


# the experiment ---------------------------------------------------------------------------------------------
def run(cfg: Config, run) -> dict:
    from dlf.experiments import _char_units

    text = load_text(cfg, run.data_dir)
    model, vocab, summary = train_model(cfg, run, text)
    _, val_text = split(text)
    sample_text = generate(model, vocab, default_prime(vocab), 500, 0.8, 0, cfg.seed)
    if run.enabled:
        (run.path / "sample.txt").write_text(sample_text, encoding="utf-8")
    plot_curves(run)
    if cfg.analyze_chars:
        summary.update(_char_units.analyze(model, vocab, val_text[:cfg.analyze_chars], run, cfg.seed))
    return summary


def plot_curves(run) -> None:
    """Train and validation loss against the step, in nats per character (bits per character on the right)."""
    rows = run.read_metrics()
    fig, axes = figure(size=(6, 3.8))
    ax = axes[0][0]
    for key, style, label in (("train_loss", "-", "train"), ("val_loss", "o-", "validation")):
        pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), style, ms=3, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    right = ax.secondary_yaxis("right", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2)))
    right.set_ylabel("bits per character")
    ax.legend()
    run.save_figure(fig, "curves")


# sampling and looking inside a finished run -----------------------------------------------------------------
def default_prime(vocab: Vocab) -> str:
    return "\n" if "\n" in vocab.chars else vocab.chars[0]


def generate(model: CharRNN, vocab: Vocab, prime: str, length: int, temperature: float, top_k: int,
             seed: int) -> str:
    """`prime` followed by `length` sampled characters; the same seed gives the same text."""
    ids = model.generate(vocab.encode(prime), length, temperature, top_k, torch.Generator().manual_seed(seed))
    return prime + vocab.decode(ids)


def load_model(run_dir: Path, cfg: Config) -> tuple[CharRNN, Vocab]:
    """The trained model of a run folder (latest checkpoint, CPU, eval mode) and its vocabulary."""
    from dlf.sampling import load_weights, run_experiment

    vocab = Vocab.load(Path(run_dir) / "vocab.json")
    task = build(cfg, len(vocab))
    load_weights(run_dir, task, run_experiment(run_dir))
    return task.model.eval(), vocab


def sample(run_dir: Path, cfg: Config, opts, encode: Callable[[str], str] = str, decode: Callable[[str], str] = str,
           unit: str = "characters") -> str:
    """`dlf sample RUN_DIR --prime TEXT --length N --temperature T --top-k K --seed S`.

    `encode` turns text into the symbols the model reads and `decode` turns sampled symbols back (a byte-level
    model: dlf.data.sentiment.as_bytes and from_bytes); --length counts `unit`."""
    from dlf.sampling import output_path

    model, vocab = load_model(run_dir, cfg)
    prime = default_prime(vocab) if opts.prime is None else opts.prime
    if not prime:
        raise ConfigError("--prime is empty; give at least one character, e.g. --prime 'ROMEO:'")
    symbols = encode(prime)
    unknown = vocab.missing(symbols)
    if unknown:
        raise ConfigError(f"--prime holds {unknown[0]!r}, which is not among the {len(vocab)} characters this "
                          f"model was trained on; use characters of its training text")
    length = 500 if opts.length is None else opts.length
    temperature = 0.8 if opts.temperature is None else opts.temperature
    top_k = 0 if opts.top_k is None else opts.top_k
    path = output_path(run_dir, opts.out, "sample.txt", ".txt")
    text = prime + decode(generate(model, vocab, symbols, length, temperature, top_k, opts.seed)[len(symbols):])
    path.write_text(text, encoding="utf-8")
    if opts.out:
        return f"{length} {unit} after a {len(prime)}-character prime written to {path}"
    return text
