"""AU-AIR's ``annotations.json``: UAV frames with horizontal boxes, many frames in one file.

The release (``auair2019annotations/annotations.json``) holds ``categories`` (a list of class
names; a box's ``class`` is an index into it) and ``annotations``, one entry per frame:
``image_name``, the frame size (``image_height`` and ``image_width:``, the key spelled with a
colon in the release; ``image_width`` is read too) and ``bbox``, a list of
``{"top", "left", "height", "width", "class"}`` in pixels. Errors name the JSON key
(``annotations[12].bbox[3].left``), or the line for malformed JSON.
"""

import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import (
    check_class,
    check_declared_size,
    clipped_annotated_image,
    parse_number,
    safe_image_name,
)

__all__ = ['read_auair']


def _load(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error.strerror or error}') from None
    try:
        document = json.loads(data)
    except json.JSONDecodeError as error:
        raise AnnotationError(path, f'malformed JSON: {error.msg}', line=error.lineno) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise AnnotationError(path, f'malformed JSON: {error}', line=1) from None
    if not isinstance(document, dict):
        raise AnnotationError(path, 'expected a JSON object with annotations', line=1)
    if not isinstance(document.get('annotations'), list):
        raise AnnotationError(path, 'expected a list of frames', key='annotations')
    if not isinstance(document.get('categories'), list) or not all(
        isinstance(name, str) for name in document['categories']
    ):
        raise AnnotationError(path, 'expected a list of class names', key='categories')
    return document


def _size(entry: dict[str, Any], names: tuple[str, ...], path: Path, key: str) -> int:
    for name in names:
        if name in entry:
            value = parse_number(entry[name], path, key=f'{key}.{name}')
            if value <= 0 or value != int(value):
                raise AnnotationError(path, f'expected a size in pixels, got {value}', key=key)
            return int(value)
    raise AnnotationError(path, f'missing {names[0]!r}', key=f'{key}.{names[0]}')


def _frame(
    entry: Any,
    index: int,
    names: list[str],
    folder: Path,
    path: Path,
    classes: Collection[str] | None,
) -> AnnotatedImage:
    key = f'annotations[{index}]'
    if not isinstance(entry, dict):
        raise AnnotationError(path, 'expected an object', key=key)
    name = entry.get('image_name')
    if not isinstance(name, str):
        raise AnnotationError(path, 'expected an image name', key=f'{key}.image_name')
    safe_image_name(name, path, key=f'{key}.image_name')
    width = _size(entry, ('image_width:', 'image_width'), path, key)
    height = _size(entry, ('image_height',), path, key)
    boxes = entry.get('bbox', [])
    if not isinstance(boxes, list):
        raise AnnotationError(path, 'expected a list of boxes', key=f'{key}.bbox')
    corners, labels = [], []
    for j, box in enumerate(boxes):
        bkey = f'{key}.bbox[{j}]'
        if not isinstance(box, dict):
            raise AnnotationError(path, 'expected {top, left, height, width, class}', key=bkey)
        top, left, box_height, box_width = (
            parse_number(box.get(field), path, key=f'{bkey}.{field}')
            for field in ('top', 'left', 'height', 'width')
        )
        label = box.get('class')
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(names):
            raise AnnotationError(
                path,
                f'class must be an index below {len(names)}, got {label!r}',
                key=f'{bkey}.class',
            )
        corners.append([left, top, left + box_width, top + box_height])
        labels.append(check_class(names[label], classes, path, key=f'{bkey}.class'))
    image = folder / name
    check_declared_size(image, width, height, path, key=key)
    return clipped_annotated_image(image, width, height, corners, labels, path)


def read_auair(
    path: str | Path,
    *,
    images: str | Path | None = None,
    classes: Collection[str] | None = None,
    errors: list[AnnotationError] | None = None,
) -> Iterator[AnnotatedImage]:
    """Read AU-AIR's annotations file; yield one record per frame, in file order.

    Args:
        path: ``annotations.json``.
        images: Folder of the frames (default: ``../auair2019data/images`` beside the release's
            annotation folder, else the JSON's folder).
        classes: Strict class list: any other category is an error.
        errors: When given, a malformed frame (or a missing image) is appended here and the
            frame skipped, instead of raising.

    Yields:
        One :class:`AnnotatedImage` per frame.

    Raises:
        AnnotationError: Unreadable or malformed JSON (with the line), a malformed frame (with
            its key), or a missing image, unless ``errors`` collects frame errors.
    """
    path = Path(path)
    document = _load(path)
    names = list(document['categories'])
    for i, name in enumerate(names):
        check_class(name, None, path, key=f'categories[{i}]')
    if images is not None:
        folder = Path(images)
    else:
        release = path.parent.parent / 'auair2019data' / 'images'
        folder = release if release.is_dir() else path.parent
    for index, entry in enumerate(document['annotations']):
        try:
            yield _frame(entry, index, names, folder, path, classes)
        except AnnotationError as error:
            if errors is None:
                raise
            errors.append(error)
