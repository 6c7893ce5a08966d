"""Fixtures of the prediction tests: a tiny random model and a folder of small images."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rs_vlm.models import load_model
from rs_vlm.prediction import LoadedModel


@pytest.fixture(autouse=True, scope='module')
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread: the tiny model runs ~10x faster than with threads on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='session')
def tiny_model() -> LoadedModel:
    """``rs-vit-tiny`` with seeded random weights, in eval mode."""
    torch.manual_seed(0)
    return load_model('rs-vit-tiny')


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PNG, JPEG and 8-bit RGB TIFF images of different sizes, one level nested."""
    root = tmp_path_factory.mktemp('images')
    (root / 'sub').mkdir()
    rng = np.random.default_rng(0)
    names = ['a.png', 'b.jpg', 'sub/c.tif', 'sub/d.png', 'e.JPG']
    for index, name in enumerate(names):
        height, width = 40 + 4 * index, 56 - 3 * index
        # smooth colour ramps plus noise, so each image has its own content
        ramp = np.linspace(0, 1, width)[None, :, None] * rng.uniform(50, 200, 3)
        noise = rng.normal(0, 20, (height, width, 3))
        pixels = np.clip(ramp + noise + rng.uniform(0, 55, 3), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / name)
    (root / 'notes.txt').write_text('not an image\n', encoding='utf-8')
    return root
