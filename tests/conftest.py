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


@pytest.fixture(scope="session")
def doc_runs(tmp_path_factory):
    """summary(command): the summary.json of a `dlf run ...` command as the docs write it, run once per session in
    this process (through dlf.cli.main, as check-docs's subprocess would). test_docs checks the docs' figures with
    it; a test of the same recipe (test_rl's PPO solve) reads that run instead of training it a second time."""
    import json
    import shlex

    from dlf.cli import main

    root = tmp_path_factory.mktemp("doc-runs")
    done: dict[str, dict] = {}

    def summary(command: str) -> dict:
        if command not in done:
            words = shlex.split(command)
            assert words[:2] == ["dlf", "run"], f"not a `dlf run` command: {command}"
            out = root / f"run-{len(done)}"
            assert main([*words[1:], "--out", str(out), "--quiet"]) == 0, command
            done[command] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        return done[command]

    return summary
