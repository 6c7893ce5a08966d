"""Readers and B2C on the real annotation files (DOTA, DeepForest, DIOR/RSVG, HRSC)."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rs_vlm.conversion import (
    boxes_to_captions,
    normalise_class_name,
    pluralise,
    read_csv_boxes,
    read_dota,
    read_voc,
)

DOTA_FILES = ['P0706', 'P0770', 'P1088', 'P1234', 'P1888', 'P2598', 'P2709']
DOTA_SIZES = {'P0706': (1111, 1182), 'P1888': (712, 557)}  # the two images present


def plain_dota(path: Path) -> tuple[list[str], np.ndarray]:
    """Independent parse: every 9/10-field line is an object."""
    labels, corners = [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) in (9, 10):
            labels.append(fields[8])
            corners.append([float(v) for v in fields[:8]])
    return labels, np.array(corners).reshape(-1, 4, 2)


def display_names(labels):
    return [(normalise_class_name(x), pluralise(normalise_class_name(x))) for x in set(labels)]


def test_dota_counts_from_source_notes(real_fixtures):
    root = real_fixtures / 'dota_devkit' / 'labelTxt'
    big = (100_000, 100_000)
    assert Counter(read_dota(root / 'P0706.txt').labels) == {'ship': 531, 'harbor': 5}
    assert Counter(read_dota(root / 'P1234.txt', size=big).labels) == {
        'storage-tank': 110,
        'ship': 24,
        'bridge': 6,
        'harbor': 4,
    }
    assert Counter(read_dota(root / 'P1888.txt').labels) == {
        'large-vehicle': 50,
        'small-vehicle': 14,
    }
    total = sum(len(read_dota(root / f'{name}.txt', size=big).labels) for name in DOTA_FILES)
    assert total == 984


@pytest.mark.parametrize('name', DOTA_FILES)
def test_dota_captions_state_the_counts_in_the_file(real_fixtures, name, parse, wording):
    path = real_fixtures / 'dota_devkit' / 'labelTxt' / f'{name}.txt'
    labels, corners = plain_dota(path)
    size = DOTA_SIZES.get(name)
    if size is None:  # image absent: a size that clips nothing
        size = (int(corners[..., 0].max()) + 1, int(corners[..., 1].max()) + 1)
    record = read_dota(path, size=size)
    assert len(record.labels) == len(labels) - sum(record.dropped.values())
    captions = boxes_to_captions(record.boxes, record.labels, *size, seed=1, key=name)
    totals = Counter(normalise_class_name(x) for x in record.labels)
    names = display_names(labels)
    for caption in captions[2:]:
        stated = parse(caption, names)
        assert stated and all(stated[k] == wording(totals[k]) for k in stated), caption
    mentioned = {k for caption in captions for k in parse(caption, names)}
    assert mentioned == set(totals)  # present classes only, all of them somewhere


@pytest.mark.parametrize('name', ['P0706', 'P1888'])
def test_dota_centre_split_matches_independent_computation(real_fixtures, name, parse, wording):
    path = real_fixtures / 'dota_devkit' / 'labelTxt' / f'{name}.txt'
    record = read_dota(path)
    assert (record.width, record.height) == DOTA_SIZES[name]
    labels, corners = plain_dota(path)
    inside: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    w, h = record.width, record.height
    for label, quad in zip(labels, corners):
        # horizontal box clipped to the image, centre in [W/4, 3W/4] x [H/4, 3H/4]
        x1, x2 = max(quad[:, 0].min(), 0), min(quad[:, 0].max(), w)
        y1, y2 = max(quad[:, 1].min(), 0), min(quad[:, 1].max(), h)
        central = w / 4 <= (x1 + x2) / 2 <= 3 * w / 4 and h / 4 <= (y1 + y2) / 2 <= 3 * h / 4
        (inside if central else outside)[normalise_class_name(label)] += 1
    captions = boxes_to_captions(record.boxes, record.labels, w, h, key=name)
    names = display_names(labels)
    assert parse(captions[0], names) == {k: wording(v) for k, v in inside.items()}
    assert parse(captions[1], names) == {k: wording(v) for k, v in outside.items()}


def test_dota_oriented_to_horizontal_contains_all_corners(real_fixtures):
    for name in DOTA_FILES:
        path = real_fixtures / 'dota_devkit' / 'labelTxt' / f'{name}.txt'
        record = read_dota(path, size=DOTA_SIZES.get(name, (100_000, 100_000)))
        assert record.oriented is not None and len(record.oriented) == len(record.boxes)
        corners = record.oriented.copy()
        corners[..., 0] = corners[..., 0].clip(0, record.width)
        corners[..., 1] = corners[..., 1].clip(0, record.height)
        x, y = corners[..., 0], corners[..., 1]
        boxes = record.boxes[:, None, :]
        assert (boxes[..., 0] <= x).all() and (x <= boxes[..., 2]).all()
        assert (boxes[..., 1] <= y).all() and (y <= boxes[..., 3]).all()
        # tight: every side of the box touches a (clipped) corner
        assert np.allclose(x.min(1), record.boxes[:, 0]) and np.allclose(
            x.max(1), record.boxes[:, 2]
        )


def test_deepforest_csv_and_voc_agree(real_fixtures, parse):
    folder = real_fixtures / 'deepforest'
    from_csv = list(read_csv_boxes(folder / 'OSBS_029.csv'))
    assert len(from_csv) == 1
    from_voc = read_voc(folder / 'OSBS_029.xml')
    assert (
        (from_csv[0].width, from_csv[0].height)
        == (from_voc.width, from_voc.height)
        == (
            400,
            400,
        )
    )
    assert len(from_voc.labels) == 61
    assert sorted(map(tuple, from_csv[0].boxes)) == sorted(map(tuple, from_voc.boxes))
    assert from_voc.boxes[0].tolist() == [203, 67, 227, 90]
    captions = boxes_to_captions(from_voc.boxes, from_voc.labels, 400, 400)
    for caption in captions[2:]:
        assert parse(caption, [('tree', 'trees')]) == {'tree': 'many'}


def test_dior_hbb_obb_and_hrsc(real_fixtures, parse):
    folder = real_fixtures / 'dior_rsvg_mmrotate'
    # the fixture's image is dior_00001.jpg; the XML names 00001.jpg (the DIOR release name)
    horizontal = read_voc(folder / 'rsvg_00001.xml', check_image=False)
    oriented = read_voc(folder / 'dior_00001_obb.xml', check_image=False)
    assert horizontal.labels == oriented.labels == ['golffield']
    assert horizontal.boxes.tolist() == oriented.boxes.tolist() == [[133, 237, 684, 672]]
    assert horizontal.oriented is None and oriented.oriented.shape == (1, 4, 2)
    assert Path(oriented.path).name == '00001.jpg' and oriented.width == 800
    captions = boxes_to_captions(oriented.boxes, oriented.labels, 800, 800)
    # centre (408.5, 454.5) is central; nothing at the edge
    assert parse(captions[0], [('golf field', 'golf fields')]) == {'golf field': 1}
    assert 'middle' in captions[0] or 'center' in captions[0]
    assert 'edge' not in captions[1]

    ship = read_voc(folder / 'hrsc_100000006.xml', check_image=False)  # no image shipped
    assert (ship.width, ship.height, ship.labels) == (1172, 816, ['ship'])
    corners = ship.oriented[0]
    # the rotated box has the annotated size and centre
    assert np.allclose(corners.mean(0), [341.2143, 443.3325])
    assert np.isclose(np.linalg.norm(corners[1] - corners[0]), 778.4297)
    assert np.isclose(np.linalg.norm(corners[2] - corners[1]), 178.2595)
    x1, y1, x2, y2 = ship.boxes[0]
    assert (x1, y1, x2, y2) == pytest.approx(
        (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), 816)
    )
    # and it contains the annotated tight horizontal box (119, 75, 587, 789)
    assert x1 <= 119 and y1 <= 75 and x2 >= 587 and y2 >= 789
