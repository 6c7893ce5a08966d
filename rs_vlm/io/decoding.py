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
* Non-finite pixels (NaN no-data, infinities) are left out of the percentiles and become 0,
  in either scaling, so one NaN pixel does not blank or poison its band.

Memory is bounded by :mod:`rs_vlm.pixel_budget`: an image whose decoded size is over the pixel
budget raises :class:`~rs_vlm.errors.ImageTooLargeError` (a ``ValueError``, so a ``skip``
corpus counts it as one bad image). With ``size`` given (and no training crop), JPEGs are
decoded at 1/2, 1/4 or 1/8 scale and TIFFs read at a power-of-two reduced resolution (their
overviews when they have them) that keeps the shorter side at least ``size``; only the three
display bands of a multi-band TIFF are read.
"""

import io
import math
import os
from pathlib import Path
from typing import Final

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rs_vlm.errors import InputError
from rs_vlm.io.random_crop import CropBox, CropSampler
from rs_vlm.pixel_budget import check_pixel_budget, open_pillow_image, reduction_factor

__all__ = [
    'IMAGE_DTYPES',
    'MAX_ENCODED_IMAGE_BYTES',
    'SENTINEL2_TRUE_COLOUR_DN',
    'TIFF_SUFFIXES',
    'crop_and_resize',
    'decode_image_bytes',
    'load_image',
    'read_encoded_image',
    'resize_and_center_crop',
    'rgb_band_indexes',
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

#: Largest encoded image file read whole into memory (e.g. to copy it into a shard).
MAX_ENCODED_IMAGE_BYTES: Final = 1 << 30

#: Leading bytes of the encoded formats the decoders read.
_MAGIC = (
    (b'\xff\xd8\xff', 'JPEG'),
    (b'\x89PNG\r\n\x1a\n', 'PNG'),
    (b'II*\x00', 'TIFF'),
    (b'MM\x00*', 'TIFF'),
    (b'II+\x00', 'BigTIFF'),
    (b'MM\x00+', 'BigTIFF'),
    (b'BM', 'BMP'),
    (b'GIF87a', 'GIF'),
    (b'GIF89a', 'GIF'),
)

#: GDAL block cache while reading one TIFF, in MB.
_GDAL_CACHE_MB = 64

#: Sentinel-2 digital number shown as white: reflectance 0.4 (x 10,000) times the gain 2.5.
SENTINEL2_TRUE_COLOUR_DN = 4000


def sentinel2_true_colour(bands: np.ndarray) -> np.ndarray:
    """Map Sentinel-2 bands onto 0..255 with one fixed gain: reflectance x 2.5 x 255, clipped.

    Args:
        bands: Sentinel-2 L1C/L2A bands, any shape: integer digital numbers (reflectance x
            10,000, as in EuroSAT's TIFFs) or float reflectance.

    Returns:
        A float32 array in 0..255 (non-finite values become 0).
    """
    white = 0.4 if np.issubdtype(bands.dtype, np.floating) else SENTINEL2_TRUE_COLOUR_DN
    scaled = bands.astype(np.float32) * np.float32(255.0 / white)
    return np.where(np.isfinite(scaled), np.clip(scaled, 0, 255), np.float32(0))


def stretch_to_uint8_range(band: np.ndarray) -> np.ndarray:
    """Map one band linearly from its 2nd..98th percentile onto 0..255 (clipped), as float32.

    Non-finite values (NaN, +-inf) are ignored by the percentiles and set to 0, so one NaN
    pixel does not blank the band.

    Args:
        band: A 2-D array of any numeric type.

    Returns:
        A float32 array in 0..255.
    """
    band = band.astype(np.float32)
    finite = np.isfinite(band)
    all_finite = bool(finite.all())
    if not all_finite:
        if not finite.any():
            return np.zeros_like(band)
        band = np.where(finite, band, np.float32(0))
    values = band if all_finite else band[finite]
    low, high = np.percentile(values, (2, 98))
    if high <= low:
        stretched = np.zeros_like(band) if high <= 0 else np.clip(band, 0, 255)
    else:
        stretched = np.clip((band - low) * (255.0 / (high - low)), 0, 255)
    if not all_finite:
        stretched[~finite] = 0
    return stretched


def rgb_band_indexes(count: int) -> list[int]:
    """The 0-based bands shown as R, G, B for an image of ``count`` bands (module docstring).

    Args:
        count: Number of bands.

    Returns:
        Three band indexes (the first band three times for 1 or 2 bands).
    """
    if count in (1, 2):
        return [0, 0, 0]
    if count in _SENTINEL2_RGB:
        return list(_SENTINEL2_RGB[count])
    return [0, 1, 2]


def select_rgb_bands(array: np.ndarray) -> np.ndarray:
    """Choose three display bands from a ``[C, H, W]`` array (see the module docstring).

    Args:
        array: Band-first image of any dtype.

    Returns:
        A float32 ``[3, H, W]`` array in 0..255.
    """
    return _scale_rgb(array[rgb_band_indexes(array.shape[0])], array.shape[0])


def _scale_rgb(chosen: np.ndarray, count: int) -> np.ndarray:
    """Scale the three display bands of a ``count``-band image onto 0..255 (float32)."""
    if count in _SENTINEL2_RGB and chosen.dtype != np.uint8:
        return sentinel2_true_colour(chosen)
    if chosen.dtype == np.uint8:
        return chosen.astype(np.float32)
    return np.stack([stretch_to_uint8_range(band) for band in chosen])


def _load_tiff(source: Path | bytes, size: int | None, name: str | Path) -> tuple[np.ndarray, int]:
    # rasterio reads any band count and bit depth; PIL cannot open multi-band 16-bit TIFFs.
    # Returns the three display bands and the file's band count (which picks their scaling).
    import warnings

    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    def read(dataset: rasterio.io.DatasetReader) -> tuple[np.ndarray, int]:
        if dataset.count < 1:
            raise ValueError(f'{name}: TIFF has no bands')
        factor = reduction_factor(dataset.width, dataset.height, size)
        height = max(1, dataset.height // factor)
        width = max(1, dataset.width // factor)
        check_pixel_budget(width, height, name)
        # Only the three display bands are read; duplicates (grayscale) are read once.
        chosen = rgb_band_indexes(dataset.count)
        unique = sorted(set(chosen))
        bands = dataset.read(
            [index + 1 for index in unique],
            out_shape=(len(unique), height, width),
            resampling=Resampling.average if factor > 1 else Resampling.nearest,
        )
        return bands[[unique.index(index) for index in chosen]], dataset.count

    # GDAL caches decoded blocks up to 5% of the RAM by default: a reduced read of a huge
    # TIFF would fill it. A small cache keeps a worker's memory bounded.
    with warnings.catch_warnings(), rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB):
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        if isinstance(source, bytes):
            with MemoryFile(source) as memory, memory.open() as dataset:
                return read(dataset)
        with rasterio.open(source) as dataset:
            return read(dataset)


def _load_pil(
    path: Path | io.BytesIO, size: int | None, name: str | Path, crop: CropSampler | None = None
) -> np.ndarray:
    # 8-bit RGB comes back height x width x 3 (PIL's layout), resized (and cropped) to `size`;
    # other modes band-first at full size, cropped later on the tensor.
    with open_pillow_image(path) as image:
        if image.mode in ('I;16', 'I;16B', 'I', 'F'):
            check_pixel_budget(*image.size, name)
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
        check_pixel_budget(*image.size, name)
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
        ImageTooLargeError: The decoded image would be over the pixel budget.
        ValueError: ``dtype`` is neither, or ``crop`` without ``size``.
    """
    path = Path(path)
    return _decode(path, path.suffix, size, dtype, path, crop)


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
    name = f'<{len(data)} bytes of {suffix} data>'
    if suffix.lower() in TIFF_SUFFIXES:
        return _decode(data, suffix, size, dtype, name, crop)
    return _decode(io.BytesIO(data), suffix, size, dtype, name, crop)


def _decode(
    source: Path | bytes | io.BytesIO,
    suffix: str,
    size: int | None,
    dtype: torch.dtype,
    name: str | Path,
    crop: CropSampler | None = None,
) -> Tensor:
    if dtype not in IMAGE_DTYPES:
        raise ValueError(f'image dtype must be torch.float32 or torch.uint8, got {dtype}')
    if crop is not None and size is None:
        raise ValueError('a training crop needs the output size')
    if suffix.lower() in TIFF_SUFFIXES:
        assert not isinstance(source, io.BytesIO)
        # A training crop is sampled on the full grid, so only centre crops read reduced.
        array = _scale_rgb(*_load_tiff(source, size if crop is None else None, name))
    else:
        assert not isinstance(source, bytes)
        array = _load_pil(source, size, name, crop)
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


def _sniff_format(head: bytes) -> str | None:
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return 'WebP'
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def read_encoded_image(path: str | Path, max_bytes: int = MAX_ENCODED_IMAGE_BYTES) -> bytes:
    """Read an image file's encoded bytes, after checking its size and leading bytes.

    Used where a file is copied whole (into a shard): a multi-gigabyte file that is not an
    image is refused from its first bytes, before it is read.

    Args:
        path: The file.
        max_bytes: Largest file accepted.

    Returns:
        The file content.

    Raises:
        InputError: The file is larger than ``max_bytes`` or does not start like a JPEG, PNG,
            TIFF, BMP, GIF or WebP file.
        OSError: The file cannot be read.
    """
    path = Path(path)
    with path.open('rb') as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(16)
        if _sniff_format(head) is None:
            raise InputError(
                path, f'not an image: starts with {head[:8]!r}, not a JPEG/PNG/TIFF/BMP/GIF/WebP'
            )
        if size > max_bytes:
            raise InputError(path, f'image file of {size:,} bytes is over the {max_bytes:,} limit')
    return path.read_bytes()
