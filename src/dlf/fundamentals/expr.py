"""Target functions typed by a user, such as `sin(3*x) + x**2`, parsed safely.

The text is only *parsed* by Python (`ast.parse(text, mode="eval")` gives a syntax tree); it is never run.
We walk the tree ourselves and accept a small whitelist:

    numbers (int or float literals)     the variable x      the constants pi and e
    a + b   a - b   a * b   a / b   a ** b   +a   -a   (parentheses)
    f(a) or f(a, b) for the numpy functions in FUNCTIONS

Everything else (attributes, subscripts, other names, keywords, strings, lambdas, ...) is a ConfigError.
The result is a `Target`, a callable `f(x: np.ndarray) -> np.ndarray` that evaluates the tree with numpy
in float64, so `9**9**9**9` is just `inf` (no huge integers are ever built).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlf.errors import ConfigError

MAX_CHARS = 300
MAX_DEPTH = 40

Fn = Callable[[np.ndarray], np.ndarray]


def _heaviside(a: np.ndarray, at_zero: np.ndarray | float = 0.5) -> np.ndarray:
    return np.heaviside(a, at_zero)


_ONE_ARG = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "log": np.log, "log2": np.log2, "log10": np.log10,
    "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sign": np.sign, "floor": np.floor, "ceil": np.ceil, "sinc": np.sinc,
    "round": np.round,
}
_TWO_ARGS = {"maximum": np.maximum, "minimum": np.minimum, "arctan2": np.arctan2, "hypot": np.hypot, "mod": np.mod}
# name -> (numpy function, allowed numbers of positional arguments)
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], tuple[int, ...]]] = {
    **{name: (f, (1,)) for name, f in _ONE_ARG.items()},
    **{name: (f, (2,)) for name, f in _TWO_ARGS.items()},
    "heaviside": (_heaviside, (1, 2)),  # heaviside(x) takes 0.5 at x = 0
}
CONSTANTS = {"pi": np.pi, "e": np.e}
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power}
_UNARY = {ast.UAdd: np.positive, ast.USub: np.negative}
_FRIENDLY = {
    ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[i])", ast.Lambda: "lambda",
    ast.BoolOp: "and/or", ast.Compare: "comparison", ast.IfExp: "if-else", ast.NamedExpr: ":=",
    ast.JoinedStr: "an f-string", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.Tuple: "a tuple", ast.List: "a list",
    ast.Dict: "a dict", ast.Set: "a set", ast.Starred: "*unpacking",
}
ALLOWED = f"use numbers, x, pi, e, + - * / **, parentheses and {', '.join(FUNCTIONS)}"


def _refuse(what: str) -> ConfigError:
    return ConfigError(f"{what} is not allowed in a target expression; {ALLOWED}")


def _number(value: object) -> Fn:
    if type(value) not in (int, float):  # bool is an int subclass, complex and str are not numbers here
        raise _refuse(f"the literal {value!r}"[:60])
    try:
        c = float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise ConfigError("a number in the target expression is too large for float64; use a smaller one") from None
    return lambda x: np.full_like(x, c)


def _name(node: ast.Name) -> Fn:
    if node.id == "x":
        return lambda x: x
    if node.id in CONSTANTS:
        c = CONSTANTS[node.id]
        return lambda x: np.full_like(x, c)
    if node.id in FUNCTIONS:
        raise ConfigError(f"'{node.id}' is a function; call it as {node.id}(x)")
    raise _refuse(f"the name '{node.id}'")


def _call(node: ast.Call, depth: int) -> Fn:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        if isinstance(node.func, ast.Name):
            raise _refuse(f"the function '{node.func.id}'")
        raise _refuse("calling a method or an expression (a.b(...), (...)(...))")
    name = node.func.id
    fn, arities = FUNCTIONS[name]
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise _refuse(f"keyword or * arguments in {name}(...)")
    if len(node.args) not in arities:
        counts = " or ".join(str(n) for n in arities)
        raise ConfigError(f"{name}() takes {counts} argument(s), got {len(node.args)}")
    args = [_build(a, depth + 1) for a in node.args]
    if len(args) == 1:
        (a,) = args
        return lambda x: fn(a(x))
    a, b = args
    return lambda x: fn(a(x), b(x))


def _build(node: ast.AST, depth: int = 0) -> Fn:
    """Check one node of the tree against the whitelist and turn it into a function of x."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"the target expression is nested more than {MAX_DEPTH} levels deep; simplify it")
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name):
        return _name(node)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        a, b = _build(node.left, depth + 1), _build(node.right, depth + 1)
        return lambda x: op(a(x), b(x))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        op = _UNARY[type(node.op)]
        a = _build(node.operand, depth + 1)
        return lambda x: op(a(x))
    if isinstance(node, ast.Call):
        return _call(node, depth)
    kind = _FRIENDLY.get(type(node))
    if kind is None and isinstance(node, ast.BinOp):
        kind = f"the operator {type(node.op).__name__}"
    raise _refuse(kind or f"{type(node).__name__} syntax")


@dataclass(frozen=True)
class Target:
    """A parsed target: call it on a float array of x values to get f(x) (same shape, float64)."""

    text: str
    """What the user typed: a preset name or the expression."""
    fn: Fn
    formula: str = ""
    """The expression in x (the same as `text` unless `text` is a preset name)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):  # overflow gives inf, 0/0 and log(-1) give nan; check_finite reports them
            return np.asarray(self.fn(x), dtype=np.float64)

    def check_finite(self, interval: tuple[float, float], points: int = 2001) -> None:
        """Raise ConfigError when f is inf or nan somewhere on a grid over `interval`."""
        lo, hi = interval
        x = np.linspace(lo, hi, points)
        bad = ~np.isfinite(self(x))
        if bad.any():
            at = float(x[np.argmax(bad)])
            raise ConfigError(
                f"target {self.text!r} is not finite on [{lo:g}, {hi:g}] (e.g. at x = {at:.4g}); "
                "choose another --interval or --target"
            )


def parse(text: str) -> Target:
    """Parse an expression in x into a Target; anything outside the whitelist is a one-line ConfigError."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"the target expression is empty; {ALLOWED}")
    if len(text) > MAX_CHARS:
        raise ConfigError(f"the target expression is {len(text)} characters long; keep it under {MAX_CHARS}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConfigError(f"cannot parse target {text!r}: {exc.msg}{where}; write it like sin(3*x) + x**2") from None
    except (ValueError, RecursionError, MemoryError):
        raise ConfigError(f"cannot parse target {text!r}; simplify it") from None
    return Target(text.strip(), _build(tree.body), text.strip())


def parse_target(text: str) -> Target:
    """A preset name (see dlf.fundamentals.universality.PRESETS) or an expression in x."""
    from dlf.fundamentals.universality import PRESETS  # imported here: expr stays free of torch

    name = text.strip() if isinstance(text, str) else text
    if name in PRESETS:
        return Target(name, parse(PRESETS[name]).fn, PRESETS[name])
    if isinstance(name, str) and name.isidentifier() and name not in ("x", *CONSTANTS, *FUNCTIONS):
        raise ConfigError(f"unknown target preset '{name}'; choose one of {', '.join(PRESETS)} "
                          "or write an expression in x such as sin(3*x) + x**2")
    return parse(text)
