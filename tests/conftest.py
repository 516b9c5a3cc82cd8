"""Session-wide fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """tests.run_fixtures.TinyRuns: tiny trained runs (and broken folders) in one runs folder, made on demand."""
    from tests.run_fixtures import TinyRuns

    return TinyRuns(tmp_path_factory.mktemp("tiny-runs"))
