"""The documentation site: ``mkdocs build --strict`` passes, its pages load offline.

The site is docs/ with the API reference generated from the docstrings
(mkdocstrings; ``mkdocs.yml`` at the root).  Skipped where MkDocs is not
installed (the ``docs`` extra; the ``test`` extra has it, so CI runs it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, probe, serve

pytest.importorskip("mkdocs", reason="MkDocs is not installed (pip install -e '.[docs]')")
pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"]
    result = subprocess.run(
        [*command, "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_every_page_of_the_guide_is_built_and_the_api_reference_has_the_trainer(site):
    for page in sorted((ROOT / "docs").glob("*.md")):
        name = "" if page.stem == "index" else page.stem
        assert (site / name / "index.html").is_file(), page.name
    api = (site / "api" / "index.html").read_text()
    assert "cnnlab.compose.Trainer" in api and "wilson_interval" in api


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_index_page_loads_offline(site, tmp_path):
    index = site / "index.html"
    with serve(site) as url:
        seen, result = probe(index.read_text(), tmp_path, directory=site, base_url=url)
    assert seen["external"] == [] and seen["broken"] == 0
    assert "Uncaught" not in result.stderr
