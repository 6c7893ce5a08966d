"""DeepForest-style box CSV: ``image_path, xmin, ymin, xmax, ymax, label``, many images per file.

A header row names the columns (any order; extra columns ignored). Pixel coordinates with the
origin at the top-left. Image paths are relative to ``images`` (default: the CSV's folder); the
size is read from each image. Rows of one image need not be adjacent; images are yielded in the
order of their first row.
"""

from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from rs_vlm.csv_input import read_csv_table
from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import ImageNotFoundError, check_class, clip_boxes, image_size, parse_number

__all__ = ['CSV_COLUMNS', 'read_csv_boxes']

CSV_COLUMNS = ('image_path', 'xmin', 'ymin', 'xmax', 'ymax', 'label')


def read_csv_boxes(
    path: str | Path,
    *,
    images: str | Path | None = None,
    classes: Collection[str] | None = None,
    sizes: dict[str, tuple[int, int]] | None = None,
    errors: list[AnnotationError] | None = None,
) -> Iterator[AnnotatedImage]:
    """Read a box CSV; yield one record per image.

    Args:
        path: The CSV file.
        images: Folder the image paths are relative to; default the CSV's folder.
        classes: Strict class list: any other label is an error.
        sizes: ``image_path -> (width, height)`` for images not at hand.
        errors: When given, a malformed row (or unreadable image) is appended here and its
            image skipped, instead of raising.

    Yields:
        One :class:`AnnotatedImage` per distinct ``image_path``.

    Raises:
        AnnotationError: For an empty file, missing columns, malformed CSV such as an unclosed
            quote (always, naming the line), a malformed row (naming the line),
            an unknown label with ``classes``, or an unreadable image; row errors go to
            ``errors`` when it is given.
    """
    path = Path(path)
    folder = Path(images) if images is not None else path.parent
    table = read_csv_table(path, AnnotationError, delimiter=',')
    header = [name.strip() for name in table.header]
    if not any(header) and next(table.rows, None) is None:
        raise AnnotationError(path, f'empty file: expected a header {",".join(CSV_COLUMNS)}')
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        raise AnnotationError(
            path, f'missing columns {missing}; expected {",".join(CSV_COLUMNS)}', line=1
        )
    column = {name: header.index(name) for name in CSV_COLUMNS}

    def fail(error: AnnotationError) -> None:
        if errors is None:
            raise error
        errors.append(error)

    boxes: dict[str, list[list[float]]] = {}
    labels: dict[str, list[str]] = {}
    bad: set[str] = set()
    first_lines: dict[str, int] = {}
    for number, row in table.rows:
        if not row or not any(cell.strip() for cell in row):
            continue
        image = row[0].strip() if len(row) <= column['image_path'] else row[column['image_path']]
        image = image.strip()
        try:
            if len(row) != len(header):
                raise AnnotationError(
                    path, f'expected {len(header)} fields, got {len(row)}', line=number
                )
            if not image:
                raise AnnotationError(path, 'empty image_path', line=number)
            coords = [
                parse_number(row[column[name]], path, line=number)
                for name in ('xmin', 'ymin', 'xmax', 'ymax')
            ]
            label = check_class(row[column['label']].strip(), classes, path, line=number)
        except AnnotationError as error:
            fail(error)
            bad.add(image)
            continue
        first_lines.setdefault(image, number)
        boxes.setdefault(image, []).append(coords)
        labels.setdefault(image, []).append(label)

    for image, image_boxes in boxes.items():
        if image in bad:
            continue
        image_path = folder / image
        try:
            width, height = (sizes or {}).get(image) or image_size(image_path, path)
        except ImageNotFoundError:
            fail(
                ImageNotFoundError(
                    path, f'image {image!r} not found in {folder}', line=first_lines[image]
                )
            )
            continue
        except AnnotationError as error:
            fail(error)
            continue
        kept, kept_labels, _, dropped = clip_boxes(
            np.asarray(image_boxes, dtype=np.float64), labels[image], width, height
        )
        yield AnnotatedImage(
            path=str(image_path),
            width=width,
            height=height,
            boxes=kept,
            labels=kept_labels,
            dropped=dropped,
            source=str(path),
        )
