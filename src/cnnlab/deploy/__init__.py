"""Deployment: export to ONNX and torch.export programs, the inference path, benchmarks.

- `cnnlab.deploy.export`: ``export_run`` writes a run's model as an ONNX
  file (validated with onnxruntime) or a ``torch.export`` program, carrying the
  class names, input shape and preprocessing.
- `cnnlab.deploy.onnx_model`: ``OnnxClassifier`` predicts from such an
  ONNX file without the run directory.
- `cnnlab.deploy.inference`: ``prepare`` turns a trained model into its
  inference form (RepVGG re-parameterized, conv+BN fused, channels-last,
  optionally compiled).
- `cnnlab.deploy.bench`: latency and throughput of torchvision, cnnlab
  eager, the inference path and onnxruntime, alternated in one process.

onnx, onnxruntime and onnxscript are optional (``pip install cnnlab[export]``)
and imported only when needed.
"""

from cnnlab.deploy.export import ExportResult, export_onnx, export_program, export_run
from cnnlab.deploy.inference import prepare
from cnnlab.deploy.onnx_model import OnnxClassifier

__all__ = [
    "ExportResult",
    "OnnxClassifier",
    "export_onnx",
    "export_program",
    "export_run",
    "prepare",
]
