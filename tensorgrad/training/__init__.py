"""Training models, the application around the core: a Keras-like ``fit`` loop, evaluation and
prediction (``loop.py``), atomic checkpoints (``checkpoint.py``), classification metrics
(``metrics.py``) and the ``tensorgrad`` command (``cli.py``)::

    from tensorgrad.training import fit, evaluate
    history = fit(model, optimizer, x_train, y_train, epochs=5, batch_size=128)
"""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .loop import History, evaluate, fit, predict, predict_proba

__all__ = ["fit", "evaluate", "predict", "predict_proba", "History", "save_checkpoint", "load_checkpoint",
           "CheckpointError"]
