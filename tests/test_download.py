"""`dlf data download mnist`: against a loopback HTTP server that serves good, corrupt, dropped and missing files."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
from pathlib import Path

import pytest

from dlf.cli import main
from dlf.data.catalogue import CATALOGUE, MNIST, DatasetSpec
from dlf.data.download import download, uncompressed_sha256
from dlf.data.mnist import MNIST_FILES, load_mnist
from dlf.errors import DataError
from tests.data_server import serve
from tests.fixtures import make_mnist_fixture

IMAGES = MNIST_FILES.train_images + ".gz"


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory) -> dict[str, bytes]:
    """The fixture's four .gz files by name."""
    root = make_mnist_fixture(tmp_path_factory.mktemp("mirror"), n_train=40, n_test=20)
    return {p.name: p.read_bytes() for p in sorted((root / "mnist").iterdir())}


@pytest.fixture
def server(fixture_files):
    with serve(fixture_files) as (url, handler):
        yield url, handler


def paths(handler) -> list[str]:
    return [p for p, _ in handler.requests]


def _spec(fixture_files: dict[str, bytes], *mirrors: str) -> DatasetSpec:
    """MNIST's spec with the fixture's checksums, the given mirrors and no waiting between retries."""
    sha = {name[:-3]: hashlib.sha256(gzip.decompress(data)).hexdigest() for name, data in fixture_files.items()}
    return dataclasses.replace(MNIST, files=sha, mirrors=mirrors, mirrors_env=None, timeout=5, retry_wait=0)


def _assert_complete(folder: Path, spec: DatasetSpec) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.gz" for n in spec.files)  # no temp files
    umask = os.umask(0o022)
    os.umask(umask)
    for name in spec.files:
        assert uncompressed_sha256(folder / f"{name}.gz", compressed=True) == spec.files[name]
        assert (folder / f"{name}.gz").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_good_mirror_downloads_every_file(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/good/")
    folder = download("mnist", tmp_path, spec=spec, quiet=True)
    assert folder == tmp_path / "mnist"
    _assert_complete(folder, spec)
    assert len(handler.requests) == 4
    assert load_mnist("train", tmp_path)[0].shape == (40, 28, 28)


def test_corrupt_then_good_mirror_ends_with_the_good_file(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/corrupt/", f"{url}/good/")
    _assert_complete(download("mnist", tmp_path, spec=spec, quiet=True), spec)
    assert paths(handler).count(f"/corrupt/{IMAGES}") == 1  # a checksum mismatch is not retried on that mirror


def test_dropped_connection_resumes_with_a_range_request(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/flaky/")
    _assert_complete(download("mnist", tmp_path, spec=spec, quiet=True), spec)
    half = len(fixture_files[IMAGES]) // 2
    assert [r for p, r in handler.requests if p == f"/flaky/{IMAGES}"] == [None, f"bytes={half}-"]


def test_dropped_connection_restarts_cleanly_when_the_server_ignores_range(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/flakyfull/")
    _assert_complete(download("mnist", tmp_path, spec=spec, quiet=True), spec)  # not half + whole file appended
    assert len([p for p in paths(handler) if p == f"/flakyfull/{IMAGES}"]) == 2


def test_always_dropping_mirror_is_retried_then_the_next_one_is_used(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/drop/", f"{url}/good/")
    _assert_complete(download("mnist", tmp_path, spec=spec, quiet=True), spec)
    assert paths(handler).count(f"/drop/{IMAGES}") == spec.tries_per_mirror


def test_stalled_mirror_times_out_and_the_next_one_is_used(tmp_path, server, fixture_files):
    url, handler = server
    spec = dataclasses.replace(_spec(fixture_files, f"{url}/stall/", f"{url}/good/"), timeout=0.1, tries_per_mirror=1)
    _assert_complete(download("mnist", tmp_path, spec=spec, quiet=True), spec)
    assert paths(handler).count(f"/stall/{IMAGES}") == 1


def test_404_moves_on_to_the_next_mirror(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/missing/", f"{url}/good/")
    _assert_complete(download("mnist", tmp_path, spec=spec, quiet=True), spec)
    assert paths(handler).count(f"/missing/{IMAGES}") == 1  # a 404 is not retried


def test_file_mirror(tmp_path, fixture_files):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in fixture_files.items():
        (mirror / name).write_bytes(data)
    spec = _spec(fixture_files, mirror.as_uri() + "/")
    _assert_complete(download("mnist", tmp_path / "data", spec=spec, quiet=True), spec)


def test_all_mirrors_failing_leaves_nothing_behind(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/corrupt/", f"{url}/drop/", f"{url}/missing/")
    with pytest.raises(DataError) as info:
        download("mnist", tmp_path, spec=spec, quiet=True)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"could not download {MNIST_FILES.train_images}.gz" in msg
    assert all(m in msg for m in spec.mirrors) and "HTTP 404" in msg  # the mirrors tried, the last reason
    assert list((tmp_path / "mnist").iterdir()) == []  # no temp file, no unchecked file


def test_valid_files_are_not_fetched_again_and_bad_ones_are_replaced(tmp_path, server, fixture_files):
    url, handler = server
    spec = _spec(fixture_files, f"{url}/good/")
    folder = tmp_path / "mnist"
    folder.mkdir()
    good, bad = f"{MNIST_FILES.test_images}.gz", f"{MNIST_FILES.test_labels}.gz"
    (folder / good).write_bytes(fixture_files[good])
    (folder / bad).write_bytes(fixture_files[bad][:-10])  # truncated: must be fetched again
    raw = MNIST_FILES.train_labels  # an uncompressed valid copy counts too
    (folder / raw).write_bytes(gzip.decompress(fixture_files[raw + ".gz"]))
    download("mnist", tmp_path, spec=spec, quiet=True)
    assert sorted(paths(handler)) == sorted([f"/good/{IMAGES}", f"/good/{bad}"])
    assert (folder / bad).read_bytes() == fixture_files[bad]
    handler.requests.clear()
    download("mnist", tmp_path, spec=spec, quiet=True)  # everything present now: no request at all
    assert handler.requests == []


def test_mirror_env_variable_replaces_the_list(monkeypatch):
    monkeypatch.setenv("DLF_MNIST_MIRRORS", " http://a.invalid/x/ ,, file:///srv/mnist/ ")
    assert MNIST.resolved_mirrors() == ("http://a.invalid/x/", "file:///srv/mnist/")
    monkeypatch.setenv("DLF_MNIST_MIRRORS", "")
    assert MNIST.resolved_mirrors() == MNIST.mirrors


def test_cli_download_failure_is_one_stderr_line(tmp_path, server, monkeypatch, capsys):
    url, _ = server
    monkeypatch.setenv("DLF_MNIST_MIRRORS", f"{url}/missing/,{url}/corrupt/")
    assert main(["data", "download", "mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dlf: error: could not download")
    assert f"{url}/missing/" in err and f"{url}/corrupt/" in err and "sha256" in err
    assert list((tmp_path / "mnist").iterdir()) == []


def test_cli_download_success(tmp_path, server, fixture_files, monkeypatch, capsys):
    url, _ = server
    monkeypatch.setenv("DLF_MNIST_MIRRORS", f"{url}/good/")
    spec = dataclasses.replace(_spec(fixture_files, "http://127.0.0.1:9/unused/"), mirrors_env="DLF_MNIST_MIRRORS")
    monkeypatch.setitem(CATALOGUE, "mnist", spec)  # the fixture's checksums; the mirrors come from the env
    assert main(["data", "download", "mnist", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist is ready in" in out
    _assert_complete(tmp_path / "mnist", spec)
