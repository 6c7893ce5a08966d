import csv
import logging
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from rs_vlm.datasets import CaptionCSVDataset, collate_skipping_bad
from rs_vlm.errors import CorpusError


@pytest.mark.torchgeo
def test_skyscript_fake_csv_layout(real_fixtures: Path) -> None:
    path = (
        real_fixtures
        / 'torchgeo_fake'
        / 'skyscript'
        / 'SkyScript_test_30K_filtered_by_CLIP_openai.csv'
    )
    with path.open(newline='') as handle:
        rows = list(csv.DictReader(handle))
    dataset = CaptionCSVDataset(path, mode='retrieval', image_size=16)
    assert len(dataset) == len({row['filepath'] for row in rows})
    assert dataset.captions == [row['title'] for row in rows]
    assert dataset[0]['image'].shape == (3, 16, 16)
    multi = CaptionCSVDataset(
        path, mode='retrieval', caption_key='title_multi_objects', image_size=16
    )
    assert multi.captions[0] == rows[0]['title_multi_objects']


def _corpus(tmp_path: Path, make_image, count: int, bad: set[int]) -> Path:
    rows = ['filepath,title']
    for index in range(count):
        path = make_image(tmp_path / f'{index}.jpg', (16, 16), seed=index)
        if index in bad:
            path.write_bytes(path.read_bytes()[:60])
        rows.append(f'{index}.jpg,caption {index}')
    csv_path = tmp_path / 'c.csv'
    csv_path.write_text('\n'.join(rows) + '\n')
    return csv_path


def test_error_inside_a_worker_names_the_file(tmp_path: Path, make_image) -> None:
    dataset = CaptionCSVDataset(_corpus(tmp_path, make_image, 6, {4}), image_size=16)
    loader = DataLoader(dataset, batch_size=3, num_workers=1, collate_fn=collate_skipping_bad)
    # torch re-raises worker errors as RuntimeError when the type needs more than a message;
    # the text keeps our error's type, file and reason.
    with pytest.raises((CorpusError, RuntimeError), match=r'CorpusError: .*4\.jpg: cannot read'):
        list(loader)


def test_skipped_samples_in_workers_are_counted_per_batch(
    tmp_path: Path, make_image, caplog: pytest.LogCaptureFixture
) -> None:
    planted = {1, 5, 6, 11}
    path = _corpus(tmp_path, make_image, 16, planted)
    dataset = CaptionCSVDataset(path, image_size=16, on_error='skip')
    loader = DataLoader(dataset, batch_size=4, num_workers=2, collate_fn=collate_skipping_bad)
    kept, skipped = 0, 0
    for batch in loader:
        kept += batch['image'].shape[0]
        skipped += int(batch.get('skipped', torch.tensor(0)))
    assert (kept, skipped) == (16 - len(planted), len(planted))
    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        assert dataset[5] is None
    assert '5.jpg' in caplog.text
