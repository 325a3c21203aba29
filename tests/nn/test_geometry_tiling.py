"""Layers that do not tile their input (cnnlab.nn.geometry.tiling_note, unseen_inputs)."""

import pytest
import torch

from cnnlab.nn.geometry import tiling_note, unseen_inputs


@pytest.mark.parametrize(
    ("n", "kernel", "stride", "padding"),
    [(224, 11, 4, 0), (227, 11, 4, 0), (56, 3, 2, 1), (54, 3, 2, 0), (10, 4, 3, 1), (9, 2, 2, 0)],
)
def test_unseen_inputs_are_the_pixels_no_window_of_torch_covers(n, kernel, stride, padding):
    x = torch.zeros(1, 1, 1, n, requires_grad=True)
    torch.nn.functional.conv2d(
        x, torch.ones(1, 1, 1, kernel), stride=(1, stride), padding=(0, padding)
    ).sum().backward()
    untouched = int((x.grad[0, 0, 0] == 0).sum())  # only trailing pixels can be missed
    assert unseen_inputs(n, kernel, stride, padding) == untouched


def test_note_gives_the_formula_and_what_would_fit():
    note = tiling_note(224, 11, 4)
    assert note.startswith("(224 − 11 + 2·0)/4 + 1 = 54.25 is not an integer")
    assert "rounds down to 54" in note and "223 or 227 fits" in note
    assert tiling_note(227, 11, 4) is None
    assert tiling_note(56, 3, 2, 1) is None  # the last window only overhangs the padding
