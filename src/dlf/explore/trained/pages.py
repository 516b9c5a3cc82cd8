"""The run pages of the explorer (gradio): a list of every run found, and one tab per kind of run.

    tabs(limits, infos)      # inside gr.Tabs: the "Runs" tab, then Handwriting, Char-RNN, Word vectors, VAE,
                             # GAN & PixelCNN, RL for the kinds found (see dlf.explore.trained.scan.KINDS)

Every handler catches DlfError and shows its one line in the page's status, so a damaged run never breaks the app.
"""

from __future__ import annotations

import html
import inspect
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from dlf.errors import DlfError
from dlf.explore import widgets
from dlf.explore.session import Limits
from dlf.explore.trained import canvas, models
from dlf.explore.trained.scan import RunInfo, by_kind

TITLES = {"handwriting": "Handwriting", "text": "Char-RNN", "words": "Word vectors", "vae": "VAE",
          "images": "GAN & PixelCNN", "rl": "RL agent"}
CSS = canvas.CSS + "\n.unit-text {font-family: monospace; white-space: pre-wrap; line-height: 1.5}"


def runs_table(root: Path | None, infos: list[RunInfo]) -> str:
    """Markdown: every run folder found, what opens it, or why it cannot be opened."""
    if not infos:
        where = f"under `{root}`" if root else "(no runs folder given)"
        return (f"No run folders {where}. Train one, e.g. `dlf run mnist-cnn --epochs 1 --out runs/cnn`, "
                "or run `dlf tour --part 2`, then start `dlf explore --runs DIR` again.")
    rows = ["| run folder | experiment | opens in | status |", "|---|---|---|---|"]
    for i in infos:
        status = f"cannot open: {i.reason}" if i.reason else (i.note or "ready")
        rows.append(f"| `{i.path}` | {i.experiment or '?'} | {TITLES.get(i.kind, '-') if not i.reason else '-'} "
                    f"| {html.escape(status)} |")
    return "\n".join(rows)


def guarded(fn: Callable, n_out: int) -> Callable:
    """Run fn (a function or a generator); on DlfError leave every output but the last (the status) as it is,
    and show the error there in one line."""
    def failed(exc: DlfError) -> tuple:
        return (*[gr.update()] * (n_out - 1), f"**Cannot do that:** {exc}")

    if inspect.isgeneratorfunction(fn):
        def stream(*args):
            try:
                yield from fn(*args)
            except DlfError as exc:
                yield failed(exc)
        return stream

    def wrapper(*args):
        try:
            return fn(*args)
        except DlfError as exc:
            return failed(exc)
    return wrapper


def pick(runs: list[RunInfo], label: str) -> RunInfo:
    for info in runs:
        if info.label == label:
            return info
    raise DlfError(f"no run '{label}' here; pick one from the list")


def run_choice(page: str, runs: list[RunInfo], label: str = "run") -> gr.Dropdown:
    return gr.Dropdown([i.label for i in runs], value=runs[0].label, label=label, elem_id=f"{page}-run")


def summary_line(info: RunInfo) -> str:
    from dlf.report import headline

    return f"`{info.path}`: {headline(info.experiment, info.summary)}" if info.summary else f"`{info.path}`"


# handwriting -----------------------------------------------------------------------------------------------------
MAX_CLASSIFIERS = 6
"""Classifiers shown side by side on the canvas page (the last ones found)."""


def handwriting(runs: list[RunInfo]) -> None:
    names, left_out = {}, runs[:-MAX_CLASSIFIERS]
    runs = runs[-MAX_CLASSIFIERS:]
    for i in runs:  # a short, unique name per classifier
        name = f"{i.experiment} ({i.path.name})"
        names[name] = i

    def classify(data: str) -> dict:
        try:
            image = models.decode_pixels(str(data))
            tasks, errors = {}, []
            for name, info in names.items():
                try:
                    tasks[name] = models.load(info)
                except DlfError as exc:
                    errors.append(str(exc))
            if not tasks:
                return {"error": html.escape("; ".join(errors))}
            return {"probs": models.classify(tasks, image)}
        except DlfError as exc:
            return {"error": html.escape(str(exc))}

    gr.Markdown("Draw a digit. Every MNIST classifier found shows its class probabilities as you draw; the arrows "
                "move the digit one pixel (the arrow keys too, once you click the canvas). A CNN's answer should "
                "survive shifts that throw an MLP off: translation invariance, live.\n\n"
                + "\n".join(f"- {summary_line(i)}" for i in runs)
                + (f"\n\n({len(left_out)} more classifier runs found; give --runs a folder with fewer to see "
                   "them.)" if left_out else ""))
    gr.HTML(value="", html_template=canvas.TEMPLATE, css_template=canvas.CSS, js_on_load=canvas.JS,
            server_functions=[classify], elem_id="hw")


# char-rnn ------------------------------------------------------------------------------------------------------
def text_page(runs: list[RunInfo], limits: Limits) -> tuple:
    gr.Markdown("Sample from a trained character-level RNN: it reads the prime, then draws one character at a "
                "time from softmax(logits / temperature), among the top-k likeliest if k > 0.")
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            run = run_choice("text", runs)
            prime = gr.Textbox("\n", label="prime", lines=2, elem_id="text-prime")
            temp = gr.Slider(0.1, 2.0, 0.8, step=0.05, label="temperature", elem_id="text-temperature")
            top_k = gr.Slider(0, 100, 0, step=1, label="top-k (0: all characters)", elem_id="text-topk")
            length = gr.Slider(10, models.MAX_TEXT, 400, step=10, label="characters", elem_id="text-length")
            seed = gr.Number(0, label="seed", precision=0, minimum=0, elem_id="text-seed")
            go = gr.Button("Sample", variant="primary", elem_id="text-go")
        with gr.Column(scale=2):
            out = gr.Textbox(label="sample (streams as it is drawn)", lines=14, interactive=False,
                             elem_id="text-sample")
            status = gr.Markdown(elem_id="text-status")

    def sample(label, prime_, temp_, k_, n_, seed_):
        try:
            info = pick(runs, label)
            model, vocab = models.load(info)
            text, start = "", time.perf_counter()
            for part in models.stream_text(model, vocab, prime_, int(n_), float(temp_), int(k_), int(seed_ or 0)):
                text += part
                if time.perf_counter() - start > limits.max_seconds:
                    yield text, f"stopped at the time limit ({limits.max_seconds:g} s per request)"
                    return
                yield text, ""
            yield text, f"{len(text) - len(prime_)} characters after the prime, seed {int(seed_ or 0)}"
        except DlfError as exc:
            yield gr.update(), f"**Cannot sample:** {exc}"

    go.click(sample, [run, prime, temp, top_k, length, seed], [out, status], api_name=False, **widgets.QUIET)
    return unit_panel(runs, run)


def unit_panel(runs: list[RunInfo], run: gr.Dropdown) -> tuple:
    gr.Markdown("### A hidden unit over a text\nEach character's background shows the chosen unit's activation "
                "after reading it (red: negative, blue: positive).")
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            unit = gr.Number(0, label="unit (last layer)", precision=0, minimum=0, elem_id="text-unit")
            text = gr.Textbox("", label="text (empty: the run's validation text)", lines=3, elem_id="text-input")
            show = gr.Button("Colour the text", elem_id="text-colour")
        with gr.Column(scale=2):
            coloured = gr.HTML(elem_id="text-coloured")
            status = gr.Markdown(elem_id="text-unit-status")
    found = gr.Markdown(elem_id="text-units")

    def colour(label, unit_, text_):
        info = pick(runs, label)
        model, vocab = models.load(info)
        if not text_:
            path = info.path / "validation.txt"
            text_ = path.read_text(encoding="utf-8")[:600] if path.is_file() else ""
        acts = models.unit_activations(model, vocab, text_[:models.MAX_TEXT], int(unit_ or 0))
        scale = max(float(abs(acts).max()), 1e-6)
        spans = "".join(f'<span style="background:{_rgba(a / scale)}">{html.escape(ch)}</span>'
                        for ch, a in zip(text_, acts, strict=False))
        return f'<div class="unit-text" data-unit="{int(unit_ or 0)}">{spans}</div>', ""

    def units(label):
        try:
            found_units = models.interpretable_units(pick(runs, label).path)
        except DlfError as exc:
            return str(exc)
        listed = "\n".join(f"- **{name}**: " + ", ".join(f"unit {u} (r = {r:+.2f})" for u, r in us[:3])
                           for name, us in found_units.items()) or "(this run found no interpretable units)"
        return "Units of this run that track a property of the text (correlation r over its validation text):\n" \
            + listed

    show.click(guarded(colour, 2), [run, unit, text], [coloured, status], api_name=False, **widgets.QUIET)
    run.change(units, [run], [found], api_name=False, **widgets.QUIET)
    return units, [run], [found]


def _or_reason(fn: Callable, *args) -> str:
    """fn(*args), or its DlfError as a line in italics (one unknown word must not blank the other panels)."""
    try:
        return fn(*args)
    except DlfError as exc:
        return f"*{exc}*"


def _rgba(v: float) -> str:
    return f"rgba(31,111,180,{min(abs(v), 1):.2f})" if v > 0 else f"rgba(214,39,40,{min(abs(v), 1):.2f})"


# word2vec --------------------------------------------------------------------------------------------------------
def words_page(runs: list[RunInfo]) -> tuple:
    from dlf.explore.trained import wordmap

    run = run_choice("words", runs)
    with gr.Row():
        with gr.Column():
            word = gr.Textbox("king", label="nearest neighbours of", elem_id="words-word")
            nb = gr.Markdown(elem_id="words-neighbors")
        with gr.Column():
            abc = gr.Textbox("man king woman", label="analogy: A is to B as C is to ? (three words)",
                             elem_id="words-analogy")
            an = gr.Markdown(elem_id="words-analogy-out")
    words = gr.Textbox(", ".join(wordmap.DEFAULT), label="words on the map (add some: it redraws)",
                       elem_id="words-map-words")
    fig = gr.HTML(elem_id="words-plot")
    status = gr.Markdown(elem_id="words-status")

    def draw(label, w, a, ws):
        wv = models.load(pick(runs, label))
        return (_or_reason(wordmap.neighbours, wv, w), _or_reason(wordmap.analogy, wv, a),
                wordmap.figure(wv, models.parse_words(ws)), f"{len(wv):,} words in this model's vocabulary")

    fn, inputs, outputs = guarded(draw, 4), [run, word, abc, words], [nb, an, fig, status]
    for box in (word, abc, words):
        box.submit(fn, inputs, outputs, api_name=False, **widgets.QUIET)
    run.change(fn, inputs, outputs, api_name=False, **widgets.QUIET)
    return fn, inputs, outputs


# the tabs --------------------------------------------------------------------------------------------------------
def tabs(limits: Limits, root: Path | None, infos: list[RunInfo]) -> list[tuple]:
    """Lay out the "Trained runs" tab: the list of runs, then one tab per kind found (call inside gr.Tabs);
    return the events to run on load."""
    on_load: list[tuple] = []
    with gr.Tab("Trained runs", id="runs", elem_id="tab-runs"), gr.Tabs(elem_id="run-tabs"):
        with gr.Tab("All runs", id="run-list", elem_id="tab-run-list"):
            gr.Markdown("The lecture's second half, live: every run folder found, and the tab that opens it. "
                        "Train more with `dlf run NAME`, or all of them, small, with `dlf tour --part 2`.")
            gr.Markdown(runs_table(root, infos), elem_id="runs-list")
        found = by_kind(infos)
        for kind, title in TITLES.items():
            if found.get(kind):
                with gr.Tab(title, id=f"run-{kind}", elem_id=f"tab-run-{kind}"):
                    on_load += _page(kind, found[kind], limits)
    return on_load


def _page(kind: str, runs: list[RunInfo], limits: Limits) -> list[tuple]:
    """Lay out the page of one kind; return its events to run on load."""
    from dlf.explore.trained import generative

    if kind == "handwriting":
        handwriting(runs)
    elif kind == "text":
        return [text_page(runs, limits)]
    elif kind == "words":
        return [words_page(runs)]
    elif kind == "vae":
        choose, ins, outs, decode = generative.vae_page(runs)
        return [(choose, ins, outs), decode]
    elif kind == "images":
        generative.images_page(runs, limits)
    elif kind == "rl":
        return [generative.rl_page(runs)]
    return []
