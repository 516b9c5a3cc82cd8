"""`dlf tour --part 2`: the lecture's second half, small but honest, in about 10 minutes on 2 CPU cores.

It trains an MLP and a CNN on MNIST (and compares them on shifted digits), a char-RNN on Tiny Shakespeare, word2vec
on a few million words, a VAE with a 2-D latent, a GAN, a PixelCNN and a PPO agent on CartPole, each into a
sub-folder of the tour's folder, then writes report.html (through dlf.report: headline, figures, key numbers and the
command of every run) beside them. The run folders open in `dlf explore --runs TOUR_DIR`. Every number is a
small-budget one; the report names the full command of each experiment next to it.
"""

from __future__ import annotations

import html
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dlf import registry
from dlf.errors import DataError, DlfError
from dlf.report import img_tag, load_run, page, section
from dlf.rundir import Run, atomic_write_text, default_out


@dataclass(frozen=True)
class Stop:
    experiment: str
    title: str
    text: str
    options: dict[str, Any] = field(default_factory=dict)
    """The tour's small budget (about a minute each on 2 cores)."""
    tiny: dict[str, Any] = field(default_factory=dict)
    """A few steps, for the tests (scale='tiny')."""
    doc: str = ""
    """The page of docs/ with the full-budget run."""


MNIST_TINY = dict(epochs=1, batch_size=50, train_size=300, test_size=60)
STOPS: tuple[Stop, ...] = (
    Stop("mnist-mlp", "1. An MLP reads digits",
         "A network with one hidden layer of 128 ReLU units, trained for one epoch on the 60,000 MNIST digits.",
         dict(hidden=128, epochs=1, batch_size=128, lr=3e-3), dict(hidden=16, **MNIST_TINY), "docs/index.md"),
    Stop("mnist-cnn", "2. A CNN reads digits, and shrugs off a shift",
         "Convolutions share their weights across positions, so a digit moved a few pixels still looks familiar to "
         "a CNN; the MLP has to relearn it at every position. The comparison below moves every test digit. Like "
         "the MLP, this CNN trains without shifted copies of the digits (--no-augment), so the comparison is fair.",
         dict(width=16, batch_size=512, epochs=1, augment=False), dict(width=4, augment=False, **MNIST_TINY),
         "docs/index.md"),
    Stop("char-rnn", "3. A char-RNN writes Shakespeare",
         "A GRU reads Tiny Shakespeare one character at a time and learns to predict the next; sampled one "
         "character at a time, it writes text in the shape of a play.",
         dict(hidden=256, time_limit=1.5, eval_every=200, analyze_chars=5000),
         dict(hidden=16, embed=8, batch_size=4, seq_len=16, max_steps=10, eval_every=5, analyze_chars=300,
              val_chunk=64), "docs/char-rnn.md"),
    Stop("word2vec", "4. Word vectors from predicting neighbours",
         "Skip-gram with negative sampling on the first 2 million words: words used in similar contexts get "
         "similar vectors, and some analogies (man : king :: woman : ?) come out as vector arithmetic.",
         dict(max_words=2_000_000, epochs=1, dim=64, threads=2, export_text=False),
         dict(dim=8, epochs=1, min_count=1, threads=1, evaluate=False, export_text=False), "docs/word2vec.md"),
    Stop("vae", "5. A VAE with a 2-D latent space",
         "An encoder maps each digit to a Gaussian over a 2-D latent z, a decoder maps z back to pixel "
         "probabilities; the ELBO trades reconstruction against the KL to the prior. With two dimensions the whole "
         "latent space fits in one picture.",
         dict(latent=2, epochs=3, iwae_k=100, iwae_test_size=1000),
         dict(latent=2, hidden=16, iwae_k=5, iwae_test_size=10, **MNIST_TINY), "docs/vae.md"),
    Stop("gan", "6. A GAN",
         "A generator learns to turn noise into digits that a discriminator cannot tell from real ones.",
         dict(time_limit=1.5, parzen_samples=2000, parzen_val=500, val_size=2000, classifier_epochs=0.5),
         dict(z_dim=8, g_hidden=32, d_hidden=16, pieces=2, max_steps=4, batch_size=25, val_size=30,
              parzen_samples=50, parzen_val=10, classifier_epochs=0.2, train_size=300, test_size=60),
         "docs/gan.md"),
    Stop("pixelcnn", "7. A PixelCNN draws pixel by pixel",
         "Masked convolutions let each pixel see only the pixels above and to its left, so the network models "
         "p(x) as a product of p(x_i | x_<i) and can draw, or complete, a digit one pixel at a time.",
         dict(channels=32, blocks=4, time_limit=1.5, samples=16, completions=4, val_size=500),
         dict(channels=4, blocks=1, max_steps=4, batch_size=20, samples=2, completions=1, val_size=20,
              train_size=300, test_size=60), "docs/pixelcnn.md"),
    Stop("cartpole", "8. PPO balances a pole",
         "An agent learns from reward alone: PPO collects episodes, estimates how much better each action was "
         "than expected, and nudges the policy towards the better ones, a clipped step at a time.",
         dict(seeds=1), dict(seeds=1, env_steps=256, update_epochs=1, eval_every=256, eval_episodes=2),
         "docs/rl.md"),
)


def _word2vec_options(data_dir) -> dict[str, Any]:
    """A corpus for word2vec: its default one if present, else text/corpus.txt of the data folder; eval if found."""
    from dlf.data.paths import find_file, locate
    from dlf.experiments import word2vec

    try:
        word2vec.corpus_path(word2vec.Config(), data_dir)
        extra: dict[str, Any] = {}
    except DataError:
        extra = {"corpus": str(find_file(locate("text", ["corpus.txt"], data_dir), "corpus.txt"))}
    try:
        word2vec.eval_folder(data_dir)
    except DataError:
        extra["evaluate"] = False
    return extra


INTRO = """<p><b>Small budgets.</b> These are the lecture's second-half models trained with small budgets on this
machine ({total:.0f} s in all, seed {seed}): real training, real test figures, but far from what the full runs
reach. Each section names the command that reproduces the run as it is here, and the full-budget command with the
page of the docs that reports its figures. Open the trained models in the browser with
<code>dlf explore --runs {root}</code>.</p>"""


def _full(stop: Stop) -> str:
    return (f'<p class="meaning">Full budget: <code>dlf run {html.escape(stop.experiment)}</code> with its defaults '
            f'(see {html.escape(stop.doc)} for its figures, command and machine).</p>')


def _shift_section(root: Path, runs: dict[str, Path]) -> str:
    from dlf.experiments._mnist import compare_shift

    if not {"mnist-mlp", "mnist-cnn"} <= set(runs):
        return ""
    png = compare_shift([str(runs["mnist-mlp"]), str(runs["mnist-cnn"])], str(root / "shift-compare.png"))
    mlp, cnn = (json.loads((runs[k] / "summary.json").read_text()) for k in ("mnist-mlp", "mnist-cnn"))
    return (f"<section><h2>Translation invariance: CNN against MLP</h2><p>Every test digit moved 4 pixels: the MLP "
            f"keeps {100 * mlp['shift_acc_4']:.1f}% accuracy, the CNN {100 * cnn['shift_acc_4']:.1f}% "
            f"(unmoved: {100 * mlp['shift_acc_0']:.1f}% and {100 * cnn['shift_acc_0']:.1f}%).</p>{img_tag(png)}"
            f"<p class=\"meaning\">Redraw it for any runs: <code>dlf compare RUN_DIR RUN_DIR</code>.</p></section>")


def tour2(out: str | Path | None = None, seed: int = 0, quiet: bool = False, scale: str = "small",
          data_dir: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None,
          stops: tuple[Stop, ...] = STOPS) -> Path:
    """Train every stop into a sub-folder of `out`, write report.html there, return its path.

    scale 'small' is the tour (about 10 minutes on 2 cores); 'tiny' runs a few steps per stop (for tests).
    `overrides` adds options per experiment (e.g. a text file for char-rnn).
    """
    from dlf.runner import execute

    if scale not in ("small", "tiny"):
        raise DlfError(f"scale must be small or tiny (got {scale})")
    root = Path(out) if out is not None else default_out("tour2")
    fresh = not root.exists()
    Run.create(root, json.dumps({"experiment": "tour", "part": 2, "seed": seed}) + "\n")
    runs: dict[str, Path] = {}
    sections, start = [], time.perf_counter()
    try:
        for stop in tqdm(stops, desc="tour part 2", disable=True if quiet else None):
            options = dict(stop.tiny if scale == "tiny" else stop.options)
            if stop.experiment == "word2vec" and not (overrides or {}).get("word2vec", {}).get("corpus"):
                options.update(_word2vec_options(data_dir))
            options.update((overrides or {}).get(stop.experiment, {}))
            cfg = registry.get(stop.experiment).load().Config(seed=seed, **options)
            run, _ = execute(stop.experiment, cfg, root / stop.experiment, data_dir=data_dir, quiet=True)
            runs[stop.experiment] = run.path
            sections.append(section(load_run(run.path), stop.title, stop.text, _full(stop)))
            if stop.experiment == "mnist-cnn":
                sections.append(_shift_section(root, runs))
    except DlfError:
        if fresh and not runs:  # nothing finished: leave nothing behind
            shutil.rmtree(root, ignore_errors=True)
        raise
    total = time.perf_counter() - start
    report = root / "report.html"
    intro = INTRO.format(total=total, seed=seed, root=html.escape(str(root)))
    atomic_write_text(report, page("Deep Learning Fundamentals: the tour, part 2", intro, sections))
    if not quiet:
        print(f"tour part 2 finished in {total:.0f} s; open the report:\n  {report}\n"
              f"and the trained models:\n  dlf explore --runs {root}", file=sys.stdout)
    return report

