"""Several caption corpora as one dataset, addressed by global index (and epoch)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset

from rs_vlm.datasets.caption_corpus import CaptionCorpus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['CaptionMixture']


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
