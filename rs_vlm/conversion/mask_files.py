"""Segmentation mask files -> annotated images (Mask-to-Box on one mask file and its image).

Masks are index-coded (one class id a pixel: LoveDA, ``.npy`` arrays) or RGB colour-coded
(ISPRS Potsdam/Vaihingen, iSAID); the image is found beside the mask or in an image folder by
the mask's stem (after removing ``strip_suffix`` and appending ``image_suffix``).
"""

import warnings
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError

import numpy as np

from rs_vlm.errors import AnnotationError, ImageTooLargeError
from rs_vlm.pixel_budget import check_pixel_budget, open_pillow_image

from .annotated_image import AnnotatedImage
from .mask_to_box import NAMED_MASK_FORMATS, RGB, mask_to_boxes
from .reader_utils import find_image, image_size

__all__ = ['MaskSettings', 'read_mask', 'read_mask_file']

_TIFF_SUFFIXES = ('.tif', '.tiff')


@dataclass(frozen=True)
class MaskSettings:
    """How to read the class ids of a mask.

    Attributes:
        palette: RGB colour of each class id for colour-coded masks; None for index-coded.
        class_names: Name of each class id (None: the ids as text).
        ignore_index: Class ids that give no boxes (background, clutter).
        min_area: Smallest component area in pixels that gives a box.
    """

    palette: tuple[RGB, ...] | None = None
    class_names: tuple[str, ...] | None = None
    ignore_index: tuple[int, ...] = ()
    min_area: float = 0.0

    @classmethod
    def named(
        cls,
        mask_format: str | None,
        *,
        class_names: tuple[str, ...] | None = None,
        ignore_index: tuple[int, ...] | None = None,
        min_area: float = 0.0,
    ) -> 'MaskSettings':
        """Settings of a named format (:data:`NAMED_MASK_FORMATS`) with overrides.

        Raises:
            ValueError: For an unknown format name.
        """
        palette, names, ignore = None, None, ()
        if mask_format is not None:
            if mask_format not in NAMED_MASK_FORMATS:
                raise ValueError(
                    f'unknown mask format {mask_format!r}; expected one of '
                    f'{sorted(NAMED_MASK_FORMATS)}'
                )
            palette, names, ignore = NAMED_MASK_FORMATS[mask_format]
        return cls(
            palette=palette,
            class_names=class_names if class_names is not None else names,
            ignore_index=tuple(ignore_index) if ignore_index is not None else ignore,
            min_area=min_area,
        )


def read_mask(path: Path) -> np.ndarray:
    """A mask as ``[H, W]`` class ids or ``[H, W, 3]`` colours (``.npy``, image, GeoTIFF).

    Raises:
        AnnotationError: If the file cannot be read.
    """
    try:
        if path.suffix.lower() == '.npy':
            # Memory-mapped first, so the header's shape is checked before anything is read.
            mapped = np.load(path, allow_pickle=False, mmap_mode='r')
            height = mapped.shape[0] if mapped.ndim else 1
            check_pixel_budget(int(np.prod(mapped.shape[1:])), height, path, 'mask')
            mask = np.array(mapped)
        elif path.suffix.lower() in _TIFF_SUFFIXES:
            import rasterio  # only GeoTIFF masks (ISPRS) need it

            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # NotGeoreferencedWarning
                with rasterio.open(path) as dataset:
                    check_pixel_budget(dataset.width, dataset.height, path, 'mask')
                    mask = dataset.read(list(range(1, min(dataset.count, 3) + 1)))
            mask = mask[0] if mask.shape[0] == 1 else np.moveaxis(mask[:3], 0, -1)
        else:
            with open_pillow_image(path) as image:
                check_pixel_budget(*image.size, path, 'mask')
                mask = np.array(image.convert('RGB') if image.mode in ('RGBA', 'CMYK') else image)
    except FileNotFoundError:
        raise AnnotationError(path, 'mask file not found') from None
    except ImageTooLargeError as error:
        raise AnnotationError(path, f'cannot read mask: {error.reason}') from None
    except (OSError, ValueError, SyntaxError, EOFError, TokenError) as error:
        # numpy raises TokenError (tokenize) for some malformed .npy headers
        raise AnnotationError(path, f'cannot read mask: {error}') from None
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim not in (2, 3):
        raise AnnotationError(
            path, f'mask has shape {list(mask.shape)}; expected [height, width] or [h, w, 3]'
        )
    return mask


def read_mask_file(
    file: str | Path,
    settings: MaskSettings,
    *,
    images: str | Path | None = None,
    strip_suffix: str = '',
    image_suffix: str = '',
) -> AnnotatedImage:
    """One mask file -> its image's record, boxes by Mask-to-Box.

    Args:
        file: The mask file.
        settings: Palette, class names, ignored ids and minimum area.
        images: Image folder (default: the mask's folder).
        strip_suffix: Removed from the mask's stem (``_label``).
        image_suffix: Appended to the stem to name the image (``_RGB``).

    Returns:
        The image with one box per connected component of each class.

    Raises:
        AnnotationError: For an unreadable mask, a missing image
            (:class:`~.reader_utils.ImageNotFoundError`), a mask whose size differs from the
            image's, or class ids outside the palette/names.
    """
    file = Path(file)
    stem = file.stem
    if strip_suffix and stem.endswith(strip_suffix):
        stem = stem[: -len(strip_suffix)]
    stem += image_suffix
    image = find_image(Path(images) if images is not None else file.parent, stem, file)
    if image.resolve() == file.resolve():
        raise AnnotationError(
            file, 'the image of this mask is the mask itself: pass images= or image_suffix='
        )
    width, height = image_size(image, file)
    mask = read_mask(file)
    if mask.shape[:2] != (height, width):
        raise AnnotationError(
            file,
            f'mask is {mask.shape[1]}x{mask.shape[0]} but image {image} is {width}x{height}',
        )
    try:
        boxes, labels = mask_to_boxes(
            mask,
            class_names=settings.class_names,
            palette=settings.palette if mask.ndim == 3 else None,
            ignore_index=settings.ignore_index,
            min_area=settings.min_area,
        )
    except ValueError as error:
        raise AnnotationError(file, str(error)) from None
    return AnnotatedImage(
        path=str(image), width=width, height=height, boxes=boxes, labels=labels, source=str(file)
    )
