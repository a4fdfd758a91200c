"""tensorgrad.training.checkpoint: exact round trips, clear errors on damaged files, atomic writes
(nothing left behind by a failed write; a SIGKILL never leaves a half-written checkpoint)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.training import checkpoint
from tensorgrad.training.checkpoint import (
    CheckpointError, flatten_state, load_checkpoint, save_checkpoint, save_predictions_csv,
    unflatten_state,
)

REPO = Path(__file__).resolve().parents[2]


def _assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    """Same dtype, same shape, same bytes (so also the same NaN payloads and -0.0)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "W1": rng.standard_normal((128, 784)).astype(np.float32),
        "b1": np.zeros(128, np.float32),
        "float64": np.array([np.nan, -0.0, np.inf, 1e-310, np.pi]),
        "float16": np.array([1.5, -2.25], np.float16),
        "big_endian": np.arange(6, dtype=">i4").reshape(2, 3),
        "uint8_images": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "int64": np.array([-(2**63), 2**63 - 1]),
        "bool": np.array([True, False, True]),
        "complex": np.array([1 + 2j, -3j]),
        "text": np.array(["cero", "uno", "ñandú"]),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 4), np.float32),
        "transposed": np.arange(12.0).reshape(3, 4).T,     # not C-contiguous
        "layer1.weight": np.ones((2, 2)),                  # dots are fine in names
        "file": np.array([1]), "allow_pickle": np.array([2]),  # np.savez's own parameter names
    }


def _optimizer_state() -> dict:
    return {"state": {0: {"step": 3, "exp_avg": np.arange(4.0), "exp_avg_sq": np.ones(4)},
                      1: {"step": 3, "exp_avg": np.full((2, 2), 0.5, np.float32),
                          "exp_avg_sq": np.zeros((2, 2), np.float32)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                              "foreach": None, "params": [0, 1]}]}


def test_arrays_and_metadata_round_trip_exactly(tmp_path):
    path = tmp_path / "model.npz"
    arrays = _arrays()
    metadata = {"epoch": 7, "val_accuracy": np.float64(0.8592), "lr": np.float32(0.5),
                "classes": ("zero", "one"), "by_class": {0: 0.9, 1: 0.85}, "note": "ñ",
                "best": None, "nan": float("nan"), "nested": [{"a": [1, 2]}, (3, (4, 5))],
                "__tuple__": "a user key that looks like a tag"}
    save_checkpoint(path, arrays, metadata)
    loaded, loaded_metadata = load_checkpoint(path)
    assert list(loaded) == list(arrays)
    for name in arrays:
        _assert_identical(loaded[name], arrays[name])
    assert loaded_metadata["by_class"] == {0: 0.9, 1: 0.85}       # int keys stay ints
    assert loaded_metadata["classes"] == ("zero", "one")          # tuples stay tuples
    assert loaded_metadata["nested"] == [{"a": [1, 2]}, (3, (4, 5))]
    assert loaded_metadata["val_accuracy"] == 0.8592 and loaded_metadata["lr"] == 0.5
    assert type(loaded_metadata["lr"]) is float                    # NumPy scalars -> Python
    assert np.isnan(loaded_metadata.pop("nan")) and np.isnan(metadata.pop("nan"))
    metadata.update(val_accuracy=0.8592, lr=0.5)
    assert loaded_metadata == metadata
    # the file is an ordinary .npz
    with np.load(path) as npz:
        assert "__metadata__" in npz.files and npz["W1"].shape == (128, 784)


def test_no_metadata_and_plain_npz_files(tmp_path):
    save_checkpoint(tmp_path / "a.npz", {"x": np.arange(3)})
    arrays, metadata = load_checkpoint(tmp_path / "a.npz")
    assert metadata == {} and list(arrays) == ["x"]
    np.savez(tmp_path / "plain.npz", y=np.ones(2))  # written by NumPy itself
    arrays, metadata = load_checkpoint(str(tmp_path / "plain.npz"))
    assert metadata == {} and arrays["y"].tolist() == [1.0, 1.0]


def test_nested_state_round_trip(tmp_path):
    state = _optimizer_state()
    state["state"][1]["step_np"] = np.int32(7)  # a NumPy scalar keeps its dtype
    arrays, tree = flatten_state("optimizer", state)
    assert sorted(arrays) == ["optimizer.state.0.exp_avg", "optimizer.state.0.exp_avg_sq",
                              "optimizer.state.1.exp_avg", "optimizer.state.1.exp_avg_sq",
                              "optimizer.state.1.step_np"]
    assert tree["state"][0]["exp_avg"] == {"__array__": "optimizer.state.0.exp_avg"}
    assert tree["param_groups"] == state["param_groups"]  # non-array leaves stay in the tree

    model = {"W1": np.ones((3, 2), np.float32)}
    save_checkpoint(tmp_path / "ckpt.npz", {**model, **arrays}, {"optimizer": tree, "epoch": 4})
    loaded, metadata = load_checkpoint(tmp_path / "ckpt.npz")
    back = unflatten_state(loaded, metadata["optimizer"])

    assert list(back["state"]) == [0, 1]                       # int keys, in order
    assert back["param_groups"] == state["param_groups"]       # betas is still a tuple
    assert type(back["param_groups"][0]["betas"]) is tuple
    for index in (0, 1):
        for name in ("exp_avg", "exp_avg_sq"):
            _assert_identical(back["state"][index][name], state["state"][index][name])
        assert back["state"][index]["step"] == 3
    assert type(back["state"][1]["step_np"]) is np.int32 and back["state"][1]["step_np"] == 7
    assert metadata["epoch"] == 4


def test_flatten_state_without_prefix_and_errors():
    arrays, tree = flatten_state("", {"a": [np.ones(1), {"b": np.zeros(2)}]})
    assert sorted(arrays) == ["a.0", "a.1.b"]
    assert unflatten_state(arrays, tree)["a"][1]["b"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"flatten_state: two entries map to the key 'm\.0'"):
        flatten_state("m", {0: np.ones(1), "0": np.ones(1)})
    with pytest.raises(ValueError, match=r"reserved"):
        flatten_state("m", {"__array__": 1})
    with pytest.raises(KeyError, match=r"unflatten_state: the tree refers to array 'm\.x'"):
        unflatten_state({}, {"x": {"__array__": "m.x"}})


def test_real_optimizer_state_round_trips(tmp_path):
    optim = pytest.importorskip("tensorgrad.optim")

    def make():
        tg.manual_seed(0)
        w, b = tg.randn(4, 3, requires_grad=True), tg.zeros(3, requires_grad=True)
        return [w, b], optim.Adam([w, b], lr=0.01, betas=(0.8, 0.99))

    def step(params, opt):
        opt.zero_grad()
        ((params[0].sum(axis=0) + params[1]) ** 2).sum().backward()
        opt.step()

    params, opt = make()
    for _ in range(3):
        step(params, opt)
    arrays, tree = flatten_state("optimizer", opt.state_dict())
    save_checkpoint(tmp_path / "adam.npz", {"w": params[0].data, "b": params[1].data, **arrays},
                    {"optimizer": tree})

    loaded, metadata = load_checkpoint(tmp_path / "adam.npz")
    params2, opt2 = make()
    params2[0].data[...], params2[1].data[...] = loaded["w"], loaded["b"]
    opt2.load_state_dict(unflatten_state(loaded, metadata["optimizer"]))
    step(params, opt)
    step(params2, opt2)  # the restored optimizer continues exactly where the first one is
    for p, q in zip(params, params2):
        _assert_identical(p.data, q.data)


def test_save_rejects_what_it_cannot_store(tmp_path):
    path = tmp_path / "bad.npz"
    with pytest.raises(ValueError, match=r"'__metadata__' is reserved"):
        save_checkpoint(path, {"__metadata__": np.ones(1)})
    with pytest.raises(TypeError, match=r"arrays\['x'\] has dtype object"):
        save_checkpoint(path, {"x": np.array([{}, None])})
    with pytest.raises(TypeError, match=r"arrays\['w'\] must be a numpy.ndarray, got Tensor "
                                        r"\(for a Tensor, pass tensor.data\)"):
        save_checkpoint(path, {"w": tg.ones(2)})
    with pytest.raises(TypeError, match=r"metadata\['a'\]\[1\] is a ndarray.*flatten_state"):
        save_checkpoint(path, {}, {"a": [1, np.ones(2)]})
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_file_not_found(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError,
                       match=r"load_checkpoint: no checkpoint file: .*nowhere\.npz"):
        load_checkpoint(path)


def _damaged_checkpoints(tmp_path: Path):
    good = tmp_path / "good.npz"
    save_checkpoint(good, {"w": np.arange(10_000.0)}, {"epoch": 1})
    data = good.read_bytes()
    for cut in (0, 10, 100, len(data) // 2, len(data) - 22, len(data) - 1):
        yield f"cut at {cut}", data[:cut]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # a damaged byte inside the array data: bad CRC
    yield "flipped byte", bytes(flipped)
    yield "random bytes", np.random.default_rng(0).bytes(5000)
    yield "zip-like garbage", b"PK\x03\x04" + np.random.default_rng(1).bytes(500)


def test_truncated_or_corrupt_files_raise_checkpoint_error(tmp_path):
    for what, content in _damaged_checkpoints(tmp_path):
        path = tmp_path / "damaged.npz"
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=r"load_checkpoint: '.*damaged\.npz' is corrupt "
                                                  r"or truncated") as info:
            load_checkpoint(path)
        assert isinstance(info.value, ValueError), what
    # a single-array .npy is not a checkpoint either
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(CheckpointError, match=r"one\.npy.*not an \.npz archive"):
        load_checkpoint(tmp_path / "one.npy")


def test_failed_replace_leaves_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"x": np.zeros(3)}, {"version": 1})
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(checkpoint.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        save_checkpoint(path, {"x": np.ones(3)}, {"version": 2})
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_interrupted_write_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"x": np.zeros(3)}, {"version": 1})
    before = path.read_bytes()
    calls = []

    def interrupted_write_array(*args, **kwargs):  # Ctrl-C in the middle of the arrays
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", interrupted_write_array)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"x": np.ones(3), "y": np.ones(3)}, {"version": 2})
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]

    # the same for a CSV, when fsync fails
    def broken_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(checkpoint.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save_predictions_csv(tmp_path / "out.csv", [1, 2])
    assert list(tmp_path.iterdir()) == [path]


def test_files_are_world_readable_like_any_output(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    save_checkpoint(tmp_path / "c.npz", {"x": np.ones(1)})
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o644


def test_predictions_csv_exact(tmp_path):
    path = tmp_path / "output.csv"
    save_predictions_csv(path, np.array([2, 0, 9, 9, 3], dtype=np.int64))
    assert path.read_bytes() == b"ImageId,Label\n1,2\n2,0\n3,9\n4,9\n5,3\n"
    save_predictions_csv(path, [7.0, 1.0], start_id=0)  # overwrites
    assert path.read_text() == "ImageId,Label\n0,7\n1,1\n"
    save_predictions_csv(path, np.array([], dtype=int))
    assert path.read_text() == "ImageId,Label\n"
    with pytest.raises(ValueError, match=r"save_predictions_csv: labels must be 1-D, got shape "
                                         r"\(2, 10\)"):
        save_predictions_csv(path, np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"labels must be integers"):
        save_predictions_csv(path, [0.5])


# --- SIGKILL at random moments never leaves a broken checkpoint ---------------------------------

# A writer that saves ~5 MB checkpoints in a loop. The arrays depend on the counter (and
# alternate in sign, so consecutive files differ everywhere); the counter goes in the metadata.
# It waits for "go" on stdin so that the test can start it (Python + NumPy import) ahead of time.
WRITER = """
import sys
import numpy as np
from tensorgrad.training.checkpoint import save_checkpoint
path, counter = sys.argv[1], int(sys.argv[2])
base = np.arange(327_680, dtype=np.float64)
print("ready", flush=True)
sys.stdin.readline()
while True:
    counter += 1
    sign = 1.0 if counter % 2 == 0 else -1.0
    save_checkpoint(path, {"a": sign * base + counter, "b": np.full(327_680, counter, np.int64)},
                    {"counter": counter})
"""


def _check_consistent(path: Path) -> int:
    arrays, metadata = load_checkpoint(path)
    counter = metadata["counter"]
    sign = 1.0 if counter % 2 == 0 else -1.0
    np.testing.assert_array_equal(arrays["a"], sign * np.arange(327_680.0) + counter)
    np.testing.assert_array_equal(arrays["b"], np.full(327_680, counter, np.int64))
    return counter


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_during_saves_never_leaves_a_broken_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    kills, spares = 20, 3
    rng = random.Random(12345)

    def spawn(run: int) -> subprocess.Popen:
        # each run counts from its own million, so a later run's files have larger counters
        return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(run * 1_000_000)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)

    waiting = deque(spawn(run) for run in range(1, spares + 1))
    seen, cut_writes = [], 0
    try:
        for run in range(1, kills + 1):
            writer = waiting.popleft()
            if run + spares <= kills:
                waiting.append(spawn(run + spares))
            if writer.stdout.readline() != b"ready\n":
                pytest.fail(f"writer did not start: {writer.communicate()[1].decode()}")
            writer.stdin.write(b"go\n")
            writer.stdin.flush()
            if run == 1:  # the first kill must come after a first checkpoint exists
                deadline = time.monotonic() + 10
                while not path.exists() and time.monotonic() < deadline:
                    time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.150))
            writer.send_signal(signal.SIGKILL)
            writer.communicate()
            assert writer.returncode == -signal.SIGKILL
            seen.append(_check_consistent(path))
            assert seen[-1] >= max(seen), f"an older checkpoint came back: {seen}"
            # a temporary file left now (the next writer's first save removes it) proves that
            # this kill landed in the middle of a write
            leftovers = [p for p in tmp_path.iterdir() if p != path]
            assert all(p.name.startswith(".ckpt.npz.") and p.name.endswith(".tmp") for p in leftovers)
            cut_writes += bool(leftovers)
    finally:
        for process in waiting:
            process.kill()
            process.communicate()

    assert len(set(seen)) > 1, f"the writers made no progress: {seen}"
    assert cut_writes, "no kill landed in the middle of a write: the test proved nothing"
    for p in tmp_path.iterdir():  # 5 MB each: don't keep them in pytest's tmp dirs
        if p != path:
            p.unlink()


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "model.npz"
    left = tmp_path / ".model.npz.k1ll3d.tmp"  # what a SIGKILL during a save leaves
    left.write_bytes(b"half a checkpoint")
    other = tmp_path / ".other.npz.abc.tmp"   # another file's: not ours to remove
    other.write_bytes(b"x")
    save_checkpoint(path, {"x": np.zeros(3)}, {"version": 1})
    assert not left.exists() and other.exists() and load_checkpoint(path)[1] == {"version": 1}
