"""The `dlf` command line.

    dlf list                                   every experiment and the lecture concept it shows
    dlf run NAME [--out DIR] [options]         one experiment under the run contract (see dlf.rundir)
    dlf run NAME --resume DIR                  continue a checkpointed run
    dlf tour [--out DIR]                       the fundamentals, small and fast, as one HTML report
    dlf tour --part 2 [--out DIR]              the second half, small (about 10 minutes), with run folders to explore
    dlf report RUN... [--out FILE]             one self-contained HTML page for any set of finished runs
    dlf play RUN_DIR [--episodes N]            evaluate a trained RL agent again and film it as a GIF
    dlf sample RUN_DIR [--n 64] [--seed N]     new samples of a char-rnn, pixelcnn, vae or gan run
    dlf inspect RUN_DIR --unit N               a char-rnn hidden unit's activation over the text, as HTML
    dlf neighbors RUN_DIR WORD [-k 10]         a word2vec run's nearest words by cosine similarity
    dlf analogy RUN_DIR A B C [-k 5]           a word2vec analogy: A is to B as C is to ?
    dlf compare RUN_DIR RUN_DIR [--out PNG]    translation invariance: accuracy vs image shift, runs side by side
    dlf data list [--data-dir DIR]             every data set: present or not, where, size, source, licence
    dlf data download NAME|all [--data-dir D]  fetch data sets, checksummed (mnist, text8, mr, ...)
    dlf explore [--host H] [--port N] [--open] the interactive explorer in the browser (pip install 'dlf[explore]')
    dlf explore --runs DIR                     ... with pages for the trained runs under DIR (default: runs)

Errors a user can fix print one line and exit with status 2; see dlf.errors.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dlf import __version__, registry
from dlf.config import SEED_MAX
from dlf.errors import DlfError, shorten


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix, not a usage dump."""

    def error(self, message: str):  # type: ignore[override]
        raise DlfError(f"{shorten(message, 200)} (see '{self.prog} --help')")


def _number(kind: type, low: float, high: float, low_open: bool = False):
    """An argparse type: a finite `kind` in [low, high] ((low, high] with low_open)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value {shorten(repr(text))}") from None
        if not (math.isfinite(value) and (value > low if low_open else value >= low) and value <= high):
            raise argparse.ArgumentTypeError(f"must be in {'(' if low_open else '['}{low:g}, {high:g}] "
                                             f"(got {shorten(text)})")
        return value

    parse.__name__ = kind.__name__
    return parse


def _text(max_len: int = 4096):
    """An argparse type: non-empty text of at most `max_len` characters."""

    def parse(text: str) -> str:
        if not text.strip() or len(text) > max_len:
            raise argparse.ArgumentTypeError(f"must be non-empty text of at most {max_len} characters "
                                             f"(got {shorten(repr(text))})")
        return text

    return parse


def _out_file(text: str) -> str:
    """An argparse type: a file that can be written (its folder exists and takes a new file)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file (got an empty string)")
    folder = Path(text).parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"folder {shorten(folder)} does not exist; create it or choose another")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write in {shorten(folder)}: {exc.strerror or exc}") from None
    return text


SEED = _number(int, 0, SEED_MAX)


def _top_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dlf", description="Deep Learning Fundamentals: the lecture as runnable experiments.")
    p.add_argument("--version", action="version", version=f"dlf {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("list", help="list every experiment and the concept it shows")
    run = sub.add_parser("run", help="run one experiment: dlf run NAME --help shows its options", add_help=False)
    run.add_argument("name", nargs="?", help="experiment name (see dlf list)")
    run.add_argument("rest", nargs=argparse.REMAINDER)
    tour = sub.add_parser("tour", help="run the fundamentals quickly and write one HTML report")
    tour.add_argument("--out", type=_text(), help="report folder (default: runs/tour-<timestamp>)")
    tour.add_argument("--seed", type=SEED, default=0, help="seed for every experiment (default: 0)")
    tour.add_argument("--part", type=int, choices=(1, 2), default=1,
                      help="1: the fundamentals (about 20 s); 2: the second half, small (about 10 min)")
    rep = sub.add_parser("report", help="one self-contained HTML page for any set of finished runs")
    rep.add_argument("runs", nargs="+", type=_text(), metavar="RUN_DIR", help="finished run folders")
    rep.add_argument("--out", type=_out_file, help="HTML file to write (default: report.html)")
    cmp = sub.add_parser("compare", help="plot test accuracy against image shift for MNIST runs (CNN vs MLP)")
    cmp.add_argument("runs", nargs="+", type=_text(), metavar="RUN_DIR", help="finished mnist-mlp/cnn/rnn run folders")
    cmp.add_argument("--out", type=_out_file, help="PNG to write (default: shift-compare.png beside the first run)")
    play = sub.add_parser("play", help="evaluate the agent of a 'dlf run cartpole' folder and write a GIF")
    play.add_argument("run_dir", metavar="RUN_DIR", help="folder of a cartpole run")
    play.add_argument("--episodes", type=_number(int, 1, 10_000), default=10,
                      help="greedy evaluation episodes (default: 10)")
    play.add_argument("--out", type=_out_file, help="GIF to write (default: RUN_DIR/play.gif)")
    smp = sub.add_parser("sample", help="draw new samples from a char-rnn, pixelcnn, vae or gan run")
    smp.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished run")
    smp.add_argument("--n", type=_number(int, 1, 1024), default=64, help="images to draw, 1 to 1024 (default: 64)")
    smp.add_argument("--seed", type=SEED, default=0, help="the same seed gives the same samples (default: 0)")
    smp.add_argument("--out", type=_out_file, help="file to write (default: samples.png or sample.txt in RUN_DIR)")
    smp.add_argument("--prime", type=_text(10_000), help="char-rnn: text the sample starts with (default: a newline)")
    smp.add_argument("--length", type=_number(int, 1, 1_000_000),
                     help="char-rnn: characters to generate, up to 1,000,000 (default: 500)")
    smp.add_argument("--temperature", type=_number(float, 0, 100, low_open=True),
                     help="char-rnn: below 1 is safer, above 1 wilder (default: 0.8)")
    smp.add_argument("--top-k", type=_number(int, 0, 100_000),
                     help="char-rnn: sample among the k likeliest characters (default: 0, all)")
    ins = sub.add_parser("inspect", help="colour a char-rnn hidden unit's activation over validation text (HTML)")
    ins.add_argument("run_dir", metavar="RUN_DIR", help="folder of a char-rnn run")
    ins.add_argument("--unit", type=_number(int, 0, 1_000_000), required=True,
                     help="index of the hidden unit (last layer)")
    ins.add_argument("--chars", type=_number(int, 1, 1_000_000), default=3000,
                     help="validation characters to show (default: 3000)")
    ins.add_argument("--out", type=_out_file, help="HTML file to write (default: RUN_DIR/unit-N.html)")
    nb = sub.add_parser("neighbors", help="the nearest words to WORD in a word2vec run")
    nb.add_argument("run_dir", metavar="RUN_DIR", help="folder of a word2vec run")
    nb.add_argument("word", type=_text(200))
    nb.add_argument("-k", type=_number(int, 1, 10_000), default=10, help="how many neighbours (default: 10)")
    an = sub.add_parser("analogy", help="A is to B as C is to ?, by 3CosAdd, in a word2vec run")
    an.add_argument("run_dir", metavar="RUN_DIR", help="folder of a word2vec run")
    an.add_argument("words", nargs=3, type=_text(200), metavar="WORD", help="A B C, e.g. man king woman")
    an.add_argument("-k", type=_number(int, 1, 10_000), default=5, help="how many answers (default: 5)")
    data = sub.add_parser("data", help="data sets: dlf data list, dlf data download NAME")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)
    dl = data_sub.add_parser("download", help="download data sets and check their checksums")
    dl.add_argument("datasets", nargs="+", metavar="NAME", help="data sets (see 'dlf data list'), or all")
    dl.add_argument("--data-dir", help="where to put them (default: $DLF_DATA_DIR, then ~/.cache/dlf)")
    ls = data_sub.add_parser("list", help="every data set: present or not, where, size, source, licence")
    ls.add_argument("--data-dir", help="data folder to look in first (then $DLF_DATA_DIR, then ~/.cache/dlf)")
    ex = sub.add_parser("explore", help="the interactive explorer in the browser (needs: pip install 'dlf[explore]')")
    ex.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    ex.add_argument("--port", type=int, default=7860,  # its range is checked by dlf.explore.server
                    help="port to listen on (default: 7860)")
    ex.add_argument("--open", action="store_true", help="open the explorer in the default web browser")
    ex.add_argument("--runs", type=_text(), default="runs", metavar="DIR",
                    help="folder of trained runs to explore (default: runs)")
    return p


def cmd_list() -> int:
    width = max(len(e.name) for e in registry.EXPERIMENTS)
    for exp in registry.EXPERIMENTS:
        print(f"{exp.name:<{width}}  {exp.concept}")
    return 0


def cmd_run(name: str | None, rest: list[str]) -> int:
    from dlf.runner import execute

    if not name or name in ("-h", "--help"):
        print("usage: dlf run NAME [--out DIR] [--seed N] [options]   ('dlf run NAME --help' lists NAME's options)\n")
        cmd_list()
        return 0 if name else 2
    from dlf.options import parse_run

    exp = registry.get(name)
    cfg, opts = parse_run(name, exp.load().Config, rest, exp.concept)
    if opts.resume is not None:
        execute(name, resume=opts.resume, data_dir=opts.data_dir, quiet=opts.quiet)
    else:
        execute(name, cfg, opts.out, data_dir=opts.data_dir, quiet=opts.quiet)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = _top_parser().parse_args(argv)
        if ns.command == "list":
            return cmd_list()
        if ns.command == "run":
            return cmd_run(ns.name, ns.rest)
        if ns.command == "tour":
            if ns.part == 2:
                from dlf.tour2 import tour2

                tour2(out=ns.out, seed=ns.seed)
                return 0
            from dlf.tour import tour

            tour(out=ns.out, seed=ns.seed)
            return 0
        if ns.command == "report":
            from dlf.report import report

            print(f"report written: {report(ns.runs, ns.out)}")
            return 0
        if ns.command == "compare":
            from dlf.experiments._mnist import compare_shift

            print(compare_shift(ns.runs, ns.out))
            return 0
        if ns.command == "play":
            from dlf.rl.play import play

            play(ns.run_dir, episodes=ns.episodes, out=ns.out)
            return 0
        if ns.command == "sample":
            from dlf.sampling import SampleOptions, sample

            print(sample(ns.run_dir, SampleOptions(n=ns.n, seed=ns.seed, out=ns.out, prime=ns.prime,
                                                   length=ns.length, temperature=ns.temperature, top_k=ns.top_k)))
            return 0
        if ns.command == "inspect":
            from dlf.experiments._char_units import inspect_unit

            print(inspect_unit(ns.run_dir, ns.unit, chars=ns.chars, out=ns.out))
            return 0
        if ns.command in ("neighbors", "analogy"):
            from dlf.experiments import word2vec

            if ns.k < 1:
                raise DlfError(f"-k must be >= 1 (got {ns.k})")
            if ns.command == "neighbors":
                print(word2vec.neighbors(ns.run_dir, ns.word, ns.k))
            else:
                print(word2vec.analogy(ns.run_dir, *ns.words, k=ns.k))
            return 0
        if ns.command == "data":
            from dlf.data import download as dl

            if ns.data_command == "list":
                print(dl.listing(ns.data_dir))
                return 0
            if ns.data_command != "download":
                raise DlfError("say what to do: 'dlf data list' or 'dlf data download NAME' (NAME: a data set, or all)")
            names = [dl.get(name).name for name in ns.datasets if name != "all"]  # unknown names fail before any work
            if "all" in ns.datasets:
                dl.download_all(ns.data_dir)
            for name in names:
                dl.download(name, ns.data_dir)
            return 0
        if ns.command == "explore":
            from dlf.explore.server import serve

            serve(ns.host, ns.port, open_browser=ns.open, runs=ns.runs)
            return 0
        _top_parser().print_help()
        return 0 if not argv else 2
    except DlfError as exc:
        print(f"dlf: error: {shorten(exc, 1000)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dlf: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (dlf list | head): stop quietly, as cat and ls do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
