"""LEVIR (Zou and Shi, 2018): Google Earth scenes of airplanes, ships and oil tanks.

The release unpacks to ``LEVIR/imageWithLabel/``, where each ``<stem>.jpg`` (800 x 600 px)
has its labels beside it in ``<stem>.txt``: one object a line, ``class xmin ymin xmax ymax``
in pixels, separated by spaces, with class ``1`` airplane, ``2`` ship and ``3`` oil tank; an
image without objects has an empty label file. (Layout and class ids as read by public LEVIR
loaders, e.g. a ``LevirPreprocessService`` that reads ``LEVIR/imageWithLabel/*.txt`` with
``{1: 'plane', 2: 'ship', 3: 'oilpot'}``.) The image size is read from the image header.
"""

from collections.abc import Collection
from pathlib import Path

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import (
    check_class,
    clipped_annotated_image,
    find_image,
    image_size,
    parse_number,
    read_lines,
)

__all__ = ['LEVIR_CLASSES', 'read_levir']

#: LEVIR class id -> name (Box-to-Caption words them "airplane", "ship", "oil tank").
LEVIR_CLASSES: dict[int, str] = {1: 'plane', 2: 'ship', 3: 'oil tank'}


def read_levir(
    path: str | Path,
    *,
    images: str | Path | None = None,
    classes: Collection[str] | None = None,
) -> AnnotatedImage:
    """Read one LEVIR label file.

    Args:
        path: ``imageWithLabel/<stem>.txt``.
        images: Folder of the images (default: the label file's own folder, as released).
        classes: Strict class list (LEVIR names): any other class is an error.

    Returns:
        The image with its boxes (none for an empty label file).

    Raises:
        AnnotationError: For a malformed line (field count, non-numbers, a class id other than
            1, 2 or 3), naming the line; or a missing or unreadable image.
    """
    path = Path(path)
    folder = Path(images) if images is not None else path.parent
    boxes: list[list[float]] = []
    labels: list[str] = []
    for number, raw in enumerate(read_lines(path), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise AnnotationError(
                path,
                f'expected "class xmin ymin xmax ymax" (5 fields), got {len(fields)}',
                line=number,
            )
        class_id = parse_number(fields[0], path, line=number)
        if class_id not in LEVIR_CLASSES:
            raise AnnotationError(
                path,
                f'class must be one of {sorted(LEVIR_CLASSES)} (1 airplane, 2 ship, 3 oil tank), '
                f'got {fields[0]!r}',
                line=number,
            )
        labels.append(check_class(LEVIR_CLASSES[int(class_id)], classes, path, line=number))
        boxes.append([parse_number(v, path, line=number) for v in fields[1:]])
    image = find_image(folder, path.stem, path)
    width, height = image_size(image, path)
    return clipped_annotated_image(image, width, height, boxes, labels, path)
