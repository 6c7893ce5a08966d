"""RemoteCount: object counting through captions (RemoteCLIP paper, section IV-B2).

The 947 annotated DOTA-val images were never released; this is the format we read, so users
with their own annotations (or a re-annotation) can run the counting evaluation. One CSV/TSV
(comma or tab) with a header and these columns::

    filepath,caption,class_name,count
    images/P0003.png,There are three planes parked on the apron.,plane,3

``filepath`` is relative to the file's folder (or absolute); ``count`` is 1..10 and the caption
must hold that number as a word (``three``) or in digits (``3``).
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from rs_vlm.csv_input import read_csv_table
from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.plotting import plot_image_with_text, prediction_line
from rs_vlm.errors import CorpusError
from rs_vlm.io.decoding import load_image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['COLUMNS', 'NUMBER_WORDS', 'RemoteCount', 'caption_mentions_count']

COLUMNS = ('filepath', 'caption', 'class_name', 'count')
NUMBER_WORDS = ('one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten')


def caption_mentions_count(caption: str, count: int) -> bool:
    """True when ``caption`` holds ``count`` as a whole word (``three``) or number (``3``).

    Args:
        caption: The caption.
        count: 1..10.

    Returns:
        Whether the number appears.
    """
    pattern = rf'\b({NUMBER_WORDS[count - 1]}|{count})\b'
    return re.search(pattern, caption, flags=re.IGNORECASE) is not None


class RemoteCount(NonGeoDataset):
    """Counting samples ``{'image', 'caption', 'label' (count 1..10), 'class_name'}``.

    Attributes ``captions`` (one per image), ``counts`` and ``class_names`` serve the counting
    evaluation.

    Args:
        root: Folder holding ``annotations`` (relative names resolve against it).
        split: Only ``'test'`` (RemoteCount is an evaluation set).
        transforms: Applied to each sample last.
        annotations: The CSV/TSV file name, relative to ``root``.
        image_size: Shorter-side resize + centre crop on load; None keeps the file's size.
        on_error: ``'raise'`` or ``'skip'`` for bad rows and unreadable images.

    Raises:
        CorpusError: Missing columns, a count outside 1..10, a caption without its number,
            a missing image (policy ``raise``).
    """

    splits = ('test',)

    def __init__(
        self,
        root: str | Path = 'data',
        split: str = 'test',
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        *,
        annotations: str = 'remotecount.csv',
        image_size: int | None = None,
        on_error: OnError = 'raise',
    ) -> None:
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}')
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        self.image_size = image_size
        self.policy = BadInputPolicy(on_error)
        self.path = self.root / annotations
        self.files: list[Path] = []
        self.captions: list[str] = []
        self.class_names: list[str] = []
        self.counts: list[int] = []
        self._read()

    def _read(self) -> None:
        path = self.path
        table = read_csv_table(
            path, CorpusError, missing=f'RemoteCount annotations not found; columns {COLUMNS}'
        )
        missing = [column for column in COLUMNS if column not in table.header]
        if missing:
            raise CorpusError(
                path,
                f'missing column(s) {missing}; expected {list(COLUMNS)}',
                line=1,
                key=missing[0],
            )
        for line, fields in table.rows:
            if not fields:
                continue
            # csv.DictReader's layout: short rows padded with None, extra fields dropped.
            row = dict(zip(table.header, fields + [None] * (len(table.header) - len(fields))))
            self._add_row(row, line)

    def _add_row(self, row: dict[str, str], line: int) -> None:
        path = self.path
        count_text = (row['count'] or '').strip()
        plain_number = count_text.isascii() and count_text.isdigit() and len(count_text) <= 2
        if not plain_number or not 1 <= int(count_text) <= 10:
            self.policy.handle(path, f'count {count_text!r} is not 1..10', line=line, key='count')
            return
        count = int(count_text)
        caption = (row['caption'] or '').strip()
        if not caption_mentions_count(caption, count):
            message = f'caption {caption!r} does not mention the count {count} (word or digits)'
            self.policy.handle(path, message, line=line, key='caption')
            return
        class_name = (row['class_name'] or '').strip()
        if not class_name:
            self.policy.handle(path, 'empty class name', line=line, key='class_name')
            return
        image = Path((row['filepath'] or '').strip())
        image = image if image.is_absolute() else path.parent / image
        if not image.is_file():
            self.policy.handle(path, f'image file not found: {image}', line=line, key='filepath')
            return
        self.files.append(image)
        self.captions.append(caption)
        self.class_names.append(class_name)
        self.counts.append(count)

    def __len__(self) -> int:
        """Return the number of annotated images."""
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any] | None:  # type: ignore[override]
        """Return one sample (None when its image is bad and the policy is ``'skip'``).

        Args:
            index: Sample index.

        Returns:
            ``{'image', 'caption', 'label', 'class_name'}``.
        """
        image = self._load(index)
        if image is None:
            return None
        sample: dict[str, Any] = {
            'image': image,
            'caption': self.captions[index],
            'label': torch.tensor(self.counts[index]),
            'class_name': self.class_names[index],
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> 'Figure':
        """Plot a sample with its caption and object count (and ``prediction`` when present).

        Args:
            sample: A sample from :meth:`__getitem__`.
            show_titles: Show the caption and count above the image.
            suptitle: Figure title.

        Returns:
            The matplotlib figure.
        """
        lines = [str(sample['caption'])] if 'caption' in sample else []
        if 'label' in sample:
            lines.append(f'count: {int(sample["label"])} {sample.get("class_name", "")}'.rstrip())
        lines += prediction_line(sample)
        return plot_image_with_text(sample, lines, show_titles, suptitle)

    def _load(self, index: int) -> Tensor | None:
        path = self.files[index]
        return self.policy.read_image(lambda: load_image(path, self.image_size), path)

    @property
    def num_skipped(self) -> int:
        """How many bad inputs this copy of the dataset skipped."""
        return self.policy.num_skipped
