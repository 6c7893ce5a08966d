"""PASCAL VOC style XML: VOC, DIOR (horizontal and oriented), RSOD, HRRSD, LEVIR, HRSC2016.

One XML file per image. Supported object forms:

* ``<object><name/><bndbox><xmin/><ymin/><xmax/><ymax/></bndbox>`` (VOC, DIOR-HBB, RSOD,
  HRRSD, LEVIR, DeepForest).
* ``<robndbox>`` with the four corners ``x_left_top, y_left_top, x_right_top, ...``
  (DIOR-OBB) or with ``cx, cy, w, h, angle`` (roLabelImg, angle in radians).
* HRSC2016 ``<HRSC_Image>`` files: ``HRSC_Objects/HRSC_Object`` with the rotated box
  ``mbox_cx, mbox_cy, mbox_w, mbox_h, mbox_ang`` (radians); class ``ship`` (HRSC's fine
  ``Class_ID`` codes are not names).

The image must exist; its size comes from ``<size>`` (``Img_SizeWidth``/``Img_SizeHeight`` for
HRSC), checked against the image's header, and is read from the image when absent or zero.
Oriented boxes become horizontal by the min/max of their corners, clipped to the image. XML has
no useful line numbers here, so errors name the element path (``key``), e.g.
``object[3]/bndbox/xmax``.
"""

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from rs_vlm.errors import AnnotationError

from .annotated_image import AnnotatedImage, corners_to_boxes
from .reader_utils import (
    check_class,
    check_declared_size,
    clip_boxes,
    find_image,
    image_size,
    parse_number,
    safe_image_name,
)

__all__ = ['read_voc', 'rotated_box_corners']

_CORNER_TAGS = (
    ('x_left_top', 'y_left_top'),
    ('x_right_top', 'y_right_top'),
    ('x_right_bottom', 'y_right_bottom'),
    ('x_left_bottom', 'y_left_bottom'),
)


def rotated_box_corners(cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
    """Corners ``[4, 2]`` of a box of size ``w x h`` centred at ``(cx, cy)``, rotated by ``angle``.

    Args:
        cx: Centre x.
        cy: Centre y.
        w: Width (along the rotated x axis).
        h: Height.
        angle: Rotation in radians (image coordinates, y down).

    Returns:
        The corners in order: (-w/2, -h/2), (w/2, -h/2), (w/2, h/2), (-w/2, h/2) rotated.
    """
    cos, sin = math.cos(angle), math.sin(angle)
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], dtype=np.float64) / 2
    rotation = np.array([[cos, -sin], [sin, cos]])
    with np.errstate(over='ignore', invalid='ignore'):  # absurd sizes -> NaN, dropped later
        return local @ rotation.T + [cx, cy]


def _text(element: ElementTree.Element, tag: str, path: Path, key: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise AnnotationError(path, f'missing <{tag}>', key=f'{key}/{tag}')
    return child.text.strip()


def _number(element: ElementTree.Element, tag: str, path: Path, key: str) -> float:
    return parse_number(_text(element, tag, path, key), path, key=f'{key}/{tag}')


def _optional_number(element: ElementTree.Element | None, tag: str, path: Path, key: str) -> int:
    if element is None:
        return 0
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        return 0
    value = parse_number(child.text.strip(), path, key=f'{key}/{tag}')
    if value < 0 or value != int(value):
        raise AnnotationError(path, f'expected a size in pixels, got {value}', key=f'{key}/{tag}')
    return int(value)


def _parse(path: Path) -> ElementTree.Element:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, f'cannot read file: {error.strerror or error}') from None
    if not data.strip():
        raise AnnotationError(path, 'empty file: expected an XML annotation')
    try:
        # Python's expat refuses entity-expansion bombs; no external entities are fetched.
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        line = error.position[0] if error.position else None
        raise AnnotationError(path, f'malformed XML: {error}', line=line) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise AnnotationError(path, f'malformed XML: {error}') from None


def _hrsc_objects(
    root: ElementTree.Element, path: Path, classes: Collection[str] | None
) -> tuple[list[np.ndarray], list[str], list[bool], list[bool]]:
    corners, labels, oriented, difficult = [], [], [], []
    for i, obj in enumerate(root.iter('HRSC_Object')):
        key = f'HRSC_Objects/HRSC_Object[{i}]'
        label = check_class('ship', classes, path, key=key)
        if obj.find('mbox_cx') is not None:
            values = [
                _number(obj, tag, path, key)
                for tag in ('mbox_cx', 'mbox_cy', 'mbox_w', 'mbox_h', 'mbox_ang')
            ]
            corners.append(rotated_box_corners(*values))
            oriented.append(True)
        else:
            x1, y1, x2, y2 = (
                _number(obj, tag, path, key)
                for tag in ('box_xmin', 'box_ymin', 'box_xmax', 'box_ymax')
            )
            corners.append(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64))
            oriented.append(False)
        labels.append(label)
        difficult.append(_optional_number(obj, 'difficult', path, key) > 0)
    return corners, labels, oriented, difficult


def _voc_objects(
    root: ElementTree.Element, path: Path, classes: Collection[str] | None
) -> tuple[list[np.ndarray], list[str], list[bool], list[bool]]:
    corners, labels, oriented, difficult = [], [], [], []
    for i, obj in enumerate(root.iter('object')):
        key = f'object[{i}]'
        label = check_class(_text(obj, 'name', path, key), classes, path, key=f'{key}/name')
        rotated = obj.find('robndbox')
        box = obj.find('bndbox')
        if rotated is not None:
            rkey = f'{key}/robndbox'
            if rotated.find('x_left_top') is not None:
                quad = [
                    [_number(rotated, x, path, rkey), _number(rotated, y, path, rkey)]
                    for x, y in _CORNER_TAGS
                ]
                corners.append(np.array(quad, dtype=np.float64))
            else:
                values = [_number(rotated, tag, path, rkey) for tag in ('cx', 'cy', 'w', 'h')]
                corners.append(rotated_box_corners(*values, _number(rotated, 'angle', path, rkey)))
            oriented.append(True)
        elif box is not None:
            bkey = f'{key}/bndbox'
            x1, y1, x2, y2 = (
                _number(box, tag, path, bkey) for tag in ('xmin', 'ymin', 'xmax', 'ymax')
            )
            corners.append(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64))
            oriented.append(False)
        else:
            raise AnnotationError(path, 'object has neither <bndbox> nor <robndbox>', key=key)
        labels.append(label)
        difficult.append(_optional_number(obj, 'difficult', path, key) > 0)
    return corners, labels, oriented, difficult


def read_voc(
    path: str | Path,
    *,
    images: str | Path | Sequence[str | Path] | None = None,
    classes: Collection[str] | None = None,
    skip_difficult: bool = False,
    check_image: bool = True,
) -> AnnotatedImage:
    """Read one VOC-style XML annotation (VOC, DIOR HBB/OBB, RSOD, HRRSD, LEVIR, HRSC2016).

    Args:
        path: The XML file.
        images: Folder of the images, or several searched in order (DIOR's
            ``JPEGImages-trainval`` and ``JPEGImages-test``); default: the XML's folder, or
            ``../JPEGImages`` (VOC layout), whichever holds the image.
        classes: Strict class list: any other class is an error.
        skip_difficult: Drop objects marked ``difficult`` (counted in ``dropped``).
        check_image: Require the image file and check the declared ``<size>`` against its
            header; False reads the annotation alone (the size must then be declared).

    Returns:
        The image with horizontal boxes; ``oriented`` holds the corners ``[N, 4, 2]`` when any
        object is oriented (horizontal ones as their four corners).

    Raises:
        AnnotationError: For unreadable/malformed XML, missing or non-numeric fields (naming the
            element path), an unknown class with ``classes``, an image name outside the image
            folder (absolute or ``..``), a declared size that differs from the image's, or
            (:class:`~.reader_utils.ImageNotFoundError`) a missing image.
    """
    path = Path(path)
    root = _parse(path)
    if root.tag == 'HRSC_Image':
        corners, labels, oriented, difficult = _hrsc_objects(root, path, classes)
        width = _optional_number(root, 'Img_SizeWidth', path, 'HRSC_Image')
        height = _optional_number(root, 'Img_SizeHeight', path, 'HRSC_Image')
        name_element = root.find('Img_FileName')
        name = name_element.text.strip() if name_element is not None and name_element.text else ''
        fmt = root.find('Img_FileFmt')
        if name and fmt is not None and fmt.text and fmt.text.strip():
            name = f'{name}.{fmt.text.strip()}'
    else:
        corners, labels, oriented, difficult = _voc_objects(root, path, classes)
        size = root.find('size')
        width = _optional_number(size, 'width', path, 'size')
        height = _optional_number(size, 'height', path, 'size')
        name_element = root.find('filename')
        name = name_element.text.strip() if name_element is not None and name_element.text else ''
    name = safe_image_name(name or path.stem, path, key='filename')
    if images is None:
        folders = [path.parent, path.parent.parent / 'JPEGImages']
    elif isinstance(images, str | Path):
        folders = [Path(images)]
    else:
        folders = [Path(folder) for folder in images]
    folder = next((f for f in folders if (f / name).is_file()), folders[0])
    if not check_image:
        image = folder / name
        if width == 0 or height == 0:
            raise AnnotationError(path, 'no <size> and check_image=False: the size is unknown')
    elif width == 0 or height == 0:
        image = find_image(folder, name, path, key='filename')
        width, height = image_size(image, path)
    else:
        image = find_image(folder, name, path, key='filename')
        check_declared_size(image, width, height, path, key='size')
    quads = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    # Horizontal boxes as annotated (corner 0 and 2), so a reversed box stays degenerate;
    # oriented ones by the min/max of their corners.
    boxes = np.where(
        np.asarray(oriented, dtype=bool)[:, None],
        corners_to_boxes(quads),
        quads[:, [0, 2]].reshape(-1, 4),
    )
    keep = np.array([not (skip_difficult and d) for d in difficult], dtype=bool)
    dropped_difficult = int((~keep).sum())
    labels = [label for label, k in zip(labels, keep.tolist()) if k]
    boxes, labels, quads, dropped = clip_boxes(boxes[keep], labels, width, height, quads[keep])
    if dropped_difficult:
        dropped['difficult'] = dropped_difficult
    return AnnotatedImage(
        path=str(image),
        width=width,
        height=height,
        boxes=boxes,
        labels=labels,
        oriented=quads if any(oriented) else None,
        dropped=dropped,
        source=str(path),
    )
