"""`dlf tour`, the README's main job: one self-contained HTML report whose every section says the command that
reproduces it, and whose gradient-descent section shows what the lecture claims, fairly."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import shlex

import pytest

from dlf import registry
from dlf.cli import main
from dlf.options import parse_run
from dlf.tour import STOPS

COMMAND = re.compile(r"reproduce: <code>([^<]*)</code>")


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """The tour, run once for this module through the CLI: (its folder, the report's text, what it printed)."""
    out = tmp_path_factory.mktemp("tour") / "tour"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["tour", "--out", str(out)]) == 0
    return out, (out / "report.html").read_text(), printed.getvalue()


def commands(page: str) -> dict[str, list[str]]:
    """Experiment name -> the arguments of the command its section prints (after 'dlf run NAME')."""
    found = {}
    for text in COMMAND.findall(page):
        words = shlex.split(html.unescape(text))
        assert words[:2] == ["dlf", "run"]
        found[words[2]] = words[3:]
    return found


def summary(folder) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_the_report_is_one_self_contained_page_with_a_figure_per_section(tour):
    out, page, printed = tour
    assert str(out / "report.html") in printed
    assert page.count("<section>") == len(STOPS)
    assert page.count('src="data:image/png;base64,') >= len(STOPS)
    assert "src=\"http" not in page and "<script" not in page  # opens offline, nothing fetched
    for stop in STOPS:
        assert html.escape(stop.title) in page
    assert ">None<" not in page and "None" not in re.sub(r"<img[^>]*>", "", page)


def test_every_section_prints_the_command_that_gives_its_exact_config(tour):
    out, page, printed = tour
    found = commands(page)
    for text in COMMAND.findall(page):  # the terminal shows the same commands as the report
        assert html.unescape(text) in printed
    assert list(found) == [stop.experiment for stop in STOPS]
    for name, args in found.items():
        exp = registry.get(name)
        cfg, _ = parse_run(name, exp.load().Config, args, exp.concept)
        saved = json.loads((out / name / "config.json").read_text())
        saved.pop("experiment")
        assert cfg.to_dict() == saved, f"the command printed for {name} does not give the config the tour ran"


@pytest.mark.parametrize("name", ["gradient-descent", "backprop"])
def test_running_a_sections_command_reproduces_its_summary(tour, name, tmp_path):
    out, page, _ = tour
    args = commands(page)[name]
    assert main(["run", name, *args, "--out", str(tmp_path / "again"), "--quiet"]) == 0
    assert (tmp_path / "again" / "summary.json").read_text() == (out / name / "summary.json").read_text()


def test_gradient_descent_section_shows_noisy_but_more_efficient_with_full_batch_at_a_fair_rate(tour):
    out, page, _ = tour
    s = summary(out / "gradient-descent")
    cfg = json.loads((out / "gradient-descent" / "config.json").read_text())
    assert s["lr_stable_limit"] / 4 < cfg["lr"] < s["lr_stable_limit"]  # full batch near its best, not crippled
    assert s["full_examples_to_target"] is not None  # every method gets there
    # more efficient: far fewer examples to come within 10% of the optimum ...
    assert s["sgd_examples_to_target"] * 5 < s["full_examples_to_target"]
    assert s["minibatch_examples_to_target"] * 5 < s["full_examples_to_target"]
    # ... but noisy: they end further from the optimum than full batch does
    assert s["sgd_final_loss"] > s["minibatch_final_loss"] > s["full_final_loss"] * (1 + 1e-3)
    assert f"full batch after {s['full_examples_to_target']:,} examples" in page


def test_backprop_section_shows_hand_written_gradients_equal_to_autograd(tour):
    out, page, _ = tour
    s = summary(out / "backprop")
    assert s["max_loss_diff"] < 1e-12 and s["final_loss_numpy"] < 0.5 * s["initial_loss"]
    assert f"differ by at most {s['max_loss_diff']:.2g}" in page
    assert (out / "backprop" / "backprop.png").exists()


def test_a_bad_seed_is_refused_before_anything_is_written(tmp_path, capsys):
    assert main(["tour", "--seed", "-1", "--out", str(tmp_path / "t")]) == 2
    assert "--seed" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
