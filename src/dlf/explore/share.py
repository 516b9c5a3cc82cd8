"""The explorer's controls, described once, and the links that restore them.

Each page lists its controls as `Field`s (name, kind, default, range or choices, help text). The page builds its
widgets from them (see dlf.explore.widgets), and a link carries the page and its settings in the query string:

    http://127.0.0.1:7860/?tab=universality&target=custom&expr=sin(3*x)&width=64&lr=0.01

`encode` writes such a query; `decode` reads one back. Reading never trusts the link: an unknown page or field is
ignored, a number is clamped to its range, a choice outside the list and text longer than `max_len` are dropped
(the control keeps its default), and a custom expression is later only *parsed*, by dlf.fundamentals.expr.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

Kind = Literal["float", "int", "choice", "multi", "text", "bool"]
TAB_KEY = "tab"  # not "page": gradio keeps that query parameter for its own multi-page apps


@dataclass(frozen=True)
class Field:
    """One control of a page."""

    name: str
    label: str
    kind: Kind
    default: Any
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple = ()
    info: str = ""
    max_len: int = 300
    widget: str = ""
    """A widget other than the kind's usual one: "number" (a box to type in) for a float or int."""

    def coerce(self, value: Any) -> Any:
        """The value as this field stores it, checked and clamped; ValueError when it cannot be one."""
        if self.kind in ("float", "int"):
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(f"{self.label}: not a finite number")
            v = min(max(v, self.lo if self.lo is not None else v), self.hi if self.hi is not None else v)
            return int(round(v)) if self.kind == "int" else v
        if self.kind == "choice":
            for c in self.choices:
                if str(c) == str(value) or (isinstance(c, float) and _same_number(c, value)):
                    return c
            raise ValueError(f"{self.label}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.kind == "bool":
            if isinstance(value, bool) or str(value).lower() in ("true", "false", "1", "0", "on", "off"):
                return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "on")
            raise ValueError(f"{self.label}: {value!r} is neither on nor off")
        if self.kind == "multi":
            items = value.split(",") if isinstance(value, str) else list(value)
            picked = [c for c in self.choices if c in {str(i).strip() for i in items}]
            return picked
        text = str(value)
        if len(text) > self.max_len:
            raise ValueError(f"the {self.label} is {len(text)} characters long; keep it under {self.max_len}")
        return text

    def format(self, value: Any) -> str:
        if self.kind == "multi":
            return ",".join(str(v) for v in value)
        if self.kind == "float":
            return f"{float(value):.6g}"
        if self.kind == "bool":
            return "on" if value else "off"
        return str(value)


def _same_number(a: float, b: Any) -> bool:
    try:
        return math.isclose(a, float(b), rel_tol=1e-9)
    except (TypeError, ValueError):
        return False


CLI_WORDS = (("choose another --interval or --target", "choose another target"), ("--target", "the target"),
             ("--interval", "the interval"), ("--lr", "the learning rate"), ("--optimizer", "the optimiser"),
             ("--width", "the number of hidden units"), ("--activation", "the activation"))


def page_words(message: str) -> str:
    """A library message as a page says it: the command line's option names become the controls' words."""
    for cli, page in CLI_WORDS:
        message = message.replace(cli, page)
    return message


def defaults(fields: Sequence[Field]) -> dict[str, Any]:
    return {f.name: f.default for f in fields}


def values_of(fields: Sequence[Field], raw: Sequence[Any], problems: list[str] | None = None) -> dict[str, Any]:
    """The widgets' values (in field order) as a dict, each coerced; a bad value falls back to the default.

    Each value refused is said, in the page's words, in `problems` (when given), so the page can show why.
    """
    out: dict[str, Any] = {}
    for f, v in zip(fields, raw):
        try:
            out[f.name] = f.coerce(v)
        except (TypeError, ValueError) as exc:
            out[f.name] = f.default
            if problems is not None:
                problems.append(str(exc))
    return out


def encode(tab: str, fields: Sequence[Field], values: Mapping[str, Any]) -> str:
    """The query string (without '?') that restores `values` on page `tab`."""
    pairs = [(TAB_KEY, tab)] + [(f.name, f.format(values[f.name])) for f in fields if f.name in values]
    return urlencode(pairs, safe=",*()^")


def decode(params: Mapping[str, str], pages: Mapping[str, Sequence[Field]]) -> tuple[str | None, dict[str, Any]]:
    """(page, {field: value}) from a link's query parameters; (None, {}) when it names no known page."""
    tab = params.get(TAB_KEY)
    if tab not in pages:
        return None, {}
    values: dict[str, Any] = {}
    for f in pages[tab]:
        if f.name in params:
            try:
                values[f.name] = f.coerce(params[f.name])
            except (TypeError, ValueError):
                continue
    return tab, values


def link(base: str, tab: str, fields: Sequence[Field], values: Mapping[str, Any]) -> str:
    """The full link: the page's address without its query, then '?' and the encoded settings."""
    return base.split("?", 1)[0].split("#", 1)[0] + "?" + encode(tab, fields, values)
