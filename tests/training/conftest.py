"""Fixtures for the training tests: a Lightning checkpoint from a short real fit."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_helpers import RandomPairsDataModule

from rs_vlm.modules import RemoteCLIPModule


@pytest.fixture(scope='session')
def lightning_checkpoint(tmp_path_factory: pytest.TempPathFactory, quiet_trainer) -> Path:
    """A ``.ckpt`` written by ``Trainer.save_checkpoint`` after 2 steps of rs-vit-tiny."""
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=2)
    trainer = quiet_trainer(max_steps=2, limit_val_batches=0)
    trainer.fit(module, RandomPairsDataModule(module.tokenizer, batch_size=4, length=8))
    path = tmp_path_factory.mktemp('lightning') / 'tiny.ckpt'
    trainer.save_checkpoint(path)
    return path
