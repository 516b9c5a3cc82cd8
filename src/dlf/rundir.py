"""The run contract: what every `dlf run NAME --out DIR` leaves on disk.

    DIR/config.json     the experiment name and every config value
    DIR/metrics.jsonl   one JSON object per logged step
    DIR/summary.json    final figures, flat keys; the same seed on the same device gives the same file
    DIR/timing.json     wall-clock figures (kept apart so that summary.json stays reproducible)
    DIR/*.png           plots
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dlf.errors import DlfError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean(value: Any) -> Any:
    """Plain JSON numbers: tensors and numpy scalars become floats/ints, NaN becomes None."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def default_out(name: str, root: str | os.PathLike = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{name}-{stamp}"


def _metrics_record(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    ok = isinstance(record, dict) and isinstance(record.get("step"), int)
    return record if ok else None


def read_metrics_file(path: Path) -> list[tuple[dict[str, Any], str]]:
    """Each line of a metrics.jsonl as (record, line). A last line without its newline that starts like a record
    is a write cut short by a kill and is left out; any other line that is not a record is a one-line error."""
    *lines, tail = path.read_bytes().split(b"\n")  # tail: b"" when the file ends with a newline
    out = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record = _metrics_record(raw)
        if record is None:
            raise DlfError(f"{path} line {number} is not a metrics record: the run folder is damaged; "
                           "restore that file or start a new run")
        out.append((record, raw.decode("utf-8")))
    head = b'{"step": '
    if tail.strip() and not (tail.startswith(head) or head.startswith(tail)):
        raise DlfError(f"{path} ends in {len(tail)} bytes that are not a metrics record: the run folder is damaged; "
                       "restore that file or start a new run")
    return out


@dataclass
class Run:
    """A run directory (config, metrics, summary, plots) and how the run was started: what an experiment's
    `run(cfg, run)` receives. Only rank 0 writes (`enabled=False` elsewhere)."""

    path: Path
    name: str = ""
    """The experiment's name, for messages such as 'continue with: dlf run NAME --resume DIR'."""
    enabled: bool = True
    """Whether this process writes (rank 0 under torchrun)."""
    resume: bool = False
    """Whether this run continues from the checkpoints in `path`."""
    data_dir: Path | None = None
    """The --data-dir given, if any (else the data lookup's defaults)."""
    quiet: bool = False
    """No progress bars and no summary table."""
    keep: bool = False
    """Keep the folder if the run fails (set once it holds a checkpoint worth resuming from)."""
    timing: dict[str, float] = field(default_factory=dict)
    """Wall-clock figures, written to timing.json (apart from summary.json, which stays reproducible)."""
    counted: dict[str, list[float]] = field(default_factory=dict)
    """Training throughput so far: unit name -> [units processed, seconds it took] (see count)."""
    _metrics: IO[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.data_dir = Path(self.data_dir) if self.data_dir is not None else None

    @classmethod
    def create(cls, path: Path, config_json: str, *, resume: bool = False, enabled: bool = True, name: str = "",
               data_dir: str | os.PathLike | None = None, quiet: bool = False) -> Run:
        """Make the folder (a fresh one must not hold an earlier run) and write config.json."""
        path = Path(path)
        run = cls(path, name=name, enabled=enabled, resume=resume, data_dir=data_dir, quiet=quiet, keep=resume)
        if not enabled:
            return run
        if not resume and (path / "config.json").exists():
            raise DlfError(f"{path} already holds a run; pick another --out, or continue it with --resume {path}")
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or exc
            raise DlfError(f"cannot write to output directory {path}: {reason}; choose another --out") from None
        if not resume:
            atomic_write_text(path / "config.json", config_json)
        return run

    # metrics -----------------------------------------------------------------------------------------------
    def log(self, step: int, **metrics: Any) -> None:
        """Append one line to metrics.jsonl (flushed at once, so a killed run keeps what it logged)."""
        if not self.enabled:
            return
        if self._metrics is None:
            self._metrics = open(self.path / "metrics.jsonl", "a", encoding="utf-8")
        record = {"step": int(step), **{k: _clean(v) for k, v in metrics.items()}}
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()

    def truncate_metrics(self, last_step: int) -> None:
        """On resume: drop metric lines logged after the checkpoint (and a last line torn by a kill)."""
        path = self.path / "metrics.jsonl"
        if not self.enabled or not path.exists():
            return
        kept = []
        for record, line in read_metrics_file(path):
            if record["step"] > last_step:
                break
            kept.append(line + "\n")
        atomic_write_text(path, "".join(kept))

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        return [record for record, _ in read_metrics_file(path)]

    # throughput --------------------------------------------------------------------------------------------
    def count(self, unit: str, units: float, seconds: float) -> None:
        """Add `units` of training work (examples, characters, words, env_steps...) done in `seconds`."""
        total = self.counted.setdefault(unit, [0.0, 0.0])
        total[0] += units
        total[1] += seconds

    def throughput(self) -> dict[str, Any]:
        """timing.json's throughput: the unit counted first, its units per second of training and their number.

            throughput_unit  "examples" | "characters" | "words" | "env_steps" | ...
            throughput_per_s units / seconds,   throughput_units  units processed
        A unit counted besides the first gets {unit}_per_s.
        """
        out: dict[str, Any] = {}
        for unit, (units, seconds) in self.counted.items():
            rate = round(units / seconds, 1) if seconds > 0 else None
            if not out:
                out = {"throughput_unit": unit, "throughput_per_s": rate, "throughput_units": int(units)}
            else:
                out[f"{unit}_per_s"] = rate
        return out

    # results -----------------------------------------------------------------------------------------------
    def write_summary(self, summary: dict[str, Any], timing: dict[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        flat = {k: _clean(v) for k, v in summary.items()}
        atomic_write_text(self.path / "summary.json", json.dumps(flat, indent=2, sort_keys=True) + "\n")
        if timing:
            clean = {k: _clean(v) for k, v in timing.items()}
            atomic_write_text(self.path / "timing.json", json.dumps(clean, indent=2, sort_keys=True) + "\n")

    def save_figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure as DIR/name.png (written atomically) and close it."""
        import matplotlib.pyplot as plt

        out = self.path / f"{name}.png"
        if self.enabled:
            tmp = self.path / f".{name}.tmp.png"
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
            os.replace(tmp, out)
        plt.close(fig)
        return out

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None

    def discard(self) -> None:
        """Remove a run folder that this invocation created and that holds nothing worth keeping."""
        self.close()
        if self.enabled and self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)


def format_summary(summary: dict[str, Any], timing: dict[str, Any] | None = None, experiment: str = "",
                   config: dict[str, Any] | None = None) -> str:
    """The short table printed at the end of a run, led by a one-line headline in words (dlf.report.headline)."""
    from dlf.report import headline

    rows = [(k, v) for k, v in summary.items()] + [(k, v) for k, v in (timing or {}).items()]
    if not rows:
        return ""
    lead = headline(experiment, summary, timing, config) if experiment else ""
    width = max(len(k) for k, _ in rows)

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.6g}"
        return str(v)

    table = "\n".join(f"  {k:<{width}}  {fmt(v)}" for k, v in rows)
    return f"  {lead}\n{table}" if lead else table
