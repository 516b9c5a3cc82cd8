"""Every option of every experiment and subcommand is checked before any work starts: a bad value is one line, exit
status 2, no traceback, and no run folder. The sweep iterates the dataclass fields, so a new option cannot escape."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from dlf import registry
from dlf.cli import main
from dlf.config import BaseConfig, Range, Text, field_specs
from dlf.errors import ConfigError

EXPERIMENTS = [e for e in registry.EXPERIMENTS]
BAD_INTS = [-1, 0, 10**12, 100000000000000000000000, -(10**23)]
BAD_FLOATS = [-1.0, 0.0, 1e12, -1e12, math.nan, math.inf, -math.inf, 1e308]
BAD_TEXT = ["", "   ", "x" * 1_000_000]


def _leaves(tp: typing.Any) -> list[typing.Any]:
    """The scalar types inside a field type (through Optional and tuples)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, __import__("types").UnionType) or origin is tuple:
        return [leaf for a in args if a is not type(None) and a is not Ellipsis for leaf in _leaves(a)]
    return [tp]


def _bad_values(tp: typing.Any) -> list[typing.Any]:
    leaves = _leaves(tp)
    scalar = leaves[0]
    values = {int: BAD_INTS, float: BAD_FLOATS, str: BAD_TEXT, bool: ["yes", 1]}.get(scalar, ["no-such-choice", 3])
    if typing.get_origin(tp) is tuple or any(typing.get_origin(a) is tuple for a in typing.get_args(tp)):
        return [(v,) * max(1, len([a for a in typing.get_args(tp) if a is not Ellipsis])) for v in values] + [()]
    return values + ["many"] if scalar is not str else values + [3]


def _in_range(checks, value) -> bool:
    items = value if isinstance(value, tuple) else (value,)
    return all(c.check(v) is None for c in checks for v in items if v is not None)


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=lambda e: e.name)
def test_every_number_and_text_field_declares_its_range(exp):
    for name, (tp, checks) in field_specs(exp.load().Config).items():
        leaves = _leaves(tp)
        if any(leaf in (int, float) for leaf in leaves):
            assert any(isinstance(c, Range) for c in checks), f"{exp.name} --{name} declares no Range"
        if str in leaves:
            assert any(isinstance(c, Text) for c in checks), f"{exp.name} --{name} declares no Text check"


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=lambda e: e.name)
def test_bad_values_of_every_field_are_refused_in_one_line(exp):
    cls = exp.load().Config
    base = cls()
    base.validate()
    for name, (tp, checks) in field_specs(cls).items():
        for value in _bad_values(tp):
            cfg = dataclasses.replace(base, **{name: value})
            try:
                cfg.validate()
            except ConfigError as exc:
                message = str(exc)
                assert "\n" not in message and len(message) < 400, message[:500]
                continue
            # accepted: then it is a value of the declared type and range (e.g. 0 where 0 means "all")
            assert _in_range(checks, value), f"{exp.name} --{name} accepted {value!r}"
            assert not (isinstance(value, float) and not math.isfinite(value))


def test_config_json_values_are_type_checked():
    cls = registry.get("mnist-mlp").load().Config
    with pytest.raises(ConfigError, match='key "hidden" must be an integer'):
        cls.from_dict({"hidden": "many"})
    with pytest.raises(ConfigError, match='key "lr" must be a finite number'):
        cls.from_dict({"lr": float("nan")})


def test_a_model_too_big_for_memory_is_refused_up_front_with_its_size():
    cls = registry.get("char-rnn").load().Config
    with pytest.raises(ConfigError, match=r"needs about [\d,.]+ GiB of memory .* make --hidden"):
        cls(hidden=16_384, layers=64).validate()


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if any experiment (or the tour) gets as far as running."""
    import dlf.runner
    import dlf.tour

    def reached(*args, **kwargs):
        raise AssertionError("validation let a bad value through to the run")

    monkeypatch.setattr(dlf.runner, "execute", reached)
    monkeypatch.setattr(dlf.tour, "execute", reached, raising=False)


def _refused(capsys, argv) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0] and len(err[0]) < 1100, err
    return err[0]


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=lambda e: e.name)
def test_cli_refuses_a_huge_seed_and_leaves_no_folder(exp, tmp_path, capsys, no_run):
    out = tmp_path / "run"
    assert "--seed must be in [0," in _refused(capsys, ["run", exp.name, "--out", str(out), "--seed",
                                                          "100000000000000000000000"])
    assert not out.exists()


SUBCOMMAND_OPTIONS = {
    "sample": (["RUN"], ["--n", "--seed", "--length", "--temperature", "--top-k", "--out", "--prime"]),
    "play": (["RUN"], ["--episodes", "--out"]),
    "inspect": (["RUN", "--unit", "1"], ["--unit", "--chars", "--out"]),
    "neighbors": (["RUN", "word"], ["-k"]),
    "analogy": (["RUN", "a", "b", "c"], ["-k"]),
    "compare": (["RUN"], ["--out"]),
    "tour": ([], ["--seed", "--part"]),  # any non-empty --out names a folder to make
    "report": (["RUN"], ["--out"]),
    "explore": ([], ["--port"]),
}
CLI_BAD = ["-1", "0", "1e12", "1000000000000", "nan", "inf", "-inf", "", "abc", "100000000000000000000000",
           "/proc/x.png", "/no/such/folder/x.png"]


@pytest.mark.parametrize("command", SUBCOMMAND_OPTIONS)
def test_subcommand_options_are_refused_in_one_line(command, tmp_path, capsys, no_run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    positional, options = SUBCOMMAND_OPTIONS[command]
    for option in options:
        for value in CLI_BAD:
            if (option == "--prime" and value) or (command == "tour" and value == "0"):
                continue  # valid: any text primes a sample; the tour would run
            argv = [command, *positional, option, value]
            code = main(argv)
            err = capsys.readouterr().err.strip().splitlines()
            # the option is refused, or (a valid value) the command fails on the missing RUN folder in one line
            assert code == 2 and len(err) == 1 and "Traceback" not in err[0], (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    if command in ("tour", "compare", "play", "sample", "inspect", "report"):
        assert "--out" in _refused(capsys, [command, *positional, "--out", ""])
    if command == "explore":
        assert "--runs" in _refused(capsys, [command, "--runs", ""])


def test_tour_with_a_bad_seed_leaves_nothing_behind(tmp_path):
    from dlf.tour import tour

    with pytest.raises(ConfigError, match="--seed"):
        tour(out=tmp_path / "t", seed=-1)
    assert not (tmp_path / "t").exists()


def test_a_huge_unknown_name_is_not_echoed_whole(capsys):
    line = _refused(capsys, ["run", "x" * 1_000_000])
    assert len(line) < 400


def test_memory_need_is_zero_or_positive_for_every_default():
    for exp in EXPERIMENTS:
        cfg: BaseConfig = exp.load().Config()
        need, options = cfg.memory_bytes()
        assert need >= 0 and (need == 0 or options.startswith("--")), exp.name


def test_without_tyros_error_hook_a_bad_option_is_still_one_line(monkeypatch, capsys):
    import tyro._errors

    monkeypatch.delattr(tyro._errors, "on_parse_error")
    assert "invalid options --points abc" in _refused(capsys, ["run", "activations", "--points", "abc"])
