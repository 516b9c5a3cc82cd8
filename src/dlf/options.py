"""`dlf run NAME [options]`: an experiment's options, made by tyro from its Config dataclass.

tyro reads each field's type, default and docstring (as CleanRL uses it), so `dlf run NAME --help` lists every
option with its help text. Beside the config's fields come the run options, each only where it means something
(declared once, on the config class, see dlf.config): `--resume` where the experiment writes checkpoints,
`--data-dir` where it reads a data set. `--device` is a config field, present only in configs that compute on
one.

A bad option is one line naming it and exit status 2, like every other dlf error: tyro draws a multi-line box
and exits, so its parse-error hook (`tyro._errors.on_parse_error`, documented by tyro but marked experimental)
turns each rejection into a `ConfigError`. Should a tyro release drop the hook, the CLI still refuses bad input
in one line, only less specifically (see `_parse`). Ranges are checked afterwards by the config itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from typing import Annotated, Any

import tyro

from dlf.config import BaseConfig
from dlf.errors import ConfigError, shorten


@dataclasses.dataclass
class RunOptions:
    """Where and how to run, apart from the experiment's config."""

    out: str | None = None
    resume: str | None = None
    data_dir: str | None = None
    quiet: bool = False


def _arg(help_text: str, default: str | None = None) -> Any:
    """tyro's help for a run option; `default` says in words what happens without it (tyro would print None)."""
    return tyro.conf.arg(help=help_text, metavar="DIR" if default else None,
                         help_behavior_hint=f"(default: {default})" if default else None)


def run_fields(name: str, cls: type[BaseConfig]) -> list[tuple[str, Any, Any]]:
    """The run options that apply to experiment `name` with config class `cls`, then the config itself."""
    opt = str | None
    fields: list[tuple[str, Any, Any]] = [
        ("out", Annotated[opt, _arg("run folder", f"runs/{name}-<timestamp>")], None)]
    if cls.checkpoints:
        fields.append(("resume", Annotated[opt, _arg("continue the checkpointed run in DIR with its saved config",
                                                      "none, a new run")], None))
    if cls.reads_data:
        fields.append(("data_dir", Annotated[opt, _arg("data folder", "$DLF_DATA_DIR, then ~/.cache/dlf")], None))
    fields.append(("quiet", Annotated[bool, _arg("no progress bars and no summary table")], False))
    return [(n, tp, dataclasses.field(default=d)) for n, tp, d in fields] + [
        ("config", Annotated[cls, tyro.conf.arg(name="")], dataclasses.field(default_factory=cls))]


def parse_run(name: str, cls: type[BaseConfig], args: list[str], description: str) -> tuple[BaseConfig, RunOptions]:
    """Parse `dlf run NAME` arguments into a validated config and the run options (one-line ConfigError on bad
    input; --help prints and raises SystemExit(0))."""
    spec = dataclasses.make_dataclass("Options", run_fields(name, cls))
    names = {f.name for f in dataclasses.fields(spec)} | {f.name for f in dataclasses.fields(cls)}
    absent = {flag: why for flag, field, why in (
        ("--resume", "resume", f"{name} writes no checkpoints, so there is no run to resume; start it again"),
        ("--data-dir", "data_dir", f"{name} reads no data set"),
        ("--device", "device", f"{name} computes on the CPU only")) if field not in names}
    parsed = _parse(spec, args, f"dlf run {name}", description, absent)
    opts = RunOptions(**{f.name: getattr(parsed, f.name) for f in dataclasses.fields(spec) if f.name != "config"})
    for option in ("out", "resume", "data_dir"):
        if getattr(opts, option) == "":
            raise ConfigError(f"--{option.replace('_', '-')} must name a folder (got an empty string)")
    if opts.resume is not None:
        given = [a.split("=")[0] for a in args if a.startswith("--") and a.split("=")[0] not in RESUME_OPTIONS]
        if given:
            raise ConfigError(f"--resume continues a run with its saved config; drop {shorten(', '.join(given))}")
        return parsed.config, opts
    parsed.config.validate()
    return parsed.config, opts


RESUME_OPTIONS = ("--resume", "--data-dir", "--quiet", "--no-quiet")


def _parse(spec: type, args: list[str], prog: str, description: str, absent: dict[str, str]) -> Any:
    if "-h" in args or "--help" in args:
        return tyro.cli(spec, args=args, prog=prog, description=description)
    try:
        from tyro._errors import on_parse_error
    except ImportError:  # a tyro without the hook: keep its message out of the terminal, say it in one line
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                return tyro.cli(spec, args=args, prog=prog, description=description, console_outputs=False)
            except SystemExit:
                raise ConfigError(f"invalid options {shorten(' '.join(args))}; see '{prog} --help'") from None
    with on_parse_error(lambda event: _reject(event, prog, absent)):
        return tyro.cli(spec, args=args, prog=prog, description=description)


def _reject(event: Any, prog: str, absent: dict[str, str]) -> None:
    """Turn one of tyro's parse-error events into a one-line ConfigError (`absent`: option -> why it is not
    offered here)."""
    arg = getattr(event, "argument", None)
    flag = f"--{arg.field.extern_name.replace('_', '-')}" if arg is not None else "an option"
    kind = type(event).__name__
    flags = [t.split("=")[0] for t in getattr(event, "tokens", [])]
    if kind == "UnrecognizedArgs" and any(f in absent for f in flags):
        flag = next(f for f in flags if f in absent)
        raise ConfigError(f"{flag} does not apply: {absent[flag]}")
    if kind == "UnrecognizedArgs":
        why = f"unrecognized arguments: {shorten(' '.join(event.tokens))}"
    elif kind == "InvalidChoice":
        why = f"{flag} must be one of {', '.join(event.choices)} (got {shorten(repr(event.value))})"
    elif kind == "BadValue":
        why = f"{flag} expects a value" if event.reason == "too_few_values" else f"{flag} takes no value"
    elif kind == "InstantiationFailure":
        why = f"invalid value for {flag}: {shorten(event.message, 120)}"
    else:
        why = "invalid options"
    raise ConfigError(f"{why} (see '{prog} --help')")
