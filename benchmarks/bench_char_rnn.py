"""Tiny Shakespeare for the same wall time: dlf's `char-rnn` against a nanoGPT-style character transformer.

The peer is nanoGPT's character-level Shakespeare recipe in its CPU configuration, rebuilt here from its
description (no code copied): token + position embeddings, 4 pre-LayerNorm blocks (4-head causal self-attention
through F.scaled_dot_product_attention, 4x GELU MLP, no biases), width 128, context 64, tied output weights;
AdamW (betas 0.9/0.99, weight decay 0.1 on matrices), lr 1e-3 with 100 warm-up iterations and cosine decay to 1e-4,
batch 12, no dropout, gradient clipping at 1, evaluation every 250 iterations on 20 random validation batches.
nanoGPT decays over 2,000 iterations (about 3 minutes on the laptop its README reports ~1.88 for, about 2.3 on the
idle 2-core development machine); here its decay follows the clock instead, so it always ends its schedule within
the budget, like dlf with --time-limit. The default budget, 2 minutes, is about nanoGPT's recipe's wall time here.

Both see the same 90/10 split and vocabulary. They run interleaved under the benchmark protocol
(benchmarks/_protocol.py): dlf, nanoGPT, dlf, nanoGPT ... (--pairs, default 3), each in its own process with the
same number of torch threads, with each pair's ratio, the median ratio and each process's peak RSS as
/usr/bin/time reports it; each clock counts its periodic evaluations but not the final one. The final
validation loss is reported twice: over non-overlapping 64-character chunks of the whole validation text, each
read from scratch (the context nanoGPT's CPU configuration has), and, for dlf, over its own 1,024-character chunks
(the loss `dlf run char-rnn` reports). dlf runs the short-budget CPU recipe of docs/char-rnn.md (RECIPE: the
options a user types after `dlf run char-rnn`, with --time-limit); --dlf-args replaces them.

    DLF_DATA_DIR=path/to/data python benchmarks/bench_char_rnn.py [--quick] [--minutes 2]
    DLF_DATA_DIR=path/to/data python benchmarks/bench_char_rnn.py --minutes 15 --only dlf
    python benchmarks/bench_char_rnn.py --only dlf --device cuda --minutes 5 --dlf-args "--hidden 1024 ..."
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _protocol import Metric, Side, add_arguments, interleave, load, measure, report, runs_table, save_json
from torch import nn

SIDES = ("dlf", "nanogpt")
# docs/char-rnn.md's recipe for a CPU budget of minutes: a GRU of 256 units (a quarter of the 512-unit default's work
# per character), 32-character chunks (twice the updates per character read, and half the activations kept for
# backward), a higher peak learning rate, and fewer periodic evaluations
RECIPE = "--hidden 256 --seq-len 32 --lr 5e-3 --eval-every 250"


# the peer: a small GPT -------------------------------------------------------------------------------------------
class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # (b, h, t, d) each
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (b, h, t, d)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width, bias=False), nn.LayerNorm(width, bias=False)
        self.attn = SelfAttention(width, heads)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width, bias=False), nn.GELU(),
                                 nn.Linear(4 * width, width, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int, context: int = 64, width: int = 128, layers: int = 4, heads: int = 4):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width, bias=False)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.tok.weight  # weight tying
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
        for blk in self.blocks:  # residual projections scaled down with depth (GPT-2)
            for w in (blk.attn.proj.weight, blk.mlp[2].weight):
                nn.init.normal_(w, 0.0, 0.02 / math.sqrt(2 * layers))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))  # (B, T, C)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))  # (B, T, V)


def loss_on(model, x: torch.Tensor) -> torch.Tensor:
    """Mean next-character NLL of rows x (B, T + 1)."""
    logits = model(x[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())


def random_rows(ids: torch.Tensor, n: int, context: int, g: torch.Generator) -> torch.Tensor:
    start = torch.randint(len(ids) - context - 1, (n,), generator=g)
    return ids[start[:, None] + torch.arange(context + 1)]  # (n, context + 1)


def run_nanogpt(minutes: float, data_dir) -> dict:
    from dlf.experiments.char_rnn import Config, Vocab, load_text, split

    torch.manual_seed(1337)
    text = load_text(Config(), data_dir)
    vocab = Vocab.from_text(text)
    train, val = (vocab.encode(t) for t in split(text))
    context, batch = 64, 12
    model = TinyGPT(len(vocab), context)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    g, g_eval = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    budget, clock, it, history = 60 * minutes, 0.0, 0, []
    start = time.perf_counter()
    while clock < budget:
        cosine = 1e-4 + 0.5 * (1e-3 - 1e-4) * (1 + math.cos(math.pi * clock / budget))
        lr = 1e-3 * (it + 1) / 100 if it < 100 else cosine
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_on(model, random_rows(train, batch, context, g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        it += 1
        if it % 250 == 0:
            history.append((time.perf_counter() - start, estimate(model, val, 20, batch, context, g_eval)))
        clock = time.perf_counter() - start
    history.append((clock, estimate(model, val, 200, batch, context, g_eval)))
    from dlf.experiments.char_rnn import ChunkSource

    return {"model": "nanoGPT-style GPT (CPU recipe)", "params": sum(p.numel() for p in model.parameters()),
            "train_s": clock, "chars": it * batch * context, "chars_per_s": it * batch * context / clock, "steps": it,
            "val_ctx64": chunk_loss(model, ChunkSource(val, context)), "val_long": None, "history": history}


@torch.no_grad()
def estimate(model, val: torch.Tensor, batches: int, batch: int, context: int, g: torch.Generator) -> float:
    """nanoGPT's estimate: mean loss over random validation windows."""
    model.eval()
    out = sum(float(loss_on(model, random_rows(val, batch, context, g))) for _ in range(batches)) / batches
    model.train()
    return out


@torch.no_grad()
def chunk_loss(model, chunks) -> float:
    """Exact mean NLL over every non-overlapping chunk (each read from scratch)."""
    model.eval()
    total = 0.0
    for i in range(0, len(chunks), 128):  # 128 chunks at a time: the scoring never sets either side's peak memory
        idx = torch.arange(i, min(i + 128, len(chunks)))
        (x,) = chunks.get(idx)
        x = x.to(next(model.parameters()).device)
        out = model(x[:, :-1])
        out = out[0] if isinstance(out, tuple) else out
        total += float(F.cross_entropy(out.flatten(0, 1).float(), x[:, 1:].flatten(), reduction="sum"))
    return total / (len(chunks) * chunks.length)


# dlf --------------------------------------------------------------------------------------------------------------
def dlf_config(minutes: float, device: str, extra: str):
    """char-rnn's defaults, --time-limit minutes, then any --dlf-args (parsed as `dlf run char-rnn` parses them)."""
    from dlf.experiments.char_rnn import Config
    from dlf.options import parse_run

    base = ["--time-limit", f"{minutes:g}", "--epochs", "1000", "--device", device, "--analyze-chars", "0"]
    cfg, _ = parse_run("char-rnn", Config, base + shlex.split(extra), "bench_char_rnn --dlf-args")
    return cfg


def run_dlf(minutes: float, data_dir, device: str, extra: str) -> dict:
    from dlf.experiments import char_rnn
    from dlf.rundir import Run
    from dlf.runner import execute

    cfg = dlf_config(minutes, device, extra)
    start, stamps = time.perf_counter(), {}
    log = Run.log

    def timed_log(self, step, **metrics):  # when training reached each logged step (before that step's evaluation)
        stamps.setdefault(step, time.perf_counter() - start)
        log(self, step, **metrics)

    Run.log = timed_log
    with tempfile.TemporaryDirectory() as tmp:
        run, summary = execute("char-rnn", cfg, Path(tmp) / "run", data_dir=data_dir, quiet=True)
        rows = run.read_metrics()
        model, vocab = char_rnn.load_model(run.path, cfg)
    Run.log = log
    model.to(cfg.device if cfg.device != "auto" else "cpu")
    train_s, last = 0.0, 0
    for r in rows:
        if "samples_per_s" in r:
            train_s += (r["step"] - last) * cfg.batch_size / r["samples_per_s"]
            last = r["step"]
    text = char_rnn.load_text(cfg, data_dir)
    val = vocab.encode(char_rnn.split(text)[1])
    history = [(stamps[r["step"]], r["val_loss"]) for r in rows if "val_loss" in r and r["step"] in stamps]
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(cfg).items()
                     if v != getattr(char_rnn.Config(), k) and k not in ("epochs", "analyze_chars", "time_limit"))
    return {"model": f"dlf char-rnn {flags}".strip(), "params": summary["parameters"],
            "train_s": max(stamps.values()), "chars": summary["train_chars_seen"],
            "chars_per_s": summary["train_chars_seen"] / train_s, "steps": summary["steps"],
            "val_ctx64": chunk_loss(model, char_rnn.ChunkSource(val, 64)), "val_long": summary["val_loss_nats"],
            "history": history}


# the report -------------------------------------------------------------------------------------------------------
METRICS = [Metric("val_ctx64", "val loss, 64-char context (nats/char)", ".3f"),
           Metric("val_long", "val loss, 1,024-char chunks", ".3f"),
           Metric("params", "params", ",.0f", ""), Metric("steps", "steps", ",.0f", ""),
           Metric("chars_per_s", "chars/s trained", ",.0f", "higher"),
           Metric("train_s", "training clock s", ",.0f")]


def plot(results: list[dict], path: Path) -> None:
    from dlf.plotting import figure

    fig, axes = figure(size=(6.5, 4))
    ax = axes[0][0]
    for i, r in enumerate(results):
        if r["history"]:
            ax.plot(*zip(*r["history"]), "o-", ms=3, label=r["model"][:60] if i < 2 else None,
                    color=f"C{i % 2}", alpha=1.0 if i < 2 else 0.5)
    for level, note in ((1.88, "nanoGPT README, CPU"), (1.70, "goal at nanoGPT's CPU wall time")):
        ax.axhline(level, color="grey", lw=0.8, ls="--")
        ax.text(ax.get_xlim()[0], level, f" {note}", fontsize=7, va="bottom", color="grey")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.set_title("Tiny Shakespeare, character level", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=2.0, help="wall-time budget of each side (default: 2)")
    p.add_argument("--quick", action="store_true", help="half a minute each")
    p.add_argument("--only", choices=SIDES, help="run one side only, once (e.g. dlf for 15 minutes)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for each side (default: 2)")
    p.add_argument("--device", default="cpu", help="dlf's device (the peer always runs on the CPU)")
    p.add_argument("--dlf-args", default=RECIPE, help=f"char-rnn options (default: \"{RECIPE}\"; \"\" for the "
                   "defaults)")
    p.add_argument("--data-dir")
    p.add_argument("--out", default="bench-char-rnn.png", help="PNG of validation loss against wall time")
    add_arguments(p)
    p.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    return p


def main() -> None:
    a = parser().parse_args()
    minutes = 0.5 if a.quick else a.minutes
    torch.set_num_threads(a.threads)
    if a.child:
        result = run_dlf(minutes, a.data_dir, a.device, a.dlf_args) if a.child == "dlf" else \
            run_nanogpt(minutes, a.data_dir)
        print(json.dumps(result))
        return

    def side(name: str) -> Side:
        return Side(name, [sys.executable, __file__, "--child", name, "--minutes", str(minutes), "--threads",
                           str(a.threads), "--device", a.device, "--dlf-args", a.dlf_args]
                    + (["--data-dir", a.data_dir] if a.data_dir else []))

    def progress(m):
        print(f"  {m.side}: val loss {m.result['val_ctx64']:.3f} (64-char context)", file=sys.stderr, flush=True)

    before = load()
    title = f"Tiny Shakespeare, {minutes:g} minutes of training each"
    note = f"torch {torch.__version__}, {a.threads} threads each"
    if a.only:
        runs = [measure(side(a.only))]
        progress(runs[0])
        note += f"; {runs[0].result['model']}"
        print(runs_table(title, runs, METRICS, before, note))
        save_json(a.json, "bench_char_rnn", [(runs[0],)])
    else:
        pairs = interleave(side("dlf"), side("nanogpt"), a.pairs, progress=progress)
        runs = [m for pair in pairs for m in pair]
        note += f"; dlf: `{pairs[0][0].result['model']}`; peer: {pairs[0][1].result['model']}"
        print(report(title, pairs, METRICS, before, note))
        save_json(a.json, "bench_char_rnn", pairs)
    plot([m.result for m in runs], Path(a.out))
    print(f"\nplot: {a.out}")


if __name__ == "__main__":
    main()
