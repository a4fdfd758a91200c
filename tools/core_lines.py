"""Count lines of the core: all lines, and code lines without docstrings/comments/blank."""
import ast, io, sys, tokenize, pathlib
def counts(path):
    src = pathlib.Path(path).read_text()
    total = len(src.splitlines())
    tree = ast.parse(src)
    doc_lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
                doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    code = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        for l in range(tok.start[0], tok.end[0] + 1):
            code.add(l)
    code -= doc_lines
    return total, len(code)
tot = [0, 0]
for p in sys.argv[1:]:
    t, c = counts(p); tot[0] += t; tot[1] += c
    print(f"{t:6d} {c:6d} {p}")
print(f"{tot[0]:6d} {tot[1]:6d} total (all lines, code lines without docstrings/comments/blanks)")
