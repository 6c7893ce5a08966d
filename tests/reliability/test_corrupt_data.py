"""A corpus with 1% corrupt images and a decompression bomb trains to the end with
``on_error='skip'``; the number of skipped images is logged and equals the number planted."""

import csv
from pathlib import Path

import pytest
from corpus_helpers import write_caption_corpus
from lightning.pytorch.loggers import CSVLogger
from PIL import Image

from rs_vlm.datamodules import CaptionDataModule
from rs_vlm.modules import RemoteCLIPModule
from rs_vlm.reliability import SkippedInputCounter

IMAGES = 200


def _plant_corrupt_images(folder: Path) -> list[Path]:
    """Truncate one JPEG to half its bytes and overwrite another with non-image bytes."""
    truncated, garbage = folder / 'images' / 'img_017.jpg', folder / 'images' / 'img_142.jpg'
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    garbage.write_bytes(b'this is not a JPEG at all' * 10)
    return [truncated, garbage]


def _plant_bomb(folder: Path) -> Path:
    """Overwrite one image with a 200-megapixel PNG of a few kilobytes (Pillow refuses it)."""
    bomb = folder / 'images' / 'img_099.jpg'
    Image.new('1', (20_000, 10_000)).save(bomb, format='PNG')
    return bomb


@pytest.mark.slow
@pytest.mark.torchgeo
def test_one_percent_corrupt_images_and_a_bomb_are_skipped_and_counted(
    tmp_path: Path, quiet_trainer
) -> None:
    csv_path = write_caption_corpus(tmp_path / 'data', IMAGES, size=32)
    planted = _plant_corrupt_images(tmp_path / 'data')
    assert len(planted) / IMAGES == 0.01
    planted.append(_plant_bomb(tmp_path / 'data'))
    datamodule = CaptionDataModule(
        train_csv=csv_path,
        image_size=32,
        batch_size=40,
        num_workers=2,
        tokenizer='rs-vit-tiny',
        on_error='skip',
    )
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1)
    counter = SkippedInputCounter()
    trainer = quiet_trainer(
        max_epochs=1,
        logger=CSVLogger(tmp_path, name='logs'),
        log_every_n_steps=1,
        callbacks=[counter],
    )
    trainer.fit(module, datamodule)
    assert trainer.state.finished and trainer.global_step == IMAGES // 40
    assert counter.total == len(planted)
    with open(Path(trainer.logger.log_dir) / 'metrics.csv', newline='') as handle:
        rows = [row for row in csv.DictReader(handle) if row.get('train/skipped_inputs')]
    assert float(rows[-1]['train/skipped_inputs']) == len(planted)
