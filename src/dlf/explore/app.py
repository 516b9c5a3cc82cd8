"""The explorer as one gradio app: a tab per page, and links that restore a page's settings.

    demo = build_app(Limits(), runs="runs")   # gr.Blocks; dlf.explore.server launches it

Each page module (neuron, activations, universality, descent, backprop, classify) has TAB, TITLE, FIELDS and
`build(limits)`, which lays out its widgets inside the current tab and returns its fields, widgets and the
event that draws it; the trained-run pages (dlf.explore.trained.pages) return the same. A page is drawn when it is
first shown, not before: on load the app reads the link's query (?tab=...&...), selects that page's tab (the first
page when the link names none), sets its widgets and draws it, all in one request; every other page is drawn the
first time its tab is opened. The pages of trained runs load their models in a background thread meanwhile; each of
them is also served alone, at its own address in the same app (/run-vae?run=...: dlf.explore.trained.standalone).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry, no version check over the network

import gradio as gr  # noqa: E402

from dlf import __version__  # noqa: E402
from dlf.explore import activations, backprop, classify, descent, neuron, share, universality, widgets  # noqa: E402
from dlf.explore.session import Limits  # noqa: E402

PAGES = (neuron, activations, universality, descent, backprop, classify)

INTRO = (f"## dlf explore <small>{__version__}</small>\n"
         "The first half of the lecture, live: every plot is computed by dlf's own modules in PyTorch. "
         "**Link to these settings** (under each page) gives a link that opens the page as it is now.")

CSS = ("#neuron-plot, #activations-plot, #universality-plot, #descent-plot, #backprop-plot, #classify-plot "
       "{min-height: 300px}")


def build_app(limits: Limits | None = None, runs: str | os.PathLike | None = None) -> gr.Blocks:
    """The whole explorer; call `.queue(...)` and `.launch(...)` on it (see dlf.explore.server.serve).

    With `runs` (a folder), the trained runs found under it get their pages too (dlf.explore.trained), and their
    models start loading in the background."""
    from dlf.explore.trained import models, scan
    from dlf.explore.trained import pages as run_pages

    limits = limits or Limits()
    catalogue = scan.Catalogue(runs) if runs is not None else None
    with gr.Blocks(title="dlf explore", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        pages: dict[str, dict] = {}
        opened: list[tuple[str, gr.Tab]] = []
        drawn = gr.State(set())  # the pages this session has drawn
        with gr.Tabs(elem_id="tabs") as tabs:
            for page in PAGES:
                with gr.Tab(page.TITLE, id=page.TAB, elem_id=f"tab-{page.TAB}") as tab:
                    pages[page.TAB] = page.build(limits)
                opened.append((page.TAB, tab))
            built = run_pages.tabs(limits, catalogue) if catalogue is not None else run_pages.Built()
        pages.update(built.pages)
        opened += built.selects
        for tab_id, tab in opened:
            if pages[tab_id].get("refresh"):
                tab.select(*first_draw(tab_id, pages[tab_id]["refresh"], drawn), api_name=False, **widgets.QUIET)
        restore = Restore(pages, drawn, tabs, built, catalogue)
        demo.load(restore, restore.inputs, restore.outputs, api_name=False, **widgets.QUIET)
    if catalogue is not None:
        from dlf.explore.trained import standalone

        standalone.add_pages(demo, limits, catalogue)
        models.preload([i for i in catalogue.infos if not i.reason])
    return demo


def _skip(outputs) -> Any:
    return tuple(gr.skip() for _ in outputs) if len(outputs) > 1 else gr.skip()


def first_draw(tab: str, refresh: tuple, drawn: gr.State) -> tuple:
    """(fn, inputs, outputs) that draw page `tab` the first time its tab opens in a session, and do nothing after."""
    fn, inputs, outputs = refresh
    if isinstance(inputs, set):
        def once(data: dict):
            if tab in data[drawn]:
                return _skip(outputs)
            data[drawn].add(tab)
            return fn(data)
        return once, {*inputs, drawn}, outputs

    def once_args(seen: set, *args):
        if tab in seen:
            return _skip(outputs)
        seen.add(tab)
        return fn(*args)
    return once_args, [drawn, *inputs], outputs


def fill(spec: dict, values: dict, data: dict) -> dict:
    """A page's widgets set to a link's checked values, and the page drawn with them: {widget: update}.

    `data` holds the widgets' values in the browser; a run (a field with "choices") is kept only when it is one of
    the page's runs now, else the one shown stays (or the first run, when none is)."""
    updates, given = {}, {}
    for f, comp in zip(spec["fields"], spec["comps"]):
        view = spec.get("choices", {}).get(f.name)
        if view is not None:
            labels = view.labels()
            value = values.get(f.name) if values.get(f.name) in labels else data[comp]
            given[comp] = value if value in labels else (labels[0] if labels else None)
            updates[comp] = gr.update(choices=labels, value=given[comp])
        elif f.name in values:
            given[comp] = values[f.name]
            updates[comp] = gr.update(value=values[f.name])
    if spec.get("refresh"):
        fn, inputs, outputs = spec["refresh"]
        if isinstance(inputs, set):
            result = fn({c: given.get(c, data[c]) for c in inputs})
        else:
            result = fn(*(given.get(c, data[c]) for c in inputs))
        for comp, r in zip(outputs, result if len(outputs) > 1 else (result,)):
            updates[comp] = merge(updates.get(comp), r)
    return updates


def merge(before: Any, after: Any) -> Any:
    """Two updates of one widget as one: a restored value and a page's first draw (which may only show it)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {**before, **after}
    return after


class Restore:
    """The load event: the link's page selected, its widgets set and checked, and that page drawn."""

    def __init__(self, pages: dict[str, dict], drawn: gr.State, tabs: gr.Tabs, built, catalogue):
        self.pages, self.drawn, self.tabs, self.built, self.catalogue = pages, drawn, tabs, built, catalogue
        self.fields = {tab: spec["fields"] for tab, spec in pages.items()}
        self.kind_tabs = dict(built.selects)
        ins: dict[Any, None] = {drawn: None}
        outs: dict[Any, None] = {tabs: None, **({built.tabs: None} if built.tabs is not None else {}),
                                 **dict.fromkeys(self.kind_tabs.values())}
        for spec in pages.values():
            ins.update(dict.fromkeys(spec["comps"]))
            outs.update(dict.fromkeys(spec["comps"]))
            if spec.get("refresh"):
                ins.update(dict.fromkeys(spec["refresh"][1]))
                outs.update(dict.fromkeys(spec["refresh"][2]))
        self.inputs, self.outputs = set(ins), list(outs)

    def __call__(self, data: dict, request: gr.Request) -> list:
        linked, values = share.decode(dict(request.query_params), self.fields)
        tab = linked or PAGES[0].TAB  # no link: draw the first page, and leave a tab clicked meanwhile selected
        spec, updates = self.pages[tab], {}
        if tab.startswith("run-") and self.catalogue is not None:
            self.catalogue.rescan()  # a link may name a run written since the last look
            updates[self.tabs], updates[self.built.tabs] = gr.Tabs(selected="runs"), gr.Tabs(selected=tab)
            if tab in self.kind_tabs:
                updates[self.kind_tabs[tab]] = gr.update(visible=True)
        elif linked:
            updates[self.tabs] = gr.Tabs(selected=tab)
        if spec.get("refresh"):
            data[self.drawn].add(tab)
        updates.update(fill(spec, values, data))
        return [updates.get(c, gr.skip()) for c in self.outputs]
