"""Samplers whose order is a pure function of ``(seed, epoch)``, so a run can resume mid-epoch."""

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ['EpochRandomSampler']


class EpochRandomSampler(Sampler[tuple[int, int]]):
    """Yield ``(index, epoch)`` keys in an order fixed by ``(seed, epoch)``.

    Lightning calls :meth:`set_epoch` at the start of each epoch (also through its distributed
    wrapper). Datasets that take ``(index, epoch)`` keys (our caption corpora) use the epoch for
    per-epoch random choices inside DataLoader workers, where a ``set_epoch`` on the dataset in
    the main process would not reach persistent workers.

    Args:
        size: Dataset length.
        seed: Base seed.
        shuffle: Shuffle (True) or keep index order.
    """

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the next iteration.

        Args:
            epoch: Epoch number.
        """
        self.epoch = epoch

    def order(self) -> list[int]:
        """The index order of the current epoch."""
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.size, generator=generator).tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Yield ``(index, epoch)`` pairs."""
        for index in self.order():
            yield index, self.epoch

    def __len__(self) -> int:
        """Return the dataset length."""
        return self.size
