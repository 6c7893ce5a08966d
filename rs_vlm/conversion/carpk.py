"""CARPK (drone views of parking lots): one text file of car boxes per image.

The release (``CARPK_devkit/data``) holds ``Annotations/<stem>.txt`` with one box a line,
``x1 y1 x2 y2 class`` in pixels (class 1: car), and the images in ``Images/<stem>.png``.
"""

from pathlib import Path

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import (
    clipped_annotated_image,
    find_image,
    image_size,
    parse_number,
    read_lines,
)

__all__ = ['CARPK_CLASSES', 'read_carpk']

#: Class id -> name (CARPK annotates cars only).
CARPK_CLASSES = {1: 'car'}


def read_carpk(path: str | Path, *, images: str | Path | None = None) -> AnnotatedImage:
    """Read one CARPK annotation file.

    Args:
        path: ``Annotations/<stem>.txt``.
        images: Folder of the images (default: ``../Images`` beside the annotation folder).

    Returns:
        The image with its car boxes.

    Raises:
        AnnotationError: For a malformed line (field count, non-numbers, a class other than 1),
            naming the line; or a missing or unreadable image.
    """
    path = Path(path)
    folder = Path(images) if images is not None else path.parent.parent / 'Images'
    boxes: list[list[float]] = []
    labels: list[str] = []
    for number, raw in enumerate(read_lines(path), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise AnnotationError(
                path, f'expected "x1 y1 x2 y2 class" (5 fields), got {len(fields)}', line=number
            )
        boxes.append([parse_number(v, path, line=number) for v in fields[:4]])
        class_id = parse_number(fields[4], path, line=number)
        if class_id not in CARPK_CLASSES:
            raise AnnotationError(
                path,
                f'class must be one of {sorted(CARPK_CLASSES)}, got {fields[4]!r}',
                line=number,
            )
        labels.append(CARPK_CLASSES[int(class_id)])
    image = find_image(folder, path.stem, path)
    width, height = image_size(image, path)
    return clipped_annotated_image(image, width, height, boxes, labels, path)
