"""The base class every optimizer in :mod:`tensorgrad.optim` builds on.

An optimizer holds *parameter groups* (lists of parameters that share options
such as the learning rate) and a per-parameter *state* (moment estimates,
step counts, ...). A parameter is any object with a ``.data`` attribute (a
floating-point ``numpy.ndarray``, updated in place) and a ``.grad`` attribute
(an array of the same shape, or ``None`` when it got no gradient).

Subclasses only say how one parameter is updated (:meth:`Optimizer._update_parameter`)
and which option values are allowed (:meth:`Optimizer._validate_options`);
everything else - groups, ``zero_grad``, ``state_dict`` - lives here and follows
PyTorch's ``torch.optim.Optimizer``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from ..errors import error_like

__all__ = ["Optimizer"]

#: What an optimizer accepts as ``params``: parameters, or dicts (parameter groups).
Params = Iterable[Any] | Iterable[dict[str, Any]]


class _StateByParameter(MutableMapping):
    """Per-parameter state dicts, keyed by parameter *identity*.

    Keys are compared with ``is`` rather than ``==``/``hash`` so that tensors,
    whose ``==`` is elementwise, work as keys. Reading a missing parameter
    creates an empty dict for it, like ``collections.defaultdict(dict)``.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(param) -> (param, state)

    def __getitem__(self, param: Any) -> dict[str, Any]:
        entry = self._entries.get(id(param))
        if entry is None:
            # Keep a reference to the parameter so its id() can't be reused.
            entry = self._entries[id(param)] = (param, {})
        return entry[1]

    def __setitem__(self, param: Any, state: dict[str, Any]) -> None:
        self._entries[id(param)] = (param, state)

    def __delitem__(self, param: Any) -> None:
        del self._entries[id(param)]

    def __contains__(self, param: object) -> bool:
        return id(param) in self._entries

    def _stored(self, param: Any) -> dict[str, Any] | None:
        """The state of ``param`` if it has one, without creating it (reading ``self[param]`` does)."""
        entry = self._entries.get(id(param))
        return None if entry is None else entry[1]

    def __iter__(self) -> Iterator[Any]:
        return (param for param, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} parameters)"


def _copy_state_value(value: Any, float_dtype: np.dtype | None = None) -> Any:
    """Deep-copy a state value; floating-point arrays are cast to ``float_dtype`` if given."""
    if isinstance(value, np.ndarray):
        if float_dtype is not None and np.issubdtype(value.dtype, np.floating):
            return value.astype(float_dtype, copy=True)
        return value.copy()
    if isinstance(value, dict):
        return {key: _copy_state_value(item, float_dtype) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state_value(item, float_dtype) for item in value)
    return value


def _mark_changed(param: Any) -> None:
    """Bump a Tensor's version after changing its data in place (graphs that saved it will refuse
    to backward); plain stand-in parameters have no version."""
    try:
        param._version += 1
    except AttributeError:
        pass


def _is_parameter_like(obj: Any) -> bool:
    return isinstance(getattr(obj, "data", None), np.ndarray)


class Optimizer:
    """Base class for optimizers (PyTorch's ``torch.optim.Optimizer``).

    Args:
        params: an iterable of parameters, or of dicts defining parameter
            groups. A group dict has a ``"params"`` entry and may override any
            option in ``defaults`` for the parameters in it.
        defaults: the option values used by groups that don't set them.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of
            parameters) and every option.
        state: per-parameter state; ``state[param]`` is a dict.
        defaults: the default options.
    """

    #: Whether every array in a parameter's state has that parameter's shape
    #: (checked by :meth:`load_state_dict`). LBFGS keeps flat vectors instead.
    _state_shaped_like_params = True

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self._validate_options(self.defaults)
        self.state: MutableMapping[Any, dict[str, Any]] = _StateByParameter()
        self.param_groups: list[dict[str, Any]] = []

        if _is_parameter_like(params) or isinstance(params, np.ndarray):
            raise TypeError(
                f"{self._name}: params should be an iterable of parameters or of dicts "
                f"(parameter groups), but got a single {type(params).__name__}; "
                f"wrap it in a list"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: params must be an ordered collection (list, tuple, "
                            f"generator), not a set, so that state_dict() indices are stable")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{self._name}: params should be an iterable of parameters or of "
                            f"dicts, but got {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ hooks for subclasses

    def _validate_options(self, options: dict[str, Any]) -> None:
        """Raise ValueError for invalid option values (run on defaults and on every group)."""

    def _update_parameter(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                          group: dict[str, Any]) -> None:
        """Apply one step of the update rule to ``data`` IN PLACE."""
        raise NotImplementedError(f"{self._name} does not implement _update_parameter")

    # ------------------------------------------------------------------ public API

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step on every parameter that has a gradient.

        Args:
            closure: optional function that re-evaluates the model (zero the
                gradients, compute the loss, call ``backward()``) and returns the loss.

        Returns:
            The closure's loss, or ``None`` when no closure was given.
        """
        loss = closure() if closure is not None else None
        state = self.state
        for group in self.param_groups:
            update = self._group_update(group)
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue  # like PyTorch: a parameter that got no gradient is left untouched
                if type(grad) is not np.ndarray:  # a Tensor, after backward(create_graph=True): its numbers
                    grad = getattr(grad, "data", grad)
                stored = state._stored(param)
                param_state = {} if stored is None else stored
                try:
                    update(param.data, grad, param_state, group)
                except (ValueError, TypeError) as err:
                    raise self._gradient_error(param, grad, err) from None
                if stored is None and param_state:  # kept once the rule stored something, as in
                    state[param] = param_state      # PyTorch (plain SGD never does)
                _mark_changed(param)
        return loss

    def _group_update(self, group: dict[str, Any]) -> Callable[..., None]:
        """The rule that updates each parameter of ``group``: ``_update_parameter``, unless a
        subclass has a simpler one for what the group's options leave of it."""
        return self._update_parameter

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Args:
            set_to_none: set ``.grad`` to ``None`` (the default, as in PyTorch)
                instead of filling the gradient array with zeros.
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none or type(param.grad) is not np.ndarray:
                    param.grad = None
                else:
                    param.grad.fill(0)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own options, to the optimizer.

        ``param_group`` is a dict with a ``"params"`` entry (a parameter or a list of them, none
        already in the optimizer) and any option of this optimizer, e.g.
        ``opt.add_param_group({"params": model.fc2.parameters(), "lr": 0.01})``. Options the group
        doesn't set take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, "
                            f"but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if _is_parameter_like(params):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: a group's params must be an ordered collection, not a set")
        group["params"] = list(params)

        for param in group["params"]:
            self._check_is_parameter(param)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._validate_options(group)

        seen = {id(p) for other in self.param_groups for p in other["params"]}
        for param in group["params"]:
            if id(param) in seen:
                raise ValueError(f"{self._name}: some parameters appear more than once "
                                 f"in the parameter groups")
            seen.add(id(param))
        self.param_groups.append(group)

    def state_dict(self) -> dict[str, Any]:
        """Return the optimizer's state as a dict, in PyTorch's layout.

        ``{"state": {index: {name: value}}, "param_groups": [{option: value,
        "params": [index, ...]}]}``, where a parameter's index is its position
        counting through all groups in order. Arrays are copies, so the result
        doesn't change as the optimizer keeps stepping.
        """
        index_of: dict[int, int] = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index_of.setdefault(id(p), len(index_of)) for p in group["params"]]
            packed_groups.append(packed)
        packed_state = {index_of[id(param)]: _copy_state_value(state)
                        for param, state in self.state.items() if state}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state produced by :meth:`state_dict` (of an optimizer of the same kind).

        The parameters are matched by position: the loaded dict must have as
        many groups as this optimizer, each with as many parameters. Arrays are
        copied (and floating-point ones cast to the parameter's dtype).
        """
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{self._name}: a state dict must be a dict with 'state' and "
                             f"'param_groups' entries, as returned by state_dict()")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}: the loaded state dict has {len(saved_groups)} parameter "
                             f"group(s), but this optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{self._name}: parameter group {i} of the loaded state dict has "
                                 f"{len(saved['params'])} parameters, but this optimizer's group {i} "
                                 f"has {len(group['params'])}")

        param_at_index = {index: param
                          for group, saved in zip(self.param_groups, saved_groups)
                          for index, param in zip(saved["params"], group["params"])}
        new_state = _StateByParameter()
        for index, saved_state in state_dict["state"].items():
            if index not in param_at_index:
                raise ValueError(f"{self._name}: the loaded state has an entry for parameter index "
                                 f"{index!r}, which no parameter group lists")
            param = param_at_index[index]
            if self._state_shaped_like_params:
                for name, value in saved_state.items():
                    if isinstance(value, np.ndarray) and value.shape != param.data.shape:
                        raise ValueError(f"{self._name}: state {name!r} of parameter {index} has shape "
                                         f"{value.shape}, but the parameter has shape {param.data.shape}")
            new_state[param] = _copy_state_value(saved_state, param.data.dtype)

        self.state = new_state
        self.param_groups = [
            {**{key: _copy_state_value(value) for key, value in saved.items() if key != "params"},
             "params": group["params"]}
            for group, saved in zip(self.param_groups, saved_groups)
        ]

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ helpers

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _gradient_error(self, param: Any, grad: Any, err: Exception) -> Exception:
        """Why step() could not apply ``grad`` to ``param``: the usual cause is a .grad set by hand."""
        detail = (f"a .grad of shape {grad.shape} {grad.dtype}" if isinstance(grad, np.ndarray)
                  else f"a .grad that is a {type(grad).__name__}, not a NumPy array")
        return error_like(err, f"{self._name}: cannot update a parameter of shape {param.data.shape} "
                                  f"{param.data.dtype} with {detail}: {err}")

    def _check_is_parameter(self, param: Any) -> None:
        data = getattr(param, "data", None)
        if not isinstance(data, np.ndarray) or not hasattr(type(param), "grad") and not hasattr(param, "grad"):
            raise TypeError(f"{self._name}: can only optimize parameters (objects with a .data numpy "
                            f"array and a .grad attribute), but one of the params is "
                            f"{type(param).__name__}")
        if not np.issubdtype(data.dtype, np.floating):
            raise TypeError(f"{self._name}: can only optimize floating-point parameters, but one of "
                            f"the params is a {type(param).__name__} with dtype {data.dtype}")
        if getattr(param, "grad_fn", None) is not None:
            raise ValueError(f"{self._name}: can't optimize a tensor that is computed from others (shape "
                             f"{data.shape}, made by op '{param.grad_fn.name}'): its .grad is never set and "
                             "changing it would not change what it came from; pass the leaf tensors")

    def _require(self, ok: bool, argument: str, value: Any, requirement: str) -> None:
        """Raise ValueError naming this optimizer, the argument and its value unless ``ok``."""
        if not ok:
            raise ValueError(f"{self._name}: invalid {argument} value {value!r}; it must be {requirement}")
