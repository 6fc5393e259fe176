"""The app talks to the embedded engine only through its adapter."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED = ROOT / "invoices" / "backends" / "embedded"
ALLOWED = set(EMBEDDED.glob("*.py"))


def _imports(module: Path):
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_invoices_imports_billing_engine_only_in_the_embedded_adapter():
    assert ALLOWED, "the embedded adapter package moved"
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


# Apps that are not capabilities built on top of invoices: the project package, the engine (the
# embedded backend, reached only through its adapter) and the pure rules library.
FOUNDATIONS = {"invoices", "billing_admin", "billing_engine", "billing_rules"}


def capability_apps() -> set[str]:
    """Every app beside `invoices` with its own models and pages (bill runs, documents, ...)."""
    return {
        path.parent.name for path in ROOT.glob("*/apps.py") if path.parent.name not in FOUNDATIONS
    }


def _importers_of(packages: set[str]) -> list[str]:
    return [
        str(module.relative_to(ROOT))
        for module in (ROOT / "invoices").rglob("*.py")
        if any(name.split(".")[0] in packages for name in _imports(module))
    ]


def test_invoices_never_imports_the_apps_built_on_it():
    assert _importers_of(capability_apps()) == []


def test_the_capability_check_would_see_an_import():
    # The scan is real: it finds the one sanctioned import of the engine.
    assert sorted(_importers_of({"billing_engine"})) == [
        "invoices/backends/embedded/adhoc.py",
        "invoices/backends/embedded/common.py",
        "invoices/backends/embedded/cycle.py",
    ]
