"""The scalar autograd engine (dlf.fundamentals.autograd) against torch.autograd in float64 and finite differences."""

from __future__ import annotations

import math

import pytest
import torch

from dlf.fundamentals import autograd as ag
from dlf.fundamentals.autograd import MLP, Value

# name -> (the expression on our Values, the same on torch tensors, inputs): every operation, alone
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, (0.7, -1.3)),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, (0.7, -1.3)),
    "pow": (lambda a, b: a**3 + b**-2.0 + a**0.5, lambda a, b: a**3 + b**-2.0 + a**0.5, (0.7, -1.3)),
    "exp": (lambda a, b: a.exp() * b, lambda a, b: a.exp() * b, (0.7, -1.3)),
    "log": (lambda a, b: a.log() * b, lambda a, b: a.log() * b, (0.7, -1.3)),
    "tanh": (lambda a, b: (a * b).tanh(), lambda a, b: (a * b).tanh(), (0.7, -1.3)),
    "sigmoid": (lambda a, b: (a * b).sigmoid(), lambda a, b: (a * b).sigmoid(), (0.7, -1.3)),
    "sigmoid-far": (lambda a, b: (a * b).sigmoid(), lambda a, b: (a * b).sigmoid(), (30.0, -30.0)),
    "relu-on": (lambda a, b: (a - b).relu(), lambda a, b: (a - b).relu(), (0.7, -1.3)),
    "relu-off": (lambda a, b: (b - a).relu(), lambda a, b: (b - a).relu(), (0.7, -1.3)),
    "sub-div-neg": (lambda a, b: -(a - b) / b + 2 / a - (1 - b), lambda a, b: -(a - b) / b + 2 / a - (1 - b),
                    (0.7, -1.3)),
    "sum": (lambda a, b: ag.vsum([a, b, a * b]), lambda a, b: torch.stack([a, b, a * b]).sum(), (0.7, -1.3)),
    "mean": (lambda a, b: ag.mean([a, b, a * b]), lambda a, b: torch.stack([a, b, a * b]).mean(), (0.7, -1.3)),
    "linear": (lambda a, b: ag.linear([a, b], [b, Value(2.0)], a), lambda a, b: a * b + b * 2.0 + a, (0.7, -1.3)),
    "squared-error": (lambda a, b: ag.squared_error(a * b, 0.3), lambda a, b: (a * b - 0.3) ** 2, (0.7, -1.3)),
    # composed graphs; a and b are each used several times, so their gradients must add up
    "used-twice": (lambda a, b: a * a + a * b, lambda a, b: a * a + a * b, (0.7, -1.3)),
    "diamond": (lambda a, b: (lambda c: c.tanh() * c.exp() + c)(a * b + a),
                lambda a, b: (lambda c: c.tanh() * c.exp() + c)(a * b + a), (0.4, -0.8)),
    "neuron-bce": (lambda a, b: -(((a * 2.0 + b).sigmoid()).log()) - (1 - (a * -1.0 + b).sigmoid()).log(),
                   lambda a, b: -(((a * 2.0 + b).sigmoid()).log()) - (1 - (a * -1.0 + b).sigmoid()).log(),
                   (0.3, 0.2)),
}


def ours(name: str) -> tuple[Value, Value, Value]:
    f, _, (x, y) = OPS[name]
    a, b = Value(x), Value(y)
    out = f(a, b)
    out.backward()
    return out, a, b


@pytest.mark.parametrize("name", sorted(OPS))
def test_value_and_gradients_match_torch_autograd_in_float64(name):
    _, g, (x, y) = OPS[name]
    out, a, b = ours(name)
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, y))
    tout = g(ta, tb)
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-14)
    assert a.grad == pytest.approx(float(ta.grad), rel=1e-10, abs=1e-12)
    assert b.grad == pytest.approx(float(tb.grad), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", sorted(set(OPS) - {"sigmoid-far"}))
def test_gradients_match_central_finite_differences(name):
    f, _, (x, y) = OPS[name]
    _, a, b = ours(name)
    h = 1e-6
    da = (f(Value(x + h), Value(y)).data - f(Value(x - h), Value(y)).data) / (2 * h)
    db = (f(Value(x), Value(y + h)).data - f(Value(x), Value(y - h)).data) / (2 * h)
    assert a.grad == pytest.approx(da, abs=1e-6)
    assert b.grad == pytest.approx(db, abs=1e-6)


def test_a_value_used_twice_receives_the_sum_of_both_paths():
    a = Value(3.0)
    out = a * a  # d(a^2)/da = 2a: one contribution a from each input slot
    out.backward()
    assert a.grad == 6.0
    b = Value(-2.0)
    (b + b + b).backward()
    assert b.grad == 3.0


def test_topological_order_puts_every_value_after_its_inputs_and_lists_each_once():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    out = (c + a) * c
    order = ag.topological_order(out)
    assert len(order) == len({id(v) for v in order}) == 5  # a, b, c, c + a, out
    pos = {id(v): i for i, v in enumerate(order)}
    assert all(pos[id(i)] < pos[id(v)] for v in order for i in v.inputs)
    assert order[-1] is out


def test_the_trace_replays_backward_edge_by_edge():
    a, b = Value(0.5), Value(-2.0)
    out = ag.squared_error(ag.linear([a], [b], a).tanh(), 1.0)
    trace: list = []
    out.backward(trace)
    assert [(v.op, inp is a) for v, inp, _, _ in trace][0] == ("(y-t)^2", False)  # the loss's edge first
    for leaf in (a, b):  # replaying the trace's contributions gives each gradient
        assert sum(amount for _, inp, _, amount in trace if inp is leaf) == pytest.approx(leaf.grad)
    assert all(amount == local * v.grad for v, _, local, amount in trace)


def test_a_deep_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5000):  # deeper than Python's recursion limit
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_gradients_accumulate_until_zeroed_as_in_pytorch():
    net = MLP((2, 3, 1), seed=0)
    net([1.0, 2.0])[0].backward()
    first = [p.grad for p in net.parameters()]
    net([1.0, 2.0])[0].backward()
    assert [p.grad for p in net.parameters()] == pytest.approx([2 * g for g in first])
    net.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())


def test_mlp_gradients_match_the_same_network_in_torch():
    net = MLP((3, 4, 4, 2), act="tanh", seed=1)
    x, target = [0.5, -1.2, 2.0], [1.0, -1.0]
    loss = ag.mean([(o - t) ** 2 for o, t in zip(net(x), target)])
    loss.backward()
    layers = []
    for layer in net.layers:
        w = torch.tensor([[p.data for p in n.w] for n in layer], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer], dtype=torch.float64, requires_grad=True)
        layers.append((w, b))
    h = torch.tensor(x, dtype=torch.float64)
    for i, (w, b) in enumerate(layers):
        h = w @ h + b
        h = h.tanh() if i < len(layers) - 1 else h
    tloss = ((h - torch.tensor(target, dtype=torch.float64)) ** 2).mean()
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    ours_grads = [p.grad for p in net.parameters()]
    theirs = [g for w, b in layers for row_w, row_b in zip(w.grad, b.grad) for g in [*row_w.tolist(), float(row_b)]]
    assert ours_grads == pytest.approx(theirs, rel=1e-10, abs=1e-12)


def test_an_mlp_learns_xor_by_gradient_descent():
    data = [([0.0, 0.0], -1.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], -1.0)]
    net = MLP((2, 4, 1), act="tanh", seed=3)

    def loss_fn() -> Value:
        return ag.mean([(net(x)[0] - y) ** 2 for x, y in data])

    first = loss_fn().data
    for _ in range(300):
        net.zero_grad()
        loss = loss_fn()
        loss.backward()
        net.step(0.2)
    assert loss_fn().data < 0.02 < first
    assert all(math.copysign(1, net(x)[0].data) == y for x, y in data)


def test_the_exponent_of_pow_must_be_a_number():
    with pytest.raises(TypeError, match="plain number"):
        Value(2.0) ** Value(3.0)
