"""Training-technique experiments on CIFAR-10 (the JPEG training set), each in one run.

* ``augmentation``: a CIFAR ResNet with no augmentation, flip + crop,
  + Cutout, + Mixup, at the same epoch budget (DeVries & Taylor 2017; Zhang et
  al. 2018).
* ``depth``: plain vs residual networks at 20 and 56 layers (He et al. 2016,
  Fig. 1/6: the deeper *plain* network has the higher training error).
* ``activation``: ReLU vs tanh in the same small CNN without normalization or
  regularization, at a constant learning rate (Krizhevsky et al. 2012, Fig. 1:
  ReLUs reach 25 % training error about six times sooner).  As in the paper,
  each network gets its own learning rate, "chosen to make training as fast as
  possible": the fastest of a grid (:data:`ACTIVATION_LRS`).
* ``jpeg``: what JPEG compression costs a flip + crop ResNet-20 at 32x32.  The
  official pickles are not available here, so the data set as given (quality
  about 75) is compared with copies that went through one more JPEG
  generation at quality 95, 75 and 50 (:func:`reencoded_copy`): the drop from
  a second generation at 75 estimates what the first one cost.

Each experiment trains on a stratified subset (``--per-class`` images per
class) to fit a CPU budget, keeps its runs under ``--work`` (an interrupted
benchmark resumes where it stopped; finished runs are reused), and prints a
Markdown section for
``benchmarks/RESULTS.md`` with the per-epoch training error and the final
validation/test accuracy.

Usage::

    python benchmarks/techniques.py augmentation \
        --data-dir ../shared/datasets/cifar10-jpg/train.tar.gz
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from cnnlab import TrainConfig, Trainer
from cnnlab.data.archive import extract, is_archive
from cnnlab.errors import TrainingDivergedError
from cnnlab.tasks import evaluate_run
from recipes import PREVIOUS_DEFAULTS

SGD = dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
ACTIVATION_LRS = (0.003, 0.01, 0.03, 0.1, 0.3)


def _activation_grid(**options) -> dict[str, dict]:
    """ReLU and tanh versions of one small CNN, without normalization or weight decay, at
    each rate of :data:`ACTIVATION_LRS`, constant."""
    return {
        f"{act}, lr {lr:g}": dict(
            model="simple_cnn",
            model_kwargs={"channels": [32, 64, 128], "act": act, "bn": False},
            augment=[],
            label_smoothing=0.0,
            scheduler="constant",
            **{**SGD, "lr": lr, "weight_decay": 0.0},
            **options,
        )
        for act in ("relu", "tanh")
        for lr in ACTIVATION_LRS
    }


JPEG_QUALITIES = (95, 75, 50)
JPEG_GRID_SHIFT = 4


def reencoded_copy(source: str, dest: Path, quality: int, shift: int = JPEG_GRID_SHIFT) -> Path:
    """``dest``: the image folder (or archive) ``source`` after one more JPEG generation.

    Each image is reflect-padded by ``shift`` pixels at the top and left, encoded
    at ``quality`` (Pillow's default 4:2:0 chroma subsampling), decoded, cropped
    back and stored losslessly as PNG.  The shift moves the 8x8 block grid off the
    first encoding's, which a second pass on the same grid would largely
    reproduce.  Built once, atomically (``dest`` appears only when complete).
    """
    if dest.is_dir():
        return dest
    root = extract(source) if is_archive(Path(source)) else Path(source)
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for path in sorted(root.rglob("*.jpg")):
        pixels = np.asarray(Image.open(path).convert("RGB"))
        padded = np.pad(pixels, ((shift, 0), (shift, 0), (0, 0)), mode="reflect")
        buffer = io.BytesIO()
        Image.fromarray(padded).save(buffer, "JPEG", quality=quality)
        decoded = np.asarray(Image.open(buffer).convert("RGB"))[shift:, shift:]
        out = (partial / path.relative_to(root)).with_suffix(".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(decoded).save(out)
    partial.rename(dest)
    return dest


EXPERIMENTS = {
    "augmentation": {
        "none": dict(model="resnet20", augment=[], **SGD),
        "flip + crop:4": dict(model="resnet20", augment=["flip", "crop:4"], **SGD),
        "+ cutout:8": dict(model="resnet20", augment=["flip", "crop:4", "cutout:8"], **SGD),
        "+ mixup 0.2": dict(model="resnet20", augment=["flip", "crop:4"], mixup=0.2, **SGD),
    },
    # One epoch of linear warm-up: He et al. (2016, Sec. 4.2) warm the deepest nets up
    # at a tenth of the rate until training error falls below 80 %.
    "depth": {
        name: dict(model=model, augment=["flip", "crop:4"], warmup_epochs=1.0, **SGD)
        for name, model in (
            ("plain-20", "plain20"),
            ("plain-56", "plain56"),
            ("resnet-20", "resnet20"),
            ("resnet-56", "resnet56"),
        )
    },
    "activation": _activation_grid(),
    # AlexNet's own initialisation, N(0, 0.01²) weights (Krizhevsky et al. 2012, Sec. 5)
    "activation-alexnet-init": _activation_grid(init="normal"),
    "jpeg": {
        name: dict(model="resnet20", augment=["flip", "crop:4"], jpeg_quality=quality, **SGD)
        for name, quality in [("as given (quality ≈ 75)", None)]
        + [(f"+ quality {q}", q) for q in JPEG_QUALITIES]
    },
}


def run_one(options: dict, args: argparse.Namespace, out: Path) -> dict:
    """Train (or resume, or reuse) one run in ``out`` and summarise its history."""
    common = dict(
        PREVIOUS_DEFAULTS,
        dataset="imagefolder",
        data_dir=args.data_dir,
        per_class=args.per_class,
        epochs=args.epochs,
        batch_size=128,
        scheduler="cosine",
        seed=args.seed,
    )
    options = dict(options)
    quality = options.pop("jpeg_quality", None)
    if quality is not None:
        jpeg_data = args.work / "jpeg-data" / f"quality{quality}"
        common["data_dir"] = str(reencoded_copy(args.data_dir, jpeg_data, quality))
    config = TrainConfig(**{**common, **options})
    diverged = out / "diverged.txt"  # a rate too high for the network, kept as a result
    if not diverged.is_file():
        try:
            if (out / "last.safetensors").is_file():
                trainer = Trainer.resume(out, quiet=True)
            else:
                trainer = Trainer(config, out, quiet=True)
            trainer.fit()
        except TrainingDivergedError as exc:
            diverged.write_text(str(exc))
    history_file = out / "history.jsonl"
    rows = history_file.read_text().splitlines() if history_file.is_file() else []
    history = [json.loads(row) for row in rows]
    result = {
        "errors": [1 - row["train_acc"] for row in history],
        "s": sum(row["time"] for row in history),
        "lr": config.lr,
        "diverged": diverged.is_file(),
    }
    if not result["diverged"]:
        result.update(val=history[-1]["val_acc"], test=evaluate_run(out)["accuracy"])
    return result


def first_epoch_below(errors: list[float], level: float) -> str:
    return next((str(i + 1) for i, e in enumerate(errors) if e <= level), "–")


def print_fastest(results: dict[str, dict]) -> None:
    """Each activation's fastest rate: fewest epochs to 25 % training error, then lowest error."""
    fastest = {}
    for name, r in results.items():
        if r["diverged"]:
            continue
        act = name.split(",")[0]
        reached = first_epoch_below(r["errors"], 0.25)
        key = (int(reached) if reached != "–" else len(r["errors"]) + 1, r["errors"][-1])
        if act not in fastest or key < fastest[act][0]:
            fastest[act] = (key, name)
    print()
    for act, ((epochs, error), name) in fastest.items():
        when = f"epoch {epochs}" if epochs <= len(results[name]["errors"]) else "never"
        print(f"- fastest {act}: {name} (25 % training error at {when}, final {error:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--data-dir", required=True, help="CIFAR-10 image folder or .tar.gz")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("benchmarks/out/techniques"),
        help="where the runs are kept, resumed and reused",
    )
    args = parser.parse_args()
    work = args.work / f"{args.experiment}-{args.per_class}pc-{args.epochs}ep-seed{args.seed}"
    results = {}
    for name, options in EXPERIMENTS[args.experiment].items():
        slug = name.replace(" ", "_").replace(",", "").replace("+", "plus").replace(":", "")
        results[name] = run_one(options, args, work / slug)
        print(f"{name}: done", flush=True)
    print(f"\n## Training techniques: {args.experiment} (CIFAR-10)\n")
    schedule = {
        "activation": "constant learning rate, no weight decay",
        "activation-alexnet-init": "constant learning rate, no weight decay, N(0, 0.01²) "
        "initial weights",
        "depth": "1 epoch of warm-up then cosine decay, weight decay 5e-4",
    }.get(args.experiment, "cosine schedule, weight decay 5e-4")
    print(
        f"{args.per_class} images per class (90 % train, 10 % validation), {args.epochs} "
        f"epochs, batch 128, SGD + Nesterov (momentum 0.9), {schedule}, seed "
        f"{args.seed}; test = cnnlab's fixed 20 % split of the JPEG training set.\n"
    )
    print(
        "| run | learning rate | final training error | epoch at ≤ 25 % training error "
        "| val acc | test acc | time (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if r["diverged"]:
            print(f"| {name} | {r['lr']:.3g} | diverged in epoch {len(r['errors']) + 1} |||||")
            continue
        print(
            f"| {name} | {r['lr']:.3g} | {r['errors'][-1]:.4f} "
            f"| {first_epoch_below(r['errors'], 0.25)} | {r['val']:.4f} | {r['test']:.4f} "
            f"| {r['s']:.0f} |"
        )
    if args.experiment.startswith("activation"):
        print_fastest(results)
    print("\nTraining error per epoch:\n")
    for name, r in results.items():
        if r["errors"]:
            print(f"- {name}: " + ", ".join(f"{e:.3f}" for e in r["errors"]))


if __name__ == "__main__":
    main()
