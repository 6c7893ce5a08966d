"""Image decoding for caption and scene datasets: JPEG/PNG/TIFF, grayscale, multispectral.

Every loader returns a float32 tensor ``[3, H, W]`` in 0..255 (torchgeo's sample convention),
or, on request, uint8: caption datamodules ship uint8 batches from their workers, which is 4x
less memory to pass between processes and to copy to the GPU; they become float there.

Band choice for inputs that are not 8-bit RGB (documented in ``docs/data.md``):

* 1 band (grayscale): repeated to three channels.
* 2 bands (grayscale + alpha): the first band repeated; 4 bands (RGBA): the first three.
* 13 bands (Sentinel-2 L1C in band order B01..B12 with B8A) or 12 bands (L2A, no B10): bands
  B04, B03, B02 (true colour) with one fixed scaling for every image: true colour shows
  reflectance x 2.5 (Sentinel Hub's standard true-colour script), clipped; integer digital
  numbers are reflectance x 10,000 (so DN x 255 / 4,000), floats are reflectance. Per-image
  statistics would give the same scene different colours in different tiles.
* Any other count: the first three bands, read as R, G, B.
* Other integer data wider than 8 bits and floats: each chosen band is linearly stretched from
  its 2nd to 98th percentile onto 0..255, clipped (the usual "2-98% stretch" for display), as
  no fixed range is known for an arbitrary sensor.
"""

import io
import math
from pathlib import Path
from typing import Final

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rs_vlm.io.random_crop import CropBox, CropSampler

__all__ = [
    'IMAGE_DTYPES',
    'SENTINEL2_TRUE_COLOUR_DN',
    'TIFF_SUFFIXES',
    'crop_and_resize',
    'decode_image_bytes',
    'load_image',
    'resize_and_center_crop',
    'select_rgb_bands',
    'sentinel2_true_colour',
    'stretch_to_uint8_range',
]

#: The image dtypes the loaders return.
IMAGE_DTYPES: Final = (torch.float32, torch.uint8)

#: File name suffixes read through rasterio (multi-band and 16-bit capable).
TIFF_SUFFIXES = frozenset({'.tif', '.tiff'})

#: Sentinel-2 band indices (0-based) of B04, B03, B02 for 13-band (L1C) and 12-band (L2A) stacks.
_SENTINEL2_RGB = {13: (3, 2, 1), 12: (3, 2, 1)}

#: Sentinel-2 digital number shown as white: reflectance 0.4 (x 10,000) times the gain 2.5.
SENTINEL2_TRUE_COLOUR_DN = 4000


def sentinel2_true_colour(bands: np.ndarray) -> np.ndarray:
    """Map Sentinel-2 bands onto 0..255 with one fixed gain: reflectance x 2.5 x 255, clipped.

    Args:
        bands: Sentinel-2 L1C/L2A bands, any shape: integer digital numbers (reflectance x
            10,000, as in EuroSAT's TIFFs) or float reflectance.

    Returns:
        A float32 array in 0..255.
    """
    white = 0.4 if np.issubdtype(bands.dtype, np.floating) else SENTINEL2_TRUE_COLOUR_DN
    return np.clip(bands.astype(np.float32) * np.float32(255.0 / white), 0, 255)


def stretch_to_uint8_range(band: np.ndarray) -> np.ndarray:
    """Map one band linearly from its 2nd..98th percentile onto 0..255 (clipped), as float32.

    Args:
        band: A 2-D array of any numeric type.

    Returns:
        A float32 array in 0..255.
    """
    band = band.astype(np.float32)
    low, high = np.percentile(band, (2, 98))
    if high <= low:
        return np.zeros_like(band) if high <= 0 else np.clip(band, 0, 255)
    return np.clip((band - low) * (255.0 / (high - low)), 0, 255)


def select_rgb_bands(array: np.ndarray) -> np.ndarray:
    """Choose three display bands from a ``[C, H, W]`` array (see the module docstring).

    Args:
        array: Band-first image of any dtype.

    Returns:
        A float32 ``[3, H, W]`` array in 0..255.
    """
    count = array.shape[0]
    if count in (1, 2):
        chosen = np.repeat(array[:1], 3, axis=0)
    elif count in _SENTINEL2_RGB:
        chosen = array[list(_SENTINEL2_RGB[count])]
        if chosen.dtype != np.uint8:
            return sentinel2_true_colour(chosen)
    else:
        chosen = array[:3]
    if chosen.dtype == np.uint8:
        return chosen.astype(np.float32)
    return np.stack([stretch_to_uint8_range(band) for band in chosen])


def _load_tiff(path: Path | bytes) -> np.ndarray:
    # rasterio reads any band count and bit depth; PIL cannot open multi-band 16-bit TIFFs.
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        if isinstance(path, bytes):
            with MemoryFile(path) as memory, memory.open() as source:
                return source.read()
        with rasterio.open(path) as source:
            return source.read()


def _load_pil(
    path: Path | io.BytesIO, size: int | None, crop: CropSampler | None = None
) -> np.ndarray:
    # 8-bit RGB comes back height x width x 3 (PIL's layout), resized (and cropped) to `size`;
    # other modes band-first at full size, cropped later on the tensor.
    with Image.open(path) as image:
        if image.mode in ('I;16', 'I;16B', 'I', 'F'):
            return np.asarray(image)[None]
        width, height = image.size
        box = crop(width, height) if crop is not None else None
        if size is not None and image.format == 'JPEG':
            # DCT-domain downscaling: decodes large JPEGs at 1/2, 1/4 or 1/8 scale, never
            # below the requested size (of the crop box, when cropping); much faster than a
            # full decode followed by a resize.
            request = (size, size)
            if box is not None:
                request = (math.ceil(width * size / box[2]), math.ceil(height * size / box[3]))
            image.draft('RGB', request)
        if image.mode != 'RGB':
            image = image.convert('RGB')
        if box is not None and size is not None:
            # the box in the (possibly draft-reduced) decoded grid, resized in one PIL call
            fx, fy = image.width / width, image.height / height
            left, top, box_width, box_height = box
            region = (left * fx, top * fy, (left + box_width) * fx, (top + box_height) * fy)
            image = image.resize(
                (size, size), Image.Resampling.BILINEAR, box=region, reducing_gap=None
            )
        elif size is not None:
            image = _resize_shorter_side(image, size)
            left, top = (image.width - size) // 2, (image.height - size) // 2
            image = image.crop((left, top, left + size, top + size))
        return np.array(image)  # a writable copy, which torch.from_numpy expects


def _resize_shorter_side(image: Image.Image, size: int) -> Image.Image:
    width, height = image.size
    scale = size / min(width, height)
    if scale == 1:
        return image
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    return image.resize(new_size, Image.Resampling.BILINEAR, reducing_gap=None)


def load_image(
    path: str | Path,
    size: int | None = None,
    dtype: torch.dtype = torch.float32,
    crop: CropSampler | None = None,
) -> Tensor:
    """Decode an image file into a ``[3, H, W]`` tensor in 0..255.

    Args:
        path: A JPEG, PNG, BMP, WebP, GIF or (multi-band, any bit depth) TIFF file.
        size: When given, resize so the shorter side is ``size`` and centre-crop to
            ``size x size`` (8-bit RGB paths decode JPEGs at a reduced scale first).
        dtype: ``torch.float32`` (the sample convention) or ``torch.uint8`` (rounded, for
            inputs that are not 8-bit).
        crop: Training crop: called with the full image's ``(width, height)``, returns the
            box ``(left, top, width, height)`` that is resized to ``size x size`` instead of
            the centre square (see :mod:`rs_vlm.io.random_crop`). Needs ``size``.

    Returns:
        The image tensor.

    Raises:
        OSError: The file is missing, truncated or not an image (PIL/rasterio's error).
        ValueError: ``dtype`` is neither, or ``crop`` without ``size``.
    """
    path = Path(path)
    return _decode(path, path.suffix, size, dtype, crop)


def decode_image_bytes(
    data: bytes,
    suffix: str,
    size: int | None = None,
    dtype: torch.dtype = torch.float32,
    crop: CropSampler | None = None,
) -> Tensor:
    """Decode an encoded image held in memory (e.g. a tar member), like :func:`load_image`.

    Args:
        data: The encoded file content.
        suffix: Its file suffix (``.jpg``, ``.png``, ``.tif``, ...), which picks the decoder.
        size: Shorter-side resize + centre crop, as in :func:`load_image`.
        dtype: ``torch.float32`` or ``torch.uint8``, as in :func:`load_image`.
        crop: Training crop box sampler, as in :func:`load_image`.

    Returns:
        A ``[3, H, W]`` tensor in 0..255.
    """
    if suffix.lower() in TIFF_SUFFIXES:
        return _decode(data, suffix, size, dtype, crop)
    return _decode(io.BytesIO(data), suffix, size, dtype, crop)


def _decode(
    source: Path | bytes | io.BytesIO,
    suffix: str,
    size: int | None,
    dtype: torch.dtype,
    crop: CropSampler | None = None,
) -> Tensor:
    if dtype not in IMAGE_DTYPES:
        raise ValueError(f'image dtype must be torch.float32 or torch.uint8, got {dtype}')
    if crop is not None and size is None:
        raise ValueError('a training crop needs the output size')
    if suffix.lower() in TIFF_SUFFIXES:
        assert not isinstance(source, io.BytesIO)
        array = select_rgb_bands(_load_tiff(source))
    else:
        assert not isinstance(source, bytes)
        array = _load_pil(source, size, crop)
        if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
            # Channel-first in one torch copy: numpy's transposed uint8 copy is ~6x slower.
            hwc = torch.from_numpy(array)
            tensor = torch.empty((3, *hwc.shape[:2]), dtype=dtype)
            tensor.copy_(hwc.permute(2, 0, 1))
            if size is None or crop is not None:  # already resized (and cropped) by PIL
                return tensor
            return resize_and_center_crop(tensor, size)
        array = select_rgb_bands(array)
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if crop is not None and size is not None:
        tensor = crop_and_resize(tensor, crop(tensor.shape[-1], tensor.shape[-2]), size)
    elif size is not None:
        tensor = resize_and_center_crop(tensor, size)
    if dtype == torch.uint8:
        return tensor.round().clamp_(0, 255).to(torch.uint8)
    return tensor


def crop_and_resize(image: Tensor, box: CropBox, size: int) -> Tensor:
    """Cut ``box`` out of a ``[C, H, W]`` tensor and resize it to ``size x size`` (bilinear).

    Args:
        image: Float image tensor.
        box: ``(left, top, width, height)`` in pixels.
        size: Output side length.

    Returns:
        A ``[C, size, size]`` tensor.
    """
    left, top, width, height = box
    region = image[:, top : top + height, left : left + width]
    if region.shape[-2:] == (size, size):
        return region
    return torch.nn.functional.interpolate(
        region[None], size=(size, size), mode='bilinear', antialias=True, align_corners=False
    )[0]


def resize_and_center_crop(image: Tensor, size: int) -> Tensor:
    """Resize a ``[C, H, W]`` tensor so its shorter side is ``size`` and centre-crop a square.

    Args:
        image: Float image tensor.
        size: Output side length.

    Returns:
        A ``[C, size, size]`` tensor.
    """
    height, width = image.shape[-2:]
    if min(height, width) != size:
        scale = size / min(height, width)
        new_hw = (max(size, round(height * scale)), max(size, round(width * scale)))
        image = torch.nn.functional.interpolate(
            image[None], size=new_hw, mode='bilinear', antialias=True, align_corners=False
        )[0]
        height, width = new_hw
    top, left = (height - size) // 2, (width - size) // 2
    return image[:, top : top + size, left : left + size]
