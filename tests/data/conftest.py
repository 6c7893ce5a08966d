"""Helpers for the data tests: tiny image folders and corpora made on the fly."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(
    path: Path, size: tuple[int, int] = (40, 30), seed: int = 0, fmt: str = 'JPEG'
) -> Path:
    """Write a random RGB image (width, height) and return its path."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


@pytest.fixture
def caption_csv(tmp_path: Path) -> Path:
    """A comma CSV with 6 images (2 of them with two captions each) under images/."""
    rows = ['filepath,title']
    for index in range(6):
        write_image(tmp_path / 'images' / f'img{index}.jpg', seed=index)
        rows.append(f'images/img{index}.jpg,a photo number {index}')
    rows.append('images/img0.jpg,"second caption, with a comma"')
    rows.append('images/img1.jpg,another caption of one')
    path = tmp_path / 'train.csv'
    path.write_text('\n'.join(rows) + '\n')
    return path


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """The :func:`write_image` helper, as a fixture."""
    return write_image
