"""The README's map of the code and its operations table say what is there: every model and
every backend module is named, every module named exists, every command of ours (or of the task
backend) the README tells an operator to run has its row; the Makefile's phony targets are
its real ones."""

import re
from pathlib import Path

from django.apps import apps
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def what_is_where() -> str:
    section = README.split("## What is where", 1)[1]
    return section.split("```", 2)[1]


def named_modules() -> list[tuple[str, str]]:
    """(top-level folder, file name) for every `*.py` the map names, in the folder's lines."""
    found, folder = [], ""
    for text in what_is_where().splitlines():
        if text and not text.startswith(" "):
            folder = text.split()[0].rstrip("/")
        found += [(folder, name) for name in re.findall(r"\b(\w+\.py)\b", text)]
    return found


def test_every_module_the_map_names_exists_in_its_folder():
    named = named_modules()
    assert len(named) > 40, "the map's layout changed: read it again"
    missing = [
        f"{folder}/.../{name}" for folder, name in named if not any((ROOT / folder).rglob(name))
    ]
    assert missing == []


def entry(name: str) -> str:
    """The map's entry for `name` under invoices/: its line and the lines continuing it."""
    match = re.search(rf"\n  {re.escape(name)}\s(.*?)\n(?=  \S|\S)", what_is_where(), re.S)
    assert match, name
    return match.group(1)


def test_the_map_names_every_backend_module_and_every_model():
    backends = entry("backends/")
    unnamed = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "invoices" / "backends").rglob("*.py")
        if path.name != "__init__.py" and path.name not in backends
    ]
    assert unnamed == []
    models = entry("models.py")
    invoices_models = [m.__name__ for m in apps.get_app_config("invoices").get_models()]
    assert [name for name in invoices_models if not re.search(rf"\b{name}\b", models)] == []


def test_every_command_of_ours_the_readme_runs_has_a_row_in_operations():
    ours = {"invoices", "billruns", "documents", "policies", "billing_engine", "django_tasks_db"}
    commands = {name for name, app in get_commands().items() if app.split(".")[-1] in ours}
    operations = README.split("## Operations", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `[^`]*manage\.py (\w+)", operations, re.M))
    mentioned = set(re.findall(r"manage\.py (\w+)", README)) & commands
    assert "prune_db_task_results" in mentioned
    assert sorted(mentioned - rows) == []


def test_the_makefiles_phony_targets_are_its_targets():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    targets = set(re.findall(r"^([a-z][\w-]*):(?!=)", makefile, re.M))
    assert sorted(set(phony) - targets) == []
    assert {"run", "test", "help"} <= set(phony)
