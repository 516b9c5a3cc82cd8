"""Reading a user's text file: UTF-8 only, and a one-line error for a missing, empty or binary file."""

from __future__ import annotations

import os
from pathlib import Path

from dlf.errors import DataError


def read_text(path: str | os.PathLike, option: str = "--text") -> str:
    """The whole file at `path` as a str; `option` names the CLI option that chose it, for the error message."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{option} {path}: no such file; give the path of a UTF-8 text file")
    data = path.read_bytes()
    check_text_bytes(data[:1 << 20], path, option)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{option} {path}: not UTF-8 text (bad byte at offset {exc.start}); "
                        f"convert it with 'iconv -t UTF-8' or give another file") from None
    if not text.strip():
        raise DataError(f"{option} {path}: the file holds no text; give a file with some")
    return text


def check_text_bytes(head: bytes, path: Path, option: str) -> None:
    """Reject an empty file, or one that looks binary (NUL bytes), from its first bytes."""
    if not head:
        raise DataError(f"{option} {path}: the file is empty; give a file with some text")
    if b"\x00" in head:
        raise DataError(f"{option} {path}: looks like a binary file (it holds NUL bytes); give a UTF-8 text file")
