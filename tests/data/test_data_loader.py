"""Tests for tensorgrad.data.loader: DataLoader, train_val_split, one_hot, normalize."""

import numpy as np
import pytest

from tensorgrad.data import DataLoader, normalize, one_hot, train_val_split


def indexed_data(count: int) -> tuple[np.ndarray, np.ndarray]:
    """x[i] is filled with i and y[i] == i, so misaligned batches are easy to spot."""
    y = np.arange(count)
    x = np.repeat(y[:, None], 3, axis=1).astype(np.float32)
    return x, y


def epoch_order(loader: DataLoader) -> list[int]:
    return [int(label) for _, yb in loader for label in yb]


# --- DataLoader --------------------------------------------------------------------------

def test_batches_in_order_without_shuffle():
    x, y = indexed_data(10)
    loader = DataLoader(x, y, batch_size=4)
    batches = list(loader)
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    assert len(loader) == 3
    assert epoch_order(loader) == list(range(10))
    np.testing.assert_array_equal(batches[1][0], x[4:8])


def test_drop_last_skips_the_short_batch():
    x, y = indexed_data(10)
    loader = DataLoader(x, y, batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(yb) for _, yb in loader] == [4, 4]


def test_len_when_batches_divide_evenly():
    x, y = indexed_data(12)
    assert len(DataLoader(x, y, batch_size=4)) == 3
    assert len(DataLoader(x, y, batch_size=4, drop_last=True)) == 3
    assert len(DataLoader(x, y, batch_size=20)) == 1
    assert len(DataLoader(x, y, batch_size=20, drop_last=True)) == 0


def test_shuffle_visits_every_example_once_and_keeps_x_y_aligned():
    x, y = indexed_data(50)
    loader = DataLoader(x, y, batch_size=7, shuffle=True, seed=3)
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb[:, 0], yb)  # x row i still goes with label i
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(50))
    assert seen != list(range(50))


def test_each_epoch_is_reshuffled_and_runs_are_reproducible():
    x, y = indexed_data(40)
    first_run = DataLoader(x, y, batch_size=8, shuffle=True, seed=123)
    second_run = DataLoader(x, y, batch_size=8, shuffle=True, seed=123)
    epochs_first = [epoch_order(first_run) for _ in range(3)]
    epochs_second = [epoch_order(second_run) for _ in range(3)]
    assert epochs_first == epochs_second  # same seed, same sequence of epochs
    assert epochs_first[0] != epochs_first[1] != epochs_first[2]  # a new order each epoch
    other_seed = DataLoader(x, y, batch_size=8, shuffle=True, seed=124)
    assert epoch_order(other_seed) != epochs_first[0]


def test_loader_accepts_lists_and_empty_data():
    loader = DataLoader([[1], [2], [3]], [0, 1, 0], batch_size=2)
    xb, yb = next(iter(loader))
    assert isinstance(xb, np.ndarray) and xb.tolist() == [[1], [2]]
    assert yb.tolist() == [0, 1]
    empty = DataLoader(np.zeros((0, 2)), np.zeros(0), batch_size=2)
    assert len(empty) == 0 and list(empty) == []


@pytest.mark.parametrize("bad_size", [0, -3, 2.5, True, "8"])
def test_invalid_batch_size_raises_naming_dataloader_and_value(bad_size):
    x, y = indexed_data(5)
    with pytest.raises(ValueError) as caught:
        DataLoader(x, y, batch_size=bad_size)
    assert "DataLoader" in str(caught.value)
    assert repr(bad_size) in str(caught.value)


def test_length_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"DataLoader: .*x of shape \(5, 3\) and y of shape \(4,\)"):
        DataLoader(np.zeros((5, 3)), np.zeros(4), batch_size=2)


def test_repr_shows_size_and_batches():
    x, y = indexed_data(10)
    text = repr(DataLoader(x, y, batch_size=4))
    assert "10 examples" in text and "batch_size=4" in text and "3 batches" in text


# --- train_val_split ---------------------------------------------------------------------

def test_split_without_shuffle_is_first_n_then_last_m():
    x, y = indexed_data(10)
    x_train, y_train, x_val, y_val = train_val_split(x, y, val_size=3, shuffle=False)
    assert y_train.tolist() == list(range(7))
    assert y_val.tolist() == [7, 8, 9]
    np.testing.assert_array_equal(x_val, x[7:])


def test_split_with_shuffle_is_a_reproducible_partition():
    x, y = indexed_data(100)
    x_train, y_train, x_val, y_val = train_val_split(x, y, val_size=0.2, seed=5)
    assert len(y_train) == 80 and len(y_val) == 20
    assert sorted(y_train.tolist() + y_val.tolist()) == list(range(100))
    np.testing.assert_array_equal(x_train[:, 0], y_train)
    assert y_val.tolist() != list(range(80, 100))
    again = train_val_split(x, y, val_size=0.2, seed=5)
    np.testing.assert_array_equal(again[3], y_val)


def test_float_val_size_rounds_to_nearest_count():
    x, y = indexed_data(10)
    assert len(train_val_split(x, y, val_size=0.25, shuffle=False)[3]) == 2  # 2.5 -> 2 (even)
    assert len(train_val_split(x, y, val_size=0.26, shuffle=False)[3]) == 3


def test_val_size_zero_and_all_are_allowed_as_ints():
    x, y = indexed_data(4)
    assert len(train_val_split(x, y, val_size=0, shuffle=False)[3]) == 0
    assert len(train_val_split(x, y, val_size=4, shuffle=False)[1]) == 0


@pytest.mark.parametrize("bad, pattern", [
    (11, r"val_size=11 is out of range for 10 examples"),
    (-1, r"val_size=-1 is out of range"),
    (1.0, r"must be in \(0, 1\), got 1.0"),
    (0.0, r"must be in \(0, 1\), got 0.0"),
    (True, r"val_size must be an int or a float, got True"),
    ("3", r"val_size must be an int or a float"),
])
def test_invalid_val_size_raises(bad, pattern):
    x, y = indexed_data(10)
    with pytest.raises(ValueError, match=r"train_val_split: (.* )?" + pattern):
        train_val_split(x, y, val_size=bad)


def test_split_length_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"x of shape \(3,\) and y of shape \(2,\)"):
        train_val_split(np.zeros(3), np.zeros(2), val_size=1)


# --- one_hot -----------------------------------------------------------------------------

def test_one_hot_values_and_default_dtype():
    encoded = one_hot(np.array([0, 2, 1, 2]), 3)
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])


def test_one_hot_keeps_label_shape_and_accepts_dtype():
    labels = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    encoded = one_hot(labels, 2, dtype=np.int64)
    assert encoded.shape == (2, 2, 2) and encoded.dtype == np.int64
    np.testing.assert_array_equal(encoded.argmax(axis=-1), labels)


def test_one_hot_out_of_range_names_the_labels():
    with pytest.raises(ValueError) as caught:
        one_hot(np.array([1, 10, 3, -1]), 10)
    message = str(caught.value)
    assert message.startswith("one_hot: labels must be in [0, 10)")
    assert "found 2 out of range" in message
    assert "min -1, max 10" in message
    assert "first: 10 at index 1" in message


def test_one_hot_rejects_float_labels_and_bad_class_count():
    with pytest.raises(TypeError, match=r"one_hot: labels must be integers, got dtype float64"):
        one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match=r"one_hot: num_classes must be a positive integer, got 0"):
        one_hot(np.array([0]), 0)


# --- normalize ---------------------------------------------------------------------------

def test_normalize_scales_uint8_to_unit_float32():
    images = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)
    scaled = normalize(images)
    assert scaled.dtype == np.float32 and scaled.shape == (1, 2, 2)
    np.testing.assert_allclose(scaled, [[[0.0, 0.2], [1.0, 0.4]]], rtol=1e-6)
    assert images[0, 1, 0] == 255  # input untouched


def test_normalize_flatten_gives_784_features():
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    flat = normalize(images, flatten=True)
    assert flat.shape == (5, 784)
    np.testing.assert_allclose(flat[3], images[3].ravel() / 255, rtol=1e-6)
    assert 0.0 <= flat.min() and flat.max() <= 1.0


def test_normalize_rejects_float_images():
    with pytest.raises(TypeError, match=r"normalize: .*got dtype float32; are the images already"):
        normalize(np.zeros((2, 28, 28), dtype=np.float32))
