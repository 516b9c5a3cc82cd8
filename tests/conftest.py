"""Session-wide fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """tests.run_fixtures.TinyRuns: tiny trained runs (and broken folders) in one runs folder, made on demand."""
    from tests.run_fixtures import TinyRuns

    return TinyRuns(tmp_path_factory.mktemp("tiny-runs"))


@pytest.fixture
def one_torch_thread():
    """One torch thread, as the explorer computes: on tiny tensors more threads only wait on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
