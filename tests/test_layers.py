"""The rooms of DESIGN.md: import-linter's contracts hold and no module imports itself back.

The contracts are in pyproject.toml (``[tool.importlinter]``); ``lint-imports``
checks them from the command line too.
"""

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_import_linter_contracts_are_kept():
    command = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(command), "--config", str(PYPROJECT), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=PYPROJECT.parent,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["cnnlab"])
def test_no_module_imports_itself_back(package):
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    assert _cycles(graph) == []
