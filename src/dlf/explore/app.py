"""The explorer as one gradio app: a tab per page, and links that restore a page's settings.

    demo = build_app(Limits())     # gr.Blocks; dlf.explore.server launches it

Each page module (neuron, activations, universality, descent, backprop, classify) has TAB, TITLE, FIELDS and
`build(limits)`, which lays out its widgets inside the current tab and returns its fields, widgets and the
event that draws it. On load the app reads the link's query (?tab=...&...), sets that page's widgets and
selects its tab, then draws every page.
"""

from __future__ import annotations

import os
from pathlib import Path

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

    With `runs` (a folder), the trained runs found under it get their pages too (dlf.explore.trained)."""
    from dlf.explore.trained import pages as run_pages
    from dlf.explore.trained import scan

    limits = limits or Limits()
    run_root = Path(runs) if runs is not None else None
    run_infos = scan.scan(run_root) if run_root is not None else []
    with gr.Blocks(title="dlf explore", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        built: dict[str, dict] = {}
        with gr.Tabs(elem_id="tabs") as tabs:
            for page in PAGES:
                with gr.Tab(page.TITLE, id=page.TAB, elem_id=f"tab-{page.TAB}"):
                    built[page.TAB] = page.build(limits)
            run_loads = run_pages.tabs(limits, run_root, run_infos) if run_root is not None else []
        comps = [c for b in built.values() for c in b["comps"]]
        fields = {tab: b["fields"] for tab, b in built.items()}

        def restore(request: gr.Request) -> list:
            tab, values = share.decode(dict(request.query_params), fields)
            updates = [gr.Tabs(selected=tab) if tab else gr.update()]
            for page_tab, b in built.items():
                for f in b["fields"]:
                    given = page_tab == tab and f.name in values
                    updates.append(gr.update(value=values[f.name]) if given else gr.update())
            return updates

        loaded = demo.load(restore, None, [tabs, *comps], api_name=False, **widgets.QUIET)
        for b in built.values():
            fn, inputs, outputs = b["refresh"]
            loaded.then(fn, inputs, outputs, api_name=False, **widgets.QUIET)
        for fn, inputs, outputs in run_loads:
            loaded.then(fn, inputs, outputs, api_name=False, **widgets.QUIET)
    return demo
