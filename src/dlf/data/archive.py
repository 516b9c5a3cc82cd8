"""Reading downloaded archives (zip, tar.gz) without trusting their member names.

An archive from the network may hold a member named `../../.bashrc`, `/etc/passwd`, a symbolic link pointing
out of the target folder, or a device file. Before anything is read, every member is checked; one bad member
refuses the whole archive with a one-line `DataError` (a damaged or tampered archive is not worth salvaging).
What is extracted goes into a fresh temporary folder first and is moved into place only once it is checked.

On Python >= 3.12, tarfile's own `filter="data"` is applied as well (a second line of defence); 3.10 and 3.11
rely on the checks here, which cover the same cases for what dlf reads (regular files only).

    with open_archive(path, "zip") as arc:      # every member checked
        arc.names()                              # member paths, directories left out
        arc.read("text8")                        # bytes of one member
        arc.extract({"text8": "text8"}, tmp)     # selected members to files in tmp
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from dlf.errors import DataError


def check_member_name(archive: Path, name: str) -> None:
    """Refuse an absolute path, a Windows drive or a `..` component in a member name."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or (len(name) > 1 and name[1] == ":") or ".." in posix.parts:
        raise DataError(f"{archive.name}: refused: member {name!r} would land outside the target folder; "
                        f"the archive is damaged or tampered with, delete it and download it again")


class Archive:
    """A checked zip or tar archive: only regular files and folders, every name inside the target folder."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = path, kind
        try:
            if kind == "zip":
                self._zip = zipfile.ZipFile(path)
                entries = [(info.filename, _zip_kind(info)) for info in self._zip.infolist()]
            elif kind == "tar.gz":
                self._tar = tarfile.open(path, "r:gz")
                self._members = {m.name: m for m in self._tar.getmembers()}
                entries = [(m.name, "file" if m.isfile() else "dir" if m.isdir() else "other")
                           for m in self._members.values()]
            else:
                raise ValueError(f"unknown archive kind {kind!r}")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{path.name}: not a valid {kind} archive ({exc}); download it again") from None
        for name, what in entries:
            check_member_name(path, name)
            if what == "other":
                raise DataError(f"{path.name}: refused: member {name!r} is a link or a device, not a regular "
                                f"file; the archive is damaged or tampered with, download it again")
        self._files = [name for name, what in entries if what == "file"]

    def names(self) -> list[str]:
        """Paths of the regular files, in archive order."""
        return list(self._files)

    def read(self, name: str) -> bytes:
        """The bytes of one regular-file member; DataError if damaged."""
        try:
            if self.kind == "zip":
                return self._zip.read(name)
            f = self._tar.extractfile(self._members[name])
            assert f is not None  # a regular file, checked in __init__
            return f.read()
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, KeyError) as exc:
            raise DataError(f"{self.path.name}: member {name} cannot be read ({exc}); download it again") from None

    def iter_files(self) -> Iterator[tuple[str, bytes]]:
        """(name, bytes) of every regular file in archive order: one pass, the way a .tar.gz reads fastest."""
        if self.kind == "zip":
            for name in self._files:
                yield name, self.read(name)
            return
        for member in self._members.values():
            if member.isfile():
                yield member.name, self.read(member.name)

    def extract(self, members: Mapping[str, str], dest: Path) -> None:
        """Write each archive member `members[k]`'s key to `dest / members[k]`; DataError naming a missing one."""
        missing = [name for name in members if name not in self._files]
        if missing:
            shown = ", ".join(self._files[:5]) + (", ..." if len(self._files) > 5 else "")
            raise DataError(f"{self.path.name}: unexpected layout: no member {missing[0]} "
                            f"(it holds: {shown or 'nothing'}); the mirror serves another file, try another one")
        for name, target in members.items():
            check_member_name(self.path, target)
            out = dest / target
            out.parent.mkdir(parents=True, exist_ok=True)
            if self.kind == "zip":
                with self._zip.open(name) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            else:
                member = self._members[name]
                if hasattr(tarfile, "data_filter"):  # Python >= 3.12 (and patched 3.8+): the standard checks too
                    try:
                        tarfile.data_filter(member, str(dest))
                    except tarfile.FilterError as exc:
                        raise DataError(f"{self.path.name}: refused: {exc}; download it again") from None
                src = self._tar.extractfile(member)
                assert src is not None
                with src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)

    def close(self) -> None:
        (self._zip if self.kind == "zip" else self._tar).close()


def _zip_kind(info: zipfile.ZipInfo) -> str:
    """"file", "dir" or "other" (a symbolic link or a device, from the Unix mode bits a zip may carry)."""
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip was made without Unix modes
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "other"
    return "dir" if info.is_dir() else "file"


@contextmanager
def open_archive(path: Path, kind: str) -> Iterator[Archive]:
    """A checked `Archive`, closed afterwards."""
    archive = Archive(path, kind)
    try:
        yield archive
    finally:
        archive.close()
