"""Activations and their derivatives against torch's functions and autograd in float64."""

import pytest
import torch

from dlf.errors import ConfigError
from dlf.fundamentals import activations

D = torch.float64
Z = torch.cat([torch.linspace(-8, 8, 161, dtype=D), torch.tensor([-1e3, -40.0, 0.0, 40.0, 1e3], dtype=D)])
REFERENCE = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


@pytest.mark.parametrize("name", activations.NAMES)
def test_value_matches_torch(name):
    act = activations.get(name)
    out = act(Z)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, REFERENCE[name](Z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", activations.NAMES)
def test_derivative_matches_autograd(name):
    act = activations.get(name)
    z = Z.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(REFERENCE[name](z).sum(), z)
    torch.testing.assert_close(act.grad(Z), auto, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", activations.NAMES)
def test_threshold_is_the_output_at_zero(name):
    act = activations.get(name)
    assert float(act(torch.zeros((), dtype=D))) == act.threshold


def test_unknown_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown activation 'nope'; choose one of sigmoid, tanh, relu"):
        activations.get("nope")
