"""Understanding a trained CNN: attributions, class activation maps, features, synthesis.

Every attribution method has one call shape,
``method(model, x, target, **options) -> Tensor``, where ``model`` takes images
in [0, 1] (normalization inside, as ``load_run(dir).model``), ``x`` is an
(N, C, H, W) batch and ``target`` an int, a per-image LongTensor or a callable
on the model output (`cnnlab.explain.target`): Seg-Grad-CAM's region score
(`cnnlab.explain.segmentation`) and an embedding's similarity to an enrolled
identity (`cnnlab.explain.embedding`) are such callables.  Attributions have the
shape of ``x``; class activation maps are (N, 1, H, W).  Methods leave no hooks
behind and give the model back in its own train/eval mode and ``requires_grad``
state (`cnnlab.explain.context`).  Figures are in `cnnlab.report.explain_figures`.

Importing this package adds the "Explanations" section to run reports.
"""

from cnnlab.explain.cam import cam, grad_cam, grad_cam_plus_plus, guided_grad_cam
from cnnlab.explain.embedding import IdentityScore, identity_score
from cnnlab.explain.features import (
    codes,
    first_layer_filters,
    layer_activations,
    max_activating_patches,
    nearest_neighbours,
    tsne_embedding,
)
from cnnlab.explain.gradients import (
    deconvnet,
    gradient,
    guided_backprop,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from cnnlab.explain.methods import ATTRIBUTIONS, LAYER_METHODS, get_method
from cnnlab.explain.metrics import compare_methods, deletion_insertion
from cnnlab.explain.perturbation import lime, occlusion, superpixels
from cnnlab.explain.segmentation import RegionScore, region_mask, seg_grad_cam
from cnnlab.explain.synthesis import (
    class_model_visualization,
    shape_bias,
    style_transfer,
    vgg19_features,
)

__all__ = [
    "ATTRIBUTIONS",
    "LAYER_METHODS",
    "IdentityScore",
    "RegionScore",
    "cam",
    "class_model_visualization",
    "codes",
    "compare_methods",
    "deconvnet",
    "deletion_insertion",
    "first_layer_filters",
    "get_method",
    "grad_cam",
    "grad_cam_plus_plus",
    "gradient",
    "guided_backprop",
    "guided_grad_cam",
    "identity_score",
    "integrated_gradients",
    "layer_activations",
    "lime",
    "max_activating_patches",
    "nearest_neighbours",
    "occlusion",
    "region_mask",
    "saliency",
    "seg_grad_cam",
    "shape_bias",
    "smoothgrad",
    "style_transfer",
    "superpixels",
    "tsne_embedding",
    "vgg19_features",
]
