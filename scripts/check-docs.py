"""Check that the README and docs still say what the code does.

    .venv/bin/python scripts/check-docs.py                 # parse every command, check every table's provenance
    .venv/bin/python scripts/check-docs.py --run fast      # ... and rerun the fast figure checks (seconds each)
    .venv/bin/python scripts/check-docs.py --run all       # ... and the slower ones too (minutes; needs the data)

Three checks, over README.md and docs/*.md:

1. Commands. Every `dlf ...` and `python benchmarks/NAME.py ...` command in a bash block or in inline code in a
   table is parsed by the parser the real command uses (dlf's own CLI, `dlf.options.parse_run` for `dlf run NAME`,
   which also validates the config; a benchmark's own argparse parser, stopped right after parsing), without
   running anything, in a scratch folder where the relative paths the command names exist (a parse must not fail
   because `runs/cnn` has not been made yet). A renamed option or experiment, or a value the config refuses, is
   reported with the file and line.
2. Provenance. Every table of figures (a table with a decimal, a percentage, a thousands separator or a time in
   two cells or more) must have, in the table or the text between it and the previous heading or table, or in the
   paragraph right after it: the command (inline code or a bash block naming `dlf` or `benchmarks/`), the machine
   ("2-core", "CPU", "GPU", "H200" ...) and the date (YYYY-MM-DD). A table of numbers that are not measurements (a
   catalogue's download sizes, a page's limits) says so with `<!-- check-docs: not measured -->` right above it.
3. Figures. A comment in the markdown ties a command to the figures below it:

       <!-- check-docs fast: dlf run cartpole --seeds 1 --threads 1 => seed0_solve_env_steps -->

   With --run, the command runs (into a temporary --out, --quiet), and each named key of its summary.json,
   formatted as `KEY:FORMAT` says (Python's format spec, e.g. `test_accuracy:.2%`; ints get thousands separators by
   default), must appear in the lines after the comment, up to the next heading. `fast` checks take seconds;
   `slow` ones run only with `--run all`.

Exit status 0 when every check passes, 1 otherwise, with one line per problem.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURE = re.compile(r"\d\.\d|\d%|\d,\d{3}\b|\b\d+(\.\d+)? ?(s|ms|MB|MiB|GB|GiB|min|minutes)\b")
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
MACHINE = re.compile(r"2-core|\bCPUs?\b|\bGPUs?\b|H200|machine", re.I)
COMMAND = re.compile(r"`([A-Z_]+=\S+ )*(\.venv/bin/)?(dlf|python|torchrun)\b[^`]*`|benchmarks/\w+\.py")
MARKER = re.compile(r"<!--\s*check-docs\s+(fast|slow):\s*(.+?)\s*=>\s*(.+?)\s*-->")
NOT_MEASURED = "<!-- check-docs: not measured -->"  # before a table of numbers that are not measurements (sizes)
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
SHELLS = ("bash", "sh", "shell", "console")


@dataclass
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path}:{self.line}: " \
               f"{self.message}"


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# 1. commands -----------------------------------------------------------------------------------------------------
def commands(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, command text) of each shell line in a bash block and each inline `dlf ...` / `python ...`."""
    found, fence, pending = [], None, ""
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = stripped[3:].strip() or "text" if fence is None else None
            continue
        if fence is not None:
            if fence in SHELLS and stripped and not stripped.startswith("#"):
                pending += stripped.removeprefix("$ ")
                if pending.endswith("\\"):
                    pending = pending[:-1] + " "
                    continue
                found.append((n, pending))
            pending = ""
            continue
        if line.startswith("|"):  # the commands of a table of figures (in prose, `dlf sample` is a name)
            for m in re.finditer(r"`((?:\.venv/bin/)?(?:dlf|python) [^`]+)`", line):
                if len(m.group(1).split()) >= 3:  # `dlf compare` alone names a subcommand
                    found.append((n, m.group(1)))
    return found


def words_of(command: str) -> list[str] | None:
    """The argv of a dlf or benchmark invocation, without env assignments or launchers; None if neither."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        words = words[1:]
    if "-m" in words and words[words.index("-m") + 1:words.index("-m") + 2] == ["dlf"]:  # torchrun/python -m dlf
        return ["dlf", *words[words.index("-m") + 2:]]
    if not words:
        return None
    if words[0].endswith("dlf"):
        return ["dlf", *words[1:]]
    if Path(words[0]).name.startswith("python") and len(words) > 1 and words[1].startswith("benchmarks/"):
        return words[1:]
    return None


def is_template(words: list[str]) -> bool:
    """A usage line (`dlf run NAME [--out DIR] ...`), not a command to parse."""
    return any("[" in w or w in ("...", "NAME", "COMMAND") for w in words)


def parse_dlf(args: list[str]) -> str | None:
    """None if `dlf ARGS` parses (and, for dlf run, validates); else the one-line error."""
    from dlf import registry
    from dlf.cli import _top_parser
    from dlf.errors import DlfError

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ns = _top_parser().parse_args(args)
            if ns.command == "run":
                if not ns.name or "-h" in ns.rest or "--help" in ns.rest:
                    registry.get(ns.name) if ns.name not in (None, "-h", "--help") else None
                    return None
                from dlf.options import parse_run

                exp = registry.get(ns.name)
                parse_run(ns.name, exp.load().Config, ns.rest, exp.concept)
    except DlfError as exc:
        return str(exc)
    except SystemExit as exc:
        return None if exc.code in (0, None) else f"exit {exc.code}"
    return None


class _Parsed(Exception):
    """Raised right after a script's argparse parser has accepted its arguments."""


def load_script(script: Path):
    """Import a benchmark script as a module (its folder on the path, for benchmarks/_protocol.py)."""
    name = f"_docs_{script.stem}"
    if name not in sys.modules:
        sys.path.insert(0, str(script.parent))
        try:
            spec = importlib.util.spec_from_file_location(name, script)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            sys.path.remove(str(script.parent))
    return sys.modules[name]


def parse_benchmark(args: list[str], root: Path = ROOT) -> str | None:
    """None if `python benchmarks/NAME.py ARGS` parses; else why not. The script's main() runs with
    ArgumentParser.parse_args patched to stop right after a successful parse, so nothing is measured."""
    script = root / args[0]
    if not script.is_file():
        return f"no such script {args[0]}"
    parse, err, argv = argparse.ArgumentParser.parse_args, io.StringIO(), sys.argv

    def parse_then_stop(self, *a, **k):
        parse(self, *a, **k)
        raise _Parsed

    try:
        module = load_script(script)
        argparse.ArgumentParser.parse_args = parse_then_stop
        sys.argv = [str(script), *args[1:]]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            module.main()
        return f"{args[0]}'s main() returned without parsing its arguments"
    except _Parsed:
        return None
    except SystemExit as exc:
        return None if exc.code in (0, None) else (err.getvalue().strip().splitlines() or ["?"])[-1]
    except Exception as exc:  # a script that cannot even be imported is a problem to report, not a crash
        return f"{args[0]}: {type(exc).__name__}: {exc}"
    finally:
        argparse.ArgumentParser.parse_args, sys.argv = parse, argv


@contextlib.contextmanager
def scratch_folder(words: list[str]):
    """cwd = a temporary folder in which every relative folder the command names exists (a file's parent)."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        for w in words:
            if "/" in w and not w.startswith(("/", "-", "..", "~")) and "=" not in w:
                path = Path(tmp, w)
                (path.parent if path.suffix else path).mkdir(parents=True, exist_ok=True)
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


def check_commands(path: Path, lines: list[str]) -> list[Problem]:
    problems = []
    for n, text in commands(lines):
        words = words_of(text)
        if not words or is_template(words):
            continue
        with scratch_folder(words):
            error = parse_dlf(words[1:]) if words[0] == "dlf" else parse_benchmark(words)
        if error:
            problems.append(Problem(path, n, f"`{text.strip()}` does not parse: {error}"))
    return problems


# 2. provenance ---------------------------------------------------------------------------------------------------
def tables(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) 0-based line indexes of every markdown table outside code blocks."""
    out, fence, i = [], False, 0
    while i < len(lines):
        if lines[i].strip().startswith("```"):
            fence = not fence
        elif not fence and lines[i].startswith("|") and i + 1 < len(lines) and SEPARATOR.match(lines[i + 1].strip()):
            j = i + 1
            while j + 1 < len(lines) and lines[j + 1].startswith("|"):
                j += 1
            out.append((i, j))
            i = j
        i += 1
    return out


def check_provenance(path: Path, lines: list[str]) -> list[Problem]:
    problems, spans = [], tables(lines)
    for k, (first, last) in enumerate(spans):
        body = lines[first + 2:last + 1]
        cells = [c for row in body for c in row.split("|") if "![" not in c]
        if sum(bool(FIGURE.search(c)) for c in cells) < 2 or \
                any(NOT_MEASURED in x for x in lines[max(0, first - 3):first]):
            continue
        start = spans[k - 1][1] + 1 if k else 0
        for i in range(first - 1, start - 1, -1):
            if lines[i].startswith("#"):
                start = i
                break
        end = last + 1  # the paragraph right after the table
        while end < len(lines) and lines[end].strip() == "":
            end += 1
        while end < len(lines) and lines[end].strip() and not lines[end].startswith(("#", "|")):
            end += 1
        context = "\n".join(lines[start:end])
        missing = [what for what, ok in (("the command", COMMAND.search(context) or "```bash" in context),
                                         ("the machine", MACHINE.search(context)),
                                         ("the date (YYYY-MM-DD)", DATE.search(context))) if not ok]
        if missing:
            problems.append(Problem(path, first + 1, f"table of figures without {', '.join(missing)} beside it"))
    return problems


# 3. figures ------------------------------------------------------------------------------------------------------
def markers(lines: list[str]) -> list[tuple[int, str, str, list[str]]]:
    """(line index, speed, command, [KEY[:FORMAT], ...]) of each check-docs comment."""
    return [(i, m.group(1), m.group(2), m.group(3).split()) for i, line in enumerate(lines)
            if (m := MARKER.search(line))]


def formatted(value, fmt: str | None) -> str:
    if fmt:
        return format(value, fmt)
    return f"{value:,}" if isinstance(value, int) else str(value)


def run_marker(command: str, env: dict | None = None) -> dict:
    """Run `dlf run ...` into a temporary folder; its summary.json."""
    words = words_of(command)
    if not words or words[0] != "dlf" or words[1:2] != ["run"]:
        raise ValueError(f"a check-docs command must be `dlf run ...` (got {command!r})")
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "dlf", *words[1:], "--out", f"{tmp}/run", "--quiet"]
        proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})})
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
        return json.loads(Path(tmp, "run", "summary.json").read_text(encoding="utf-8"))


def check_figures(path: Path, lines: list[str], speeds: set[str]) -> list[Problem]:
    problems = []
    for i, speed, command, keys in markers(lines):
        if speed not in speeds:
            continue
        scope = []
        for line in lines[i + 1:]:
            if line.startswith("#"):
                break
            scope.append(line)
        text = "\n".join(scope)
        try:
            summary = run_marker(command)
        except (RuntimeError, ValueError, OSError) as exc:
            problems.append(Problem(path, i + 1, f"`{command}` failed: {exc}"))
            continue
        for spec in keys:
            key, _, fmt = spec.partition(":")
            if key not in summary:
                problems.append(Problem(path, i + 1, f"`{command}` has no summary key {key!r}"))
            elif (shown := formatted(summary[key], fmt or None)) not in text:
                problems.append(Problem(path, i + 1, f"`{command}` gives {key} = {shown}, not what the doc says"))
    return problems


def check(files: list[Path], run: str = "none") -> list[Problem]:
    """Every problem in `files`; run: none, fast or all (which figure checks to rerun)."""
    speeds = {"none": set(), "fast": {"fast"}, "all": {"fast", "slow"}}[run]
    problems = []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        problems += check_commands(path, lines) + check_provenance(path, lines)
        if speeds:
            problems += check_figures(path, lines, speeds)
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path, help="markdown files (default: README.md and docs/*.md)")
    p.add_argument("--run", choices=["none", "fast", "all"], default="none",
                   help="rerun the figure checks: none (default), fast (seconds each) or all (minutes, needs data)")
    a = p.parse_args(argv)
    problems = check(a.files or doc_files(), a.run)
    for problem in problems:
        print(problem)
    print(f"check-docs: {len(problems)} problem(s)" if problems else "check-docs: all good", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
