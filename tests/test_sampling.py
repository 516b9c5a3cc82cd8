"""`dlf sample RUN_DIR`: dispatch by the run's experiment, determinism per seed, one-line errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

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
    (["--n", "0"], "--n: must be in [1,"),
    (["--temperature", "0"], "--temperature: must be in (0,"),
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


def test_what_can_be_sampled_is_what_defines_sample():
    """The registry's capability and the module's `sample` agree both ways, for every experiment."""
    from dlf import registry
    from dlf.sampling import sampleable

    for e in registry.EXPERIMENTS:
        defines = callable(getattr(e.load(), "sample", None))
        assert defines == bool(e.samples), f"{e.name}: samples={e.samples!r} but defines sample: {defines}"
    assert {"char-rnn", "sentiment-unit", "pixelcnn", "vae", "gan"} <= set(sampleable())


def test_the_mosaic_puts_each_image_in_its_tile_row_by_row():
    from dlf.plotting import figure, plt, show_images

    images = torch.stack([torch.full((4, 4), (i + 1) / 10) for i in range(5)])  # 5 images of 4 x 4, values 0.1...
    fig, axes = figure()
    show_images(axes[0][0], images, cols=3)
    mosaic = axes[0][0].images[0].get_array()
    plt.close(fig)
    assert mosaic.shape == (2 * 6, 3 * 6), "2 rows of 3 tiles, each 4 px and a 1 px frame on each side"
    for i in range(5):
        r, c = divmod(i, 3)
        tile = mosaic[r * 6:(r + 1) * 6, c * 6:(c + 1) * 6]
        assert np.allclose(tile[1:-1, 1:-1], (i + 1) / 10), i
        assert np.allclose(tile[0], 0.25) and np.allclose(tile[:, -1], 0.25), "a grey frame"
    assert np.allclose(mosaic[6:, 12:], 0), "the missing sixth tile is blank"


@pytest.mark.parametrize("n", [1, 2, 7, 16, 64, 150])
def test_a_grid_of_any_size_keeps_its_title_and_images_inside(n):
    """The 16-image grid once clipped its title; now the figure grows and the title wraps, for any --n."""
    from dlf.plotting import image_grid, plt

    title = f"GAN (dcgan): {n} samples G(z), z ~ N(0, I) (seed 123456789)"
    fig = image_grid(torch.rand(n, 784), title)
    fig.canvas.draw()
    renderer, box = fig.canvas.get_renderer(), fig.bbox
    inside = lambda b: b.x0 >= box.x0 - 0.5 and b.y0 >= box.y0 - 0.5 and b.x1 <= box.x1 + 0.5 and b.y1 <= box.y1 + 0.5  # noqa: E731
    title_box, image_box = fig._suptitle.get_window_extent(renderer), fig.axes[0].get_window_extent(renderer)
    plt.close(fig)
    assert inside(title_box) and inside(image_box), (title_box, image_box, box)
    assert title_box.y0 >= image_box.y1 - 0.5, "the title sits above the images, not over them"
    cols = math.ceil(math.sqrt(n))
    assert image_box.width >= 0.3 * 100 * cols or n < 6, "at least ~0.3 inch per image"
