"""The gradients a backward pass returns."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Grads(NamedTuple):
    """∂E/∂input, ∂E/∂weight and ∂E/∂bias of a layer, given ∂E/∂output.

    ``bias`` is returned whether or not the forward pass used one: it is the
    output error summed over everything but the channel (or feature) axis.
    """

    input: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
