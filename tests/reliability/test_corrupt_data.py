"""A corpus with 1% corrupt images and a decompression bomb trains to the end with
``on_error='skip'``; the number of skipped images is logged and equals the number planted. A
batch whose every image is unreadable skips its step (counted), or stops the run with a clear
error once too many steps were skipped."""

import csv
from pathlib import Path

import pytest
import torch
from corpus_helpers import fit_config, run_cli, write_caption_corpus
from lightning.pytorch import Callback
from lightning.pytorch.loggers import CSVLogger
from PIL import Image

from rs_vlm.datamodules import CaptionDataModule
from rs_vlm.modules import RemoteCLIPModule
from rs_vlm.reliability import SkippedBatchesError, SkippedInputCounter
from rs_vlm.samplers.epoch_random import EpochRandomSampler

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


def _corrupt_images_of_batch(csv_path: Path, batch: int, batch_size: int, size: int) -> list[Path]:
    """Overwrite every image of training batch ``batch`` (epoch 0, seed 0) with non-image bytes."""
    order = EpochRandomSampler(size, seed=0).order()
    paths = [csv_path.parent / 'images' / f'img_{i:03d}.jpg' for i in order]
    corrupt = paths[batch * batch_size : (batch + 1) * batch_size]
    for path in corrupt:
        path.write_bytes(b'not an image')
    return corrupt


class _WeightsPerStep(Callback):
    """Record whether each training batch changed the weights."""

    def __init__(self) -> None:
        self.changed: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.before = [p.detach().clone() for p in pl_module.parameters()]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        after = list(pl_module.parameters())
        self.changed.append(any(not torch.equal(a, b) for a, b in zip(after, self.before)))


def _fit_tiny(
    tmp_path: Path,
    quiet_trainer,
    csv_path: Path,
    max_skipped_fraction: float,
    val_csv: Path | None = None,
):
    datamodule = CaptionDataModule(
        train_csv=csv_path,
        val_csv=val_csv,
        image_size=32,
        batch_size=4,
        tokenizer='rs-vit-tiny',
        on_error='skip',
    )
    module = RemoteCLIPModule(
        'rs-vit-tiny',
        lr=1e-3,
        warmup_steps=1,
        nonfinite_max_skipped_fraction=max_skipped_fraction,
    )
    counter, weights = SkippedInputCounter(), _WeightsPerStep()
    trainer = quiet_trainer(
        max_epochs=1,
        logger=CSVLogger(tmp_path, name='logs'),
        log_every_n_steps=1,
        callbacks=[counter, weights],
    )
    return datamodule, module, counter, weights, trainer


@pytest.mark.torchgeo
def test_an_all_bad_batch_is_a_counted_skipped_step(tmp_path: Path, quiet_trainer) -> None:
    csv_path = write_caption_corpus(tmp_path / 'data', 12, size=32)
    corrupt = _corrupt_images_of_batch(csv_path, batch=1, batch_size=4, size=12)
    # a validation set whose only batch is unreadable too: validation passes without a loss
    val_csv = write_caption_corpus(tmp_path / 'val', 4, size=32)
    for image in (tmp_path / 'val' / 'images').iterdir():
        image.write_bytes(b'')
    datamodule, module, counter, weights, trainer = _fit_tiny(
        tmp_path, quiet_trainer, csv_path, 0.5, val_csv
    )
    trainer.fit(module, datamodule)
    assert trainer.state.finished
    # 3 batches: the readable ones update the weights, the all-bad one is skipped and counted
    assert weights.changed == [True, False, True]
    assert module.empty_batch_guard.num_skipped == 1
    assert module.empty_batch_guard.num_steps == 3
    assert counter.total == len(corrupt) == 4
    with open(Path(trainer.logger.log_dir) / 'metrics.csv', newline='') as handle:
        rows = {row['step']: row for row in csv.DictReader(handle)}
    assert rows['0']['train/empty_batches_skipped'] == ''
    assert float(rows['1']['train/empty_batches_skipped']) == 1
    assert float(rows['1']['train/skipped_inputs']) == 4
    assert 'val/loss' not in trainer.callback_metrics


@pytest.mark.torchgeo
def test_too_many_all_bad_batches_stop_the_run_with_a_clear_error(
    tmp_path: Path, quiet_trainer
) -> None:
    csv_path = write_caption_corpus(tmp_path / 'data', 12, size=32)
    _corrupt_images_of_batch(csv_path, batch=1, batch_size=4, size=12)
    datamodule, module, _, _, trainer = _fit_tiny(tmp_path, quiet_trainer, csv_path, 0.1)
    with pytest.raises(SkippedBatchesError, match=r'1 of 3 training steps .* unreadable'):
        trainer.fit(module, datamodule)


@pytest.mark.slow
@pytest.mark.torchgeo
def test_rs_vlm_fit_on_unreadable_images_only_stops_with_a_clear_error(tmp_path: Path) -> None:
    csv_path = write_caption_corpus(tmp_path / 'data', 12, size=32)
    for image in (tmp_path / 'data' / 'images').iterdir():
        image.write_bytes(b'not an image')
    config = fit_config(
        tmp_path / 'run', csv_path, batch_size=4, max_epochs=1, data_args={'on_error': 'skip'}
    )
    result = run_cli('fit', '--config', str(config))
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('rs-vlm fit: error: 3 of 3 training steps (100%'), last
    assert 'every image of their batch was unreadable' in last
