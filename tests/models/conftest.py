"""Fixtures of the model tests: an offline Hub cache and a real Lightning checkpoint."""

import os
from pathlib import Path

import pytest
from training_helpers import RandomPairsDataModule

from rs_vlm.modules import RemoteCLIPModule


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hub cache (``HF_HUB_CACHE``) with offline mode on; no test reaches the network."""
    from huggingface_hub import constants

    cache = tmp_path / 'hub'
    cache.mkdir()
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    return cache


@pytest.fixture
def subprocess_env(hub_cache: Path) -> dict[str, str]:
    """Environment for ``rs-vlm`` subprocesses: the test's Hub cache, offline, this checkout."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env.update(
        HF_HUB_CACHE=str(hub_cache),
        HF_HUB_OFFLINE='1',
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), env.get('PYTHONPATH')])),
    )
    return env


@pytest.fixture(scope='session')
def lightning_checkpoint(tmp_path_factory: pytest.TempPathFactory, quiet_trainer) -> Path:
    """A ``.ckpt`` written by ``Trainer.save_checkpoint`` after 2 steps of rs-vit-tiny."""
    module = RemoteCLIPModule('rs-vit-tiny', lr=1e-3, warmup_steps=1, max_steps=2)
    trainer = quiet_trainer(max_steps=2, limit_val_batches=0)
    trainer.fit(module, RandomPairsDataModule(module.tokenizer, batch_size=4, length=8))
    path = tmp_path_factory.mktemp('lightning') / 'tiny.ckpt'
    trainer.save_checkpoint(path)
    return path
