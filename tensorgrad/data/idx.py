"""Read and write IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the
array's elements in C order, big-endian::

    byte 0, 1   always 0
    byte 2      element type code (see ``IDX_DTYPES``)
    byte 3      number of dimensions
    4 * ndim    the dimensions, big-endian uint32
    ...         prod(dims) * itemsize bytes of data

Files are often gzip-compressed (``*.gz``); ``read_idx`` recognises gzip by its magic
bytes, so a compressed file with the wrong suffix still loads.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_DTYPES", "IDXFormatError", "read_idx", "write_idx"]

# IDX element type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**32 - 1  # each dimension is stored as an unsigned 32-bit integer


class IDXFormatError(ValueError):
    """An IDX file is truncated, corrupt, or not an IDX file at all.

    The message starts with the file's path and says what is wrong.
    """


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    Args:
        path: the file. Gzip compression is detected from the file's first bytes,
            not from its suffix.

    Returns:
        A new, writable array in native byte order with the file's shape and element
        type (uint8, int8, int16, int32, float32 or float64).

    Raises:
        IDXFormatError: the header is invalid, the data is shorter or longer than the
            header says, or the gzip stream is broken. The message names the file.
        FileNotFoundError: the file does not exist.

    Example:
        >>> images = read_idx("train-images-idx3-ubyte.gz")  # doctest: +SKIP
    """
    path = Path(path)
    content = path.read_bytes()
    if content[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as exc:
            # BadGzipFile is an OSError; a cut-off stream raises EOFError.
            raise IDXFormatError(f"{path}: corrupt gzip stream: {exc}") from exc
    return _parse_idx(content, source=str(path))


def _parse_idx(content: bytes, source: str) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; ``source`` names it in errors."""
    if len(content) < 4:
        raise IDXFormatError(
            f"{source}: truncated: the 4-byte magic number is missing "
            f"(file has {len(content)} bytes)"
        )
    zero1, zero2, type_code, ndim = content[:4]
    if zero1 != 0 or zero2 != 0:
        raise IDXFormatError(
            f"{source}: not an IDX file: the magic number must start with two zero "
            f"bytes, found {content[:4].hex(' ')}"
        )
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X} {dt.name}" for code, dt in IDX_DTYPES.items())
        raise IDXFormatError(
            f"{source}: unknown element type code 0x{type_code:02X} (known: {known})"
        )
    if ndim == 0:
        raise IDXFormatError(f"{source}: the header declares 0 dimensions")

    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IDXFormatError(
            f"{source}: truncated: the header declares {ndim} dimensions "
            f"({header_size} header bytes) but the file has only {len(content)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", content[4:header_size])
    dtype = IDX_DTYPES[type_code]

    expected_size = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found_size = len(content) - header_size
    if found_size != expected_size:
        problem = "truncated" if found_size < expected_size else "trailing data"
        shape = " x ".join(str(d) for d in dims)
        raise IDXFormatError(
            f"{source}: {problem}: expected {expected_size} bytes of {dtype.name} data "
            f"after the header, found {found_size} (the header declares shape {shape})"
        )

    data = np.frombuffer(content, dtype=dtype, count=expected_size // dtype.itemsize,
                         offset=header_size)
    # astype copies: the result is writable and in the machine's byte order.
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *,
              compress: bool | None = None) -> Path:
    """Write an array as an IDX file, gzip-compressed if the name ends in ``.gz``.

    Args:
        path: where to write.
        array: an array of uint8, int8, int16, int32, float32 or float64 with at
            least one dimension.
        compress: force gzip on (True) or off (False); None decides from the suffix.
            The gzip header carries no name or time, so equal arrays give equal bytes.

    Returns:
        The path written, as a ``Path``.

    Raises:
        TypeError: the array's element type has no IDX code.
        ValueError: the array is 0-dimensional, has more than 255 dimensions, or a
            dimension too large for IDX.

    Example:
        >>> write_idx("labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))  # doctest: +SKIP
    """
    path = Path(path)
    array = np.asarray(array)
    type_code = next((code for code, dt in IDX_DTYPES.items()
                      if dt.newbyteorder("=") == array.dtype.newbyteorder("=")), None)
    if type_code is None:
        supported = ", ".join(dt.name for dt in IDX_DTYPES.values())
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX code "
                        f"(supported: {supported})")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, "
                         f"got an array of shape {array.shape}")
    if max(array.shape) > _MAX_DIM:
        raise ValueError(f"write_idx: dimension too large for IDX in shape {array.shape}")

    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[type_code]).tobytes()

    if compress is None:
        compress = path.suffix == ".gz"
    with open(path, "wb") as raw_file:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw_file, mtime=0) as gz_file:
                gz_file.write(header)
                gz_file.write(payload)
        else:
            raw_file.write(header)
            raw_file.write(payload)
    return path
