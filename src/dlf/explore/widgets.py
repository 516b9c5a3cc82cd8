"""gradio widgets made from the pages' `Field`s, and the row that makes a link to the current settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import gradio as gr

from dlf.explore import patch, share
from dlf.explore.share import Field

QUIET: dict[str, Any] = {"show_progress": "hidden"}
"""Event options for live plots: no spinner over the figure while it updates."""
LIVE: dict[str, Any] = {**QUIET, "trigger_mode": "always_last"}
"""Event options for redraws on every control change: skip stale redraws, always draw the latest value."""


LOG = logging.getLogger("dlf.explore")


def one_line(comp: gr.components.Component) -> gr.components.Component:
    """The widget, refusing a bad value (out of range, not a choice) with one log line instead of a traceback.

    gradio refuses such a value (sent by a script: the browser never sends one) with gr.Error and prints its
    traceback; this logs one line and shows the message in the page as gradio does. (It wraps the instance's
    preprocess: a subclass of a gradio widget would make gradio write a .pyi file next to this module.)
    """
    checked = comp.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return checked(payload)
        except gr.Error as exc:
            LOG.warning("refused a value for #%s: %s", comp.elem_id, exc.message)
            raise gr.Error(exc.message, print_exception=False) from None

    comp.preprocess = preprocess
    return comp


def control(page: str, f: Field) -> gr.components.Component:
    """The widget for one field; its elem_id is '<page>-<field>' (the browser tests find it by that)."""
    common = {"label": f.label, "info": f.info or None, "elem_id": f"{page}-{f.name}"}
    if f.kind in ("float", "int") and f.widget == "number":
        return one_line(gr.Number(value=f.default, minimum=f.lo, maximum=f.hi, step=f.step, **common))
    if f.kind in ("float", "int"):
        return one_line(gr.Slider(f.lo, f.hi, value=f.default, step=f.step, **common))
    if f.kind == "choice":
        if len(f.choices) <= 4:
            return one_line(gr.Radio(list(f.choices), value=f.default, **common))
        return one_line(gr.Dropdown(list(f.choices), value=f.default, **common))
    if f.kind == "bool":
        return gr.Checkbox(value=f.default, **common)
    if f.kind == "multi":
        return one_line(gr.CheckboxGroup(list(f.choices), value=list(f.default), **common))
    return gr.Textbox(value=f.default, max_lines=1, **common)


def controls(page: str, fields: Sequence[Field]) -> list[gr.components.Component]:
    return [control(page, f) for f in fields]


def read(fields: Sequence[Field], comps: Sequence[gr.components.Component], data: dict,
         problems: list[str] | None = None) -> dict[str, Any]:
    """The checked values of the widgets from the dict gradio passes when the inputs are given as a set.

    A value refused falls back to its default and, when `problems` is given, is said there in the page's words.
    """
    return share.values_of(fields, [data[c] for c in comps], problems)


def link_row(page: str, fields: Sequence[Field], comps: Sequence[gr.components.Component]) -> None:
    """A button that writes a link restoring this page's current settings into a read-only box."""
    with gr.Row():
        button = gr.Button("Link to these settings", size="sm", scale=0, elem_id=f"{page}-link-button")
        box = gr.Textbox(show_label=False, interactive=False, buttons=["copy"], elem_id=f"{page}-link",
                         placeholder="press the button, then copy the link")

    def make_link(data: dict, request: gr.Request) -> str:
        page_url = request.headers.get("referer") or f"http://{request.headers.get('host', '127.0.0.1')}/"
        return share.link(page_url, page, fields, read(fields, comps, data))

    button.click(make_link, set(comps), box, api_name=f"{page}_link", **QUIET)


def status_box(page: str, label: str = "Status") -> gr.Markdown:
    return gr.Markdown(elem_id=f"{page}-status", label=label)


def plot(page: str, value: str = "") -> gr.HTML:
    return gr.HTML(value, elem_id=f"{page}-plot", js_on_load=None)


def live_plot(page: str, js: str = "") -> gr.HTML:
    """A figure that a value replaces when it is an SVG and updates in place when it is a patch (patch.PATCH_JS);
    `js` runs on load too (the page's own handlers)."""
    return gr.HTML(elem_id=f"{page}-plot", js_on_load=patch.PATCH_JS + js,
                   html_template='<div class="dlf-live"></div><p class="dlf-live-note"></p>')


def redraw_page(page: str, fields: Sequence[Field], render, text_id: str, event: str = "change",
                widths: tuple[int, int, int] = (1, 3, 240), client: str | None = None) -> dict:
    """A page of controls, one figure and one text that `render(values) -> (svg, text)` redraws at every change.

    With `client` (JavaScript taking the controls' values in field order and returning [svg, text]), a change is
    drawn by that script in the browser, which asks a route of the server's own (dlf.explore.stream) instead of
    a gradio event; `render` still draws the page when it opens or a link restores it.
    """
    left, right, min_width = widths
    first_svg, first_text = render({f.name: f.default for f in fields})  # shown at once, before any event answers
    with gr.Row():
        with gr.Column(scale=left, min_width=min_width):
            comps = controls(page, fields)
        with gr.Column(scale=right):
            fig = plot(page, first_svg)
            text = gr.Markdown(first_text, elem_id=f"{page}-{text_id}")
    link_row(page, fields, comps)

    def draw(data: dict) -> tuple[str, str]:
        return render(read(fields, comps, data))

    for c in comps:  # a redraw takes a few ms: answered at once, without the queue's event stream
        if client:
            getattr(c, event)(None, list(comps), [fig, text], js=client, api_name=False, **QUIET)
        else:
            getattr(c, event)(draw, set(comps), [fig, text], api_name=False, queue=False, **LIVE)
    return {"fields": fields, "comps": comps, "refresh": (draw, set(comps), [fig, text])}
