"""Tests that need a CUDA GPU: marked ``cuda`` here and skipped where torch sees none.

``benchmarks/gpu_check.py`` runs them on a GPU machine (``pytest -m cuda tests/cuda``).
"""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``cuda``; skip them all without a CUDA device."""
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason='needs a CUDA GPU')
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.cuda)
            if not torch.cuda.is_available():
                item.add_marker(skip)
