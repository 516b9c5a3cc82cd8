"""Reverse-mode automatic differentiation on scalars: backpropagation, one node at a time.

Every number a computation makes is a `Value` that remembers which values it was made from (its inputs) and
the *local* derivative of itself with respect to each input, computed right when the value is made:

    c = a * b        ->  c.inputs = (a, b),  c.local = (b, a)         since dc/da = b and dc/db = a

The chain rule says how a change in an input travels to the loss L through every path:

    dL/da = sum over every value c made from a of  dL/dc * dc/da

so the gradient of one node is the sum, over the edges leaving it, of (gradient arriving at the node at the
edge's far end) times (that edge's local derivative). `backward()` computes all of them in one sweep: it sorts
the graph so that every value comes after its inputs (a topological order), sets dL/dL = 1, then walks the
order backwards; when it reaches a node, every value made from that node is already finished, so the node's
own gradient is complete and it can pass `local * grad` on to each of its inputs. Gradients *add* (`+=`): a
value used twice, as in `a * a` or a weight shared by two paths, receives one contribution per use.

    x, w = Value(2.0), Value(-3.0)
    loss = (x * w).tanh()
    loss.backward()          # w.grad = dL/dw = (1 - tanh(x w)^2) x

Each operation defines its forward value and its local derivatives in one place, and `RULES` writes each local
rule out as the lecture would, for the explorer's backprop page. `MLP` builds neurons, layers and networks from
these values with the same names PyTorch uses (`parameters()`, `zero_grad()`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

RULES = {
    "+": "d(a + b)/da = 1, d(a + b)/db = 1",
    "*": "d(a b)/da = b, d(a b)/db = a",
    "**": "d(a^k)/da = k a^(k-1)",
    "exp": "d(e^a)/da = e^a",
    "log": "d(log a)/da = 1 / a",
    "tanh": "d(tanh a)/da = 1 - tanh(a)^2",
    "sigmoid": "d(sigmoid a)/da = sigmoid(a) (1 - sigmoid(a))",
    "relu": "d(relu a)/da = 1 if a > 0 else 0",
    "sum": "d(a1 + ... + an)/dai = 1",
    "mean": "d((a1 + ... + an) / n)/dai = 1 / n",
    "w·x+b": "d(w·x + b)/dwj = xj, d(w·x + b)/dxj = wj, d(w·x + b)/db = 1",
    "(y-t)^2": "d((y - t)^2)/dy = 2 (y - t)",
}
"""The local rule of each operation, as text."""


class Value:
    """A scalar that records the operation that made it, its inputs and its local derivatives."""

    __slots__ = ("data", "grad", "inputs", "local", "op", "label")

    def __init__(self, data: float, inputs: tuple[Value, ...] = (), local: tuple[float, ...] = (), op: str = "",
                 label: str = ""):
        self.data = float(data)
        self.grad = 0.0  # dL/d(this value), filled in by backward()
        self.inputs = inputs
        self.local = local  # local[i] = d(this value)/d(inputs[i]), at the values of the forward pass
        self.op = op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # operations: the forward value and the local derivative with respect to each input --------------------------
    def __add__(self, other: Value | float) -> Value:
        other = as_value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other: Value | float) -> Value:
        other = as_value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, k: float) -> Value:
        if isinstance(k, Value):
            raise TypeError("Value ** Value is not supported; the exponent must be a plain number")
        return Value(self.data**k, (self,), (k * self.data ** (k - 1),), "**")

    def exp(self) -> Value:
        e = math.exp(self.data)
        return Value(e, (self,), (e,), "exp")

    def log(self) -> Value:
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        z = self.data  # written so that exp never overflows
        s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        return Value(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        return Value(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,), "relu")

    # the rest is built from the operations above, so it needs no backward rule of its own ----------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-as_value(other))

    def __truediv__(self, other: Value | float) -> Value:
        return self * as_value(other) ** -1.0

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return as_value(other) - self

    def __rtruediv__(self, other: float) -> Value:
        return as_value(other) / self

    # backpropagation ----------------------------------------------------------------------------------------
    def backward(self, trace: list | None = None) -> None:
        """Add dL/dv, with L = this value, to `grad` of every value v this one was computed from.

        Gradients accumulate over calls, as in PyTorch: call `MLP.zero_grad()` (or set grad = 0) between steps.
        With a list as `trace`, each edge's step is appended to it as (value, input, local derivative, amount
        added to the input's grad), in the order backward takes them (the explorer replays them one by one).
        """
        order = topological_order(self)
        self.grad = 1.0  # dL/dL
        for v in reversed(order):  # every value after all the values made from it
            for inp, d in zip(v.inputs, v.local):
                inp.grad += d * v.grad  # chain rule: one edge's contribution; += for values used twice
                if trace is not None:
                    trace.append((v, inp, d, d * v.grad))


def as_value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else Value(x)


def vsum(values: Iterable[Value]) -> Value:
    """a1 + ... + an as one node with n inputs (local derivative 1 for each)."""
    vs = [as_value(v) for v in values]
    return Value(sum(v.data for v in vs), tuple(vs), (1.0,) * len(vs), "sum")


def mean(values: Iterable[Value]) -> Value:
    """(a1 + ... + an) / n as one node (local derivative 1/n for each)."""
    vs = [as_value(v) for v in values]
    n = len(vs)
    return Value(sum(v.data for v in vs) / n, tuple(vs), (1.0 / n,) * n, "mean")


def linear(ws: Sequence[Value], xs: Sequence[Value], b: Value, label: str = "") -> Value:
    """w·x + b as one node, a neuron's weighted sum: d/dwj = xj, d/dxj = wj, d/db = 1."""
    inputs = (*ws, *xs, b)
    local = (*(x.data for x in xs), *(w.data for w in ws), 1.0)
    return Value(sum(w.data * x.data for w, x in zip(ws, xs)) + b.data, inputs, local, "w·x+b", label)


def squared_error(y: Value, target: float, label: str = "L") -> Value:
    """(y - t)^2 for a fixed target t, as one node: d/dy = 2 (y - t)."""
    e = y.data - target
    return Value(e * e, (y,), (2.0 * e,), "(y-t)^2", label)


def topological_order(root: Value) -> list[Value]:
    """Every value `root` depends on, each after all of its inputs (depth-first, without recursion)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        v, inputs_done = stack.pop()
        if inputs_done:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))  # comes back after its inputs
        stack.extend((inp, False) for inp in reversed(v.inputs) if id(inp) not in seen)
    return order


# a network made of Values, with PyTorch's names ---------------------------------------------------------------
class Neuron:
    """act(w · x + b) with one weight per input."""

    def __init__(self, n_in: int, act: str, rng: random.Random):
        bound = 1.0 / math.sqrt(n_in)  # PyTorch's nn.Linear default range
        self.w = [Value(rng.uniform(-bound, bound), label="w") for _ in range(n_in)]
        self.b = Value(rng.uniform(-bound, bound), label="b")
        self.act = act

    def __call__(self, x: Sequence[Value | float]) -> Value:
        z = vsum([wi * xi for wi, xi in zip(self.w, x)] + [self.b])
        return z if self.act == "linear" else getattr(z, self.act)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class MLP:
    """Layers of neurons: `sizes` = (inputs, hidden..., outputs); hidden layers use `act`, the output is linear."""

    def __init__(self, sizes: Sequence[int], act: str = "tanh", seed: int = 0):
        rng = random.Random(seed)
        self.layers = [[Neuron(a, act if i < len(sizes) - 2 else "linear", rng) for _ in range(b)]
                       for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        h: Sequence[Value | float] = x
        for layer in self.layers:
            h = [neuron(h) for neuron in layer]
        return list(h)  # type: ignore[arg-type]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for neuron in layer for p in neuron.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def step(self, lr: float) -> None:
        """Gradient descent: p <- p - lr dL/dp for every parameter."""
        for p in self.parameters():
            p.data -= lr * p.grad
