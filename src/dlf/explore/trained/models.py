"""Load a run's trained model from its checkpoint and compute what the run pages show; no gradio here.

Models are loaded on the CPU in eval mode through each experiment's own loader and kept in a small cache keyed by
the run folder and its checkpoint, so that moving a slider does not reload anything. Every function bounds the work
one request may ask for (sizes are clipped or refused with a one-line DlfError).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from dlf.errors import DlfError
from dlf.explore.trained.scan import RunInfo, _checkpoint_folder
from dlf.train import checkpoint

SIDE = 28
MAX_TEXT = 2000
"""Most characters one sample or one coloured text may have."""
MAX_IMAGES = 64
MAX_WORDS = 40


# loading ---------------------------------------------------------------------------------------------------------
def _stamp(path: Path, experiment: str) -> str:
    """Changes when the run writes a new checkpoint, so the cache reloads it."""
    if experiment == "word2vec":
        f = path / "vectors.safetensors"
        return str(f.stat().st_mtime_ns) if f.exists() else ""
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    found = checkpoint.complete(_checkpoint_folder(path, experiment, config))
    return found[-1].name if found else ""


_LOCKS: dict[tuple, threading.Lock] = {}  # one per model: a request waits for the preload's copy of *that* model
_LOCKS_GUARD = threading.Lock()


def load(info: RunInfo):
    """The run's model object(s) (cached); a one-line DlfError when the folder cannot be loaded.

    Each model is loaded once: a request for a model being loaded waits for that load, while a request for a model
    already loaded is answered at once, whatever other model the preload is reading meanwhile."""
    try:
        key = (str(info.path), info.experiment, _stamp(info.path, info.experiment))
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(key, threading.Lock())
        with lock:
            return _load(*key)
    except DlfError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged folder must never break a page
        raise DlfError(f"{info.path} cannot be loaded ({type(exc).__name__}: {str(exc)[:120]})") from None


PRELOAD_FIRST = ("handwriting", "vae", "text", "images", "words", "rl")
"""The order in which `preload` loads runs: the pages a learner opens first."""


def preload(infos: Iterable[RunInfo]) -> threading.Thread:
    """Load the runs' models in a background thread (the handwriting classifiers first), so that a page's first
    answer does not wait for a checkpoint to be read; a run that fails to load is left to its page to report."""
    order = sorted(infos, key=lambda i: PRELOAD_FIRST.index(i.kind) if i.kind in PRELOAD_FIRST else 99)

    def run() -> None:
        for info in order[:16]:  # the cache's size
            try:
                load(info)
            except DlfError:
                continue

    thread = threading.Thread(target=run, name="dlf-preload", daemon=True)
    thread.start()
    return thread


@lru_cache(maxsize=16)
def _load(path: str, experiment: str, stamp: str):
    from dlf.runner import load_run_config
    from dlf.sampling import load_weights

    run_dir = Path(path)
    cfg = load_run_config(experiment, run_dir)
    if experiment.startswith("mnist-"):
        from dlf.experiments._mnist import Classifier

        task = Classifier(_classifier(experiment, cfg))
        load_weights(run_dir, task, experiment)
        return task.eval()
    if experiment == "char-rnn":
        from dlf.experiments.char_rnn import load_model

        return load_model(run_dir, cfg)
    if experiment == "word2vec":
        from dlf.text.vectors import WordVectors

        return WordVectors.load(run_dir)
    if experiment == "vae":
        from dlf.experiments.vae import VAETask
        from dlf.models.vae import VAE

        model = VAE(cfg.latent, cfg.hidden)
        load_weights(run_dir, VAETask(model), "vae")
        return model.eval()
    if experiment == "gan":
        from dlf.experiments.gan import build

        task = build(cfg)
        load_weights(run_dir, task, "gan")
        return task.eval()
    if experiment == "pixelcnn":
        from dlf.experiments.pixelcnn import PixelCNNTask, build_model

        model = build_model(cfg)
        load_weights(run_dir, PixelCNNTask(model), "pixelcnn")
        return model.eval()
    if experiment == "cartpole":
        from dlf.rl.play import load_agent

        return load_agent(run_dir)
    raise DlfError(f"no page opens '{experiment}' runs")


def _classifier(experiment: str, cfg) -> torch.nn.Module:
    if experiment == "mnist-mlp":
        from dlf.models.mlp import MLP

        return MLP(cfg.hidden, cfg.activation)
    if experiment == "mnist-cnn":
        from dlf.models.cnn import CNN

        return CNN(cfg.width, cfg.dropout)
    from dlf.models.rnn import RowRNN

    return RowRNN(cfg.hidden, cfg.layers, cfg.cell)


# images ----------------------------------------------------------------------------------------------------------
def png(image: np.ndarray | torch.Tensor, scale: int = 6) -> str:
    """A grey image (H, W) with values in [0, 1] as a data: URL of a PNG, each pixel scale x scale."""
    from PIL import Image

    a = np.asarray(image, dtype=np.float64)
    a = np.clip(np.rint((1.0 - a) * 255), 0, 255).astype(np.uint8)  # ink dark on white, as on paper
    a = np.kron(a, np.ones((scale, scale), dtype=np.uint8))
    buf = io.BytesIO()
    Image.fromarray(a, mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def mosaic(images: torch.Tensor, cols: int = 8, pad: int = 1) -> np.ndarray:
    """(N, 784) or (N, 28, 28) in [0, 1] -> one (rows*29+1, cols*29+1) image with white gaps."""
    images = images.reshape(-1, SIDE, SIDE).detach().cpu().numpy()
    cols = max(1, min(cols, len(images)))
    rows = -(-len(images) // cols)
    out = np.zeros((rows * (SIDE + pad) + pad, cols * (SIDE + pad) + pad))
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (SIDE + pad), pad + c * (SIDE + pad)
        out[top:top + SIDE, left:left + SIDE] = im
    return out


def decode_pixels(data: str) -> torch.Tensor:
    """The canvas's compact form: 784 pixels as base64 bytes 0..255, row by row -> uint8 (28, 28)."""
    if len(data) > 4 * (SIDE * SIDE + 2) // 3 + 4:  # refuse a huge string before decoding it
        raise DlfError(f"a drawing has {SIDE * SIDE} pixels (got a {len(data):,}-character string)")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise DlfError("the drawing is not valid base64") from None
    if len(raw) != SIDE * SIDE:
        raise DlfError(f"a drawing has {SIDE * SIDE} pixels (got {len(raw)})")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(SIDE, SIDE)


# handwriting -----------------------------------------------------------------------------------------------------
@torch.no_grad()
def classify(tasks: dict[str, torch.nn.Module], image: torch.Tensor) -> dict[str, list[float]]:
    """Class probabilities (10,) of every classifier for one uint8 image (28, 28)."""
    from dlf.experiments._mnist import normalize

    x = normalize(image[None])  # (1, 1, 28, 28)
    return {name: torch.softmax(task.model(x).float(), -1)[0].tolist() for name, task in tasks.items()}


# char-rnn ----------------------------------------------------------------------------------------------------------
@torch.no_grad()
def stream_text(model, vocab, prime: str, length: int, temperature: float, top_k: int, seed: int,
                chunk: int = 8) -> Iterator[str]:
    """The prime, then the sampled text `chunk` characters at a time: the same characters as
    dlf.experiments.char_rnn.generate for the same seed (one draw per character from the same generator)."""
    check_prime(vocab, prime)
    length = max(0, min(int(length), MAX_TEXT))
    generator = torch.Generator().manual_seed(int(seed))
    logits, state = model(vocab.encode(prime)[None])  # (1, T, V)
    yield prime
    ids: list[int] = []
    for _ in range(length):
        last = logits[0, -1].float() / temperature  # (V,)
        if 0 < top_k < last.numel():
            kth = torch.topk(last, top_k).values[-1]
            last = last.masked_fill(last < kth, float("-inf"))
        nxt = torch.multinomial(torch.softmax(last, -1), 1, generator=generator)  # (1,)
        ids.append(int(nxt))
        logits, state = model(nxt[None], state)  # (1, 1, V)
        if len(ids) == chunk:
            yield vocab.decode(torch.tensor(ids))
            ids = []
    if ids:
        yield vocab.decode(torch.tensor(ids))


def check_prime(vocab, prime: str) -> None:
    if not prime:
        raise DlfError("the prime is empty; give at least one character")
    if len(prime) > MAX_TEXT:
        raise DlfError(f"the prime is too long ({len(prime)} characters; at most {MAX_TEXT})")
    unknown = vocab.missing(prime)
    if unknown:
        raise DlfError(f"the prime holds {unknown[0]!r}, which this model never saw; use characters of its text")


@torch.no_grad()
def unit_activations(model, vocab, text: str, unit: int) -> np.ndarray:
    """Hidden unit `unit`'s activation (last layer) after each character of `text`: (T,)."""
    check_prime(vocab, text)
    if not 0 <= unit < model.hidden:
        raise DlfError(f"unit {unit} is out of range: this network has {model.hidden} units, 0 to {model.hidden - 1}")
    return model.hidden_states(vocab.encode(text)[None])[0, :, unit].double().numpy()


def interpretable_units(run_dir: Path) -> dict[str, list]:
    """units/units.json written by the char-rnn run: property -> [(unit, correlation), ...]."""
    path = Path(run_dir) / "units" / "units.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}


# vae / gan / pixelcnn --------------------------------------------------------------------------------------------
@torch.no_grad()
def vae_decode(model, z: list[float]) -> torch.Tensor:
    """p(x|z) for one latent vector (pixel probabilities, (28, 28)); missing dimensions are 0."""
    v = torch.zeros(1, model.latent)
    v[0, :min(len(z), v.shape[1])] = torch.tensor(z[:v.shape[1]], dtype=torch.float32)
    return torch.sigmoid(model.decode(v))[0].view(SIDE, SIDE)


@torch.no_grad()
def vae_interpolate(model, a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decode the straight line between the posterior means of images a and b (784,) in [0, 1]: (steps, 784)."""
    mu, _ = model.encode(torch.stack([a, b]).float())  # (2, latent)
    t = torch.linspace(0, 1, steps)[:, None]  # (steps, 1)
    return torch.sigmoid(model.decode((1 - t) * mu[0] + t * mu[1]))


@torch.no_grad()
def vae_manifold(model, n: int = 15, span: float = 2.5) -> tuple[np.ndarray, float]:
    """For a 2-D latent: the decoded grid over [-span, span]^2 (row 0 is z2 = +span) as one image."""
    g = torch.linspace(-span, span, n)
    z = torch.stack(torch.meshgrid(g.flip(0), g, indexing="ij")[::-1], -1).reshape(-1, 2)  # (n*n, 2): (z1, z2)
    images = torch.sigmoid(model.decode(z))
    return mosaic(images, cols=n, pad=0), span


@torch.no_grad()
def gan_samples(task, n: int, seed: int) -> torch.Tensor:
    n = max(1, min(int(n), MAX_IMAGES))
    return task.model.sample(n, torch.Generator().manual_seed(int(seed)), net=task.sampler)


@torch.no_grad()
def pixelcnn_samples(model, n: int, seed: int) -> torch.Tensor:
    n = max(1, min(int(n), 16))  # 784 forward passes per image: keep a request short
    return model.sample(n, torch.Generator().manual_seed(int(seed)))


@torch.no_grad()
def pixelcnn_complete(model, image: torch.Tensor, seed: int) -> torch.Tensor:
    """One completion of a binary image (784,): the top 14 rows kept, the bottom drawn pixel by pixel."""
    from dlf.experiments.pixelcnn import top_half_mask

    given = (image.reshape(1, -1) > 0.5).float()
    return model.sample(1, torch.Generator().manual_seed(int(seed)), given=given, mask=top_half_mask())[0]


# word2vec --------------------------------------------------------------------------------------------------------
def parse_words(text: str) -> list[str]:
    if len(text) > 50 * MAX_WORDS:
        raise DlfError(f"too long a list of words ({len(text):,} characters); give at most {MAX_WORDS} words")
    words = [w for w in text.replace(",", " ").split() if w]
    if len(words) > MAX_WORDS:
        raise DlfError(f"too many words ({len(words)}); give at most {MAX_WORDS}")
    return words


def project(wv, words: list[str]) -> tuple[list[str], np.ndarray]:
    """The words the model knows and their 2-D PCA coordinates (over those words): (n, 2)."""
    known = [w for w in words if w in wv]
    if len(known) < 2:
        return known, np.zeros((len(known), 2))
    x = np.stack([wv[w] for w in known]).astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    x -= x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return known, x @ vt[:2].T
