"""The package's layers only import downward, with no import cycle, and the core imports nothing
it does not need: no graphviz, no matplotlib, no change to process-wide settings."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tensorgrad"

#: lower numbers are lower layers; a module may import its own layer or below, never above
LAYERS = [
    ("tensorgrad._version", 0), ("tensorgrad.errors", 0), ("tensorgrad.speed", 0),
    ("tensorgrad.autograd", 1),
    ("tensorgrad.ops", 2),
    ("tensorgrad.tensor", 3), ("tensorgrad.creation", 3), ("tensorgrad.functions", 3),
    ("tensorgrad.numpy_protocol", 3),
    ("tensorgrad.nn", 4), ("tensorgrad.optim", 4), ("tensorgrad.data", 4),
    ("tensorgrad.teaching", 5), ("tensorgrad.onnx", 5),
    ("tensorgrad.training", 6), ("tensorgrad.interop", 6),
    ("tensorgrad.__main__", 7), ("tensorgrad", 7),  # the package's __init__: the public API, on top
]


def layer_of(module: str) -> int:
    if module == "tensorgrad":
        return 7
    ranks = [rank for prefix, rank in LAYERS if prefix != "tensorgrad" and (module == prefix or module.startswith(prefix + "."))]
    return max(ranks, default=-1)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_time_imports(path: Path) -> set[str]:
    """The tensorgrad modules ``path`` imports when it is imported: module-level statements only
    (an import inside a function runs when called; one under ``if TYPE_CHECKING`` never)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    statements = list(ast.parse(path.read_text()).body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.If, ast.Try)):
            statements.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            statements.extend(h for handler in getattr(node, "handlers", []) for h in handler.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("tensorgrad"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("tensorgrad"):
                for alias in node.names:  # `from . import ops` imports a module; `from .x import y` x
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                              or (PACKAGE.parent / candidate.replace(".", "/")).is_dir() else base)
    return found


MODULES = {module_name(path): import_time_imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) < 0] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_or_below(module):
    upward = [imported for imported in MODULES[module] if layer_of(imported) > layer_of(module)]
    assert upward == [], f"{module} (layer {layer_of(module)}) imports {upward} from above"


def test_the_ops_import_no_tensor_and_the_engine_no_op():
    for module, imports in MODULES.items():
        if module.startswith("tensorgrad.ops"):
            assert "tensorgrad.tensor" not in imports, module
    assert not {m for m in MODULES["tensorgrad.autograd"] if m.startswith(("tensorgrad.ops", "tensorgrad.tensor"))}


def test_there_is_no_import_cycle():
    # iterative depth-first search, colouring modules grey while on the current path
    colour: dict[str, str] = {}
    for start in MODULES:
        if start in colour:
            continue
        stack = [(start, iter(sorted(MODULES[start])))]
        colour[start] = "grey"
        while stack:
            module, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[module] = "black"
                stack.pop()
            elif child in MODULES and colour.get(child) == "grey":
                cycle = [m for m, _ in stack] + [child]
                pytest.fail("import cycle: " + " -> ".join(cycle[cycle.index(child):]))
            elif child in MODULES and child not in colour:
                colour[child] = "grey"
                stack.append((child, iter(sorted(MODULES[child]))))


def test_the_core_works_without_graphviz_or_matplotlib_and_leaves_malloc_alone():
    code = """
import sys
sys.modules["graphviz"] = None      # importing it now fails, as on a machine without it
sys.modules["matplotlib"] = None
import tensorgrad as tg
x = tg.randn(3, 4, requires_grad=True)
(x.relu() * 2).sum().backward()
assert x.grad.shape == (3, 4)
assert tg.memory.settings() is None
try:
    tg.draw((x * 2).sum())
except ImportError as err:
    print("draw:", err)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PATH": "", "TENSORGRAD_KEEP_FREED_MEMORY": ""})
    assert done.returncode == 0, done.stderr
    assert "draw: " in done.stdout and "pip install graphviz" in done.stdout
