"""How the packages hang together: no module imports another module's private names.

A leading underscore says "nobody else relies on this"; an import of such a name from another
module makes the promise false without the owner knowing. When a name is genuinely shared,
it is made public where it is defined.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("station", "sync", "tui")


def private_imports(source: str) -> list[tuple[int, str]]:
    """(line, "module:name") for each `from module import _name` in `source`.

    Dunder names (`__version__`) are public by convention; `module._name` attribute use is
    out of scope (only what the import statement names).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            dunder = alias.name.startswith("__") and alias.name.endswith("__")
            if alias.name.startswith("_") and not dunder:
                found.append((node.lineno, f"{module}:{alias.name}"))
    return found


def test_the_guard_finds_a_private_import() -> None:
    source = (
        "from __future__ import annotations\n"
        "import os._private_thing\n"  # a plain import names a module, not a private member
        "from station.cli import main, _Context\n"
        "from sync import __version__\n"
        "def late():\n"
        "    from .cases import _as_of\n"
        "    return os.path._joinrealpath\n"
    )
    assert private_imports(source) == [(3, "station.cli:_Context"), (6, ".cases:_as_of")]


def test_the_guard_passes_public_imports() -> None:
    assert private_imports("from station.cli.common import Context, emit\nimport sync\n") == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_another_modules_private_names(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "\n".join(offenders)
