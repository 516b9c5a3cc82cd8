"""`dlf sample RUN_DIR`: dispatch by the run's experiment, determinism per seed, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlf.cli import main
from dlf.experiments import vae as vae_exp
from dlf.runner import execute
from tests.fixtures import make_mnist_fixture


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    data = make_mnist_fixture(tmp_path_factory.mktemp("mnist"), n_train=200, n_test=50)
    cfg = vae_exp.Config(latent=2, hidden=16, max_steps=4, batch_size=50, iwae_k=2, device="cpu")
    run, _ = execute("vae", cfg, tmp_path_factory.mktemp("runs") / "vae", data_dir=data, quiet=True)
    return run.path


def test_vae_samples_are_a_png_grid_and_repeat_for_a_seed(vae_run, tmp_path, capsys):
    outs = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for out, seed in zip(outs, (1, 1, 2)):
        assert main(["sample", str(vae_run), "--n", "16", "--seed", str(seed), "--out", str(out)]) == 0
    assert outs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()
    assert main(["sample", str(vae_run), "--n", "4"]) == 0
    assert (vae_run / "samples.png").exists()
    assert "samples.png" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["--n", "0"], "--n must be >= 1"),
    (["--temperature", "0"], "--temperature must be > 0"),
    (["--prime", "ROMEO:"], "--prime applies to text models"),
    (["--out", "grid.jpg"], "--out must name a .png file"),
    (["--out", "/no/such/folder/grid.png"], "does not exist"),
])
def test_bad_sample_options_are_one_line_errors(vae_run, args, fragment, capsys):
    assert main(["sample", str(vae_run), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_runs_that_cannot_be_sampled_or_are_not_runs(tmp_path, capsys):
    run, _ = execute("activations", out=tmp_path / "act", quiet=True)
    assert main(["sample", str(run.path)]) == 2
    assert "draws no samples" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "nothing")]) == 2
    assert "holds no config.json" in capsys.readouterr().err


def test_a_run_without_checkpoint_names_the_fix(vae_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(vae_run, copy)
    shutil.rmtree(copy / "checkpoints")
    assert main(["sample", str(copy)]) == 2
    assert "holds no checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["char-rnn", "sentiment-unit", "pixelcnn", "vae", "gan"])
def test_every_sampleable_experiment_defines_sample(name):
    from dlf import registry
    from dlf.sampling import sampleable

    assert name in sampleable()
    assert callable(getattr(registry.get(name).load(), "sample", None))
