"""Carrying models out (issue 22): safetensors files that PyTorch reads, checkpoints in that
format, PyTorch's own files refused with what to do, DLPack memory sharing, and the bridge
to and from torch.nn with identical outputs."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn
from tensorgrad.data import load_mnist_sample, normalize
from tensorgrad.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


def test_safetensors_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([1.5, -2.0]),
              "steps": np.array(7), "mask": np.array([True, False]), "empty": np.zeros((0, 3), np.float32),
              "tokens": np.arange(5, dtype=np.int64)[::2]}  # (not contiguous)
    path = tmp_path / "weights.safetensors"
    tg.save_safetensors(arrays, str(path), metadata={"format": "pt"})
    loaded, metadata = tg.load_safetensors(str(path), with_metadata=True)
    assert metadata == {"format": "pt"} and list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    reference = safetensors_numpy.load_file(str(path))  # the reference reader agrees
    for name, array in arrays.items():
        np.testing.assert_array_equal(reference[name], array)
    written = tmp_path / "theirs.safetensors"  # and we read the reference writer's files
    safetensors_numpy.save_file({"x": np.ones((2, 2), np.float16)}, str(written))
    assert tg.load_safetensors(str(written))["x"].dtype == np.float16


def trained(model, steps=3):
    x, y, _, _ = load_mnist_sample()
    x = normalize(x[:256], flatten=not isinstance(model[0], nn.Conv2d))
    if isinstance(model[0], nn.Conv2d):
        x = x.reshape(-1, 1, 28, 28)
    opt = tg.optim.SGD(model.parameters(), lr=0.05)
    for step in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x[step * 64:(step + 1) * 64]), y[step * 64:(step + 1) * 64]).backward()
        opt.step()
    return model.eval(), x[:50]


def test_a_trained_mlp_and_cnn_load_into_torch_from_safetensors(tmp_path):
    tg.manual_seed(0)
    mlp, x_mlp = trained(nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)))
    cnn, x_cnn = trained(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 13 * 13, 10)))
    torch_mlp = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    torch_cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                    torch.nn.Linear(4 * 13 * 13, 10))
    for ours, theirs, x in ((mlp, torch_mlp, x_mlp), (cnn, torch_cnn, x_cnn)):
        path = str(tmp_path / "model.safetensors")
        tg.save_safetensors(ours.state_dict(), path)
        theirs.load_state_dict(safetensors_torch.load_file(path))
        with tg.no_grad(), torch.no_grad():
            np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_checkpoints_can_be_safetensors_and_pytorch_files_are_refused_with_the_way_out(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"0.weight": np.ones((2, 3), np.float32)}, {"recipe": "doc004", "epoch": 2})
    arrays, metadata = load_checkpoint(path)
    assert metadata == {"recipe": "doc004", "epoch": 2} and arrays["0.weight"].shape == (2, 3)
    assert safetensors_numpy.load_file(str(path))["0.weight"].sum() == 6  # a plain safetensors file
    pt = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), pt)
    with pytest.raises(CheckpointError, match=r"is a PyTorch file \(torch.save\).*torch.load\(path, weights_only=True\)"):
        load_checkpoint(pt)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        load_checkpoint(broken)


def test_dlpack_shares_memory_both_ways():
    t = tg.tensor(np.zeros(4, np.float32))
    torch.from_dlpack(t)[1] = 5.0
    np.from_dlpack(t)[2] = 7.0
    assert t.data.tolist() == [0.0, 5.0, 7.0, 0.0]
    source = torch.zeros(3)
    shared = tg.from_dlpack(source)
    shared.data[0] = 2.0
    source[2] = 4.0
    assert source.tolist() == [2.0, 0.0, 4.0] and shared.data.tolist() == [2.0, 0.0, 4.0]
    with pytest.raises(TypeError, match="from_dlpack: list does not support DLPack"):
        tg.from_dlpack([1, 2])


BRIDGED = {
    "MLP": lambda: nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10), nn.LogSoftmax(dim=1)),
    "CNN": lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(4, 4, 3, groups=2), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, 10)),
}


@pytest.mark.parametrize("make", BRIDGED.values(), ids=list(BRIDGED))
def test_to_torch_and_back_give_the_same_outputs(make):
    tg.manual_seed(1)
    ours = make()
    is_cnn = isinstance(ours[0], nn.Conv2d)
    x = np.random.default_rng(0).random((5, 1, 28, 28) if is_cnn else (5, 784)).astype(np.float32)
    ours(tg.tensor(x))  # (moves the BatchNorm's running statistics)
    ours.eval()
    theirs = tg.to_torch(ours)
    back = tg.from_torch(theirs)
    assert not theirs.training and list(theirs.state_dict()) == list(ours.state_dict())
    with tg.no_grad(), torch.no_grad():
        expected = ours(tg.tensor(x)).data
        np.testing.assert_allclose(theirs(torch.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(back(tg.tensor(x)).data, expected)


def test_document_cnn_converts_and_a_model_class_of_your_own_is_refused():
    from tensorgrad.models.networks import DocumentCNN
    theirs = tg.to_torch(DocumentCNN())
    assert isinstance(theirs, torch.nn.Sequential) and "conv1.weight" in theirs.state_dict()

    class Mine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * 2

    with pytest.raises(TypeError, match="to_torch: no PyTorch equivalent for Mine.*load_state_dict"):
        tg.to_torch(Mine())
