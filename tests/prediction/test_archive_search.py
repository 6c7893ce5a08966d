"""Archive search: round trips, GeoJSON footprints, refusal of another model, the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from prediction_reference import image_features, text_features
from raster_helpers import smooth_rgb, write_raster
from rasterio.warp import transform as transform_points
from shapely.geometry import Point, shape

from rs_vlm.cli import main as rs_vlm_main
from rs_vlm.models import create_clip
from rs_vlm.prediction import LoadedModel, find_images
from rs_vlm.prediction.archive_index import build_archive_index
from rs_vlm.prediction.archive_search import (
    ModelMismatchError,
    hits_to_geojson,
    load_archive_index,
    search_archive,
)

COMMON = ['--model', 'rs-vit-tiny', '--no-progress', '--num-workers', '0']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A plain open_clip state_dict of a seeded random ``rs-vit-tiny``."""
    torch.manual_seed(7)
    model = create_clip('rs-vit-tiny').eval()
    path = tmp_path_factory.mktemp('weights') / 'tiny.pt'
    torch.save(model.state_dict(), path)
    return path, model


@pytest.fixture(scope='module')
def raster_index(tmp_path_factory: pytest.TempPathFactory, tiny_model: LoadedModel) -> Path:
    folder = tmp_path_factory.mktemp('raster_index')
    raster = write_raster(folder / 'scene.tif', smooth_rgb(96, 128, seed=3))
    build_archive_index(
        folder / 'index',
        raster=raster,
        window=32,
        model_name='rs-vit-tiny',
        loaded=tiny_model,
        accelerator='cpu',
    )
    return folder / 'index'


def test_each_image_is_its_own_top_hit(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    build_archive_index(
        tmp_path / 'index', images=image_folder, model_name='rs-vit-tiny', loaded=tiny_model,
        accelerator='cpu',
    )  # fmt: skip
    archive = load_archive_index(tmp_path / 'index')
    for file in find_images(image_folder):
        hits = search_archive(archive, file, k=3, loaded=tiny_model)
        assert hits[0].path == str(file.resolve())
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [hit.rank for hit in hits] == [1, 2, 3]
    # a text query ranks by open_clip's cosine similarity
    files = find_images(image_folder)
    scores = image_features(tiny_model, files) @ text_features(tiny_model, ['a river'])[0]
    hits = search_archive(archive, 'a river', k=len(files), loaded=tiny_model)
    assert [hit.path for hit in hits] == [
        str(files[i].resolve()) for i in scores.argsort(descending=True)
    ]
    np.testing.assert_allclose(
        [hit.score for hit in hits], scores.sort(descending=True).values, atol=1e-5
    )


def test_raster_window_is_its_own_top_hit_and_geojson_contains_the_tile_centres(
    tmp_path: Path, tiny_model: LoadedModel, raster_index: Path
) -> None:
    archive = load_archive_index(raster_index)
    source = archive.manifest['source']
    with rasterio.open(source['rasters'][0]) as raster:
        pixels = raster.read()
        crs, transform = raster.crs, raster.transform
    row, col = (int(v) for v in archive.windows[5])
    query = Image.fromarray(pixels[:, row : row + 32, col : col + 32].transpose(1, 2, 0))
    hits = search_archive(archive, query, k=12, loaded=tiny_model)
    assert hits[0].item == 5
    collection = hits_to_geojson(archive, hits)
    assert collection['type'] == 'FeatureCollection' and len(collection['features']) == 12
    for hit, feature in zip(hits, collection['features'], strict=True):
        r, c = (int(v) for v in archive.windows[hit.item])
        x, y = transform @ (c + 16, r + 16)
        (lon,), (lat,) = transform_points(crs, 'EPSG:4326', [x], [y])
        polygon = shape(feature['geometry'])
        assert polygon.contains(Point(lon, lat))
        assert -82 < lon < -80 and 29 < lat < 30  # UTM 17N near the NEON site
        assert feature['properties']['rank'] == hit.rank
        # the footprint holds no other tile centre (tiles touch but do not overlap)
        others = [archive.windows[i] for i in range(len(archive.windows)) if i != hit.item]
        centres = [transform @ (int(oc) + 16, int(orow) + 16) for orow, oc in others]
        lons, lats = transform_points(crs, 'EPSG:4326', *zip(*centres, strict=True))
        assert not any(polygon.contains(Point(a, b)) for a, b in zip(lons, lats, strict=True))


def test_query_with_another_model_is_refused(
    tmp_path: Path, checkpoint: tuple[Path, torch.nn.Module], image_folder: Path
) -> None:
    path, model = checkpoint
    build_archive_index(
        tmp_path / 'index', images=image_folder, model_name='rs-vit-tiny', checkpoint=path,
        accelerator='cpu',
    )  # fmt: skip
    with pytest.raises(
        ModelMismatchError,
        match=r'built with rs-vit-tiny with .*tiny\.pt.*query model is rs-vit-demo',
    ):
        search_archive(tmp_path / 'index', 'a farm', model_name='rs-vit-demo')
    other = tmp_path / 'other.pt'
    torch.manual_seed(8)
    torch.save(create_clip('rs-vit-tiny').state_dict(), other)
    with pytest.raises(ModelMismatchError, match=r'other\.pt'):
        search_archive(tmp_path / 'index', 'a farm', checkpoint=other)
    with pytest.raises(ModelMismatchError):
        search_archive(tmp_path / 'index', np.ones(64, dtype=np.float32), checkpoint=other)
    # the stored checkpoint changed on disk since the index was built
    hits = search_archive(tmp_path / 'index', 'a farm', k=2)
    assert len(hits) == 2
    torch.save(create_clip('rs-vit-tiny').state_dict(), path)
    with pytest.raises(ModelMismatchError, match='has changed since'):
        search_archive(tmp_path / 'index', 'a farm')
    torch.save(model.state_dict(), path)


def test_random_weight_index_needs_the_model(tmp_path: Path, raster_index: Path) -> None:
    with pytest.raises(ValueError, match='random weights'):
        search_archive(raster_index, 'a lake')
    hits = search_archive(raster_index, np.ones(64, dtype=np.float32), k=4)
    assert len(hits) == 4 and all(hit.bounds is not None for hit in hits)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = rs_vlm_main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_cli_map_index_search_round_trip(
    tmp_path: Path,
    checkpoint: tuple[Path, torch.nn.Module],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = checkpoint
    weights = ['--checkpoint', str(path)]
    raster = write_raster(tmp_path / 'scene.tif', smooth_rgb(64, 96, seed=9))
    code, out, err = _run(
        ['predict', 'map', *COMMON, *weights, '--raster', str(raster), '--classes', 'a,b',
         '--window', '32', '--output', str(tmp_path / 'map.tif')], capsys,
    )  # fmt: skip
    assert code == 0, err
    assert 'wrote' in out and (tmp_path / 'map.tif').is_file()
    code, out, err = _run(
        ['predict', 'index', *COMMON, *weights, '--raster', str(raster), '--window', '32',
         '--device', 'cpu', '--output', str(tmp_path / 'index')], capsys,
    )  # fmt: skip
    assert code == 0, err
    assert 'indexed 6 vectors' in out
    monkeypatch.chdir(tmp_path / 'index')  # searches work from any folder
    code, out, err = _run(
        ['predict', 'search', '--index', '.', '--query', 'a lake', '--k', '3',
         '--geojson', str(tmp_path / 'hits.geojson')], capsys,
    )  # fmt: skip
    assert code == 0, err
    assert len(out.strip().splitlines()) == 4  # three hits and the 'wrote' line
    collection = json.loads((tmp_path / 'hits.geojson').read_text())
    assert len(collection['features']) == 3
    code, out, err = _run(
        ['predict', 'search', '--index', '.', '--query', 'a lake', '--model', 'rs-vit-demo'],
        capsys,
    )
    assert code == 1 and 'query model is rs-vit-demo' in err


@pytest.mark.slow
def test_cli_search_of_an_embeddings_file_from_another_folder(
    tmp_path: Path,
    checkpoint: tuple[Path, torch.nn.Module],
    image_folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = checkpoint
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'tiny.pt').write_bytes(path.read_bytes())
    monkeypatch.chdir(work)
    code, _, err = _run(
        ['predict', 'embed', *COMMON, '--checkpoint', 'tiny.pt', '--images', str(image_folder),
         '--output', str(tmp_path / 'emb.npz')], capsys,
    )  # fmt: skip
    assert code == 0, err
    monkeypatch.chdir(tmp_path)  # the relative 'tiny.pt' no longer resolves from here
    image = find_images(image_folder)[2]
    code, out, err = _run(
        ['predict', 'search', '--embeddings', str(tmp_path / 'emb.npz'), '--image', str(image),
         '--k', '2'], capsys,
    )  # fmt: skip
    assert code == 0, err
    first = out.splitlines()[0].split('\t')
    assert first[2:] == ['image', image.relative_to(image_folder).as_posix()]
    assert float(first[1]) == pytest.approx(1, abs=1e-4)


def test_cli_search_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(['predict', 'search', '--index', str(tmp_path), '--query', 'x'], capsys)
    assert code == 1 and 'no manifest.json' in err
    with pytest.raises(SystemExit):
        rs_vlm_main(['predict', 'search', '--index', 'a', '--embeddings', 'b', '--query', 'x'])
    with pytest.raises(SystemExit):
        rs_vlm_main(
            ['predict', 'search', '--embeddings', 'b', '--query', 'x', '--geojson', 'h.geojson']
        )


def test_index_of_released_weights_reloads_them_by_name(
    raster_index: Path, tiny_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rs_vlm.prediction.archive_search as archive_search

    archive = load_archive_index(raster_index)
    archive.manifest = {**archive.manifest, 'model': 'RemoteCLIP-ViT-B-32'}
    calls = []

    def fake_load(model_name, checkpoint=None, device='cpu', **options):
        calls.append((model_name, checkpoint))
        return tiny_model

    monkeypatch.setattr(archive_search, 'load_for_prediction', fake_load)
    hits = search_archive(archive, 'a harbour', k=2)
    assert calls == [('RemoteCLIP-ViT-B-32', None)] and len(hits) == 2
    with pytest.raises(ModelMismatchError, match='RemoteCLIP-ViT-B-32 with its released weights'):
        search_archive(archive, 'a harbour', model_name='RemoteCLIP-RN50')
