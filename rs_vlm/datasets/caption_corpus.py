"""Base class of caption corpora: images, each with one or more captions.

Two views of the same corpus:

* ``mode='train'``: one sample per image, ``{'image', 'caption', 'path', 'text'}``, where the
  caption is drawn among the image's captions from ``(seed, epoch, index)``, so the order and
  choice are deterministic per epoch (resumable) whatever the worker count. Pass
  ``(index, epoch)`` keys (as :class:`~rs_vlm.samplers.epoch_random.EpochRandomSampler` does) or
  call :meth:`set_epoch`.
* ``mode='retrieval'``: ``{'image', 'index'}`` per image, with ``captions`` (all captions, in
  image order) and ``caption_to_image`` (the image index of each caption) for retrieval metrics.
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.plotting import plot_image_with_text, prediction_line
from rs_vlm.io.decoding import load_image
from rs_vlm.io.random_crop import CropSampler, RandomResizedCropBox

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['CaptionCorpus', 'CaptionMode', 'Tokenizer']

CaptionMode = Literal['train', 'retrieval']
Tokenizer = Callable[[list[str]], Tensor]


class CaptionCorpus(NonGeoDataset):
    """Images with captions, read by a subclass into ``image_paths`` and ``image_captions``.

    Args:
        image_paths: One path per image.
        image_captions: The captions of each image (at least one each).
        source: The corpus file, named in errors about images.
        mode: ``'train'`` or ``'retrieval'`` (see the module docstring).
        image_size: Resize the shorter side to this and centre-crop a square (so samples
            batch), or with :attr:`train_crop` in train mode resize a random box to this
            square; None keeps the decoded size.
        tokenizer: Callable ``list[str] -> LongTensor [N, L]`` (an open_clip tokenizer); when
            given, training samples carry ``text``.
        transforms: Applied to each sample dict last.
        seed: Seed of the per-epoch caption choice.
        on_error: ``'raise'`` or ``'skip'`` for unreadable images.
        policy: A policy already used while parsing (keeps its count); overrides ``on_error``.

    Attributes:
        image_dtype: ``torch.float32`` (default, torchgeo's convention) or ``torch.uint8``;
            the caption datamodules set uint8 on the datasets they load batches from.
        train_crop: When set (the caption datamodules set it on training corpora), train
            mode draws a random resized crop box over the *whole* decoded image from
            ``(seed, epoch, index)`` and resizes it to ``image_size``, instead of the centre
            square; see :mod:`rs_vlm.io.random_crop`.
    """

    image_dtype: torch.dtype = torch.float32
    train_crop: RandomResizedCropBox | None = None
    #: When set, train mode always pairs an image with this caption of its list (a fixed,
    #: epoch-independent validation loss) instead of drawing one per epoch.
    fixed_caption: int | None = None

    def __init__(
        self,
        image_paths: Sequence[Path],
        image_captions: Sequence[Sequence[str]],
        *,
        source: Path,
        mode: CaptionMode = 'train',
        image_size: int | None = 224,
        tokenizer: Tokenizer | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        seed: int = 0,
        on_error: OnError = 'raise',
        policy: BadInputPolicy | None = None,
    ) -> None:
        if mode not in ('train', 'retrieval'):
            raise ValueError(f"mode must be 'train' or 'retrieval', got {mode!r}")
        if len(image_paths) != len(image_captions):
            raise ValueError('image_paths and image_captions must have the same length')
        self.image_paths = list(image_paths)
        self.image_captions = [list(captions) for captions in image_captions]
        self.source = Path(source)
        self.mode = mode
        self.image_size = image_size
        self.tokenizer = tokenizer
        self.transforms = transforms
        self.seed = seed
        self.epoch = 0
        self.policy = policy if policy is not None else BadInputPolicy(on_error)
        self.captions: list[str] = [c for captions in self.image_captions for c in captions]
        self.caption_to_image: list[int] = [
            i for i, captions in enumerate(self.image_captions) for _ in captions
        ]

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self.image_paths)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch used for plain integer keys (caption choice in train mode).

        Args:
            epoch: The epoch number.
        """
        self.epoch = epoch

    def caption_index(self, index: int, epoch: int) -> int:
        """Which of image ``index``'s captions train mode uses in ``epoch``.

        Args:
            index: Image index.
            epoch: Epoch number.

        Returns:
            An index into ``image_captions[index]``.
        """
        count = len(self.image_captions[index])
        if self.fixed_caption is not None:
            return min(self.fixed_caption, count - 1)
        if count == 1:
            return 0
        return int(np.random.default_rng((self.seed, epoch, index)).integers(count))

    def crop_sampler(self, index: int, epoch: int) -> CropSampler | None:
        """The training crop of image ``index`` in ``epoch`` (None outside train mode).

        Args:
            index: Image index.
            epoch: Epoch number.

        Returns:
            ``(width, height) -> box`` drawing from ``(seed, epoch, index)``, or None.
        """
        if self.mode != 'train' or self.train_crop is None or self.image_size is None:
            return None
        # stream 1: independent of the caption choice, which draws from (seed, epoch, index)
        rng = np.random.default_rng((self.seed, epoch, index, 1))
        train_crop = self.train_crop
        return lambda width, height: train_crop(width, height, rng)

    def load_image(self, index: int, crop: CropSampler | None = None) -> Tensor | None:
        """Decode image ``index``; None when it is bad and the policy is ``'skip'``.

        Args:
            index: Image index.
            crop: Training crop box sampler (see :meth:`crop_sampler`); None: centre square.

        Returns:
            A ``[3, H, W]`` tensor in 0..255 of :attr:`image_dtype`, or None.

        Raises:
            CorpusError: The image is missing or cannot be decoded (policy ``'raise'``).
        """
        path = self.image_paths[index]
        return self.policy.read_image(
            lambda: load_image(path, self.image_size, self.image_dtype, crop),
            path,
            f'cannot read image listed in {self.source}',
        )

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | None:  # type: ignore[override]
        """Return one sample.

        Args:
            key: Image index, or ``(index, epoch)``.

        Returns:
            ``{'image', 'caption', 'path'[, 'text']}`` (train) or ``{'image', 'index'}``
            (retrieval); None for a skipped bad image.
        """
        index, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        index = int(index)
        image = self.load_image(index, self.crop_sampler(index, int(epoch)))
        if image is None:
            return None
        sample: dict[str, Any] = {'image': image}
        if self.mode == 'retrieval':
            sample['index'] = torch.tensor(index)
        else:
            caption = self.image_captions[index][self.caption_index(index, int(epoch))]
            sample['caption'] = caption
            # The source file travels with the batch, so a non-finite loss can name it.
            sample['path'] = str(self.image_paths[index])
            if self.tokenizer is not None:
                sample['text'] = self.tokenizer([caption])[0]
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> 'Figure':
        """Plot a sample with its caption, or with all captions of its image (retrieval mode).

        Args:
            sample: A sample from :meth:`__getitem__` (``caption``, or ``index`` in
                retrieval mode); ``prediction`` is shown when present.
            show_titles: Show the caption(s) above the image.
            suptitle: Figure title.

        Returns:
            The matplotlib figure.
        """
        if 'caption' in sample:
            lines = [str(sample['caption'])]
        elif 'index' in sample:
            lines = [
                f'{i}. {c}' for i, c in enumerate(self.image_captions[int(sample['index'])], 1)
            ]
        else:
            lines = []
        lines += prediction_line(sample)
        return plot_image_with_text(sample, lines, show_titles, suptitle)

    @property
    def num_skipped(self) -> int:
        """How many bad inputs this copy of the dataset skipped."""
        return self.policy.num_skipped
