"""The baselines that benchmarks/speed.py times tensorgrad against, one training step each.

    specs.py       the model specs, learning rate, dtype, starting weights and batches they share
    numpy_mlp.py   an MLP's forward and backward written by hand in NumPy (the speed floor)
    numpy_cnn.py   the same for document 003's CNN (im2col convolutions, a fused max pool)
    torch_step.py  the same training loop in PyTorch on the CPU

Each step keeps the interface speed.py drives: ``prepare(batches)``, ``step(x, labels)`` (returns
the loss), ``predict(x)``, ``weights()`` (PyTorch's order and layouts) and ``name``.
"""
