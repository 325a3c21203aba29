"""The user guide stays true to the code: links resolve, documented commands and flags exist.

Fast and data-free: the docs are parsed as text and the commands are checked
against `cnnlab.cli.build_parser`; tests/docs/test_pages.py runs them.
"""

from __future__ import annotations

import argparse
import re
import shlex
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINKED_FILES = [*DOCS, ROOT / "README.md"]

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)[^\n]*\n(.*?)^\1\s*$", re.MULTILINE | re.DOTALL)
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "&>"}


def _relative_links(path: Path) -> list[str]:
    """Link targets that are paths (``file.md#anchor`` and ``#anchor`` included)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))  # code is not a link
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)  # http:, mailto: ...
    ]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _broken_link(source: Path, target: str) -> str | None:
    """Why ``target`` (a link in ``source``) is broken, or None."""
    file_part, _, anchor = target.partition("#")
    path = (source.parent / file_part) if file_part else source
    if not path.exists():
        return f"{target} (no such file)"
    if anchor and path.suffix == ".md" and anchor not in _anchors(path):
        return f"{target} (no heading with that anchor)"
    return None


def _shell_lines(text: str) -> list[str]:
    """Logical command lines of the fenced shell blocks (continuations joined, prompts cut)."""
    lines = []
    for match in FENCE.finditer(text):
        if match.group(2).lower() not in SHELL_LANGUAGES:
            continue
        block = re.sub(r"\s*\\\n\s*", " ", match.group(3))
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _cnnlab_invocations(line: str) -> list[tuple[str, list[str]]]:
    """(subcommand, its arguments) for every ``cnnlab`` or ``-m cnnlab`` call on ``line``."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:  # a line of a multi-line quoted string (python -c "...")
        tokens = line.split()
    calls = []
    for i, token in enumerate(tokens):
        program = token == "cnnlab" or token.endswith("/cnnlab")
        module = token == "cnnlab" and i > 0 and tokens[i - 1] == "-m"
        if not (program or module) or i + 1 >= len(tokens):
            continue
        args = []
        for arg in tokens[i + 2 :]:
            if arg in SHELL_OPERATORS or arg.startswith((">", "2>")):
                break
            args.append(arg)
        calls.append((tokens[i + 1], args))
    return calls


def _documented_calls() -> list[tuple[str, str, list[str]]]:
    calls = []
    for path in DOCS:
        for line in _shell_lines(path.read_text(encoding="utf-8")):
            for command, args in _cnnlab_invocations(line):
                calls.append((path.name, command, args))
    return calls


@cache
def _subparsers() -> dict[str, argparse.ArgumentParser]:
    from cnnlab.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("cnnlab's parser has no subcommands")


def test_docs_exist():
    names = {path.name for path in DOCS}
    assert "index.md" in names, "docs/index.md is missing"
    assert len(names) > 1, "docs/ holds no workflow pages"


@pytest.mark.parametrize("path", LINKED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(path):
    broken = [why for t in _relative_links(path) if (why := _broken_link(path, t))]
    assert not broken, f"{path.relative_to(ROOT)} has broken links: {broken}"


def test_anchor_helper():
    readme = ROOT / "README.md"
    assert "several-processes-and-machines" in _anchors(readme)
    assert _broken_link(readme, "#no-such-heading-here") is not None


def test_shell_parser_helpers():
    line = "OMP_NUM_THREADS=1 .venv/bin/cnnlab train --epochs 5 --out=/tmp/r | tail -3  # note"
    assert _cnnlab_invocations(line) == [("train", ["--epochs", "5", "--out=/tmp/r"])]
    assert _cnnlab_invocations("torchrun --nproc_per_node=2 -m cnnlab train --seed 1") == [
        ("train", ["--seed", "1"])
    ]
    text = "```bash\ncnnlab explain RUN \\\n  --method saliency\n```\n```text\ncnnlab nope\n```\n"
    assert _shell_lines(text) == ["cnnlab explain RUN --method saliency"]


def test_documented_commands_and_flags_exist():
    calls = _documented_calls()
    assert calls, "no `cnnlab ...` command found in the fenced bash blocks of docs/*.md"
    subparsers = _subparsers()
    problems = []
    for page, command, args in calls:
        if command in ("-h", "--help"):
            continue
        if command not in subparsers:
            problems.append(f"{page}: `cnnlab {command}` is not a subcommand")
            continue
        accepted = subparsers[command]._option_string_actions
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag.startswith("--") and flag not in accepted:
                problems.append(f"{page}: `cnnlab {command}` does not accept {flag}")
    assert not problems, "\n".join(problems)
