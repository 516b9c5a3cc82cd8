"""The IDX file format that MNIST ships in.

An IDX file is a header followed by one array in row-major (C) order:

    bytes 0-1   0x00 0x00                       magic
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     ndim, the number of dimensions
    then        ndim big-endian int32 sizes, then prod(sizes) items, big-endian

So MNIST's training images start `00 00 08 03 | 60000 | 28 | 28` and its labels `00 00 08 01 | 60000`.
Files may be gzipped (`.gz`). `read_idx` checks the magic, the type code and that the file holds exactly the
number of bytes the header promises; a damaged file raises `DataError` naming the file and the fix.
"""

from __future__ import annotations

import gzip as gz
import os
import zlib
from pathlib import Path

import numpy as np

from dlf.errors import DataError

# type code -> big-endian numpy dtype, and back
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("=").str: code for code, dt in TYPE_CODES.items()}  # keyed by native-order dtype


def _damaged(path: os.PathLike | str, why: str) -> DataError:
    return DataError(
        f"{path} is damaged ({why}); delete it and download it again (for MNIST: 'dlf data download mnist')"
    )


def read_bytes(path: os.PathLike | str) -> bytes:
    """The file's bytes, gunzipped when the name ends in `.gz`; a bad gzip stream raises `DataError`."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gz.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (gz.BadGzipFile, EOFError, zlib.error) as exc:
        raise _damaged(path, f"bad gzip data: {exc}") from None
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror or exc}); check the file and its permissions") from None


def parse_idx(data: bytes, name: os.PathLike | str = "<bytes>") -> np.ndarray:
    """The array stored in the IDX bytes `data`, native byte order and writable; `name` is used in errors."""
    if len(data) < 4:
        raise _damaged(name, f"only {len(data)} bytes, shorter than an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise _damaged(name, f"wrong magic bytes {data[:2].hex()}, expected 0000: not an IDX file")
    code, ndim = data[2], data[3]
    if code not in TYPE_CODES:
        raise _damaged(name, f"unknown IDX type code 0x{code:02x}")
    offset = 4 + 4 * ndim
    if ndim == 0 or len(data) < offset:
        raise _damaged(name, f"header for {ndim} dimensions does not fit in {len(data)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    dtype = TYPE_CODES[code]
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes"
        raise _damaged(name, f"{what}: header {shape} needs {expected} bytes, file has {len(data)}")
    flat = np.frombuffer(data, dtype=dtype, offset=offset)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(path: os.PathLike | str) -> np.ndarray:
    """Read the IDX file `path` (`.gz` or not); damaged files raise `DataError`."""
    return parse_idx(read_bytes(path), path)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes (header and big-endian data) for `array`."""
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str
    if key not in _CODE_OF:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use uint8, int8, int16, int32, float32 or float64")
    code = _CODE_OF[key]
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores arrays of 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=TYPE_CODES[code]).tobytes()


def write_idx(path: os.PathLike | str, array: np.ndarray, gzip: bool = True) -> Path:
    """Write `array` as IDX to `path` (gzipped, deterministically, when `gzip`); return the path written."""
    path = Path(path)
    data = encode_idx(array)
    if gzip:
        data = gz.compress(data, compresslevel=6, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
