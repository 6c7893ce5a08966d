"""Window grids, band choice and stretch on real Sentinel-2 band files (BigEarthNet)."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from raster_helpers import smooth_rgb, write_raster

from rs_vlm.errors import InputError
from rs_vlm.io.decoding import stretch_to_uint8_range
from rs_vlm.prediction.raster_windows import (
    RasterStack,
    default_bands,
    parse_band_list,
    window_offsets,
)

PATCH = 'bigearthnet_common/BigEarthNet-S2-Example/S2A_MSIL2A_20170613T101031_87_48'


def _band(real_fixtures: Path, name: str) -> Path:
    folder = real_fixtures / PATCH
    return folder / f'{folder.name}_{name}.tif'


@pytest.mark.parametrize(('size', 'window', 'stride'), [(10, 4, 3), (224, 224, 112), (97, 32, 16)])
def test_windows_cover_every_pixel(size: int, window: int, stride: int) -> None:
    offsets = window_offsets(size, window, stride)
    covered = np.zeros(size, dtype=int)
    for offset in offsets:
        covered[offset : offset + window] += 1
    assert covered.min() >= 1
    assert offsets[0] == 0 and offsets[-1] == size - window
    assert all(b - a <= stride for a, b in itertools.pairwise(offsets))


def test_window_grid_errors() -> None:
    with pytest.raises(ValueError, match='larger than the raster'):
        window_offsets(100, 101, 50)
    with pytest.raises(ValueError, match='would leave pixels unmapped'):
        window_offsets(100, 10, 11)
    with pytest.raises(ValueError, match='must be >= 1'):
        window_offsets(100, 10, 0)


def test_band_lists() -> None:
    assert default_bands(13) == default_bands(12) == (4, 3, 2)  # Sentinel-2 B04, B03, B02
    assert default_bands(1) == (1, 1, 1)
    assert default_bands(4) == (1, 2, 3)
    assert parse_band_list(' 8, 4,3') == (8, 4, 3)
    for bad in ('4,3', '4,x,2', '0,1,2', '4,3,2,1'):
        with pytest.raises(ValueError, match='--bands'):
            parse_band_list(bad)


def test_sentinel2_band_files_stack_and_stretch_as_the_datasets(real_fixtures: Path) -> None:
    files = [_band(real_fixtures, name) for name in ('B04', 'B03', 'B02')]
    with RasterStack(files) as stack:
        assert (stack.width, stack.height, stack.count) == (120, 120, 3)
        assert stack.dtype == np.uint16
        assert stack.crs is not None and stack.crs.to_epsg() is not None
        pixels, valid = stack.read_display()
    import rasterio

    for band, path in zip(pixels, files, strict=True):
        with rasterio.open(path) as source:
            expected = stretch_to_uint8_range(source.read(1))
        np.testing.assert_allclose(band, expected, atol=1e-3)
    assert valid.all()


def test_band_files_on_other_grids_are_refused(real_fixtures: Path) -> None:
    # B05 is a 20 m band (60 x 60 px); B04 is 10 m (120 x 120 px)
    files = [_band(real_fixtures, 'B04'), _band(real_fixtures, 'B05')]
    with pytest.raises(InputError, match=r'B05\.tif: not on the grid of .*B04\.tif \(60x60'):
        RasterStack(files)


def test_single_band_raster_is_read_as_grey(tmp_path: Path) -> None:
    grey = smooth_rgb(20, 30)[:1]
    with RasterStack(write_raster(tmp_path / 'grey.tif', grey)) as stack:
        pixels, _ = stack.read_display()
    assert stack.bands == (1, 1, 1)
    np.testing.assert_array_equal(pixels, np.repeat(grey, 3, axis=0).astype(np.float32))
