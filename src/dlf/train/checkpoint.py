"""Checkpoints as safetensors + JSON, written atomically, checksummed, no pickle.

    RUN/checkpoints/step-00000500/
        tensors.safetensors   model weights, optimizer moments, torch RNG states
        state.json            step, optimizer hyper-parameters, python/numpy RNG, trainer counters
        checksums.json        the SHA-256 of the two files above

A checkpoint is built in a temporary folder and renamed into place, so a run killed at any moment (SIGKILL
included) leaves only complete checkpoints behind; half-built `.tmp-*` folders are ignored and swept up.

A run folder is verified, not trusted: loading checks both files against their checksums, then every tensor's
name and shape against the model and the RNG states against their generators, before anything is changed.
A checkpoint that fails (truncated, zero-filled, garbled, a missing file, a wrong shape, a state.json of {})
raises `CheckpointDamaged` in one line; `load_newest_good` then says so and falls back to the previous one,
which is why at least two checkpoints are always kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import safetensors
import safetensors.torch
import torch

from dlf.errors import DlfError

PREFIX = "step-"
DAMAGED = "damaged-"  # a damaged checkpoint moved aside on resume keeps its name after this prefix
TENSORS, STATE, SUMS = "tensors.safetensors", "state.json", "checksums.json"
MIN_KEEP = 2  # the newest checkpoint and the one before it, to fall back on if the newest is damaged
T = TypeVar("T")


class CheckpointDamaged(DlfError):
    """A checkpoint that fails its checksum, cannot be parsed, or does not fit the model."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    py = random.getstate()
    return tensors, {"numpy": [kind, int(pos), int(has_gauss), float(gauss)], "python": [py[0], list(py[1]), py[2]]}


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if states:
            torch.cuda.set_rng_state_all(states)
    kind, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _optimizer_split(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{name}.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_join(name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optim.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, field = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[field] = value
    for pid, values in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def _write(path: Path, data: bytes) -> str:
    """Write `data` to `path`, flushed to disk; return its SHA-256."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(data).hexdigest()


def save(folder: Path, step: int, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
         extra: dict[str, Any], keep: int = MIN_KEEP) -> Path:
    """Write checkpoint `step` atomically into folder/step-XXXXXXXX and keep the `keep` newest (at least 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:08d}"
    if final.exists():
        return final
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    meta: dict[str, Any] = {"step": step, "rng": rng_meta, "optimizers": {}, "extra": extra}
    for name, opt in optimizers.items():
        t, m = _optimizer_split(name, opt)
        tensors.update(t)
        meta["optimizers"][name] = m
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    tmp = folder / f".tmp-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    sums = {TENSORS: _write(tmp / TENSORS, safetensors.torch.save(tensors)),
            STATE: _write(tmp / STATE, json.dumps(meta).encode("utf-8"))}
    _write(tmp / SUMS, json.dumps(sums, indent=1).encode("utf-8"))
    _fsync_dir(tmp)
    os.rename(tmp, final)
    _fsync_dir(folder)
    for old in complete(folder)[:-max(keep, MIN_KEEP)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def complete(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders from a killed run are not listed)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def latest(folder: Path) -> Path | None:
    for tmp in folder.glob(".tmp-*") if folder.exists() else []:
        shutil.rmtree(tmp, ignore_errors=True)
    found = complete(folder)
    return found[-1] if found else None


# verified loading ---------------------------------------------------------------------------------------------
def read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and state.json of checkpoint `path`, both checked against checksums.json first."""
    try:
        sums = json.loads((path / SUMS).read_bytes())
        if not isinstance(sums, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        raise CheckpointDamaged(f"{SUMS} is missing") from None
    except (OSError, ValueError) as exc:
        raise CheckpointDamaged(f"{SUMS} is unreadable ({type(exc).__name__})") from None
    data = {}
    for name in (TENSORS, STATE):
        try:
            data[name] = (path / name).read_bytes()
        except FileNotFoundError:
            raise CheckpointDamaged(f"{name} is missing") from None
        except OSError as exc:
            raise CheckpointDamaged(f"{name} is unreadable ({exc.strerror})") from None
        if hashlib.sha256(data[name]).hexdigest() != sums.get(name):
            raise CheckpointDamaged(f"{name} does not match its checksum ({len(data[name])} bytes)")
    try:
        tensors = safetensors.torch.load(data[TENSORS])
        meta = json.loads(data[STATE])
    except (safetensors.SafetensorError, ValueError) as exc:
        raise CheckpointDamaged(f"it cannot be parsed ({type(exc).__name__})") from None
    missing = [k for k in ("step", "rng", "optimizers", "extra") if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise CheckpointDamaged(f"{STATE} lacks {', '.join(missing)}")
    return tensors, meta


def _check_model(tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights from `tensors`, after checking that names and shapes fit and values are finite."""
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = model.state_dict()
    if set(weights) != set(expected):
        odd = sorted(set(weights) ^ set(expected))
        raise CheckpointDamaged(f"its weights do not fit the model ({len(odd)} names differ, e.g. {odd[0]})")
    for k, v in weights.items():
        if v.shape != expected[k].shape:
            raise CheckpointDamaged(f"weight {k} has shape {tuple(v.shape)}; the model needs "
                                    f"{tuple(expected[k].shape)}")
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointDamaged(f"weight {k} holds NaN or infinite values")
    return weights


def _check_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Set the saved RNG states on throw-away generators: a bad state fails here, before anything changes."""
    try:
        torch.Generator().set_state(tensors["rng.torch"])
        kind, pos, has_gauss, gauss = meta["rng"]["numpy"]
        np.random.RandomState().set_state((kind, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss,
                                           gauss))
        version, internal, gauss_next = meta["rng"]["python"]
        random.Random().setstate((version, tuple(internal), gauss_next))
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise CheckpointDamaged(f"its RNG state is invalid ({type(exc).__name__})") from None


def load(path: Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
         device: torch.device) -> dict[str, Any]:
    """Restore model, optimizers and RNG states from checkpoint folder `path` (verified); return its state.json."""
    tensors, meta = read(path)
    weights = _check_model(tensors, model)
    _check_rng(tensors, meta)
    try:
        model.load_state_dict(weights)
        for name, opt in optimizers.items():
            opt.load_state_dict(_optimizer_join(name, tensors, meta["optimizers"][name]))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise CheckpointDamaged(f"its optimizer state does not fit ({type(exc).__name__})") from None
    set_rng_state(tensors, meta["rng"])
    return meta


def load_newest_good(folder: Path, restore: Callable[[Path], T], move_aside: bool = False,
                     quiet: bool = False) -> tuple[Path, T] | None:
    """`restore(path)` on the newest checkpoint; if it is damaged, on the one before, and so on.

    Each damaged checkpoint skipped is reported in one line (unless `quiet`) and, with `move_aside`, renamed
    damaged-step-XXXXXXXX so that training can write that step again. None when `folder` holds no checkpoint;
    a one-line CheckpointDamaged, and nothing moved, when none is good.
    """
    damaged: list[tuple[Path, CheckpointDamaged]] = []
    for path in reversed(complete(folder)):
        try:
            value = restore(path)
        except CheckpointDamaged as exc:
            damaged.append((path, exc))
            continue
        for bad, exc in damaged:
            note = ""
            if move_aside:
                aside = bad.with_name(DAMAGED + bad.name)
                shutil.rmtree(aside, ignore_errors=True)
                os.rename(bad, aside)
                note = f" (moved aside to {aside.name})"
            if not quiet:
                print(f"dlf: warning: checkpoint {bad} is damaged: {exc}{note}; using {path.name}", file=sys.stderr)
        return path, value
    if damaged:
        tried = "; ".join(f"{p.name} ({exc})" for p, exc in damaged)
        raise CheckpointDamaged(f"no usable checkpoint in {folder}: {tried}; start again with a new --out")
    return None


def load_weights(path: Path, model: torch.nn.Module) -> Path:
    """Only the model weights (for sampling or evaluating a finished run), from the newest good checkpoint in
    the folder of `path` (`path` itself unless it is damaged, which is said). Returns the checkpoint used."""

    def weights_only(p: Path) -> None:
        model.load_state_dict(_check_model(read(p)[0], model))

    found = load_newest_good(path.parent, weights_only) if path.parent.exists() else None
    if found is None:
        raise CheckpointDamaged(f"checkpoint {path} is missing")
    return found[0]
