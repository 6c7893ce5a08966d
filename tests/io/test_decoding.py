from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from rs_vlm.io.decoding import decode_image_bytes, load_image, resize_and_center_crop


def _stretch(band: np.ndarray) -> np.ndarray:
    low, high = np.percentile(band.astype(np.float64), (2, 98))
    return np.clip((band - low) / (high - low) * 255, 0, 255)


def test_real_sentinel2_single_band_geotiff(real_fixtures: Path) -> None:
    folder = real_fixtures / 'bigearthnet_common' / 'BigEarthNet-S2-Example'
    path = next(folder.glob('*/*_B04.tif'))
    with rasterio.open(path) as source:
        band = source.read(1)
    assert band.dtype == np.uint16
    image = load_image(path)
    assert image.shape == (3, *band.shape)
    assert torch.equal(image[0], image[2])  # grayscale repeated
    assert np.allclose(image[1].numpy(), _stretch(band), atol=1e-2)


def test_real_13_band_scene_as_true_colour(real_fixtures: Path, tmp_path: Path) -> None:
    scenes = np.load(real_fixtures / 'eolearn' / 'REFERENCE_SCENES.npy')
    scene = scenes[2].transpose(2, 0, 1)  # (13, 101, 100) float32 reflectance, B01..B12 order
    path = tmp_path / 'scene.tif'
    profile = {'driver': 'GTiff', 'count': 13, 'dtype': 'float32'}
    with rasterio.open(path, 'w', height=101, width=100, **profile) as target:
        target.write(scene)
    image = load_image(path)
    # B04, B03, B02 as reflectance x 2.5 (Sentinel Hub true colour), one gain for every scene
    expected = np.clip(scene[[3, 2, 1]].astype(np.float64) * 2.5 * 255, 0, 255)
    assert image.shape == (3, 101, 100)
    assert np.allclose(image.numpy(), expected, atol=1e-2)
    square = load_image(path, size=50)
    assert square.shape == (3, 50, 50)


def test_grayscale_and_16_bit_png(tmp_path: Path) -> None:
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    Image.fromarray(gray, mode='L').save(tmp_path / 'g.png')
    image = load_image(tmp_path / 'g.png')
    assert torch.equal(image, torch.from_numpy(np.stack([gray] * 3)).float())
    deep = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / 'd.png')
    assert np.allclose(load_image(tmp_path / 'd.png')[0].numpy(), _stretch(deep), atol=1e-2)


def test_rgba_and_bytes_and_resize(tmp_path: Path, make_image) -> None:
    rgba = np.random.default_rng(0).integers(0, 256, (10, 12, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode='RGBA').save(tmp_path / 'a.png')
    assert torch.equal(
        load_image(tmp_path / 'a.png'), torch.from_numpy(rgba[..., :3]).permute(2, 0, 1).float()
    )
    path = make_image(tmp_path / 'x.jpg', (40, 30))
    assert torch.equal(decode_image_bytes(path.read_bytes(), '.jpg'), load_image(path))
    expected = np.asarray(Image.open(path).convert('RGB'), dtype=np.float32)
    assert torch.equal(load_image(path), torch.from_numpy(expected).permute(2, 0, 1))
    resized = load_image(path, size=20)
    assert resized.shape == (3, 20, 20)
    # independent path: full decode, torch resize of the shorter side to 20, centre crop
    reference = resize_and_center_crop(load_image(path), 20)
    assert (resized - reference).abs().mean() < 8  # PIL vs torch bilinear, JPEG draft decode


def test_truncated_file_raises_oserror(tmp_path: Path, make_image) -> None:
    path = make_image(tmp_path / 'x.jpg', (64, 64))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(OSError):
        load_image(path)


def test_uint8_output_for_8_bit_16_bit_and_bytes(tmp_path: Path, make_image) -> None:
    path = make_image(tmp_path / 'x.jpg', (40, 30))
    for size in (None, 20):
        as_uint8 = load_image(path, size, dtype=torch.uint8)
        assert as_uint8.dtype == torch.uint8
        assert torch.equal(as_uint8.float(), load_image(path, size))  # 8-bit: no rounding
    assert torch.equal(
        decode_image_bytes(path.read_bytes(), '.jpg', 20, dtype=torch.uint8),
        load_image(path, 20, dtype=torch.uint8),
    )
    deep = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / 'd.png')
    rounded = np.clip(np.round(_stretch(deep)), 0, 255)
    as_uint8 = load_image(tmp_path / 'd.png', dtype=torch.uint8)
    assert as_uint8.dtype == torch.uint8
    assert np.abs(as_uint8[0].numpy().astype(np.float64) - rounded).max() <= 1  # stretch, rounded
    with pytest.raises(ValueError, match=r'float32 or torch\.uint8, got torch\.float16'):
        load_image(path, dtype=torch.float16)


def test_one_nan_pixel_leaves_the_band_stretched(tmp_path: Path) -> None:
    band = np.arange(100 * 120, dtype=np.float32).reshape(100, 120) / 7.0
    band[10, 20] = np.nan  # a no-data pixel
    band[50, 60] = np.inf
    path = tmp_path / 'float.tif'
    with rasterio.open(
        path, 'w', driver='GTiff', width=120, height=100, count=1, dtype='float32'
    ) as target:
        target.write(band, 1)
    image = load_image(path)
    finite = band[np.isfinite(band)].astype(np.float64)
    low, high = np.percentile(finite, (2, 98))
    expected = np.clip((np.where(np.isfinite(band), band, 0) - low) / (high - low) * 255, 0, 255)
    expected[~np.isfinite(band)] = 0  # documented: non-finite pixels become 0
    assert torch.isfinite(image).all()
    assert np.allclose(image[0].numpy(), expected, atol=1e-2)
    assert image[0, 10, 20] == 0 and image[0, 50, 60] == 0
    assert image[0, -1, -1] == 255 and image[0, 0, 0] == 0
    band[:] = np.nan
    with rasterio.open(
        path, 'w', driver='GTiff', width=120, height=100, count=1, dtype='float32'
    ) as target:
        target.write(band, 1)
    assert torch.equal(load_image(path), torch.zeros(3, 100, 120))


def test_nan_pixel_in_a_sentinel2_stack_becomes_zero(tmp_path: Path) -> None:
    scene = np.full((13, 20, 30), 0.2, np.float32)  # reflectance 0.2 -> 0.2 x 2.5 x 255
    scene[3, 5, 7] = np.nan
    path = tmp_path / 's2.tif'
    profile = {'driver': 'GTiff', 'count': 13, 'dtype': 'float32'}
    with rasterio.open(path, 'w', height=20, width=30, **profile) as target:
        target.write(scene)
    image = load_image(path)
    assert torch.isfinite(image).all() and image[0, 5, 7] == 0
    assert torch.allclose(image[0, 0, 0], torch.tensor(127.5)) and image[1, 5, 7] == 127.5
