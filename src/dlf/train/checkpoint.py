"""Checkpoints as safetensors + JSON, written atomically, no pickle.

    RUN/checkpoints/step-00000500/
        tensors.safetensors   model weights, optimizer moments, torch RNG states
        state.json            step, optimizer hyper-parameters, python/numpy RNG, trainer counters

A checkpoint is built in a temporary folder and renamed into place, so a run killed at any moment (SIGKILL
included) leaves only complete checkpoints behind; half-built `.tmp-*` folders are ignored and swept up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from dlf.errors import DlfError

PREFIX = "step-"


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


def save(folder: Path, step: int, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
         extra: dict[str, Any], keep: int = 2) -> Path:
    """Write checkpoint `step` atomically into folder/step-XXXXXXXX and keep only the `keep` newest."""
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
    save_file(tensors, str(tmp / "tensors.safetensors"))
    with open(tmp / "state.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(tmp)
    os.rename(tmp, final)
    _fsync_dir(folder)
    for old in complete(folder)[:-keep]:
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


def load(path: Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
         device: torch.device) -> dict[str, Any]:
    """Restore model, optimizers and RNG states from checkpoint folder `path`; return its state.json."""
    try:
        tensors = load_file(str(path / "tensors.safetensors"))
        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DlfError(f"checkpoint {path} is unreadable ({exc}); delete it to resume from an earlier one") from None
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(weights)
    for name, opt in optimizers.items():
        opt.load_state_dict(_optimizer_join(name, tensors, meta["optimizers"][name]))
    set_rng_state(tensors, meta["rng"])
    return meta


def load_weights(path: Path, model: torch.nn.Module) -> None:
    """Only the model weights (for sampling or evaluating a finished run)."""
    tensors = load_file(str(path / "tensors.safetensors"))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
