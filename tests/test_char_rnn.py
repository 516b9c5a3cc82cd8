"""char-rnn: vocabulary, streams for truncated BPTT, carried state, exact resume, sampling, unit analysis, errors."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from dlf.cli import main
from dlf.errors import DataError
from dlf.experiments import _char_units as units
from dlf.experiments import char_rnn
from dlf.models.charrnn import CharRNN
from dlf.runner import execute
from dlf.text.streams import StreamSource
from dlf.text.vocab import Vocab
from dlf.train import checkpoint
from tests.helpers import execute_until_checkpoint, torchrun_beside

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and a busy machine does not stall a team of two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_text(lines: int = 120, seed: int = 0) -> str:
    """A small play: speaker lines in capitals, short sentences with a quotation, blank lines between."""
    r = random.Random(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "said", "to", "me"]
    out = []
    for _ in range(lines):
        said = " ".join(r.choice(words) for _ in range(2))
        out += [f"{r.choice(['ALICE', 'BOB', 'CAROL'])}:", " ".join(r.choice(words) for _ in range(5))
                + f' "{said}".', ""]
    return "\n".join(out)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "play.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


def small(text_file: Path, **changes) -> char_rnn.Config:
    base = dict(text=str(text_file), hidden=32, embed=16, batch_size=4, seq_len=16, max_steps=40, lr=1e-2,
                device="cpu", log_every=5, eval_every=10, ckpt_every=20, analyze_chars=600, val_chunk=64)
    return char_rnn.Config(**{**base, **changes})


@pytest.fixture(scope="module")
def trained(text_file, tmp_path_factory):
    run, summary = execute("char-rnn", small(text_file), tmp_path_factory.mktemp("runs") / "run", quiet=True)
    return run, summary


def test_vocab_is_sorted_round_trips_and_names_unknown_characters(tmp_path):
    vocab = Vocab.from_text("hello, wörld\n")
    assert vocab.chars == "".join(sorted(set("hello, wörld\n")))
    ids = vocab.encode("wörld")
    assert ids.dtype == torch.int64 and vocab.decode(ids) == "wörld"
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("zebra")
    assert vocab.missing("zebra") == ["z", "b", "a"]
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").chars == vocab.chars
    (tmp_path / "old.json").write_text(json.dumps({"chars": list("\nab")}))  # the format of earlier runs
    assert Vocab.load(tmp_path / "old.json").encode("ba\n").tolist() == [2, 1, 0]
    (tmp_path / "bad.json").write_text('{"tokens": 7}')
    with pytest.raises(DataError, match="is damaged"):
        Vocab.load(tmp_path / "bad.json")


def test_one_vocab_class_serves_words_too():
    words = Vocab(["the", "cat", "sat"], counts=np.array([5, 2, 1]), corpus_words=9)
    assert words.encode(["sat", "the", "cat"]).tolist() == [2, 0, 1]
    assert words.decode([1, 2], sep=" ") == "cat sat" and words.train_words == 8
    with pytest.raises(ValueError, match="'dog'"):
        words.encode(["the", "dog"])
    unsorted = Vocab(list("ba"))  # not sorted by code point: the dictionary path, same answers
    assert unsorted.encode("abba").tolist() == [1, 0, 0, 1]


def test_streams_read_the_text_in_order_and_mark_each_streams_start():
    ids = torch.arange(1000)
    src = StreamSource(ids, streams=4, seq_len=10)
    assert src.stream_len == 249 and src.chunks == 24 and len(src) == 96
    x0, fresh0 = src.get(torch.arange(0, 4))  # step 0: chunk 0 of every stream
    x1, fresh1 = src.get(torch.arange(4, 8))  # step 1: chunk 1
    assert x0.shape == (4, 11) and fresh0.all() and not fresh1.any()
    assert torch.equal(x0[:, 0], torch.tensor([0, 249, 498, 747]))
    assert torch.equal(x1[:, 0], x0[:, -1]), "chunk c + 1 starts at chunk c's last target: the stream continues"
    assert torch.equal(x0[0], torch.arange(11))


def test_split_is_first_90_percent_then_last_10():
    train, val = char_rnn.split("abcdefghij" * 10)
    assert len(train) == 90 and train + val == "abcdefghij" * 10


def test_carried_state_makes_two_chunks_equal_one_long_sequence():
    """Truncated BPTT cuts gradients, not the state: chunk 2 from chunk 1's state = the long sequence's 2nd half."""
    torch.manual_seed(0)
    for cell in ("lstm", "gru", "rnn"):
        model = CharRNN(7, hidden=8, layers=2, cell=cell, embed=5)
        task = char_rnn.CharTask(model, streams=3)
        x = torch.randint(0, 7, (3, 21))  # two chunks of 10 inputs each, sharing the boundary character
        task.training_step((x[:, :11], torch.ones(3, dtype=torch.bool)))
        second = task.training_step((x[:, 10:], torch.zeros(3, dtype=torch.bool)))["loss"]
        with torch.no_grad():
            logits, _ = model(x[:, :-1])
            whole = F.cross_entropy(logits[:, 10:].flatten(0, 1), x[:, 11:].flatten())
        assert second.item() == pytest.approx(whole.item(), abs=1e-5), cell
        fresh = task.training_step((x[:, 10:], torch.ones(3, dtype=torch.bool)))["loss"]
        assert abs(fresh.item() - whole.item()) > 1e-4, f"{cell}: a fresh chunk starts from a zero state"


def test_validation_loss_is_the_mean_nll_per_character(trained):
    run, summary = trained
    cfg = char_rnn.Config.from_dict({k: v for k, v in json.loads((run.path / "config.json").read_text()).items()
                                     if k != "experiment"})
    model, vocab = char_rnn.load_model(run.path, cfg)
    val = vocab.encode((run.path / "validation.txt").read_text())
    n = (len(val) - 1) // 64
    with torch.no_grad():
        x = val[:n * 64 + 1]
        nll = [F.cross_entropy(model(x[i * 64:(i + 1) * 64][None])[0][0], x[i * 64 + 1:(i + 1) * 64 + 1],
                               reduction="sum") for i in range(n)]
    assert summary["val_chars_scored"] == n * 64
    assert summary["val_loss_nats"] == pytest.approx(float(sum(nll)) / (n * 64), rel=1e-5)
    assert summary["val_bpc"] == pytest.approx(summary["val_loss_nats"] / math.log(2))


def test_tiny_run_learns_and_writes_its_files(trained):
    run, summary = trained
    rows = run.read_metrics()
    train = [r["train_loss"] for r in rows if "train_loss" in r]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert train[-1] < train[0] - 1.0 and val[-1] < val[0] - 0.5, (train, val)
    assert summary["val_loss_nats"] < math.log(summary["vocab_size"]) - 1.0
    assert summary["steps"] == 40 and summary["train_chars_seen"] == 40 * 4 * 16
    names = {p.name for p in run.path.iterdir()}
    assert {"vocab.json", "validation.txt", "sample.txt", "curves.png", "units"} <= names
    assert (run.path / "sample.txt").read_text().startswith("\n")
    found = json.loads((run.path / "units" / "units.json").read_text())
    assert "line_position" in found and "inside_quotes" in found and "inside_parens" not in found
    assert summary["unit_line_position"] == found["line_position"][0][0]
    assert abs(summary["unit_line_position_corr"]) > 0.3
    pages = {p.name for p in (run.path / "units").glob("*.html")}
    assert "index.html" in pages and f"line_position-unit{summary['unit_line_position']}.html" in pages
    assert (run.path / "units.png").exists() and "untrained network" in (run.path / "units" / "index.html").read_text()


def test_every_unit_correlation_has_an_untrained_baseline(trained):
    """The baseline is the same search over a fresh network of the same shape and seed, reported beside each r."""
    run, summary = trained
    found = json.loads((run.path / "units" / "units.json").read_text())
    baseline = json.loads((run.path / "units" / "untrained.json").read_text())
    assert found.keys() == baseline.keys()
    model, vocab = char_rnn.load_model(run.path, small(Path(run.path)))  # the config's file is not read here
    fresh = units.untrained_like(model, seed=0)
    torch.manual_seed(0)
    same = CharRNN(model.vocab_size, 32, 1, "gru", 16)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), same.state_dict().values()))
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    text = (run.path / "validation.txt").read_text()[:small(Path(run.path)).analyze_chars]
    acts = fresh.hidden_states(vocab.encode(text)[None])[0].double().numpy()
    for name, units_ in units.top_units(acts, text).items():
        assert summary[f"unit_{name}_untrained_corr"] == units_[0][1] == baseline[name][0][1]


def test_resume_after_a_stop_is_exact(text_file, tmp_path):
    cfg = small(text_file, max_steps=20, ckpt_every=10, analyze_chars=0, dropout=0.1, layers=2, cell="lstm")
    execute("char-rnn", cfg, tmp_path / "full", quiet=True)
    execute_until_checkpoint("char-rnn", cfg, tmp_path / "cut", step=10)
    state = load_file(str(checkpoint.latest(tmp_path / "cut" / "checkpoints") / "tensors.safetensors"))
    assert state["model.h"].abs().sum() > 0 and state["model.c"].abs().sum() > 0, "the carried state is saved"
    execute("char-rnn", resume=tmp_path / "cut", quiet=True)
    a, b = ({k: v for k, v in load_file(str(checkpoint.latest(tmp_path / n / "checkpoints") /
                                             "tensors.safetensors")).items() if k.startswith("model.")}
            for n in ("full", "cut"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    summaries = [json.loads((tmp_path / n / "summary.json").read_text()) for n in ("full", "cut")]
    assert summaries[0] == summaries[1]


def test_sampling_repeats_for_a_seed_and_starts_with_the_prime(trained, tmp_path, capsys):
    run, _ = trained
    texts = []
    for seed in (3, 3, 4):
        assert main(["sample", str(run.path), "--prime", "BOB:", "--length", "80", "--seed", str(seed)]) == 0
        texts.append(capsys.readouterr().out[:-1])  # print added one newline
    assert texts[0] == texts[1] != texts[2]
    assert texts[0].startswith("BOB:") and len(texts[0]) == 84
    assert (run.path / "sample.txt").read_text() == texts[2]
    out = tmp_path / "s.txt"
    assert main(["sample", str(run.path), "--prime", "BOB:", "--length", "80", "--seed", "3", "--top-k", "1",
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    greedy = out.read_text()
    assert main(["sample", str(run.path), "--prime", "BOB:", "--length", "80", "--seed", "9", "--top-k", "1",
                 "--out", str(out)]) == 0
    assert out.read_text() == greedy, "top-k 1 is greedy: the seed does not matter"


@pytest.mark.parametrize("args, fragment", [
    (["--temperature", "0"], "--temperature: must be in (0,"),
    (["--temperature", "-1"], "--temperature: must be in (0,"),
    (["--prime", "BOB:\u00e9"], "--prime holds '\u00e9'"),
    (["--prime", ""], "--prime: must be non-empty"),
    (["--out", "x.png"], "--out must name a .txt file"),
])
def test_bad_sample_options_are_one_line_errors(trained, args, fragment, capsys):
    run, _ = trained
    assert main(["sample", str(run.path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def make_bad(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.txt"
    content = {"empty": b"", "binary": b"\x00\x01\x02abc" * 10, "blank": b"  \n\n ", "short": b"ab\ncd\n" * 20}
    path.write_bytes(content[kind])
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("empty", "the file is empty"),
    ("binary", "looks like a binary file"),
    ("blank", "holds no text"),
    ("short", "too few for --batch-size"),
])
def test_bad_text_is_one_line_and_exit_2(kind, fragment, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "char-rnn", "--text", str(make_bad(tmp_path, kind)), "--out", str(out), "--device", "cpu",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    assert not out.exists()


def test_inspect_writes_an_escaped_coloured_page(trained, tmp_path, capsys):
    run, _ = trained
    out = tmp_path / "u.html"
    assert main(["inspect", str(run.path), "--unit", "3", "--chars", "200", "--out", str(out)]) == 0
    assert "unit 3 over 200 validation characters" in capsys.readouterr().out
    page = out.read_text()
    assert page.count("<span style='background:rgb(") == 200 + 9  # one per character, 9 in the legend
    assert '"' not in page.split("<pre>")[1].replace("&quot;", ""), "quotes in the text are escaped"
    assert main(["inspect", str(run.path), "--unit", "32"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--unit 32 is out of range" in err[0] and "0 to 31" in err[0]
    other, _ = execute("activations", out=tmp_path / "act", quiet=True)  # the registry says it has no units
    assert main(["inspect", str(other.path), "--unit", "0"]) == 2
    assert "is a 'activations' run; inspect the folder of a char-rnn" in capsys.readouterr().err


def test_properties_and_correlations_find_a_planted_unit():
    text = 'AB:\nsay "hi" (now)\n\nCD:\nok\n'
    props = units.properties(text)
    assert props["inside_quotes"].tolist()[8:13] == [1, 1, 1, 1, 0]
    assert props["inside_parens"][text.index("(") + 1] == 1 and props["inside_parens"][text.index(")") + 1] == 0
    assert props["line_position"][text.index("y")] == 3
    assert props["speaker_line"][:4].tolist() == [1, 1, 1, 0] and props["speaker_line"][text.index("CD")] == 1
    assert props["word_position"][text.index("y")] == 3 and props["vowel"][text.index("a")] == 1
    rng = np.random.default_rng(0)
    long = make_text(40)
    acts = rng.normal(size=(len(long), 6))
    acts[:, 4] = units.properties(long)["line_position"] + rng.normal(scale=2.0, size=len(long))
    found = units.top_units(acts, long, k=2)
    assert found["line_position"][0][0] == 4 and found["line_position"][0][1] > 0.5


def test_hidden_states_of_an_lstm_are_its_cell_states(monkeypatch):
    torch.manual_seed(0)
    model = CharRNN(9, hidden=6, layers=2, cell="lstm", embed=4)
    x = torch.randint(0, 9, (2, 12))
    monkeypatch.setattr(torch.nn.LSTM, "__init__", lambda *a, **k: pytest.fail("hidden_states built an nn.LSTM"))
    cells = model.hidden_states(x)  # (2, 12, 6)
    monkeypatch.undo()
    for t in (0, 5, 11):
        _, (h, c) = model(x[:, :t + 1])
        assert torch.allclose(cells[:, t], c[-1], atol=1e-5)


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(text_file, tmp_path, one_torch_thread):
    """Each process runs its own streams; the gathered state and the weights match one process within 1e-5."""
    common = ["run", "char-rnn", "--text", str(text_file), "--cell", "lstm", "--hidden", "16", "--batch-size", "4",
              "--seq-len", "16", "--max-steps", "8", "--device", "cpu", "--quiet", "--analyze-chars", "0",
              "--val-chunk", "64"]  # several validation chunks: every process scores some
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    single, multi = tmp_path / "single", tmp_path / "multi"
    with torchrun_beside([*common, "--out", str(multi)], env):
        assert main([*common, "--out", str(single)]) == 0  # the one-process run, here, while torchrun starts
    a = load_file(str(checkpoint.latest(single / "checkpoints") / "tensors.safetensors"))
    b = load_file(str(checkpoint.latest(multi / "checkpoints") / "tensors.safetensors"))
    keys = [k for k in a if k.startswith("model.")]
    assert "model.h" in keys and "model.c" in keys
    assert max(float((a[k] - b[k]).abs().max()) for k in keys) < 1e-5


def test_validation_in_windows_equals_reading_each_chunk_whole(monkeypatch):
    """Validation reads a batch of chunks a window at a time, carrying the state: the same loss as whole chunks."""
    torch.manual_seed(0)
    for cell in ("lstm", "gru"):
        task = char_rnn.CharTask(CharRNN(9, hidden=12, layers=2, cell=cell, embed=6), streams=2).eval()
        x = torch.randint(0, 9, (5, 38))  # 5 chunks of 37 characters
        with torch.no_grad():
            whole = F.cross_entropy(task.model(x[:, :-1])[0].flatten(0, 1), x[:, 1:].flatten()).item()
        monkeypatch.setattr(char_rnn, "EVAL_POSITIONS", 5 * 4)  # windows of 4 characters, the last one of 1
        assert task.validation_step((x,))["loss"].item() == pytest.approx(whole, rel=1e-6), cell
        monkeypatch.setattr(char_rnn, "EVAL_POSITIONS", 1)  # one character at a time (window at least 1)
        assert task.validation_step((x,))["loss"].item() == pytest.approx(whole, rel=1e-6), cell
