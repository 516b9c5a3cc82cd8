"""Run one experiment under the run contract; used by the CLI, the tour and the tests (in-process)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from dlf import registry
from dlf.config import BaseConfig, dumps
from dlf.errors import ConfigError, DlfError
from dlf.rundir import Run, default_out, format_summary
from dlf.runtime import seed_everything


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process so far, and peak GPU memory allocated by PyTorch, in MB."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = {"peak_rss_mb": round(rss / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)}
    torch = sys.modules.get("torch")  # not imported by a run that never used it (word2vec)
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        peak["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / (1 << 20), 1)
    return peak


def load_run_config(name: str, path: Path) -> BaseConfig:
    """The config saved in a run folder, for --resume and for commands that read a finished run."""
    cfg_path = Path(path) / "config.json"
    if not cfg_path.exists():
        raise DlfError(f"{path} holds no config.json; give the folder of a run made by 'dlf run'")
    try:
        data = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise DlfError(f"{cfg_path} is not valid JSON ({why}); the run folder is damaged") from None
    saved = data.pop("experiment", None) if isinstance(data, dict) else None
    if not isinstance(saved, str) or saved not in registry.BY_NAME:
        raise DlfError(f"{cfg_path} names no known experiment; the run folder is damaged")
    if name and saved != name:
        raise DlfError(f"{path} is a '{saved}' run, not '{name}'; use 'dlf run {saved} --resume {path}'")
    try:
        return registry.get(saved).load().Config.from_dict(data)
    except ConfigError as exc:
        raise DlfError(f"{cfg_path}: {exc}; the run folder is damaged") from None


def execute(
    name: str,
    cfg: BaseConfig | None = None,
    out: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    quiet: bool = False,
) -> tuple[Run, dict[str, Any]]:
    """Run experiment `name` with `cfg` into `out` (or continue the run in `resume`); return the run and summary."""
    exp = registry.get(name)
    module = exp.load()
    if resume is not None:
        cfg = load_run_config(name, Path(resume))
        path = Path(resume)
    else:
        cfg = cfg if cfg is not None else module.Config()
        cfg.validate()
        path = Path(out) if out is not None else default_out(name)
    run = Run.create(path, dumps(cfg, name), resume=resume is not None, enabled=is_rank_zero(), name=name,
                     data_dir=data_dir, quiet=quiet)
    seed_everything(cfg.seed)
    start = time.perf_counter()
    try:
        summary = module.run(cfg, run)
    except DlfError as exc:
        if not (run.keep or exc.keep_run):
            run.discard()
        raise
    finally:
        run.close()
    run.timing.setdefault("wall_time_s", round(time.perf_counter() - start, 3))
    run.timing.update(run.throughput())
    run.timing.update(peak_memory())
    run.write_summary(summary, run.timing)
    if not quiet and run.enabled:
        print(f"\n{name} finished. Summary:")
        print(format_summary(summary, run.timing, name, cfg.to_dict()))
        print(f"run directory: {run.path}")
    return run, summary
