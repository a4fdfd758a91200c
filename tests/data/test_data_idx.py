"""Tests for tensorgrad.data.idx: reading and writing IDX files, and their errors."""

import gzip
import struct

import numpy as np
import pytest

from tensorgrad.data import IDXFormatError, read_idx, write_idx

ALL_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def idx_bytes(type_code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    """Build an IDX file by hand, independently of write_idx."""
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


# --- reading -----------------------------------------------------------------------------

def test_read_handmade_uint8_file(tmp_path):
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(idx_bytes(0x08, (2, 2, 3), bytes(range(12))))
    array = read_idx(path)
    assert array.dtype == np.uint8
    assert array.shape == (2, 2, 3)
    np.testing.assert_array_equal(array.ravel(), np.arange(12))


def test_read_handmade_big_endian_int16_and_float32(tmp_path):
    int_path = tmp_path / "int16-idx1"
    int_path.write_bytes(idx_bytes(0x0B, (3,), struct.pack(">3h", 1, 258, -2)))
    ints = read_idx(int_path)
    assert ints.dtype == np.int16
    assert ints.tolist() == [1, 258, -2]

    float_path = tmp_path / "float32-idx1"
    float_path.write_bytes(idx_bytes(0x0D, (2,), struct.pack(">2f", 1.5, -0.25)))
    assert read_idx(float_path).tolist() == [1.5, -0.25]


def test_read_returns_writable_native_byte_order_array(tmp_path):
    path = tmp_path / "int32-idx1"
    path.write_bytes(idx_bytes(0x0C, (2,), struct.pack(">2i", 7, -9)))
    array = read_idx(path)
    assert array.flags.writeable
    assert array.dtype.isnative
    array[0] = 1  # would raise on a read-only buffer view
    assert array.tolist() == [1, -9]


def test_gzip_is_detected_by_magic_bytes_not_suffix(tmp_path):
    content = idx_bytes(0x08, (4,), bytes([9, 8, 7, 6]))
    compressed_without_suffix = tmp_path / "labels-idx1-ubyte"
    compressed_without_suffix.write_bytes(gzip.compress(content))
    raw_with_gz_suffix = tmp_path / "other-idx1-ubyte.gz"
    raw_with_gz_suffix.write_bytes(content)
    assert read_idx(compressed_without_suffix).tolist() == [9, 8, 7, 6]
    assert read_idx(raw_with_gz_suffix).tolist() == [9, 8, 7, 6]


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent-idx1-ubyte")


# --- writing -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_round_trips(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    else:
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    path = write_idx(tmp_path / f"data-idx3{suffix}", array)
    loaded = read_idx(path)
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_write_produces_exact_big_endian_bytes(tmp_path):
    path = write_idx(tmp_path / "x-idx1", np.array([1, 258], dtype=np.int16))
    assert path.read_bytes() == b"\x00\x00\x0b\x01" + b"\x00\x00\x00\x02" + b"\x00\x01\x01\x02"


def test_write_compress_flag_overrides_suffix(tmp_path):
    path = write_idx(tmp_path / "plain-name", np.zeros(3, np.uint8), compress=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert read_idx(path).tolist() == [0, 0, 0]


def test_write_gz_is_deterministic(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second  # no file name or timestamp in the gzip header


@pytest.mark.parametrize("bad", [np.arange(3, dtype=np.int64), np.array([True, False])])
def test_write_rejects_dtypes_without_idx_code(tmp_path, bad):
    with pytest.raises(TypeError, match=rf"write_idx: dtype {bad.dtype} has no IDX code"):
        write_idx(tmp_path / "bad", bad)


def test_write_rejects_zero_dimensional_array(tmp_path):
    with pytest.raises(ValueError, match=r"write_idx: IDX needs 1 to 255 dimensions"):
        write_idx(tmp_path / "scalar", np.uint8(3))


# --- corrupt files -----------------------------------------------------------------------

def test_truncated_payload_message_names_file_and_sizes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(0x08, (60000, 28, 28), bytes(1000))))
    with pytest.raises(IDXFormatError) as caught:
        read_idx(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert ("train-images-idx3-ubyte.gz: truncated: expected 47040000 bytes of uint8 data "
            "after the header, found 1000") in message


def test_trailing_data_is_rejected(tmp_path):
    path = tmp_path / "labels-idx1"
    path.write_bytes(idx_bytes(0x0B, (2,), bytes(6)))  # 2 int16 = 4 bytes, 6 given
    with pytest.raises(IDXFormatError, match=r"trailing data: expected 4 bytes of int16 data"
                                             r" after the header, found 6"):
        read_idx(path)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", r"truncated: the 4-byte magic number is missing \(file has 0 bytes\)"),
        (b"\x00\x00\x08", r"truncated: the 4-byte magic number is missing"),
        (b"\x01\x00\x08\x01" + bytes(8), r"not an IDX file: .*two zero bytes, found 01 00 08 01"),
        (b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"x", r"unknown element type code 0x0A"),
        (b"\x00\x00\x08\x00", r"declares 0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), r"declares 3 dimensions \(16 header bytes\)"
                                                    r" but the file has only 8 bytes"),
    ],
    ids=["empty", "short-magic", "nonzero-magic", "unknown-type", "zero-dims", "short-dims"],
)
def test_invalid_headers_raise_idx_format_error(tmp_path, content, expected):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError, match=expected) as caught:
        read_idx(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert isinstance(caught.value, ValueError)


def test_cut_off_gzip_stream_raises_idx_format_error(tmp_path):
    compressed = gzip.compress(idx_bytes(0x08, (1000,), bytes(range(250)) * 4))
    path = tmp_path / "cut-idx1-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IDXFormatError, match=r"cut-idx1-ubyte.gz: corrupt gzip stream"):
        read_idx(path)


def test_damaged_gzip_data_raises_idx_format_error(tmp_path):
    compressed = bytearray(gzip.compress(np.random.default_rng(1).bytes(5000)))
    compressed[-8] ^= 0xFF  # break the CRC-32 in the gzip trailer
    path = tmp_path / "crc-idx1-ubyte.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(IDXFormatError, match=r"crc-idx1-ubyte.gz: corrupt gzip stream"):
        read_idx(path)
