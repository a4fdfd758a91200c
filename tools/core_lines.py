"""How long the core is to read: lines per file, all of them and code alone.

    python tools/core_lines.py                 # the core: autograd.py, tensor.py, creation.py, errors.py, ops/
    python tools/core_lines.py FILE [FILE ...] # any files

"Code" leaves out docstrings, comments and blank lines: what is left to read once the prose is
read. Used to report the core's size before and after a change to it.
"""
from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ["tensorgrad/autograd.py", "tensorgrad/tensor.py", "tensorgrad/creation.py", "tensorgrad/errors.py",
        "tensorgrad/ops/*.py"]


def counts(path: Path) -> tuple[int, int]:
    """(all lines, code lines) of one Python file."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    code: set[int] = set()
    skipped = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(source.splitlines()), len(code - docstrings)


def main(arguments: list[str]) -> None:
    paths = [Path(a) for a in arguments] or sorted({p.relative_to(ROOT) for pattern in CORE for p in ROOT.glob(pattern)})
    total = [0, 0]
    for path in paths:
        lines, code = counts(ROOT / path if not path.is_absolute() and not path.exists() else path)
        total[0], total[1] = total[0] + lines, total[1] + code
        print(f"{lines:6d} {code:6d}  {path}")
    print(f"{total[0]:6d} {total[1]:6d}  total (all lines, code lines without docstrings, comments and blanks)")


if __name__ == "__main__":
    main(sys.argv[1:])
