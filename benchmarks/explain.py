"""Explanation methods on a Fashion-MNIST CNN: faithfulness (deletion/insertion AUC) and time
per image, cnnlab against captum's implementation of the same method in the same process.

Trains a small global-average-pooling CNN (``simple_cnn``, so that CAM applies too)
for a few epochs, or reuses the run given with ``--run``; explains the first
``--images`` test images for their predicted class.  Each method is timed on
the whole batch (least CPU time of ``--repeats`` calls, on ``--threads`` torch
threads), its attributions scored with
:func:`cnnlab.explain.metrics.deletion_insertion`, and, where captum has the
method, captum is timed on the same batch and the largest difference reported
relative to captum's largest attribution.  A second table times both libraries
on an untrained torchvision ResNet-18 with CIFAR-sized inputs.

Usage::

    python benchmarks/explain.py --data-dir ../shared/datasets/fashion-mnist [--images 50]

Prints a Markdown section for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Lime,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from cnnlab import TrainConfig, Trainer, create_model, load_run
from cnnlab.data import load_data, make_loader
from cnnlab.errors import ConfigError
from cnnlab.explain.context import last_spatial_layer
from cnnlab.explain.methods import ATTRIBUTIONS
from cnnlab.explain.metrics import deletion_insertion
from cnnlab.explain.perturbation import grid_segments
from cnnlab.nn.hooks import get_layer
from cnnlab.runs import fit_to_input
from cnnlab.tasks import evaluate_run
from recipes import PREVIOUS_DEFAULTS

# Settings shared by both implementations, so that they compute the same thing.
OCCLUSION = {"window": 4, "stride": 2}
LIME_SAMPLES, LIME_GRID = 500, 8
IG_STEPS, SMOOTH_SAMPLES, SMOOTH_NOISE = 50, 25, 0.15
BATCH = 256
#: Methods that draw random samples: the two libraries draw different ones.
RANDOMIZED = {"smoothgrad", "lime"}


def train(data_dir: str, epochs: int, out: Path) -> Path:
    recipe = dict(
        PREVIOUS_DEFAULTS,
        model="simple_cnn",
        model_kwargs={"channels": [16, 32]},
        dataset="fashion-mnist",
        data_dir=data_dir,
        epochs=epochs,
        batch_size=128,
        augment=[],
    )
    config = TrainConfig(**recipe)
    run_dir = Trainer(config, out, quiet=True).fit()
    evaluate_run(run_dir)
    return run_dir


def first_test_images(run, data_dir: str, count: int) -> torch.Tensor:
    data = load_data("fashion-mnist", data_dir)
    x, _ = next(iter(make_loader(data.test, count, shuffle=False)))
    return fit_to_input(x, run.input_shape)


def captum_methods(model, layer: str, x: torch.Tensor) -> dict[str, Callable]:
    """captum's equivalents, called with the settings of the cnnlab methods."""
    module = get_layer(model, layer)
    per_eval = max(1, BATCH // len(x))
    mask = grid_segments(x.shape[-2], x.shape[-1], LIME_GRID)[None, None]

    def grad_cam(x, t):
        coarse = LayerGradCam(model, module).attribute(x, target=t, relu_attributions=True)
        return LayerAttribution.interpolate(coarse, tuple(x.shape[-2:]), "bilinear")

    def lime(x, t):
        explainer = Lime(model)
        rows = [
            explainer.attribute(
                x[i : i + 1],
                target=int(t[i]),
                feature_mask=mask,
                n_samples=LIME_SAMPLES,
                perturbations_per_eval=BATCH,
            )
            for i in range(len(x))
        ]
        return torch.cat(rows)

    return {
        "saliency": lambda x, t: Saliency(model).attribute(x, target=t, abs=True),
        "deconvnet": lambda x, t: Deconvolution(model).attribute(x, target=t),
        "guided-backprop": lambda x, t: GuidedBackprop(model).attribute(x, target=t),
        "integrated-gradients": lambda x, t: IntegratedGradients(model).attribute(
            x, target=t, n_steps=IG_STEPS, internal_batch_size=BATCH
        ),
        "smoothgrad": lambda x, t: NoiseTunnel(Saliency(model)).attribute(
            x,
            nt_type="smoothgrad",
            nt_samples=SMOOTH_SAMPLES,
            stdevs=SMOOTH_NOISE,
            nt_samples_batch_size=max(1, BATCH // len(x)),
            target=t,
            abs=True,
        ),
        "grad-cam": grad_cam,
        "guided-grad-cam": lambda x, t: GuidedGradCam(model, module).attribute(
            x, target=t, interpolate_mode="bilinear"
        ),
        "occlusion": lambda x, t: Occlusion(model).attribute(
            x,
            sliding_window_shapes=(x.shape[1], OCCLUSION["window"], OCCLUSION["window"]),
            strides=(x.shape[1], OCCLUSION["stride"], OCCLUSION["stride"]),
            target=t,
            perturbations_per_eval=per_eval,
        ),
        "lime": lime,
    }


def cnnlab_options(name: str, layer: str) -> dict:
    options = {
        "occlusion": OCCLUSION,
        "lime": {"superpixel": "grid", "num_segments": LIME_GRID**2, "samples": LIME_SAMPLES},
        "integrated-gradients": {"steps": IG_STEPS},
        "smoothgrad": {"samples": SMOOTH_SAMPLES, "noise": SMOOTH_NOISE},
    }.get(name, {})
    if name in ("cam", "grad-cam", "guided-grad-cam", "grad-cam++"):
        options = {"layer": layer}
    return options


def timed(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeats: int
) -> tuple[torch.Tensor, float]:
    """fn(x) and its least CPU time of ``repeats`` calls, after an untimed warm-up.

    CPU time of this process (all its threads), not wall time: on a shared
    machine the wall time mostly measures the other processes.
    """
    fn(x[:2])
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.process_time()
        result = fn(x)
        best = min(best, time.process_time() - started)
    return result, best


def compare(model, x, layer: str, repeats: int, faithfulness: bool) -> list[str]:
    """Markdown rows: per method, AUCs (when ``faithfulness``), ms/image of both, difference."""
    with torch.no_grad():
        target = model(x).argmax(1)
    theirs = captum_methods(model, layer, x)
    rows = []
    for name, method in ATTRIBUTIONS.items():
        options = cnnlab_options(name, layer)
        try:
            ours, seconds = timed(
                lambda images, m=method, o=options: m(model, images, target[: len(images)], **o),
                x,
                repeats,
            )
        except ConfigError as exc:
            rows.append(f"| {name} | skipped: {exc} |")
            continue
        cells = [name]
        if faithfulness:
            curves = deletion_insertion(model, x, target, ours)
            cells += [
                f"{float(curves.deletion_auc.mean()):.4f}",
                f"{float(curves.insertion_auc.mean()):.4f}",
            ]
        cells.append(f"{1000 * seconds / len(x):.2f}")
        if name in theirs:
            reference, captum_seconds = timed(
                lambda images, f=theirs[name]: f(images, target[: len(images)]), x, repeats
            )
            gap = float((ours - reference.detach()).abs().max() / reference.detach().abs().max())
            cells += [
                f"{1000 * captum_seconds / len(x):.2f}",
                "random" if name in RANDOMIZED else f"{gap:.1e}",
            ]
        else:
            cells += ["-", "-"]
        rows.append("| " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--run", help="reuse this run directory instead of training")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--cifar-images", type=int, default=8, help="0: skip the ResNet timing")
    parser.add_argument("--repeats", type=int, default=2, help="time each method this often")
    parser.add_argument("--out", default="runs/bench-explain", help="where to train the run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for the comparison (1: CPU time "
        "is then compute time; idle OpenMP threads spin and inflate it on a busy machine)",
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    run_dir = Path(args.run) if args.run else train(args.data_dir, args.epochs, Path(args.out))
    torch.set_num_threads(args.threads)
    run = load_run(run_dir)
    x = first_test_images(run, args.data_dir, args.images)
    layer = last_spatial_layer(run.model, x)
    rows = compare(run.model, x, layer, args.repeats, faithfulness=True)
    metrics = run_dir / "metrics.json"
    accuracy = json.loads(metrics.read_text())["test"]["accuracy"] if metrics.is_file() else None
    threads = torch.get_num_threads()
    print(
        f"\n## Explanation methods on Fashion-MNIST ({len(x)} test images, predicted class)\n\n"
        f"Model: `simple_cnn` (channels 16, 32; global average pooling), test accuracy "
        f"{accuracy}; CAM methods explain `{layer}`; torch {torch.__version__}, "
        f"{threads} threads.\n\n"
        "| method | deletion AUC ↓ | insertion AUC ↑ | cnnlab CPU ms/image | captum CPU ms/image "
        "| max diff / max captum |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        '"random": SmoothGrad and LIME draw random noise/samples, so the two libraries\' '
        "maps differ by their sampling, not by a bug; their settings are the same (25 samples "
        "at σ = 0.15; 500 samples of an 8x8 grid of superpixels, Lasso α = 0.01)."
    )
    if args.cifar_images:
        resnet = create_model("resnet20", num_classes=10, in_chans=3, input_size=32).eval()
        images = torch.rand(
            args.cifar_images, 3, 32, 32, generator=torch.Generator().manual_seed(0)
        )
        resnet_rows = compare(resnet, images, "features.layer3", args.repeats, faithfulness=False)
        print(
            f"\n## Time per image on a CIFAR ResNet ({len(images)} images 3x32x32)\n\n"
            "cnnlab `resnet20` (He et al. 2016, CIFAR form), untrained (time does not depend on "
            "the weights), random images, CAM methods on `features.layer3` (8x8 maps); its "
            "blocks use in-place ReLUs.\n\n"
            "| method | cnnlab CPU ms/image | captum CPU ms/image | max diff / max captum |\n"
            "|---|---|---|---|\n" + "\n".join(resnet_rows)
        )


if __name__ == "__main__":
    main()
