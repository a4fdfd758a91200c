"""Train document 003's CNN for a few steps on one thread, then on tensorgrad's own threads.

Run:  python examples/cnn_on_threads.py

tg.set_num_threads(n) (here, for one block: tg.parallel.num_threads(n)) splits each convolution's
batch and each large matrix product over n threads; NumPy's BLAS runs on one thread meanwhile.
(By default, tensorgrad does this by itself from the first convolution on: tg.set_num_threads("auto").)
The two runs start from the same weights and see the same batches: a convolution adds its batch's
gradient shares in the same order on any number of threads, so the weights end up equal, or within
float32 rounding where a product split by rows rounds differently from the whole one.
"""
import time

import numpy as np

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import optim
from tensorgrad.data import load_mnist_sample, normalize
from tensorgrad.models.networks import DocumentCNN

BATCH, STEPS = 128, 8
x_train, y_train, _, _ = load_mnist_sample()
images = normalize(x_train[:BATCH * STEPS])[:, np.newaxis]  # (N, 1, 28, 28)
labels = y_train[:BATCH * STEPS]


def train(threads: int) -> tuple[list[np.ndarray], float, float]:
    """STEPS steps of SGD on `threads` threads: the final weights, median ms per step, the last loss."""
    tg.manual_seed(0)
    model = DocumentCNN(dropout=False).fuse()  # fused nodes, as training runs it
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    seconds = []
    with tg.parallel.num_threads(threads):
        for i in range(0, len(images), BATCH):
            start = time.perf_counter()
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images[i:i + BATCH]), labels[i:i + BATCH])
            loss.backward()
            optimizer.step()
            seconds.append(time.perf_counter() - start)
    # the median step: the first ones also pay for memory the process has not used yet
    return [p.data.copy() for p in model.parameters()], float(np.median(seconds)) * 1e3, loss.item()


threads = max(2, tg.parallel.usable_cpus())
serial, serial_ms, serial_loss = train(1)
parallel, parallel_ms, parallel_loss = train(threads)
print(f"1 thread:  {serial_ms:6.1f} ms/step, last loss {serial_loss:.4f}")
print(f"{threads} threads: {parallel_ms:6.1f} ms/step, last loss {parallel_loss:.4f}  "
      f"({parallel_ms / serial_ms:.2f} of the time on {tg.parallel.usable_cpus()} CPUs)")
difference = max(float(np.abs(a - b).max()) for a, b in zip(serial, parallel))
largest = max(float(np.abs(a).max()) for a in serial)
print(f"largest weight difference between the two runs: {difference:.1e} (largest weight {largest:.2f})")
