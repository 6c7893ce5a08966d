from pathlib import Path

import pytest
import torch

from rs_vlm.datamodules import RemoteCountDataModule
from rs_vlm.datasets import RemoteCount
from rs_vlm.errors import CorpusError

ROWS = [
    ('images/a.png', 'There are three planes parked on the apron.', 'plane', '3'),
    ('images/b.png', 'two ships are docked at the harbor', 'ship', '2'),
    ('images/c.png', 'An aerial image with 10 storage tanks.', 'storage-tank', '10'),
    ('images/d.png', 'One roundabout in the town.', 'roundabout', '1'),
]


def _write(root: Path, make_image, rows=ROWS, delimiter: str = ',') -> Path:
    for index, row in enumerate(rows):
        make_image(root / row[0], (36, 36), seed=index, fmt='PNG')
    lines = [delimiter.join(('filepath', 'caption', 'class_name', 'count'))]
    lines += [delimiter.join(row) for row in rows]
    path = root / 'remotecount.csv'
    path.write_text('\n'.join(lines) + '\n')
    return path


def test_samples_follow_the_contract(tmp_path: Path, make_image) -> None:
    _write(tmp_path, make_image, delimiter='\t')
    dataset = RemoteCount(tmp_path)
    assert len(dataset) == 4
    assert dataset.counts == [3, 2, 10, 1]
    assert dataset.captions[1] == 'two ships are docked at the harbor'
    sample = dataset[2]
    assert sample['label'].dtype == torch.long and int(sample['label']) == 10
    assert sample['class_name'] == 'storage-tank'
    assert sample['image'].shape == (3, 36, 36)


@pytest.mark.parametrize(
    ('row', 'message'),
    [
        (('images/x.png', 'eleven cars', 'car', '11'), r"line 6, key 'count': count '11' is not"),
        (('images/x.png', 'some planes', 'plane', '4'), r"line 6, key 'caption'.*count 4"),
        (('images/x.png', 'one plane', '', '1'), r"line 6, key 'class_name'"),
        (('images/missing.png', 'one plane', 'plane', '1'), r'line 6.*image file not found'),
    ],
)
def test_bad_rows(tmp_path: Path, make_image, row, message) -> None:
    path = _write(tmp_path, make_image)
    if 'missing' not in row[0]:
        make_image(tmp_path / row[0], seed=9, fmt='PNG')
    with path.open('a') as handle:
        handle.write(','.join(row) + '\n')
    with pytest.raises(CorpusError, match=message):
        RemoteCount(tmp_path)
    skipping = RemoteCount(tmp_path, on_error='skip')
    assert len(skipping) == 4 and skipping.num_skipped == 1


def test_missing_column(tmp_path: Path) -> None:
    (tmp_path / 'remotecount.csv').write_text('filepath,caption,count\n')
    with pytest.raises(CorpusError, match=r"line 1, key 'class_name'"):
        RemoteCount(tmp_path)


def test_datamodule_test_batches(tmp_path: Path, make_image) -> None:
    _write(tmp_path, make_image)
    datamodule = RemoteCountDataModule(root=tmp_path, batch_size=3, image_size=32)
    datamodule.setup('test')
    batch = next(iter(datamodule.test_dataloader()))
    assert batch['image'].shape == (3, 3, 32, 32)  # decoded at image_size
    assert batch['label'].tolist() == [3, 2, 10]
    assert batch['class_name'] == ['plane', 'ship', 'storage-tank']

    class _Eval:
        training = False

    datamodule.trainer = _Eval()  # type: ignore[assignment]
    assert datamodule.on_after_batch_transfer(batch, 0)['image'].shape == (3, 3, 32, 32)
