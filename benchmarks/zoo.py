"""Cost of every registered model, and its speed against torchvision's in the same run.

For each model: parameters and multiply-adds at its native resolution (the
``Reference.input_shape`` it is registered with, else the input it is built
for, else 3x224x224), CPU latency of one image (median of ``--repeats`` forward
passes) and training images/s (median of ``--steps`` forward + backward + SGD
steps at batch ``--train-batch``, images of ``--train-size`` pixels).  Models
that torchvision also has are timed against the torchvision model alternately,
pass by pass and step by step, so that machine noise hits both alike; a ratio
below 1 means cnnlab is slower.

It also draws the "top-1 accuracy vs operations, blob size ∝ parameters" chart
(Canziani, Paszke & Culurciello 2016, Fig. 2) from the published ImageNet
accuracies registered with the models (``Reference.top1``, each with its
source) and the measured parameters and multiply-adds.

Usage::

    python benchmarks/zoo.py [--models resnet18,vgg16 | --family resnet] [--threads 2]
        [--rows benchmarks/out/zoo.jsonl]   # keeps each row; a re-run skips measured models

Prints a Markdown section for ``benchmarks/RESULTS.md`` and writes the chart to
``benchmarks/figures/zoo_accuracy_vs_ops.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torchvision
from matplotlib.figure import Figure
from torch import nn

from cnnlab.errors import CnnlabError
from cnnlab.metrics.cost import count_flops, count_parameters
from cnnlab.models import create_model, list_models, model_info

CHART = Path(__file__).parent / "figures" / "zoo_accuracy_vs_ops.png"


def native_shape(name: str, model: nn.Module | None = None) -> tuple[int, int, int]:
    """The registered reference's input shape, else the one the model was built for,
    else 3x224x224."""
    ref = model_info(name).reference
    if ref:
        return ref.input_shape
    declared = getattr(model, "input_shape", None)
    return tuple(declared) if declared else (3, 224, 224)


def build_pair(name: str) -> tuple[nn.Module, nn.Module | None]:
    info = model_info(name)
    ref = info.reference
    kwargs = {
        "num_classes": ref.num_classes if ref else 1000,
        **({"in_chans": ref.input_shape[0]} if ref else {}),
        **info.kwargs,
    }
    ours = create_model(name, **kwargs)
    if ref is None and getattr(ours, "input_shape", None) is None:  # built for any size
        ours = create_model(name, **{"in_chans": 3, **kwargs})
    theirs = None
    if info.torchvision:
        theirs = torchvision.models.get_model(info.torchvision, num_classes=kwargs["num_classes"])
    return ours, theirs


def paired_latency_ms(
    models: list[nn.Module], shape: tuple[int, int, int], passes: int
) -> list[float]:
    """Median batch-1 forward time of each model, the models alternated pass by pass.

    Alternating single passes exposes every model to the same machine noise, so
    that the ratio holds on a shared machine where absolute times do not.
    """
    x = torch.rand(1, *shape)
    times: list[list[float]] = [[] for _ in models]
    with torch.inference_mode():
        for model in models:
            model.eval()(x)  # warm-up: allocation and kernel choice
        for _ in range(passes):
            for model, log in zip(models, times, strict=True):
                start = time.perf_counter()
                model(x)
                log.append(time.perf_counter() - start)
    return [1000 * statistics.median(log) for log in times]


def paired_train_images_per_s(
    models: list[nn.Module], shape: tuple[int, int, int], batch: int, steps: int
) -> list[float]:
    """Training images/s of each model (forward, backward, SGD step), alternated step by step."""
    x = torch.rand(batch, *shape)
    steppers = []
    for model in models:
        with torch.no_grad():
            classes = model.eval()(x[:1]).shape[1]
        y = torch.randint(0, classes, (batch,))
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        steppers.append((model.train(), optimizer, y))
    times: list[list[float]] = [[] for _ in models]
    for step in range(steps + 1):
        for (model, optimizer, y), log in zip(steppers, times, strict=True):
            start = time.perf_counter()
            output = model(x)
            logits = output[0] if isinstance(output, tuple) else output
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step:  # the first step allocates memory and picks kernels
                log.append(time.perf_counter() - start)
    return [batch / statistics.median(log) for log in times]


def training_shape(name: str, model: nn.Module, size: int) -> tuple[int, int, int]:
    """``size`` x ``size`` (at most the native size), or the native size for models that
    cannot train smaller (Inception v3's auxiliary head needs 299x299)."""
    channels, native, _ = native_shape(name, model)
    side = min(size, native)
    try:
        with torch.no_grad():
            model.train()(torch.rand(2, channels, side, side))
    except CnnlabError:
        side = native
    return (channels, side, side)


def measure(name: str, args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    ours, theirs = build_pair(name)
    models = [ours] if theirs is None else [ours, theirs]
    shape = native_shape(name, ours)
    train_shape = training_shape(name, ours, args.train_size)
    row = {
        "name": name,
        "torchvision": model_info(name).torchvision,
        "params": count_parameters(ours),
        "macs": count_flops(ours, shape) / 2,
        "shape": shape,
        "train_shape": train_shape,
    }
    latency = paired_latency_ms(models, shape, args.repeats)
    ips = paired_train_images_per_s(models, train_shape, args.train_batch, args.steps)
    row["latency_ms"], row["train_ips"] = latency[0], ips[0]
    if theirs is not None:
        row["tv_latency_ms"], row["tv_train_ips"] = latency[1], ips[1]
    return row


def _count(value: float) -> str:
    """1.23G, 4.56M or 7.89K: three significant figures at most, in the largest unit."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.0f}"


def format_table(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"Latency: batch 1 at the native resolution, median of {args.repeats} passes. "
        f"Training: batch {args.train_batch} of {args.train_size}x{args.train_size} images "
        f"(the native size where smaller, or where the model needs it), SGD, median of "
        f"{args.steps} steps. A model and its torchvision counterpart are alternated pass by "
        f"pass and step by step. {torch.get_num_threads()} threads. Ratio = torchvision time / "
        "cnnlab time (≥ 1: cnnlab at least as fast).",
        "",
        "| model | input | params | MACs | latency ms | vs torchvision | train img/s "
        "| vs torchvision |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lat_ratio = ips_ratio = "–"
        if "tv_latency_ms" in r:
            lat_ratio = f"{r['tv_latency_ms'] / r['latency_ms']:.2f}×"
            ips_ratio = f"{r['train_ips'] / r['tv_train_ips']:.2f}×"
        c, h, w = r["shape"]
        lines.append(
            f"| {r['name']} | {c}x{h}x{w} | {_count(r['params'])} | {_count(r['macs'])} "
            f"| {r['latency_ms']:.1f} | {lat_ratio} | {r['train_ips']:.1f} | {ips_ratio} |"
        )
    paired = [r for r in rows if "tv_latency_ms" in r]
    if paired:
        worst = min(
            min(r["tv_latency_ms"] / r["latency_ms"], r["train_ips"] / r["tv_train_ips"])
            for r in paired
        )
        lines += ["", f"Slowest ratio against torchvision over {len(paired)} models: {worst:.2f}×."]
    return "\n".join(lines)


def accuracy_chart(path: Path, rows: list[dict]) -> list[str]:
    """Published ImageNet top-1 against the measured multiply-adds (at the resolution the
    accuracy was published for), blob area ∝ measured parameters (Canziani et al. 2016,
    Fig. 2)."""
    points = []
    for row in rows:
        ref = model_info(row["name"]).reference
        if ref and ref.top1 and ref.num_classes == 1000:
            points.append((row, ref))
    if not points:
        return []
    fig = Figure(figsize=(11, 7))
    ax = fig.subplots()
    for row, ref in points:
        ax.scatter(row["macs"] / 1e9, ref.top1, s=row["params"] / 2e5, alpha=0.5)
        ax.annotate(row["name"], (row["macs"] / 1e9, ref.top1), fontsize=6, ha="center")
    ax.set_xscale("log")
    ax.set_xlabel("multiply-adds per image (G, log scale; measured at the published resolution)")
    ax.set_ylabel("published ImageNet top-1 accuracy (%)")
    ax.set_title("Accuracy vs operations; blob area ∝ parameters")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return [f"- {row['name']}: {ref.top1} % top-1 — {ref.source}" for row, ref in points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names (default: all registered)")
    parser.add_argument("--family", help="only models whose name starts with this")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=11, help="forward passes per model")
    parser.add_argument("--steps", type=int, default=7, help="training steps per model")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=128)
    parser.add_argument("--rows", help="JSON-lines file of measured rows, appended and reused")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.models.split(",") if args.models else list_models()
    if args.family:
        names = [n for n in names if n.startswith(args.family)]
    done = {}
    if args.rows and Path(args.rows).is_file():  # continue an interrupted run
        for line in Path(args.rows).read_text().splitlines():
            row = json.loads(line)
            done[row["name"]] = {**row, "shape": tuple(row["shape"])}
    rows = []
    for name in names:
        if name in done:
            rows.append(done[name])
            continue
        try:
            row = measure(name, args)
        except (CnnlabError, RuntimeError) as exc:  # reported, the other models still run
            print(f"{name}: skipped ({exc})")
            continue
        rows.append(row)
        if args.rows:
            with open(args.rows, "a") as log:
                log.write(json.dumps(row) + "\n")
        print(f"{name}: done", flush=True)
    print("\n## Model zoo: cost and speed against torchvision\n")
    print(format_table(rows, args))
    sources = accuracy_chart(CHART, rows)
    if sources:
        print(f"\nChart: `{CHART.name}`, from these published accuracies:\n")
        print("\n".join(sources))


if __name__ == "__main__":
    main()
