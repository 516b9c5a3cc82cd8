"""The explorer without a browser: links, figures, session bounds, the pages' live models, the CLI, and two
sessions training at once through gradio's own client (the browser tests are in test_explore_browser.py)."""

import json
import math
import re
import sys
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
import torch

from dlf.cli import main
from dlf.explore import backprop, classify, descent, share, svg, universality
from dlf.explore import neuron as neuron_page
from dlf.explore.session import Curve, Limits, PageState, frames
from dlf.fundamentals import universality as uni
from dlf.fundamentals.losses import mse

pytestmark = [
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # pandas deprecations inside gradio
    pytest.mark.usefixtures("one_torch_thread"),  # as the server computes: tiny tensors, one thread
]




PAGES = {"neuron": neuron_page.FIELDS, "universality": universality.FIELDS, "descent": descent.FIELDS,
         "classify": classify.FIELDS, "backprop": backprop.FIELDS}


# links ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tab", sorted(PAGES))
def test_a_link_restores_every_setting_of_its_page(tab):
    fields = PAGES[tab]
    changed = {}
    for f in fields:  # a value other than the default for every field
        if f.kind in ("float", "int"):
            changed[f.name] = f.coerce(f.hi)
        elif f.kind == "choice":
            changed[f.name] = f.choices[-1]
        elif f.kind == "multi":
            changed[f.name] = list(f.choices[-2:])
        elif f.kind == "bool":
            changed[f.name] = not f.default
        else:
            changed[f.name] = "sin(2*x) + 1, 2"
    url = share.link("http://127.0.0.1:7860/?tab=old#x", tab, fields, changed)
    assert url.startswith("http://127.0.0.1:7860/?tab=" + tab + "&")
    got_tab, values = share.decode(dict(parse_qsl(urlsplit(url).query)), PAGES)
    assert got_tab == tab and values == changed


def test_decoding_a_link_never_trusts_it():
    params = {"tab": "universality", "width": "99999", "lr": "nan", "target": "__import__('os')",
              "optimizer": "adam", "expr": "x" * 301, "unknown": "1"}
    tab, values = share.decode(params, PAGES)
    assert tab == "universality"
    assert values == {"width": 512, "optimizer": "adam"}  # clamped; nan, a bad choice, long text dropped
    assert share.decode({"tab": "nope", "width": "3"}, PAGES) == (None, {})
    assert share.decode({}, PAGES) == (None, {})
    feats = next(f for f in classify.FIELDS if f.name == "features")
    assert feats.coerce("x1,bogus,x1^2") == ["x1", "x1^2"]
    l2 = next(f for f in classify.FIELDS if f.name == "l2")
    assert l2.coerce("0.03") == 0.03 and l2.coerce("3e-2") == 0.03


# figures ----------------------------------------------------------------------------------------------------
def test_path_breaks_at_non_finite_points_and_clips_huge_ones():
    d = svg.path_d(np.array([0.0, 1.0, np.nan, 3.0, 4.0, 5.0]), np.array([0.0, 1e300, 2.0, 3.0, np.inf, 0.26]))
    assert d == "M0 0 10 1000000M30 30M50 3"  # in tenths of a pixel


def test_ticks_are_round_numbers_inside_the_range():
    assert svg.nice_ticks(-3.14, 3.14) == [-2, 0, 2]
    assert svg.nice_ticks(-3.14, 3.14, count=8) == [-3, -2, -1, 0, 1, 2, 3]
    assert svg.nice_ticks(0, 0.2, 4) == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    assert svg.log_ticks(0.003, 50) == [0.01, 0.1, 1.0, 10.0]
    assert len(svg.log_ticks(0.011, 0.012)) == 1


def test_figure_attributes_are_escaped():
    html = svg.Figure(10, 10, uid="u", data={"note": '"><script>'}).render()
    assert "<script>" not in html and 'data-note="&quot;&gt;&lt;script&gt;"' in html


def test_colormap_gives_matplotlibs_colours_and_an_uncompressed_image_decodes_to_its_pixels():
    import base64
    import io

    import matplotlib
    from PIL import Image

    values = np.concatenate([np.random.default_rng(0).normal(0.5, 0.5, 5000), [np.nan, np.inf, -np.inf, 0, 1]])
    for name, alpha in (("viridis", 1.0), ("Greys_r", 1.0), ("RdBu", 0.6)):
        want = matplotlib.colormaps[name](np.nan_to_num(np.clip(values, 0, 1), nan=0.5))
        want[..., 3] = alpha
        want = (want[..., : 3 if alpha == 1.0 else 4] * 255).round().astype(np.uint8)
        assert np.array_equal(svg.colormap(values, name, 0.0, 1.0, alpha), want), name
    for shape in ((80, 80, 3), (7, 5, 3), (64, 1, 3)):  # rows padded to 4 bytes when 3 * width is not
        rgb = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
        uri = svg.bmp_data_uri(rgb)
        assert uri.startswith("data:image/bmp;base64,")
        assert np.array_equal(np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1])))), rgb)


# session bounds ---------------------------------------------------------------------------------------------
def run_frames(limits, train, stop_after=None):
    state = PageState()
    reasons = []
    for reason in frames(state, limits, train, lambda r: r):
        reasons.append(reason)
        if stop_after and len(reasons) == stop_after:
            state.stop.set()
    return reasons


def test_a_press_of_train_ends_at_the_step_limit_the_time_limit_stop_or_divergence():
    assert run_frames(Limits(max_steps=10), lambda deadline, left: min(3, left)) == ["", "", "", "step limit "
                                                                                     "(10 steps per press)"]
    slow = lambda deadline, left: (time.sleep(0.02), 1)[1]
    assert run_frames(Limits(max_seconds=0.05), slow)[-1].startswith("time limit")
    assert run_frames(Limits(), lambda d, left: 1, stop_after=2) == ["", "", "stopped"]
    assert run_frames(Limits(), lambda d, left: -1) == ["diverged"]


def test_each_session_gets_a_fresh_state_and_curves_stay_bounded():
    import copy

    a = universality.UState()
    a.sweep.append((1, 1.0, 1.0))
    b = copy.deepcopy(a)  # what gradio does for every new session
    assert b.sweep == [] and b.lock is not a.lock and b.stop is not a.stop
    first = a.begin()
    second = a.begin()  # a second press in the same session ends the first job
    assert not a.running(first) and a.running(second)
    a.stop.set()
    assert not a.running(second)
    c = Curve(cap=100)
    for i in range(1000):
        c.add(i, float(i))
    assert len(c) <= 100 and c.steps[0] == 0 and c.steps == sorted(c.steps)


# pages ------------------------------------------------------------------------------------------------------
def test_neuron_page_shows_where_the_neuron_fires():
    v = {f.name: f.default for f in neuron_page.FIELDS}
    fig, text = neuron_page.render(v | {"w1": 0.0, "w2": 0.0, "b": -1.0})
    assert 'data-fires="0.0000"' in fig  # z = -1 everywhere: it never fires
    fig, text = neuron_page.render(v | {"w1": 1.0, "w2": 0.0, "b": 0.0, "activation": "tanh"})
    assert 'data-fires="0.5000"' in fig and "tanh(1·x1 + 0·x2 + 0)" in text
    assert "z = 1, tanh(z) = 0.7616 (fires)" in text


def live_settings(**changes):
    return {f.name: f.default for f in universality.FIELDS} | changes


def test_live_fit_lowers_the_error_and_its_units_add_up_to_its_output():
    live = universality.LiveFit(universality.target_of(live_settings(target="abs")), 8, "tanh")
    start = live.rms()
    steps = live.train(time.perf_counter() + 10, 150, 0.02, "adam")
    assert steps == 150 and live.steps == 150 and live.rms() < 0.8 * start
    view = live.view()
    x = torch.linspace(-3, 3, 7)
    with torch.no_grad():
        torch.testing.assert_close(view.contributions(x).sum(1) + view.c, view(x))
        torch.testing.assert_close(view(x), live.y_scale * live.model((x - live.x_shift) / live.x_scale)
                                   + live.y_shift)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_networks_trained_together_step_as_each_would_alone_and_as_torch_optim_does(optimizer):
    """livefit.train_together (a classroom's networks in one batched step, widths padded) against each network
    trained alone, and the first steps against torch.optim's Adam or SGD with momentum, none undone at this lr."""
    from dlf.explore.livefit import train_together

    targets, widths, lrs = ("sin", "abs", "gauss"), (8, 5, 7), [0.01, 0.05, 0.02]

    def fits():  # the narrower ones are padded to the widest in the batch
        return [universality.LiveFit(universality.target_of(live_settings(target=t)), width, "tanh", seed=i)
                for i, (t, width) in enumerate(zip(targets, widths))]

    together, alone, reference = fits(), fits(), fits()
    assert train_together(together, math.inf, 150, lrs, optimizer) == [150, 150, 150]
    for live, lr in zip(alone, lrs):
        assert live.train(math.inf, 150, lr, optimizer) == 150
    for a, b in zip(together, alone):
        for name in "wbvc":
            torch.testing.assert_close(getattr(a.model, name), getattr(b.model, name), rtol=1e-5, atol=1e-6)
        assert a.curve.values == pytest.approx(b.curve.values, rel=1e-5) and a.factor == pytest.approx(b.factor)
    for live, lr in zip(reference, lrs):
        start = [p.detach().clone() for p in live.model.parameters()]
        opt = uni._optimizer(optimizer, list(live.model.parameters()), lr)
        for _ in range(5):
            opt.zero_grad()
            mse(live.model(live.u), live.t).backward()
            opt.step()
        expected = [p.detach().clone() for p in live.model.parameters()]
        with torch.no_grad():
            for p, s in zip(live.model.parameters(), start):
                p.copy_(s)
        live.train(math.inf, 5, lr, optimizer)
        assert live.factor == 1.0  # no step was undone: the same 5 steps as torch's
        for p, e in zip(live.model.parameters(), expected):
            torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="share their activation"):
        train_together([together[0], universality.LiveFit(together[0].target, 8, "relu")], math.inf, 1, lrs, "adam")


def test_a_bad_custom_target_is_refused_with_its_reason_and_trains_nothing():
    state = universality.UState()
    for text in ("__import__('os').system('true')", "x.real", "log(x)"):
        out = list(universality.train_frames(state, live_settings(target="custom", expr=text), Limits()))
        assert len(out) == 1 and "⚠" in out[0][1] and state.live is None
    fig, status = universality.reset(state, live_settings(width=999), Limits(max_width=20))
    assert state.live.width == 20 and 'data-width="20"' in fig


def test_train_never_spoils_a_least_squares_fit_and_improves_a_random_start():
    for target, width, act, lr in (("sin", 64, "tanh", 0.01), ("abs", 32, "relu", 0.05)):
        live = universality.LiveFit(universality.target_of(live_settings(target=target)), width, act)
        random_start = live.rms()
        live.train(math.inf, 200, lr, "adam")
        assert live.rms() < 0.3 * random_start
        live.solve_output()
        fitted = live.rms()
        live.train(math.inf, 300, lr, "adam")
        after = live.curve.values[-300:]
        assert max(after) <= 1.01 * fitted and live.rms() <= 1.01 * fitted  # never visibly worse


def test_the_width_sweep_trains_each_width_as_train_does():
    limits = Limits(max_steps=universality.SWEEP_STEPS, max_width=8)
    state = universality.UState()
    v = live_settings(width=8, target="gauss")
    universality.reset(state, v, limits)
    list(universality.train_frames(state, v, limits))  # Train from Reset for the sweep's number of steps
    live_rms = universality.measure(state.live)["rms_error"]
    list(universality.sweep_frames(state, v, limits))
    assert state.sweep[-1][0] == 8 and state.sweep[-1][1] == pytest.approx(live_rms, rel=1e-5)
    fig, _ = universality.render(state, "")
    assert 'class="sweep-live"' in fig and f"step {universality.SWEEP_STEPS}" in fig


def test_a_refused_setting_keeps_the_figure_and_says_why_in_the_pages_words():
    state, limits = universality.UState(), Limits()
    universality.reset(state, live_settings(), limits)
    live = state.live
    fig, text = universality.reset(state, live_settings(target="custom", expr="log(x)"), limits)
    assert fig is universality.KEEP and state.live is live and "choose another target" in text and "--" not in text
    problems = []
    v = share.values_of(universality.FIELDS, [live_settings(target="custom", expr="x+" * 200)[f.name]
                                              for f in universality.FIELDS], problems)
    assert v["expr"] == next(f.default for f in universality.FIELDS if f.name == "expr")
    fig, text = universality.reset(state, v, limits, problems)
    assert fig is universality.KEEP and "custom expression in x is 400 characters long; keep it under 300" in text
    out = list(universality.train_frames(state, v, limits, problems))
    assert len(out) == 1 and out[0][0] is universality.KEEP and state.live is live


def test_universality_titles_fit_their_panels_and_the_rate_shows_only_while_training():
    import html
    import re

    state, limits = universality.UState(), Limits()
    long_expr = "sin(3*x) + 0.3*x**2 + " * 12 + "x"
    for act in ("sigmoid", "tanh", "relu"):
        for v in (live_settings(width=512, activation=act), live_settings(target="custom", expr=long_expr)):
            universality.reset(state, v, limits)
            state.sweep = [(1, 0.5, 0.9), (512, 0.01, 0.02)]
            fig, _ = universality.render(state, "")
            for left, title in re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="12" font-weight="600">([^<]*)<',
                                          fig):
                room = 520 if float(left) < 600 else 220  # the panel's width
                assert len(html.unescape(title)) * 6.8 <= room, title  # 12 px bold: at most 6.8 px a character
    for _ in range(3):
        state.rate.tick()
    assert "updates/s" in universality.render(state, "training")[1]
    assert "updates/s" not in universality.render(state, "stopped; press Train to go on")[1]


def _apply_patch(fig: str, patch: str) -> str:
    """What patch.PATCH_JS does in the page, in Python: set each patched path's points and the data-* attributes."""
    import base64
    import json
    import re

    p = json.loads(patch)
    assert re.search(f'data-layout="{p["layout"]}"', fig)
    dec = {k: np.frombuffer(base64.b64decode(v), "<i2") for k, v in p["xs"].items()}
    for sel, i, xk, yb in p["paths"]:  # a row of y per path: the i-th of its class and those after it
        x, y = dec[xk], np.frombuffer(base64.b64decode(yb), "<i2")
        for r, row in enumerate(y.reshape(-1, len(x))):
            hits = list(re.finditer(f'<path d="([^"]*)"[^>]*class="{sel[1:]}"', fig))
            a, b = hits[i + r].span(1)
            fig = fig[:a] + "M" + " ".join(f"{u} {w}" for u, w in zip(x.tolist(), row.tolist())) + fig[b:]
    for k, v in p["data"].items():
        fig = re.sub(f'data-{k}="[^"]*"', f'data-{k}="{v}"', fig)
    return fig


def test_a_training_frame_is_a_small_patch_that_redraws_the_lines_as_the_whole_figure_does():
    import re

    from dlf.explore import unifig

    state, limits = universality.UState(), Limits()
    universality.reset(state, live_settings(width=48, target="abs"), limits)
    state.sweep = [(1, 0.5, 0.9), (48, 0.01, 0.02)]
    state.live.train(math.inf, 600, 0.01, "adam")  # past the first steps, where the step axis grows fast
    sent: dict = {}
    first, _ = unifig.live_frame(state, "training", sent)
    assert first.startswith("<svg") and sent["layout"] in first  # the first frame is the whole figure
    state.live.train(math.inf, 3, 0.01, "adam")
    patch, status = unifig.live_frame(state, "training", sent)
    whole, whole_status = unifig.render(state, "training")
    assert patch.startswith("{") and len(patch) < len(whole) / 2 and status == whole_status
    patched = _apply_patch(first, patch)
    lines = r'<path d="([^"]*)"[^>]*class="(fit|sum|unit|error-curve)"'
    assert len(re.findall(lines, whole)) == 3 + unifig.SHOWN_UNITS
    for (d1, c1), (d2, c2) in zip(re.findall(lines, patched), re.findall(lines, whole), strict=True):
        assert c1 == c2 and d1 == d2, c1  # every line where the whole figure draws it
    for name in ("step", "error", "width"):
        assert re.search(f'data-{name}="[^"]*"', patched)[0] == re.search(f'data-{name}="[^"]*"', whole)[0]
    last, _ = unifig.live_frame(state, "stopped; press Train to go on", sent)
    assert last.startswith("<svg")  # the last frame of a press is whole
    state.live.train(math.inf, 500, 0.05, "adam")  # the axes change (the step axis to 2,000): a whole figure again
    assert unifig.live_frame(state, "training", sent)[0].startswith("<svg")


def test_universality_frames_train_and_the_sweep_draws_error_against_width():
    state = universality.UState()
    limits = Limits(max_steps=40, max_width=4)
    out = list(universality.train_frames(state, live_settings(width=4), limits))
    assert state.live.steps == 40 and "step limit" in out[-1][1] and 'data-step="40"' in out[-1][0]
    rows = list(universality.sweep_frames(state, live_settings(width=4), limits))
    assert [w for w, _, _ in state.sweep] == [1, 2, 4] and "width sweep done" in rows[-1][1]
    assert state.sweep[-1][1] < state.sweep[0][1]  # wider is better


def test_descent_paths_converge_below_the_stable_rate_and_diverge_above_it():
    v = {f.name: f.default for f in descent.FIELDS}
    p = descent.problem(v["points"], v["noise"], v["seed"])
    slow = descent.paths(0.5 * p["stable_lr"], v["points"], v["noise"], v["batch"], 200, v["seed"])
    full = slow["full"]
    assert full["wb"].shape == (201, 2) and tuple(full["wb"][0]) == descent.START
    assert np.all(np.diff(full["loss"]) <= 1e-12) and full["loss"][-1] < 1.05 * p["opt_loss"]
    assert not any(r["diverged"] for r in slow.values())
    fast = descent.paths(1.05 * p["stable_lr"], v["points"], v["noise"], v["batch"], 300, v["seed"])
    assert fast["full"]["diverged"] and len(fast["full"]["loss"]) < 301
    assert descent.verdict(1.05, 1.0) == "diverges" and "zig-zags" in descent.verdict(0.7, 1.0)
    fig, text = descent.render(v | {"lr": 0.2}, 10)
    assert 'data-step="10"' in fig and "diverges" in text


def test_classification_trains_and_a_bad_layer_spec_is_refused():
    v = {f.name: f.default for f in classify.FIELDS} | {"dataset": "xor", "features": ["x1", "x2", "x1*x2"]}
    state = classify.CState()
    out = list(classify.train_frames(state, v, Limits(max_steps=400)))
    curve = state.live.train_curve
    assert state.net.steps >= 400 and curve.values[-1] < 0.7 * curve.values[0]
    assert "step limit" in out[-1][1]
    net = state.net
    fig, text = classify.reset(state, v | {"hidden": "4, 99"})
    assert "⚠" in text and "at most" in text and state.net is net  # the network, and its figure, stay
    assert f'data-step="{net.steps}"' in fig


def test_classification_figure_shows_every_unit_and_weight_and_edits_one():
    import re

    v = {f.name: f.default for f in classify.FIELDS} | {"features": ["x1", "x2", "x1^2"], "hidden": "4, 2"}
    state = classify.CState()
    fig, _ = classify.reset(state, v)
    assert 'data-hidden="4,2"' in fig and fig.count('class="weight"') == 3 * 4 + 4 * 2 + 2 * 1
    assert fig.count('class="neuron-button"') == 4  # + and - over each hidden layer
    w = float(re.search(r'data-cmd="w 1 2 0" data-w="([^"]+)"', fig).group(1))
    assert w == pytest.approx(float(state.net.params[0][2, 0]), abs=1e-3)
    fig, text = classify.set_weight(state, v, "1 2 0", -3.25)
    assert 'data-cmd="w 1 2 0" data-w="-3.25"' in fig and "weight set" in text
    assert "⚠" in classify.set_weight(state, v, "9 0 0", 1.0)[1]
    _, text = classify.step(state, v)
    assert state.net.steps == 1 and "one step" in text
    assert classify.resize("4, 2", "n+ 2") == "4, 3" and classify.resize("4, 2", "n- 1") == "3, 2"
    assert classify.resize("4, 2", "layer+") == "4, 2, 2" and classify.resize("4", "layer-") == "0"
    assert classify.resize("16", "n+ 1") == "16" and classify.resize("1", "n- 1") == "1"  # stays in range


def test_regression_and_discretised_output_on_the_classification_page():
    v = {f.name: f.default for f in classify.FIELDS} | {"dataset": "plane", "activation": "linear", "hidden": "0",
                                                       "lr": 0.03, "l1": 0.001}
    state = classify.CState()
    list(classify.train_frames(state, v, Limits(max_steps=300)))
    curve = state.live.train_curve
    assert state.net.regression and curve.values[-1] < 0.05 * curve.values[0]
    fig, text = classify.render(state, "")
    assert "mean squared error" in fig and "accuracy" not in text
    from dlf.explore.netdraw import shade

    smooth = shade(np.array([-0.2, 0.0, 0.7]))
    sharp = shade(np.array([-0.2, 0.0, 0.7]), discrete=True)
    assert len({tuple(c) for c in sharp.tolist()}) == 2 and len({tuple(c) for c in smooth.tolist()}) == 3


def _playground(dataset: str = "circle", seed: int = 0, train_pct: float = 0.5, hidden=(4, 2)):
    from dlf.fundamentals import playground as pg

    x, y = pg.make_dataset(dataset, 400, 0.1, torch.Generator().manual_seed(seed))
    return pg.Playground(pg.split(x, y, train_pct), ("x1", "x2"), hidden, "tanh", seed=seed,
                         regression=dataset in pg.REGRESSION)


@pytest.mark.parametrize("dataset", ["circle", "multi-gauss"])
def test_live_playground_training_takes_the_same_steps_as_playground_train(dataset):
    from dlf.explore.playfit import LivePlay, train_together

    done, live = _playground(dataset), LivePlay(_playground(dataset))
    done.train(3, 0.1, 0.01, 7, l1=0.003)  # gradient_descent: 3 epochs of 29 batches, the last of 4 points
    assert train_together([live], math.inf, 3 * 29, [0.1], [0.01], [0.003], 7) == [3 * 29]
    assert live.net.epochs == 3 and live.net.steps == done.steps == 87
    for a, b in zip(done.params, live.net.params, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)  # the same batches in the same order, the same updates


def test_playground_networks_trained_together_match_each_trained_alone():
    from dlf.explore.playfit import LivePlay, train_together

    runs = [(0, 0.5, 0.1, 0.0, 0.001), (1, 0.3, 0.03, 0.01, 0.0), (2, 0.9, 0.3, 0.0, 0.0)]  # seed, split, lr, l2, l1
    together = [LivePlay(_playground(seed=r[0], train_pct=r[1])) for r in runs]
    took = train_together(together, math.inf, 100, *zip(*[r[2:] for r in runs]), 10)
    assert took == [100] * 3 and [t.net.epochs for t in together] == [5, 8, 2]  # 200, 120, 360 training points
    for (seed, pct, lr, l2, l1), t in zip(runs, together):
        alone = LivePlay(_playground(seed=seed, train_pct=pct))
        train_together([alone], math.inf, 100, [lr], [l2], [l1], 10)
        for a, b in zip(alone.net.params, t.net.params, strict=True):
            assert torch.allclose(a, b, rtol=0, atol=1e-12)
        alone.update(), t.update()
        assert alone.train_curve.steps == t.train_curve.steps == [0, 100]
        assert alone.train_curve.values == pytest.approx(t.train_curve.values, abs=1e-12)
    with pytest.raises(ValueError, match="same layer widths"):
        train_together([LivePlay(_playground()), LivePlay(_playground(hidden=(3,)))], math.inf, 1,
                       [0.1] * 2, [0.0] * 2, [0.0] * 2, 10)


def _bmp_pixels(uri: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


@pytest.mark.parametrize("dataset", ["xor", "plane"])
def test_a_classification_frame_is_a_patch_that_paints_what_the_whole_figure_draws(dataset):
    import base64
    import json
    import re

    from dlf.explore import classfig, netdraw

    v = {f.name: f.default for f in classify.FIELDS} | {"dataset": dataset, "hidden": "5, 3"}
    state = classify.CState()
    classify.reset(state, v)
    classify._train([state.live], [state.tune], math.inf, 150)  # past the first steps, where the axes grow fast
    state.live.update()
    sent: dict = {}
    first, _ = classfig.live_frame(state, "training", sent)
    assert first.startswith("<svg") and sent["layout"] in first  # the first frame is the whole figure
    classify._train([state.live], [state.tune], math.inf, 3)
    state.live.update()
    frame, status = classfig.live_frame(state, "training", sent)
    whole, whole_status = classfig.render(state, "training")
    assert frame.startswith("{") and len(frame) < len(whole) / 3 and status == whole_status
    patched, p = _apply_patch(first, frame), json.loads(frame)
    for sel in (".train-loss", ".test-loss"):  # the loss curves where the whole figure draws them
        find = f'<path d="([^"]*)"[^>]*class="{sel[1:]}"'
        assert re.search(find, patched)[1] == re.search(find, whole)[1]
    assert re.search('data-step="([^"]*)"', patched)[1] == re.search('data-step="([^"]*)"', whole)[1]
    for sel, name, values in p["attrs"]:  # each weight's colour, width and value; the boundary
        tag = sel[1:]
        shown = re.findall(f'<[a-z]+ class="{tag}"[^>]*? {name}="([^"]*)"', whole)
        assert shown == [str(x) for x in values] and shown, (sel, name)
    assert [a[0] for a in p["attrs"]].count(".boundary") == (dataset == "xor")
    lut = np.frombuffer(base64.b64decode(p["luts"]["shade"]), np.uint8).reshape(-1, 3)
    for sel, i, w, h, key, b64 in p["images"]:  # painted from colour indices: the whole figure's pixels
        assert key == "shade"
        painted = lut[np.frombuffer(base64.b64decode(b64), np.uint8)].reshape(-1, h, w, 3)
        uris = re.findall(f'<image href="([^"]+)"[^>]*class="{sel[1:]}"' if sel == ".boundary-image"
                          else f'<image class="{sel[1:]}" href="([^"]+)"', whole)
        assert len(uris) == len(painted) and i == 0
        for uri, px in zip(uris, painted):
            assert np.array_equal(_bmp_pixels(uri), px), sel
    assert len(p["images"]) == 2 and np.array_equal(lut, netdraw.SHADE_LUT)
    last, _ = classfig.live_frame(state, "stopped; press Train to go on", sent)
    assert last.startswith("<svg")  # the last frame of a press is whole
    classify._train([state.live], [state.tune], math.inf, 2000)  # the step axis grows: a whole figure again
    state.live.update()
    assert classfig.live_frame(state, "training", sent)[0].startswith("<svg")


def test_a_diverging_classification_network_ends_the_press_and_still_draws():
    from dlf.explore import classfig

    v = {f.name: f.default for f in classify.FIELDS} | {"lr": 3.0, "dataset": "multi-gauss", "hidden": "16, 16, 16",
                                                       "batch": 1}
    state = classify.CState()
    out = list(classify.train_frames(state, v, Limits(max_steps=20_000)))
    assert "diverged" in out[-1][1] and state.net.steps < 20_000 and out[-1][0].startswith("<svg")
    state.live._add(math.inf, math.inf, [0.5, 0.5])  # inf and NaN in the curves set no axis
    assert classfig.live_frame(state, "training", {})[0].startswith("<svg")


def test_classification_trains_in_a_worker_and_a_step_after_stop_keeps_its_network():
    from dlf.explore import workers

    v = {f.name: f.default for f in classify.FIELDS} | {"hidden": "3"}
    pool = workers.Pool(processes=1, preload=("dlf.explore.classify",))
    try:
        state = classify.CState()
        classify.reset(state, v)
        frames = classify.train_frames(state, v, Limits(max_steps=3000), pool=pool)
        out = list(frames)
        assert "step limit" in out[-1][1] and state.net.steps == 3000  # the trained network came back
        assert any(f[0] and f[0].startswith("{") for f in out)  # patches between whole figures
        shown: list = []  # as the page's stream does: a thread takes the frames of a press of Train
        press = threading.Thread(target=lambda: shown.extend(classify.train_frames(state, v, Limits(), pool=pool)))
        press.start()
        deadline = time.monotonic() + 30
        while len(shown) < 3 and time.monotonic() < deadline:  # training in the worker
            time.sleep(0.02)
        _, text = classify.step(state, v)  # stops it, takes its network back, steps once
        steps = state.net.steps
        press.join(timeout=30)
        assert "one step" in text and steps > 3001 and "stopped" in shown[-1][1]
        assert state.net.steps == steps  # the press that ended did not bring its network back over the stepped one
    finally:
        pool.close()


# the command line -------------------------------------------------------------------------------------------
def test_explore_without_gradio_says_how_to_install_it(monkeypatch, capsys):
    from dlf.explore.server import free_port

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    assert main(["explore", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'dlf[explore]'" in err[0]


def test_explore_refuses_a_bad_or_busy_port(capsys):
    import socket

    assert main(["explore", "--port", "70000"]) == 2
    assert capsys.readouterr().err.strip() == "dlf: error: --port must lie in 1..65535 (got 70000)"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["explore", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"dlf: error: cannot serve on 127.0.0.1:{port} (the port is in use); choose another --port or "
                   "--host"]


# two sessions through the browser's protocol -----------------------------------------------------------------
@pytest.mark.slow  # a server and two sessions training for 1.5 s
def test_two_sessions_train_independently_within_bounds_and_bad_values_are_one_line(capfd, caplog):
    pytest.importorskip("gradio", reason="the explorer needs gradio: pip install 'dlf[explore]'")
    import json
    import threading
    import urllib.request

    from dlf.explore.loadclient import App, Session
    from dlf.explore.server import free_port, serve

    port = free_port()
    demo = serve(port=port, block=False, quiet=True, torch_threads=None,
                 limits=Limits(max_seconds=1.5, frame_seconds=0.03, workers=0))
    try:
        url = f"http://127.0.0.1:{port}/"
        app = App(url)
        seen: dict[int, list] = {0: [], 1: []}

        def train(i: int, values: dict) -> None:
            seen[i] = list(Session(app).events("universality-train", "click", values))

        jobs = [threading.Thread(target=train, args=(0, {"universality-width": 4})),
                threading.Thread(target=train, args=(1, {"universality-width": 24, "universality-target": "abs",
                                                         "universality-activation": "relu"}))]
        for t in jobs:
            t.start()
        for t in jobs:
            t.join(timeout=60)
        capfd.readouterr()
        bad = list(Session(app).events("universality-width", "input", {"universality-width": 99999}))
        time.sleep(0.3)
        err = capfd.readouterr().err
        with urllib.request.urlopen(url + "gradio_api/info", timeout=30) as r:
            public = set(json.loads(r.read())["named_endpoints"])
    finally:
        demo.close()
    first = [line for kind, line in seen[0] if kind == "frame"]
    assert b'data-width=\\"4\\"' in first[0] and b"sin(x)" in first[0]
    assert b"abs(x)" in [line for kind, line in seen[1] if kind == "frame"][0]
    for events in seen.values():
        assert len(events) >= 4 and events[-1][0] == "done"  # several frames, then the end
        assert b"time limit (1.5 s per press)" in b"".join(line for _, line in events[-3:])
    assert bad[-1][0] == "error" and b"greater than maximum" in bad[-1][1]
    assert "Traceback" not in err and [r.getMessage() for r in caplog.records if "99999" in r.getMessage()] == [
        "refused a value for #universality-width: Value 99999 is greater than maximum value 512."]
    mine = [n for n in public if n.lstrip("/").split("_")[0] in ("neuron", "activations", "universality", "descent",
                                                                   "classify", "backprop")]
    assert mine and all(n.endswith("_link") for n in mine)  # the links only: no endpoint that carries a State


@pytest.mark.slow  # starts a Python with torch: seconds
def test_worker_processes_share_training_fairly_and_hand_the_network_back():
    from dlf.explore.workers import Pool

    pool = Pool(processes=1, frame_s=0.02)
    try:
        states = [universality.UState() for _ in range(2)]
        for s in states:
            universality.reset(s, live_settings(width=8), Limits())
        stopped = threading.Event()
        out: dict[int, list] = {0: [], 1: []}

        def run(i: int) -> None:
            whole = lambda frame: frame[0].startswith("<")  # noqa: E731
            for item in pool.run(universality.TrainJob(states[i], Limits(max_seconds=60)), stopped.is_set,
                                 keep=whole):
                out[i].append(item)
                time.sleep(0.1 * i)  # session 1 takes its frames slowly: newer ones wait in its box

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        deadline = time.time() + 120  # the worker starts a Python with torch: seconds on a busy machine
        while not (out[0] and out[1]) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)
        stopped.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        pool.close()
    steps = []
    for i in range(2):
        frame, done = out[i][-1]
        assert done is not None and done.live.steps > 0 and "stopped" in frame[1]
        assert len(out[i]) >= 5  # frames came while it trained
        steps.append(done.live.steps)
        shown = ""  # the layout of the whole figure the page shows: every patch must fit it (none was skipped)
        for (fig, _), _ in out[i]:
            if fig.startswith("<"):
                shown = re.search(r'data-layout="(\w+)"', fig)[1]
            else:
                assert json.loads(fig)["layout"] == shown
    assert min(steps) > 0.4 * max(steps)  # one worker, two jobs: about half each


# the routes beside gradio's: training streams and drags (dlf.explore.stream) ----------------------------------
def test_a_training_stream_keeps_the_newest_patch_after_the_newest_whole_figure_and_says_when_it_ends():
    import asyncio

    from dlf.explore import stream

    channel = stream.Channel("a-session")
    channel.put("<svg>1</svg>")
    channel.put('{"p":1}', "step **1**")
    channel.put('{"p":2}')  # the reader was slow: the patch before it is useless now
    assert channel.frames == ["<svg>1</svg>", '{"p":2}'] and channel.note == "step **1**"
    channel.put("<svg>2\nlines</svg>")  # a whole figure: every frame before it is stale
    channel.put('{"p":3}')
    channel.close()

    async def read() -> list[str]:
        return [m async for m in channel.messages()]

    assert asyncio.run(read()) == ["retry: 1000\n\n", "data: <svg>2\ndata: lines</svg>\n\n", 'data: {"p":3}\n\n',
                                   "event: note\ndata: step **1**\n\n", "event: end\ndata: end\n\n"]
    assert not channel.reading and not channel.abandoned()  # gone just now; abandoned only after ABANDONED_S
    channel.left -= stream.ABANDONED_S + 1
    assert channel.abandoned()


def test_the_routes_refuse_unknown_tokens_a_second_reader_too_many_streams_and_overlapping_drags(monkeypatch):
    pytest.importorskip("gradio", reason="the explorer needs gradio: pip install 'dlf[explore]'")
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from dlf.explore import stream

    for name in ("STREAMS", "SESSIONS", "_ATTACHED"):  # module state, restored after the test
        monkeypatch.setattr(stream, name, getattr(stream, name))
    app = Starlette()
    stream.attach(app, Limits(max_training=2, max_sessions=2))
    client = TestClient(app)
    assert client.get("/dlf/stream/not-a-token").status_code == 404
    token, channel = stream.STREAMS.open("session-1")
    stream.STREAMS.open("session-2")
    with pytest.raises(stream.Full, match="2 sessions are training already"):
        stream.STREAMS.open("session-3")
    channel.put("<svg>x</svg>", "training")
    channel.close()
    answer = client.get(f"/dlf/stream/{token}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    assert "data: <svg>x</svg>" in answer.text and answer.text.endswith("event: end\ndata: end\n\n")
    channel.reading = True  # a reader holds it: a second one is refused
    assert client.get(f"/dlf/stream/{token}").status_code == 404

    assert client.get("/dlf/neuron/not-a-token?w1=1").status_code == 404  # no gradio session handed it out
    mine = stream.SESSIONS.token("session-1")
    assert stream.SESSIONS.token("session-1") == mine  # one token per session
    answer = client.get(f"/dlf/neuron/{mine}?w1=99&activation=eval(1)&x2=nan")
    assert answer.status_code == 200
    fig = answer.json()["svg"]
    assert 'data-w1="5.0"' in fig and 'data-activation="sigmoid"' in fig  # clamped, or the default: as a link
    assert f'data-token="{mine}"' in fig  # the figure shown carries the token for the next drag
    with stream.SESSIONS.lock_of(mine):  # a drag of this session is being answered
        assert client.get(f"/dlf/neuron/{mine}?w1=1").status_code == 429
    stream.SESSIONS.token("session-2")
    stream.SESSIONS.token("session-3")  # more sessions than max_sessions: the oldest token goes
    assert client.get(f"/dlf/neuron/{mine}?w1=1").status_code == 404


def test_a_drag_answer_paints_the_same_figure_as_the_whole_one():
    """What neuron.DRAG_JS does in the page, in numpy: the pixels from the colour indices, where the neuron fires
    and the colour table; the figure around them is the one `render` draws."""
    import base64
    import io

    from PIL import Image

    v = {f.name: f.default for f in neuron_page.FIELDS} | {"w1": -2.3, "b": 0.7, "activation": "tanh"}
    answer = json.loads(neuron_page.compact({k: str(x) for k, x in v.items()}, "tok"))
    dec = lambda s: np.frombuffer(base64.b64decode(s), dtype=np.uint8)  # noqa: E731
    n = answer["size"]
    on = np.unpackbits(dec(answer["fires"]))[: n * n].astype(bool)
    rgb = dec(answer["lut"]).reshape(-1, 3)[dec(answer["index"])].astype(np.float64)
    rgb[~on] = np.floor(0.45 * rgb[~on] + 140.25 + 0.5)  # Math.round
    whole, text = neuron_page.render(v, token="tok")
    uri = re.search(r'<image href="(data:image/bmp;base64,[^"]+)"', whole)[1]
    drawn = np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))))
    assert np.abs(rgb.reshape(n, n, 3) - drawn).max() <= 1  # numpy rounds halves to even, JavaScript up
    assert answer["svg"] == whole.replace(uri, "") and answer["formula"] == text


@pytest.mark.parametrize("together", [False, True])
def test_a_worker_draws_each_job_about_every_frame_and_trains_each_its_share(monkeypatch, together):
    """Ten jobs on one worker, on a clock of our own: frames come about every frame_s, never a round late, and
    each job trains for its tenth of the worker, less what its frames cost; jobs of one group train together,
    each for all of the worker's time that frames leave."""
    from dlf.explore import workers

    clock = [0.0]
    monkeypatch.setattr(workers.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(workers.time, "thread_time", lambda: clock[0])  # the worker has the CPU to itself

    class Job:
        def __init__(self):
            self.trained, self.frames = 0.0, []

        def group(self):
            return "one kind of network" if together else None

        def advance(self, deadline: float) -> str:
            return Job.advance_together([self], deadline)[0]

        @staticmethod
        def advance_together(jobs, deadline: float) -> list[str]:
            for job in jobs:
                job.trained += deadline - clock[0]
            clock[0] = deadline
            return [""] * len(jobs)

        def draw(self, note: str) -> str:
            clock[0] += 0.0007  # what a patch costs
            self.frames.append(clock[0])
            return note

    class Sink:
        def put(self, msg):
            pass

    slice_s, frame_s = 0.002, 0.075
    jobs = {k: {"job": Job(), "stop": "", "drawn": 0.0, "trained": 0.0, "draw_s": 0.0, "turn": 0.0, "round": 0.0}
            for k in range(10)}
    assert len(workers._groups(jobs)) == (1 if together else 10)
    while clock[0] < 10.0:
        workers._round(jobs, Sink(), slice_s, frame_s)
    for entry in jobs.values():
        job = entry["job"]
        gaps = np.diff(job.frames[5:])  # once the round's length is known
        assert frame_s - 0.02 < gaps.mean() < frame_s + 0.005 and gaps.max() < frame_s + 0.015
        drawing = 10 * len(job.frames) * 0.0007 / clock[0]  # the worker's time spent on frames, about 9%
        assert job.trained / clock[0] > 0.98 * (1 - drawing) / (1 if together else 10)  # all, or a tenth, of the rest


def test_the_neurons_boundary_is_the_line_a_contour_of_its_grid_traces():
    import contourpy

    xs = np.linspace(-neuron_page.EXTENT, neuron_page.EXTENT, 80)
    g1, g2 = np.meshgrid(xs, xs[::-1])
    for w1, w2, b in ((1, -0.5, 0.5), (0, 1, 0.3), (2, 0, -5), (1, 1, 7), (-3, 0.2, 1), (0, 0, 1)):
        traced = contourpy.contour_generator(xs, xs[::-1], w1 * g1 + w2 * g2 + b).lines(0.0)
        ends = neuron_page.boundary(w1, w2, b)
        if not traced:
            assert ends is None
        else:
            assert len(traced) == 1 and {tuple(p) for p in ends.round(6)} == {tuple(p) for p in
                                                                               traced[0][[0, -1]].round(6)}
