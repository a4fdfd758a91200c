"""Audit every course document's hand-derived gradients against autograd and finite differences.

The same as `tensorgrad audit`. Documents 002 and 003 contain a mistake each; the table says
which parameter, by how much, and the likely cause.
Run:  python examples/audit_documents.py
"""
from tensorgrad.teaching.audit import format_audit, run_audit

print(format_audit(run_audit(seed=0)))
