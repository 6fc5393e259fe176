"""The app talks to the embedded engine only through its adapter."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {ROOT / "invoices" / "backends" / "embedded.py"}


def _imports(module: Path):
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_invoices_imports_billing_engine_only_in_the_embedded_adapter():
    offenders = [
        str(module.relative_to(ROOT))
        for module in (ROOT / "invoices").rglob("*.py")
        if module not in ALLOWED
        and any(name.split(".")[0] == "billing_engine" for name in _imports(module))
    ]
    assert offenders == []


def test_http_lives_only_in_the_backends_package():
    offenders = [
        str(module.relative_to(ROOT))
        for folder in ("invoices", "billing_admin", "billing_engine", "billing_rules")
        for module in (ROOT / folder).rglob("*.py")
        if "backends" not in module.parts
        and any(name.split(".")[0] in ("httpx", "requests", "urllib3") for name in _imports(module))
    ]
    assert offenders == []
