"""`dlf data download NAME`: fetch a data set of the catalogue into the data root, checked and written atomically.

For each file of the data set (`dlf.data.catalogue`):

1. skip it when a copy already in `<root>/<folder>/` (`.gz` or not) has the right SHA-256;
2. otherwise try the mirrors in order. The file streams into a `.part` file in the target folder, with a
   progress bar (size, speed). A dropped connection, a timeout or a 5xx answer is retried on the same mirror,
   resuming with an HTTP `Range` request where the server honours it (a clean restart where it answers 200);
   an HTTP error, a checksum mismatch or an archive of the wrong layout moves on to the next mirror.
3. The bytes are checked (SHA-256 of the download, or of its uncompressed bytes, or of each extracted file),
   an archive is unpacked safely into a temporary folder (`dlf.data.archive`) and converted where needed
   (`dlf.data.convert`), and only checked files are moved into place with `os.replace`.
4. When every mirror fails: a one-line `DataError` naming the file, the mirrors tried, the last reason and the
   fix. No `.part` file, temporary folder or unchecked file is left behind.

Only the standard library speaks HTTP (urllib): it serves the few requests needed, and the loopback tests
drive it exactly as the network does. `DLF_<NAME>_MIRRORS` replaces a data set's mirror list (see the catalogue).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tqdm import tqdm

from dlf import __version__
from dlf.data.archive import open_archive
from dlf.data.catalogue import CATALOGUE, MNIST, DatasetSpec, get
from dlf.data.convert import CONVERTERS
from dlf.data.paths import candidate_roots, find_data_dir, find_file
from dlf.errors import DataError

__all__ = ["CATALOGUE", "MNIST", "DatasetSpec", "download", "download_all", "file_sha256", "is_valid"]
DATASETS = CATALOGUE  # the name the first version used
CHUNK = 1 << 16  # bytes per read


class FetchError(Exception):
    """One failed attempt; `transient` ones are worth retrying on the same mirror."""

    def __init__(self, reason: str, transient: bool):
        super().__init__(reason)
        self.transient = transient


def uncompressed_sha256(path: Path, compressed: bool) -> str:
    """sha256 of the file's bytes, gunzipped when `compressed`; raises OSError/EOFError/zlib.error if damaged."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes, after gunzip when its name ends in `.gz` (how MNIST is checked)."""
    return uncompressed_sha256(path, path.suffix == ".gz")


def is_valid(path: Path, expected: str | None) -> bool:
    """Whether `path` has the sha256 `expected` (gunzipped when `.gz`); None: whether it is a non-empty file."""
    try:
        if expected is None:
            return path.stat().st_size > 0
        return file_sha256(path) == expected
    except (OSError, EOFError, zlib.error):
        return False


# --- one HTTP transfer ------------------------------------------------------------------------------------------
def _transfer(url: str, part: Path, timeout: float, desc: str, quiet: bool) -> None:
    """Append `url` to `part`, asking only for the missing bytes when `part` holds some; FetchError on failure."""
    if url.split(":", 1)[0].lower() not in ("http", "https", "file"):
        raise FetchError("mirror URLs must start with http://, https:// or file://", transient=False)
    have = part.stat().st_size
    headers = {"User-Agent": f"dlf/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            resumed = have > 0 and resp.status == 206 and _range_start(resp) == have
            if not resumed:
                have = 0  # the server sent the whole file (it ignores Range): start again from byte 0
            length = resp.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            got = 0
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                total=None if expected is None else have + expected, initial=have, desc=desc,
                unit="B", unit_scale=True, unit_divisor=1024, disable=True if quiet else None, leave=False,
            ) as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the range asked for is past the end: our partial file is not the server's file
            part.write_bytes(b"")
            raise FetchError("HTTP 416 for a resumed request; starting again", transient=True) from None
        raise FetchError(f"HTTP {exc.code} {exc.reason}", transient=exc.code >= 500) from None
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot connect ({exc.reason})", transient=True) from None
    except (http.client.HTTPException, OSError) as exc:  # IncompleteRead, reset, timeout, ...
        raise FetchError(f"connection failed ({type(exc).__name__}: {exc})", transient=True) from None
    if expected is not None and got != expected:
        raise FetchError(f"connection dropped after {have + got} of {have + expected} bytes", transient=True)


def _range_start(resp) -> int | None:
    """The first byte of a 206 answer's `Content-Range: bytes START-END/TOTAL`, or None."""
    value = resp.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0]) if value.startswith("bytes ") else None
    except (IndexError, ValueError):
        return None


def fetch(url: str, part: Path, spec: DatasetSpec, quiet: bool, desc: str = "") -> None:
    """`url` into `part` (emptied first); transient failures are retried, resuming from what arrived."""
    part.write_bytes(b"")
    tries = max(spec.tries_per_mirror, 1)
    for attempt in range(1, tries + 1):
        try:
            _transfer(url, part, spec.timeout, desc or url.rsplit("/", 1)[-1], quiet)
            return
        except FetchError as exc:
            if not exc.transient or attempt == tries:
                raise
            if not quiet:
                print(f"  {url}: {exc}; trying again ({attempt + 1} of {tries})")
            time.sleep(spec.retry_wait * attempt)


# --- checking and unpacking one downloaded file ------------------------------------------------------------------
def _check(path: Path, expected: str | None, what: str, compressed: bool = False) -> None:
    """FetchError unless `path` (gunzipped when `compressed`) has the sha256 `expected` (None: no check)."""
    if expected is None:
        return
    try:
        digest = uncompressed_sha256(path, compressed)
    except (OSError, EOFError, zlib.error) as exc:
        raise FetchError(f"{what}: not a valid gzip file ({exc})", transient=False) from None
    if digest != expected:
        raise FetchError(f"sha256 of {what} is {digest[:12]}..., expected {expected[:12]}...", transient=False)


def _landed_key(spec: DatasetSpec, remote: str) -> str:
    """The `files` entry a stored-as-is remote file stands for: `name` for `name` or `name.gz`."""
    return remote if remote in spec.files else remote.removesuffix(".gz")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(src: Path, target: Path) -> None:
    os.chmod(src, 0o666 & ~_umask())  # mkstemp makes files private (0600); give it a normal file's mode
    os.replace(src, target)


def land(spec: DatasetSpec, remote: str, part: Path, folder: Path) -> None:
    """Check the downloaded `part` and put what it holds into `folder`; FetchError if it is not the right file."""
    if spec.unpack == "none":
        gz = remote.endswith(".gz")
        _check(part, spec.files[_landed_key(spec, remote)], f"{remote}{' (uncompressed)' * gz}", compressed=gz)
        _publish(part, folder / remote)
        return
    _check(part, spec.remote_sha256.get(remote), remote)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{spec.name}-", suffix=".tmp"))
    try:
        with open_archive(part, spec.unpack) as archive:
            if spec.convert:
                CONVERTERS[spec.convert](archive, tmp)
            else:
                names = archive.names()
                archive.extract({_member(names, key): target for key, target in spec.members.items()}, tmp)
        for name, expected in spec.files.items():
            if not (tmp / name).is_file():
                raise FetchError(f"{remote} gave no {name}", transient=False)
            _check(tmp / name, expected, f"{name} (from {remote})")
        for name in spec.files:
            _publish(tmp / name, folder / name)
    except DataError as exc:  # a damaged archive, a refused member, an unexpected layout: try the next mirror
        raise FetchError(str(exc), transient=False) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _member(names: list[str], key: str) -> str:
    """The archive member `key`, or the only one whose last path parts are `key` (`sentence_polarity/x` for x)."""
    if key in names:
        return key
    matches = [n for n in names if n.endswith("/" + key)]
    return matches[0] if len(matches) == 1 else key  # else: extract() reports the unexpected layout


# --- a data set --------------------------------------------------------------------------------------------------
def download_remote(spec: DatasetSpec, remote: str, folder: Path, mirrors: tuple[str, ...], quiet: bool) -> str:
    """Fetch `remote` from the first mirror that gives good bytes and land it; return the URL used."""
    last = "no mirror given"
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + remote
        fd, part_name = tempfile.mkstemp(dir=folder, prefix=f".{remote}.", suffix=".part")
        os.close(fd)
        part = Path(part_name)
        try:
            fetch(url, part, spec, quiet)
            land(spec, remote, part, folder)
            return url
        except FetchError as exc:
            last = f"{url}: {exc}"
            if not quiet:
                print(f"  {remote}: {last}")
        finally:
            part.unlink(missing_ok=True)  # gone already when it was published as it is
    raise DataError(
        f"could not download {remote}: tried {', '.join(mirrors) or 'no mirrors'}; last error: {last}; "
        f"check the connection{f', set ${spec.mirrors_env} to other mirrors' if spec.mirrors_env else ''}, "
        f"or put the files into {folder} by hand"
    )


def missing_files(spec: DatasetSpec, folder: Path, remote: str | None = None) -> list[str]:
    """The files of `spec` (those `remote` gives, if given) that are absent or fail their checksum in `folder`."""
    names = list(spec.files) if remote is None or spec.unpack != "none" else [_landed_key(spec, remote)]
    return [n for n in names if not ((p := find_file(folder, n)) is not None and is_valid(p, spec.files[n]))]


def download(dataset: str, data_dir: str | os.PathLike | None = None, *, spec: DatasetSpec | None = None,
             quiet: bool = False) -> Path:
    """Make sure every file of `dataset` is in `<data root>/<folder>/` with the right checksum; return that folder.

    The data root is `data_dir`, else `$DLF_DATA_DIR`, else `~/.cache/dlf` (see `dlf.data.paths`).
    """
    spec = spec or get(dataset)
    folder = find_data_dir(data_dir) / spec.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {folder} ({exc.strerror}); pass --data-dir DIR with a writable DIR") from None
    if not os.access(folder, os.W_OK):
        raise DataError(f"cannot write to {folder}; pass --data-dir DIR with a writable DIR")
    mirrors = spec.resolved_mirrors()
    for remote in spec.remote:
        if not missing_files(spec, folder, remote):
            if not quiet:
                print(f"{remote}: already present, sha256 ok")
            continue
        url = download_remote(spec, remote, folder, mirrors, quiet)
        if not quiet:
            print(f"{remote}: downloaded from {url}, sha256 ok")
    if not quiet:
        print(f"{spec.name} is ready in {folder}")
    return folder


def download_all(data_dir: str | os.PathLike | None = None, *, quiet: bool = False) -> list[Path]:
    """Every data set of the catalogue; one failure does not stop the others, and is reported at the end."""
    folders, failed = [], []
    for name in CATALOGUE:
        try:
            folders.append(download(name, data_dir, quiet=quiet))
        except DataError as exc:
            failed.append(name)
            if not quiet:
                print(f"{name}: {exc}")
    if failed:
        raise DataError(f"{len(failed)} of {len(CATALOGUE)} data sets could not be downloaded: {', '.join(failed)} "
                        f"(reasons above); run 'dlf data download NAME' again for each")
    return folders


# --- dlf data list -----------------------------------------------------------------------------------------------
def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "?"


def status(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> tuple[str, Path, int]:
    """("present" | "partial" | "missing", the folder, bytes on disk there) from the files' presence only.

    The folder is the first candidate root's that holds every file (as `dlf.data.paths.locate` searches), else
    the one holding some, else where `dlf data download` would put them. Checksums are not read here (fast).
    """
    partial = None
    for root in candidate_roots(data_dir):
        found = [p for name in spec.files if (p := find_file(root / spec.folder, name)) is not None]
        if len(found) == len(spec.files):
            return "present", root / spec.folder, sum(p.stat().st_size for p in found)
        if found and partial is None:
            partial = (root / spec.folder, sum(p.stat().st_size for p in found))
    if partial:
        return "partial", *partial
    return "missing", find_data_dir(data_dir) / spec.folder, 0


def listing(data_dir: str | os.PathLike | None = None) -> str:
    """The table `dlf data list` prints: every data set, present or not, where, its size, source and licence."""
    lines = [f"{'NAME':<16} {'STATUS':<8} {'SIZE':>9}  FOLDER"]
    for spec in CATALOGUE.values():
        state, folder, on_disk = status(spec, data_dir)
        size = _size(on_disk) if state == "present" else f"{_size(spec.download_bytes)} dl"
        lines.append(f"{spec.name:<16} {state:<8} {size:>9}  {folder}")
        lines.append(f"{'':<16} {spec.description}")
        lines.append(f"{'':<16} source: {spec.source}; licence: {spec.licence}; home: {spec.home}")
    lines.append("Get one with 'dlf data download NAME', every one with 'dlf data download all'; SIZE is on disk, "
                 "or the download ('dl') for those not present.")
    return "\n".join(lines)
