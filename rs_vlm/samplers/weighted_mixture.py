"""Weighted per-epoch sampler over several sources (a pure function of seed and epoch)."""

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

__all__ = ['WeightedMixtureSampler']


class WeightedMixtureSampler(Sampler[tuple[int, int]]):
    """Draw an epoch over several sources with given weights; a pure function of seed, epoch.

    Each epoch takes ``round(num_samples * w_s / sum(w))`` images from source ``s`` (sizes
    fixed up so they add to ``num_samples``): a fresh permutation of the source, repeated
    when more images are asked than it holds (up-sampling), cut when fewer (down-sampling),
    then shuffles them together. Yields ``(global index, epoch)``. With weights
    proportional to the source sizes every image is seen once per epoch.

    Args:
        sizes: Images per source.
        weights: Relative weight per source (None: proportional to size).
        num_samples: Images per epoch (None: the total size).
        seed: Base seed.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[float] | None = None,
        num_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        if weights is not None and len(weights) != len(sizes):
            raise ValueError(f'{len(weights)} weights given for {len(sizes)} sources')
        if weights is not None and (any(w < 0 for w in weights) or sum(weights) <= 0):
            raise ValueError('weights must be non-negative with a positive sum')
        self.sizes = list(sizes)
        self.weights = list(weights) if weights is not None else [float(s) for s in sizes]
        self.num_samples = num_samples if num_samples is not None else sum(sizes)
        self.seed = seed
        self.epoch = 0
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the next iteration.

        Args:
            epoch: Epoch number.
        """
        self.epoch = epoch

    def counts(self) -> list[int]:
        """Images drawn from each source per epoch."""
        total = sum(self.weights)
        exact = [self.num_samples * w / total for w in self.weights]
        counts = [int(x) for x in exact]
        # Largest remainders get the leftover images, so the counts add up exactly.
        order = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
        for i in order[: self.num_samples - sum(counts)]:
            counts[i] += 1
        return counts

    def order(self) -> list[int]:
        """The global indices of the current epoch, in order."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        chosen: list[int] = []
        for size, offset, count in zip(self.sizes, self.offsets, self.counts()):
            if count == 0 or size == 0:
                continue
            repeats = -(-count // size)
            local = torch.cat([torch.randperm(size, generator=generator) for _ in range(repeats)])
            chosen.extend((local[:count] + offset).tolist())
        permutation = torch.randperm(len(chosen), generator=generator).tolist()
        return [chosen[i] for i in permutation]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Yield ``(global index, epoch)`` keys."""
        for index in self.order():
            yield index, self.epoch

    def __len__(self) -> int:
        """Return the number of samples per epoch."""
        return self.num_samples
