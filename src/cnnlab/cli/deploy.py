"""The deployment commands: ``export`` and ``bench``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cnnlab.deploy.bench import bench_model, bench_run, format_table, host_description
from cnnlab.deploy.export import FORMATS, export_run


def add_parsers(subparsers: Any) -> None:
    """Add ``export`` and ``bench``."""
    export = subparsers.add_parser(
        "export", help="export a run's model to ONNX or a torch.export program, validated"
    )
    export.add_argument("run")
    export.add_argument("--format", default="onnx", choices=FORMATS)
    export.add_argument("--out", help="output file (default: model.onnx / model.pt2 in the run)")
    export.add_argument(
        "--limit", type=int, default=256, help="test images the export is checked on"
    )
    export.set_defaults(func=export_command)

    bench = subparsers.add_parser(
        "bench",
        help="inference latency and throughput: torchvision, cnnlab eager, inference path, ONNX",
    )
    bench.add_argument("model", metavar="MODEL|RUN", help="a registered model or a run directory")
    bench.add_argument("--input-size", type=int, default=224, help="height = width (MODEL only)")
    bench.add_argument("--in-chans", type=int, default=3, help="input channels (MODEL only)")
    bench.add_argument("--num-classes", type=int, default=1000, help="outputs (MODEL only)")
    bench.add_argument("--threads", type=int, default=2, help="PyTorch and onnxruntime threads")
    bench.add_argument("--repeats", type=int, default=50, help="batch-1 calls per engine")
    bench.add_argument("--batch-size", type=int, default=32, help="batch of the throughput")
    bench.add_argument("--batch-repeats", type=int, default=5, help="batches per engine")
    bench.add_argument("--compile", action="store_true", help="add the torch.compile'd path")
    bench.add_argument("--no-onnx", action="store_true", help="leave out onnxruntime")
    bench.set_defaults(func=bench_command)


def export_command(args: argparse.Namespace) -> int:
    """``cnnlab export``: write the file, print how it compares with PyTorch."""
    result = export_run(args.run, args.format, args.out, limit=args.limit)
    print(
        f"{result.format}: {result.path} ({result.path.stat().st_size / 1e6:.1f} MB); "
        f"checked on {result.num_images} test images: largest logit difference "
        f"{result.max_abs_diff:.2e}, identical predictions"
    )
    return 0


def bench_command(args: argparse.Namespace) -> int:
    """``cnnlab bench``: a Markdown table of the engines, alternated in this process."""
    options = dict(
        threads=args.threads,
        compile=args.compile,
        onnx=not args.no_onnx,
        repeats=args.repeats,
        batch_size=args.batch_size,
        batch_repeats=args.batch_repeats,
    )
    if Path(args.model).is_dir():
        results = bench_run(args.model, **options)
        what = args.model
    else:
        shape = (args.in_chans, args.input_size, args.input_size)
        results = bench_model(args.model, shape, args.num_classes, **options)
        what = f"{args.model} at {'x'.join(map(str, shape))}"
    print(f"{what}: {host_description(args.threads)}")
    print(format_table(results))
    return 0
