"""Batches that record skipped bad inputs: the collate function and the all-skipped test.

Kept apart from :mod:`rs_vlm.datasets` so that the training module can recognise an all-skipped
batch without importing the datasets package (and torchgeo with it).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

__all__ = ['collate_skipping_bad', 'is_all_skipped']


def collate_skipping_bad(
    samples: Sequence[dict[str, Any] | None],
    collate: Callable[[list[dict[str, Any]]], dict[str, Any]] = default_collate,
) -> dict[str, Any]:
    """Collate samples, dropping ``None`` (skipped) ones and recording how many were dropped.

    A batch whose every sample was bad becomes ``{'skipped': n}`` alone (see
    :func:`is_all_skipped`): the training module skips that step and counts it, instead of
    the whole run stopping on one unlucky batch.

    Args:
        samples: Samples from a dataset; ``None`` marks a skipped bad input.
        collate: The collate function for the remaining samples.

    Returns:
        The batch, with ``skipped`` (a 0-d long tensor) added when any sample was dropped.
    """
    kept = [sample for sample in samples if sample is not None]
    if not kept:
        return {'skipped': torch.tensor(len(samples))}
    batch = collate(kept)
    if len(kept) < len(samples):
        batch['skipped'] = torch.tensor(len(samples) - len(kept))
    return batch


def is_all_skipped(batch: Any) -> bool:
    """Whether ``batch`` is what :func:`collate_skipping_bad` makes of an all-bad batch.

    Args:
        batch: A batch.

    Returns:
        True when the batch holds no sample, only the ``skipped`` count.
    """
    return isinstance(batch, Mapping) and set(batch) == {'skipped'}
