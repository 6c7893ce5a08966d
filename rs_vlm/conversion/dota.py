"""DOTA label files (v1.0, v1.5, v2.0): one text file per image of oriented quadrilaterals.

Each object line is ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` (pixels; ``difficult`` 0/1 is
optional). Header lines ``imagesource:...`` and ``gsd:...`` (v1.0, v1.5) are skipped, as are
blank lines. The horizontal box of a quadrilateral is the min/max of its corners, clipped to the
image.
"""

from collections.abc import Collection
from pathlib import Path

import numpy as np

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage, corners_to_boxes
from .reader_utils import check_class, clip_boxes, find_image, image_size, parse_number, read_lines

__all__ = ['read_dota']

_HEADERS = ('imagesource:', 'gsd:', 'acquisition dates:', 'imgsource:')


def read_dota(
    path: str | Path,
    *,
    images: str | Path | None = None,
    size: tuple[int, int] | None = None,
    classes: Collection[str] | None = None,
    skip_difficult: bool = False,
) -> AnnotatedImage:
    """Read one DOTA label file.

    Args:
        path: The ``.txt`` label file (e.g. ``labelTxt/P0706.txt``).
        images: Folder of the images; default ``../images`` beside the label folder (the DOTA
            layout).
        size: ``(width, height)`` when the image is not at hand; else read from the image.
        classes: Strict class list: any other class is an error.
        skip_difficult: Drop objects marked ``difficult`` (counted in ``dropped``).

    Returns:
        The image with its horizontal boxes and oriented corners ``[N, 4, 2]``.

    Raises:
        AnnotationError: For an unreadable or malformed file (naming the line), an unknown class
            with ``classes``, or an image that cannot be found/read when ``size`` is None.
    """
    path = Path(path)
    folder = Path(images) if images is not None else path.parent.parent / 'images'
    corners: list[list[float]] = []
    labels: list[str] = []
    difficult_count = 0
    for number, raw in enumerate(read_lines(path), start=1):
        line = raw.strip()
        if not line or line.lower().startswith(_HEADERS):
            continue
        fields = line.split()
        if len(fields) not in (9, 10):
            raise AnnotationError(
                path,
                f'expected 8 coordinates, a class and an optional difficult flag '
                f'(9 or 10 fields), got {len(fields)}',
                line=number,
            )
        coords = [parse_number(v, path, line=number) for v in fields[:8]]
        label = check_class(fields[8], classes, path, line=number)
        if len(fields) == 10:
            if not fields[9].isdigit():
                raise AnnotationError(
                    path, f'difficult flag must be 0 or 1, got {fields[9]!r}', line=number
                )
            if skip_difficult and fields[9] != '0':
                difficult_count += 1
                continue
        corners.append(coords)
        labels.append(label)
    if size is None:
        image = find_image(folder, path.stem, path)
        width, height = image_size(image, path)
    else:
        image = folder / f'{path.stem}.png'
        width, height = size
    quads = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    boxes, labels, quads, dropped = clip_boxes(
        corners_to_boxes(quads), labels, width, height, quads
    )
    if difficult_count:
        dropped['difficult'] = difficult_count
    return AnnotatedImage(
        path=str(image),
        width=width,
        height=height,
        boxes=boxes,
        labels=labels,
        oriented=quads,
        dropped=dropped,
        source=str(path),
    )
