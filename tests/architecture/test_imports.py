"""Rules of the package layers that import-linter cannot express.

The layers themselves (core at the bottom, features, api, the composition root on
top) are the import-linter contracts in pyproject.toml, run by scripts/check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ingest", "simulators", "models", "dimming", "accounts", "api", "streetlight")


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py"))


def _imports_from_other_packages(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) for each `from other_package... import name` in `path`."""
    own = path.relative_to(REPO_ROOT).parts[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in PACKAGES and top != own:
                found.extend((node.lineno, node.module, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_module_imports_a_private_name_of_another_package(path: Path) -> None:
    private = [
        f"{path.name}:{line}: from {module} import {name}"
        for line, module, name in _imports_from_other_packages(path)
        if name.startswith("_")
        and not name.startswith("__")
        or any(part.startswith("_") and not part.startswith("__") for part in module.split("."))
    ]
    assert private == []


def test_the_project_has_the_layered_packages() -> None:
    # The contract in pyproject.toml names these packages; a renamed one must be renamed there too.
    for package in PACKAGES:
        assert (REPO_ROOT / package / "__init__.py").is_file(), package
