"""The IDX reader and the checkpoint loader given random and truncated bytes raise only their
documented errors (never an IndexError, struct.error, MemoryError or a silent wrong result)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorgrad.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tensorgrad.data import IDXFormatError, read_idx, write_idx

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(data=st.binary(max_size=300))
def test_idx_reader_on_random_bytes(tmp_path, data):
    path = tmp_path / "random-idx"
    path.write_bytes(data)
    try:
        array = read_idx(path)
    except IDXFormatError as err:
        assert str(path) in str(err)
    else:  # random bytes that happen to form a valid file must describe themselves exactly
        assert isinstance(array, np.ndarray) and array.ndim == data[3]


@SETTINGS
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), compressed=st.booleans())
def test_idx_reader_on_truncated_or_corrupted_files(tmp_path, cut, flip, compressed):
    path = tmp_path / ("t-idx3-ubyte.gz" if compressed else "t-idx3-ubyte")
    write_idx(path, np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    good = path.read_bytes()
    damaged = bytearray(good[:cut % len(good)]) if cut % 3 else bytearray(good)
    if damaged and not cut % 3:
        damaged[flip % len(damaged)] ^= 0xFF
    path.write_bytes(bytes(damaged))
    try:
        read_idx(path)
    except IDXFormatError as err:
        assert path.name in str(err)


@SETTINGS
@given(data=st.binary(max_size=400))
def test_checkpoint_loader_on_random_bytes(tmp_path, data):
    path = tmp_path / "random.npz"
    path.write_bytes(data)
    try:
        load_checkpoint(path)
    except CheckpointError as err:
        assert str(path) in str(err)


@SETTINGS
@given(cut=st.integers(0, 100_000), flip=st.integers(0, 100_000))
def test_checkpoint_loader_on_truncated_or_corrupted_files(tmp_path, cut, flip):
    path = tmp_path / "ck.npz"
    save_checkpoint(path, {"model.w": np.arange(50, dtype=np.float32)}, {"epoch": 3})
    good = path.read_bytes()
    damaged = bytearray(good[:cut % len(good)])
    if flip % 2 and damaged:
        damaged[flip % len(damaged)] ^= 0x55
    path.write_bytes(bytes(damaged))
    try:
        arrays, meta = load_checkpoint(path)
    except CheckpointError as err:
        assert str(path) in str(err)
    else:  # a flip in a byte nobody checks may still load (zip CRCs guard the data): then it is right
        np.testing.assert_array_equal(arrays["model.w"], np.arange(50, dtype=np.float32))
        assert meta["epoch"] == 3
