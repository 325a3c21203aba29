"""Inference speed of one architecture, engine against engine, in one process.

The engines run the same architecture on the same input: torchvision's eager
model (where the registry names a torchvision twin), cnnlab's eager model,
cnnlab's inference path (`cnnlab.deploy.inference.prepare`, optionally
compiled) and onnxruntime on cnnlab's ONNX export.  Measurements alternate
engine by engine, call by call, so that a change in machine load (another
process, frequency scaling) spreads over all of them instead of favouring one.
Thread counts are set explicitly for PyTorch and onnxruntime alike.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlab.models.registry import create_model_for_input, model_info

Engine = Callable[[torch.Tensor], object]


@dataclass
class BenchResult:
    """Timings of one engine: batch-1 latencies (ms) and throughput at ``batch_size``."""

    engine: str
    size_mb: float
    latencies_ms: list[float] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    batch_size: int = 32

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p90_ms(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]

    @property
    def images_per_second(self) -> float:
        return self.batch_size / statistics.median(self.batch_seconds)


def host_description(threads: int) -> str:
    """CPU model, whether it has AVX-512, the thread count and the load average now."""
    name, avx512 = platform.processor() or platform.machine(), False
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    avx512 = "avx512f" in value.split()
                    break
    except OSError:
        pass
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{name}{' (AVX-512)' if avx512 else ''}, {threads} threads{load}"


def state_size_mb(model: nn.Module) -> float:
    """Bytes of the parameters and buffers, in MB (10^6)."""
    tensors = list(model.state_dict().values())
    return sum(t.numel() * t.element_size() for t in tensors) / 1e6


def torchvision_twin(name: str, num_classes: int, in_chans: int) -> nn.Module | None:
    """torchvision's model of the same architecture, or None where it has none."""
    twin = model_info(name).torchvision
    if twin is None or in_chans != 3:
        return None
    import torchvision

    return getattr(torchvision.models, twin)(num_classes=num_classes).eval()


def engines_for(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    *,
    twin: nn.Module | None = None,
    compile: bool = False,
    onnx: bool = True,
    int8: bool = False,
    threads: int = 2,
) -> dict[str, tuple[Engine, float]]:
    """The engines to compare, each as (call on a batch, model size in MB).

    ``int8`` adds the PT2E int8 model (calibrated on random images: its speed,
    not its accuracy; ``cnnlab quantize`` measures that), compiled by inductor
    with weight freezing: torchao's freezing passes pre-pack the int8 weights
    and lower each quantize/conv/dequantize group onto one oneDNN int8
    convolution.  Without freezing the weights are re-quantized on every call."""
    from cnnlab.deploy.inference import prepare

    engines: dict[str, tuple[Engine, float]] = {}
    if twin is not None:
        engines["torchvision eager"] = (twin, state_size_mb(twin))
    model = model.eval()
    engines["cnnlab eager"] = (model, state_size_mb(model))
    fast = prepare(model)
    engines["cnnlab inference"] = (fast, state_size_mb(fast))
    if compile:
        compiled = prepare(model, compile=True)
        engines["cnnlab inference + compile"] = (compiled, state_size_mb(fast))
    if onnx:
        from cnnlab.deploy.export import export_onnx
        from cnnlab.deploy.onnx_model import OnnxClassifier

        data = export_onnx(model, input_shape)
        engines["onnxruntime"] = (OnnxClassifier.from_bytes(data, threads).logits, len(data) / 1e6)
    if int8:
        engines["cnnlab int8 + compile"] = _int8_engine(model, input_shape)
    return engines


def _int8_engine(model: nn.Module, input_shape: tuple[int, int, int]) -> tuple[Engine, float]:
    from cnnlab.deploy.inference import compile_frozen
    from cnnlab.deploy.quantize import quantize_ptq

    calibration = torch.rand(16, *input_shape, generator=torch.Generator().manual_seed(1))
    quantized = quantize_ptq(model, input_shape, [calibration])
    size = state_size_mb(quantized)
    return compile_frozen(quantized), size


def _timed(engine: Engine, x: torch.Tensor) -> float:
    start = time.perf_counter()
    engine(x)
    return time.perf_counter() - start


@torch.inference_mode()
def bench_engines(
    engines: dict[str, tuple[Engine, float]],
    input_shape: tuple[int, int, int],
    *,
    repeats: int = 50,
    batch_size: int = 32,
    batch_repeats: int = 5,
    warmup: int = 3,
) -> list[BenchResult]:
    """Alternate the engines call by call: ``repeats`` batch-1 calls, ``batch_repeats`` batches."""
    generator = torch.Generator().manual_seed(0)
    one = torch.rand(1, *input_shape, generator=generator)
    batch = torch.rand(batch_size, *input_shape, generator=generator)
    results = {
        name: BenchResult(name, size, batch_size=batch_size) for name, (_, size) in engines.items()
    }
    for _ in range(warmup):
        for engine, _ in engines.values():
            engine(one)
            engine(batch)
    for _ in range(repeats):
        for name, (engine, _) in engines.items():
            results[name].latencies_ms.append(1000 * _timed(engine, one))
    for _ in range(batch_repeats):
        for name, (engine, _) in engines.items():
            results[name].batch_seconds.append(_timed(engine, batch))
    return list(results.values())


def bench_model(
    name: str,
    input_shape: tuple[int, int, int] = (3, 224, 224),
    num_classes: int = 1000,
    *,
    threads: int = 2,
    compile: bool = False,
    onnx: bool = True,
    int8: bool = False,
    **options,
) -> list[BenchResult]:
    """Benchmark the registered model ``name`` (random weights) on ``threads`` threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model_for_input(name, num_classes, input_shape)
    twin = torchvision_twin(name, num_classes, input_shape[0])
    engines = engines_for(
        model, input_shape, twin=twin, compile=compile, onnx=onnx, int8=int8, threads=threads
    )
    return bench_engines(engines, input_shape, **options)


def format_table(results: list[BenchResult], baseline: str | None = None) -> str:
    """A Markdown table; the speed-up column is relative to ``baseline`` (default: the first)."""
    base = next((r for r in results if r.engine == baseline), results[0])
    lines = [
        f"| engine | batch-1 median (ms) | batch-1 p90 (ms) | speed-up vs {base.engine} "
        f"| batch-{base.batch_size} images/s | size (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.engine} | {r.median_ms:.2f} | {r.p90_ms:.2f} | "
            f"{base.median_ms / r.median_ms:.2f}x | {r.images_per_second:.1f} | {r.size_mb:.1f} |"
        )
    return "\n".join(lines)


def bench_run(
    run_dir,
    *,
    threads: int = 2,
    compile: bool = False,
    onnx: bool = True,
    int8: bool = False,
    **options,
) -> list[BenchResult]:
    """Benchmark a run's model (with its normalization) at its input shape."""
    from cnnlab.runs import load_run

    torch.set_num_threads(threads)
    run = load_run(run_dir)
    twin = torchvision_twin(run.meta["model"], len(run.classes), run.input_shape[0])
    engines = engines_for(
        run.model,
        run.input_shape,
        twin=twin,
        compile=compile,
        onnx=onnx,
        int8=int8,
        threads=threads,
    )
    return bench_engines(engines, run.input_shape, **options)
