"""One pixel budget for every image decoder (Pillow, rasterio, masks, hashing).

A few hundred kilobytes of compressed data can describe a 20000 x 20000 image (a
"decompression bomb"); decoded, and converted to float, that is gigabytes. Every decoder in
rs_vlm therefore reads the image size from the header first and refuses, with
:class:`~rs_vlm.errors.ImageTooLargeError` naming the file, any image that would be held in
memory at more than :func:`max_image_pixels` pixels. Where the format allows decoding at a
reduced resolution (JPEG DCT scaling, GeoTIFF overviews / decimated reads) and the caller
wants a smaller image, the budget applies to the reduced image, so large scenes still load.

The budget is Pillow's own warning threshold (``PIL.Image.MAX_IMAGE_PIXELS``, 89.5 million
pixels, about 0.25 GiB per 8-bit RGB image); set ``RS_VLM_MAX_IMAGE_PIXELS`` to change it.
"""

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

from PIL import Image

from rs_vlm.errors import ImageTooLargeError

__all__ = [
    'DEFAULT_MAX_IMAGE_PIXELS',
    'check_pixel_budget',
    'max_image_pixels',
    'open_pillow_image',
    'reduction_factor',
]

#: Pillow's decompression-bomb warning threshold, our default budget.
DEFAULT_MAX_IMAGE_PIXELS: Final = 89_478_485

#: Pillow's own check reads a module global; it is switched off only while we open a header
#: (our check, which also knows about reduced decoding, takes its place).
_PILLOW_GLOBAL = threading.Lock()


def max_image_pixels() -> int:
    """The pixel budget: ``RS_VLM_MAX_IMAGE_PIXELS`` if set, else 89,478,485.

    Raises:
        ValueError: The variable is not a positive integer.
    """
    value = os.environ.get('RS_VLM_MAX_IMAGE_PIXELS')
    if value is None:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not value.strip().isdigit() or int(value) <= 0:
        raise ValueError(f'RS_VLM_MAX_IMAGE_PIXELS must be a positive integer, got {value!r}')
    return int(value)


def check_pixel_budget(width: int, height: int, path: str | Path, what: str = 'image') -> None:
    """Refuse an image of ``width x height`` pixels when that is over the budget.

    Args:
        width: Pixels per row that would be decoded.
        height: Rows that would be decoded.
        path: The file, named in the error.
        what: What is decoded ("image", "mask"), for the message.

    Raises:
        ImageTooLargeError: Over :func:`max_image_pixels` (or a negative size).
    """
    budget = max_image_pixels()
    if width < 0 or height < 0 or width * height > budget:
        raise ImageTooLargeError(
            path,
            f'{what} of {width} x {height} pixels is over the pixel budget of {budget:,} '
            '(a decompression bomb, or raise RS_VLM_MAX_IMAGE_PIXELS)',
        )


def reduction_factor(width: int, height: int, size: int | None, limit: int = 1 << 10) -> int:
    """The largest power of two ``f`` that keeps the shorter side at least ``size`` after ``/f``.

    Args:
        width: Image width.
        height: Image height.
        size: The shorter side wanted; None means full resolution (factor 1).
        limit: Largest factor returned.

    Returns:
        The factor (1 when no reduction is possible).
    """
    if size is None or size <= 0 or min(width, height) <= size:
        return 1
    factor = 2 ** int(math.log2(min(width, height) / size))
    return max(1, min(factor, limit))


@contextmanager
def open_pillow_image(source: str | Path | IO[bytes]) -> Iterator[Image.Image]:
    """``PIL.Image.open`` without Pillow's bomb error, for callers that check the budget.

    Pillow refuses images over twice its threshold as soon as the header is read, before a
    JPEG could be drafted at reduced scale; our callers call :func:`check_pixel_budget` on
    the size they will actually decode.

    Args:
        source: A file path or binary file object.

    Yields:
        The opened (not yet decoded) image.
    """
    with _PILLOW_GLOBAL:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            image = Image.open(source)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    with image:
        yield image
