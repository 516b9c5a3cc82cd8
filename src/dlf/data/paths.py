"""Where data sets live on disk.

A data root holds one folder per data set: `<root>/mnist/train-images-idx3-ubyte.gz`, and so on. The root is,
in this order of preference:

1. the `--data-dir` argument (`data_dir=` in Python),
2. the `DLF_DATA_DIR` environment variable,
3. `~/.cache/dlf`.

`find_data_dir` answers "where should new files go" (the first of these); `locate` answers "where are the files"
(the first of these that holds all of them) and raises a one-line `DataError` naming the fix when none does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dlf.errors import DataError

ENV_VAR = "DLF_DATA_DIR"


def default_root() -> Path:
    """`~/.cache/dlf`, the root used when neither `--data-dir` nor `$DLF_DATA_DIR` is given."""
    return Path.home() / ".cache" / "dlf"


def candidate_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The data roots to search, best first, without duplicates: argument, `$DLF_DATA_DIR`, `~/.cache/dlf`."""
    given = [data_dir, os.environ.get(ENV_VAR) or None, default_root()]
    roots: list[Path] = []
    for root in given:
        if root is None:
            continue
        path = Path(root).expanduser()
        if path not in roots:
            roots.append(path)
    return roots


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root new files go to: `data_dir` if given, else `$DLF_DATA_DIR`, else `~/.cache/dlf`."""
    return candidate_roots(data_dir)[0]


def find_file(folder: Path, name: str) -> Path | None:
    """`folder/name.gz` or `folder/name`, whichever exists (the `.gz` first, as `dlf data download` writes it)."""
    for path in (folder / f"{name}.gz", folder / name):
        if path.is_file():
            return path
    return None


def locate(
    dataset_subdir: str,
    filenames: Sequence[str],
    data_dir: str | os.PathLike | None = None,
) -> Path:
    """The folder `<root>/<dataset_subdir>` of the first candidate root that holds every file in `filenames`.

    A file counts as present as `name` or `name.gz`. Raises `DataError` (one line: the missing files, the
    folders searched and the fix) when no candidate holds them all.
    """
    best: tuple[Path, list[str]] | None = None  # the folder that lacks the fewest files, and what it lacks
    searched: list[Path] = []
    for root in candidate_roots(data_dir):
        folder = root / dataset_subdir
        lacking = [name for name in filenames if find_file(folder, name) is None]
        if not lacking:
            return folder
        searched.append(folder)
        if best is None or len(lacking) < len(best[1]):
            best = (folder, lacking)
    assert best is not None  # candidate_roots is never empty
    others = ", ".join(str(f) for f in searched if f != best[0])
    raise DataError(
        f"{dataset_subdir} data not found: missing {', '.join(best[1])} in {best[0]}"
        f"{f' (also searched {others})' if others else ''}; {fix_for(dataset_subdir, best[1])}"
    )


def fix_for(dataset_subdir: str, lacking: Sequence[str]) -> str:
    """How to get the files `lacking` from `<root>/<dataset_subdir>/`: the exact `dlf data download` command."""
    from dlf.data.catalogue import providers  # here: the catalogue imports dlf.data.mnist, which imports us

    names = [spec.name for spec in providers(dataset_subdir, lacking)]
    if names:
        return (f"run 'dlf data download {' '.join(names)}' (or pass --data-dir DIR with the files in "
                f"DIR/{dataset_subdir}/)")
    return f"pass --data-dir DIR (or set ${ENV_VAR}) with the files in DIR/{dataset_subdir}/"
