"""scripts/check-docs.py: the commands in the README and docs parse, every table of figures names its command, machine
and date, and the fast figure checks reproduce what the docs say."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


D = load_script("scripts/check-docs.py", "check_docs")
NEURON = "dlf run neuron --seed 3"


def problems_in(tmp_path, text: str, run: str = "none") -> list[str]:
    doc = tmp_path / "doc.md"
    doc.write_text(text, encoding="utf-8")
    return [p.message for p in D.check([doc], run)]


def test_the_docs_commands_parse_and_their_tables_say_command_machine_and_date():
    problems = D.check(D.doc_files(), "none")
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.slow
def test_the_docs_fast_figures_reproduce(doc_runs, monkeypatch):
    """The `check-docs fast` comments in the docs: each command reruns in seconds and gives the figures shown.
    The runs go through the session's doc_runs (in this process, each once); the test below runs the script's own
    subprocess."""
    monkeypatch.setattr(D, "run_marker", doc_runs)
    problems = []
    for path in D.doc_files():
        problems += D.check_figures(path, path.read_text(encoding="utf-8").splitlines(), {"fast"})
    assert not problems, "\n".join(map(str, problems))


def test_commands_that_no_longer_parse_are_reported(tmp_path):
    text = "\n".join(["```bash",
                      "dlf run linreg --no-such-option 3          # a renamed option",
                      "dlf run no-such-experiment",
                      "dlf run linreg --lr nan",
                      "python benchmarks/bench_linreg.py --rows many",
                      "dlf run linreg --lr 0.1 \\",
                      "    --out runs/lin                         # continued lines are one command",
                      "DLF_DATA_DIR=../data dlf compare runs/a runs/b --out runs/shift.png",
                      "python benchmarks/bench_linreg.py --rows 1000 --pairs 3",
                      "pip install -e .", "```",
                      "`dlf sample` in prose is a name, not a command."])
    found = problems_in(tmp_path, text)
    assert len(found) == 4, found
    assert "--no-such-option" in found[0] and "no-such-experiment" in found[1]
    assert "--lr nan" in found[2] and "--rows many" in found[3]


def test_a_table_of_figures_needs_command_machine_and_date(tmp_path):
    table = "| run | accuracy | loss |\n| --- | ---: | ---: |\n| `dlf run neuron` | 97.5% | 0.051 |\n"
    bare = problems_in(tmp_path, "## Results\n\nWe measured:\n\n" + table)
    assert len(bare) == 1 and all(w in bare[0] for w in ("machine", "date"))
    assert "command" not in bare[0]  # the table names its command
    full = "## Results\n\nOn the 2-core development CPU, 2026-12-01:\n\n" + table
    assert problems_in(tmp_path, full) == []
    words = "## Files\n\n| file | what |\n| --- | --- |\n| `summary.json` | the final figures, e.g. 97.5% |\n"
    assert problems_in(tmp_path, words) == []  # one number in a sentence is not a table of figures
    sizes = "## Data\n\n" + D.NOT_MEASURED + "\n| name | size |\n| --- | ---: |\n| a | 1.5 MB |\n| b | 2.5 MB |\n"
    assert problems_in(tmp_path, sizes) == []  # said not to be measurements


@pytest.mark.slow
def test_a_figure_is_rerun_and_compared_with_the_doc(tmp_path, monkeypatch):
    summary = D.run_marker(NEURON)
    shown = format(summary["final_loss"], ".4f")
    doc = ("## Neuron\n\n<!-- check-docs fast: " + NEURON + " => final_loss:.4f -->\n"
           "On the 2-core development CPU, 2026-12-01, `" + NEURON + "`:\n\n"
           "| figure | value |\n| --- | ---: |\n| final loss | {} |\n")
    assert problems_in(tmp_path, doc.format(shown), run="fast") == []
    monkeypatch.setattr(D, "run_marker", lambda command: summary)  # the same run, a doc that says otherwise
    wrong = problems_in(tmp_path, doc.format("9.9999"), run="fast")
    assert len(wrong) == 1 and f"final_loss = {shown}" in wrong[0]
    assert problems_in(tmp_path, doc.format("9.9999"), run="none") == []  # figures are rerun only when asked
    monkeypatch.setattr(D, "run_marker", lambda command: {})
    assert "no summary key" in problems_in(tmp_path, doc.format(shown), run="fast")[0]
