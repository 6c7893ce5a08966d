import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from rs_vlm.datasets import (
    AID,
    RESISC45,
    RSSCN7,
    WHURS19,
    ZERO_SHOT_DATASETS,
    EuroSATRGB,
    MissingDatasetError,
    PatternNet,
    UCMerced,
)
from rs_vlm.datasets.scene_dataset import paper_split
from rs_vlm.errors import InputError
from rs_vlm.io.decoding import select_rgb_bands, stretch_to_uint8_range


def test_paper_split_per_class_sorted_last_20_percent() -> None:
    files = [Path(f'img_{i:02d}.jpg') for i in (9, 3, 0, 7, 1, 5, 2, 8, 6, 4)]
    names = lambda split: [p.name for p in paper_split(files, split)]  # noqa: E731
    assert names('test') == ['img_08.jpg', 'img_09.jpg']
    assert names('trainval') == [f'img_{i:02d}.jpg' for i in range(8)]
    assert names('val') == ['img_07.jpg']
    assert names('train') == [f'img_{i:02d}.jpg' for i in range(7)]
    assert len(paper_split(files[:7], 'test')) == 7 - int(7 * 0.8)


def _scene_folder(root: Path, make_image, folders: dict[str, int]) -> None:
    for folder, count in folders.items():
        for index in range(count):
            make_image(root / 'AID' / folder / f'{folder.lower()}_{index}.jpg', seed=index)


def test_folder_dataset_labels_names_and_split(tmp_path: Path, make_image) -> None:
    _scene_folder(tmp_path, make_image, {'BareLand': 10, 'Airport': 5, 'StorageTanks': 6})
    test = AID(tmp_path, split='test')
    assert test.classes[test.targets[0]] in ('airport', 'bareLand', 'storage tanks')
    by_class = {}
    for path, target in zip(test.files, test.targets):
        by_class.setdefault(test.classes[target], []).append(path.name)
    assert by_class == {
        'airport': ['airport_4.jpg'],
        'bareLand': ['bareland_8.jpg', 'bareland_9.jpg'],
        'storage tanks': ['storagetanks_4.jpg', 'storagetanks_5.jpg'],
    }
    # classes lists the 3 classes present (in the release's order); the 27 others are missing
    assert test.classes == ['airport', 'bareLand', 'storage tanks']
    assert len(test.missing_classes) == 27 and len(test.all_classes) == 30
    assert test.templates[0] == 'a centered satellite photo of a {}.'
    sample = test[0]
    assert sample['image'].shape == (3, 30, 40) and sample['label'].dtype == torch.long
    sized = AID(tmp_path, split='train', image_size=16)
    assert sized[0]['image'].shape == (3, 16, 16)
    total = sum(len(AID(tmp_path, split=s)) for s in ('train', 'val', 'test'))
    assert total == 21 == len(AID(tmp_path, split='all'))


def test_small_class_and_unknown_folder_policy(
    tmp_path: Path, make_image, caplog: pytest.LogCaptureFixture
) -> None:
    _scene_folder(tmp_path, make_image, {'Beach': 6, 'Airport': 3, 'Volcano': 5})
    with pytest.raises(
        InputError, match=r"Volcano: folder 'Volcano' with 5 images matches no aid class"
    ):
        AID(tmp_path)
    (tmp_path / 'AID' / 'Volcano').rename(tmp_path / 'AID' / 'Pond')
    with pytest.raises(
        InputError, match=r"Airport: class 'airport' has 3 images, expected at least 5"
    ):
        AID(tmp_path)
    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        dataset = AID(tmp_path, split='all', on_error='skip')
    assert dataset.num_skipped == 1
    assert sorted({dataset.classes[t] for t in dataset.targets}) == ['beach', 'pond']
    assert dataset.classes == ['beach', 'pond'] and 'airport' in dataset.missing_classes


def test_rsscn7_aliases_and_whurs19_camel_case(tmp_path: Path, make_image) -> None:
    for folder in ('aGrass', 'dRiverLake'):
        for index in range(5):
            make_image(tmp_path / 'rsscn7' / folder / f'{folder}_{index}.jpg', seed=index)
    dataset = RSSCN7(tmp_path / 'rsscn7', split='all')
    assert {dataset.classes[t] for t in dataset.targets} == {'grass', 'river or lake'}
    for index in range(5):
        make_image(tmp_path / 'whu' / 'footballField' / f'f{index}.jpg', seed=index)
    whu = WHURS19(tmp_path / 'whu', split='all')
    assert {whu.classes[t] for t in whu.targets} == {'footballField'}


def test_corrupt_scene_image(tmp_path: Path, make_image) -> None:
    _scene_folder(tmp_path, make_image, {'Beach': 5})
    bad = tmp_path / 'AID' / 'Beach' / 'beach_4.jpg'
    bad.write_bytes(bad.read_bytes()[:40])
    dataset = AID(tmp_path, split='test')
    with pytest.raises(InputError, match=r'beach_4\.jpg: cannot read image'):
        dataset[0]
    assert AID(tmp_path, split='test', on_error='skip')[0] is None


def test_missing_folder_dataset(tmp_path: Path) -> None:
    with pytest.raises(MissingDatasetError, match='captain-whu'):
        AID(tmp_path / 'nothing')


def test_twelve_zero_shot_datasets_have_names_and_templates() -> None:
    assert len(ZERO_SHOT_DATASETS) == 12
    sizes = {'RSI-CB128': 45, 'RSI-CB256': 35, 'WHU-earth': 12, 'EuroSAT': 10, 'MLRSNet': 46}
    sizes |= {'PatternNet': 38, 'RESISC45': 45, 'AID': 30, 'RS2800': 7, 'OPTIMAL-31': 31}
    sizes |= {'RSC11': 11, 'WHU-RS19': 19}
    from rs_vlm.datasets.scene_classes import CLASSES, TEMPLATES

    for table_name, cls in ZERO_SHOT_DATASETS.items():
        assert len(CLASSES[cls.name]) == sizes[table_name], table_name
        assert all('{}' in template for template in TEMPLATES[cls.name])
    assert len(TEMPLATES['resisc45']) == 18 and len(TEMPLATES['eurosat']) == 3


@pytest.mark.torchgeo
@pytest.mark.parametrize(
    ('cls', 'folder', 'expected'),
    [
        (RESISC45, 'resisc45', {'airplane': 3, 'airport': 3, 'baseball diamond': 3}),
        (PatternNet, 'patternnet', {'airplane': 3, 'bridge': 3}),
        (UCMerced, 'ucmerced', None),
    ],
)
def test_torchgeo_fake_layouts(
    real_fixtures: Path, tmp_path: Path, cls: type, folder: str, expected: dict | None
) -> None:
    root = tmp_path / folder
    shutil.copytree(real_fixtures / 'torchgeo_fake' / folder, root)
    dataset = cls(root, split='all', min_per_class=1)
    counts: dict[str, int] = {}
    for target in dataset.targets:
        counts[dataset.classes[target]] = counts.get(dataset.classes[target], 0) + 1
    if expected is not None:
        assert counts == expected
    else:
        listed = {p.parent.name for p in (root / 'UCMerced_LandUse' / 'Images').rglob('*.tif')}
        assert set(counts) == {'agricultural', 'airplane'} and listed == set(counts)
    sample = dataset[0]
    assert sample['image'].shape[0] == 3 and sample['image'].dtype == torch.float32
    test = cls(root, split='test', min_per_class=1)
    assert len(test) == sum(n - int(0.8 * n) for n in counts.values())


@pytest.mark.torchgeo
def test_torchgeo_fake_eurosat_as_rgb(real_fixtures: Path, tmp_path: Path) -> None:
    root = tmp_path / 'eurosat'
    shutil.copytree(real_fixtures / 'torchgeo_fake' / 'eurosat', root)
    dataset = EuroSATRGB(root, split='all', min_per_class=1)
    assert {dataset.classes[t] for t in dataset.targets} == {'annual crop land', 'forest'}
    path = dataset.files[0]
    with rasterio.open(path) as source:
        bands = source.read()
    assert bands.shape[0] == 13 and bands.dtype == np.uint16
    # independent computation: bands B04, B03, B02 are 0-based 3, 2, 1 in torchgeo's order,
    # shown as reflectance (DN / 10,000) x 2.5 (Sentinel Hub true colour), the same for all
    order = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08', 'B09', 'B10', 'B11', 'B12')
    order += ('B8A',)
    rgb = [order.index(band) for band in ('B04', 'B03', 'B02')]
    expected = np.clip(bands[rgb].astype(np.float64) / 10_000 * 2.5 * 255, 0, 255)
    image = dataset[dataset.files.index(path)]['image']
    assert image.shape == (3, 64, 64)
    assert np.allclose(image.numpy(), expected, atol=1e-2)
    assert dataset.input_kind == 'sentinel2-13band'
    # one fixed scaling: a tile with every value doubled is twice as bright, not the same
    doubled = select_rgb_bands(np.minimum(bands.astype(np.uint32) * 2, 65535).astype(np.uint16))
    unclipped = expected < 127
    assert np.allclose(doubled[unclipped], 2 * expected[unclipped], atol=1e-2)


def test_band_choice_for_other_inputs(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    assert np.array_equal(select_rgb_bands(gray), np.repeat(gray, 3, 0).astype(np.float32))
    four = np.stack([np.full((2, 2), v, np.uint8) for v in (10, 20, 30, 40)])
    assert select_rgb_bands(four)[:, 0, 0].tolist() == [10, 20, 30]
    ramp = np.linspace(0, 1000, 101).reshape(1, 101)
    stretched = stretch_to_uint8_range(ramp)
    assert stretched[0, 2] == pytest.approx(0) and stretched[0, 98] == pytest.approx(255)
    assert stretched[0, 50] == pytest.approx((500 - 20) / (980 - 20) * 255, rel=1e-5)
