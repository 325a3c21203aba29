"""Decode one image file (PNG, JPEG, GIF, WebP, BMP, ...) into a uint8 ``(C, H, W)`` tensor.

Decoding uses ``torchvision.io.decode_image`` and falls back to Pillow for formats
torchvision cannot read (BMP, TIFF, ...).  Channels are converted to what the
model expects: grey -> RGB repeats the channel, RGB -> grey takes the ITU-R 601
luminance ``0.299 R + 0.587 G + 0.114 B``, an alpha channel is dropped.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_image

from cnnlab.errors import ConfigError, DataError
from cnnlab.fileio import read_regular

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_pixels(data: bytes, name: str | os.PathLike = "<bytes>") -> None:
    """Refuse an image whose header declares more pixels than Pillow's limit, before decoding.

    The limit is Pillow's ``PIL.Image.MAX_IMAGE_PIXELS`` (about 179 million pixels by
    default; set it to ``None`` to lift it) and counts every frame of an animation.
    A 400-byte PNG can declare 30000 x 30000 pixels: decoding it would allocate
    gigabytes (torchvision's PNG decoder even crashes on such a file when its
    data is short), so the size is read from the header first.
    """
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as pil:
                (width, height), frames = pil.size, getattr(pil, "n_frames", 1)
    except Image.DecompressionBombError as exc:
        raise DataError(_too_many_pixels(name, "more than twice")) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return  # not a format Pillow reads: the decoders below report it
    if limit is not None and width * height * frames > limit:
        size = f"{frames} frames of " if frames > 1 else ""
        raise DataError(_too_many_pixels(name, f"{size}{width} x {height} pixels, more than"))


def _too_many_pixels(name: str | os.PathLike, declared: str) -> str:
    return (
        f"Image {str(name)!r} is too large to decode: its header declares {declared} "
        f"PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS} pixels. Resize the image, "
        "or raise that limit if the file is trusted."
    )


def decode_native(data: bytes, name: str | os.PathLike = "<bytes>") -> torch.Tensor:
    """Decode encoded image bytes to uint8 ``(C, H, W)`` with the file's own channels (1-4).

    Images over Pillow's pixel limit are refused before decoding (`check_pixels`).
    """
    check_pixels(data, name)
    if data.startswith(_PNG_SIGNATURE):
        # Pillow, not torchvision: torchvision returns a palette PNG's indices, and its
        # libpng decoder crashes the process (SIGSEGV) on some damaged PNGs.
        return _decode_with_pil(data, name)
    try:
        image = decode_image(
            torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.UNCHANGED
        )
    except (RuntimeError, ValueError):
        image = _decode_with_pil(data, name)
    if image.ndim == 4:  # animated GIF: first frame
        image = image[0]
    return image


def _decode_with_pil(data: bytes, name: str | os.PathLike) -> torch.Tensor:
    try:
        with Image.open(io.BytesIO(data)) as pil:
            if pil.mode.startswith("I;16"):  # 16-bit grey: the high byte, as torchvision scales
                array = (np.asarray(pil).astype(np.uint16) >> 8).astype(np.uint8)
            else:
                has_colour = pil.mode not in ("1", "L", "LA", "I", "F")
                array = np.asarray(pil.convert("RGB" if has_colour else "L"))
    # SyntaxError: Pillow's "broken PNG file" for damaged chunks
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as exc:
        raise DataError(
            f"Cannot decode image {str(name)!r}: {exc}. "
            "Expected a PNG, JPEG, GIF, WebP or BMP file."
        ) from exc
    tensor = torch.from_numpy(array.copy())
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)


def to_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert a uint8 ``(C, H, W)`` image with 1-4 channels to 1 (grey) or 3 (RGB) channels."""
    if channels not in (1, 3):
        raise ConfigError(f"in_chans must be 1 or 3 for image files, got {channels}.")
    native = image.shape[0]
    if native in (2, 4):  # grey+alpha, RGBA: drop alpha
        image, native = image[: native - 1], native - 1
    if native == channels:
        return image
    if channels == 3:
        return image.expand(3, -1, -1).contiguous()
    return TF.rgb_to_grayscale(image, num_output_channels=1)


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a uint8 ``(C, H, W)`` image to ``size = (H, W)`` (bilinear, antialiased)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return TF.resize(image, list(size), antialias=True)


MAX_IMAGE_BYTES = 256 << 20  # an image file over 256 MiB is refused before it is read


def read_image(
    path: str | os.PathLike, channels: int, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Read ``path`` as uint8 ``(channels, H, W)``, resized to ``size`` if given."""
    data = read_regular(path, limit=MAX_IMAGE_BYTES, what="Image")
    image = to_channels(decode_native(data, path), channels)
    return image if size is None else resize(image, size)


def load_image(path: str | os.PathLike, in_chans: int, size: tuple[int, int]) -> torch.Tensor:
    """Read any PNG/JPEG/... file as a float ``(in_chans, H, W)`` tensor in [0, 1] of ``size``.

    Raises `DataError` naming the file if it cannot be read or decoded.
    """
    return read_image(path, in_chans, size).float().div_(255)
