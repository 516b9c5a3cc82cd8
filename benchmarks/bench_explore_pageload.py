"""Time to a usable page of `dlf explore --runs DIR` in a real browser (Debian's chromium through Playwright).

    .venv/bin/python benchmarks/bench_explore_pageload.py --runs /tmp/t2              # 5 tries, median
    .venv/bin/python benchmarks/bench_explore_pageload.py --runs /tmp/t2 --tries 7 --out pageload.json

It starts `python -m dlf explore --runs DIR` on 127.0.0.1 at a free port, waits until it answers, then, in each
try, opens a fresh browser context (no cache, no cookies: a first visit) and times:

- app: from the request of the page to the landing page usable: the tabs shown and the first page's figure drawn;
- run list: a click on "Trained runs", then "All runs", to the list of run folders shown;
- handwriting: a click on "Handwriting" and a stroke on the canvas, to every classifier's first answer;
- VAE link: a fresh context opens the VAE page's own link (/run-vae?run=...&z1=1.5: the page alone), to the
  decoded digit for that z1 shown (the slider set, the image drawn);
- handwriting link: a fresh context opens /run-handwriting, to the canvas shown with the list of classifiers;
- handwriting answer: the same visit, a stroke drawn as soon as the canvas shows, to every classifier's answer
  (counted from the request of the page);
- old VAE link: a fresh context opens the whole app's old link to the VAE page (/?tab=run-vae&...&z1=1.5, which
  the server now redirects to /run-vae?...), to the same digit shown.

Issue 15's goal is that a run's page loads in under 2 s; the table says, for each phase it applies to, whether the
median meets it.

DIR must hold mnist-mlp, mnist-cnn and vae runs (e.g. the folder of `dlf tour --part 2`). It prints each try, the
median of each phase, the machine and its load average before and after (benchmarks/_protocol.py). The browser and
the server share the machine's cores, as they do on a learner's laptop. Needs gradio and playwright. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import header, load  # noqa: E402

from dlf.explore.loadclient import ServerGone, stop, wait_ready  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PHASES = ("app", "run list", "handwriting", "VAE link", "handwriting link", "handwriting answer", "old VAE link")
GOAL = 2.0
"""Seconds: issue 15's bound on loading a run's page."""
GOAL_PHASES = ("VAE link", "handwriting link", "old VAE link")
MAX_TRIES = 20


def vae_run(runs: Path) -> str:
    """The path of a vae run under `runs`, as the explorer labels it (the run's folder as given)."""
    from dlf.explore.trained import scan

    found = [i for i in scan.scan(runs) if i.experiment == "vae" and not i.reason]
    if not found:
        raise SystemExit(f"no vae run that opens under {runs}; give the folder of 'dlf tour --part 2'")
    return found[0].label


def stroke(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 50)
    page.mouse.down()
    for k in range(1, 11):  # a vertical stroke down the middle
        page.mouse.move(box["x"] + 140, box["y"] + 50 + 18 * k)
    page.mouse.up()


def fresh_page(browser):
    """A new browser context (no cache, no cookies: a first visit) and its page."""
    ctx = browser.new_context(viewport={"width": 1360, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    return ctx, page


def vae_shown(browser, link: str) -> float:
    """Seconds from requesting `link` (a fresh visit) to the VAE digit at z1 = 1.5 drawn."""
    ctx, page = fresh_page(browser)
    t0 = time.perf_counter()
    page.goto(link)
    page.wait_for_function("() => document.querySelector('#vae-image img')?.dataset.z?.startsWith('1.5')")
    took = time.perf_counter() - t0
    ctx.close()
    return took


def handwriting_alone(browser, url: str) -> tuple[float, float]:
    """Seconds from requesting the handwriting page alone to its canvas and list shown, and to a stroke's answer."""
    ctx, page = fresh_page(browser)
    t0 = time.perf_counter()
    page.goto(url + "run-handwriting")
    page.locator("#hw-canvas").wait_for()
    page.wait_for_function("() => document.querySelector('#hw-runs')?.innerText.includes('mnist-cnn')")
    shown = time.perf_counter() - t0
    stroke(page, "#hw-canvas")
    page.wait_for_function("() => document.querySelector('#hw-probs').dataset.top?.includes('mnist-cnn')")
    answered = time.perf_counter() - t0
    ctx.close()
    return shown, answered


def one_try(browser, url: str, links: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    ctx, page = fresh_page(browser)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#tab-runs-button")
    page.wait_for_selector("#neuron-plot svg")
    out["app"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    page.locator("#tab-runs-button").click()
    page.get_by_role("tab", name="All runs", exact=True).click()
    page.wait_for_function("() => document.querySelector('#runs-list')?.innerText.includes('ready')")
    out["run list"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    page.get_by_role("tab", name="Handwriting", exact=True).click()
    page.locator("#hw-canvas").wait_for()
    stroke(page, "#hw-canvas")
    page.wait_for_function("() => document.querySelector('#hw-probs').dataset.top?.includes('mnist-cnn')")
    out["handwriting"] = time.perf_counter() - t0
    ctx.close()
    out["VAE link"] = vae_shown(browser, links["VAE link"])
    out["handwriting link"], out["handwriting answer"] = handwriting_alone(browser, url)
    out["old VAE link"] = vae_shown(browser, links["old VAE link"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, help="a folder holding mnist-mlp, mnist-cnn and vae runs")
    p.add_argument("--tries", type=int, default=5, help=f"page loads of each kind (default: 5, at most {MAX_TRIES})")
    p.add_argument("--out", help="also write the results as JSON to this file")
    args = p.parse_args()
    if not 1 <= args.tries <= MAX_TRIES:
        raise SystemExit(f"use 1..{MAX_TRIES} tries")
    from playwright import sync_api

    from dlf.explore.server import free_port

    run = vae_run(Path(args.runs))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    links = {"VAE link": url + "run-vae?" + urlencode({"run": run, "z1": "1.5"}),
             "old VAE link": url + "?" + urlencode({"tab": "run-vae", "run": run, "z1": "1.5"})}
    log = tempfile.NamedTemporaryFile("w+", prefix="dlf-explore-", suffix=".log", delete=False)
    before = load()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "dlf", "explore", "--port", str(port), "--runs", args.runs],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    tries = []
    try:
        try:
            wait_ready(url, proc)
        except ServerGone as exc:
            raise SystemExit(f"{exc} (log: {log.name})") from None
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            for k in range(args.tries):
                tries.append(one_try(browser, url, links))
                print(f"try {k + 1}: " + ", ".join(f"{name} {tries[-1][name]:.2f} s" for name in PHASES), flush=True)
            browser.close()
    finally:
        stop(proc)
    medians = {name: statistics.median(t[name] for t in tries) for name in PHASES}
    print(header(f"dlf explore --runs {args.runs}: page loads in chromium, {args.tries} tries", before))
    print(f"| phase | median s | min s | max s | goal: a run's page in under {GOAL:g} s |\n|---|---|---|---|---|")
    for name in PHASES:
        values = [t[name] for t in tries]
        verdict = ("met" if medians[name] < GOAL else "NOT met") if name in GOAL_PHASES else "-"
        print(f"| {name} | {medians[name]:.2f} | {min(values):.2f} | {max(values):.2f} | {verdict} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"tries": tries, "median": medians, "load_before": before,
                                              "load_after": load()}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
