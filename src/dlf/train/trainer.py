"""The one training loop every deep model in dlf uses.

    for step in range(start, total):
        batch  = train.get(order(seed, step))       # same examples for the same (seed, step), so resume is exact
        losses = task(batch)                        # Task.training_step, wrapped by DDP / torch.compile
        loss.backward(); clip; optimizer.step()     # or the task's own optimizer_step (GAN, RL)
        log / evaluate / checkpoint every N steps

Device choice, mixed precision, gradient clipping, the learning-rate schedule, evaluation, metrics (jsonl and
optionally TensorBoard), atomic checkpoints with exact resume, Ctrl-C, NaN detection and DDP live here once.
Each step's units (Task.unit, Task.units) are counted into the run, over training time with evaluation and
checkpoints left out: the throughput in timing.json.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from dlf.errors import ConfigError, DlfError
from dlf.runtime import pick_device
from dlf.train import checkpoint, distributed
from dlf.train.config import TrainConfig
from dlf.train.task import BatchSource, Task


class TrainingStopped(DlfError):
    """Ctrl-C or SIGTERM: a checkpoint was saved and the run can be resumed."""

    exit_code = 130
    keep_run = True


class TrainingDiverged(DlfError):
    """The loss became NaN or infinite."""

    exit_code = 3
    keep_run = True


def lr_factor(cfg: TrainConfig, step: int, total: int) -> float:
    """Multiplier of cfg.lr at `step`: linear warm-up, then constant, cosine, linear or one-cycle decay."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    span = max(1, total - cfg.warmup_steps)
    t = min(1.0, (step - cfg.warmup_steps) / span)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if cfg.schedule == "linear":
        return 1.0 - t
    # one-cycle: up for the first 25% (from 0.1x), then cosine down to 0
    if t < 0.25:
        return 0.1 + 0.9 * t / 0.25
    return 0.5 * (1 + math.cos(math.pi * (t - 0.25) / 0.75))


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """The global batch for `step`: epoch e is a permutation drawn from (seed, e); incomplete batches are dropped."""
    per_epoch = n // batch_size
    epoch, i = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)[i * batch_size:(i + 1) * batch_size]


@dataclass
class TrainResult:
    step: int
    train: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Train `task` on `train` (and evaluate on `val`) under `cfg`, writing into `run`."""

    def __init__(self, cfg: TrainConfig, run, task: Task, train: BatchSource | None, val: BatchSource | None = None):
        self.cfg, self.run, self.train, self.val = cfg, run, train, val
        self.device = pick_device(cfg.device)
        self.distributed = distributed.init(self.device)
        self.world, self.rank = distributed.world_size(), distributed.rank()
        if cfg.batch_size % self.world:
            raise ConfigError(f"--batch-size {cfg.batch_size} must be divisible by the {self.world} processes")
        if train is not None and len(train) < cfg.batch_size:
            raise ConfigError(f"--batch-size {cfg.batch_size} is larger than the {len(train)} training examples")
        self.task = task.to(self.device)
        self.optimizers = task.configure_optimizers(cfg)
        self.base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in self.optimizers.items()}
        self.steps_per_epoch = len(train) // cfg.batch_size if train is not None else 1
        total = math.ceil(cfg.epochs * self.steps_per_epoch)
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.module = self._wrap(task)
        self.ckpt_dir = run.path / "checkpoints"
        self.step = 0
        self.elapsed = 0.0  # seconds spent in fit(), over all resumes (for --time-limit)
        self.aside_s = 0.0  # seconds of fit() spent evaluating and checkpointing (left out of the throughput)
        self.sums: dict[str, float] = {}
        self.count = 0
        self.last_val: dict[str, float] = {}
        self.last_train: dict[str, float] = {}
        self._stop_signal: int | None = None
        self.tb = self._tensorboard() if cfg.tensorboard and run.enabled else None
        if run.resume:
            self._restore()

    # set-up ------------------------------------------------------------------------------------------------
    def _amp_dtype(self) -> torch.dtype | None:
        if not self.cfg.amp or self.device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def _wrap(self, task: Task) -> torch.nn.Module:
        module: torch.nn.Module = task
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = torch.nn.parallel.DistributedDataParallel(task, device_ids=ids)
        if self.cfg.compile:
            module = torch.compile(module)
        return module

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
        return SummaryWriter(str(self.run.path / "tensorboard"))

    def _restore(self) -> None:
        """Continue from the newest good checkpoint (a damaged one is reported, moved aside and skipped)."""
        found = checkpoint.load_newest_good(self.ckpt_dir, self._restore_from,  # warns on rank 0 even if quiet
                                            move_aside=self.rank == 0 and self.run.enabled, quiet=self.rank != 0)
        quiet = self.run.quiet or self.rank != 0
        if found is None:
            self.run.truncate_metrics(-1)
            return
        self.run.truncate_metrics(self.step)
        if not quiet:
            print(f"resuming {self.run.path} from step {self.step}")

    def _restore_from(self, path) -> None:
        """Model, optimizers, RNG (checked by checkpoint.load), then the loop's own counters from state.json."""
        meta = checkpoint.load(path, self.task, self.optimizers, self.device)
        try:
            extra = meta["extra"]
            self.step = int(meta["step"])
            self.elapsed = float(extra.get("elapsed", 0.0))
            self.sums = {k: torch.tensor(float(v), dtype=torch.float64, device=self.device)
                         for k, v in extra["sums"].items()}
            self.count = int(extra["count"])
            self.last_val, self.last_train = dict(extra["last_val"]), dict(extra["last_train"])
            self.task.load_state_json(extra.get("task", {}))
            if self.scaler is not None and extra.get("scaler"):
                self.scaler.load_state_dict(extra["scaler"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:80]}"
            raise checkpoint.CheckpointDamaged(f"its state.json is inconsistent ({reason})") from None
        if path.name != f"{checkpoint.PREFIX}{self.step:08d}":
            raise checkpoint.CheckpointDamaged(f"its state.json says step {self.step}")

    # the loop ----------------------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train to cfg.epochs (or cfg.max_steps); returns the last train and validation metrics."""
        handlers = self._install_signals()
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", leave=False, dynamic_ncols=True,
                   disable=True if self.run.quiet or self.rank else None)
        tick, seen = time.perf_counter(), 0
        started, elapsed0 = tick, self.elapsed
        units, self.aside_s = 0, 0.0  # units trained on; seconds spent evaluating and checkpointing
        try:
            while self.step < self.total_steps:
                self.elapsed = elapsed0 + time.perf_counter() - started
                batch = self._batch(self.step)
                self._set_lr(self.step)
                metrics = self._train_step(batch)
                units += self.task.units(batch, self.cfg.batch_size)
                self.step += 1
                seen += self.cfg.batch_size
                self._accumulate(metrics)
                bar.update(1)
                if self.step % self.cfg.log_every == 0 or self.step == self.total_steps:
                    elapsed = time.perf_counter() - tick
                    self._log_train(seen / max(elapsed, 1e-9))
                    bar.set_postfix(loss=f"{self.last_train.get('loss', float('nan')):.4f}")
                    tick, seen = time.perf_counter(), 0
                out_of_time = self._out_of_time(elapsed0 + time.perf_counter() - started)
                if out_of_time and self.count:
                    self._log_train(seen / max(time.perf_counter() - tick, 1e-9))
                if (self._eval_due() or out_of_time) and self.val is not None:
                    self.last_val = self.evaluate(self.val)
                    self._log({f"val_{k}": v for k, v in self.last_val.items()})
                if self.step % self.cfg.ckpt_every == 0 or self.step == self.total_steps:
                    self.save()
                if self.task.should_stop() or out_of_time:
                    self.elapsed = elapsed0 + time.perf_counter() - started
                    self.save()
                    break
                if self._stop_signal is not None:
                    self.save()
                    raise TrainingStopped(f"interrupted at step {self.step}; checkpoint saved, "
                                          f"continue with: dlf run {self.run.name} --resume {self.run.path}")
        finally:
            bar.close()
            self._restore_signals(handlers)
            if units:  # throughput for timing.json: training time only, evaluation and checkpoints left out
                self.run.count(self.task.unit, units, time.perf_counter() - started - self.aside_s)
            if self.tb is not None:
                self.tb.close()
        return TrainResult(self.step, dict(self.last_train), dict(self.last_val))

    def _batch(self, step: int):
        if self.train is None:
            return None
        if getattr(self.train, "ordered", False):  # e.g. text streams whose recurrent state carries over
            start = (step % self.steps_per_epoch) * self.cfg.batch_size
            idx = torch.arange(start, start + self.cfg.batch_size)
        else:
            idx = batch_indices(len(self.train), self.cfg.batch_size, self.cfg.seed, step)
        local = self.cfg.batch_size // self.world
        idx = idx[self.rank * local:(self.rank + 1) * local]
        return to_device(self.train.get(idx), self.device)

    def _out_of_time(self, elapsed: float) -> bool:
        if self.cfg.time_limit <= 0:
            return False
        late = elapsed >= 60 * self.cfg.time_limit
        if not self.distributed:
            return late
        flag = torch.tensor([float(late)], device=self.device)  # every process stops at the same step
        return bool(distributed.all_reduce_sum(flag).item() > 0)

    def _set_lr(self, step: int) -> None:
        if self.cfg.time_limit > 0:  # the schedule follows the clock: it ends when the time does
            step = max(step, int(self.elapsed / (60 * self.cfg.time_limit) * self.total_steps))
        f = lr_factor(self.cfg, step, self.total_steps)
        for name, opt in self.optimizers.items():
            for group, base in zip(opt.param_groups, self.base_lrs[name]):
                group["lr"] = base * f

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def _train_step(self, batch) -> dict[str, torch.Tensor]:
        self.task.train()
        if self.task.optimizer_step is not None:
            metrics = self.task.optimizer_step(batch, self)
        else:
            metrics = self.default_step(batch)
        loss = metrics["loss"].detach()
        if not torch.isfinite(loss):
            ckpts = checkpoint.complete(self.ckpt_dir)
            kept = f"the last good checkpoint is {ckpts[-1]}" if ckpts else "no checkpoint was written yet"
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: loss is {loss.item()}; {kept}; "
                                   "lower --lr or set --grad-clip")
        return metrics

    def default_step(self, batch) -> dict[str, torch.Tensor]:
        """forward, backward, clip, step: the update every single-optimizer model uses."""
        (opt,) = self.optimizers.values()
        opt.zero_grad(set_to_none=True)
        with self.autocast():
            metrics = self.module(batch)
        self.backward_and_step(metrics["loss"], opt)
        return metrics

    def backward_and_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer, params=None) -> None:
        """Backward with loss scaling when fp16, gradient clipping, optimizer step (for custom steps too)."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(opt)
        else:
            loss.backward()
        if self.cfg.grad_clip > 0:
            params = params if params is not None else [p for g in opt.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()

    # metrics -----------------------------------------------------------------------------------------------
    def _accumulate(self, metrics: dict[str, torch.Tensor]) -> None:
        # float64 sums on the device: no host sync per step, and exact through a checkpoint (float(x) round-trips)
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach().double()
        self.count += 1

    def _log_train(self, throughput: float) -> None:
        self.last_train = {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}
        lr = next(iter(self.optimizers.values())).param_groups[0]["lr"]
        self._log({**{f"train_{k}": v for k, v in self.last_train.items()}, "lr": lr,
                   "epoch": self.step / self.steps_per_epoch}, samples_per_s=round(throughput, 1))
        self.sums, self.count = {}, 0

    def _log(self, metrics: dict[str, float], **timing: float) -> None:
        if self.rank != 0:
            return
        self.run.log(self.step, **metrics, **timing)
        if self.tb is not None:
            for k, v in metrics.items():
                self.tb.add_scalar(k.replace("_", "/", 1), v, self.step)

    def _eval_due(self) -> bool:
        every = self.cfg.eval_every or self.steps_per_epoch
        return self.step % every == 0 or self.step == self.total_steps

    @torch.no_grad()
    def evaluate(self, data: BatchSource, batch_size: int = 1000) -> dict[str, float]:
        """Mean of validation_step's metrics over `data`, each process taking a share, summed over processes."""
        clock = time.perf_counter()
        self.task.eval()
        n = len(data)
        share = torch.arange(n)[self.rank::self.world]
        # A process whose share is empty (fewer items than processes) still scores one item, with weight 0,
        # so that every process all-reduces the same metrics and none waits forever.
        weight = 1.0 if len(share) else 0.0
        share = share if len(share) else torch.arange(min(n, 1))
        sums: dict[str, torch.Tensor] = {}
        for start in range(0, len(share), batch_size):
            idx = share[start:start + batch_size]
            with self.autocast():
                out = self.task.validation_step(to_device(data.get(idx), self.device))
            for k, v in out.items():
                sums[k] = sums.get(k, 0) + v.double() * len(idx) * weight
        keys = sorted(sums)
        total = torch.stack([sums[k] for k in keys]).to(self.device) if keys else torch.zeros(0)
        total = distributed.all_reduce_sum(total).cpu()
        self.task.train()
        self.aside_s += time.perf_counter() - clock
        return {k: float(total[i]) / n for i, k in enumerate(keys)}

    # checkpoints and signals -------------------------------------------------------------------------------
    def save(self) -> None:
        """Checkpoint now (rank 0 only); everything needed to continue exactly."""
        bad = next((n for n, t in self.task.state_dict().items() if t.is_floating_point() and
                    not torch.isfinite(t).all()), None)
        if bad is not None:  # never checkpoint weights that diverged: the previous checkpoint stays the newest
            raise TrainingDiverged(f"training diverged at step {self.step}: {bad} holds NaN or inf; "
                                   "lower --lr or set --grad-clip")
        clock = time.perf_counter()
        if self.rank == 0 and self.run.enabled:
            extra = {"sums": {k: float(v) for k, v in self.sums.items()}, "count": self.count,
                     "elapsed": self.elapsed,
                     "last_val": self.last_val, "last_train": self.last_train,
                     "scaler": self.scaler.state_dict() if self.scaler else None, "task": self.task.state_json()}
            checkpoint.save(self.ckpt_dir, self.step, self.task, self.optimizers, extra, self.cfg.keep_checkpoints)
            self.run.keep = True
        distributed.barrier()
        self.aside_s += time.perf_counter() - clock

    def _install_signals(self) -> dict[int, Any]:
        """Ctrl-C / SIGTERM finish the current step, save and stop; a second Ctrl-C stops at once."""

        def on_stop(signum, frame):
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = signum

        try:
            return {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave signals alone
            return {}

    @staticmethod
    def _restore_signals(handlers: dict[int, Any]) -> None:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch
