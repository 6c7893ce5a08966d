"""Archive index: Trainer.predict shards, FAISS index folder, resume, refusal of other inputs."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from prediction_reference import image_features
from raster_helpers import smooth_rgb, write_raster

from rs_vlm.errors import InputError
from rs_vlm.prediction import LoadedModel, find_images
from rs_vlm.prediction.archive_index import build_archive_index, checkpoint_sha256
from rs_vlm.prediction.archive_search import load_archive_index


def _index(output: Path, model: LoadedModel, **options) -> object:
    settings = {'model_name': 'rs-vit-tiny', 'loaded': model, 'accelerator': 'cpu'}
    settings.update(options)
    return build_archive_index(output, **settings)


def test_image_index_holds_the_images_features(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    info = _index(tmp_path / 'index', tiny_model, images=image_folder, batch_size=2)
    files = find_images(image_folder)
    assert info.count == len(files) and info.index_type == 'flat'
    archive = load_archive_index(tmp_path / 'index')
    assert archive.paths == [str(path.resolve()) for path in files]
    manifest = json.loads((tmp_path / 'index' / 'manifest.json').read_text())
    assert manifest['model'] == 'rs-vit-tiny' and manifest['checkpoint'] == ''
    assert manifest['source'] == {'kind': 'images', 'count': len(files)}
    # the stored vectors are open_clip's features of the files, in item order
    stored = archive.index.reconstruct_n(0, archive.index.ntotal)[np.argsort(archive.ids)]
    np.testing.assert_allclose(stored, image_features(tiny_model, files).numpy(), atol=1e-5)
    shards = sorted((tmp_path / 'index' / 'shards').glob('rank0-*.npz'))
    assert shards  # the embeddings stay on disk in shards beside the index


def test_raster_index_windows_and_georeference(tmp_path: Path, tiny_model: LoadedModel) -> None:
    raster = write_raster(tmp_path / 'scene.tif', smooth_rgb(64, 80))
    _index(tmp_path / 'index', tiny_model, raster=raster, window=32, stride=24)
    archive = load_archive_index(tmp_path / 'index')
    rows, cols = [0, 24, 32], [0, 24, 48]
    np.testing.assert_array_equal(archive.windows, [(r, c) for r in rows for c in cols])
    with rasterio.open(raster) as source:
        assert archive.manifest['source']['crs'] == source.crs.to_wkt()
        left, top = source.transform @ (24, 32)
        assert archive.window_bounds(
            int(np.flatnonzero((archive.windows == (32, 24)).all(1))[0])
        ) == (
            pytest.approx(left),
            pytest.approx(top - 32),
            pytest.approx(left + 32),
            pytest.approx(top),
        )


def test_resume_encodes_only_missing_items(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rs_vlm.prediction.archive_index as archive_index

    monkeypatch.setattr(archive_index, 'SHARD_SIZE', 2)  # a shard every two images
    output = tmp_path / 'index'
    first = _index(output, tiny_model, images=image_folder, batch_size=2)
    # an interrupted run: the last shard and everything after the shards are gone
    for name in ('manifest.json', 'index.faiss', 'ids.npy', 'paths.txt'):
        (output / name).unlink()
    sorted((output / 'shards').glob('rank0-*.npz'))[-1].unlink()
    second = _index(output, tiny_model, images=image_folder, batch_size=2)
    assert second.resumed == first.count - 1  # 5 images, shards of 2: the last held one
    assert second.count == first.count
    archive = load_archive_index(output)
    assert sorted(archive.ids.tolist()) == list(range(first.count))


def test_unfinished_index_of_other_inputs_is_refused(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    output = tmp_path / 'index'
    _index(output, tiny_model, images=image_folder)
    with pytest.raises(InputError, match='already holds a finished index'):
        _index(output, tiny_model, images=image_folder)
    (output / 'manifest.json').unlink()
    with pytest.raises(InputError, match='an unfinished build'):
        load_archive_index(output)
    with pytest.raises(InputError, match=r'plan.json.*differs in count, items'):
        _index(output, tiny_model, images=image_folder / 'sub')


def test_bad_raster_input(tmp_path: Path, tiny_model: LoadedModel) -> None:
    raster = write_raster(tmp_path / 'scene.tif', smooth_rgb(40, 40))
    with pytest.raises(InputError, match='larger than the raster'):
        _index(tmp_path / 'a', tiny_model, raster=raster, window=64)
    with pytest.raises(InputError, match='band 7 does not exist'):
        _index(tmp_path / 'b', tiny_model, raster=raster, window=32, bands=(7, 1, 1))
    assert not (tmp_path / 'a').exists() and not (tmp_path / 'b').exists()


def test_unreadable_image_raises_or_is_skipped(tmp_path: Path, tiny_model: LoadedModel) -> None:
    folder = tmp_path / 'images'
    folder.mkdir()
    write_raster(folder / 'good.tif', smooth_rgb(40, 40), crs=None, transform=None)
    (folder / 'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    with pytest.raises(InputError, match=r'bad\.png: cannot read image'):
        _index(tmp_path / 'a', tiny_model, images=folder)
    info = _index(tmp_path / 'b', tiny_model, images=folder, on_error='skip')
    assert info.count == 1 and info.skipped[0][0].endswith('bad.png')


def test_checkpoint_identity_is_stored(tmp_path: Path, tiny_model: LoadedModel) -> None:
    weights = tmp_path / 'w.bin'
    weights.write_bytes(b'abc')
    assert checkpoint_sha256(weights) == (
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'  # sha256('abc')
    )
    assert checkpoint_sha256(None) == ''


def test_damaged_index_folders_are_reported(
    tmp_path: Path, tiny_model: LoadedModel, image_folder: Path
) -> None:
    output = tmp_path / 'index'
    _index(output, tiny_model, images=image_folder)
    manifest = (output / 'manifest.json').read_text()
    (output / 'manifest.json').write_text('{"format": "rs-vlm-archive-index/1", ')
    with pytest.raises(InputError, match=r'manifest\.json, line 1: not valid JSON'):
        load_archive_index(output)
    (output / 'manifest.json').write_text(json.dumps({'format': 'something-else'}))
    with pytest.raises(InputError, match="key 'format': expected format"):
        load_archive_index(output)
    (output / 'manifest.json').write_text(manifest)
    (output / 'index.faiss').write_bytes((output / 'index.faiss').read_bytes()[:100])
    with pytest.raises(InputError, match=r'index\.faiss: unreadable FAISS index'):
        load_archive_index(output)
    with pytest.raises(InputError, match='no such index folder'):
        load_archive_index(tmp_path / 'missing')
