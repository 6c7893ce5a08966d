"""`rs-vlm prepare` on a data root laid out from the real fixtures in the release layouts,
then `rs-vlm fit` with a recipe config on what it wrote."""

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

import rs_vlm.conversion.prepare as prepare_module
from rs_vlm.cli import main as rs_vlm
from rs_vlm.conversion.prepare import prepare_corpora
from rs_vlm.datamodules.corpus_files import open_caption_corpus, read_mixture_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: eo-learn's land-cover enum -> LoveDA ids (0 no data, 2 building, 6 forest, 7 agriculture).
EOLEARN_TO_LOVEDA = {0: 0, 1: 7, 2: 6, 3: 7, 4: 6, 8: 2}
RSSCN7_FOLDERS = ('aGrass', 'bField', 'cIndustry', 'dRiverLake', 'eForest', 'fResident', 'gParking')


def _noise_image(path: Path, seed: int, size: int = 48) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size // 8, size // 8, 3), np.uint8)
    Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST).save(path)


def _precomp_subset(
    source: Path, target: Path, split: str, images: int, per_caption: bool
) -> list[str]:
    """The first ``images`` images of a precomp split, with small images the test makes."""
    names = (source / f'{split}_filename.txt').read_text().splitlines()
    captions = (source / f'{split}_caps.txt').read_text().splitlines()
    kept_names = names[: images * 5] if per_caption else names[:images]
    (target / f'{split}_filename.txt').write_text('\n'.join(kept_names) + '\n')
    (target / f'{split}_caps.txt').write_text('\n'.join(captions[: images * 5]) + '\n')
    return list(dict.fromkeys(kept_names))


def lay_out_data_root(fixtures: Path, root: Path) -> dict[str, object]:
    """DOTA, DIOR, a LoveDA tile, RSICD/UCM-Captions and RS2800 in their release layouts."""
    dota = root / 'DOTA' / 'train'
    (dota / 'labelTxt').mkdir(parents=True)
    (dota / 'images').mkdir()
    for label in sorted((fixtures / 'dota_devkit' / 'labelTxt').glob('*.txt')):
        os.symlink(label, dota / 'labelTxt' / label.name)
    for image in sorted((fixtures / 'dota_devkit' / 'images').glob('*.png')):
        os.symlink(image, dota / 'images' / image.name)

    dior = root / 'DIOR'
    (dior / 'Annotations' / 'Horizontal Bounding Boxes').mkdir(parents=True)
    (dior / 'JPEGImages-trainval').mkdir()
    xml = fixtures / 'dior_rsvg_mmrotate' / 'rsvg_00001.xml'
    os.symlink(xml, dior / 'Annotations' / 'Horizontal Bounding Boxes' / '00001.xml')
    os.symlink(
        fixtures / 'dior_rsvg_mmrotate' / 'dior_00001.jpg',
        dior / 'JPEGImages-trainval' / '00001.jpg',
    )

    # The eo-learn land-cover mask as a LoveDA tile; its image the 13-band Sentinel-2 scene.
    tile = root / 'LoveDA' / 'Train' / 'Rural'
    (tile / 'masks_png').mkdir(parents=True)
    (tile / 'images_png').mkdir()
    mask = np.load(fixtures / 'eolearn' / 'LULC.npy')[..., 0]
    loveda = np.vectorize(EOLEARN_TO_LOVEDA.get)(mask).astype(np.uint8)
    Image.fromarray(loveda).save(tile / 'masks_png' / '2.png')
    scene = np.load(fixtures / 'eolearn' / 'REFERENCE_SCENES.npy')[2].transpose(2, 0, 1)
    profile = {'driver': 'GTiff', 'width': 100, 'height': 101, 'count': 13, 'dtype': 'float32'}
    with rasterio.open(tile / 'images_png' / '2.tif', 'w', **profile) as dataset:
        dataset.write(scene)

    made: dict[str, object] = {'loveda_classes': sorted(set(loveda.ravel().tolist()) - {0})}
    captions = fixtures / 'captions'
    for folder, precomp, per_caption in (
        ('RSICD', 'rsicd_precomp', False),
        ('UCM-Captions', 'ucm_precomp_pe_rsitr', False),
    ):
        target = root / folder
        (target / 'images').mkdir(parents=True)
        train = _precomp_subset(captions / precomp, target, 'train', 10, per_caption)
        test = _precomp_subset(captions / precomp, target, 'test', 6, True)
        for seed, name in enumerate(train + test):
            _noise_image(target / 'images' / name, seed + 1000 * len(folder))  # 5000.., 12000..
        made[folder] = (train, test)
    # One RSICD training image is a copy of a UCM test image: dedup must drop it.
    ucm_test = made['UCM-Captions'][1]  # type: ignore[index]
    rsicd_train = made['RSICD'][0]  # type: ignore[index]
    shutil.copy(
        root / 'UCM-Captions' / 'images' / ucm_test[0], root / 'RSICD' / 'images' / rsicd_train[3]
    )
    made['duplicate'] = rsicd_train[3]

    scenes = root / 'RS2800'
    for index, folder in enumerate(RSSCN7_FOLDERS):
        (scenes / folder).mkdir(parents=True)
        for i in range(5):
            _noise_image(scenes / folder / f'{folder[0]}{i:03d}.jpg', 20000 + 10 * index + i)
    return made


@pytest.fixture
def data_root(real_fixtures: Path, tmp_path: Path) -> tuple[Path, dict[str, object]]:
    root = tmp_path / 'data'
    return root, lay_out_data_root(real_fixtures, root)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle, delimiter='\t'))


def test_prepare_writes_corpora_manifest_and_table(
    data_root: tuple[Path, dict[str, object]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, made = data_root
    output = tmp_path / 'corpora'
    args = ['prepare', '--data-root', str(root), '--output', str(output), '--no-progress']
    assert rs_vlm([*args, '--workers', '2']) == 0
    printed = capsys.readouterr().out
    entries = {e.name: e for e in read_mixture_manifest(output / 'mixture.json')}
    assert set(entries) == {'rsicd', 'ucm_captions', 'dota', 'dior', 'loveda'}

    # DOTA: 7 label files, images shipped for P0706 and P1888 only.
    dota = json.loads((output / 'dota.tsv.summary.json').read_text())
    assert dota['images'] == 2 and dota['skipped'] == {'image not found': 5}
    dota_rows = _rows(output / 'dota.tsv')
    assert {Path(r['filepath']).name for r in dota_rows} == {'P0706.png', 'P1888.png'}
    assert all(Path(r['filepath']).is_absolute() for r in dota_rows)
    p0706 = ' '.join(r['title'] for r in dota_rows if r['filepath'].endswith('P0706.png'))
    assert 'ship' in p0706 and 'harbor' in p0706  # 531 ships + 5 harbors in the label file

    assert [Path(r['filepath']).name for r in _rows(output / 'dior.tsv')] == ['00001.jpg'] * 5
    assert 'golf field' in _rows(output / 'dior.tsv')[0]['title'].lower()
    loveda = _rows(output / 'loveda.tsv')
    assert len(loveda) == 5 and loveda[0]['filepath'].endswith('2.tif')
    loveda_text = ' '.join(r['title'] for r in loveda).lower()
    assert 'building' in loveda_text and 'forest' in loveda_text

    # RET-3: captions as given; the RSICD copy of a UCM test image is dropped as a duplicate.
    rsicd = json.loads((output / 'rsicd.tsv.summary.json').read_text())
    assert rsicd['images'] == 9 and rsicd['skipped'] == {'near-duplicate of a test image': 1}
    assert made['duplicate'] not in {Path(r['filepath']).name for r in _rows(output / 'rsicd.tsv')}
    train_caps = (root / 'RSICD' / 'train_caps.txt').read_text().splitlines()
    assert _rows(output / 'rsicd.tsv')[0]['title'] == train_caps[0].strip()
    assert entries['ucm_captions'].images == 10

    # The table beside Table I, and where each missing source belongs.
    assert '| DET-10 | DOTA | 2 | 10 | 0 | 5 | 1,409 | converted |' in printed
    assert '| RET-3 | RSICD | 9 | 45 | 1 | 0 | 8,483 | converted |' in printed
    assert 'Potsdam: expected Potsdam/5_Labels_all' in printed
    assert (output / 'summary.md').read_text() in printed

    # Every corpus reads through the datamodules' reader.
    for entry in entries.values():
        corpus = open_caption_corpus(entry.path, mode='retrieval', image_size=32)
        assert len(corpus) == entry.images and len(corpus.captions) == entry.captions
        assert corpus[0]['image'].shape == (3, 32, 32)

    # Unchanged inputs: every source is reused; touching one DOTA label converts DOTA again.
    before = (output / 'dota.tsv').stat().st_mtime_ns

    def no_hashing(*args: object) -> None:
        raise AssertionError('unchanged inputs were hashed again')

    with monkeypatch.context() as patch:
        patch.setattr(prepare_module, '_hash_images', no_hashing)
        result = prepare_corpora(root, output, progress=False)
    assert {r.status for r in result.sources if r.corpus} == {'reused'}
    assert (output / 'dota.tsv').stat().st_mtime_ns == before
    label = root / 'DOTA' / 'train' / 'labelTxt' / 'P0706.txt'
    lines = label.read_text().splitlines()
    label.unlink()
    label.write_text('\n'.join(line for line in lines if 'harbor' not in line) + '\n')
    result = prepare_corpora(root, output, progress=False)
    statuses = {r.source.name: r.status for r in result.sources if r.corpus}
    assert statuses['dota'] == 'converted' and statuses['dior'] == 'reused'
    p0706 = ' '.join(r['title'] for r in _rows(output / 'dota.tsv') if 'P0706' in r['filepath'])
    assert 'harbor' not in p0706


def test_prepare_refuses_bad_roots(tmp_path: Path) -> None:
    assert (
        rs_vlm(['prepare', '--data-root', str(tmp_path / 'none'), '--output', str(tmp_path)]) == 1
    )
    (tmp_path / 'data').mkdir()
    assert (
        rs_vlm(['prepare', '--data-root', str(tmp_path / 'data'), '--output', str(tmp_path)]) == 1
    )
    # An empty data root: nothing found, every source listed with its expected place.
    out = tmp_path / 'out'
    assert rs_vlm(['prepare', '--data-root', str(tmp_path / 'data'), '--output', str(out)]) == 1


@pytest.mark.slow
def test_prepare_then_fit_logs_zero_shot_and_retrieval(
    data_root: tuple[Path, dict[str, object]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the recipe's defaults: data/ and corpora/mixture.json here
    assert rs_vlm(['prepare', '--data-root', 'data', '--output', 'corpora', '--no-progress']) == 0
    logs = tmp_path / 'logs'
    code = rs_vlm(
        [
            'fit',
            '--config',
            str(REPO_ROOT / 'configs' / 'rn50.yaml'),
            '--data.init_args.data_root=data',
            '--model.init_args.model_name=rs-vit-tiny',
            '--model.init_args.pretrained=null',
            '--data.init_args.batch_size=4',
            '--data.init_args.num_workers=0',
            '--data.init_args.samples_per_epoch=12',
            '--trainer.max_epochs=1',
            '--trainer.max_steps=3',
            '--trainer.accelerator=cpu',
            '--trainer.devices=1',
            '--trainer.precision=32-true',
            '--trainer.num_sanity_val_steps=0',
            '--trainer.log_every_n_steps=1',
            f'--trainer.default_root_dir={logs}',
            '--trainer.logger=lightning.pytorch.loggers.CSVLogger',
            f'--trainer.logger.init_args.save_dir={logs}',
        ]
    )
    assert code == 0
    [metrics_file] = logs.rglob('metrics.csv')
    with open(metrics_file, newline='') as handle:
        rows = list(csv.DictReader(handle))
    logged = {key for row in rows for key, value in row.items() if value}
    for name in ('RSICD', 'UCM-Captions'):
        assert f'val/{name}/mean_recall' in logged
    assert any(key.startswith('val/RS2800/') for key in logged)
    values = [
        float(row['val/RSICD/mean_recall']) for row in rows if row.get('val/RSICD/mean_recall')
    ]
    assert len(values) == 1 and 0 <= values[0] <= 100


def test_a_failing_source_is_reported_and_the_others_still_prepared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / 'data'
    dota = root / 'DOTA' / 'val'
    (dota / 'labelTxt').mkdir(parents=True)
    (dota / 'images').mkdir()
    Image.new('RGB', (64, 64)).save(dota / 'images' / 'P1.png')
    (dota / 'labelTxt' / 'P1.txt').write_text('1 2 3 plane\n')  # 4 fields, not 9 or 10
    hrsc = root / 'HRSC2016' / 'Train'
    (hrsc / 'Annotations').mkdir(parents=True)
    (hrsc / 'AllImages').mkdir()
    Image.new('RGB', (300, 200)).save(hrsc / 'AllImages' / '100000001.bmp')
    (hrsc / 'Annotations' / '100000001.xml').write_text(
        '<HRSC_Image><Img_FileName>100000001</Img_FileName><Img_FileFmt>bmp</Img_FileFmt>'
        '<Img_SizeWidth>300</Img_SizeWidth><Img_SizeHeight>200</Img_SizeHeight><HRSC_Objects>'
        '<HRSC_Object><box_xmin>10</box_xmin><box_ymin>20</box_ymin><box_xmax>60</box_xmax>'
        '<box_ymax>50</box_ymax></HRSC_Object></HRSC_Objects></HRSC_Image>'
    )
    output = tmp_path / 'corpora'
    args = ['prepare', '--data-root', str(root), '--output', str(output), '--no-progress']
    assert rs_vlm([*args, '--on-error', 'raise', '--workers', '1']) == 1
    captured = capsys.readouterr()
    assert 'DOTA: ' in captured.err and 'P1.txt, line 1' in captured.err
    assert '| DET-10 | DOTA | 0 | 0 | 0 | 0 | 1,409 | failed |' in captured.out
    assert '| DET-10 | HRSC | 1 | 5 | 0 | 0 | 1,055 | converted |' in captured.out
    [entry] = read_mixture_manifest(output / 'mixture.json')
    assert entry.name == 'hrsc2016' and entry.path == output / 'hrsc2016.tsv'
    assert not (output / 'dota.tsv').exists() and not (output / 'dota.fingerprint').exists()
    # With the default on-error skip, the bad label is counted and the run succeeds.
    assert rs_vlm([*args, '--workers', '1']) == 0
    summary = json.loads((output / 'dota.tsv.summary.json').read_text())
    assert summary['images'] == 0 and summary['skipped'] == {'malformed annotation': 1}


def test_potsdam_geotiff_labels_give_table_one_classes_as_places(tmp_path: Path) -> None:
    # The ISPRS release: 2_Ortho_RGB/top_potsdam_2_10_RGB.tif, 5_Labels_all/..._label.tif (RGB).
    root = tmp_path / 'data'
    (root / 'Potsdam' / '2_Ortho_RGB').mkdir(parents=True)
    (root / 'Potsdam' / '5_Labels_all').mkdir(parents=True)
    label = np.zeros((3, 60, 80), dtype=np.uint8)
    label[:] = np.array([255, 255, 255])[:, None, None]  # impervious surface: dropped
    label[:, 5:15, 5:25] = np.array([0, 0, 255])[:, None, None]  # building
    label[:, 40:50, 60:70] = np.array([255, 255, 0])[:, None, None]  # car
    label[:, 30:35, 10:12] = np.array([255, 0, 0])[:, None, None]  # clutter: dropped
    profile = {'driver': 'GTiff', 'width': 80, 'height': 60, 'count': 3, 'dtype': 'uint8'}
    with rasterio.open(
        root / 'Potsdam/5_Labels_all/top_potsdam_2_10_label.tif', 'w', **profile
    ) as f:
        f.write(label)
    with rasterio.open(root / 'Potsdam/2_Ortho_RGB/top_potsdam_2_10_RGB.tif', 'w', **profile) as f:
        f.write(np.full((3, 60, 80), 90, dtype=np.uint8))
    result = prepare_corpora(root, tmp_path / 'corpora', sources=['potsdam'], progress=False)
    [potsdam] = result.sources
    assert (potsdam.status, potsdam.images) == ('converted', 1)
    rows = _rows(tmp_path / 'corpora' / 'potsdam.tsv')
    assert rows[0]['filepath'].endswith('top_potsdam_2_10_RGB.tif')
    text = ' '.join(r['title'] for r in rows).lower()
    assert 'place with building' in text and 'place with car' in text
    assert 'impervious' not in text and 'clutter' not in text


def test_ret3_names_outside_the_image_folder_are_skipped(tmp_path: Path) -> None:
    rsicd = tmp_path / 'data' / 'RSICD'
    (rsicd / 'images').mkdir(parents=True)
    _noise_image(rsicd / 'images' / 'a.jpg', 1)
    _noise_image(tmp_path / 'data' / 'secret.jpg', 2)
    (rsicd / 'train_filename.txt').write_text('a.jpg\n../secret.jpg\n/etc/passwd\n')
    (rsicd / 'train_caps.txt').write_text(''.join(f'caption {i}\n' for i in range(15)))
    result = prepare_corpora(tmp_path / 'data', tmp_path / 'out', sources=['rsicd'], progress=False)
    [rsicd_result] = result.sources
    assert rsicd_result.images == 1 and rsicd_result.skipped == {'malformed annotation': 2}
    assert [Path(r['filepath']).name for r in _rows(tmp_path / 'out' / 'rsicd.tsv')] == [
        'a.jpg'
    ] * 5
