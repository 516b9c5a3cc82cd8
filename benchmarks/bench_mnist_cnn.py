"""Training time to 99.0% MNIST test accuracy: dlf's `mnist-cnn` against the PyTorch examples' MNIST recipe.

The peer is the well-known recipe of pytorch/examples' mnist/main.py, rebuilt here from it: 2 conv layers (32, 64
channels, 3x3) + max-pool + dropout 0.25, fc 9216->128 + dropout 0.5, fc 10; Adadelta with lr 1.0, batch 64,
StepLR gamma 0.7 each epoch, inputs normalised with (0.1307, 0.3081), seed 1. Its recipe is kept as it is; the one
change is the evaluation cadence: main.py scores the test set once per epoch, which only bounds the moment it
passes 99%, so here both sides score the full 10,000-image test set every `--eval-fraction` of an epoch (default
1/4) and at the end of each epoch.

The clock counts training only: it starts at the first step and stops while the test set is scored. The time
spent scoring is reported apart (`eval_seconds`, `evaluations`). For dlf the clock wraps the shared Trainer's
fit() and evaluate() in the benchmark process, so dlf's own steps, logging and data handling are all on it.
The example stops at the target; dlf runs its recipe to the end and also reports its final accuracy.

The two run interleaved under the benchmark protocol (benchmarks/_protocol.py): dlf, the example, dlf, the
example ... (--pairs, default 3), each in its own process, with each pair's ratio, the median ratio, and each
process's peak RSS as /usr/bin/time reports it. Run it on a quiet machine (the example takes about 9 minutes a
run on the 2-core development CPU):

    DLF_DATA_DIR=path/to/data python benchmarks/bench_mnist_cnn.py [--target 0.99] [--eval-fraction 0.25]
        [--max-epochs 14] [--dlf-default] [--dlf-set KEY=VALUE ...] [--pairs 3] [--json out.json]

dlf runs its fast recipe (FAST below) unless --dlf-default asks for the experiment's defaults (the 99.5%
configuration); --dlf-set changes one option of it, to try another recipe (e.g. --dlf-set width=12).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _protocol import Metric, Side, add_arguments, interleave, load, report, save_json
from torch import nn


class ExampleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
        self.drop1, self.drop2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = self.drop1(x).flatten(1)
        return self.fc2(self.drop2(F.relu(self.fc1(x))))


def run_example(target: float, max_epochs: int, eval_fraction: float, data_dir) -> dict:
    from dlf.data.mnist import load_mnist
    from dlf.experiments._mnist import normalize

    torch.manual_seed(1)
    xtr, ytr = load_mnist("train", data_dir)
    xte, yte = load_mnist("test", data_dir)
    model = ExampleNet()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    per_epoch = -(-len(xtr) // 64)
    every = max(1, int(per_epoch * eval_fraction))
    clock, step, history = 0.0, 0, []
    for _ in range(max_epochs):
        order = torch.randperm(len(xtr))
        for i in range(per_epoch):
            t0 = time.perf_counter()
            idx = order[i * 64:(i + 1) * 64]
            model.train()
            opt.zero_grad()
            F.cross_entropy(model(normalize(xtr[idx])), ytr[idx]).backward()
            opt.step()
            clock += time.perf_counter() - t0
            step += 1
            if step % every == 0 or i == per_epoch - 1:
                t0 = time.perf_counter()
                acc = evaluate(model, xte, yte)
                history.append((step, clock, acc, time.perf_counter() - t0))
                if acc >= target:
                    return result("pytorch-example", history, target, 64)
        sched.step()
    return result("pytorch-example", history, target, 64)


@torch.no_grad()
def evaluate(model, x, y) -> float:
    from dlf.experiments._mnist import normalize

    model.eval()
    correct = sum(int((model(normalize(x[i:i + 1000])).argmax(1) == y[i:i + 1000]).sum())
                  for i in range(0, len(x), 1000))
    return correct / len(x)


# dlf's fast recipe: the mnist-cnn experiment with a narrower network, batches of 256 (cheap per image on a CPU), a
# one-cycle schedule that ends soon after the target (its accuracy jumps as the rate anneals) and no augmentation
# (which helps the final accuracy, not the first epoch). Scored every 1/8 epoch on 2026-12-01, its 1-epoch version
# first reached 99.01% after 0.99 epoch, with no margin; this 1.25-epoch one reached 99.06% after 1.11 epochs
# and ended at 99.09% (docs/mnist.md; the machine was loaded, so no time figure).
FAST = {"width": 16, "batch_size": 256, "lr": 5e-3, "epochs": 1.25, "augment": False}


def run_dlf(target: float, eval_fraction: float, data_dir, options: dict) -> dict:
    """dlf's mnist-cnn through the shared Trainer, timed like the example: the clock runs from the first training
    step and stops during each evaluation (every `eval_fraction` of an epoch on the full test set)."""
    from dlf.experiments import mnist_cnn
    from dlf.runner import execute
    from dlf.train import Trainer

    batch = options.get("batch_size", mnist_cnn.Config().batch_size)
    eval_every = max(1, int((options.get("train_size") or 60000) // batch * eval_fraction))
    cfg = mnist_cnn.Config(eval_every=eval_every, log_every=eval_every, ckpt_every=10**9, device="cpu", seed=1,
                           **options)
    history, clock = [], {"start": 0.0, "paused": 0.0}
    fit, evaluate = Trainer.fit, Trainer.evaluate

    def timed_fit(self):
        clock["start"] = time.perf_counter()
        return fit(self)

    def timed_evaluate(self, data, *args, **kwargs):
        t0 = time.perf_counter()
        out = evaluate(self, data, *args, **kwargs)
        t1 = time.perf_counter()
        history.append((self.step, t0 - clock["start"] - clock["paused"], out["acc"], t1 - t0))
        clock["paused"] += t1 - t0
        return out

    Trainer.fit, Trainer.evaluate = timed_fit, timed_evaluate
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _, summary = execute("mnist-cnn", cfg, Path(tmp) / "run", data_dir=data_dir, quiet=True)
    finally:
        Trainer.fit, Trainer.evaluate = fit, evaluate
    return result(f"dlf mnist-cnn {flags(options)}".strip(), history, target, batch, final=summary["test_accuracy"])


def flags(options: dict) -> str:
    return " ".join(f"--{k.replace('_', '-')} {v:g}" if not isinstance(v, bool)
                    else f"--{'' if v else 'no-'}{k.replace('_', '-')}" for k, v in options.items())


def result(name: str, history, target: float, batch: int, final: float | None = None) -> dict:
    """history: (step, training seconds, test accuracy, evaluation seconds) at each evaluation."""
    hit = next((h for h in history if h[2] >= target), None)
    last_step, last_time = history[-1][0], history[-1][1]
    return {"name": name, "seconds_to_target": hit[1] if hit else None,
            "images_to_target": hit[0] * batch if hit else None,
            "epochs_to_target": hit[0] * batch / 60000 if hit else None,
            "eval_seconds": sum(h[3] for h in history), "evaluations": len(history),
            "final_accuracy": final if final is not None else history[-1][2], "train_seconds": last_time,
            "images_per_s": last_step * batch / max(last_time, 1e-9), "history": history}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--max-epochs", type=int, default=14,
                   help="cap for the example (main.py's 14 epochs); it stops at the target")
    p.add_argument("--eval-fraction", type=float, default=0.25, help="evaluate every this fraction of an epoch")
    p.add_argument("--dlf-default", action="store_true", help="time mnist-cnn's default config, not the fast recipe")
    p.add_argument("--dlf-set", action="append", default=[], metavar="KEY=VALUE",
                   help="change one of dlf's mnist-cnn options (e.g. width=12), to try another recipe")
    p.add_argument("--data-dir")
    p.add_argument("--only", choices=["dlf", "example"],
                   help="run one side once, in this process, and print its JSON result (what each pair runs)")
    add_arguments(p)
    return p


def dlf_options(a) -> dict:
    """FAST (or the experiment's defaults with --dlf-default), with any --dlf-set KEY=VALUE on top."""
    from dlf.experiments import mnist_cnn

    options = {} if a.dlf_default else dict(FAST)
    fields = vars(mnist_cnn.Config())
    for item in a.dlf_set:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--dlf-set {item}: mnist-cnn has no option {key!r}")
        kind = type(fields[key])
        options[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return options


def main() -> None:
    a = parser().parse_args()
    if a.only == "example":
        print(json.dumps(run_example(a.target, a.max_epochs, a.eval_fraction, a.data_dir)))
        return
    if a.only == "dlf":
        print(json.dumps(run_dlf(a.target, a.eval_fraction, a.data_dir, dlf_options(a))))
        return
    before = load()
    dlf, example = (Side(side, [sys.executable, __file__, "--only", side, *sys.argv[1:]])
                    for side in ("dlf", "example"))
    pairs = interleave(dlf, example, a.pairs, progress=lambda m: print(
        f"  {m.result['name']}: {m.result['seconds_to_target']} s to target", file=sys.stderr, flush=True))
    metrics = [Metric("seconds_to_target", f"train s to {a.target:.1%}", ",.1f"),
               Metric("images_to_target", "images to target", ",.0f"),
               Metric("epochs_to_target", "epochs to target", ".2f"),
               Metric("eval_seconds", "scoring s (off the clock)", ",.1f", ""),
               Metric("images_per_s", "images/s", ",.0f", "higher"),
               Metric("final_accuracy", "final test acc", ".4f", "higher")]
    print(report(f"MNIST, training time to {a.target:.1%} test accuracy", pairs, metrics, before,
                 note=f"dlf: `{pairs[0][0].result['name']}`; peer: the PyTorch MNIST example's recipe "
                      f"(evaluation every {a.eval_fraction:g} epoch, not on the clock)"))
    save_json(a.json, "bench_mnist_cnn", pairs)


if __name__ == "__main__":
    main()
