"""Shared pieces of the annotation readers: text decoding, numbers, image sizes, clipping.

Everything here raises :class:`~rs_vlm.errors.AnnotationError` naming the file and the line (or
key) at fault, so the readers raise nothing else on malformed input.
"""

import io
import math
import warnings
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from rs_vlm.errors import AnnotationError
from rs_vlm.image_files import IMAGE_SUFFIXES
from rs_vlm.pixel_budget import open_pillow_image

from .annotated_image import AnnotatedImage

__all__ = [
    'IMAGE_SUFFIXES',
    'ImageNotFoundError',
    'check_class',
    'check_declared_size',
    'clip_boxes',
    'clipped_annotated_image',
    'find_image',
    'image_size',
    'parse_number',
    'read_lines',
    'safe_image_name',
]

#: Read through rasterio, as the datasets decode them (multi-band GeoTIFFs Pillow cannot open).
_TIFF_SUFFIXES = ('.tif', '.tiff')


class ImageNotFoundError(AnnotationError):
    """The image an annotation names does not exist (counted apart from unreadable images)."""


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (BOM tolerated), without line endings.

    Raises:
        AnnotationError: If the file cannot be read or is not UTF-8 (with the line).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error.strerror or error}') from None
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b'\n') + 1
        raise AnnotationError(path, f'not UTF-8 text (byte {error.start})', line=line) from None
    # Only \n, \r\n and \r end a line (str.splitlines also splits at U+2028, NEL, form
    # feeds...), so line numbers are those of a text editor.
    return [line.rstrip('\n') for line in io.StringIO(text, newline=None)]


def parse_number(
    text: str, path: str | Path, *, line: int | None = None, key: str | None = None
) -> float:
    """A finite float from annotation text.

    Raises:
        AnnotationError: If ``text`` is not a finite number.
    """
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise AnnotationError(
            path, f'expected a number, got {text!r}', line=line, key=key
        ) from None
    if not math.isfinite(value):
        raise AnnotationError(path, f'expected a finite number, got {text!r}', line=line, key=key)
    return value


def check_class(
    label: str,
    classes: Collection[str] | None,
    path: str | Path,
    *,
    line: int | None = None,
    key: str | None = None,
) -> str:
    """Return ``label``; with a strict class list, raise if it is not in it.

    Raises:
        AnnotationError: If the label is empty or not in ``classes``.
    """
    if not label or not any(character.isalnum() for character in label):
        # A name without letters or digits renders as "lots of s" in a caption.
        raise AnnotationError(
            path,
            f'class name {label!r} has no letters or digits; expected a name such as "ship"',
            line=line,
            key=key,
        )
    if classes is not None and label not in classes:
        raise AnnotationError(
            path,
            f'unknown class {label!r}; expected one of {sorted(classes)}',
            line=line,
            key=key,
        )
    return label


def find_image(
    folder: Path, name: str, path: str | Path, *, line: int | None = None, key: str | None = None
) -> Path:
    """The image ``name`` in ``folder``; a bare stem tries :data:`IMAGE_SUFFIXES`.

    Raises:
        AnnotationError: (naming the annotation ``path``) if no such image exists.
    """
    candidate = folder / name
    if candidate.suffix.lower() in IMAGE_SUFFIXES and candidate.is_file():
        return candidate
    for suffix in IMAGE_SUFFIXES:
        for variant in (suffix, suffix.upper()):
            other = folder / f'{name}{variant}'
            if other.is_file():
                return other
            other = candidate.with_suffix(variant)
            if other.is_file():
                return other
    raise ImageNotFoundError(path, f'image {name!r} not found in {folder}', line=line, key=key)


def safe_image_name(name: str, path: str | Path, *, key: str | None = None) -> str:
    """Return an annotation's image name if it stays inside the image folder.

    Raises:
        AnnotationError: (naming the annotation ``path`` and ``key``) for an empty name, an
            absolute path or a ``..`` component: such entries would point the corpus at files
            outside the dataset (``/etc/passwd``).
    """
    parts = name.replace('\\', '/').split('/')
    if (
        not name.strip()
        or name.startswith(('/', '\\'))
        or Path(name).is_absolute()
        or ('..' in parts)
        or ':' in parts[0]
    ):
        raise AnnotationError(
            path,
            f'image name {name!r} must be a relative path inside the image folder '
            '(no absolute path, drive or "..")',
            key=key,
        )
    return name


def check_declared_size(
    image: Path, width: int, height: int, path: str | Path, *, key: str | None = None
) -> None:
    """Check that an annotation's declared image size matches the image file's header.

    Raises:
        ImageNotFoundError: If the image does not exist.
        AnnotationError: If the sizes differ (boxes would be clipped to the wrong frame) or
            the image cannot be read.
    """
    if not image.is_file():
        raise ImageNotFoundError(path, f'image {image} not found', key=key)
    actual = image_size(image, path)
    if actual != (width, height):
        raise AnnotationError(
            path,
            f'declares the image as {width}x{height} but {image} is {actual[0]}x{actual[1]}',
            key=key,
        )


def image_size(image: str | Path, annotation: str | Path | None = None) -> tuple[int, int]:
    """Width and height from an image file's header (the pixels are not decoded).

    Raises:
        AnnotationError: If the image cannot be opened (names the image and the annotation).
    """
    if Path(image).suffix.lower() in _TIFF_SUFFIXES:
        return _raster_size(Path(image), annotation)
    try:
        # Large scenes (DOTA reaches 20,000 px a side) trip Pillow's decompression-bomb guard,
        # but only the header is read here.
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with open_pillow_image(image) as opened:
                width, height = opened.size
    except FileNotFoundError:
        where = f' (for {annotation})' if annotation else ''
        raise ImageNotFoundError(image, f'image not found{where}') from None
    except (OSError, ValueError, SyntaxError) as error:
        where = f' (for {annotation})' if annotation else ''
        raise AnnotationError(image, f'cannot read image{where}: {error}') from None
    if width <= 0 or height <= 0:
        raise AnnotationError(image, f'image has size {width}x{height}')
    return int(width), int(height)


def _raster_size(image: Path, annotation: str | Path | None) -> tuple[int, int]:
    """Width and height of a GeoTIFF from its header via rasterio, as the datasets read it."""
    import rasterio  # imported here: only TIFF inputs need it
    from rasterio.errors import RasterioIOError

    where = f' (for {annotation})' if annotation else ''
    if not image.is_file():
        raise ImageNotFoundError(image, f'image not found{where}')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # NotGeoreferencedWarning for plain TIFFs
            with rasterio.open(image) as dataset:
                width, height = dataset.width, dataset.height
    except (RasterioIOError, OSError, ValueError) as error:
        raise AnnotationError(image, f'cannot read image{where}: {error}') from None
    if width <= 0 or height <= 0:
        raise AnnotationError(image, f'image has size {width}x{height}')
    return int(width), int(height)


def clip_boxes(
    boxes: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    width: int,
    height: int,
    oriented: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str], np.ndarray | None, dict[str, int]]:
    """Clip boxes to the image and drop the ones with no area left.

    Args:
        boxes: ``[N, 4]`` ``xmin, ymin, xmax, ymax`` pixels.
        labels: Label of each box.
        width: Image width.
        height: Image height.
        oriented: Optional ``[N, 4, 2]`` corners kept in step with the boxes (not clipped).

    Returns:
        The kept boxes, labels, oriented corners and the dropped counts by reason (zero counts
        left out): ``'degenerate box'`` (``xmax <= xmin`` or ``ymax <= ymin`` as annotated, or
        not a number, e.g. a rotated box whose corners overflow) and
        ``'outside image'`` (no area left inside the image).
    """
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    degenerate = ~(array[:, 2] > array[:, 0]) | ~(array[:, 3] > array[:, 1])  # NaN too
    clipped = array.copy()
    clipped[:, [0, 2]] = array[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = array[:, [1, 3]].clip(0, height)
    outside = ~degenerate & ((clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1]))
    keep = ~(degenerate | outside)
    dropped = {
        name: int(count)
        for name, count in (('degenerate box', degenerate.sum()), ('outside image', outside.sum()))
        if count
    }
    kept_labels = [label for label, k in zip(labels, keep.tolist()) if k]
    kept_oriented = None if oriented is None else np.asarray(oriented)[keep]
    return clipped[keep], kept_labels, kept_oriented, dropped


def clipped_annotated_image(
    image: str | Path,
    width: int,
    height: int,
    boxes: Sequence[Sequence[float]],
    labels: list[str],
    source: str | Path,
) -> AnnotatedImage:
    """The record of one image whose axis-aligned boxes are clipped to its size.

    Args:
        image: The image file.
        width: Image width in pixels.
        height: Image height in pixels.
        boxes: ``(xmin, ymin, xmax, ymax)`` per object.
        labels: Class name per object.
        source: The annotation file, named in the record.

    Returns:
        The record, with the boxes that fell outside the image counted in ``dropped``.
    """
    kept, kept_labels, _, dropped = clip_boxes(
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels, width, height
    )
    return AnnotatedImage(
        path=str(image),
        width=width,
        height=height,
        boxes=kept,
        labels=kept_labels,
        dropped=dropped,
        source=str(source),
    )
