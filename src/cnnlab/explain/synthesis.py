"""Images made by optimization, and the texture-versus-shape probe.

* `class_model_visualization`: gradient ascent on the input to maximize a
  class score, S_c(I) − λ‖I − ½‖² (Simonyan, Vedaldi & Zisserman 2014, Sec. 2,
  eq. 1), with the regularizers of Yosinski, Clune, Nguyen, Fuchs & Lipson
  (2015, "Understanding neural networks through deep visualization", Sec. 3):
  random jitter of the image before each step and a Gaussian blur every few
  steps.  Pixels are kept in [0, 1]; the L2 term pulls towards mid-grey, the
  neutral image of a model that normalizes its input inside.
* `style_transfer`: Gatys, Ecker & Bethge (2016), "Image style transfer
  using convolutional neural networks": content loss ½‖F^l − P^l‖² on one
  layer (eq. 1) and style losses on the Gram matrices G^l = F^l F^lᵀ of several
  (eqs. 3-5), minimized over the pixels.  Any feature extractor works; the
  default is VGG-19 (Simonyan & Zisserman 2015) with weights read from a local
  torchvision ``.pth`` file (nothing is ever downloaded).
* `shape_bias`: the cue-conflict probe of Geirhos, Rubisch, Michaelis,
  Bethge, Wichmann & Brendel (2019), "ImageNet-trained CNNs are biased towards
  texture", Sec. 2.4: among cue-conflict images (shape of one class, texture of
  another) classified as either, the fraction classified by shape.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from cnnlab.data.image import IMAGE_SUFFIXES, load_image
from cnnlab.errors import CheckpointError, ConfigError, DataError, check_positive
from cnnlab.explain.context import explaining
from cnnlab.explain.target import Target, target_scores
from cnnlab.nn.hooks import capture_activations
from cnnlab.nn.norm import Normalize

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
#: Gatys et al. (2016), Sec. 3: content on conv4_2, style on conv1_1 ... conv5_1 (after ReLU).
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_VGG19_BLOCKS = (2, 2, 4, 4, 4)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    size = 2 * max(1, round(2 * sigma)) + 1
    return TF.gaussian_blur(x, [size, size], [sigma, sigma])


def class_model_visualization(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    jitter: int = 2,
    blur_every: int = 4,
    blur_sigma: float = 0.5,
    seed: int = 0,
) -> torch.Tensor:
    """Optimize the images ``x`` (the start, e.g. mid-grey) to maximize the target score.

    Parameters
    ----------
    steps
        gradient-ascent steps; each step moves by ``lr`` times the
        gradient divided by its mean magnitude (per image).
    l2
        weight λ of the L2 penalty around mid-grey.
    jitter
        the image is shifted by up to this many pixels (random, circular)
        before each step (Yosinski et al. 2015, Sec. 3).
    blur_every, blur_sigma
        Gaussian blur of σ pixels every ``blur_every`` steps (0: never).
    seed
        seeds the jitter.

    Returns
    -------
    Tensor of the shape of x in [0, 1].
    """
    check_positive("steps", steps)
    check_positive("lr", lr)
    check_positive("l2", l2, allow_zero=True)
    generator = torch.Generator().manual_seed(seed)
    image = x.detach().clone().clamp_(0, 1)
    with explaining(model), torch.enable_grad():
        for step in range(steps):
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=generator)).tolist()
            shifted = torch.roll(image, (dy, dx), dims=(-2, -1)).requires_grad_(True)
            objective = target_scores(model(shifted), target).sum()
            objective = objective - l2 * ((shifted - 0.5) ** 2).sum()
            (grad,) = torch.autograd.grad(objective, shifted)
            grad = torch.roll(grad, (-dy, -dx), dims=(-2, -1))
            scale = grad.abs().flatten(1).mean(1).clamp_min(1e-12).view(-1, *(1,) * (x.dim() - 1))
            image = image + lr * grad / scale
            if blur_every and step % blur_every == blur_every - 1:
                image = _blur(image, blur_sigma)
            image = image.clamp_(0, 1)
    return image


def vgg19_features(weights: str | os.PathLike | None = None) -> nn.Sequential:
    """VGG-19's convolutional part behind ImageNet normalization, layers named as in Gatys et al.

    Children: ``normalize``, then ``conv1_1``, ``relu1_1``, ``conv1_2``, ...,
    ``pool5`` (average pooling would also do; max pooling is kept so torchvision
    weights apply unchanged).  ``weights`` is a local torchvision VGG-19 state
    dict file (``vgg19-dcbb9e9d.pth``), loaded with ``weights_only=True``; without
    it the layers keep their random initialization.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        normalize=Normalize(torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD))
    )
    names = []
    reference = make_layers(cfgs["E"])  # torchvision's VGG-19 convolutions, without the classifier
    convs = iter(m for m in reference if isinstance(m, nn.Conv2d))
    for block, count in enumerate(_VGG19_BLOCKS, start=1):
        for i in range(1, count + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
            layers[f"conv{block}_{i}"] = next(convs)
            layers[f"relu{block}_{i}"] = nn.ReLU()
        names.append(f"pool{block}")
        layers[f"pool{block}"] = nn.MaxPool2d(2, 2)
    model = nn.Sequential(layers)
    if weights is not None:
        _load_vgg19_weights(model, names, Path(weights))
    return model.eval()


def _load_vgg19_weights(model: nn.Sequential, names: list[str], path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"VGG-19 weights file {path} does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a state dict
        raise CheckpointError(
            f"Cannot read {path} as a torchvision state dict ({exc}); give the vgg19-*.pth file."
        ) from exc
    # torchvision numbers the layers of ``features``; map index -> Gatys name.
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features" and len(parts) == 3:
            renamed[f"{names[int(parts[1])]}.{parts[2]}"] = value
    expected = {k for k in model.state_dict() if not k.startswith("normalize.")}
    missing = sorted(expected - set(renamed))
    if missing:
        raise CheckpointError(
            f"{path} is not a torchvision VGG-19 state dict: {len(missing)} tensors are missing "
            f"(first: {missing[0]}). Use the file torchvision.models.vgg19 downloads."
        )
    model.load_state_dict(renamed, strict=False)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (C·H·W) of (N, C, H, W) maps, shape (N, C, C) (Gatys et al. 2016, eq. 3)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def _truncated(extractor: nn.Module, layers: Sequence[str]) -> nn.Module:
    """A Sequential cut after the deepest of ``layers`` (no use computing beyond it)."""
    if not isinstance(extractor, nn.Sequential):
        return extractor
    names = [name for name, _ in extractor.named_children()]
    if not set(layers) <= set(names):
        return extractor
    last = max(names.index(layer) for layer in layers)
    return nn.Sequential(OrderedDict(list(extractor.named_children())[: last + 1]))


def _features(extractor: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict:
    with capture_activations(extractor, layers) as store:
        extractor(x)
    missing = [layer for layer in layers if layer not in store]
    if missing:
        raise ConfigError(f"The feature extractor did not produce the layers {missing}.")
    return dict(store)


def style_transfer(
    content: torch.Tensor,
    style: torch.Tensor,
    extractor: nn.Module | None = None,
    weights: str | os.PathLike | None = None,
    content_layer: str = CONTENT_LAYER,
    style_layers: Sequence[str] = STYLE_LAYERS,
    style_weight: float = 1e5,
    steps: int = 300,
    lr: float = 0.02,
    seed: int | None = None,
) -> torch.Tensor:
    """Neural style transfer (Gatys et al. 2016): ``content`` (N, 3, H, W) in ``style``'s style.

    Parameters
    ----------
    content
        images in [0, 1]; the result starts from them.
    style
        one image (1, C, h, w) in [0, 1]; its size may differ (Gram matrices do not care).
    extractor
        module whose named layers give the features, on the device and dtype of
        ``content``; default `vgg19_features`.
    weights
        torchvision VGG-19 ``.pth`` file for the default extractor.
    content_layer, style_layers
        layer names in ``extractor``.
    style_weight
        β/α of eq. 7, the weight of the style loss (the content loss has weight 1).
    steps, lr
        Adam steps on the pixels, which are kept in [0, 1].
    seed
        start from the content plus noise of this seed instead of the content itself.

    Returns
    -------
    Tensor of the shape of ``content`` in [0, 1].
    """
    check_positive("steps", steps)
    check_positive("style_weight", style_weight, allow_zero=True)
    layers = [content_layer, *style_layers]
    if extractor is None:
        extractor = vgg19_features(weights).to(content.device, content.dtype)
    extractor = _truncated(extractor, layers)
    with explaining(extractor), torch.enable_grad():
        with torch.no_grad():
            goal = _features(extractor, content, [content_layer])[content_layer]
            styles = _features(extractor, style, list(style_layers))
            grams = {name: gram_matrix(styles[name]) for name in style_layers}
        image = content.detach().clone()
        if seed is not None:
            noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(seed))
            image = (image + 0.1 * noise.to(image)).clamp(0, 1)
        image.requires_grad_(True)
        optimizer = torch.optim.Adam([image], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            features = _features(extractor, image, layers)
            loss = 0.5 * (features[content_layer] - goal).pow(2).sum() / len(image)
            for name in style_layers:
                gram = gram_matrix(features[name])
                loss = loss + style_weight * F.mse_loss(gram, grams[name].expand_as(gram))
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0, 1)
    return image.detach()


@dataclass(frozen=True)
class ShapeBias:
    """Result of the cue-conflict probe (Geirhos et al. 2019, Sec. 2.4).

    ``shape_bias`` = shape decisions / (shape + texture decisions);
    ``shape_fraction`` and ``texture_fraction`` are over all ``images`` used
    (those whose shape and texture classes differ).
    """

    shape_bias: float
    shape_fraction: float
    texture_fraction: float
    images: int


@torch.no_grad()
def shape_bias(
    model: nn.Module,
    images: torch.Tensor,
    shape_labels: torch.Tensor,
    texture_labels: torch.Tensor,
    restrict: bool = True,
    batch_size: int = 256,
) -> ShapeBias:
    """Shape bias of ``model`` on cue-conflict ``images`` with their shape and texture classes.

    ``restrict`` takes the decision among the classes that occur as a shape or
    texture label only, as Geirhos et al. do with their 16 classes.
    """
    shape_labels, texture_labels = shape_labels.long(), texture_labels.long()
    conflict = shape_labels != texture_labels
    if not conflict.any():
        raise DataError("No cue-conflict image has different shape and texture classes.")
    images, shape_labels, texture_labels = (
        t[conflict] for t in (images, shape_labels, texture_labels)
    )
    with explaining(model):
        outputs = torch.cat(
            [model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )
    if restrict:
        allowed = torch.zeros(outputs.shape[1], dtype=torch.bool, device=outputs.device)
        allowed[torch.cat([shape_labels, texture_labels]).to(outputs.device)] = True
        outputs = outputs.masked_fill(~allowed, float("-inf"))
    decision = outputs.argmax(1).cpu()
    by_shape = int((decision == shape_labels.cpu()).sum())
    by_texture = int((decision == texture_labels.cpu()).sum())
    decided = by_shape + by_texture
    return ShapeBias(
        by_shape / decided if decided else float("nan"),
        by_shape / len(decision),
        by_texture / len(decision),
        len(decision),
    )


def load_cue_conflict(
    folder: str | os.PathLike, classes: Sequence[str], input_shape: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, shape labels, texture labels) of a cue-conflict folder, in the model's classes.

    The layout of Geirhos et al.'s stimuli: ``folder/<shape class>/<shape><i>-<texture><j>.png``
    (e.g. ``cat/cat3-elephant1.png``).  A texture part that is a class name as it
    stands is taken whole, so numeric class names work without the index
    (``3/3_0-7.png``: shape 3, texture 7).  Images whose classes the model does
    not know are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            f"Cue-conflict folder {folder} does not exist; give a folder with one subfolder "
            "per shape class."
        )
    index = {name: i for i, name in enumerate(classes)}
    channels, height, width = input_shape
    images, shapes, textures = [], [], []
    for path in sorted(folder.glob("*/*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or "-" not in path.stem:
            continue
        texture = path.stem.rsplit("-", 1)[1]
        texture = texture if texture in index else texture.rstrip("0123456789")
        shape = path.parent.name
        if shape in index and texture in index:
            images.append(load_image(path, channels, (height, width)))
            shapes.append(index[shape])
            textures.append(index[texture])
    if not images:
        raise DataError(
            f"No cue-conflict images in {folder} whose shape and texture are classes of the "
            f"model ({', '.join(classes)}); expected files <shape>/<shape><i>-<texture><j>.png "
            "(or <shape>/<name>-<texture>.png)."
        )
    return torch.stack(images), torch.tensor(shapes), torch.tensor(textures)
