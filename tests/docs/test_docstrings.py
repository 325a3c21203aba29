"""Docstrings are Markdown: the API reference (mkdocstrings) renders them, not Sphinx.

Sphinx roles (``:func:`x```), directives (``.. math::``) and reST's ``::``
literal-block marker would show literally on the site; a Markdown code span
(`` `x` ``) and an indented block render.  A numpy-style entry written
``name : description`` would show its description as the entry's type.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cnnlab"
ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc|math|const|ref|doc|term):`")
DIRECTIVE = re.compile(r"^\s*\.\. [a-z-]+::", re.MULTILINE)
LITERAL_MARKER = re.compile(r"\S::$", re.MULTILINE)
SECTION = re.compile(r"^(Parameters|Attributes|Returns|Yields|Raises|Other Parameters)\n-{3,}\n")
DESCRIBED_AS_TYPE = re.compile(r"^\s*\w+(?:, \w+)* : .*(?:\.|;.*)$")


def _docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in node.body:  # the docstring and attribute docstrings
                value = getattr(statement, "value", None)
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.append((statement.lineno, value.value))
    return found


def _problems(text: str) -> list[str]:
    problems = [f"Sphinx role {m.group(0)}" for m in ROLE.finditer(text)]
    problems += [f"reST directive {m.group(0).strip()}" for m in DIRECTIVE.finditer(text)]
    problems += ["reST literal-block marker '::'" for _ in LITERAL_MARKER.finditer(text)]
    for section in re.split(r"\n(?=\w[\w ]*\n-{3,}\n)", text):
        if SECTION.match(section.lstrip()):
            entries = [line for line in section.splitlines()[2:] if DESCRIBED_AS_TYPE.match(line)]
            problems += [f"'name : description' entry {line.strip()!r}" for line in entries]
    return problems


def test_docstrings_hold_no_sphinx_markup():
    found = [
        f"{path.relative_to(SRC.parent)}:{line}: {problem}"
        for path in sorted(SRC.rglob("*.py"))
        for line, text in _docstrings(path)
        for problem in _problems(text)
    ]
    assert not found, "write Markdown in docstrings (`name`, indented blocks):\n" + "\n".join(found)


def test_the_checks_find_what_they_look_for():
    text = (
        "Uses :func:`f` and :class:`~a.B`::\n\n    code\n\n.. math:: x\n\n"
        "Parameters\n----------\nx : int\n    fine.\nseed : seeds the noise.\n"
    )
    assert _problems(text) == [
        "Sphinx role :func:`",
        "Sphinx role :class:`",
        "reST directive .. math::",
        "reST literal-block marker '::'",
        "'name : description' entry 'seed : seeds the noise.'",
    ]
    assert _problems("Uses `f`:\n\n    code\n\nParameters\n----------\nx : int\n    fine.\n") == []
