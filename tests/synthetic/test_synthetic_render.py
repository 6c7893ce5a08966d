"""The scene renderer: determinism, masks agree with boxes, exact counts, distinct scenes."""

import numpy as np
import pytest

from rs_vlm.conversion import mask_to_boxes
from rs_vlm.synthetic.render import MAX_COUNT, SCENE_TYPES, render_scene
from rs_vlm.synthetic.shapes import OBJECT_CLASSES

SCENES = range(len(SCENE_TYPES))


def scene(seed: int, kind: int, count: int, size: int = 64):
    return render_scene(np.random.default_rng(seed), kind, count, size)


def test_same_generator_state_gives_identical_scene() -> None:
    first, second = scene(3, 4, 7), scene(3, 4, 7)
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.instance_mask, second.instance_mask)
    np.testing.assert_array_equal(first.semantic_mask, second.semantic_mask)
    np.testing.assert_array_equal(first.boxes, second.boxes)
    assert first.labels == second.labels


def test_different_seed_gives_different_scene() -> None:
    for kind in SCENES:
        assert not np.array_equal(scene(1, kind, 5).image, scene(2, kind, 5).image)


@pytest.mark.parametrize('size', [32, 64, 80])
@pytest.mark.parametrize('kind', SCENES)
def test_every_count_is_drawn_exactly(kind: int, size: int) -> None:
    for count in range(1, MAX_COUNT + 1):
        rendered = scene(100 * count + kind, kind, count, size)
        primary = SCENE_TYPES[kind].primary
        assert rendered.primary_count == count
        assert rendered.counts[primary] == count
        assert rendered.image.shape == (size, size, 3)
        assert rendered.image.dtype == np.uint8
        extra = set(rendered.labels) - {primary}
        assert extra <= set(SCENE_TYPES[kind].secondary)


def pixel_box(mask: np.ndarray) -> list[float]:
    """Box of a boolean mask by brute force (pixel-edge convention, max exclusive)."""
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.parametrize('size', [32, 64])
def test_boxes_and_masks_agree(size: int) -> None:
    for kind in SCENES:
        for count in (1, 4, 10):
            rendered = scene(7 * count + kind, kind, count, size)
            instance, semantic = rendered.instance_mask, rendered.semantic_mask
            assert instance.max() == len(rendered.labels)
            np.testing.assert_array_equal(instance > 0, semantic > 0)
            for ident, (box, label) in enumerate(zip(rendered.boxes, rendered.labels), 1):
                pixels = instance == ident
                assert pixel_box(pixels) == box.tolist()
                assert set(np.unique(semantic[pixels])) == {OBJECT_CLASSES.index(label) + 1}


@pytest.mark.parametrize('size', [32, 64])
def test_mask_to_box_recovers_every_rendered_box(size: int) -> None:
    """Objects never touch, so M2B on the semantic mask finds each object's exact box."""
    for kind in SCENES:
        for count in range(1, MAX_COUNT + 1, 3):
            rendered = scene(11 * count + kind, kind, count, size)
            boxes, labels = mask_to_boxes(
                rendered.semantic_mask, class_names=('ground', *OBJECT_CLASSES), ignore_index=0
            )
            recovered = sorted(zip(labels, map(tuple, boxes.tolist())))
            expected = sorted(zip(rendered.labels, map(tuple, rendered.boxes.tolist())))
            assert recovered == expected


def test_objects_keep_apart() -> None:
    """No two instances touch, not even diagonally (8-connectivity)."""
    for kind in SCENES:
        rendered = scene(5 + kind, kind, 10)
        instance = rendered.instance_mask.astype(int)
        padded = np.pad(instance, 1)
        height, width = instance.shape
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
                clash = (instance > 0) & (shifted > 0) & (shifted != instance)
                assert not clash.any()


def test_ships_float_on_water_in_harbors() -> None:
    """Harbor ships sit on the blue water, never on the grey quay."""
    harbor = [scene.name for scene in SCENE_TYPES].index('harbor')
    for seed in range(10):
        rendered = scene(seed, harbor, 10)
        image = rendered.image.astype(int)
        ground = rendered.instance_mask == 0
        water = ground & (image[..., 2] > image[..., 0] + 40)
        for ident, label in enumerate(rendered.labels, 1):
            if label != 'ship':
                continue
            ys, xs = np.nonzero(rendered.instance_mask == ident)
            y, x = int(ys.mean()), int(xs.mean())
            window = water[max(0, y - 8) : y + 9, max(0, x - 8) : x + 9]
            assert window.mean() > 0.3


def colour_features(image: np.ndarray) -> np.ndarray:
    pixels = image.reshape(-1, 3).astype(float)
    return np.concatenate([pixels.mean(0), pixels.std(0)])


def test_scene_types_are_told_apart_by_colour_alone() -> None:
    """A nearest-centroid classifier on mean/std colour separates the scene types."""
    train = [(colour_features(scene(i, i % 7, 1 + i % 10, 32).image), i % 7) for i in range(140)]
    test = [
        (colour_features(scene(1000 + i, i % 7, 1 + i % 10, 32).image), i % 7) for i in range(70)
    ]
    features = np.array([f for f, _ in train])
    labels = np.array([k for _, k in train])
    centroids = np.stack([features[labels == k].mean(0) for k in SCENES])
    scale = features.std(0) + 1e-6
    correct = 0
    for feature, label in test:
        distances = (((centroids - feature) / scale) ** 2).sum(1)
        correct += int(distances.argmin() == label)
    assert correct / len(test) > 0.9


@pytest.mark.parametrize(
    ('kind', 'count', 'size', 'message'),
    [(7, 1, 64, 'scene'), (-1, 1, 64, 'scene'), (0, 0, 64, 'primary_count'),
     (0, 11, 64, 'primary_count'), (0, 1, 16, 'image_size')],
)  # fmt: skip
def test_bad_arguments_raise(kind: int, count: int, size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_scene(np.random.default_rng(0), kind, count, size)
