"""The target-expression parser: right values, right precedence, and nothing outside the whitelist."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

from dlf.cli import main
from dlf.errors import ConfigError
from dlf.fundamentals import expr
from dlf.fundamentals.expr import parse, parse_target
from dlf.fundamentals.universality import PRESETS

X = np.linspace(-3.0, 3.0, 61)

PRESET_VALUES = {
    "sin": np.sin,
    "abs": np.abs,
    "poly": lambda x: 0.1 * x**3 - x,
    "gauss": lambda x: np.exp(-(x**2)),
    "step": lambda x: np.heaviside(x, 0.5),
    "sawtooth": lambda x: np.mod(x, 2) - 1,
}


def test_every_preset_evaluates_to_its_numpy_function():
    assert set(PRESET_VALUES) == set(PRESETS)
    for name, fn in PRESET_VALUES.items():
        target = parse_target(name)
        assert target.text == name and target.formula == PRESETS[name]
        np.testing.assert_allclose(target(X), fn(X), rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sin(3*x) + x**2", lambda x: np.sin(3 * x) + x**2),
        ("-x**2", lambda x: -(x**2)),  # ** binds tighter than unary minus
        ("2**3**2 + 0*x", lambda x: np.full_like(x, 512.0)),  # ** is right-associative
        ("1 - x - x", lambda x: 1 - 2 * x),  # - is left-associative
        ("x / 2 / 4", lambda x: x / 8),
        ("2 + 3 * x", lambda x: 2 + 3 * x),
        ("(2 + 3) * x", lambda x: 5 * x),
        ("--x + +x", lambda x: 2 * x),
        ("-(-x)", lambda x: x),
        ("2**-x", lambda x: 2.0 ** (-x)),
        ("pi * x + e", lambda x: np.pi * x + np.e),
        ("maximum(x, 0) - minimum(x, 0.5)", lambda x: np.maximum(x, 0) - np.minimum(x, 0.5)),
        ("heaviside(x, 1) + sign(x)", lambda x: np.heaviside(x, 1.0) + np.sign(x)),
        ("sqrt(abs(x)) * exp(-x**2/2)", lambda x: np.sqrt(np.abs(x)) * np.exp(-(x**2) / 2)),
        ("floor(x) + ceil(x) + arctan(x)", lambda x: np.floor(x) + np.ceil(x) + np.arctan(x)),
        ("1.5e-1 * x", lambda x: 0.15 * x),
    ],
)
def test_expressions_match_numpy(text, expected):
    np.testing.assert_allclose(parse(text)(X), expected(X), rtol=1e-15, atol=1e-300)


def test_constant_expression_has_the_shape_of_x():
    y = parse("3")(np.arange(5))
    assert y.shape == (5,) and y.dtype == np.float64 and np.all(y == 3.0)


def test_parentheses_do_not_count_as_nesting():
    text = "(" * 140 + "x" + ")" * 140
    np.testing.assert_array_equal(parse(text)(X), X)


MALFORMED = ["sin(", "x +", "", "   ", "x x", "sin()", "sin(x, x)", "maximum(x)", "cos", "1 +* 2", "x)", "x\n+ 1"]
MALICIOUS = [
    "__import__('os').system('id')",
    "x.__class__",
    "().__class__.__bases__",
    "open('f')",
    "lambda: 1",
    "[x for x in 1]",
    "y",
    "x[0]",
    "sin(x=1)",
    "sin(*[x])",
    "'abc'",
    "b'abc'",
    "True",
    "1j",
    "...",
    "x if x else 1",
    "(y := 1)",
    "f'{x}'",
    "x and 1",
    "x < 1",
    "x % 2",
    "x // 2",
    "x @ x",
    "np.sin(x)",
    "sin.__call__(x)",
    "getattr(x, 'real')",
    "{1: x}",
    "(x, x)",
]


@pytest.mark.parametrize("text", MALFORMED + MALICIOUS)
def test_anything_outside_the_whitelist_is_a_one_line_config_error(text):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["__import__('os').system('id')", "x.__class__", "open('f')", "lambda: 1"])
def test_refusal_says_what_is_not_allowed_and_what_is(text):
    with pytest.raises(ConfigError) as info:
        parse_target(text)
    message = str(info.value)
    assert "not allowed" in message and "sin" in message and "**" in message


def test_huge_powers_are_inf_not_a_hang():
    y = parse("9**9**9**9")(X)  # float64 arithmetic: inf at once, no giant integer
    assert np.all(np.isposinf(y))
    with pytest.raises(ConfigError, match="not finite"):
        parse("9**9**9**9 + x").check_finite((-1.0, 1.0))


def test_too_long_and_too_deep_inputs_are_refused():
    with pytest.raises(ConfigError, match="300"):
        parse("x+" * 150 + "x")
    with pytest.raises(ConfigError, match="nested"):
        parse("sin(" * 50 + "x" + ")" * 50)
    with pytest.raises(ConfigError):
        parse("-" * 299 + "x")


def test_check_finite_reports_poles_and_logs_of_negatives():
    with pytest.raises(ConfigError, match="not finite"):
        parse("log(x)").check_finite((-1.0, 1.0))
    with pytest.raises(ConfigError, match="not finite"):
        parse("1/x").check_finite((-1.0, 1.0))
    parse("log(x)").check_finite((0.5, 2.0))  # fine where it is defined


def test_the_module_never_evaluates_text():
    tree = ast.parse(inspect.getsource(expr))
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__", "getattr"}


@pytest.mark.parametrize("target", ["__import__('os').system('id')", "log(x)"])
def test_cli_refuses_bad_targets_with_one_line_and_no_run_folder(tmp_path, capsys, target):
    out = tmp_path / "run"
    code = main(["run", "universality", "--target", target, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("dlf: error: --target")
    assert not out.exists()
