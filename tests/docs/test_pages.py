"""Every fenced command and Python example of docs/ and README.md runs (see pages.py).

One test per block, pages in the site's order; all blocks run in one working
directory, each page's Python blocks in one namespace (a session-scoped `Page`
per page), and a test run alone first runs its page's default blocks before it.
Blocks marked ``slow`` run under ``-m slow``; blocks marked ``skip`` and those
needing ../shared where it is absent are reported as skipped with their reason.
A ``text`` block marked ``output`` must equal what the block before it printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.pages import PAGES, ROOT, RUNNABLE, SHARED, Block, Page, blocks


def _cases():
    for path in PAGES:
        for index, block in enumerate(blocks(path)):
            if block.language in RUNNABLE or block.marker == "output":
                marks = [pytest.mark.slow] if block.marker == "slow" else []
                yield pytest.param(path, index, id=block.name, marks=marks)


@pytest.fixture(scope="session")
def pages(tmp_path_factory):
    """The `Page` of a docs page, made once per session; all pages share one folder."""
    folder = tmp_path_factory.mktemp("docs")
    (folder / "shared").symlink_to(SHARED, target_is_directory=True)
    (folder / "main").mkdir()
    made: dict[Path, Page] = {}

    def page(path: Path) -> Page:
        if path not in made:
            made[path] = Page(path, folder / "main")
        return made[path]

    return page


def _skip_reason(block: Block) -> str | None:
    if block.marker == "skip":
        return f"marked docs-test: skip ({block.reason or 'no reason given'})"
    if block.needs_shared and not (SHARED / "datasets").is_dir():
        return f"{SHARED / 'datasets'} is absent (the shared data sets are not on this machine)"
    return None


@pytest.mark.parametrize(("path", "index"), list(_cases()))
def test_docs_block(pages, path, index):
    page_blocks = blocks(path)
    block = page_blocks[index]
    if reason := _skip_reason(block):
        pytest.skip(reason)
    if block.marker != "output":
        pages(path).run(index)
        return
    before = index - 1
    while before >= 0 and page_blocks[before].language not in RUNNABLE:
        before -= 1
    assert before >= 0, f"{block.name}: an output block with no command before it"
    if reason := _skip_reason(page_blocks[before]):
        pytest.skip(reason)
    printed = pages(path).run(before)
    assert _lines(printed) == _lines(block.code), f"{block.name} is not what the block prints"


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def test_markers_are_parsed(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n"
        '<!-- docs-test: skip reason="needs a GPU" -->\n'
        '```bash\ncnnlab train \\\n  --epochs 1\npython -c "\nprint(1)\n"\n```\n\n'
        "```python\nprint(2)\n```\n"
        "<!-- docs-test: output -->\n```text\n2\n```\n"
    )
    found = blocks(page)
    assert [(b.language, b.marker, b.reason) for b in found] == [
        ("bash", "skip", "needs a GPU"),
        ("python", None, None),
        ("text", "output", None),
    ]
    assert found[0].line == 4 and found[1].line == 12
    from tests.docs.pages import commands

    assert commands(found[0].code) == ["cnnlab train --epochs 1", 'python -c "\nprint(1)\n"']


def test_every_page_has_its_runnable_blocks_collected():
    names = {case.id for case in _cases()}
    assert any(name.startswith("docs/train.md:") for name in names)
    assert any(name.startswith("README.md:") for name in names)
    assert ROOT / "README.md" in PAGES
