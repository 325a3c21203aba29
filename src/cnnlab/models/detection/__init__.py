"""Object detectors: YOLOv1, a RetinaNet-style one-stage detector and a two-stage
Faster R-CNN-style detector, with their box codings and losses.

Importing this package registers the builders (``yolov1``, ``retinanet``,
``fasterrcnn``); every detector follows `Detector`.
"""

from cnnlab.models.detection import fasterrcnn, retinanet, yolo  # noqa: F401  (registers the builders)
from cnnlab.models.detection.common import Detector, detect, find_detector, select_detections

__all__ = ["Detector", "detect", "find_detector", "select_detections"]
