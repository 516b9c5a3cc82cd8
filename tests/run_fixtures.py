"""Tiny trained runs for the explorer's run pages and `dlf report`: a few steps each on generated data.

    make_runs(root, data, kinds=("mnist-mlp", "mnist-cnn", "char-rnn", "vae"))   # root/<name>/, each finished
    make_broken(root)                                                          # folders the explorer must refuse

Each run trains for a handful of steps on the synthetic digits of tests.fixtures (or a small generated play for
the char-RNN), so the whole set takes seconds; the models are bad, but real: loaded from their checkpoints.
"""

from __future__ import annotations

import random
from pathlib import Path

from dlf.runner import execute


def play_text(lines: int = 150, seed: int = 0) -> str:
    r = random.Random(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "said", "to", "me"]
    return "\n".join(f"{r.choice(['ALICE', 'BOB'])}:\n" + " ".join(r.choice(words) for _ in range(6)) + ".\n"
                     for _ in range(lines))


def configs(root: Path) -> dict:
    from dlf.experiments import cartpole, char_rnn, gan, mnist_cnn, mnist_mlp, pixelcnn, vae, word2vec

    text = root / "play.txt"
    root.mkdir(parents=True, exist_ok=True)
    text.write_text(play_text(), encoding="utf-8")
    corpus = root / "corpus.txt"
    corpus.write_text(" ".join(play_text(400).lower().replace(":", "").replace(".", "").split()), encoding="utf-8")
    cpu = dict(device="cpu")
    return {
        "mnist-mlp": lambda: mnist_mlp.Config(hidden=32, epochs=2, batch_size=50, lr=3e-3, **cpu),
        "mnist-cnn": lambda: mnist_cnn.Config(width=4, epochs=2, batch_size=50, **cpu),
        "char-rnn": lambda: char_rnn.Config(text=str(text), hidden=32, embed=16, batch_size=4, seq_len=16,
                                            max_steps=30, lr=1e-2, eval_every=15, analyze_chars=500, val_chunk=64,
                                            **cpu),
        "vae": lambda: vae.Config(latent=2, hidden=32, epochs=2, batch_size=25, lr=1e-2, iwae_k=10,
                                  iwae_test_size=20, schedule="constant", **cpu),
        "gan": lambda: gan.Config(z_dim=8, g_hidden=64, d_hidden=32, pieces=2, channels=4, max_steps=6,
                                  batch_size=25, val_size=50, parzen_samples=100, parzen_val=20, snapshot_every=5,
                                  classifier_epochs=0.2, **cpu),
        "pixelcnn": lambda: pixelcnn.Config(channels=8, blocks=2, max_steps=6, batch_size=20, samples=2,
                                            completions=1, val_size=20, **cpu),
        "word2vec": lambda: word2vec.Config(corpus=str(corpus), dim=8, epochs=2, min_count=1, threads=1, sample=0.0,
                                            evaluate=False, export_text=False),
        "cartpole": lambda: cartpole.Config(env_steps=512, update_epochs=1, eval_every=256, eval_episodes=2,
                                            seeds=1, threads=1),
    }


def make_runs(root: Path, data: Path, kinds: tuple[str, ...]) -> dict[str, Path]:
    """Train each of `kinds` into root/<kind>; return {kind: run folder}."""
    made = configs(Path(root))
    out = {}
    for kind in kinds:
        run, _ = execute(kind, made[kind](), Path(root) / kind, data_dir=data, quiet=True)
        out[kind] = run.path
    return out


def make_broken(root: Path) -> dict[str, Path]:
    """A corrupt config, an unknown experiment, a run with no checkpoint, a damaged checkpoint, a stray folder."""
    root = Path(root)
    folders = {name: root / name for name in ("corrupt", "unknown", "half", "stray")}
    for f in folders.values():
        f.mkdir(parents=True)
    (folders["corrupt"] / "config.json").write_text("{not json", encoding="utf-8")
    (folders["unknown"] / "config.json").write_text('{"experiment": "teleport"}', encoding="utf-8")
    (folders["half"] / "config.json").write_text('{"experiment": "mnist-cnn", "seed": 0}', encoding="utf-8")
    return folders


class TinyRuns:
    """One folder of tiny runs for the whole test session, each trained the first time a test asks for it."""

    def __init__(self, base: Path):
        from tests.fixtures import make_mnist_fixture

        self.data = make_mnist_fixture(base / "data", n_train=300, n_test=60)
        self.root = base / "runs"
        self.broken = make_broken(self.root)
        self._made: dict[str, Path] = {}

    def get(self, *kinds: str) -> dict[str, Path]:
        """{kind: run folder} for `kinds`, training those not made yet (on one thread, as the tests' CPUs are few)."""
        import torch

        missing = tuple(k for k in kinds if k not in self._made)
        if missing:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                self._made.update(make_runs(self.root, self.data, missing))
            finally:
                torch.set_num_threads(threads)
        return {k: self._made[k] for k in kinds}
