"""Fixtures for the model tests: a Hugging Face Hub cache the tests build, offline."""

import os
from pathlib import Path

import pytest


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
