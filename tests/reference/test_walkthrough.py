"""docs/reference.md stays true: its Python blocks, run in order, print what it shows."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
BLOCK = re.compile(r"^```(python|text)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_every_python_block_prints_the_text_block_under_it():
    blocks = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert [lang for lang, _ in blocks].count("python") >= 5
    namespace: dict = {}
    printed = None
    with np.printoptions(precision=2, suppress=True):
        for lang, body in blocks:
            if lang == "python":
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(body, namespace)
                printed = out.getvalue()
            else:
                assert printed == body, (
                    f"docs/reference.md shows\n{body}\nbut the code prints\n{printed}"
                )
                printed = None
