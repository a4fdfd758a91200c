"""Robustness: in-place changes caught, NaN hunting, numerical safety, flat memory, exact resume."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn, optim
from tensorgrad.nn import functional as F
from tensorgrad.training.loop import fit, load_training_state, save_training_state


# ------------------------------------------------------------------ version counter
def test_optimizer_step_before_backward_is_an_error_not_a_wrong_gradient():
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (w * w).sum()  # mul saved w's array
    opt = optim.SGD([w], lr=0.1)
    w.grad = np.ones(3, dtype=np.float32)
    opt.step()
    with pytest.raises(RuntimeError, match=r"op 'mul' saved for backward was changed in place afterwards \(version 0 -> 1\)"):
        loss.backward()


def test_in_place_change_of_a_saved_output_is_caught():
    x = tg.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    with tg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="op 'exp' saved for backward"):
        y.sum().backward()


def test_in_place_change_of_an_image_a_conv_saved_is_caught():
    # conv2d keeps a channels-last view of its input: it must still count as having saved the
    # tensor's array
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 2, 6, 6)), requires_grad=True)
    w = tg.tensor(np.ones((2, 2, 3, 3)), requires_grad=True)
    out = tg.nn.functional.conv2d(x, w)
    with tg.no_grad():
        x *= 2
    with pytest.raises(RuntimeError, match="op 'conv2d' saved for backward was changed in place"):
        out.sum().backward()


@pytest.mark.parametrize("layout", ["channels-last", "NCHW"])
def test_max_pooling_keeps_where_the_maxima_were_so_its_input_may_change_afterwards(layout):
    # max pooling saves each window's first maximum (or copies of its windows), not its input:
    # changing the input afterwards leaves the gradient of the forward that ran
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((2, 2, 6, 6)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    grads = []
    for change in (False, True):
        x.grad = w.grad = None
        image = tg.nn.functional.conv2d(x, w)  # channels-last in memory
        if layout == "NCHW":
            image = image.reshape(2, 32).reshape(2, 2, 4, 4)  # copied in NumPy's default layout
        out = tg.nn.functional.max_pool2d(image, 2)
        assert out.grad_fn.tiles == (layout == "channels-last")
        if change:
            with tg.no_grad():
                image *= -1  # would move every maximum
        (out * out).sum().backward()
        grads.append((x.grad.copy(), w.grad.copy()))
    for before, after in zip(*grads):
        np.testing.assert_array_equal(before, after)


def test_in_place_change_of_an_unsaved_input_is_allowed_and_correct():
    x = tg.tensor([0.5, 1.0], requires_grad=True)
    y = x + 1  # add saves nothing: changing x afterwards does not change d y / d x
    with tg.no_grad():
        x *= 3
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 1])


def test_setitem_and_init_and_load_state_dict_bump_the_version():
    layer = nn.Linear(3, 2)
    out = layer(np.ones((1, 3), dtype=np.float32)).sum()
    nn.init.zeros_(layer.weight)
    with pytest.raises(RuntimeError, match="changed in place"):
        out.backward()
    out = layer(np.ones((1, 3), dtype=np.float32)).sum()
    layer.load_state_dict(nn.Linear(3, 2).state_dict())
    with pytest.raises(RuntimeError, match="changed in place"):
        out.backward()
    x = tg.tensor([1.0, 2.0])
    version = x._version
    x[0] = 5
    assert x._version == version + 1


# ------------------------------------------------------------------ anomaly detection
def test_detect_anomaly_names_the_op_and_the_user_line_in_forward():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError) as info:
            x.log()  # THE LINE
    message = str(info.value)
    assert "op 'log' produced Inf in its forward output" in message
    assert "test_robustness.py" in message and "x.log()  # THE LINE" in message


def test_detect_anomaly_catches_the_first_nan_in_backward():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        with tg.detect_anomaly():
            y = x.sqrt()  # d sqrt / dx at 0 is infinite
            with pytest.raises(FloatingPointError, match=r"op 'sqrt' produced Inf in its gradient \(backward\) \(shape \(2,\)\); "
                                                         r"the tensor was created at .*y = x.sqrt\(\)"):
                y.sum().backward()
        # without anomaly mode NumPy's rules hold: the gradient is simply inf
        x.grad = None
        x.sqrt().sum().backward()
    assert x.grad[0] == np.inf and x.grad[1] == 0.25


# ------------------------------------------------------------------ numerical safety
HUGE = [1e4, -1e4, 0.0, 30.0, -30.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_stable_function_is_finite_and_right_for_huge_logits(dtype):
    z = np.array(HUGE, dtype=dtype)
    t = tg.tensor(z, requires_grad=True)
    checks = {
        "softmax": (lambda v: v.softmax(axis=0), None),
        "log_softmax": (lambda v: v.log_softmax(axis=0), z - 1e4),
        "sigmoid": (lambda v: v.sigmoid(), np.array([1, 0, 0.5, 1, 0])),
        "gelu": (lambda v: v.gelu(), np.array([1e4, 0, 0, 30, 0])),
        "gelu_tanh": (lambda v: v.gelu(approximate="tanh"), np.array([1e4, 0, 0, 30, 0])),
        "cross_entropy": (lambda v: F.cross_entropy(v.reshape(1, -1), np.array([1])), np.array(2e4)),
        "bce_with_logits": (lambda v: F.binary_cross_entropy_with_logits(v, np.array([0, 1, 1, 1, 0], dtype=dtype),
                                                                         reduction="none"),
                            np.array([1e4, 1e4, np.log(2), 0, 0])),
        "bce": (lambda v: F.binary_cross_entropy(v.sigmoid(), np.array([0, 1, 1, 1, 0], dtype=dtype), reduction="none"),
                np.array([100, 100, np.log(2), 0, 0])),  # log clamped at -100, as PyTorch
    }
    for name, (fn, expected) in checks.items():
        t.grad = None
        out = fn(t)
        assert np.all(np.isfinite(out.data)), name
        if expected is not None:
            np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        out.sum().backward()
        assert np.all(np.isfinite(t.grad)), name
        assert t.grad.dtype == dtype, name


# ------------------------------------------------------------------ memory
def test_training_loop_memory_stays_flat_without_gc():
    rng = np.random.default_rng(0)
    x = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    gc.collect()
    gc.disable()  # no reference cycles: freeing must not need the cycle collector
    try:
        for _ in range(50):  # warm-up: optimizer state, caches
            step()
        tracemalloc.start()
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            step()
        end, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        gc.enable()
    assert end - start < 1_000_000, f"memory grew by {end - start} bytes over 1,000 steps"


# ------------------------------------------------------------------ exact resume
def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 6)) * 2
    labels = rng.integers(0, 3, 240)
    return (centers[labels] + rng.standard_normal((240, 6))).astype(np.float32), labels


def _setup(optimizer_name):
    tg.manual_seed(7)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = (optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if optimizer_name == "sgd"
           else optim.Adam(model.parameters(), lr=0.01))
    return model, opt, optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.8)


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_resumed_training_is_bit_identical_to_an_uninterrupted_run(tmp_path, optimizer_name):
    x, y = _blobs()
    kwargs = dict(batch_size=16, seed=11, progress=False, log=None, validation_data=(x[:40], y[:40]))

    model, opt, sched = _setup(optimizer_name)
    straight = fit(model, opt, x, y, epochs=4, scheduler=sched, **kwargs)
    expected = model.state_dict()

    model, opt, sched = _setup(optimizer_name)
    fit(model, opt, x, y, epochs=2, scheduler=sched,
        on_epoch_end=lambda e, h: save_training_state(tmp_path / "ck.npz", model, opt, sched, e, h), **kwargs)
    del model, opt, sched  # a new process would start from nothing but the file
    model, opt, sched = _setup(optimizer_name)
    epoch, history, _ = load_training_state(tmp_path / "ck.npz", model, opt, sched)
    assert epoch == 2
    resumed = fit(model, opt, x, y, epochs=4, scheduler=sched, start_epoch=epoch, history=history, **kwargs)

    for key, value in expected.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)
    assert resumed.history["loss"] == straight.history["loss"]
    assert resumed.history["lr"] == straight.history["lr"]


def test_load_training_state_errors_name_the_file(tmp_path):
    model, opt, sched = _setup("sgd")
    with pytest.raises(FileNotFoundError):
        load_training_state(tmp_path / "missing.npz", model, opt, sched)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"\x00" * 100)
    from tensorgrad.training.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="bad.npz"):
        load_training_state(bad, model, opt, sched)
    save_training_state(tmp_path / "ok.npz", nn.Sequential(nn.Linear(6, 4)), None)
    with pytest.raises(RuntimeError, match=r"missing keys: 3.weight, 3.bias \| shape mismatch: 0.weight: checkpoint \(4, 6\) vs model \(16, 6\)"):
        load_training_state(tmp_path / "ok.npz", model)
