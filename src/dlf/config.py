"""Typed experiment configs, and the CLI options generated from them.

Every experiment has one dataclass config. Each field has a type, a default and a docstring written on the
line below it; that docstring is the `--help` text. `add_options` turns the fields into argparse options and
`from_namespace` turns parsed options back into a validated config, so the options exist exactly once.

    @dataclass
    class Config(BaseConfig):
        lr: float = 0.1
        \"\"\"Learning rate of the update w <- w - lr * grad.\"\"\"

Validation lives in `validate()`, which raises `ConfigError` with a message naming the option.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import textwrap
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from dlf.errors import ConfigError

Device = Literal["auto", "cpu", "cuda", "mps"]


@dataclass
class BaseConfig:
    """Fields every experiment shares."""

    seed: int = 0
    """Seed for python, numpy and torch; the same seed on the same device gives the same summary.json."""
    device: Device = "auto"
    """Where to compute: auto picks cuda, then mps, then cpu."""

    def validate(self) -> None:
        """Raise ConfigError on a bad value. Subclasses call super().validate() and add their checks."""
        require(self.seed >= 0, "seed", "must be >= 0", self.seed)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseConfig:
        """Rebuild a config from config.json; unknown keys are an error, missing keys take their defaults."""
        hints = _hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            keys = ", ".join(unknown)
            raise ConfigError(f"unknown config key(s) {keys}; is this config.json from another dlf version?")
        kwargs = {k: _coerce(hints[k], v) for k, v in data.items()}
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def replace(self, **changes: Any) -> BaseConfig:
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg


def require(ok: bool, field: str, rule: str, value: Any) -> None:
    """Raise a one-line ConfigError naming the option when `ok` is false."""
    if not ok:
        raise ConfigError(f"--{field.replace('_', '-')} {rule} (got {value!r})")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under each field, collected over the class and its bases (the base first)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _scalar_parser(tp: Any, name: str):
    def parse(text: str):
        try:
            return tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {tp.__name__} value {text!r}") from None

    parse.__name__ = tp.__name__
    return parse


def _type_parser(tp: Any, name: str):
    """A function str -> value for one field type, raising ArgumentTypeError with a readable message."""
    inner, optional = _unwrap_optional(tp)
    origin = typing.get_origin(inner)
    if origin in (tuple, list):
        item = typing.get_args(inner)[0]
        parse_item = _scalar_parser(item, name)

        def parse_seq(text: str):
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if not parts:
                raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. 1,2,4")
            return tuple(parse_item(p) for p in parts)

        base = parse_seq
    elif origin is Literal:
        base = str
    else:
        base = _scalar_parser(inner, name)
    if not optional:
        return base

    def parse_optional(text: str):
        return None if text.lower() == "none" else base(text)

    return parse_optional


def _coerce(tp: Any, value: Any) -> Any:
    """JSON value -> field value (lists become tuples where the field is a tuple)."""
    inner, _ = _unwrap_optional(tp)
    if value is None:
        return None
    if typing.get_origin(inner) is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _fmt_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One `--field-name` option per dataclass field, with its docstring and default as help."""
    docs = field_docs(cls)
    hints = _hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} options")
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        doc = docs.get(f.name, "")
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        inner, _ = _unwrap_optional(tp)
        if inner is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["help"] = f"{doc} (default: {'on' if default else 'off'})"
        else:
            kwargs["type"] = _type_parser(tp, f.name)
            kwargs["metavar"] = f.name.upper()
            if typing.get_origin(inner) is Literal:
                kwargs["choices"] = list(typing.get_args(inner))
                kwargs.pop("metavar")
            kwargs["help"] = f"{doc} (default: {_fmt_default(default)})"
        group.add_argument(flag, **kwargs)


def from_namespace(cls: type, ns: argparse.Namespace, base: BaseConfig | None = None) -> BaseConfig:
    """Build and validate a config: the given options over `base` (or over the defaults)."""
    names = {f.name for f in dataclasses.fields(cls)}
    given = {k: v for k, v in vars(ns).items() if k in names}
    cfg = dataclasses.replace(base, **given) if base is not None else cls(**given)
    cfg.validate()
    return cfg


def given_options(cls: type, ns: argparse.Namespace) -> list[str]:
    """The config options that were given explicitly on the command line."""
    names = {f.name for f in dataclasses.fields(cls)}
    return sorted(k for k in vars(ns) if k in names)


def dumps(cfg: BaseConfig, experiment: str) -> str:
    return json.dumps({"experiment": experiment, **cfg.to_dict()}, indent=2) + "\n"
