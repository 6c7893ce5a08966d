"""YOLO text labels: one file per image, coordinates normalised to 0..1.

Per line ``class_index cx cy w h`` (detection), or ``class_index x1 y1 x2 y2 x3 y3 x4 y4``
(YOLO-OBB corners). Class indices map to names through ``class_names`` (the dataset's
``names`` list). The image (``../images/<stem>.*`` in the YOLO layout) gives the pixel size.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage, corners_to_boxes
from .reader_utils import clip_boxes, find_image, image_size, parse_number, read_lines

__all__ = ['read_yolo']


def read_yolo(
    path: str | Path,
    *,
    class_names: Sequence[str],
    images: str | Path | None = None,
    size: tuple[int, int] | None = None,
) -> AnnotatedImage:
    """Read one YOLO label file.

    Args:
        path: The ``.txt`` label file (``labels/<stem>.txt``).
        class_names: Name of each class index (a strict list: other indices are errors).
        images: Folder of the images; default ``../images`` beside the label folder.
        size: ``(width, height)`` when the image is not at hand.

    Returns:
        The image with boxes in pixels (and oriented corners for YOLO-OBB lines).

    Raises:
        AnnotationError: For a malformed line (field count, non-numbers, class index out of
            range), naming the line; or a missing image when ``size`` is None.
    """
    path = Path(path)
    folder = Path(images) if images is not None else path.parent.parent / 'images'
    rows: list[tuple[str, list[float]]] = []
    for number, raw in enumerate(read_lines(path), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) not in (5, 9):
            raise AnnotationError(
                path,
                'expected "class cx cy w h" (5 fields) or "class x1 y1 ... x4 y4" (9 fields), '
                f'got {len(fields)} fields',
                line=number,
            )
        if not (fields[0].isascii() and fields[0].isdigit()) or int(fields[0]) >= len(class_names):
            raise AnnotationError(
                path,
                f'class index {fields[0]!r} is not in 0..{len(class_names) - 1}',
                line=number,
            )
        values = [parse_number(v, path, line=number) for v in fields[1:]]
        rows.append((class_names[int(fields[0])], values))
    if size is None:
        image = find_image(folder, path.stem, path)
        width, height = image_size(image, path)
    else:
        image = folder / f'{path.stem}.jpg'
        width, height = size
    labels = [label for label, _ in rows]
    corners = np.zeros((len(rows), 4, 2))
    boxes = np.zeros((len(rows), 4))
    oriented = False
    for i, (_, values) in enumerate(rows):
        if len(values) == 4:
            cx, cy, w, h = values
            boxes[i] = [
                (cx - w / 2) * width,
                (cy - h / 2) * height,
                (cx + w / 2) * width,
                (cy + h / 2) * height,
            ]
            corners[i] = [boxes[i, [0, 1]], boxes[i, [2, 1]], boxes[i, [2, 3]], boxes[i, [0, 3]]]
        else:
            corners[i] = np.reshape(values, (4, 2)) * [width, height]
            boxes[i] = corners_to_boxes(corners[i : i + 1])[0]
            oriented = True
    kept, labels, corners, dropped = clip_boxes(boxes, labels, width, height, corners)
    return AnnotatedImage(
        path=str(image),
        width=width,
        height=height,
        boxes=kept,
        labels=labels,
        oriented=corners if oriented else None,
        dropped=dropped,
        source=str(path),
    )
