"""The generative models of MNIST (pixelcnn, vae, gan) for a fixed wall-clock budget each, against the papers.

Each model runs as `dlf run NAME --time-limit MIN [options]` in its own subprocess, one after another, measured
as the benchmark protocol measures (benchmarks/_protocol.py): peak memory is the max RSS of the process tree as
/usr/bin/time reports it, and wall time covers training plus the final evaluation (IWAE k=1000, Parzen windows,
Fréchet distance). The peers are the papers' published figures, not processes, so there is nothing to interleave
and no ratio. The table puts each figure beside the paper's, under the date and the machine:

    | model | budget | steps | figure | dlf | paper | wall s | peak RSS MB | peak GPU MB |

    DLF_DATA_DIR=path/to/data python benchmarks/bench_generative.py [--minutes 30] [--only pixelcnn,vae]
    python benchmarks/bench_generative.py --table RUNS_DIR        # tabulate finished runs (e.g. from a GPU box)

Extra options for one model go after `--NAME-args`, e.g. `--gan-args "--arch dcgan"`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from _protocol import Side, header, load, measure

MODELS = ("pixelcnn", "vae", "gan")

# (summary key, label, paper's figure, which way is better)
FIGURES = {
    "pixelcnn": [("test_nll_nats", "test NLL (nats)", "81.30 (PixelCNN); 79.20 (best)", "lower"),
                 ("test_bits_per_dim", "bits/dim", "", "lower")],
    "vae": [("test_iwae_nll_nats", "IWAE NLL k=1000 (nats)", "86.76 (VAE, 1 layer; Burda et al.)", "lower"),
            ("test_elbo_nats", "test ELBO (nats)", "", "higher")],
    "gan": [("parzen_test_ll", "Parzen log-lik. (nats)", "225 ± 2 (GAN); 214 (Deep GSN); 138 (DBN)", "higher"),
            ("fd_classifier", "Fréchet dist. (dlf CNN)", "", "lower")],
}


def run_one(name: str, minutes: float, out: Path, extra: list[str], device: str) -> dict:
    cmd = [sys.executable, "-m", "dlf", "run", name, "--out", str(out), "--quiet", "--device", device,
           "--time-limit", str(minutes), *extra]
    print("$", shlex.join(cmd[1:]), file=sys.stderr, flush=True)
    m = measure(Side(name, cmd), expect_json=False)
    return {"wall_s": m.wall_s, "peak_rss_mb": m.peak_rss_mb}


def table(rows: list[tuple[str, Path, dict]]) -> str:
    lines = ["| model | budget (min) | steps | figure | dlf | paper | wall s | peak RSS MiB | peak GPU MB |",
             "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: |"]
    for name, path, measured in rows:
        summary = json.loads((path / "summary.json").read_text())
        cfg = json.loads((path / "config.json").read_text())
        timing = json.loads((path / "timing.json").read_text()) if (path / "timing.json").exists() else {}
        wall = measured.get("wall_s", timing.get("wall_time_s", float("nan")))
        rss = measured.get("peak_rss_mb", timing.get("peak_rss_mb"))
        gpu = timing.get("peak_gpu_mb")
        for i, (key, label, paper, _) in enumerate(FIGURES[name]):
            value = summary.get(key)
            first = i == 0
            lines.append(" | ".join([
                "", name if first else "", f"{cfg.get('time_limit', 0):g}" if first else "",
                str(summary.get("steps", "")) if first else "", label,
                f"{value:.2f}" if isinstance(value, (int, float)) else "-", paper,
                f"{wall:.0f}" if first else "", f"{rss:.0f}" if first and rss else "",
                f"{gpu:.0f}" if first and gpu else "", ""]).strip())
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="training budget per model (default: 30)")
    p.add_argument("--only", default=",".join(MODELS), help="comma list of models (default: all three)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--out", default="runs/bench-generative", help="folder for the runs")
    p.add_argument("--table", metavar="RUNS_DIR", help="only tabulate finished runs RUNS_DIR/{pixelcnn,vae,gan}")
    for name in MODELS:
        p.add_argument(f"--{name}-args", default="", help=f"extra options for dlf run {name}")
    return p


def main() -> None:
    args = parser().parse_args()
    before = load()
    if args.table:
        root = Path(args.table)
        print(header(f"generative models, finished runs in {root}", before))
        print(table([(n, root / n, {}) for n in MODELS if (root / n / "summary.json").exists()]))
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(MODELS)
    if unknown:
        raise SystemExit(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(MODELS)}")
    root = Path(args.out)
    rows = []
    for name in names:
        measured = run_one(name, args.minutes, root / name, shlex.split(getattr(args, f"{name}_args")),
                           args.device)
        rows.append((name, root / name, measured))
    print(header(f"generative models, {args.minutes:g} minutes of training each", before))
    print(table(rows))


if __name__ == "__main__":
    main()
