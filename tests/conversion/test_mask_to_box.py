import numpy as np
import pytest
from scipy import ndimage

from rs_vlm.conversion import (
    ISAID_PALETTE,
    ISPRS_CLASSES,
    ISPRS_PALETTE,
    NAMED_MASK_FORMATS,
    boxes_to_captions,
    colour_mask_to_index,
    mask_to_boxes,
)


def as_set(boxes, labels):
    return sorted((label, *map(int, box)) for box, label in zip(boxes, labels))


def scipy_boxes(mask, ignore=(), connectivity=8):
    """Second implementation: scipy labelling per class, boxes as pixel edges."""
    structure = np.ones((3, 3)) if connectivity == 8 else None
    found = []
    for class_id in np.unique(mask):
        if class_id in ignore:
            continue
        labelled, _ = ndimage.label(mask == class_id, structure=structure)
        for rows, cols in ndimage.find_objects(labelled):
            found.append((str(class_id), cols.start, rows.start, cols.stop, rows.stop))
    return sorted(found)


def test_touching_objects_of_different_classes():
    mask = np.zeros((6, 8), np.uint8)
    mask[1:4, 1:4] = 1
    mask[1:4, 4:7] = 2  # shares an edge with class 1
    boxes, labels = mask_to_boxes(mask, ignore_index=0)
    assert as_set(boxes, labels) == [('1', 1, 1, 4, 4), ('2', 4, 1, 7, 4)]


def test_hole_does_not_split_and_objects_inside_holes_get_boxes():
    mask = np.zeros((9, 9), np.uint8)
    mask[1:8, 1:8] = 1
    mask[2:7, 2:7] = 0  # hole: ring of class 1
    mask[3, 3] = 2  # another class inside the hole
    mask[5, 5] = 1  # same class, island inside the hole
    boxes, labels = mask_to_boxes(mask, ignore_index=0)
    assert as_set(boxes, labels) == [
        ('1', 1, 1, 8, 8),
        ('1', 5, 5, 6, 6),
        ('2', 3, 3, 4, 4),
    ]


def test_diagonal_only_contact_is_one_object_with_8_connectivity():
    mask = np.zeros((5, 5), np.uint8)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = 4
    boxes, labels = mask_to_boxes(mask, ignore_index=0)
    assert as_set(boxes, labels) == [('4', 1, 1, 4, 4)]
    boxes, labels = mask_to_boxes(mask, ignore_index=0, connectivity=4)
    assert as_set(boxes, labels) == [('4', 1, 1, 2, 2), ('4', 2, 2, 3, 3), ('4', 3, 3, 4, 4)]


def test_one_pixel_objects_at_borders_and_corners():
    mask = np.zeros((4, 5), np.uint8)
    mask[0, 0] = 1
    mask[3, 4] = 1
    mask[0, 4] = 2
    boxes, labels = mask_to_boxes(mask, ignore_index=0, class_names=['bg', 'car', 'tree'])
    assert as_set(boxes, labels) == [
        ('car', 0, 0, 1, 1),
        ('car', 4, 3, 5, 4),
        ('tree', 4, 0, 5, 1),
    ]
    # one-pixel boxes are not degenerate: B2C places them by their centre
    captions = boxes_to_captions(boxes, labels, 5, 4)
    assert 'edge' in captions[1]


def test_order_is_by_class_then_raster():
    mask = np.zeros((6, 6), np.uint8)
    mask[4, 0] = 1
    mask[0, 4] = 1
    mask[2, 2] = 1
    mask[0, 0] = 2
    boxes, labels = mask_to_boxes(mask, ignore_index=0)
    assert labels == ['1', '1', '1', '2']
    assert boxes[:3, :2].tolist() == [[4, 0], [2, 2], [0, 4]]


def test_ignore_and_min_area():
    mask = np.zeros((10, 10), np.uint8)
    mask[0:3, 0:3] = 1  # 9 pixels
    mask[5, 5] = 1  # 1 pixel
    mask[7:9, 7:10] = 2
    boxes, labels = mask_to_boxes(mask, ignore_index=(0, 2), min_area=4)
    assert as_set(boxes, labels) == [('1', 0, 0, 3, 3)]
    boxes, labels = mask_to_boxes(mask, ignore_index=0)
    assert len(boxes) == 3


@pytest.mark.parametrize('connectivity', [8, 4])
def test_matches_scipy_labelling_on_random_masks(connectivity):
    rng = np.random.default_rng(0)
    for trial in range(15):
        shape = tuple(rng.integers(5, 60, 2))
        # blocky masks with many touching, diagonal and hole configurations
        coarse = rng.integers(0, 4, (shape[0] // 2 + 1, shape[1] // 2 + 1))
        mask = np.kron(coarse, np.ones((2, 2), np.int64))[: shape[0], : shape[1]]
        mask[rng.random(shape) < 0.1] = rng.integers(0, 4)
        mask = mask.astype([np.uint8, np.uint16, np.int32][trial % 3])
        boxes, labels = mask_to_boxes(mask, ignore_index=(0,), connectivity=connectivity)
        assert as_set(boxes, labels) == scipy_boxes(mask, ignore=(0,), connectivity=connectivity)


def test_isprs_colour_mask():
    index = np.array([[0, 1, 1], [4, 4, 5], [3, 2, 1]])
    rgb = np.array(ISPRS_PALETTE, np.uint8)[index]
    assert np.array_equal(colour_mask_to_index(rgb, ISPRS_PALETTE), index)
    boxes, labels = mask_to_boxes(
        rgb, palette=ISPRS_PALETTE, class_names=ISPRS_CLASSES, ignore_index=5
    )
    assert as_set(boxes, labels) == [
        ('building', 1, 0, 3, 1),
        ('building', 2, 2, 3, 3),
        ('car', 0, 1, 2, 2),
        ('impervious surface', 0, 0, 1, 1),
        ('low vegetation', 1, 2, 2, 3),
        ('tree', 0, 2, 1, 3),
    ]


def test_palette_mapping_and_unknown_colour():
    rgb = np.zeros((3, 3, 3), np.uint8)
    rgb[1, 1] = ISAID_PALETTE[1]  # ship
    boxes, labels = mask_to_boxes(rgb, palette={(0, 0, 0): 0, (0, 0, 63): 7}, ignore_index=0)
    assert as_set(boxes, labels) == [('7', 1, 1, 2, 2)]
    wide = {(0, 0, 0): 0, (0, 0, 63): 300}  # ids beyond uint8
    assert as_set(*mask_to_boxes(rgb, palette=wide, ignore_index=0)) == [('300', 1, 1, 2, 2)]
    rgb[2, 0] = (1, 2, 3)
    with pytest.raises(ValueError, match=r'\(1, 2, 3\) at row 2, column 0'):
        mask_to_boxes(rgb, palette=ISAID_PALETTE)


def test_bad_masks():
    with pytest.raises(ValueError, match='shape'):
        mask_to_boxes(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match='dtype'):
        mask_to_boxes(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match='negative'):
        mask_to_boxes(np.full((2, 2), -1, np.int32))
    with pytest.raises(ValueError, match='no name'):
        mask_to_boxes(np.full((2, 2), 3, np.uint8), class_names=['a'])
    with pytest.raises(ValueError, match='connectivity'):
        mask_to_boxes(np.zeros((2, 2), np.uint8), connectivity=6)
    assert mask_to_boxes(np.zeros((0, 0), np.uint8))[0].shape == (0, 4)


def test_real_eolearn_land_cover_mask(real_fixtures):
    mask = np.load(real_fixtures / 'eolearn' / 'LULC.npy')[..., 0]
    assert mask.dtype == np.uint16 and mask.shape == (101, 100)
    boxes, labels = mask_to_boxes(mask, ignore_index=0)
    assert as_set(boxes, labels) == scipy_boxes(mask, ignore=(0,))
    assert set(labels) == {str(v) for v in np.unique(mask)} - {'0'}
    for box, label in zip(boxes.astype(int), labels):
        x1, y1, x2, y2 = box
        window = mask[y1:y2, x1:x2] == int(label)
        # every box edge row/column touches its component's class
        assert window[0].any() and window[-1].any()
        assert window[:, 0].any() and window[:, -1].any()


@pytest.mark.parametrize(
    ('preset', 'kept'),
    [
        # RemoteCLIP Table I (SEG-4): Potsdam 4, Vaihingen 4, iSAID 15, LoveDA 6 classes; the
        # paper's figure names the 4 ISPRS ones: tree, building, low vegetation, car.
        ('potsdam', {'tree', 'building', 'low vegetation', 'car'}),
        ('vaihingen', {'tree', 'building', 'low vegetation', 'car'}),
        ('isprs', {'tree', 'building', 'low vegetation', 'car'}),
        ('isaid', 15),
        ('loveda', {'building', 'road', 'water', 'barren', 'forest', 'agriculture'}),
    ],
)
def test_named_formats_keep_the_classes_of_table_one(preset: str, kept: set[str] | int) -> None:
    palette, names, ignore = NAMED_MASK_FORMATS[preset]
    # one 2x2 patch of every class id, separated by a column of the first id
    index = np.zeros((2, 3 * len(names)), np.uint8)
    for class_id in range(len(names)):
        index[:, 3 * class_id + 1 : 3 * class_id + 3] = class_id
    mask = np.array(palette, np.uint8)[index] if palette is not None else index
    _, labels = mask_to_boxes(mask, palette=palette, class_names=names, ignore_index=ignore)
    found = set(labels)
    assert (len(found) if isinstance(kept, int) else found) == kept
