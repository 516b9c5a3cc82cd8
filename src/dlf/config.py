"""Typed experiment configs: one declaration per field, checked before any work starts, and the CLI made from them.

Every experiment has one dataclass config. Each field has a type, its valid range (or predicate) as `Annotated`
metadata, a default, and a docstring on the line below it; tyro (as CleanRL uses it) turns the fields into
`--options` and the docstrings into the `--help` text.

    @dataclass
    class Config(BaseConfig):
        lr: Annotated[float, Range(0, 10, low_open=True)] = 0.1
        \"\"\"Learning rate of the update w <- w - lr * grad.\"\"\"

`check_fields` checks every field's type, finiteness and range (for options and for config.json alike);
`validate()` adds only the rules that tie several fields together, and the up-front memory check (an
experiment's `memory_bytes()` against the RAM available). All raise `ConfigError` with a one-line message.

What a config can do is declared once, on the class: a `device` field gives the `--device` option, `checkpoints`
gives `--resume`, `reads_data` gives `--data-dir` (see `dlf.cli`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from dlf.errors import ConfigError, shorten

Device = Literal["auto", "cpu", "cuda", "mps"]
SEED_MAX = 2**32 - 1  # numpy's seeds are 32-bit; torch takes these too


@dataclass(frozen=True)
class Range:
    """The closed interval [low, high] of a number field (open at an end where asked); floats must be finite."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def check(self, value: float) -> str | None:
        ok_low = value > self.low if self.low_open else value >= self.low
        ok_high = value < self.high if self.high_open else value <= self.high
        if ok_low and ok_high:
            return None
        lo, hi = _num(self.low), _num(self.high)
        return f"must be in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"


@dataclass(frozen=True)
class Text:
    """A string field: non-empty (no blank file names) and at most `max_len` characters."""

    max_len: int = 4096

    def check(self, value: str) -> str | None:
        if not value.strip():
            return "must not be empty"
        if len(value) > self.max_len:
            return f"must be at most {self.max_len} characters"
        return None


def _num(x: float) -> str:
    return f"{int(x):_}".replace("_", ",") if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


@dataclass
class BaseConfig:
    """Fields every experiment shares."""

    seed: Annotated[int, Range(0, SEED_MAX)] = 0
    """Seed for python, numpy and torch; the same seed on the same device gives the same summary.json."""

    checkpoints: ClassVar[bool] = False
    """Whether the experiment writes checkpoints (and so can be continued with --resume)."""
    reads_data: ClassVar[bool] = False
    """Whether the experiment reads a data set (and so takes --data-dir)."""

    def validate(self) -> None:
        """Check every field, then the memory estimate. Subclasses call super().validate() and add cross-field rules."""
        check_fields(self)
        check_memory(self)

    def memory_bytes(self) -> tuple[float, str]:
        """About how many bytes a run needs (parameters, optimizer state, activations, data), and the options
        that set it. 0 where the experiment is always small."""
        return 0, ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseConfig:
        """Rebuild a config from config.json: unknown keys and values of the wrong type are errors, missing keys
        take their defaults."""
        if not isinstance(data, dict):
            raise ConfigError("must hold a JSON object of option values")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - RETIRED)
        if unknown:
            keys = shorten(", ".join(unknown))
            raise ConfigError(f"unknown key(s) {keys}; is this config.json from another dlf version?")
        kwargs = {k: _from_json(v) for k, v in data.items() if k in names}
        cfg = cls(**kwargs)
        check_fields(cfg, key=lambda name: f'key "{name}"')
        cfg.validate()
        return cfg

    def replace(self, **changes: Any) -> BaseConfig:
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg


RETIRED = frozenset({"device"})
"""Keys older dlf versions wrote for experiments that no longer have them (ignored when read back)."""


def require(ok: bool, field: str, rule: str, value: Any) -> None:
    """Raise a one-line ConfigError naming the option when `ok` is false (for rules across fields)."""
    if not ok:
        raise ConfigError(f"--{field.replace('_', '-')} {rule} (got {shorten(repr(value))})")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# field checks --------------------------------------------------------------------------------------------------
@cache
def field_specs(cls: type) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """name -> (type without Annotated, its checks (Range/Text)) for each field of a config class.

    A subclass that only changes a field's default (`epochs: float = 8.0`) keeps the range declared in the base."""
    specs = {}
    for f in dataclasses.fields(cls):
        tp, checks = _split(typing.get_type_hints(cls, include_extras=True)[f.name])
        for klass in cls.__mro__:
            if checks or f.name not in vars(klass).get("__annotations__", {}):
                continue
            checks = _split(typing.get_type_hints(klass, include_extras=True)[f.name])[1]
        specs[f.name] = (tp, checks)
    return specs


def _split(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(tp) is not Annotated:
        return tp, ()
    inner, *meta = typing.get_args(tp)
    return inner, tuple(m for m in meta if isinstance(m, (Range, Text)))


def _check_value(tp: Any, checks: tuple[Any, ...], value: Any) -> str | None:
    """Why `value` is not a valid value of type `tp` with `checks`, or None."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(inner[0], checks, value) if len(inner) == 1 else None
    if origin is Literal:
        return None if value in args else f"must be one of {', '.join(map(str, args))}"
    if origin is tuple:
        if not isinstance(value, tuple):
            return "must be a list of values"
        if len(args) == 2 and args[1] is Ellipsis:
            if not value:
                return "must not be empty"
            items = args[:1] * len(value)
        elif len(value) != len(args):
            return f"must be {len(args)} values"
        else:
            items = args
        for item_tp, item in zip(items, value):
            why = _check_value(item_tp, checks, item)
            if why:
                return why
        return None
    if tp is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if not math.isfinite(value):
            return "must be a finite number"
    elif tp is str and not isinstance(value, str):
        return "must be text"
    for check in checks:
        why = check.check(value)
        if why:
            return why
    return None


def check_fields(cfg: BaseConfig, key=_flag) -> None:
    """Raise ConfigError for the first field whose value has the wrong type, is not finite or is out of range."""
    for name, (tp, checks) in field_specs(type(cfg)).items():
        value = getattr(cfg, name)
        why = _check_value(tp, checks, value)
        if why:
            raise ConfigError(f"{key(name)} {why} (got {shorten(repr(value))})")
        if tp is float and isinstance(value, int):
            object.__setattr__(cfg, name, float(value))


# memory -----------------------------------------------------------------------------------------------------
def available_memory() -> float:
    """Bytes of RAM available now (MemAvailable on Linux, else the physical total)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def check_memory(cfg: BaseConfig) -> None:
    """Refuse, before anything is allocated, a configuration that needs more memory than is available."""
    need, options = cfg.memory_bytes()
    have = available_memory()
    if need > have:
        raise ConfigError(f"this configuration needs about {_gb(need)} of memory but {_gb(have)} is available; "
                          f"make {options} smaller")


def _gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def train_bytes(params: float, activations: float) -> float:
    """Parameters with their gradients and two Adam moments (4 float32 copies), plus activations kept for backward."""
    return 16 * params + 4 * activations


def dumps(cfg: BaseConfig, experiment: str) -> str:
    return json.dumps({"experiment": experiment, **cfg.to_dict()}, indent=2) + "\n"
