"""Find run folders and sort them by the explorer page that opens them; say in one line why one cannot be opened.

    infos = scan("runs")       # [RunInfo(path, experiment, kind, reason), ...], sorted by path
    ok = [i for i in infos if not i.reason]
    cat = Catalogue("runs")    # the same, kept: cat.rescan() re-inspects only the folders that changed
    vaes = cat.view("vae")     # a live list of the vae runs that open (it follows each rescan)

A folder is a run when it holds config.json (written first by `dlf run`). A tour folder's sub-folders are runs too.
Nothing here loads a model: a checkpoint is only checked for a readable safetensors header, so scanning a folder of
many runs stays fast; loading errors later are reported by the page (dlf.explore.trained.models).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlf import registry
from dlf.train import checkpoint

KINDS = {"mnist-mlp": "handwriting", "mnist-cnn": "handwriting", "mnist-rnn": "handwriting", "char-rnn": "text",
         "word2vec": "words", "vae": "vae", "gan": "images", "pixelcnn": "images", "cartpole": "rl"}
"""Experiment -> the page that opens its runs."""
MAX_RUNS = 200
"""Most run folders listed (the newest by name are kept)."""


@dataclass
class RunInfo:
    path: Path
    experiment: str = ""
    kind: str = ""
    reason: str = ""
    """Why the folder cannot be opened ('' when it can)."""
    summary: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    """Something to know that does not stop it opening (e.g. 'interrupted: no summary.json')."""

    @property
    def label(self) -> str:
        return str(self.path)


def _checkpoint_folder(path: Path, experiment: str, config: dict) -> Path:
    if experiment == "cartpole":  # one agent per seed; the explorer opens the first seed's, as `dlf play` does
        return path / f"seed-{config.get('seed', 0)}" / "checkpoints"
    return path / "checkpoints"


def _check_checkpoint(path: Path, experiment: str, config: dict) -> str:
    if experiment == "word2vec":
        missing = [n for n in ("vectors.safetensors", "vocab.json") if not (path / n).is_file()]
        return f"half-written: no {missing[0]} yet (an unfinished word2vec run cannot be opened)" if missing else ""
    found = checkpoint.complete(_checkpoint_folder(path, experiment, config))
    if not found:
        return f"half-written: no checkpoint yet; finish it with 'dlf run {experiment} --resume {path}'"
    try:
        from safetensors import safe_open

        with safe_open(str(found[-1] / "tensors.safetensors"), framework="pt") as fh:
            fh.keys()
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same one-line reason
        return f"checkpoint {found[-1].name} is unreadable ({type(exc).__name__}); delete it or train again"
    return ""


def inspect(path: Path) -> RunInfo:
    """What `path` holds, as a RunInfo whose reason is '' when the explorer can open it."""
    info = RunInfo(Path(path))
    if not info.path.is_dir():
        info.reason = "missing: no such folder"
        return info
    cfg_path = info.path / "config.json"
    if not cfg_path.is_file():
        info.reason = "not a run folder: no config.json (make one with 'dlf run NAME --out DIR')"
        return info
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
        info.experiment = str(config["experiment"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        info.reason = "corrupt: config.json is not valid JSON with an experiment name"
        return info
    if info.experiment not in registry.BY_NAME:
        info.reason = f"unknown kind: experiment '{info.experiment}' is not one of dlf's"
        return info
    info.kind = KINDS.get(info.experiment, "")
    if not info.kind:
        info.reason = f"no page for '{info.experiment}' runs (the pages above show the first half of the lecture)"
        return info
    info.reason = _check_checkpoint(info.path, info.experiment, config)
    summary = info.path / "summary.json"
    try:
        info.summary = json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        info.note = "summary.json is damaged"
    if not summary.is_file() and not info.reason:
        info.note = "interrupted: no summary.json, opened from its last checkpoint"
    return info


def _candidates(root: Path) -> list[Path]:
    """Folders under root that are runs (or look meant to be): its children, and the runs inside tour folders."""
    out = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        inner = sorted(p for p in child.iterdir() if p.is_dir() and (p / "config.json").is_file())
        if inner and not _is_model_run(child):
            out += inner  # a tour folder: its stops are the runs
        else:
            out.append(child)
    return out


def _is_model_run(path: Path) -> bool:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("experiment") in registry.BY_NAME
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def run_paths(root: Path | None) -> list[Path]:
    """The run folders under `root` (at most MAX_RUNS, the last by name), or root itself when it is one run."""
    if root is None or not root.is_dir():
        return []
    if (root / "config.json").is_file() and _is_model_run(root):
        return [root]  # --runs names one run folder
    return _candidates(root)[-MAX_RUNS:]


def scan(root: str | os.PathLike) -> list[RunInfo]:
    """Every run folder under `root`, each with its kind or its reason."""
    return [inspect(p) for p in run_paths(Path(root))]


def signature(path: Path) -> tuple:
    """What changes when a run folder changes in a way the scan sees: the folder itself (entries added or removed),
    its config, summary, checkpoint folders and word vectors (mtime and size; None where missing)."""
    def stat(p: Path) -> tuple | None:
        try:
            st = p.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    parts = [path, *(path / n for n in ("config.json", "summary.json", "checkpoints", "vectors.safetensors",
                                        "vocab.json"))]
    with contextlib.suppress(OSError):
        parts += sorted(p / "checkpoints" for p in path.glob("seed-*"))  # an RL run's agents
    return tuple(stat(p) for p in parts)


class Catalogue:
    """The run folders under `root`, kept between requests; `rescan()` stats every folder and inspects again only
    those whose signature changed (a run written while the explorer runs appears at the next rescan)."""

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root is not None else None
        self.infos: list[RunInfo] = []
        self.version = 0
        """Counts the rescans that found something different (a page compares it with the version it shows)."""
        self._seen: dict[Path, tuple[tuple, RunInfo]] = {}
        self._lock = threading.Lock()
        self.rescan()

    def rescan(self) -> list[RunInfo]:
        """Look again; return the openable runs that are new or changed since the last look."""
        with self._lock:
            seen, changed = {}, []
            for p in run_paths(self.root):
                sig = signature(p)
                old = self._seen.get(p)
                if old and old[0] == sig:
                    seen[p] = old
                else:
                    seen[p] = (sig, inspect(p))
                    changed += [seen[p][1]] if not seen[p][1].reason else []
            if {p: sig for p, (sig, _) in seen.items()} != {p: sig for p, (sig, _) in self._seen.items()}:
                self.version += 1
            self._seen = seen
            self.infos = [info for _, info in seen.values()]
            return changed

    def runs(self, kind: str, experiment: str = "") -> list[RunInfo]:
        return [i for i in self.infos if not i.reason and i.kind == kind
                and (not experiment or i.experiment == experiment)]

    def view(self, kind: str, experiment: str = "") -> Runs:
        return Runs(self, kind, experiment)


@dataclass(frozen=True)
class Runs:
    """A live list of the openable runs of one kind (and experiment) in a Catalogue: it follows every rescan."""

    catalogue: Catalogue
    kind: str
    experiment: str = ""

    def now(self) -> list[RunInfo]:
        return self.catalogue.runs(self.kind, self.experiment)

    def __iter__(self) -> Iterator[RunInfo]:
        return iter(self.now())

    def __len__(self) -> int:
        return len(self.now())

    def __getitem__(self, index):
        return self.now()[index]

    def labels(self) -> list[str]:
        return [i.label for i in self.now()]
