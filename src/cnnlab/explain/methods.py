"""The attribution methods by name, as the CLI and the benchmark call them.

Every entry has the call shape ``method(model, x, target, **options)``; those in
`LAYER_METHODS` also take ``layer=``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from cnnlab.errors import check_choice
from cnnlab.explain.cam import cam, grad_cam, grad_cam_plus_plus, guided_grad_cam
from cnnlab.explain.gradients import (
    deconvnet,
    guided_backprop,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from cnnlab.explain.perturbation import lime, occlusion

Method = Callable[..., torch.Tensor]

ATTRIBUTIONS: dict[str, Method] = {
    "saliency": saliency,
    "deconvnet": deconvnet,
    "guided-backprop": guided_backprop,
    "integrated-gradients": integrated_gradients,
    "smoothgrad": smoothgrad,
    "cam": cam,
    "grad-cam": grad_cam,
    "guided-grad-cam": guided_grad_cam,
    "grad-cam++": grad_cam_plus_plus,
    "occlusion": occlusion,
    "lime": lime,
}
LAYER_METHODS = frozenset({"cam", "grad-cam", "guided-grad-cam", "grad-cam++"})


def get_method(name: str) -> Method:
    """The attribution method called ``name`` (``_`` may stand for ``-``)."""
    return ATTRIBUTIONS[check_choice("explanation method", name.replace("_", "-"), ATTRIBUTIONS)]
