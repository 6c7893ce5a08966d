"""PreparedMixtureDataModule on a manifest `prepare_corpora` writes (no Lightning run)."""

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rs_vlm.conversion import prepare_corpora
from rs_vlm.datamodules import PreparedMixtureDataModule

QUAD = '10 10 20 10 20 20 10 20'


def test_trains_on_every_corpus_and_validates_on_ret3_tests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / 'data'
    dota = root / 'DOTA' / 'train'
    (dota / 'labelTxt').mkdir(parents=True)
    (dota / 'images').mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 50 * i, np.uint8)).save(dota / 'images' / f'P{i}.png')
        (dota / 'labelTxt' / f'P{i}.txt').write_text(f'{QUAD} plane 0\n')
    ucm = root / 'UCM-Captions'
    (ucm / 'images').mkdir(parents=True)
    for i, name in enumerate(('t0.tif', 't1.tif', 'u0.tif')):
        pixels = np.random.default_rng(i).integers(0, 256, (40, 40, 3), np.uint8)
        Image.fromarray(pixels).save(ucm / 'images' / name)
    (ucm / 'train_filename.txt').write_text('u0.tif\n')
    (ucm / 'train_caps.txt').write_text(''.join(f'a train caption {i}\n' for i in range(5)))
    (ucm / 'test_filename.txt').write_text('t0.tif\n' * 5 + 't1.tif\n' * 5)
    (ucm / 'test_caps.txt').write_text(''.join(f'a test caption {i}\n' for i in range(10)))
    result = prepare_corpora(root, tmp_path / 'corpora', progress=False)
    assert result.manifest == tmp_path / 'corpora' / 'mixture.json'

    with caplog.at_level(logging.WARNING, logger='rs_vlm.datasets'):
        datamodule = PreparedMixtureDataModule(
            data_root=root, mixture=result.manifest, tokenizer='rs-vit-tiny', batch_size=2
        )
    assert datamodule.train_names == ['ucm_captions', 'dota']
    assert [len(source) for source in datamodule.train_sources] == [1, 3]
    assert datamodule.image_size == 32
    assert list(datamodule.retrieval_datasets) == ['UCM-Captions']
    assert len(datamodule.retrieval_datasets['UCM-Captions'].captions) == 10
    warned = ' '.join(record.getMessage() for record in caplog.records)
    assert 'RSITMD skipped' in warned and 'RSICD skipped' in warned
    datamodule.setup('fit')
    sample = datamodule.train_dataset[(0, 0)]
    assert sample['image'].shape == (3, 32, 32) and sample['text'].shape == (77,)
