"""IDX reading/writing, data-root lookup, MNIST loading and its errors; the real files when DLF_DATA_DIR has them."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dlf.data.download import uncompressed_sha256
from dlf.data.idx import encode_idx, read_idx, write_idx
from dlf.data.mnist import MNIST_FILES, MNIST_SHA256, check_mnist, clear_cache, load_mnist
from dlf.data.paths import find_data_dir, find_file, locate
from dlf.errors import ConfigError, DataError
from tests.fixtures import make_mnist_fixture

IMAGES = MNIST_FILES.train_images
LABELS = MNIST_FILES.train_labels


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def roots(tmp_path, monkeypatch) -> dict[str, Path]:
    """Three empty data roots: an argument, $DLF_DATA_DIR and $HOME/.cache/dlf."""
    paths = {"arg": tmp_path / "arg", "env": tmp_path / "env", "home": tmp_path / "home" / ".cache" / "dlf"}
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DLF_DATA_DIR", str(paths["env"]))
    return paths


# --- IDX ---


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8),
        np.array([-(2**31), -1, 0, 7, 2**31 - 1], dtype=np.int32),
        np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        np.array([[1.5, -2.25]], dtype=np.float64),
        np.array([-300, 300], dtype=np.int16),
    ],
    ids=["uint8-3d", "int32-1d", "float32-2d", "float64", "int16"],
)
def test_idx_round_trip(tmp_path, array, gz):
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), array, gzip=gz)
    raw = path.read_bytes()
    assert raw[:2] == (b"\x1f\x8b" if gz else b"\x00\x00")  # gzip magic, or IDX magic
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back[...] = 0  # writable, not a view of read-only bytes


def test_idx_header_is_the_standard_layout():
    data = encode_idx(np.zeros((2, 28, 28), dtype=np.uint8))
    assert data[:16] == bytes.fromhex("00000803000000020000001c0000001c")  # magic 2051, dims big-endian
    assert len(data) == 16 + 2 * 28 * 28
    assert encode_idx(np.array([3, 4], dtype=np.uint8)) == bytes.fromhex("00000801000000020304")
    assert encode_idx(np.array([1], dtype=np.int32))[:4] == bytes.fromhex("00000c01")
    with pytest.raises(ValueError, match="bool"):
        encode_idx(np.array([True]))


# --- where the data is ---


def test_find_data_dir_order(roots, monkeypatch):
    assert find_data_dir(roots["arg"]) == roots["arg"]
    assert find_data_dir() == roots["env"]
    monkeypatch.delenv("DLF_DATA_DIR")
    assert find_data_dir() == roots["home"]


def test_lookup_order_argument_then_env_then_home(roots, monkeypatch):
    for name, n in (("arg", 30), ("env", 20), ("home", 10)):
        make_mnist_fixture(roots[name], n_train=n, n_test=10)
    assert len(load_mnist("train", roots["arg"])[0]) == 30  # the argument beats the environment
    assert len(load_mnist("train")[0]) == 20  # the environment beats home
    monkeypatch.delenv("DLF_DATA_DIR")
    assert len(load_mnist("train")[0]) == 10  # home last
    assert locate("mnist", MNIST_FILES.names, roots["arg"] / "empty") == roots["home"] / "mnist"  # falls through


def test_missing_files_name_the_fix(roots):
    with pytest.raises(DataError) as info:
        load_mnist("train", roots["arg"])
    msg = str(info.value)
    assert "\n" not in msg
    assert "dlf data download mnist" in msg and "--data-dir" in msg
    for folder in roots.values():
        assert str(folder / "mnist") in msg
    for name in MNIST_FILES.names:
        assert name in msg


def test_partly_missing_names_only_the_missing_file(roots, monkeypatch):
    monkeypatch.delenv("DLF_DATA_DIR")
    make_mnist_fixture(roots["arg"], n_train=10, n_test=10)
    (roots["arg"] / "mnist" / f"{LABELS}.gz").unlink()
    with pytest.raises(DataError, match=f"missing {LABELS} ") as info:
        load_mnist("test", roots["arg"])
    assert IMAGES not in str(info.value)


def test_gz_is_preferred_when_both_exist(tmp_path):
    make_mnist_fixture(tmp_path, n_train=20, n_test=10, gz=True)
    make_mnist_fixture(tmp_path, n_train=10, n_test=10, gz=False)
    assert find_file(tmp_path / "mnist", IMAGES) == tmp_path / "mnist" / f"{IMAGES}.gz"
    assert len(load_mnist("train", tmp_path)[0]) == 20


# --- loading ---


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_shapes_dtypes_and_cache(tmp_path, gz):
    make_mnist_fixture(tmp_path, n_train=50, n_test=20, gz=gz)
    x, y = load_mnist("train", tmp_path)
    assert x.shape == (50, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (50,) and y.dtype == torch.int64
    assert np.bincount(y.numpy(), minlength=10).tolist() == [5] * 10
    assert load_mnist("test", tmp_path)[0].shape == (20, 28, 28)
    again = load_mnist("train", tmp_path)
    assert again[0] is x and again[1] is y  # cached
    make_mnist_fixture(tmp_path, n_train=40, n_test=20, gz=gz)  # files replaced on disk: the cache notices
    assert len(load_mnist("train", tmp_path)[0]) == 40


def test_bad_split_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="'train' or 'test'"):
        load_mnist("valid", tmp_path)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) - 100])
    elif how == "trailing":
        path.write_bytes(data + b"\x00")
    elif how == "magic":
        path.write_bytes(b"\x01\x02" + data[2:])
    elif how == "type":
        path.write_bytes(data[:2] + b"\x07" + data[3:])
    elif how == "gz-truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "gz-garbage":
        path.write_bytes(data[:20] + bytes(255 - b for b in data[20:]))
    elif how == "not-gz":
        path.write_bytes(gzip.decompress(data))  # raw IDX bytes under a .gz name


@pytest.mark.parametrize(
    "how, gz, match",
    [
        ("truncated", False, "truncated"),
        ("trailing", False, "trailing bytes"),
        ("magic", False, "magic"),
        ("type", False, "type code 0x07"),
        ("gz-truncated", True, "bad gzip"),
        ("gz-garbage", True, "bad gzip"),
        ("not-gz", True, "bad gzip"),
    ],
)
def test_damaged_files_raise_data_error(tmp_path, how, gz, match):
    make_mnist_fixture(tmp_path, n_train=20, n_test=10, gz=gz)
    path = tmp_path / "mnist" / (IMAGES + (".gz" if gz else ""))
    _damage(path, how)
    with pytest.raises(DataError, match=match) as info:
        load_mnist("train", tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "download it again" in msg


def test_labels_out_of_range_and_count_mismatch(tmp_path):
    make_mnist_fixture(tmp_path, n_train=20, n_test=10, gz=False)
    folder = tmp_path / "mnist"
    write_idx(folder / LABELS, np.full(20, 10, dtype=np.uint8), gzip=False)
    with pytest.raises(DataError, match=r"labels must be 0\.\.9"):
        load_mnist("train", tmp_path)
    write_idx(folder / LABELS, np.zeros(19, dtype=np.uint8), gzip=False)
    with pytest.raises(DataError, match="20 images but labels of shape"):
        load_mnist("train", tmp_path)
    with pytest.raises(DataError, match=r"uint8 \(N, 28, 28\)"):
        check_mnist(np.zeros((2, 27, 28), dtype=np.uint8), np.zeros(2, dtype=np.uint8))


# --- the fixture itself ---


def test_fixture_is_deterministic_balanced_and_learnable(tmp_path):
    a = make_mnist_fixture(tmp_path / "a", seed=0)
    b = make_mnist_fixture(tmp_path / "b", seed=0)
    c = make_mnist_fixture(tmp_path / "c", seed=1)
    for name in MNIST_FILES.names:
        assert (a / "mnist" / f"{name}.gz").read_bytes() == (b / "mnist" / f"{name}.gz").read_bytes()
    x, y = load_mnist("train", a)
    assert not torch.equal(x, load_mnist("train", c)[0])
    assert np.bincount(y.numpy()).tolist() == [20] * 10
    xt, yt = load_mnist("test", a)
    torch.manual_seed(0)
    model = torch.nn.Linear(784, 10)  # softmax regression
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    inputs = x.reshape(len(x), -1).float() / 255  # (200, 784)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a problem this small only waits on other threads when the cores are busy
    try:
        for _ in range(100):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(inputs), y).backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    accuracy = (model(xt.reshape(len(xt), -1).float() / 255).argmax(1) == yt).float().mean().item()
    assert accuracy >= 0.9  # chance is 0.1


# --- the real MNIST (CI points DLF_DATA_DIR at ../shared/data) ---


def _full_mnist_dir() -> Path | None:
    root = os.environ.get("DLF_DATA_DIR")
    if not root:
        return None
    folder = Path(root) / "mnist"
    return folder if all(find_file(folder, name) for name in MNIST_FILES.names) else None


TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.full_data
@pytest.mark.skipif(_full_mnist_dir() is None, reason="set DLF_DATA_DIR to a folder holding mnist/")
def test_full_mnist_matches_the_published_files():
    folder = _full_mnist_dir()
    for split, n, counts in (("train", 60000, TRAIN_COUNTS), ("test", 10000, TEST_COUNTS)):
        x, y = load_mnist(split)  # found through $DLF_DATA_DIR
        assert x.shape == (n, 28, 28) and x.dtype == torch.uint8 and y.shape == (n,)
        assert np.bincount(y.numpy(), minlength=10).tolist() == counts
        assert int(x.max()) == 255 and int(x.min()) == 0
    for name in MNIST_FILES.names:
        path = find_file(folder, name)
        assert uncompressed_sha256(path, path.suffix == ".gz") == MNIST_SHA256[name]
