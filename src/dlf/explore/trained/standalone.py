"""Each kind of run page also at its own address: /run-handwriting, /run-text, /run-words, /run-vae, /run-images,
/run-rl, each with the page's settings in its query (/run-vae?run=runs%2Fvae&z1=1.5).

    add_pages(demo, limits, catalogue)   # after the app's Blocks is built (dlf.explore.app.build_app)

A page alone is a page of the same gradio app (`Blocks.route`), so the browser loads only that page's few dozen
widgets instead of the whole explorer, while the server keeps one queue, one set of bounds (dlf.explore.session)
and one copy of each model. Its load request looks at the runs folder again, sets the widgets from the link (checked
as in the whole app: numbers clamped, text bounded, a run kept only when it is one of this page's runs) and draws
the page, all at once; a run in the link that cannot be opened is named with its one-line reason. An old link to a
run page of the whole app (/?tab=run-vae&...) is redirected here (RunLinks).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import gradio as gr
from starlette.responses import RedirectResponse

from dlf.explore import share, widgets
from dlf.explore.session import Limits
from dlf.explore.trained import models
from dlf.explore.trained.pages import TITLES, kind_page
from dlf.explore.trained.scan import Catalogue

TABS = tuple(f"run-{kind}" for kind in TITLES)
"""The run pages' addresses (without the leading /), the same names as their tabs in the whole app."""


def header(title: str, has_link: bool = True) -> str:
    """The top of a page alone: its title and the way back to the whole explorer (in the same browser tab)."""
    note = " · <b>Link to these settings</b> (below) opens this page as it is now" if has_link else ""
    return (f'<h2 style="margin:0">{title} · dlf explore</h2><p><a href="./" target="_self">All pages of the '
            f'explorer</a> · <a href="./?tab=run-list" target="_self">All trained runs</a>{note}</p>')


def add_pages(demo: gr.Blocks, limits: Limits, catalogue: Catalogue) -> None:
    """Add one page per kind of run to the app `demo`, each at /run-KIND (also for kinds not found yet: a link may
    name a run written later)."""
    for kind, title in TITLES.items():
        attached(demo)
        with demo.route(title, f"run-{kind}", show_in_navbar=False):
            gr.HTML(header(title, kind != "handwriting"), elem_id=f"run-{kind}-header")
            load = PageLoad(f"run-{kind}", kind_page(kind, catalogue.view(kind), limits), catalogue)
            demo.load(load, load.inputs, load.outputs, api_name=False, **widgets.QUIET)


def attached(demo: gr.Blocks) -> None:
    """Mark the load events of widgets with a computed value (a gr.State of a class) as attached: gradio attaches
    them at the end of every `with demo`, so each page added later would otherwise run the first-half pages'
    loads again on its own load (one request each)."""
    for block in demo.blocks.values():
        if getattr(block, "load_event_to_attach", None):
            block.load_event_to_attach = None


class PageLoad:
    """The load event of a page alone: rescan, the link's values set and checked, the page drawn."""

    def __init__(self, tab: str, spec: dict, catalogue: Catalogue):
        self.tab, self.spec, self.catalogue = tab, spec, catalogue
        ins, outs = dict.fromkeys(spec["comps"]), dict.fromkeys(spec["comps"])
        for part_ins, part_outs, _ in spec["rescan"]:
            ins.update(dict.fromkeys(part_ins))
            outs.update(dict.fromkeys(part_outs))
        if spec.get("refresh"):
            ins.update(dict.fromkeys(spec["refresh"][1]))
            outs.update(dict.fromkeys(spec["refresh"][2]))
        if spec.get("status") is not None:
            outs[spec["status"]] = None
        self.inputs, self.outputs = set(ins), list(outs)

    def __call__(self, data: dict, request: gr.Request) -> list:
        from dlf.explore.app import fill, merge

        changed = self.catalogue.rescan()  # a link may name a run written since the last look
        if changed:
            models.preload(changed)
        query = {**dict(request.query_params), share.TAB_KEY: self.tab}
        _, values = share.decode(query, {self.tab: self.spec["fields"]})
        updates: dict = {}
        for part_ins, part_outs, fn in self.spec["rescan"]:  # the run menus and lists as the rescan found them
            got = fn(*(data[c] for c in part_ins))
            updates.update(zip(part_outs, got if len(part_outs) > 1 else (got,)))
        for comp, update in fill(self.spec, values, data).items():
            updates[comp] = merge(updates.get(comp), update)
        status = self.spec.get("status")
        note = self.refused(query)
        if note and status is not None:
            drawn = updates.get(status)
            updates[status] = note + (f"  \n{drawn}" if isinstance(drawn, str) and drawn else "")
        return [updates.get(c, gr.skip()) for c in self.outputs]

    def refused(self, query: dict) -> str:
        """One line for each run the link names that this page does not open: the folder's reason, if it has one."""
        lines = []
        for name, view in self.spec.get("choices", {}).items():
            asked = query.get(name)
            if not asked or asked in view.labels():
                continue
            info = next((i for i in self.catalogue.infos if i.label == asked), None)
            if info is not None and info.reason:
                lines.append(f"**The link's run `{asked}` cannot be opened:** {info.reason}")
            else:
                lines.append(f"The link's run `{asked[:200]}` is not one of this page's runs; it is ignored.")
        return "  \n".join(lines)


class RunLinks:
    """ASGI middleware: an old link to a run page of the whole app (/?tab=run-vae&run=...&z1=1.5) is redirected
    (307) to that page's own address (run-vae?run=...&z1=1.5, relative, so it holds behind a proxy's prefix too)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/" and scope.get("method") in ("GET", "HEAD"):
            pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            tab = dict(pairs).get(share.TAB_KEY)
            if tab in TABS:
                rest = urlencode([(k, v) for k, v in pairs if k != share.TAB_KEY])
                await RedirectResponse(f"{tab}?{rest}" if rest else tab, status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)
