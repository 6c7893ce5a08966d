"""VisDrone2019-DET text annotations: one file per image, one comma-separated object per line.

Fields: ``bbox_left, bbox_top, bbox_width, bbox_height, score, object_category, truncation,
occlusion`` (a trailing comma is tolerated). In DET annotations ``score`` 0 marks a region to
ignore. Category 0 ("ignored regions") and 11 ("others") are not objects: they are dropped and
counted in ``dropped`` as ``'ignored region'`` / ``'others'``. The image size is read from the
image (``../images/<stem>.jpg`` in the VisDrone layout).
"""

from collections.abc import Collection
from pathlib import Path

import numpy as np

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import check_class, clip_boxes, find_image, image_size, parse_number, read_lines

__all__ = ['VISDRONE_CLASSES', 'read_visdrone']

#: VisDrone-DET category ids -> names (0 and 11 are not objects).
VISDRONE_CLASSES: dict[int, str] = {
    0: 'ignored regions',
    1: 'pedestrian',
    2: 'people',
    3: 'bicycle',
    4: 'car',
    5: 'van',
    6: 'truck',
    7: 'tricycle',
    8: 'awning-tricycle',
    9: 'bus',
    10: 'motor',
    11: 'others',
}


def read_visdrone(
    path: str | Path,
    *,
    images: str | Path | None = None,
    size: tuple[int, int] | None = None,
    classes: Collection[str] | None = None,
) -> AnnotatedImage:
    """Read one VisDrone-DET annotation file.

    Args:
        path: The ``.txt`` file (``annotations/<stem>.txt``).
        images: Folder of the images; default ``../images`` beside the annotation folder.
        size: ``(width, height)`` when the image is not at hand.
        classes: Strict class list (VisDrone names): any other class is an error.

    Returns:
        The image with its boxes; ignored regions and "others" are counted in ``dropped``.

    Raises:
        AnnotationError: For a malformed line (wrong field count, non-numbers, unknown category
            id), naming the line; or a missing image when ``size`` is None.
    """
    path = Path(path)
    folder = Path(images) if images is not None else path.parent.parent / 'images'
    boxes: list[list[float]] = []
    labels: list[str] = []
    ignored = others = 0
    for number, raw in enumerate(read_lines(path), start=1):
        line = raw.strip().rstrip(',')
        if not line:
            continue
        fields = [field.strip() for field in line.split(',')]
        if len(fields) not in (6, 8):
            raise AnnotationError(
                path,
                'expected 8 comma-separated fields (left, top, width, height, score, category, '
                f'truncation, occlusion), got {len(fields)}',
                line=number,
            )
        left, top, width, height, score = (parse_number(v, path, line=number) for v in fields[:5])
        category = parse_number(fields[5], path, line=number)
        if category != int(category) or int(category) not in VISDRONE_CLASSES:
            raise AnnotationError(
                path, f'unknown category id {fields[5]!r} (expected 0..11)', line=number
            )
        category = int(category)
        if category == 0 or score == 0:
            ignored += 1
            continue
        if category == 11:
            others += 1
            continue
        labels.append(check_class(VISDRONE_CLASSES[category], classes, path, line=number))
        boxes.append([left, top, left + width, top + height])
    if size is None:
        image = find_image(folder, path.stem, path)
        image_width, image_height = image_size(image, path)
    else:
        image = folder / f'{path.stem}.jpg'
        image_width, image_height = size
    kept, labels, _, dropped = clip_boxes(
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels, image_width, image_height
    )
    if ignored:
        dropped['ignored region'] = ignored
    if others:
        dropped['others'] = others
    return AnnotatedImage(
        path=str(image),
        width=image_width,
        height=image_height,
        boxes=kept,
        labels=labels,
        dropped=dropped,
        source=str(path),
    )
