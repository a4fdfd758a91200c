"""Audit every course document's hand-derived gradients against autograd and finite differences.

The same as `tensorgrad audit`. Documents 002 and 003 contain a mistake each; the table says
which parameter, by how much, and the likely cause, and below it each finding is shown under the
document's own line of code that holds it. lang="es" (`tensorgrad audit --lang es`) says it in Spanish.
Run:  python examples/audit_documents.py
"""
from tensorgrad.teaching.audit import format_report, run_audit

print(format_report(run_audit(seed=0), lang="en"))
