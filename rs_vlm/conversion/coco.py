"""COCO detection JSON (iSAID, NWPU VHR-10 in COCO form): many images in one file.

Uses ``images`` (``id``, ``file_name``, ``width``, ``height``), ``categories`` (``id``,
``name``) and ``annotations`` (``image_id``, ``category_id``, ``bbox = [x, y, w, h]``). Crowd
annotations are kept (they are objects too). Images without annotations are yielded with no
boxes. Errors name the JSON key (``annotations[12].bbox``), or the line for malformed JSON.
"""

import json
import math
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage
from .reader_utils import (
    check_class,
    check_declared_size,
    clip_boxes,
    parse_number,
    safe_image_name,
)

__all__ = ['read_coco']


def _load(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error.strerror or error}') from None
    if not data.strip():
        raise AnnotationError(path, 'empty file: expected COCO JSON')
    try:
        document = json.loads(data)
    except json.JSONDecodeError as error:
        raise AnnotationError(path, f'malformed JSON: {error.msg}', line=error.lineno) from None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b'\n') + 1
        raise AnnotationError(path, f'not UTF-8/16/32 text: {error.reason}', line=line) from None
    except (ValueError, RecursionError) as error:
        raise AnnotationError(path, f'malformed JSON: {error}') from None
    if not isinstance(document, dict):
        raise AnnotationError(path, 'expected a JSON object with images and annotations', line=1)
    for name in ('images', 'annotations', 'categories'):
        if not isinstance(document.get(name), list):
            raise AnnotationError(path, 'expected a list', key=name)
    return document


def _field(entry: Any, name: str, path: Path, key: str) -> Any:
    if not isinstance(entry, dict) or name not in entry:
        raise AnnotationError(path, f'missing {name!r}', key=f'{key}.{name}')
    return entry[name]


def _integer(value: Any, path: Path, key: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise AnnotationError(path, f'expected an integer, got {value!r}', key=key)
    return int(value)


def read_coco(
    path: str | Path,
    *,
    images: str | Path | None = None,
    classes: Collection[str] | None = None,
    errors: list[AnnotationError] | None = None,
    check_images: bool = True,
) -> Iterator[AnnotatedImage]:
    """Read a COCO JSON file; yield one record per image, in the file's image order.

    Args:
        path: The JSON file.
        images: Folder the ``file_name`` entries are relative to; default the JSON's folder.
        classes: Strict class list: any other category name is an error.
        errors: When given, a malformed image or annotation entry is appended here and that
            image skipped, instead of raising.
        check_images: Require each image file and check its declared size against the
            header; False reads the JSON alone.

    Yields:
        One :class:`AnnotatedImage` per image entry.

    Raises:
        AnnotationError: For an unreadable file, malformed JSON (with the line) or a malformed
            entry (with its key), unless ``errors`` collects entry errors.
    """
    path = Path(path)
    document = _load(path)
    folder = Path(images) if images is not None else path.parent

    def fail(error: AnnotationError) -> None:
        if errors is None:
            raise error
        errors.append(error)

    names: dict[int, str] = {}
    for i, category in enumerate(document['categories']):
        key = f'categories[{i}]'
        category_id = _integer(_field(category, 'id', path, key), path, f'{key}.id')
        name = _field(category, 'name', path, key)
        if not isinstance(name, str):
            raise AnnotationError(path, f'expected a string, got {name!r}', key=f'{key}.name')
        if category_id in names:
            # A second entry would silently rename every object of the first.
            raise AnnotationError(
                path,
                f'duplicate category id {category_id} (already {names[category_id]!r})',
                key=f'{key}.id',
            )
        names[category_id] = check_class(name, classes, path, key=f'{key}.name')

    entries: dict[int, tuple[str, int, int]] = {}
    order: list[int] = []
    for i, image in enumerate(document['images']):
        key = f'images[{i}]'
        try:
            image_id = _integer(_field(image, 'id', path, key), path, f'{key}.id')
            file_name = _field(image, 'file_name', path, key)
            if not isinstance(file_name, str) or not file_name:
                raise AnnotationError(path, 'expected a file name', key=f'{key}.file_name')
            safe_image_name(file_name, path, key=f'{key}.file_name')
            width = _integer(_field(image, 'width', path, key), path, f'{key}.width')
            height = _integer(_field(image, 'height', path, key), path, f'{key}.height')
            if width <= 0 or height <= 0:
                raise AnnotationError(path, f'image size {width}x{height}', key=key)
        except AnnotationError as error:
            fail(error)
            continue
        entries[image_id] = (file_name, width, height)
        order.append(image_id)

    boxes: dict[int, list[list[float]]] = {image_id: [] for image_id in order}
    labels: dict[int, list[str]] = {image_id: [] for image_id in order}
    bad: set[int] = set()
    for i, annotation in enumerate(document['annotations']):
        key = f'annotations[{i}]'
        image_id = None
        try:
            image_id = _integer(_field(annotation, 'image_id', path, key), path, f'{key}.image_id')
            if image_id not in entries:
                raise AnnotationError(path, f'unknown image id {image_id}', key=f'{key}.image_id')
            category_id = _integer(
                _field(annotation, 'category_id', path, key), path, f'{key}.category_id'
            )
            if category_id not in names:
                raise AnnotationError(
                    path, f'unknown category id {category_id}', key=f'{key}.category_id'
                )
            bbox = _field(annotation, 'bbox', path, key)
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise AnnotationError(
                    path, f'expected [x, y, width, height], got {bbox!r}', key=f'{key}.bbox'
                )
            x, y, w, h = (parse_number(v, path, key=f'{key}.bbox') for v in bbox)
        except AnnotationError as error:
            fail(error)
            if image_id is not None:
                bad.add(image_id)
            continue
        boxes[image_id].append([x, y, x + w, y + h])
        labels[image_id].append(names[category_id])

    for image_id in order:
        if image_id in bad:
            continue
        file_name, width, height = entries[image_id]
        if check_images:
            try:
                check_declared_size(
                    folder / file_name, width, height, path, key=f'images[id={image_id}]'
                )
            except AnnotationError as error:
                fail(error)
                continue
        kept, kept_labels, _, dropped = clip_boxes(
            np.asarray(boxes[image_id], dtype=np.float64).reshape(-1, 4),
            labels[image_id],
            width,
            height,
        )
        yield AnnotatedImage(
            path=str(folder / file_name),
            width=width,
            height=height,
            boxes=kept,
            labels=kept_labels,
            dropped=dropped,
            source=str(path),
        )
