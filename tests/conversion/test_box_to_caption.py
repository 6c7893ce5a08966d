import random

import numpy as np
import pytest

from rs_vlm.conversion import (
    B2CConfig,
    boxes_to_captions,
    boxes_to_captions_batch,
    normalise_class_name,
    pluralise,
)

NAMES = [
    ('ship', 'ships'),
    ('harbor', 'harbors'),
    ('small vehicle', 'small vehicles'),
    ('storage tank', 'storage tanks'),
    ('airplane', 'airplanes'),
]


def centre_split(boxes, labels, width, height, fraction=0.5):
    """Second implementation of the centre rule: plain Python, one box at a time."""
    low_x, high_x = width * (1 - fraction) / 2, width * (1 + fraction) / 2
    low_y, high_y = height * (1 - fraction) / 2, height * (1 + fraction) / 2
    inside: dict[str, int] = {}
    outside: dict[str, int] = {}
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        target = inside if low_x <= cx <= high_x and low_y <= cy <= high_y else outside
        target[label] = target.get(label, 0) + 1
    return inside, outside


def test_hand_worked_example(parse):
    # 1000x1000 image: centre region [250, 750]^2.
    boxes = [
        [490, 490, 510, 510],  # ship, centre (500, 500): central
        [240, 240, 260, 260],  # ship, centre (250, 250): on the border -> central
        [0, 0, 10, 10],  # harbor, corner
        [740, 100, 760, 120],  # harbor, centre (750, 110): y outside
    ] + [[900, 900, 910, 910]] * 12  # 12 small vehicles at the edge -> "many"
    labels = ['ship', 'ship', 'harbor', 'harbor'] + ['small-vehicle'] * 12
    captions = boxes_to_captions(boxes, labels, 1000, 1000, seed=3)
    assert len(captions) == 5
    assert parse(captions[0], NAMES) == {'ship': 2}
    assert 'middle' in captions[0] or 'center' in captions[0]
    assert parse(captions[1], NAMES) == {'harbor': 2, 'small vehicle': 'many'}
    assert 'edge' in captions[1]
    totals = {'ship': 2, 'harbor': 2, 'small vehicle': 'many'}
    for caption in captions[2:]:
        stated = parse(caption, NAMES)
        assert stated, caption
        assert all(totals[name] == count for name, count in stated.items()), caption
    assert all((c[0].isupper() or c[0].isdigit()) and c.endswith(' .') for c in captions)


def test_listing_order_and_articles():
    boxes = [[0, 0, 5, 5]] * 4 + [[0, 0, 5, 5]] * 4 + [[0, 0, 5, 5]]
    labels = ['ship'] * 4 + ['harbor'] * 4 + ['airplane']
    config = B2CConfig(edge_templates=('{objects} at the edge',))
    edge = boxes_to_captions(boxes, labels, 100, 100, config=config)[1]
    # counts descending, ties by name, "an" before a vowel
    assert edge == '4 harbors, 4 ships and an airplane at the edge .'


@pytest.mark.parametrize(('count', 'expected'), [(1, 'a ship'), (10, '10 ships'), (11, 'many')])
def test_many_threshold(count, expected):
    config = B2CConfig(edge_templates=('{objects}',), many_words=('many',))
    caption = boxes_to_captions([[0, 0, 1, 1]] * count, ['ship'] * count, 100, 100, config=config)
    assert caption[1].startswith(expected[:1].upper() + expected[1:])


def test_many_threshold_configurable(parse):
    config = B2CConfig(many_threshold=3)
    captions = boxes_to_captions([[0, 0, 1, 1]] * 4, ['ship'] * 4, 100, 100, config=config)
    assert parse(captions[1], NAMES) == {'ship': 'many'}


def test_no_central_object_lists_everything_without_location(parse):
    boxes = [[0, 0, 10, 10], [90, 90, 100, 100]]
    captions = boxes_to_captions(boxes, ['ship', 'harbor'], 100, 100)
    assert parse(captions[0], NAMES) == {'ship': 1, 'harbor': 1}
    assert 'middle' not in captions[0] and 'edge' not in captions[0]
    assert parse(captions[1], NAMES) == {'ship': 1, 'harbor': 1}
    assert 'edge' in captions[1]


def test_only_central_objects(parse):
    captions = boxes_to_captions([[45, 45, 55, 55]] * 3, ['ship'] * 3, 100, 100)
    assert parse(captions[0], NAMES) == {'ship': 3}
    assert 'edge' not in captions[1] and parse(captions[1], NAMES) == {'ship': 3}


def test_no_objects_gives_five_empty_captions():
    captions = boxes_to_captions(np.zeros((0, 4)), [], 100, 100)
    assert len(captions) == 5
    assert all('no' in c.lower() for c in captions)


def test_deterministic_and_seed_dependent():
    rng = np.random.default_rng(1)
    boxes = rng.uniform(0, 500, (40, 4))
    boxes[:, 2:] = boxes[:, :2] + 10
    labels = [str(x) for x in rng.choice(['ship', 'harbor', 'plane', 'bridge', 'car'], 40)]
    first = boxes_to_captions(boxes, labels, 512, 512, seed=0, key='a.png')
    assert first == boxes_to_captions(boxes, labels, 512, 512, seed=0, key='a.png')
    variants = {
        tuple(boxes_to_captions(boxes, labels, 512, 512, seed=s, key='a.png')) for s in range(20)
    }
    assert len(variants) > 10


def test_batch_equals_single_in_any_order():
    rng = np.random.default_rng(2)
    images = []
    for i in range(30):
        n = int(rng.integers(0, 20))
        boxes = rng.uniform(0, 300, (n, 4))
        boxes[:, 2:] = boxes[:, :2] + rng.uniform(1, 30, (n, 2))
        labels = [str(x) for x in rng.choice(['ship', 'Storage_Tank', 'storage-tank', 'car'], n)]
        images.append((boxes, labels, 320 + i, 300, f'img{i}.png' if i % 2 else None))
    single = [boxes_to_captions(b, lab, w, h, seed=7, key=k) for b, lab, w, h, k in images]
    order = list(range(len(images)))
    random.Random(0).shuffle(order)
    shuffled = [images[i] for i in order]
    batch = boxes_to_captions_batch(
        [x[0] for x in shuffled],
        [x[1] for x in shuffled],
        [x[2] for x in shuffled],
        [x[3] for x in shuffled],
        seed=7,
        keys=[x[4] for x in shuffled],
    )
    assert [batch[order.index(i)] for i in range(len(images))] == single


def test_counts_and_centre_split_agree_with_second_implementation(parse, wording):
    rng = np.random.default_rng(3)
    names = ['ship', 'harbor', 'small vehicle', 'storage tank', 'airplane']
    for trial in range(40):
        n = int(rng.integers(1, 40))
        width, height = int(rng.integers(100, 2000)), int(rng.integers(100, 2000))
        x = rng.uniform(0, width, (n, 2))
        y = rng.uniform(0, height, (n, 2))
        boxes = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], axis=1)
        labels = [str(v) for v in rng.choice(names, n, p=[0.5, 0.1, 0.2, 0.1, 0.1])]
        captions = boxes_to_captions(boxes, labels, width, height, seed=trial)
        inside, outside = centre_split(boxes.tolist(), labels, width, height)
        everything = {k: inside.get(k, 0) + outside.get(k, 0) for k in set(labels)}
        expected_first = inside or everything
        expected_second = outside or everything
        assert parse(captions[0], NAMES) == {k: wording(v) for k, v in expected_first.items()}
        assert parse(captions[1], NAMES) == {k: wording(v) for k, v in expected_second.items()}
        for caption in captions[2:]:
            stated = parse(caption, NAMES)
            assert 1 <= len(stated) <= 3
            assert all(stated[k] == wording(everything[k]) for k in stated), caption


def test_count_captions_cover_categories_uniformly():
    boxes = [[0, 0, 1, 1]] * 4
    labels = ['ship', 'harbor', 'bridge', 'car']
    mentioned = {label: 0 for label in labels}
    for key in range(300):
        for caption in boxes_to_captions(boxes, labels, 10, 10, key=str(key))[2:]:
            for label in labels:
                mentioned[label] += f' {label}' in caption.lower()
    # each category appears in about half of the 900 counting captions (expected k: 2 of 4)
    assert all(350 < v < 550 for v in mentioned.values()), mentioned


@pytest.mark.parametrize(
    ('raw', 'name'),
    [
        ('small-vehicle', 'small vehicle'),
        ('Storage_Tank', 'storage tank'),
        ('storage-tank', 'storage tank'),
        ('golffield', 'golf field'),
        ('Expressway-Service-area', 'expressway service area'),
        ('  ground-track-field ', 'ground track field'),
    ],
)
def test_normalise_class_name(raw, name):
    assert normalise_class_name(raw) == name


@pytest.mark.parametrize(
    ('singular', 'plural'),
    [
        ('ship', 'ships'),
        ('bus', 'buses'),
        ('ferry', 'ferries'),
        ('day', 'days'),
        ('person', 'people'),
        ('aircraft', 'aircraft'),
        ('storage tank', 'storage tanks'),
        ('overpass', 'overpasses'),
        ('ground track field', 'ground track fields'),
    ],
)
def test_pluralise(singular, plural):
    assert pluralise(singular) == plural


def test_spellings_of_one_class_merge(parse):
    labels = ['storage-tank', 'Storage_Tank', 'storage tank']
    captions = boxes_to_captions([[0, 0, 1, 1]] * 3, labels, 10, 10)
    assert parse(captions[1], NAMES) == {'storage tank': 3}


def test_strict_vocabulary_rejects_unknown_class():
    config = B2CConfig(class_names={'ship': 'ship'}, strict=True)
    assert parse_ok(config)
    with pytest.raises(ValueError, match='unknown class'):
        boxes_to_captions([[0, 0, 1, 1]], ['submarine'], 10, 10, config=config)


def parse_ok(config):
    return boxes_to_captions([[0, 0, 1, 1]], ['ship'], 10, 10, config=config)


def test_region_classes_and_words():
    config = B2CConfig(
        region_classes=frozenset({'building'}),
        numbers_as_words=True,
        edge_templates=('{objects}',),
    )
    caption = boxes_to_captions([[0, 0, 1, 1]] * 3, ['building'] * 3, 10, 10, config=config)[1]
    assert caption == 'Three places with building .'


def test_bad_arguments():
    with pytest.raises(ValueError, match='labels'):
        boxes_to_captions([[0, 0, 1, 1]], ['a', 'b'], 10, 10)
    with pytest.raises(ValueError, match='positive'):
        boxes_to_captions([[0, 0, 1, 1]], ['a'], 0, 10)
    with pytest.raises(ValueError, match='center_fraction'):
        B2CConfig(center_fraction=1.5)
    with pytest.raises(ValueError, match='empty'):
        B2CConfig(count_templates=())
