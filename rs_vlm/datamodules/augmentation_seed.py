"""Per-batch augmentation seeds, so random augmentation replays exactly after a resume.

kornia draws augmentation parameters from torch's global generator, whose state a checkpoint
does not hold and which other code (iterator creation, sanity checks) also advances. Seeding
each training batch from ``(seed, epoch, batch index in epoch, rank)`` makes the augmentation a
pure function of the batch's position, the same whether or not the run was interrupted.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ['batch_position', 'seeded_rng']


def batch_position(trainer: Any) -> tuple[int, int, int] | None:
    """``(epoch, batch index within the epoch, global rank)`` of the training batch in flight.

    Args:
        trainer: A Lightning ``Trainer`` while fitting (read in ``on_after_batch_transfer``,
            before the loop counts the batch as ready).

    Returns:
        The position, or None when ``trainer`` is not a fitting Lightning trainer.
    """
    try:
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        return int(trainer.current_epoch), int(progress.ready), int(trainer.global_rank)
    except AttributeError:
        return None


@contextlib.contextmanager
def seeded_rng(seed: int, *position: int, device: torch.device | None = None) -> Iterator[None]:
    """Run the body with torch's generators seeded from ``(seed, *position)``, then restore them.

    Args:
        seed: Base seed.
        *position: Further integers (epoch, batch, rank) mixed into the seed.
        device: A CUDA device whose generator is forked too (the CPU one always is).

    Yields:
        Nothing; the previous generator states are restored on exit.
    """
    derived = int(np.random.SeedSequence([seed, *position]).generate_state(1, np.uint64)[0])
    cuda = device is not None and device.type == 'cuda'
    devices = [device.index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(derived % (2**63))
        yield
