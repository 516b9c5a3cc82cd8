"""The run pages of the explorer (gradio): a list of every run found, and one tab per kind of run.

    built = tabs(limits, catalogue)   # inside gr.Tabs: "Trained runs", holding "All runs", then Handwriting,
                                      # Char-RNN, Word vectors, VAE, GAN & PixelCNN, RL (shown for the kinds found)
    built.pages["run-vae"]            # {"fields", "comps", "refresh", "choices"}: what a link restores

A page is drawn when its tab is first opened (or by the link that opens it), not when the app loads. Each page is
also served alone at its own address (/run-vae?run=...: dlf.explore.trained.standalone), and "Link to these
settings" gives that address. A page redraws on the user's own input (`.input`, not `.change`), so the values a link
restores do not fire a second draw after the one the load request made. Opening
"Trained runs" or "All runs", or pressing Rescan, looks at the runs folder again (dlf.explore.trained.scan.Catalogue:
only changed folders are inspected again), so runs written while the explorer runs appear without a restart; their
models are loaded in the background. Every handler catches DlfError and shows its one line in the page's status,
so a damaged run never breaks the app.
"""

from __future__ import annotations

import html
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import gradio as gr

from dlf.errors import DlfError
from dlf.explore import widgets
from dlf.explore.session import Limits
from dlf.explore.share import Field
from dlf.explore.trained import canvas, models
from dlf.explore.trained.scan import Catalogue, RunInfo, Runs

TITLES = {"handwriting": "Handwriting", "text": "Char-RNN", "words": "Word vectors", "vae": "VAE",
          "images": "GAN & PixelCNN", "rl": "RL agent"}
CSS = (canvas.CSS + "\n.unit-text {font-family: monospace; white-space: pre-wrap; line-height: 1.5}"
       "\n.nav-holder {display: none}")  # gradio's bar of pages: each page alone links back itself


def runs_table(root: Path | None, infos: list[RunInfo]) -> str:
    """Markdown: every run folder found, what opens it, or why it cannot be opened."""
    if not infos:
        where = f"under `{root}`" if root else "(no runs folder given)"
        return (f"No run folders {where}. Train one, e.g. `dlf run mnist-cnn --epochs 1 --out runs/cnn`, "
                "or run `dlf tour --part 2`, then press Rescan (or start `dlf explore --runs DIR`).")
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


def pick(runs: Runs | list[RunInfo], label: str | None) -> RunInfo:
    if not label:
        raise DlfError("no run of this kind found yet; train one, then press Rescan under All runs")
    for info in runs:
        if info.label == label:
            return info
    raise DlfError(f"no run '{label}' here; pick one from the list (or press Rescan under All runs)")


def run_field(name: str = "run", label: str = "run") -> Field:
    """A link's run: any text, kept only when it names a run of the page's kind (checked at restore time)."""
    return Field(name, label, "text", "", max_len=1000)


SEED = {"kind": "int", "lo": 0, "hi": 2**31 - 1, "step": 1}


def run_choice(page: str, runs: Runs, label: str = "run") -> gr.Dropdown:
    labels = runs.labels()
    return gr.Dropdown(labels, value=labels[0] if labels else None, label=label, elem_id=f"{page}-run")


def choices(labels: list[str], value: str | None):
    """A run dropdown's update after a rescan: the runs found now, keeping the chosen one while it is there."""
    return gr.update(choices=labels, value=value if value in labels else (labels[0] if labels else None))


def page_link(page_url: str, tab: str, fields: tuple[Field, ...], values: dict) -> str:
    """The address of run page `tab` alone with `values` (e.g. http://127.0.0.1:7860/run-vae?run=...&z1=1.5),
    from the address of the page the user is on (the whole app, or that page alone)."""
    base = page_url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if base.rsplit("/", 1)[-1] == tab:
        base = base.rsplit("/", 1)[0]
    query = urlencode([(f.name, f.format(values[f.name])) for f in fields if f.name in values], safe=",*()^")
    return f"{base}/{tab}?{query}"


def link_row(tab: str, fields: tuple[Field, ...], comps: list) -> None:
    """"Link to these settings" on a run page: a read-only box gets the link to the page alone (page_link)."""
    with gr.Row():
        button = gr.Button("Link to these settings", size="sm", scale=0, elem_id=f"{tab}-link-button")
        box = gr.Textbox(show_label=False, interactive=False, buttons=["copy"], elem_id=f"{tab}-link",
                         placeholder="press the button, then copy the link")

    def make_link(data: dict, request: gr.Request) -> str:
        page_url = request.headers.get("referer") or f"http://{request.headers.get('host', '127.0.0.1')}/"
        return page_link(page_url, tab, fields, widgets.read(fields, comps, data))

    button.click(make_link, set(comps), box, api_name=f"{tab}_link", **widgets.QUIET)


def follows(run: gr.Dropdown, runs: Runs) -> list[tuple]:
    """A page spec's "rescan": its run dropdown follows the runs found at each rescan."""
    return [([run], [run], lambda v: choices(runs.labels(), v))]


def summary_line(info: RunInfo) -> str:
    from dlf.report import headline

    return f"`{info.path}`: {headline(info.experiment, info.summary)}" if info.summary else f"`{info.path}`"


# handwriting -----------------------------------------------------------------------------------------------------
MAX_CLASSIFIERS = 6
"""Classifiers shown side by side on the canvas page (the last ones found)."""


def classifiers(runs: Runs) -> dict[str, RunInfo]:
    """The classifiers shown (the last MAX_CLASSIFIERS found), each by a short, unique name."""
    return {f"{i.experiment} ({i.path.name})": i for i in runs.now()[-MAX_CLASSIFIERS:]}


def classifier_list(runs: Runs) -> str:
    found = runs.now()
    left_out = len(found) - MAX_CLASSIFIERS
    return ("\n".join(f"- {summary_line(i)}" for i in found[-MAX_CLASSIFIERS:])
            + (f"\n\n({left_out} more classifier runs found; give --runs a folder with fewer to see them.)"
               if left_out > 0 else ""))


def handwriting(runs: Runs) -> dict:
    def classify(data: str) -> dict:
        try:
            image = models.decode_pixels(str(data))
            tasks, errors = {}, []
            for name, info in classifiers(runs).items():
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
                "survive shifts that throw an MLP off: translation invariance, live.")
    listed = gr.Markdown(classifier_list(runs), elem_id="hw-runs")
    gr.HTML(value="", html_template=canvas.TEMPLATE, css_template=canvas.CSS, js_on_load=canvas.JS,
            server_functions=[classify], elem_id="hw")
    return {"fields": (), "comps": [], "refresh": None, "choices": {}, "status": None,
            "rescan": [([], [listed], lambda: classifier_list(runs))]}


# char-rnn ------------------------------------------------------------------------------------------------------
TEXT_FIELDS = (run_field(), Field("prime", "prime", "text", "\n", max_len=models.MAX_TEXT),
               Field("temperature", "temperature", "float", 0.8, 0.1, 2.0, 0.05),
               Field("top_k", "top-k", "int", 0, 0, 100, 1),
               Field("length", "characters", "int", 400, 10, models.MAX_TEXT, 10),
               Field("seed", "seed", **SEED, default=0), Field("unit", "unit", "int", 0, 0, 100_000, 1),
               Field("text", "text", "text", "", max_len=models.MAX_TEXT))


def text_page(runs: Runs, limits: Limits) -> dict:
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
    unit, text, units = unit_panel(runs, run)
    comps = [run, prime, temp, top_k, length, seed, unit, text]
    link_row("run-text", TEXT_FIELDS, comps)
    return {"fields": TEXT_FIELDS, "comps": comps, "refresh": units, "choices": {"run": runs}, "status": status,
            "rescan": follows(run, runs)}


def unit_panel(runs: Runs, run: gr.Dropdown) -> tuple:
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
    run.input(units, [run], [found], api_name=False, **widgets.QUIET)
    return unit, text, (units, [run], [found])


def _or_reason(fn: Callable, *args) -> str:
    """fn(*args), or its DlfError as a line in italics (one unknown word must not blank the other panels)."""
    try:
        return fn(*args)
    except DlfError as exc:
        return f"*{exc}*"


def _rgba(v: float) -> str:
    return f"rgba(31,111,180,{min(abs(v), 1):.2f})" if v > 0 else f"rgba(214,39,40,{min(abs(v), 1):.2f})"


# word2vec --------------------------------------------------------------------------------------------------------
def words_page(runs: Runs) -> dict:
    from dlf.explore.trained import wordmap

    fields = (run_field(), Field("word", "nearest neighbours of", "text", "king", max_len=100),
              Field("analogy", "analogy", "text", "man king woman", max_len=300),
              Field("words", "words on the map", "text", ", ".join(wordmap.DEFAULT), max_len=50 * models.MAX_WORDS))
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
    run.input(fn, inputs, outputs, api_name=False, **widgets.QUIET)
    link_row("run-words", fields, inputs)
    return {"fields": fields, "comps": inputs, "refresh": (fn, inputs, outputs), "choices": {"run": runs},
            "status": status, "rescan": follows(run, runs)}


# the tabs --------------------------------------------------------------------------------------------------------
@dataclass
class Built:
    """What tabs() laid out: the run pages (tab id -> spec, as the first-half pages' build() returns), the inner
    gr.Tabs, and the events that draw a page the first time its tab opens."""

    tabs: gr.Tabs | None = None
    pages: dict[str, dict] = field(default_factory=dict)
    selects: list[tuple] = field(default_factory=list)
    """(tab id, gr.Tab) of every run page, for the app to hang its first-draw events on."""


def tabs(limits: Limits, catalogue: Catalogue) -> Built:
    """Lay out the "Trained runs" tab (call inside gr.Tabs): the list of runs with a Rescan button, then one tab
    per kind of run (hidden while none of that kind is found); rescan on opening it."""
    built = Built()
    with gr.Tab("Trained runs", id="runs", elem_id="tab-runs") as outer, gr.Tabs(elem_id="run-tabs") as inner:
        built.tabs = inner
        with gr.Tab("All runs", id="run-list", elem_id="tab-run-list") as first:
            gr.Markdown("The lecture's second half, live: every run folder found, and the tab that opens it. "
                        "Train more with `dlf run NAME`, or all of them, small, with `dlf tour --part 2`; new runs "
                        "appear when you open this tab or press Rescan.")
            rescan_b = gr.Button("Rescan", size="sm", elem_id="runs-rescan")
            listing = gr.Markdown(runs_table(catalogue.root, catalogue.infos), elem_id="runs-list")
        table = (lambda: runs_table(catalogue.root, catalogue.infos), [], [listing])
        built.pages["run-list"] = {"fields": (), "comps": [], "refresh": table, "choices": {},
                                   "rescan": [table[1:] + table[:1]]}
        shown = {}
        for kind, title in TITLES.items():
            views = catalogue.view(kind)
            with gr.Tab(title, id=f"run-{kind}", elem_id=f"tab-run-{kind}", visible=bool(views.now())) as tab:
                built.pages[f"run-{kind}"] = kind_page(kind, views, limits)
            built.selects.append((f"run-{kind}", tab))
            shown[tab] = views
    _rescan_events(catalogue, built, shown, (outer, first, rescan_b))
    return built


def _rescan_events(catalogue: Catalogue, built: Built, shown: dict, triggers: tuple) -> None:
    """Opening the tab, or Rescan, looks again and updates the list, the tabs shown and every run dropdown."""
    parts = [part for spec in built.pages.values() for part in spec["rescan"]]
    shows = gr.State(catalogue.version)  # the catalogue's version this session's pages show
    inputs = [shows, *(c for ins, _, _ in parts for c in ins)]
    outputs = [shows, *shown, *(c for _, outs, _ in parts for c in outs)]

    def rescan(version, *values):
        changed = catalogue.rescan()
        if changed:
            models.preload(changed)
        if version == catalogue.version:  # nothing new for this session: leave the page as it is
            return [gr.skip()] * len(outputs)
        updates, k = [catalogue.version, *(gr.update(visible=bool(views.now())) for views in shown.values())], 0
        for ins, outs, fn in parts:
            got = fn(*values[k:k + len(ins)])
            k += len(ins)
            updates += list(got) if len(outs) > 1 else [got]
        return updates

    outer, first, button = triggers
    for trigger in (outer.select, first.select, button.click):
        trigger(rescan, inputs, outputs, api_name=False, **widgets.QUIET)


def kind_page(kind: str, runs: Runs, limits: Limits) -> dict:
    """Lay out the page of one kind; return its spec (fields, comps, refresh, choices, rescan)."""
    from dlf.explore.trained import generative

    if kind == "handwriting":
        return handwriting(runs)
    if kind == "text":
        return text_page(runs, limits)
    if kind == "words":
        return words_page(runs)
    if kind == "vae":
        return generative.vae_page(runs)
    if kind == "images":
        return generative.images_page(runs, limits)
    return generative.rl_page(runs)
