"""`dlf data download NAME`: fetch a data set into the data root, checked and written atomically.

For each file of the data set:

1. skip it when a copy already in `<root>/<name>/` (`.gz` or not) has the right checksum;
2. otherwise try the mirrors in order: stream the file into a temporary file in the target folder, check the
   byte count against Content-Length, check the sha256 of the *uncompressed* bytes (so LeCun's original `.gz`
   and any re-compressed copy both pass), then `os.replace` it into place. A dropped connection, a timeout or a
   5xx answer is retried once on the same mirror; an HTTP error or a checksum mismatch moves to the next mirror.
3. When every mirror fails, raise a one-line `DataError` naming the file, the mirrors tried and the last reason.
   No temporary or unchecked file is left behind.

Only the standard library speaks HTTP (urllib). `DLF_MNIST_MIRRORS` (comma-separated base URLs; http, https or
file) replaces the MNIST mirror list, e.g. `DLF_MNIST_MIRRORS=file:///srv/data/mnist/` for an offline copy.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from dlf import __version__
from dlf.data.mnist import MNIST_FILES, MNIST_SHA256
from dlf.data.paths import find_data_dir, find_file
from dlf.errors import DataError

CHUNK = 1 << 16  # bytes per read


@dataclass(frozen=True)
class DatasetSpec:
    """What to download and from where; tests point `mirrors` at a local server."""

    name: str  # the CLI name and the folder under the data root
    files: tuple[str, ...]  # file names without `suffix`
    sha256: Mapping[str, str]  # file name -> sha256 of its uncompressed bytes
    mirrors: tuple[str, ...]  # base URLs, tried in order; the file URL is base + name + suffix
    suffix: str = ".gz"  # the remote files are gzipped and stored as such
    mirrors_env: str | None = None  # environment variable that, when set, replaces `mirrors`
    timeout: float = 30.0  # seconds without data before a connection is given up
    tries_per_mirror: int = 2  # attempts on one mirror for transient errors (dropped connection, timeout, 5xx)
    retry_wait: float = 1.0  # seconds before the second attempt (times the attempt number after that)

    def resolved_mirrors(self) -> tuple[str, ...]:
        """`mirrors`, or the comma-separated list in `$mirrors_env` when that is set and not empty."""
        env = os.environ.get(self.mirrors_env, "") if self.mirrors_env else ""
        given = tuple(m.strip() for m in env.split(",") if m.strip())
        return given or self.mirrors


MNIST = DatasetSpec(
    name="mnist",
    files=MNIST_FILES.names,
    sha256=MNIST_SHA256,
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    mirrors_env="DLF_MNIST_MIRRORS",
)
DATASETS = {MNIST.name: MNIST}


class FetchError(Exception):
    """One failed attempt; `transient` ones are worth retrying on the same mirror."""

    def __init__(self, reason: str, transient: bool):
        super().__init__(reason)
        self.transient = transient


def uncompressed_sha256(path: Path, compressed: bool) -> str:
    """sha256 of the file's bytes, after gunzip when `compressed`; raises OSError/EOFError/zlib.error if damaged."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_valid(path: Path, expected: str) -> bool:
    """Whether `path` (gunzipped when it ends in `.gz`) has the sha256 `expected`."""
    try:
        return uncompressed_sha256(path, path.suffix == ".gz") == expected
    except (OSError, EOFError, zlib.error):
        return False


def _stream(url: str, out: BinaryIO, timeout: float, desc: str, quiet: bool) -> None:
    """Copy `url` into `out`, with a progress bar; any failure raises FetchError."""
    if url.split(":", 1)[0].lower() not in ("http", "https", "file"):
        raise FetchError("mirror URLs must start with http://, https:// or file://", transient=False)
    request = urllib.request.Request(url, headers={"User-Agent": f"dlf/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            got = 0
            with tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=True if quiet else None,
                leave=False,
            ) as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason}", transient=exc.code >= 500) from None
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot connect ({exc.reason})", transient=True) from None
    except (http.client.HTTPException, OSError) as exc:  # IncompleteRead, reset, timeout, ...
        raise FetchError(f"connection failed ({type(exc).__name__}: {exc})", transient=True) from None
    if total is not None and got != total:
        raise FetchError(f"connection dropped after {got} of {total} bytes", transient=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fetch_verified(url: str, target: Path, expected: str, spec: DatasetSpec, quiet: bool) -> None:
    """Download `url` to `target` through a temporary file beside it; only a file with sha256 `expected` lands."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise DataError(
            f"cannot write to {target.parent} ({exc.strerror}); pass --data-dir DIR with a writable DIR"
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, spec.timeout, target.name, quiet)
            out.flush()
            os.fsync(out.fileno())
        try:
            digest = uncompressed_sha256(tmp, spec.suffix == ".gz")
        except (OSError, EOFError, zlib.error) as exc:
            raise FetchError(f"not a valid gzip file ({exc})", transient=False) from None
        if digest != expected:
            raise FetchError(
                f"sha256 of the uncompressed bytes is {digest[:12]}..., expected {expected[:12]}...", transient=False
            )
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600); give it a normal file's mode
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful os.replace


def download_file(spec: DatasetSpec, name: str, folder: Path, mirrors: tuple[str, ...], quiet: bool) -> str:
    """Fetch `name` into `folder` from the first mirror that gives good bytes; return the URL used."""
    filename = name + spec.suffix
    last = "no mirror given"
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        for attempt in range(1, max(spec.tries_per_mirror, 1) + 1):
            try:
                fetch_verified(url, folder / filename, spec.sha256[name], spec, quiet)
                return url
            except FetchError as exc:
                last = f"{url}: {exc}"
                if not quiet:
                    print(f"  {filename}: {last}")
                if not exc.transient or attempt >= spec.tries_per_mirror:
                    break
                time.sleep(spec.retry_wait * attempt)
    raise DataError(
        f"could not download {filename}: tried {', '.join(mirrors) or 'no mirrors'}; last error: {last}; "
        f"check the connection, or copy the files into {folder} by hand"
    )


def download(
    dataset: str,
    data_dir: str | os.PathLike | None = None,
    *,
    spec: DatasetSpec | None = None,
    quiet: bool = False,
) -> Path:
    """Make sure every file of `dataset` is in `<data root>/<dataset>/` with the right checksum; return that folder.

    The data root is `data_dir`, else `$DLF_DATA_DIR`, else `~/.cache/dlf` (see `dlf.data.paths`).
    """
    if spec is None:
        if dataset not in DATASETS:
            raise DataError(f"unknown data set {dataset!r}; choose one of: {', '.join(DATASETS)}")
        spec = DATASETS[dataset]
    folder = find_data_dir(data_dir) / spec.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {folder} ({exc.strerror}); pass --data-dir DIR with a writable DIR") from None
    mirrors = spec.resolved_mirrors()
    for name in spec.files:
        present = find_file(folder, name)
        if present is not None and is_valid(present, spec.sha256[name]):
            if not quiet:
                print(f"{present.name}: already present, sha256 ok")
            continue
        url = download_file(spec, name, folder, mirrors, quiet)
        if not quiet:
            print(f"{name + spec.suffix}: downloaded from {url}, sha256 ok")
    if not quiet:
        print(f"{spec.name} is ready in {folder}")
    return folder
