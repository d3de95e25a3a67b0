"""Turn any image file into the pipeline's uniform RGB picture, or say why it cannot be used.

Photos from a phone, a web export or an old instaloader folder come in every mode Pillow
knows; later stages must only ever see upright 8-bit RGB, so all the oddities end here.
scrape (for training) and predict (for new photos) both call :func:`load_rgb`, then
:func:`fit_square` makes the model's square input (augment for training, predict for new
photos), so a photo is seen the same way on both paths.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
BACKGROUND = (255, 255, 255)  # transparent pixels become white, as Instagram shows them
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


@dataclass(frozen=True)
class PhotoLimits:
    """scrape's guards (params ``scrape.max_pixels``, ``scrape.max_side``), kept beside the model for predict."""

    max_pixels: int
    max_side: int | None


class UnusableImage(Exception):
    """The file cannot become a training image; the message says why, for the scrape report."""


def load_rgb(data: bytes, max_pixels: int, max_side: int | None) -> Image.Image:
    """Decode ``data`` into an upright RGB image no larger than ``max_side``, or raise :class:`UnusableImage`."""
    if not data:
        raise UnusableImage("empty file (0 bytes)")
    image = _open_within_limit(data, max_pixels)
    if max_side is not None:
        image.draft(None, (max_side, max_side))  # JPEG: let the decoder downscale, far cheaper than resizing
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnusableImage(f"corrupt or truncated image ({exc})") from None
    image = to_rgb(image)
    if max_side is not None:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _open_within_limit(data: bytes, max_pixels: int) -> Image.Image:
    """Read only the header, and refuse huge pixel counts before any pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnusableImage(f"refused as a possible decompression bomb ({exc})") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UnusableImage("not an image format Pillow can read") from None
    pixels = image.width * image.height
    if pixels > max_pixels:
        raise UnusableImage(
            f"refused as a possible decompression bomb: {image.width}x{image.height} = {pixels} pixels, "
            f"over scrape.max_pixels = {max_pixels}"
        )
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: alpha composited on white, 16-bit grey scaled (not clipped), CMYK and palettes converted."""
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.uint32) >> 8
        return Image.fromarray(grey.clip(0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def fit_square(image: Image.Image, size: int, resize: str) -> np.ndarray:
    """Resize to ``size`` x ``size``: keep the aspect and pad with black or crop the centre, or ``stretch``
    the whole photo (a small product keeps more of its pixels along the photo's short side)."""
    image = image.convert("RGB")
    if resize != "stretch":
        side = max(image.size) if resize == "pad" else min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))  # crop outside the image pads with black
    # Across, then down, as two calls: Pillow picks the order of a two-way resize itself (down first for
    # some tall photos), and the exported graph (export.square_image) must match it bit for bit.
    across = image.resize((size, image.height), Image.Resampling.BILINEAR)
    return np.asarray(across.resize((size, size), Image.Resampling.BILINEAR))
