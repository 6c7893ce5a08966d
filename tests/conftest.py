"""Shared test fixtures: the path to the real fixtures in shared/ and small helpers."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def fixtures_root() -> Path:
    """Where the real remote-sensing fixtures live (``RS_VLM_FIXTURES`` or ../shared/fixtures)."""
    return Path(os.environ.get('RS_VLM_FIXTURES', REPO_ROOT.parent / 'shared' / 'fixtures'))


@pytest.fixture
def real_fixtures() -> Path:
    """The real fixtures folder; skips the test when it is absent."""
    root = fixtures_root()
    if not root.is_dir():
        pytest.skip(f'real fixtures not found at {root} (set RS_VLM_FIXTURES)')
    return root


@pytest.fixture(scope='session')
def quiet_trainer() -> Callable[..., Any]:
    """Make a CPU ``Trainer`` without logger, checkpoints, progress bar or summary.

    Keyword arguments add to or override those settings.
    """
    from lightning.pytorch import Trainer

    def make(**options: Any) -> Trainer:
        settings: dict[str, Any] = {
            'accelerator': 'cpu',
            'logger': False,
            'enable_checkpointing': False,
            'enable_progress_bar': False,
            'enable_model_summary': False,
        }
        return Trainer(**{**settings, **options})

    return make


def pytest_configure(config: pytest.Config) -> None:
    """One intra-op thread per test process.

    The tests use tiny tensors, where thread start-up costs more than it saves, and CI runs two
    test processes on two cores (pytest-xdist): more threads would only oversubscribe them.
    """
    import torch

    torch.set_num_threads(1)
    # Subprocesses the tests start (``python -m rs_vlm ...``, spawned ranks) inherit this.
    os.environ.setdefault('OMP_NUM_THREADS', '1')
