"""``Module`` and ``Parameter``: PyTorch's way of grouping tensors into layers and models.

A Module registers every ``Parameter`` and sub-``Module`` assigned to it as an attribute, so
``model.parameters()`` finds them all and ``state_dict()`` names them with dotted paths such as
``fc1.weight`` -- the same keys PyTorch uses.
"""
from __future__ import annotations

import html
from collections import OrderedDict
from collections.abc import Mapping
import functools
from typing import Any, Callable, Iterator

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..errors import GraphError
from ..ops.conv import MAX_POOL_FUSES_AFTER
from ..tensor import RemovableHandle, Tensor, mark_changed

__all__ = ["Parameter", "Module", "Sequential", "ModuleList"]


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a Module (``requires_grad=True`` by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models. Subclasses set parameters/sub-modules in ``__init__``
    (after ``super().__init__()``) and define ``forward``; call the module to run it.

    Example:
        >>> class MLP(tg.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = tg.nn.Linear(784, 128)
        ...         self.fc2 = tg.nn.Linear(128, 10)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        if name in self.__dict__.get("_buffers", ()):  # a buffer stays one (running_mean = ... as in PyTorch)
            value = _buffer_tensor(type(self).__name__, name, value)
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self.__dict__.get("_buffers", {}).pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Keep ``tensor`` as state of this module that is not learned (BatchNorm's running mean):
        saved by ``state_dict`` (unless ``persistent=False``), converted by ``to()``, pickled with
        the module, and never given to an optimizer. ``None`` reserves the name."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: a buffer name is a non-empty string without dots, got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {type(self).__name__} already has a parameter or module named {name!r}")
        value = _buffer_tensor(type(self).__name__, name, tensor)
        self._buffers[name] = value
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, value)

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, e.g. ("bn1.running_mean", tensor)."""
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, buffer in module.__dict__.get("_buffers", {}).items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer (``named_buffers`` without the names)."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module, then on this one (PyTorch's ``model.apply(init_weights)``);
        returns this module."""
        for module in reversed(list(self.modules())):  # children before their parent
            fn(module)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "_hooks" not in self.__dict__:  # (no hook was ever registered: the common case)
            output = self.forward(*args, **kwargs)
        else:
            output = self._call_with_hooks(self.__dict__["_hooks"], args, kwargs)
        # the node that made the output remembers which module call it ends, and that call's inputs,
        # so that tg.draw(collapse="module") can fold a module's ops (a BatchNorm, an attention) into one box
        first = output[0] if type(output) is tuple and output else output
        node = getattr(first, "grad_fn", None)
        if node is not None:
            node.module_calls = (*node.module_calls, (self, args))
        return output

    # --------------------------------------------------------------------------------- hooks
    def register_forward_pre_hook(self, hook: Callable[["Module", tuple], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before each forward; if it returns a value, that becomes
        the inputs (a tuple, or one value). Returns a handle whose ``remove()`` takes it off."""
        return self._add_hook("forward_pre", hook)

    def register_forward_hook(self, hook: Callable[["Module", tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after each forward; if it returns a value, that
        replaces the output (e.g. to record activations, as tg.teaching.plots does by hand)."""
        return self._add_hook("forward", hook)

    def register_full_backward_hook(self, hook: Callable[["Module", tuple, tuple], Any]) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` in backward, once the gradients of the
        module's tensor inputs are known (None for an input that needs none); for a module with
        one tensor input, a returned ``(grad,)`` replaces the gradient passed on."""
        return self._add_hook("backward", hook)

    def _add_hook(self, kind: str, hook: Callable[..., Any]) -> RemovableHandle:
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = {"forward_pre": [], "forward": [], "backward": []}
            object.__setattr__(self, "_hooks", hooks)
        hooks[kind] = [*hooks[kind], hook]
        return RemovableHandle(hooks, kind, hook)

    def _call_with_hooks(self, hooks: dict, args: tuple, kwargs: dict) -> Any:
        for hook in hooks["forward_pre"]:
            changed = hook(self, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        if hooks["backward"] and is_grad_enabled():
            catch = _BackwardHookCatcher(self, hooks["backward"])
            args = catch.wrap_inputs(args)
            output = catch.wrap_output(self.forward(*args, **kwargs))
        else:
            output = self.forward(*args, **kwargs)
        for hook in hooks["forward"]:
            changed = hook(self, args, output)
            if changed is not None:
                output = changed
        return output

    # ------------------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every sub-module, depth first, with dotted names ("" for this one)."""
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:  # iterative: deep models need no recursion
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        """This module and every sub-module, depth first (``named_modules`` without the names)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """(attribute name, module) of the direct sub-modules, in the order they were set."""
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules, in the order they were set."""
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each parameter once, e.g. ("fc1.weight", W)."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter once (what an optimizer takes)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def num_parameters(self) -> int:
        """How many numbers the model learns (Keras' "Total params")."""
        return sum(p.size for p in self.parameters())

    # ------------------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active); ``train(False)`` is ``eval()``."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: dropout becomes the identity."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (None, or zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.fill(0)

    def fuse(self, mode: bool = True) -> "Module":
        """Run a layer and what follows it as one fused node, for speed: in every Sequential of this
        model, a ``Linear``, ``Conv2d``, ``BatchNorm1d`` or ``BatchNorm2d`` followed by a ``ReLU``,
        ``Sigmoid`` or ``Tanh`` becomes one node ("linear+relu", "batch_norm+relu"), and a ``Conv2d``
        (then ``ReLU``) then ``MaxPool2d`` with stride = kernel and no padding one node too
        ("conv2d+relu+max_pool2d").

        Off by default, so every module's own ``forward`` runs and the graph has one node per
        module. Values and gradients are the same either way; ``tg.trace`` and ``tg.draw`` mark a
        fused node and print every formula it applies. ``fuse(False)`` turns it off again. The
        recipes and the ``tensorgrad`` command train fused. Returns the module.
        """
        for module in self.modules():
            if isinstance(module, Sequential):
                module.fuse_activations = bool(mode)
        return self

    def to(self, dtype: Any) -> "Module":
        """Convert every parameter, and its gradient if it has one, to ``dtype`` (e.g. np.float64 for
        a gradient check), as PyTorch's ``module.to(dtype)``. The Parameter objects stay the same
        (an optimizer made before still updates them); each gets a new array. Returns the module."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype)
            mark_changed(p)
        for buffer in self.buffers():  # floating buffers too (a step counter stays an integer)
            if buffer.dtype.kind == "f":
                buffer.data = buffer.data.astype(dtype)
        return self

    # ------------------------------------------------------------------------------ state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter's and persistent buffer's array under its dotted name, module
        by module (PyTorch's keys, in PyTorch's order)."""
        return OrderedDict((name, t.data.copy()) for name, t in self._state_tensors())

    def _state_tensors(self) -> Iterator[tuple[str, Tensor]]:
        """What state_dict saves: each module's parameters, then its persistent buffers."""
        seen: set[int] = set()
        for module_name, module in self.named_modules():
            own = list(module._parameters.items()) + [
                (n, b) for n, b in module.__dict__.get("_buffers", {}).items()
                if b is not None and n not in module.__dict__.get("_non_persistent", ())]
            for name, tensor in own:
                if id(tensor) not in seen:
                    seen.add(id(tensor))
                    yield (f"{module_name}.{name}" if module_name else name), tensor

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> "Module":
        """Copy arrays into the parameters (in place: optimizers keep working).

        Raises:
            RuntimeError: listing every missing key, unexpected key (when ``strict``) and
                shape mismatch at once.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict for {type(self).__name__}: expects a mapping of names to arrays "
                            f"(what state_dict() returns), got {type(state_dict).__name__}")
        own = dict(self._state_tensors())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        arrays = {k: _array(state_dict[k]) for k in own if k in state_dict}
        wrong_shape = [f"{k}: checkpoint {a.shape} vs model {own[k].shape}"
                       for k, a in arrays.items() if a.shape != own[k].shape]
        # checked for every key before any is copied, so a refused load changes nothing
        wrong_dtype = [f"{k}: checkpoint {a.dtype} cannot become the model's {own[k].dtype}"
                       for k, a in arrays.items() if not np.can_cast(a.dtype, own[k].dtype, "same_kind")]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if wrong_shape:
            problems.append("shape mismatch: " + "; ".join(wrong_shape))
        if wrong_dtype:
            problems.append("dtype mismatch: " + "; ".join(wrong_dtype))
        if problems:
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems))
        for name, param in own.items():
            if name in arrays:
                np.copyto(param.data, arrays[name], casting="same_kind")
                mark_changed(param)
        return self

    # ------------------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def _repr_html_(self) -> str:
        """How Jupyter shows a model: one row per module (its dotted name, class and settings) with
        the parameters it holds itself, and the total, as Keras' summary()."""
        rows = []
        for path, module in self.named_modules():
            depth = path.count(".") + (1 if path else 0)
            own = ", ".join(f"{name} {tuple(p.shape)}" for name, p in module._parameters.items())
            count = sum(p.size for p in module._parameters.values())
            rows.append(f"<tr><td style='padding-left:{depth}em'>{html.escape(path or '(model)')}</td>"
                        f"<td>{type(module).__name__}</td><td>{html.escape(module.extra_repr())}</td>"
                        f"<td>{html.escape(own)}</td><td>{count:,}</td></tr>")
        return ("<table><thead><tr><th>name</th><th>module</th><th>settings</th><th>parameters</th>"
                f"<th>numbers</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"<p>{self.num_parameters():,} numbers to learn</p>")

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + "\n" + "\n".join(lines) + "\n)"


def _array(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _buffer_tensor(owner: str, name: str, value: Any) -> Tensor | None:
    """A buffer's value as a Tensor without grad (an array or a number is wrapped), or None."""
    if value is None:
        return None
    if isinstance(value, Parameter):
        raise TypeError(f"{owner}: buffer {name!r} cannot hold a Parameter (register it as a parameter)")
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"{owner}: buffer {name!r} must not require grad (buffers are not learned); detach() it")
        return value
    return Tensor(np.asarray(value))


class ModuleList(Module):
    """A list of modules whose parameters are registered (for models built in a loop)."""

    def __init__(self, modules: list[Module] | None = None) -> None:
        super().__init__()
        for module in modules or []:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end (its parameters are registered under the next index)."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: item {len(self._modules)} is a {type(module).__name__}, not a Module")
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):  # a slice is a container of the same kind, as in PyTorch
            return type(self)(*modules[index]) if isinstance(self, Sequential) else ModuleList(modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after the other: ``Sequential(Linear(784, 128), ReLU(), Linear(128, 10))``.

    Sub-modules are named "0", "1", ... (state_dict keys "0.weight", ...), or by an OrderedDict.

    By default each module runs its own ``forward``: one graph node per module. After
    ``model.fuse()`` (see Module.fuse), a ``Linear`` or ``Conv2d`` followed directly by a ``ReLU``,
    ``Sigmoid`` or ``Tanh`` runs as one fused node ("linear+relu", "conv2d+relu"): the activation is
    applied while the layer's output is still in the CPU cache, and backward applies its
    derivative the same way. A ``Conv2d`` (then a ``ReLU``) then a ``MaxPool2d`` with stride =
    kernel and no padding fuse the pooling too ("conv2d+relu+max_pool2d"): the convolution's
    output is pooled chunk by chunk and never stored whole. Values and gradients are exactly those
    of the modules run one after the other; only the graph has fewer nodes.
    """

    fuse_activations: bool = False  # set by Module.fuse()

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            super().__init__()
            for name, module in modules[0].items():
                setattr(self, name, module)
        else:
            super().__init__(list(modules))

    def forward(self, x: Any) -> Any:
        modules = tuple(self._modules.values())
        i = 0
        while i < len(modules):
            fused = self._fusion(modules, i) if self.fuse_activations else None
            if fused is None:
                x = modules[i](x)
                i += 1
            else:
                options, count = fused
                x = modules[i].forward_fused(x, **options)
                i += count
        return x

    @staticmethod
    def _fusion(modules: tuple[Module, ...], i: int) -> tuple[dict[str, Any], int] | None:
        """What modules[i] runs fused with the modules after it: the options of its
        ``forward_fused`` ({"activation": "relu", "max_pool": (2, 2)}) and how many modules that
        covers; None if nothing. Exact classes only (their own __dict__): a subclass may have
        changed forward(), and so may an instance (a forward patched onto it)."""
        fusable = _fusable(modules, i, "fusable_options")
        if fusable is None:
            return None
        options, j = {}, i + 1
        activation = _fusable(modules, j, "fusable_activation")
        if activation is not None and "activation" in fusable:
            options["activation"], j = activation, j + 1
        if "max_pool" in fusable and options.get("activation") in MAX_POOL_FUSES_AFTER:
            pool = _fusable(modules, j, "fusable_max_pool")  # None unless stride = kernel, no padding
            if pool is not None:
                options["max_pool"], j = pool, j + 1
        return (options, j - i) if options else None


def _fusable(modules: tuple[Module, ...], j: int, attribute: str) -> Any:
    """What modules[j] offers for fusing (its ``attribute``, which its own class must define:
    the options of a layer, what a module after it adds), or None: past the end, a subclass, or
    an instance with its own forward."""
    if j >= len(modules) or "forward" in modules[j].__dict__ or attribute not in type(modules[j]).__dict__:
        return None
    if modules[j].__dict__.get("_hooks"):  # a module with hooks runs on its own, so that they fire
        return None
    return getattr(modules[j], attribute)


class _HookIdentity(Function):
    """The identity, whose backward shows the gradient to a module's backward hook first."""
    name = "backward_hook"
    formula = "∂a = g   (shown to the module's backward hook)"

    def forward(self, a, on_grad):
        self.on_grad = on_grad
        return a

    def backward(self, g):
        replaced = self.on_grad(g)
        return g if replaced is None else replaced


class _BackwardHookCatcher:
    """For ``register_full_backward_hook``: an identity node on each tensor input and on the
    output of one forward call catches their gradients; the hooks run once every input's
    gradient is known (or, if no input needs one, once the output's is)."""

    def __init__(self, module: Module, hooks: list) -> None:
        self.module, self.hooks = module, hooks
        self.grad_output: Any = None
        self.grad_inputs: list[Any] = []
        self.expected = 0
        self.waiting = 0

    def wrap_inputs(self, args: tuple) -> tuple:
        wrapped = []
        for arg in args:
            if isinstance(arg, Tensor):
                position = len(self.grad_inputs)
                self.grad_inputs.append(None)
                if arg.requires_grad:
                    self.expected += 1
                    arg = _HookIdentity.apply(arg, on_grad=functools.partial(self._input_grad, position))
            wrapped.append(arg)
        self.waiting = self.expected
        return tuple(wrapped)

    def wrap_output(self, output: Any) -> Any:
        if isinstance(output, Tensor) and output.requires_grad:
            return _HookIdentity.apply(output, on_grad=self._output_grad)
        return output

    def _output_grad(self, grad: np.ndarray) -> None:
        self.grad_output = grad
        if not self.expected:
            self._run_hooks()

    def _input_grad(self, position: int, grad: np.ndarray) -> Any:
        self.grad_inputs[position] = grad
        self.waiting -= 1
        if self.waiting:
            return None
        self.waiting = self.expected  # ready for another backward through the same graph
        replaced = self._run_hooks()
        if replaced is None:
            return None
        if self.expected != 1:
            raise GraphError(f"{type(self.module).__name__}: a backward hook can replace grad_input only for a "
                             "module with one tensor input that requires grad")
        return replaced[position]

    def _run_hooks(self) -> Any:
        replaced = None
        for hook in self.hooks:
            result = hook(self.module, tuple(self.grad_inputs), (self.grad_output,))
            if result is not None:
                replaced = result
                self.grad_inputs = list(result)
        return replaced


class ModuleDict(Module):
    """Modules by name, registered (state_dict keys "name.weight", ...), in insertion order."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: item {name!r} is a {type(module).__name__}, not a Module")
        setattr(self, name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Any:
        return self._modules.keys()

    def values(self) -> Any:
        return self._modules.values()

    def items(self) -> Any:
        return self._modules.items()


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", ... (what an optimizer and state_dict see)."""

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        for p in parameters or []:
            self.append(p)

    def append(self, value: Any) -> "ParameterList":
        """Add a parameter (a Tensor or array becomes a Parameter) at the end."""
        setattr(self, str(len(self._parameters)), value if isinstance(value, Parameter) else Parameter(value))
        return self

    def __getitem__(self, index: int) -> Parameter:
        return list(self._parameters.values())[index]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())
