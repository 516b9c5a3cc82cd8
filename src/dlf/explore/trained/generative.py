"""The run pages of the generative models and the RL agent: VAE, GAN & PixelCNN, CartPole (gradio)."""

from __future__ import annotations

import base64
import html
import json
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from dlf.errors import DlfError
from dlf.explore import widgets
from dlf.explore.session import Limits
from dlf.explore.share import Field
from dlf.explore.trained import canvas, models
from dlf.explore.trained.pages import (
    SEED,
    choices,
    follows,
    guarded,
    link_row,
    pick,
    run_choice,
    run_field,
    summary_line,
)
from dlf.explore.trained.scan import Runs

SLIDERS = 8
"""Latent dimensions with a slider (the others stay at 0)."""


def _img(image, scale: int = 6, cls: str = "", **data) -> str:
    attrs = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    return f'<img class="{cls}" src="{models.png(image, scale)}"{attrs} style="image-rendering:pixelated">'


def _test_digit(index: int) -> torch.Tensor:
    """Test image `index` of MNIST (from the data folder) as (784,) floats in [0, 1]."""
    from dlf.data.mnist import load_mnist

    images, _ = load_mnist("test")
    if not 0 <= index < len(images):
        raise DlfError(f"test digit {index} does not exist; pick 0 to {len(images) - 1}")
    return images[index].reshape(-1).float() / 255


# VAE ---------------------------------------------------------------------------------------------------------------
VAE_FIELDS = (run_field(), *(Field(f"z{i + 1}", f"z{i + 1}", "float", 0.0, -3.0, 3.0, 0.05) for i in range(SLIDERS)),
              Field("a", "test digit A", "int", 0, 0, 99_999, 1), Field("b", "test digit B", "int", 1, 0, 99_999, 1))


def vae_page(runs: Runs) -> dict:
    gr.Markdown("Move the sliders over the latent vector z; the decoder draws p(x|z) as you move them. "
                f"The first {SLIDERS} dimensions have a slider, the rest stay at 0 (the prior's mean). "
                "For a 2-D latent, click a point of the manifold to decode it.")
    run = run_choice("vae", runs)
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            zs = [gr.Slider(-3, 3, 0, step=0.05, label=f"z{i + 1}", elem_id=f"vae-z{i + 1}") for i in range(SLIDERS)]
        with gr.Column(scale=1):
            image = gr.HTML(elem_id="vae-image")
            manifold = gr.Image(label="the decoded 2-D latent space: click a point", interactive=False,
                                elem_id="vae-manifold", visible=False, show_label=True)
    with gr.Row():
        a = gr.Number(0, label="test digit A", precision=0, minimum=0, elem_id="vae-a")
        b = gr.Number(1, label="test digit B", precision=0, minimum=0, elem_id="vae-b")
        go = gr.Button("Interpolate A to B", elem_id="vae-go")
    strip = gr.HTML(elem_id="vae-strip")
    status = gr.Markdown(elem_id="vae-status")

    def decode(label, *z):
        model = models.load(pick(runs, label))
        values = [float(v or 0) for v in z]
        return _img(models.vae_decode(model, values), 8, "vae-out", z=" ".join(f"{v:g}" for v in values)), ""

    def choose(label):
        info = pick(runs, label)
        model = models.load(info)
        shown = [gr.update(visible=i < model.latent) for i in range(SLIDERS)]
        if model.latent == 2:
            grid, _ = models.vae_manifold(model)
            pic = gr.update(value=np.rint(255 * (1 - grid)).astype(np.uint8), visible=True)
        else:
            pic = gr.update(visible=False)
        return (*shown, pic, f"{summary_line(info)}; latent dimensions: {model.latent}")

    def click(data: dict, evt: gr.SelectData) -> dict:  # the point clicked sets z1 and z2 and draws the digit
        try:
            x, y = evt.index  # pixels of the manifold image, (0, 0) top left
            grid, span = models.vae_manifold(models.load(pick(runs, data[run])))
            h, w = grid.shape
            z = [float(np.clip(v, -3, 3)) for v in (span * (2 * x / w - 1), span * (1 - 2 * y / h))]
            z += [data[c] for c in zs[2:]]
            digit, _ = decode(data[run], *z)
            return {zs[0]: z[0], zs[1]: z[1], image: digit, status: ""}
        except DlfError as exc:
            return {status: f"**Cannot do that:** {exc}"}

    def interpolate(label, ia, ib):
        model = models.load(pick(runs, label))
        line = models.vae_interpolate(model, _test_digit(int(ia or 0)), _test_digit(int(ib or 0)))
        return _img(models.mosaic(line, cols=len(line)), 3, "vae-line"), ""

    def show(label, *z):  # the first draw: the sliders this run uses, its manifold, and the digit at z
        chosen = choose(label)
        return (*chosen[:-1], decode(label, *z)[0], chosen[-1])

    for z in zs:
        z.input(guarded(decode, 2), [run, *zs], [image, status], api_name=False, **widgets.LIVE)
    drawn = [*zs, manifold, image, status]
    run.input(guarded(show, SLIDERS + 3), [run, *zs], drawn, api_name=False, **widgets.QUIET)
    manifold.select(click, {run, *zs}, [*zs[:2], image, status], api_name=False, **widgets.QUIET)
    go.click(guarded(interpolate, 2), [run, a, b], [strip, status], api_name=False, **widgets.QUIET)
    comps = [run, *zs, a, b]
    link_row("run-vae", VAE_FIELDS, comps)
    return {"fields": VAE_FIELDS, "comps": comps, "choices": {"run": runs}, "status": status,
            "refresh": (guarded(show, SLIDERS + 3), [run, *zs], drawn),
            "rescan": follows(run, runs)}


# GAN and PixelCNN --------------------------------------------------------------------------------------------------
IMAGES_FIELDS = (run_field(), Field("seed", "seed", **SEED, default=0),
                 Field("n", "images", "int", 16, 1, models.MAX_IMAGES, 1), run_field("crun", "PixelCNN run"),
                 Field("digit", "test digit", "int", 0, 0, 99_999, 1), Field("cseed", "completion seed", **SEED,
                                                                            default=0))


def images_page(runs: Runs, limits: Limits) -> dict:
    gr.Markdown("Fresh samples by seed (the same seed gives the same images). A PixelCNN draws each pixel from "
                "p(x_i | x_<i) in raster order; given the top half of a test digit, it completes the bottom half.")
    run = run_choice("images", runs)
    with gr.Row():
        seed = gr.Number(0, label="seed", precision=0, minimum=0, elem_id="images-seed")
        n = gr.Slider(1, models.MAX_IMAGES, 16, step=1, label="images (PixelCNN: at most 16)", elem_id="images-n")
        go = gr.Button("Sample", variant="primary", elem_id="images-go")
    grid = gr.HTML(elem_id="images-grid")
    status = gr.Markdown(elem_id="images-status")
    pixelcnns = runs.catalogue.view(runs.kind, "pixelcnn")
    with gr.Column(visible=bool(pixelcnns.now())) as completion:
        crun, digit, cseed = pixelcnn_completion(pixelcnns)

    def sample(label, seed_, n_):
        info = pick(runs, label)
        model, start = models.load(info), time.perf_counter()
        if info.experiment == "gan":
            images = models.gan_samples(model, int(n_), int(seed_ or 0))
        else:
            images = models.pixelcnn_samples(model, int(n_), int(seed_ or 0))
        took = time.perf_counter() - start
        return (_img(models.mosaic(images), 3, "samples", n=len(images), seed=int(seed_ or 0)),
                f"{len(images)} samples from {summary_line(info)} in {took:.2f} s")

    go.click(guarded(sample, 2), [run, seed, n], [grid, status], api_name=False, **widgets.QUIET)
    comps = [run, seed, n, crun, digit, cseed]
    link_row("run-images", IMAGES_FIELDS, comps)

    def rescanned(label, clabel):
        return (choices(runs.labels(), label), choices(pixelcnns.labels(), clabel),
                gr.update(visible=bool(pixelcnns.now())))

    def first(label, seed_, n_):  # drawn when the tab first opens: a GAN's samples (a PixelCNN's take seconds)
        info = pick(runs, label)
        if info.experiment == "gan":
            return sample(label, seed_, n_)
        return gr.update(), f"{summary_line(info)}: press Sample to draw (pixel by pixel, it takes a few seconds)"

    return {"fields": IMAGES_FIELDS, "comps": comps, "refresh": (guarded(first, 2), [run, seed, n], [grid, status]),
            "choices": {"run": runs, "crun": pixelcnns}, "status": status,
            "rescan": [([run, crun], [run, crun, completion], rescanned)]}


def pixelcnn_completion(runs: Runs) -> tuple:
    gr.Markdown("### PixelCNN: complete a digit\nThe model is given the top half of a test digit and draws the "
                "bottom half pixel by pixel, each from p(x_i | x_<i); the rows appear in the order they were drawn.")
    with gr.Row():
        run = run_choice("complete", runs, "PixelCNN run")
        digit = gr.Number(0, label="test digit", precision=0, minimum=0, elem_id="images-digit")
        seed = gr.Number(0, label="seed", precision=0, minimum=0, elem_id="complete-seed")
        fill = gr.Button("Complete its bottom half", elem_id="images-complete")
    completion = gr.HTML(elem_id="images-completion")
    status = gr.Markdown(elem_id="complete-status")

    def complete_drawn(request: str) -> dict:
        """The pad's server function: {pixels, run, seed} as JSON -> the drawing's top half completed by that
        run, as 784 zeros and ones (or the reason it cannot be)."""
        try:
            asked = json.loads(str(request)[:10_000])
            model = models.load(pick(runs, str(asked.get("run"))))
            x = models.decode_pixels(str(asked.get("pixels"))).reshape(-1).float() / 255
            return {"pixels": models.pixelcnn_complete(model, x, int(float(asked.get("seed") or 0))).int().tolist()}
        except (DlfError, ValueError, TypeError, AttributeError) as exc:
            return {"error": html.escape(str(exc))}

    gr.Markdown("Or draw the top half of a digit yourself:")
    gr.HTML(value="", html_template=canvas.PAD_TEMPLATE, css_template=canvas.CSS, js_on_load=canvas.PAD_JS,
            server_functions=[complete_drawn], elem_id="pad")

    def complete(label, index, seed_):
        info = pick(runs, label)
        model = models.load(info)
        x = (_test_digit(int(index or 0)) > 0.5).float()
        done = models.pixelcnn_complete(model, x, int(seed_ or 0)).view(28, 28)
        shown = x.view(28, 28).clone()
        shown[14:] = 0.15  # not drawn yet: light grey
        for row in range(14, 29):  # reveal the drawn rows in the order they were drawn
            if row > 14:
                shown[row - 1] = done[row - 1]
            yield (f'<div style="display:flex;gap:16px">{_img(x.view(28, 28), 6, "original")}'
                   f'{_img(shown, 6, "completed", rows=row - 14)}</div>'), ""
            time.sleep(0.04)
        yield gr.update(), f"bottom half drawn pixel by pixel by {info.path.name} (seed {int(seed_ or 0)})"

    fill.click(guarded(complete, 2), [run, digit, seed], [completion, status], api_name=False, **widgets.QUIET)
    return run, digit, seed


# RL ----------------------------------------------------------------------------------------------------------------
def _embed(path: Path, mime: str, elem: str) -> str:
    if not path.is_file():
        return f"<p>({path.name} is missing)</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img id="{elem}" src="data:{mime};base64,{data}" style="max-width:100%">'


RL_FIELDS = (run_field(), Field("seed", "episode seed", **SEED, default=1))


def rl_page(runs: Runs) -> dict:
    gr.Markdown("The trained agent's greedy policy on an episode it never saw, beside its learning curve.")
    run = run_choice("rl", runs)
    with gr.Row():
        seed = gr.Number(1, label="episode seed", precision=0, minimum=0, elem_id="rl-seed")
        go = gr.Button("Play a new episode", elem_id="rl-go")
    with gr.Row():
        replay = gr.HTML(elem_id="rl-replay")
        curves = gr.HTML(elem_id="rl-curves")
    status = gr.Markdown(elem_id="rl-status")

    def show(label):
        info = pick(runs, label)
        ret = info.summary.get("gif_return")
        note = f"filmed episode: return {ret:g}" if isinstance(ret, (int, float)) else "filmed episode"
        return (_embed(info.path / "episode.gif", "image/gif", "rl-gif"),
                _embed(info.path / "curves.png", "image/png", "rl-curve"), f"{summary_line(info)}; {note}")

    def play(label, seed_):
        from dlf.rl import envs

        agent = models.load(pick(runs, label))
        with tempfile.TemporaryDirectory() as tmp:  # filmed small, frame by frame (no full-size frames kept)
            gif = Path(tmp) / "episode.gif"
            total = envs.film_episode(agent.greedy, agent.cfg.env, 3_000_000 + int(seed_ or 0), gif)
            page = _embed(gif, "image/gif", "rl-gif")
        return page, f"new episode (seed {int(seed_ or 0)}): return {total:g}"

    run.input(guarded(show, 3), [run], [replay, curves, status], api_name=False, **widgets.QUIET)
    go.click(guarded(play, 2), [run, seed], [replay, status], api_name=False, **widgets.QUIET)
    link_row("run-rl", RL_FIELDS, [run, seed])
    return {"fields": RL_FIELDS, "comps": [run, seed], "refresh": (guarded(show, 3), [run], [replay, curves, status]),
            "choices": {"run": runs}, "status": status, "rescan": follows(run, runs)}
