"""Several caption corpora as one dataset, with a weighted per-epoch sampler."""

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset, Sampler

from rs_vlm.datasets.caption_corpus import CaptionCorpus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['CaptionMixture', 'WeightedMixtureSampler']


class CaptionMixture(Dataset[dict[str, Any] | None]):
    """Concatenated caption corpora addressed by ``index`` or ``(index, epoch)`` keys.

    Args:
        sources: The corpora, in order; global indices run through them in turn.
    """

    def __init__(self, sources: Sequence[CaptionCorpus]) -> None:
        if not sources:
            raise ValueError('a caption mixture needs at least one source')
        self.sources = list(sources)
        self.offsets = [0]
        for source in self.sources:
            self.offsets.append(self.offsets[-1] + len(source))

    def __len__(self) -> int:
        """Return the total number of images."""
        return self.offsets[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """Map a global index to ``(source number, local index)``.

        Args:
            index: Global index.

        Returns:
            The source and the index inside it.
        """
        if not 0 <= index < len(self):
            raise IndexError(f'index {index} out of range for {len(self)} images')
        source = int(torch.searchsorted(torch.tensor(self.offsets), index, right=True)) - 1
        return source, index - self.offsets[source]

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | None:
        """Return the sample of a global index (or ``(index, epoch)`` key).

        Args:
            key: Global index or ``(index, epoch)``.

        Returns:
            The source corpus's sample.
        """
        index, epoch = key if isinstance(key, tuple) else (key, None)
        source, local = self.locate(int(index))
        corpus = self.sources[source]
        return corpus[(local, int(epoch))] if epoch is not None else corpus[local]

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> 'Figure':
        """Plot a sample with its caption, as the sources' ``plot`` does.

        Args:
            sample: A sample from :meth:`__getitem__`.
            show_titles: Show the caption above the image.
            suptitle: Figure title.

        Returns:
            The matplotlib figure.
        """
        return self.sources[0].plot(sample, show_titles, suptitle)


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
