import numpy as np
import pytest
from PIL import Image

from rs_vlm.conversion.dedup import (
    brute_force_near_duplicates,
    find_near_duplicates,
    hamming_distance,
    phash,
)

imagehash = pytest.importorskip('imagehash')


def test_phash_equals_imagehash_on_random_images():
    rng = np.random.default_rng(0)
    for _ in range(40):
        shape = (int(rng.integers(8, 90)), int(rng.integers(8, 90)), 3)
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        assert f'{phash(image):016x}' == str(imagehash.phash(image))


def test_phash_equals_imagehash_on_real_images(real_fixtures):
    files = [
        real_fixtures / 'deepforest' / 'OSBS_029.png',
        real_fixtures / 'dior_rsvg_mmrotate' / 'dior_00001.jpg',
        real_fixtures / 'dota_devkit' / 'images' / 'P1888.png',
        *sorted((real_fixtures / 'single_images').glob('*.jpg')),
    ]
    for file in files:
        with Image.open(file) as image:
            assert f'{phash(file):016x}' == str(imagehash.phash(image)), file


def random_hashes(rng, count):
    return rng.integers(0, 2**63, count, dtype=np.uint64) * np.uint64(2) + rng.integers(
        0, 2, count, dtype=np.uint64
    )


@pytest.mark.parametrize('max_distance', [0, 1, 2, 3])
def test_index_equals_brute_force(max_distance):
    rng = np.random.default_rng(max_distance)
    references = random_hashes(rng, 2000)
    queries = random_hashes(rng, 1500)
    # plant pairs at distances 0..4 (bits flipped in either block, across the block border)
    for i in range(300):
        bits = rng.choice(64, size=i % 5, replace=False)
        flip = np.uint64(sum(1 << int(b) for b in bits))
        queries[i] = references[rng.integers(0, 2000)] ^ flip
    queries[300:310] = references[:10]  # the same reference twice in a row
    queries[310] = queries[311] = references[5]
    expected = brute_force_near_duplicates(queries, references, max_distance=max_distance)
    found = find_near_duplicates(queries, references, max_distance=max_distance)
    assert np.array_equal(found, expected)
    assert len(found) >= 70  # the planted ones at least
    # an independent check of a few distances with Python's popcount
    for q, r, d in found[:20].tolist():
        assert d == bin(int(queries[q]) ^ int(references[r])).count('1') <= max_distance


def test_duplicate_references_and_empty_inputs():
    references = np.array([5, 5, 7], dtype=np.uint64)
    found = find_near_duplicates(np.array([5], dtype=np.uint64), references, max_distance=1)
    assert found.tolist() == [[0, 0, 0], [0, 1, 0], [0, 2, 1]]
    assert find_near_duplicates(np.array([], dtype=np.uint64), references).shape == (0, 3)
    assert hamming_distance(np.uint64(0), np.uint64(2**64 - 1)) == 64
    with pytest.raises(ValueError, match='max_distance'):
        find_near_duplicates(references, references, max_distance=64)
