"""Decompression bombs: every decoder keeps to one pixel budget, a bomb is a clear error.

The bombs are real files: a 454 KB deflate GeoTIFF of 20000 x 20000 pixels and a 200
megapixel 1-bit PNG (over Pillow's own refusal threshold), as an attacker would ship them.
"""

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.windows import Window

from rs_vlm.cli import main as rs_vlm
from rs_vlm.datasets import CaptionCSVDataset
from rs_vlm.errors import ImageTooLargeError
from rs_vlm.io.decoding import decode_image_bytes, load_image
from rs_vlm.pixel_budget import DEFAULT_MAX_IMAGE_PIXELS, max_image_pixels, reduction_factor

BOMB_SIDE = 20_000


@pytest.fixture(scope='module')
def tiff_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20000 x 20000 uint8 deflate GeoTIFF of zeros (under 0.5 MB on disk)."""
    path = tmp_path_factory.mktemp('bomb') / 'bomb.tif'
    profile = {'driver': 'GTiff', 'count': 1, 'dtype': 'uint8', 'compress': 'deflate'}
    profile |= {'tiled': True, 'blockxsize': 512, 'blockysize': 512}
    zeros = np.zeros((512, BOMB_SIDE), np.uint8)
    with rasterio.open(path, 'w', width=BOMB_SIDE, height=BOMB_SIDE, **profile) as target:
        for top in range(0, BOMB_SIDE, 512):
            rows = min(512, BOMB_SIDE - top)
            target.write(zeros[:rows], 1, window=Window(0, top, BOMB_SIDE, rows))
    assert path.stat().st_size < 1_000_000
    return path


@pytest.fixture(scope='module')
def png_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20000 x 10000 1-bit PNG: 200 megapixels, over twice Pillow's threshold."""
    path = tmp_path_factory.mktemp('bomb') / 'bomb.png'
    Image.new('1', (BOMB_SIDE, BOMB_SIDE // 2)).save(path)
    assert path.stat().st_size < 1_000_000
    return path


_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from rs_vlm.io.decoding import load_image
    from rs_vlm.errors import ImageTooLargeError

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Address-space cap: what the old float32 full decode needed (GBs) cannot be reached.
    pages = int(open('/proc/self/statm').read().split()[0])
    limit = pages * resource.getpagesize() + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    before = peak_mb()
    image = load_image(sys.argv[1], 224)
    print('shape', tuple(image.shape), float(image.max()))
    try:
        load_image(sys.argv[1])
    except ImageTooLargeError as error:
        print('refused', error)
    print('grew_mb', peak_mb() - before)
    """
)


@pytest.mark.slow
def test_tiff_bomb_decodes_reduced_with_bounded_memory(tiff_bomb: Path) -> None:
    result = subprocess.run(
        [sys.executable, '-c', _MEASURE, str(tiff_bomb)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(' ', 1) for line in result.stdout.splitlines())
    assert lines['shape'] == '(3, 224, 224) 0.0'  # all zeros, at the requested size
    assert str(tiff_bomb) in lines['refused'] and '20000 x 20000' in lines['refused']
    # A full float32 decode is 4.8 GB (the old behaviour: 7 GB peak); the reduced read holds
    # a 312 x 312 image and a 64 MB GDAL block cache.
    assert float(lines['grew_mb']) < 300


def test_png_bomb_in_a_skip_corpus_is_a_counted_skip(
    png_bomb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Image.new('RGB', (32, 24), 'red').save(tmp_path / 'good.png')
    corpus = tmp_path / 'train.csv'
    corpus.write_text(f'filepath,title\ngood.png,a red field\n{png_bomb},an empty field\n')
    dataset = CaptionCSVDataset(corpus, image_size=16, on_error='skip')
    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        assert dataset[1] is None
    assert dataset.num_skipped == 1
    assert str(png_bomb) in caplog.text and 'pixel budget' in caplog.text
    assert dataset[0]['image'].shape == (3, 16, 16)
    with pytest.raises(ImageTooLargeError, match='20000 x 10000'):
        load_image(png_bomb, 224)


def test_jpeg_decodes_at_reduced_scale_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / 'large.jpg'
    Image.new('RGB', (2000, 1500), (10, 200, 30)).save(path, quality=95)
    monkeypatch.setenv('RS_VLM_MAX_IMAGE_PIXELS', '1000000')
    assert max_image_pixels() == 1_000_000
    # 3 MP over a 1 MP budget: refused at full size, decoded at 1/4 scale (500 x 375) for 224.
    with pytest.raises(ImageTooLargeError, match='2000 x 1500 pixels is over the pixel budget'):
        load_image(path)
    image = load_image(path, 224)
    assert image.shape == (3, 224, 224)
    assert torch.allclose(image.mean(dim=(1, 2)), torch.tensor([10.0, 200.0, 30.0]), atol=3)
    with pytest.raises(ImageTooLargeError, match=r'bytes of \.jpg data'):
        decode_image_bytes(path.read_bytes(), '.jpg')


def test_multiband_tiff_reads_three_bands_at_reduced_resolution(tmp_path: Path) -> None:
    path = tmp_path / 'scene.tif'
    bands = np.stack([np.full((400, 600), value, np.uint16) for value in range(1, 14)])
    bands[3, :, :300] = 1000  # B04 (red): left half bright
    profile = {'driver': 'GTiff', 'count': 13, 'dtype': 'uint16'}
    with rasterio.open(path, 'w', width=600, height=400, **profile) as target:
        target.write(bands)
    image = load_image(path, 100)
    assert image.shape == (3, 100, 100)
    # Sentinel-2 true colour: DN x 255 / 4000, so B04 = 1000 -> 63.75 and 4 -> 0.255
    assert torch.allclose(image[0, :, :40], torch.tensor(63.75), atol=0.01)
    assert torch.allclose(image[0, :, 60:], torch.tensor(0.255), atol=0.01)
    assert torch.allclose(image[1], torch.tensor(3 * 255 / 4000), atol=0.01)  # B03
    assert reduction_factor(600, 400, 100) == 4  # read at 150 x 100, then resized


def test_budget_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS
    monkeypatch.setenv('RS_VLM_MAX_IMAGE_PIXELS', 'lots')
    with pytest.raises(ValueError, match='RS_VLM_MAX_IMAGE_PIXELS'):
        max_image_pixels()


def test_dedup_counts_a_bomb_as_an_unreadable_image(
    png_bomb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = tmp_path / 'train', tmp_path / 'test'
    train.mkdir()
    test.mkdir()
    (train / 'bomb.png').symlink_to(png_bomb)
    Image.new('RGB', (64, 64), 'blue').save(train / 'blue.png')
    Image.new('RGB', (64, 64), 'blue').save(test / 'blue.png')
    output = tmp_path / 'dropped.txt'
    argv = ['dedup', '--train', str(train), '--test', str(test), '--output', str(output)]
    assert rs_vlm([*argv, '--no-progress']) == 1
    assert 'pixel budget' in capsys.readouterr().err
    assert rs_vlm([*argv, '--no-progress', '--on-error', 'skip']) == 0
    assert output.read_text().splitlines() == [str(train / 'blue.png')]
    assert '1 unreadable images skipped' in capsys.readouterr().err


def test_convert_masks_refuses_a_bomb_mask(
    png_bomb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks = tmp_path / 'images', tmp_path / 'masks'
    images.mkdir()
    masks.mkdir()
    (masks / 'tile_label.png').symlink_to(png_bomb)
    Image.new('RGB', (40, 40)).save(images / 'tile_RGB.png')
    args = [
        'convert', '--format', 'mask', '--mask-format', 'isprs', '--annotations', str(masks),
        '--images', str(images), '--strip-suffix', '_label', '--image-suffix', '_RGB',
        '--output', str(tmp_path / 'out.csv'), '--no-progress',
    ]  # fmt: skip
    assert rs_vlm(args) == 1
    error = capsys.readouterr().err
    assert 'tile_label.png' in error and 'pixel budget' in error
