"""Scene maps: georeference kept, every pixel covered, probabilities, nodata, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from prediction_reference import image_features, text_features, zero_shot_probabilities
from raster_helpers import write_raster

from rs_vlm.datasets.scene_classes import DEFAULT_TEMPLATES
from rs_vlm.errors import InputError
from rs_vlm.prediction import LoadedModel
from rs_vlm.prediction.scene_map import map_scene, tent_weights

CLASSES = ['forest', 'river', 'farmland']


def _map(raster: Path | list[Path], output: Path, model: LoadedModel, **options) -> object:
    settings = {'classes': CLASSES, 'model_name': 'rs-vit-tiny', 'loaded': model}
    settings.update(window=32, stride=16, device='cpu')
    settings.update(options)
    return map_scene(raster, output, **settings)


def _smooth(height: int, width: int, seed: int = 0) -> np.ndarray:
    from raster_helpers import smooth_rgb

    return smooth_rgb(height, width, seed)


def test_georeference_coverage_and_probabilities(tmp_path: Path, tiny_model: LoadedModel) -> None:
    raster = write_raster(tmp_path / 'scene.tif', _smooth(70, 90))
    result = _map(raster, tmp_path / 'map.tif', tiny_model)
    with rasterio.open(raster) as source, rasterio.open(result.path) as out:
        assert out.crs == source.crs
        assert out.transform == source.transform
        assert out.bounds == source.bounds
        assert (out.width, out.height) == (90, 70)
        assert out.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        assert out.descriptions == ('class', 'p(forest)', 'p(river)', 'p(farmland)')
        assert json.loads(out.tags()['classes']) == CLASSES
        bands = out.read()
    # every pixel is covered: no nodata anywhere on a raster without nodata
    assert not np.isnan(bands).any()
    np.testing.assert_allclose(bands[1:].sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(bands[0], bands[1:].argmax(axis=0))
    # 70 and 90 are not multiples of the stride: one extra window flush with each edge
    assert result.windows == len([0, 16, 32, 38]) * len([0, 16, 32, 48, 58])


def test_non_overlapping_windows_equal_classify_of_each_window(
    tmp_path: Path, tiny_model: LoadedModel
) -> None:
    # window == stride == the model's 32 px input: each pixel holds its window's probabilities,
    # which must equal open_clip's classifier on that window saved as an image.
    pixels = _smooth(64, 96, seed=4)
    raster = write_raster(tmp_path / 'scene.tif', pixels)
    result = _map(raster, tmp_path / 'map.tif', tiny_model, stride=32)
    files = []
    for row in (0, 32):
        for col in (0, 32, 64):
            path = tmp_path / f'w{row}_{col}.png'
            Image.fromarray(pixels[:, row : row + 32, col : col + 32].transpose(1, 2, 0)).save(path)
            files.append(path)
    expected = zero_shot_probabilities(tiny_model, files, CLASSES, list(DEFAULT_TEMPLATES))
    with rasterio.open(result.path) as out:
        bands = out.read()
    for path, probabilities in zip(files, expected, strict=True):
        row, col = (int(v) for v in path.stem[1:].split('_'))
        window = bands[1:, row : row + 32, col : col + 32].reshape(len(CLASSES), -1)
        np.testing.assert_allclose(window.T, probabilities[None].expand(1024, -1), atol=2e-5)


def test_query_heatmap_is_the_cosine_similarity(tmp_path: Path, tiny_model: LoadedModel) -> None:
    pixels = _smooth(32, 64, seed=2)
    raster = write_raster(tmp_path / 'scene.tif', pixels)
    result = _map(
        raster, tmp_path / 'heat.tif', tiny_model, classes=None, query='a lake', stride=32
    )
    path = tmp_path / 'left.png'
    Image.fromarray(pixels[:, :, :32].transpose(1, 2, 0)).save(path)
    expected = float(
        image_features(tiny_model, [path])[0] @ text_features(tiny_model, ['a lake'])[0]
    )
    with rasterio.open(result.path) as out:
        assert out.count == 1 and out.descriptions == ('similarity',)
        assert out.tags()['query'] == 'a lake'
        heat = out.read(1)
    np.testing.assert_allclose(heat[:, :32], expected, atol=2e-5)


def test_nodata_is_honoured(tmp_path: Path, tiny_model: LoadedModel) -> None:
    pixels = _smooth(64, 96, seed=1)
    pixels[:, :32, :32] = 0  # one whole window of nodata
    pixels[1, 50, 70] = 0  # one pixel nodata in one band only
    raster = write_raster(tmp_path / 'scene.tif', pixels, nodata=0)
    result = _map(raster, tmp_path / 'map.tif', tiny_model, stride=32)
    with rasterio.open(result.path) as out:
        assert np.isnan(out.nodata)
        bands = out.read()
    expected_nodata = (pixels == 0).any(axis=0)
    for band in bands:
        np.testing.assert_array_equal(np.isnan(band), expected_nodata)
    assert result.encoded == result.windows - 1  # the all-nodata window is not encoded


def test_band_stack_of_single_band_files(tmp_path: Path, tiny_model: LoadedModel) -> None:
    pixels = _smooth(32, 64, seed=5)
    stacked = write_raster(tmp_path / 'rgb.tif', pixels)
    files = [write_raster(tmp_path / f'b{i}.tif', pixels[i : i + 1]) for i in range(3)]
    one = _map(stacked, tmp_path / 'one.tif', tiny_model)
    # the same bands from three files, given in the order blue, green, red with --bands 3,2,1
    three = _map(files[::-1], tmp_path / 'three.tif', tiny_model, bands=(3, 2, 1))
    with rasterio.open(one.path) as a, rasterio.open(three.path) as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_raster_without_crs_maps_in_pixel_space_with_a_warning(
    tmp_path: Path, tiny_model: LoadedModel
) -> None:
    raster = write_raster(tmp_path / 'plain.tif', _smooth(32, 48), crs=None, transform=None)
    with pytest.warns(UserWarning, match='no CRS'):
        result = _map(raster, tmp_path / 'map.tif', tiny_model)
    assert result.crs == ''
    with rasterio.open(result.path) as out:
        assert out.crs is None
        assert out.transform == rasterio.Affine.identity()


def _only(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_bad_input_leaves_nothing_written(tmp_path: Path, tiny_model: LoadedModel) -> None:
    raster = write_raster(tmp_path / 'scene.tif', _smooth(40, 50))
    out = tmp_path / 'out'
    out.mkdir()
    with pytest.raises(InputError, match='window 64 px is larger than the raster'):
        _map(raster, out / 'map.tif', tiny_model, window=64)
    with pytest.raises(InputError, match=r"key 'bands': band 4 does not exist.*3 band"):
        _map(raster, out / 'map.tif', tiny_model, bands=(4, 3, 2))
    with pytest.raises(ValueError, match='is the input raster'):
        _map(raster, raster, tiny_model)
    with pytest.raises(InputError, match='no such raster file'):
        _map(tmp_path / 'missing.tif', out / 'map.tif', tiny_model)
    (tmp_path / 'notes.tif').write_text('not a raster', encoding='utf-8')
    with pytest.raises(InputError, match='cannot open as a raster'):
        _map(tmp_path / 'notes.tif', out / 'map.tif', tiny_model)
    assert _only(out) == []


def test_interrupted_map_leaves_no_file(
    tmp_path: Path, tiny_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    raster = write_raster(tmp_path / 'scene.tif', _smooth(64, 64))
    out = tmp_path / 'out'
    out.mkdir()
    calls = {'n': 0}
    encode = tiny_model[0].encode_image

    def failing(pixels: torch.Tensor) -> torch.Tensor:
        calls['n'] += 1
        if calls['n'] == 2:
            raise RuntimeError('device lost')
        return encode(pixels)

    monkeypatch.setattr(tiny_model[0], 'encode_image', failing)
    with pytest.raises(RuntimeError, match='device lost'):
        _map(raster, out / 'map.tif', tiny_model, batch_size=2)
    assert _only(out) == []


def test_tent_weights_are_positive_and_peak_in_the_centre() -> None:
    weights = tent_weights(7)
    assert weights.min() > 0
    assert weights[3, 3] == weights.max() == pytest.approx(1.0)
    np.testing.assert_allclose(weights, weights.T)
    np.testing.assert_allclose(weights, weights[::-1, ::-1])
