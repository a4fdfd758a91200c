"""The errors tensorgrad raises on purpose.

Each is a subclass of :class:`TensorgradError` *and* of the built-in exception a Python user
expects (``ValueError`` for a shape or value that does not fit, ``TypeError`` for a dtype, ...),
so ``except ValueError`` keeps working. Every message starts with the op or function that
refused, then says which shapes, dtypes or values were wrong::

    matmul: shapes (32, 784) and (128, 10) are not aligned (784 != 128)

The class is how the engine tells tensorgrad's own errors from NumPy's (which it rewrites to
name the op and its inputs): see ``Function.apply`` in ``autograd.py``.
"""
from __future__ import annotations

__all__ = ["TensorgradError", "InputError", "InputTypeError", "InputIndexError", "GraphError", "GradcheckError",
           "error_like"]


class TensorgradError(Exception):
    """Base class of every error tensorgrad raises itself."""


class InputError(TensorgradError, ValueError):
    """A shape, axis, value or option that does not fit the op."""


class InputTypeError(TensorgradError, TypeError):
    """A dtype or a kind of object the op cannot take."""


class InputIndexError(TensorgradError, IndexError):
    """An index that does not fit the tensor."""


class GraphError(TensorgradError, RuntimeError):
    """The graph cannot do this: backward through a freed graph or a tensor without grad, an
    in-place change of a tensor the graph needs, an op's backward returning a wrong gradient."""


class GradcheckError(TensorgradError, AssertionError):
    """``tg.gradcheck`` found a gradient that disagrees with finite differences. The message is the
    check's report (each input, its worst element, the analytic and numeric values); ``.result`` is
    the :class:`~tensorgrad.teaching.gradcheck.GradcheckResult` itself."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


_OURS = {ValueError: InputError, TypeError: InputTypeError, IndexError: InputIndexError, RuntimeError: GraphError}


def error_like(err: Exception, message: str) -> TensorgradError:
    """A tensorgrad error of the same kind as ``err`` (say, NumPy's broadcasting ValueError) with
    our ``message``, which names the op and its inputs. Raise it ``from err`` to keep the original
    traceback (where the error happened, e.g. in a custom op's forward) below it."""
    kind = next((k for k in type(err).__mro__ if k in _OURS), None)
    return _OURS[kind](message) if kind is not None else InputError(message)
