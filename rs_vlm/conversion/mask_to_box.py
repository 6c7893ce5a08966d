"""Mask-to-Box (M2B): segmentation masks -> one horizontal box per connected component.

RemoteCLIP (section III-B2) processes a mask per category: the class is foreground, everything
else background; Suzuki's border following (OpenCV ``findContours``) gives each connected
component's outer boundary, whose min/max coordinates are the box. Decisions made here:

* **Connectivity**: 8-connected foreground (what ``findContours`` follows); pixels touching only
  diagonally belong to one object. ``connectivity=4`` is available (OpenCV labelling).
* **Holes** do not split an object: the box of a ring covers its hole. An object of another
  class inside the hole gets its own box from its own class mask, and so does an object of the
  *same* class inside the hole (it is a separate component with its own outer boundary;
  ``RETR_EXTERNAL`` would drop it, so we use ``RETR_CCOMP`` and keep every top-level contour).
* **Box convention**: pixel edges, ``xmin, ymin, xmax, ymax`` with ``xmax = last column + 1``,
  so a one-pixel object at ``(row r, col c)`` is ``[c, r, c + 1, r + 1]`` (area 1, never
  degenerate) and the box centre is the component's extent centre.
* **Order**: by class id, then top to bottom and left to right by the box's top-left corner.
* **Ignored labels** (``ignore_index``: no-data, clutter, background) give no boxes;
  ``min_area`` drops boxes whose area ``w * h`` in pixels is smaller.
* **Colour-coded masks** (ISPRS Potsdam/Vaihingen, iSAID) are ``[H, W, 3]`` RGB arrays mapped
  to class ids with a ``palette``; a colour outside the palette is an error.
"""

from collections.abc import Mapping, Sequence
from functools import lru_cache

import cv2
import numpy as np

__all__ = [
    'ISAID_CLASSES',
    'ISAID_PALETTE',
    'ISPRS_CLASSES',
    'ISPRS_PALETTE',
    'LOVEDA_CLASSES',
    'NAMED_MASK_FORMATS',
    'colour_mask_to_index',
    'mask_to_boxes',
]

RGB = tuple[int, int, int]

#: ISPRS Potsdam / Vaihingen 2D labelling colours (RGB), index = class id.
ISPRS_PALETTE: tuple[RGB, ...] = (
    (255, 255, 255),
    (0, 0, 255),
    (0, 255, 255),
    (0, 255, 0),
    (255, 255, 0),
    (255, 0, 0),
)
ISPRS_CLASSES: tuple[str, ...] = (
    'impervious surface',
    'building',
    'low vegetation',
    'tree',
    'car',
    'clutter',
)
#: iSAID semantic colours (RGB) as distributed with the dataset, index = class id.
ISAID_PALETTE: tuple[RGB, ...] = (
    (0, 0, 0),
    (0, 0, 63),
    (0, 63, 63),
    (0, 63, 0),
    (0, 63, 127),
    (0, 63, 191),
    (0, 63, 255),
    (0, 127, 63),
    (0, 127, 127),
    (0, 0, 127),
    (0, 0, 191),
    (0, 0, 255),
    (0, 191, 127),
    (0, 127, 191),
    (0, 127, 255),
    (0, 100, 155),
)
ISAID_CLASSES: tuple[str, ...] = (
    'background',
    'ship',
    'storage tank',
    'baseball diamond',
    'tennis court',
    'basketball court',
    'ground track field',
    'bridge',
    'large vehicle',
    'small vehicle',
    'helicopter',
    'swimming pool',
    'roundabout',
    'soccer ball field',
    'plane',
    'harbor',
)
#: LoveDA index-coded masks (0 = no data).
LOVEDA_CLASSES: tuple[str, ...] = (
    'no data',
    'background',
    'building',
    'road',
    'water',
    'barren',
    'forest',
    'agriculture',
)

#: Named mask formats: (palette or None for index-coded, class names, labels ignored by default).
#: The ignored labels leave the classes of the paper's Table I: Potsdam and Vaihingen 4 (tree,
#: building, low vegetation, car; impervious surface and clutter dropped, as the paper's figure
#: of the SEG-4 captions shows), iSAID 15 (background dropped), LoveDA 6 (no-data and
#: background dropped).
NAMED_MASK_FORMATS: dict[str, tuple[tuple[RGB, ...] | None, tuple[str, ...], tuple[int, ...]]] = {
    'isprs': (ISPRS_PALETTE, ISPRS_CLASSES, (0, 5)),
    'potsdam': (ISPRS_PALETTE, ISPRS_CLASSES, (0, 5)),
    'vaihingen': (ISPRS_PALETTE, ISPRS_CLASSES, (0, 5)),
    'isaid': (ISAID_PALETTE, ISAID_CLASSES, (0,)),
    'loveda': (None, LOVEDA_CLASSES, (0, 1)),
}


@lru_cache(maxsize=2)
def _colour_lookup(colours: tuple[RGB, ...], ids: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """A 2**24-entry table from packed RGB to class id, and its "not in the palette" value.

    16 MiB for palettes of < 255 classes; a gather through it is several times faster than a
    binary search of the packed colours.
    """
    small = max(ids, default=0) < 255
    missing = 255 if small else -1
    table = np.full(1 << 24, missing, dtype=np.uint8 if small else np.int32)
    for (red, green, blue), class_id in zip(colours, ids):
        table[(red << 16) | (green << 8) | blue] = class_id
    return table, missing


def colour_mask_to_index(
    mask: np.ndarray, palette: Sequence[RGB] | Mapping[RGB, int]
) -> np.ndarray:
    """Map an RGB colour-coded mask to class ids.

    Args:
        mask: ``[H, W, 3]`` uint8 array in RGB order (Pillow's order; OpenCV reads BGR).
        palette: Colours in class-id order, or a mapping colour -> class id.

    Returns:
        ``[H, W]`` integer class ids.

    Raises:
        ValueError: If the mask is not ``[H, W, 3]`` or holds a colour outside the palette
            (the message gives the colour, how many pixels and where the first one is).
    """
    if mask.ndim != 3 or mask.shape[2] != 3:
        raise ValueError(f'a colour-coded mask must be [H, W, 3] RGB, got shape {mask.shape}')
    if isinstance(palette, Mapping):
        colours = tuple(tuple(int(v) for v in colour) for colour in palette)
        ids = tuple(int(i) for i in palette.values())
    else:
        colours = tuple(tuple(int(v) for v in colour) for colour in palette)
        ids = tuple(range(len(colours)))
    for colour in colours:
        if len(colour) != 3 or not all(0 <= v <= 255 for v in colour):
            raise ValueError(f'palette colour {colour} is not an (R, G, B) triple of 0..255')
    pixels = np.ascontiguousarray(mask, dtype=np.uint8)
    packed = pixels[..., 0].astype(np.int32) << 16
    packed |= pixels[..., 1].astype(np.int32) << 8
    packed |= pixels[..., 2]
    table, missing = _colour_lookup(colours, ids)  # type: ignore[arg-type]
    index = table[packed]
    unknown = index == missing
    if unknown.any():
        rows, cols = np.nonzero(unknown)
        colour = tuple(int(v) for v in pixels[rows[0], cols[0]])
        raise ValueError(
            f'{int(unknown.sum())} pixels have colours outside the palette, first {colour} at '
            f'row {rows[0]}, column {cols[0]}'
        )
    return index


def _candidate_classes(index: np.ndarray) -> list[int]:
    """Class ids that may occur in an index mask, ascending (absent ones are skipped later)."""
    if not index.size:
        return []
    if index.dtype != np.bool_ and index.min() < 0:
        raise ValueError(f'mask has negative class id {int(index.min())}')
    largest = int(index.max())
    if largest < 64:
        # Few ids: trying each costs less than a histogram of the whole mask.
        return list(range(largest + 1))
    if index.dtype == np.uint8:
        # OpenCV's histogram is several times faster than np.bincount / np.unique here.
        counts = cv2.calcHist([index], [0], None, [256], [0, 256]).ravel()
        return np.flatnonzero(counts).tolist()
    if largest < 1 << 20:
        return np.flatnonzero(np.bincount(index.ravel())).tolist()
    return np.unique(index).tolist()


def _component_boxes(binary: np.ndarray, connectivity: int) -> np.ndarray:
    """``[N, 4]`` int boxes ``x1, y1, x2, y2`` (pixel edges) of the components of a 0/1 image."""
    if connectivity == 8:
        contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return np.zeros((0, 4), dtype=np.int64)
        # Top level: outer borders, islands inside holes included.
        outer = [c for c, parent in zip(contours, hierarchy[0, :, 3].tolist()) if parent < 0]
        # Min/max over each contour's points at once: cv2.boundingRect per contour costs
        # more in Python calls than the reduction.
        lengths = np.fromiter(map(len, outer), dtype=np.intp, count=len(outer))
        points = np.concatenate(outer).reshape(-1, 2)
        starts = np.zeros(len(outer), dtype=np.intp)
        np.cumsum(lengths[:-1], out=starts[1:])
        low = np.minimum.reduceat(points, starts)
        high = np.maximum.reduceat(points, starts) + 1
        return np.concatenate([low, high], axis=1).astype(np.int64)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4, ltype=cv2.CV_32S)
    rects = stats[1:count, :4].astype(np.int64)
    rects[:, 2:] += rects[:, :2]
    return rects


def mask_to_boxes(
    mask: np.ndarray,
    *,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    palette: Sequence[RGB] | Mapping[RGB, int] | None = None,
    ignore_index: Sequence[int] | int = (),
    min_area: float = 0,
    connectivity: int = 8,
) -> tuple[np.ndarray, list[str]]:
    """Boxes of the connected components of each class in a segmentation mask.

    Args:
        mask: ``[H, W]`` integer class ids, or ``[H, W, 3]`` RGB colours with ``palette``.
        class_names: Name of each class id (sequence indexed by id, or mapping); labels are
            ``str(class_id)`` when None. A class id without a name raises ``ValueError``.
        palette: For colour-coded masks, the colours in class-id order or colour -> id.
        ignore_index: Class ids that give no boxes (no-data, clutter, background).
        min_area: Drop boxes whose area ``w * h`` (pixels) is below this.
        connectivity: 8 (default, as border following) or 4.

    Returns:
        ``boxes`` float ``[N, 4]`` (``xmin, ymin, xmax, ymax``, pixel edges) and the label of
        each box.

    Raises:
        ValueError: For a mask of the wrong shape, colours outside the palette, negative ids,
            a class id missing from ``class_names`` or a connectivity other than 4 or 8.
    """
    if connectivity not in (4, 8):
        raise ValueError(f'connectivity must be 4 or 8, got {connectivity}')
    mask = np.asarray(mask)
    if palette is not None:
        index = colour_mask_to_index(mask, palette)
    elif mask.ndim == 3 and mask.shape[2] == 1:
        index = mask[..., 0]
    elif mask.ndim == 2:
        index = mask
    else:
        raise ValueError(
            f'mask must be [H, W] class ids (or [H, W, 3] colours with a palette), '
            f'got shape {mask.shape}'
        )
    if not (np.issubdtype(index.dtype, np.integer) or index.dtype == np.bool_):
        raise ValueError(f'mask must hold integer class ids, got dtype {index.dtype}')
    ignored = {ignore_index} if isinstance(ignore_index, int) else set(ignore_index)
    all_boxes: list[np.ndarray] = []
    labels: list[str] = []
    for class_id in _candidate_classes(index):
        if class_id in ignored:
            continue
        binary = (index == class_id).view(np.uint8)
        if not cv2.countNonZero(binary):
            continue
        if class_names is None:
            name = str(class_id)
        else:
            try:
                name = class_names[class_id]
            except (IndexError, KeyError):
                raise ValueError(f'class id {class_id} has no name in class_names') from None
        rects = _component_boxes(binary, connectivity)
        if min_area > 0:
            rects = rects[(rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1]) >= min_area]
        if len(rects):
            all_boxes.append(rects[np.lexsort((rects[:, 0], rects[:, 1]))])
            labels.extend([name] * len(rects))
    if not all_boxes:
        return np.zeros((0, 4)), []
    return np.concatenate(all_boxes).astype(np.float64), labels
