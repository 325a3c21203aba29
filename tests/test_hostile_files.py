"""Files that could hang or flood a reader: FIFOs, devices, links out of the run directory."""

import os

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from cnnlab.data.image import read_image
from cnnlab.data.imagefolder import scan
from cnnlab.errors import DataError
from cnnlab.fileio import read_regular
from cnnlab.report.figures import figure_to_png
from cnnlab.report.html import _figure_file, _other_figures

fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")


@fifo_only
def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")  # opening it for reading would block until a writer came
    with pytest.raises(DataError, match="not a regular file"):
        read_regular(tmp_path / "pipe.png", limit=100)
    with pytest.raises(DataError, match="not a regular file"):
        read_image(tmp_path / "pipe.png", 1)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_is_refused():
    with pytest.raises(DataError, match="not a regular file"):
        read_regular("/dev/zero", limit=100)


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(DataError, match="over the limit of 100 bytes"):
        read_regular(tmp_path / "big", limit=100)
    assert read_regular(tmp_path / "big", limit=101) == b"x" * 101


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret").write_text("password")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").symlink_to(tmp_path / "secret")
    with pytest.raises(DataError, match="points outside"):
        read_regular(tmp_path / "figures" / "a.png", limit=100, inside=tmp_path / "figures")


@fifo_only
def test_the_report_embeds_only_regular_figures_inside_the_run(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    fig = plt.figure()
    png = figure_to_png(fig)
    (figures / "good.png").write_bytes(png)
    (tmp_path / "secret").write_text("root:x:0:0")
    (figures / "leak.png").symlink_to(tmp_path / "secret")
    os.mkfifo(figures / "pipe.png")
    assert _figure_file(tmp_path, "good.png") == png
    assert _figure_file(tmp_path, "leak.png") is None
    assert _figure_file(tmp_path, "pipe.png") is None
    shown = _other_figures(tmp_path, set())
    assert "good" in shown and "leak" not in shown and "pipe" not in shown


@fifo_only
def test_an_image_folder_skips_fifos(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / name / "1.png")
    os.mkfifo(tmp_path / "a" / "2.png")
    classes, paths, _ = scan(tmp_path)
    assert classes == ["a", "b"] and [p.name for p in paths] == ["1.png", "1.png"]
