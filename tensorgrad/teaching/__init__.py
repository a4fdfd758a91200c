"""The teaching tools: what shows autograd's work and proves its gradients.

=================  ================================================================================
``gradcheck.py``   ``tg.gradcheck``: autograd's gradients against central finite differences
``trace.py``       ``tg.trace``: every backward step, the formula it applied and its gradients
``draw.py``        ``tg.draw`` / ``tg.render``: the computation graph with graphviz
``frames.py``      ``play_backprop``: the graph after each backward step, with a slider (HTML)
``compare.py``     ``tg.compare_grads``: hand-derived gradients against autograd's, with a diagnosis
                   of the usual mistakes (a missing 1/batch, a sign, a transpose, an L2 term, ...)
``audit.py``       the course documents' hand-derived backward passes, audited (``tensorgrad audit``)
``plots.py``       the documents' figures: training history, confusion matrix, predictions,
                   activation curves, image grids (matplotlib)
=================  ================================================================================
"""
from .frames import BackpropPlayer, play_backprop

__all__ = ["BackpropPlayer", "play_backprop"]
