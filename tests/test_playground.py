"""The playground's maths: its data sets, features, network, loss and live training."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlf.errors import ConfigError
from dlf.fundamentals import playground as pg

D = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: one thread is faster


def data(name: str, n: int = 200, noise: float = 0.0, seed: int = 0):
    return pg.make_dataset(name, n, noise, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", pg.CLASSIFICATION)
def test_datasets_are_seeded_balanced_and_bounded(name):
    x, y = data(name, noise=0.1)
    assert x.shape == (200, 2) and y.shape == (200,) and x.dtype == D
    assert set(y.tolist()) == {0.0, 1.0}
    assert 0.35 < float(y.mean()) < 0.65
    assert float(x.abs().max()) < 12
    x2, y2 = data(name, noise=0.1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, data(name, noise=0.1, seed=1)[0])


def test_noise_free_labels_follow_the_rule_of_each_data_set():
    x, y = data("circle")
    r = x.norm(dim=1)
    assert torch.equal(y, (r < 3.0).to(D)) and float(r.max()) <= pg.RADIUS + 1e-9
    x, y = data("xor")
    assert torch.equal(y, (x[:, 0] * x[:, 1] >= 0).to(D)) and float(x.abs().min()) >= 0.3
    x, y = data("gaussians", n=2000)
    torch.testing.assert_close(x[y == 1].mean(0), torch.tensor([2.0, 2.0], dtype=D), atol=0.1, rtol=0)


def test_regression_data_sets_give_the_value_of_their_surface():
    x, y = data("plane")
    torch.testing.assert_close(y, ((x[:, 0] + x[:, 1]) / 10).clamp(-1, 1))
    x, y = data("multi-gauss", n=2000)
    assert float(y.min()) >= -1 and float(y.max()) <= 1 and float(y.std()) > 0.2
    bump = torch.tensor([[-4.0, 2.5], [0.0, 2.5]], dtype=D)  # centres of an up and a down bump
    v = pg.regression_label("multi-gauss", bump)
    assert float(v[0]) > 0.8 and float(v[1]) < -0.8
    x, y = data("plane", noise=0.2)
    assert float((y - ((x[:, 0] + x[:, 1]) / 10).clamp(-1, 1)).abs().max()) > 0.05  # the points moved, not y


def test_noise_moves_points_by_the_stated_spread():
    x0, _ = data("circle", n=4000)
    x1, _ = data("circle", n=4000, noise=0.2)  # same draws, plus 0.2 * 5 * N(0, I)
    r0, r1 = x0.norm(dim=1).sort().values, x1.norm(dim=1).sort().values
    assert float((r1 - r0).abs().mean()) > 0.1
    assert 0.5 < float(x1.std()) / float(x0.std()) < 1.5


def test_bad_dataset_arguments():
    with pytest.raises(ConfigError, match="unknown data set 'moons'"):
        data("moons")
    with pytest.raises(ConfigError, match="noise in"):
        data("xor", noise=2.0)


def test_split_keeps_both_parts_non_empty():
    x, y = data("xor", n=10)
    s = pg.split(x, y, 0.7)
    assert s.x_train.shape == (7, 2) and s.y_test.shape == (3,)
    assert pg.split(x, y, 0.99).x_test.shape[0] == 1 and pg.split(x, y, 0.0).x_train.shape[0] == 1


def test_features_are_the_named_functions_standardised_on_the_training_points():
    x, _ = data("gaussians")
    phi = pg.Features(["x1*x2", "sin(x2)", "x1"], x)
    out = phi(x)  # (200, 3)
    torch.testing.assert_close(out.mean(0), torch.zeros(3, dtype=D), atol=1e-12, rtol=0)
    torch.testing.assert_close(out.std(0), torch.ones(3, dtype=D))
    raw = torch.stack([x[:, 0] * x[:, 1], torch.sin(x[:, 1]), x[:, 0]], dim=1)
    torch.testing.assert_close(out, (raw - raw.mean(0)) / raw.std(0))
    with pytest.raises(ConfigError, match="at least one input feature"):
        pg.Features([], x)
    with pytest.raises(ConfigError, match="x3"):
        pg.Features(["x3"], x)


def test_parse_hidden():
    assert pg.parse_hidden("4, 2") == (4, 2)
    assert pg.parse_hidden("") == () and pg.parse_hidden("0") == ()
    for bad in ("a", "17", "1,1,1,1,1,1,1", "-2"):
        with pytest.raises(ConfigError, match="hidden layers|at most"):
            pg.parse_hidden(bad)


def test_objective_value_and_gradient_match_torch_nn():
    g = torch.Generator().manual_seed(3)
    phi, y = torch.randn(30, 3, generator=g, dtype=D), (torch.rand(30, generator=g) < 0.5).to(D)
    params = [p.requires_grad_() for p in pg.init_params((3, 5, 4, 1), g)]
    params[1].data += 0.1  # non-zero biases
    loss = pg.objective(params, phi, y, "tanh", l2=0.3)
    grads = torch.autograd.grad(loss, params)

    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.Tanh(),
                              torch.nn.Linear(4, 1)).to(D)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (w, b) in zip(linears, zip(params[0::2], params[1::2])):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
    ref = F.binary_cross_entropy_with_logits(net(phi).squeeze(1), y) + 0.15 * sum(
        (lin.weight**2).sum() for lin in linears)
    ref.backward()
    torch.testing.assert_close(loss, ref)
    for got, lin in zip(zip(grads[0::2], grads[1::2]), linears):
        torch.testing.assert_close(got[0], lin.weight.grad)
        torch.testing.assert_close(got[1], lin.bias.grad)


def test_no_hidden_layer_is_logistic_regression():
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(8, 2, generator=g, dtype=D)
    w, b = pg.init_params((2, 1), g)
    torch.testing.assert_close(pg.forward([w, b], phi, "relu"), phi @ w[0] + b[0])


def playground(name, features, hidden=(), activation="tanh", noise=0.0, seed=0):
    x, y = data(name, noise=noise, seed=seed)
    return pg.Playground(pg.split(x, y, 0.5), features, hidden, activation, seed=seed)


@pytest.mark.parametrize("name, features", [("xor", ["x1*x2"]), ("circle", ["x1^2", "x2^2"])])
def test_the_right_feature_makes_one_neuron_enough(name, features):
    p = playground(name, features)
    before = p.losses()[0]
    p.train(epochs=40, lr=1.0, l2=0.0, batch_size=20)
    assert p.losses()[0] < 0.5 * before
    assert min(p.accuracy()) >= 0.95
    assert p.steps == 40 * 5 and p.epochs == 40 and not p.diverged


def test_hidden_layers_learn_xor_from_the_raw_coordinates():
    p = playground("xor", ["x1", "x2"], hidden=(6, 4))
    start = p.losses()
    p.train(epochs=60, lr=0.5, l2=0.0, batch_size=25)
    train, test = p.losses()
    assert train < 0.6 * start[0] and test < 0.6 * start[1]
    assert min(p.accuracy()) > 0.85


def test_training_continues_where_it_stopped():
    a, b = playground("spirals", ["x1", "x2"], (4,)), playground("spirals", ["x1", "x2"], (4,))
    a.train(1, 0.1, 0.01, 10)
    a.train(1, 0.1, 0.01, 10)
    b.train(2, 0.1, 0.01, 10)
    for pa, pb in zip(a.params, b.params):
        torch.testing.assert_close(pa, pb)


def test_l2_shrinks_the_weights():
    norms = []
    for l2 in (0.0, 0.3):
        p = playground("gaussians", ["x1", "x2"], (4,), noise=0.1)
        p.train(20, 0.3, l2, 20)
        norms.append(math.sqrt(sum(float((w * w).sum()) for w in p.params[0::2])))
    assert norms[1] < 0.7 * norms[0]


def test_probability_is_a_sigmoid_of_the_logit():
    p = playground("circle", ["x1", "x2"], (3,), activation="relu")
    grid = torch.tensor([[0.0, 0.0], [4.0, 1.0]], dtype=D)
    prob = p.probability(grid)
    torch.testing.assert_close(prob, torch.sigmoid(pg.forward(p.params, p.phi(grid), "relu")))
    with pytest.raises(ConfigError, match="unknown activation"):
        playground("circle", ["x1"], (3,), activation="swish")


def test_l1_and_mse_objective_match_torch_and_regression_learns_the_plane():
    g = torch.Generator().manual_seed(4)
    phi, y = torch.randn(20, 2, generator=g, dtype=D), torch.rand(20, generator=g, dtype=D) * 2 - 1
    params = [p.requires_grad_() for p in pg.init_params((2, 3, 1), g)]
    loss = pg.objective(params, phi, y, "linear", l2=0.0, l1=0.2, regression=True)
    z = (phi @ params[0].T + params[1]) @ params[2].T + params[3]
    ref = F.mse_loss(z.squeeze(1), y) + 0.2 * (params[0].abs().sum() + params[2].abs().sum())
    torch.testing.assert_close(loss, ref)
    x, yv = data("plane", n=200)
    p = pg.Playground(pg.split(x, yv, 0.5), ["x1", "x2"], (3,), "linear", regression=True)
    before = p.losses()[0]
    p.train(30, 0.03, 0.0, 10)
    assert p.losses()[0] < 0.01 * before and math.isnan(p.accuracy()[0])
    torch.testing.assert_close(p.probability(x[:5]), pg.forward(p.params, p.phi(x[:5]), "linear"))


def test_l1_zeroes_weights_that_l2_only_shrinks():
    zeros = {}
    for l1, l2 in ((0.0, 0.03), (0.03, 0.0)):
        p = playground("gaussians", ["x1", "x2", "x1^2", "x2^2", "sin(x1)"], (4,), noise=0.1)
        p.train(60, 0.1, l2, 10, l1=l1)
        zeros[l1] = sum(int((w.abs() < 0.02).sum()) for w in p.params[0::2])
    assert zeros[0.03] >= zeros[0.0] + 4


def test_one_step_is_one_gradient_step_on_a_batch_and_weights_can_be_set():
    p = playground("xor", ["x1", "x2"], (3,))
    before = [t.clone() for t in p.params]
    p.step(0.1, 0.0, 400)  # the whole training set: a full-batch gradient step
    grads = p._grad(0.0)(before, p.phi_train, p.data.y_train)
    for new, old, g in zip(p.params, before, grads):
        torch.testing.assert_close(new, old - 0.1 * g)
    assert p.steps == 1 and p.epochs == 0
    p.set_weight(2, 0, 1, 1.5)
    assert float(p.params[2][0, 1]) == 1.5
    for bad in ((3, 0, 0, 1.0), (1, 3, 0, 1.0), (1, 0, 0, float("nan"))):
        with pytest.raises(ConfigError):
            p.set_weight(*bad)


def test_neuron_outputs_are_every_layer_and_end_in_the_probability():
    p = playground("circle", ["x1", "x2", "x1^2"], (4, 2))
    grid = torch.tensor([[0.0, 0.0], [3.0, -1.0], [-2.0, 4.0]], dtype=D)
    outs = p.neuron_outputs(grid)
    assert [o.shape for o in outs] == [(3, 3), (3, 4), (3, 2), (3, 1)]
    torch.testing.assert_close(outs[0], p.phi(grid))
    torch.testing.assert_close(outs[1], torch.tanh(outs[0] @ p.params[0].T + p.params[1]))
    torch.testing.assert_close(outs[-1].squeeze(1), p.probability(grid))
    assert p.sizes == (3, 4, 2, 1)
