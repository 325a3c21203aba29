"""The deployment commands: ``export``, ``quantize`` and ``bench``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cnnlab.deploy.bench import bench_model, bench_run, format_table, host_description
from cnnlab.deploy.export import FORMATS, export_run
from cnnlab.errors import ConfigError


def add_parsers(subparsers: Any) -> None:
    """Add ``export``, ``quantize`` and ``bench``."""
    export = subparsers.add_parser(
        "export", help="export a run's model to ONNX or a torch.export program, validated"
    )
    export.add_argument("run", help="run directory (from `cnnlab train`)")
    export.add_argument(
        "--format",
        default="onnx",
        choices=(*FORMATS, "torchscript"),
        help="onnx (onnxruntime, other runtimes) or a torch.export program (default onnx); "
        "torchscript, deprecated in torch 2.14, says what to use instead",
    )
    export.add_argument("--out", help="output file (default: model.onnx / model.pt2 in the run)")
    export.add_argument(
        "--limit", type=int, default=256, help="test images the export is checked on"
    )
    export.add_argument(
        "--int8",
        action="store_true",
        help="post-training int8 quantization (exported-program format; see `cnnlab quantize`)",
    )
    export.set_defaults(func=export_command)

    quantize = subparsers.add_parser(
        "quantize",
        help="int8 quantization of a run (post-training or quantization-aware), fp32 vs int8",
    )
    quantize.add_argument("run", help="a classification run directory")
    quantize.add_argument(
        "--calibration", type=int, default=512, help="training images that calibrate PTQ"
    )
    quantize.add_argument(
        "--qat-epochs",
        type=int,
        default=0,
        help="quantization-aware fine-tuning epochs instead of PTQ (0: post-training)",
    )
    quantize.add_argument(
        "--qat-lr", type=float, help="QAT learning rate (default: 1%% of the run's --lr)"
    )
    quantize.add_argument("--limit", type=int, help="test images compared (default: all)")
    quantize.add_argument("--out", help="output file (default: RUN/model.int8.pt2)")
    quantize.set_defaults(func=quantize_command)

    bench = subparsers.add_parser(
        "bench",
        help="inference latency and throughput: torchvision, cnnlab eager, inference path, ONNX",
    )
    bench.add_argument(
        "model", nargs="?", metavar="MODEL|RUN", help="a registered model or a run directory"
    )
    bench.add_argument(
        "--peak", action="store_true", help="print the host's measured fp32 matmul GFLOP/s"
    )
    bench.add_argument(
        "--train",
        action="store_true",
        help="MODEL's training steps (SGD, channels-last) as a fraction of the matmul peak",
    )
    bench.add_argument("--input-size", type=int, default=224, help="height = width (MODEL only)")
    bench.add_argument("--in-chans", type=int, default=3, help="input channels (MODEL only)")
    bench.add_argument("--num-classes", type=int, default=1000, help="outputs (MODEL only)")
    bench.add_argument("--threads", type=int, default=2, help="PyTorch and onnxruntime threads")
    bench.add_argument("--repeats", type=int, default=50, help="batch-1 calls per engine")
    bench.add_argument("--batch-size", type=int, default=32, help="batch of the throughput")
    bench.add_argument("--batch-repeats", type=int, default=5, help="batches per engine")
    bench.add_argument("--compile", action="store_true", help="add the torch.compile'd path")
    bench.add_argument("--no-onnx", action="store_true", help="leave out onnxruntime")
    bench.add_argument(
        "--int8", action="store_true", help="add the compiled int8 model (needs torchao)"
    )
    bench.set_defaults(func=bench_command)


def export_command(args: argparse.Namespace) -> int:
    """``cnnlab export``: write the file, print how it compares with PyTorch."""
    if args.int8:
        if args.format != "exported-program":
            raise ConfigError(
                f"--int8 writes a torch.export program, not {args.format}; "
                "use --format exported-program --int8 (or `cnnlab quantize RUN`)."
            )
        return _quantize(args.run, out=args.out, limit=args.limit)
    result = export_run(args.run, args.format, args.out, limit=args.limit)
    same = ", identical predictions" if result.same_predictions else ""
    print(
        f"{result.format}: {result.path} ({result.path.stat().st_size / 1e6:.1f} MB); "
        f"checked on {result.num_images} test images: largest output difference "
        f"{result.max_abs_diff:.2e}{same}"
    )
    return 0


def quantize_command(args: argparse.Namespace) -> int:
    """``cnnlab quantize``: write RUN/model.int8.pt2, print fp32 against int8."""
    return _quantize(
        args.run,
        calibration=args.calibration,
        qat_epochs=args.qat_epochs,
        qat_lr=args.qat_lr,
        limit=args.limit,
        out=args.out,
    )


def _peak_command(args: argparse.Namespace) -> int:
    """``cnnlab bench --peak`` and ``cnnlab bench MODEL --train``."""
    from cnnlab.deploy.peak import matmul_peak, training_speed

    peak = matmul_peak(args.threads)
    print(f"{host_description(args.threads)}: fp32 matmul peak {peak:.1f} GFLOP/s")
    if not args.train:
        return 0
    if args.model is None:
        raise ConfigError("cnnlab bench --train needs a MODEL (e.g. resnet20 --input-size 32).")
    shape = (args.in_chans, args.input_size, args.input_size)
    speed = training_speed(
        args.model, shape, args.num_classes, batch_size=args.batch_size, threads=args.threads
    )
    print(
        f"{args.model} training at batch {speed.batch_size}, channels-last: "
        f"{speed.images_per_second:.1f} images/s, {speed.gflop_per_step:.2f} GFLOP per step, "
        f"{speed.gflops:.1f} GFLOP/s = {100 * speed.gflops / peak:.1f} % of the matmul peak"
    )
    return 0


def _quantize(run: str, **options: Any) -> int:
    from cnnlab.deploy.quantize import quantize_run
    from cnnlab.report import build_report

    result = quantize_run(run, **options)
    print(
        f"int8 ({result.method}): {result.path} ({result.int8_mb:.2f} MB; fp32 weights "
        f"{result.fp32_mb:.2f} MB); test accuracy fp32 {result.fp32_accuracy:.4f}, int8 "
        f"{result.int8_accuracy:.4f} on {result.num_images} images, same class for "
        f"{100 * result.agreement:.1f} %; {result.int8_layers} of {result.layers} conv/linear "
        "layers in int8"
    )
    print(build_report(run))
    return 0


def bench_command(args: argparse.Namespace) -> int:
    """``cnnlab bench``: a Markdown table of the engines, alternated in this process."""
    if args.peak or args.train:
        return _peak_command(args)
    if args.model is None:
        raise ConfigError("cnnlab bench needs a MODEL or RUN (or --peak).")
    options = dict(
        threads=args.threads,
        compile=args.compile,
        onnx=not args.no_onnx,
        int8=args.int8,
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
