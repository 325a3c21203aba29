"""The fenced examples of the docs, and a runner that executes them page by page.

The pages run in the order of the site's navigation (README.md last), their
``bash`` and ``python`` blocks in order, all in one working directory, as a
reader following the guide types them into one shell: later blocks use the
runs earlier ones made (``runs/lenet5`` of the training page), and a page that
starts from another page's run says so with ``test -d RUN || cnnlab train ...``
so that it also runs alone.  Python blocks share one namespace per page.
``cnnlab ...`` lines run in this process through `cnnlab.cli.main` (starting
a Python per command would cost seconds each);
``python -c "..."`` runs in this process too; any other line (``ls``, ``head``,
a here-document) runs in ``bash``.  Beside the working directory sits a link
``../shared`` to the shared data sets, so the docs' ``../shared/datasets/...``
paths resolve there as they do from a checkout.

A block is marked by an HTML comment on the line before its fence, which the
site does not show (docs/architecture.md, "Docs that run")::

    <!-- docs-test: skip reason="starts a TensorBoard server" -->
    <!-- docs-test: slow reason="trains ResNet-20 on CIFAR-10 for 40 epochs" -->
    <!-- docs-test: error -->
    <!-- docs-test: output -->

``skip`` never runs, ``slow`` runs only under ``-m slow``, ``error`` must fail
(a documented refusal), and ``output`` on a ``text`` block says that it is
exactly what the previous block prints (its error message included).  A
block that names ``../shared`` is skipped where the shared data sets are
absent.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pages() -> list[Path]:
    """docs/*.md in the order of mkdocs.yml's nav (pages outside it after), then README.md."""
    nav = re.findall(r"^\s*-\s[^:\n]+:\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    listed = [ROOT / "docs" / name for name in nav if (ROOT / "docs" / name).is_file()]
    others = [path for path in sorted((ROOT / "docs").glob("*.md")) if path not in listed]
    return [*listed, *others, ROOT / "README.md"]


PAGES = _pages()
SHARED = ROOT.parent / "shared"

FENCE = re.compile(r"^(```+|~~~+)[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(
    r"<!--\s*docs-test:\s*(?P<kind>skip|slow|error|output)(?:\s+reason=\"(?P<reason>[^\"]*)\")?\s*-->"
)
SHELL = {"bash", "sh", "shell", "console"}
RUNNABLE = SHELL | {"python"}
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and code, and its marker."""

    page: Path
    line: int
    language: str
    code: str
    marker: str | None = None
    reason: str | None = None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def needs_shared(self) -> bool:
        return "../shared" in self.code


@functools.cache
def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, with the marker on the line before its fence.

    Read once per session, so that a test's index stays the block it was
    collected for while someone edits the page.
    """
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        found.append(
            Block(
                page,
                text.count("\n", 0, match.start()) + 1,
                match.group(2).lower(),
                match.group(3),
                marker and marker.group("kind"),
                marker and marker.group("reason"),
            )
        )
    return found


def commands(code: str) -> list[str]:
    """The shell commands of a block: continuations joined, quotes and here-documents whole."""
    lines = re.sub(r"\s*\\\n\s*", " ", code).splitlines()
    found: list[str] = []
    while lines:
        command = lines.pop(0)
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", command)
        if heredoc:
            while lines:
                line = lines.pop(0)
                command += "\n" + line
                if line.strip() == heredoc.group(1):
                    break
        else:
            while lines and not _complete(command):
                command += "\n" + lines.pop(0)
        if command.strip() and not command.strip().startswith("#"):
            found.append(command.strip())
    return found


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


@dataclass
class Page:
    """A page's working directory, environment and Python namespace, and what has run."""

    path: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    namespace: dict = field(default_factory=lambda: {"__name__": "__docs__"})
    outputs: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    models: dict = field(default_factory=dict)  # the models its blocks registered

    def run(self, index: int) -> str:
        """Run the page's runnable default blocks before ``index``, then block ``index``.

        Returns what the block printed.  Blocks run once; a block whose run failed
        fails every later block of its page with the first error.
        """
        page_blocks = blocks(self.path)
        for earlier in range(index):
            block = page_blocks[earlier]
            if earlier not in self.outputs and runs_by_default(block):
                self._run_one(earlier, block)
        if index not in self.outputs:
            self._run_one(index, page_blocks[index])
        if self.failed:
            first = min(self.failed)
            raise AssertionError(f"{page_blocks[first].name} failed:\n{self.failed[first]}")
        return self.outputs[index]

    def _run_one(self, index: int, block: Block) -> None:
        out = io.StringIO()
        try:
            with self._inside(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                if block.language == "python":
                    exec(compile(block.code, block.name, "exec"), self.namespace)
                else:
                    for command in commands(block.code):
                        self._shell(command)
        except BaseException as error:  # reported with the block's output, as the test's failure
            if block.marker != "error":
                printed = out.getvalue()
                self.failed[index] = f"{type(error).__name__}: {error}\n--- output ---\n{printed}"
        else:
            if block.marker == "error":
                self.failed[index] = f"marked docs-test: error, but it succeeded:\n{out.getvalue()}"
        self.outputs[index] = out.getvalue()

    @contextlib.contextmanager
    def _inside(self):
        import torch

        from cnnlab.models import registry

        cwd, environ = Path.cwd(), dict(os.environ)
        threads, models = torch.get_num_threads(), dict(registry._REGISTRY)
        os.chdir(self.workdir)
        os.environ.update(self.env)
        registry._REGISTRY.update(self.models)
        try:
            yield
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(environ)
            torch.set_num_threads(threads)
            self.models = {k: v for k, v in registry._REGISTRY.items() if k not in models}
            registry._REGISTRY.clear()
            registry._REGISTRY.update(models)

    def _shell(self, command: str) -> None:
        tokens = shlex.split(command, comments=True) if "\n" not in command else None
        if tokens and tokens[0] == "export":
            for assignment in tokens[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = os.environ[name] = value
            return
        if tokens and tokens[:2] == ["test", "-d"] and tokens[3:4] == ["||"]:
            if Path(tokens[2]).is_dir():
                return
            command, tokens = shlex.join(tokens[4:]), tokens[4:]
        if tokens and tokens[0] == "cnnlab" and not set(tokens) & {"|", "&&", ";", ">"}:
            from cnnlab.cli import main

            status = main(tokens[1:])
            assert status == 0, f"`{command}` exited with status {status}"
            return
        python = shlex.split(command)
        if python[:2] in (["python", "-c"], ["python3", "-c"]) and len(python) == 3:
            exec(compile(python[2], "<python -c>", "exec"), {"__name__": "__main__"})
            return
        environment = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
        result = subprocess.run(
            ["bash", "-e", "-c", command], capture_output=True, text=True, env=environment
        )
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
        assert result.returncode == 0, f"`{command}` exited with status {result.returncode}"


def runs_by_default(block: Block) -> bool:
    """Whether a default test session runs ``block`` (not marked, runnable, data present)."""
    if block.language not in RUNNABLE or block.marker in ("skip", "slow"):
        return False
    return not (block.needs_shared and not (SHARED / "datasets").is_dir())
