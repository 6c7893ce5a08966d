"""open_rgb_image: the pixels load_image gives, for every image mode, without its tensor copy."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from rs_vlm.errors import ImageTooLargeError
from rs_vlm.evaluation.preprocessing import to_pil
from rs_vlm.io.decoding import load_image
from rs_vlm.prediction.encoding import open_rgb_image


def _write(tmp_path: Path, mode: str, suffix: str) -> Path:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    image = Image.fromarray(rgba, mode='RGBA')
    if mode == 'I;16':
        image = Image.fromarray(rng.integers(0, 65535, (37, 53), dtype=np.uint16))
    elif mode == 'P':
        image = image.convert('RGB').quantize(16)
    else:
        image = image.convert(mode)
    path = tmp_path / f'{mode.replace(";", "")}{suffix}'
    image.save(path)
    return path


@pytest.mark.parametrize(
    ('mode', 'suffix'),
    [('RGB', '.jpg'), ('L', '.jpg'), ('RGB', '.png'), ('RGBA', '.png'), ('P', '.png'),
     ('L', '.bmp'), ('RGB', '.webp'), ('I;16', '.png')],
)  # fmt: skip
def test_same_pixels_as_load_image(tmp_path: Path, mode: str, suffix: str) -> None:
    path = _write(tmp_path, mode, suffix)
    opened = open_rgb_image(path)
    assert opened.mode == 'RGB'
    expected = np.asarray(to_pil(load_image(path)))
    np.testing.assert_array_equal(np.asarray(opened), expected)


def test_multiband_tiff_goes_through_band_selection(tmp_path: Path) -> None:
    path = tmp_path / 'scene.tif'
    bands = np.random.default_rng(4).integers(0, 4000, (4, 20, 30)).astype('uint16')
    with rasterio.open(
        path, 'w', driver='GTiff', width=30, height=20, count=4, dtype='uint16'
    ) as dataset:
        dataset.write(bands)
    expected = np.asarray(to_pil(load_image(path, dtype=torch.uint8)))
    np.testing.assert_array_equal(np.asarray(open_rgb_image(path)), expected)


def test_over_the_pixel_budget_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, 'RGB', '.png')
    monkeypatch.setenv('RS_VLM_MAX_IMAGE_PIXELS', '100')
    with pytest.raises(ImageTooLargeError, match=r'RGB\.png'):
        open_rgb_image(path)
