"""Base class of the scene-classification datasets (zero-shot, few-shot, linear probe).

Split (RemoteCLIP's, for datasets without an official split): per class, files sorted by
name, the first 80% (``floor(0.8 n)``) are ``'trainval'`` and the rest ``'test'``. So that
model selection never peeks at the test files, ``'trainval'`` is further cut into ``'train'``
(its first 7/8) and ``'val'`` (its last 1/8, at least one file). ``'all'`` keeps every file.

Classes: ``classes`` lists the classes found on disk, in the order of
:data:`~rs_vlm.datasets.scene_classes.CLASSES`, and labels index it; ``all_classes`` is the
release's full list and ``missing_classes`` the ones not found (no folder, a folder skipped
as unknown with ``on_error='skip'``, or too few images). The zero-shot classifier is built
from ``classes``, so it never scores a class the data lacks.
"""

import difflib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor
from torchgeo.datasets import DatasetNotFoundError, NonGeoDataset

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.plotting import plot_image_with_text, prediction_line
from rs_vlm.datasets.scene_classes import (
    CLASSES,
    FOLDER_ALIASES,
    TEMPLATES,
    normalise_folder_name,
)
from rs_vlm.errors import InputError
from rs_vlm.image_files import IMAGE_SUFFIXES
from rs_vlm.io.decoding import load_image
from rs_vlm.io.download import MissingDatasetError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    'SceneDataset',
    'paper_split',
    'scan_image_files',
    'torchgeo_files',
    'torchgeo_or_release_files',
]

logger = logging.getLogger('rs_vlm.datasets')

SPLITS = ('train', 'val', 'trainval', 'test', 'all')


def paper_split(files: list[Path], split: str) -> list[Path]:
    """Select ``split`` from one class's files (see the module docstring).

    Args:
        files: The class's image files.
        split: ``'train'``, ``'val'``, ``'trainval'``, ``'test'`` or ``'all'``.

    Returns:
        The files of the split, sorted by name.
    """
    files = sorted(files, key=lambda path: path.name)
    if split == 'all':
        return files
    cut = int(len(files) * 0.8)
    trainval, test = files[:cut], files[cut:]
    if split == 'test':
        return test
    if split == 'trainval':
        return trainval
    val_count = max(1, len(trainval) // 8) if len(trainval) > 1 else 0
    if split == 'val':
        return trainval[len(trainval) - val_count :]
    return trainval[: len(trainval) - val_count]


class SceneDataset(NonGeoDataset):
    """A scene classification dataset: ``{'image', 'label'}`` samples, class names, templates.

    Subclasses set ``name`` (the key into the class and template tables) and either
    ``image_folder`` (class folders below it, nested category folders allowed) or override
    :meth:`list_files`.

    Args:
        root: Dataset folder.
        split: ``'train'``, ``'val'``, ``'trainval'``, ``'test'`` or ``'all'``.
        transforms: Applied to each sample last.
        download: Download when missing (datasets with a ``url`` or torchgeo downloads).
        checksum: Verify downloads.
        image_size: Shorter-side resize + centre crop on load; None keeps the file's size.
        on_error: ``'raise'`` or ``'skip'`` for unreadable images, unknown folders and
            classes with fewer than ``min_per_class`` images. A skipped folder or class is
            left out of ``classes`` and listed in ``missing_classes``.
        min_per_class: Fewest images a class folder may hold.

    Attributes:
        classes: The classes found, in the release's order; ``label`` indexes this list.
        all_classes: Every class of the release.
        missing_classes: Classes of the release not found (or skipped).
        unmatched_folders: Folders (relative to ``root``) skipped as matching no class.
        templates: Zero-shot prompt templates with a ``{}`` slot.

    Raises:
        MissingDatasetError: No images under ``root``.
        InputError: A folder matching no class (naming the closest class names) or a
            too-small class (policy ``raise``); no class left at all (any policy).
    """

    name: ClassVar[str] = ''
    #: Folder (relative to root) holding the class folders.
    image_folder: ClassVar[str] = '.'
    #: How to obtain the data, for the not-found error.
    manual: ClassVar[str] = ''

    def __init__(
        self,
        root: str | Path = 'data',
        split: str = 'test',
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        download: bool = False,
        checksum: bool = False,
        *,
        image_size: int | None = None,
        on_error: OnError = 'raise',
        min_per_class: int = 5,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.root = Path(root)
        self.split = split
        self.transforms = transforms
        self.download = download
        self.checksum = checksum
        self.image_size = image_size
        self.policy = BadInputPolicy(on_error, error_class=InputError)
        self.all_classes: list[str] = list(CLASSES[self.name])
        self.templates: list[str] = list(TEMPLATES[self.name])
        #: Folders (relative to ``root``) that matched no class and were skipped.
        self.unmatched_folders: list[str] = []
        kept: dict[int, list[Path]] = {}
        for label, files in sorted(self._group_by_class(self.list_files()).items()):
            if len(files) < min_per_class:
                self.policy.handle(
                    files[0].parent,
                    f'class {self.all_classes[label]!r} has {len(files)} images, expected at '
                    f'least {min_per_class}',
                )
                continue
            kept[label] = files
        if not kept:
            raise InputError(self.root, f'no {self.name} class folder with images was kept')
        self.classes: list[str] = [self.all_classes[label] for label in sorted(kept)]
        self.missing_classes: list[str] = [
            name for label, name in enumerate(self.all_classes) if label not in kept
        ]
        if self.missing_classes:
            logger.warning(
                '%s under %s: %d of %d classes missing, left out of classes (and so of the '
                'zero-shot classifier): %s',
                self.name,
                self.root,
                len(self.missing_classes),
                len(self.all_classes),
                self.missing_classes,
            )
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.files: list[Path] = []
        self.targets: list[int] = []
        for label, original in enumerate(sorted(kept)):
            chosen = paper_split(kept[original], split)
            self.files.extend(chosen)
            self.targets.extend([label] * len(chosen))

    def list_files(self) -> list[Path]:
        """All image files of the dataset (any split).

        Returns:
            Image paths whose parent folder names the class.

        Raises:
            MissingDatasetError: No images were found.
        """
        files = scan_image_files(self.root / self.image_folder)
        if not files:
            raise MissingDatasetError(
                self,
                self.root,
                [f'{self.image_folder}/<class folder>/<images>'],
                f'Put the class folders there by hand. {self.manual}'.strip(),
            )
        return files

    def closest_classes(self, folder: str, count: int = 3) -> list[str]:
        """The class names closest to a folder name (difflib ratio on the normalised names).

        Args:
            folder: A folder name that matched no class.
            count: At most this many names.

        Returns:
            Class names, closest first (empty when nothing is similar).
        """
        keys = self._folder_lookup()
        close = difflib.get_close_matches(
            normalise_folder_name(folder), list(keys), n=3 * count, cutoff=0.5
        )
        names = dict.fromkeys(self.all_classes[keys[key]] for key in close)
        return list(names)[:count]

    def _folder_lookup(self) -> dict[str, int]:
        lookup = {normalise_folder_name(name): i for i, name in enumerate(self.all_classes)}
        for alias, name in FOLDER_ALIASES.get(self.name, {}).items():
            lookup[alias] = self.all_classes.index(name)
        return lookup

    def _group_by_class(self, files: list[Path]) -> dict[int, list[Path]]:
        lookup = self._folder_lookup()
        grouped: dict[int, list[Path]] = {}
        unknown: dict[Path, int] = {}
        for path in files:
            key = normalise_folder_name(path.parent.name)
            if key in lookup:
                grouped.setdefault(lookup[key], []).append(path)
            else:
                unknown[path.parent] = unknown.get(path.parent, 0) + 1
        for folder, count in sorted(unknown.items()):
            close = self.closest_classes(folder.name)
            hint = f'closest class names: {close}' if close else 'no class name is close'
            self.policy.handle(
                folder,
                f'folder {folder.name!r} with {count} images matches no {self.name} class; '
                f'{hint}; expected one of the {len(self.all_classes)} folder names of the '
                'release (docs/data.md)',
            )
            self.unmatched_folders.append(str(folder.relative_to(self.root)))
        return grouped

    def __len__(self) -> int:
        """Return the number of images in the split."""
        return len(self.files)

    def load_image(self, index: int) -> Tensor | None:
        """Decode image ``index``; None when it is bad and the policy is ``'skip'``.

        Args:
            index: Sample index.

        Returns:
            Float32 ``[3, H, W]`` in 0..255, or None.
        """
        path = self.files[index]
        return self.policy.read_image(lambda: load_image(path, self.image_size), path)

    def __getitem__(self, index: int) -> dict[str, Any] | None:  # type: ignore[override]
        """Return ``{'image': float [3, H, W] in 0..255, 'label': long}`` (None if skipped).

        Args:
            index: Sample index.

        Returns:
            The sample.
        """
        image = self.load_image(index)
        if image is None:
            return None
        sample: dict[str, Any] = {'image': image, 'label': torch.tensor(self.targets[index])}
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self, sample: dict[str, Any], show_titles: bool = True, suptitle: str | None = None
    ) -> 'Figure':
        """Plot a sample with its class name (and ``prediction`` when present).

        Args:
            sample: A sample from :meth:`__getitem__`.
            show_titles: Show the label above the image.
            suptitle: Figure title.

        Returns:
            The matplotlib figure.
        """
        lines = [f'label: {self.classes[int(sample["label"])]}'] if 'label' in sample else []
        lines += prediction_line(sample, self.classes)
        return plot_image_with_text(sample, lines, show_titles, suptitle)

    @property
    def num_skipped(self) -> int:
        """How many bad inputs this copy of the dataset skipped."""
        return self.policy.num_skipped


def scan_image_files(folder: Path, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files anywhere below ``folder`` (nested category folders allowed), sorted.

    Args:
        folder: Where to look.
        suffixes: Lower-case file suffixes to keep.

    Returns:
        The paths; empty when ``folder`` is not a directory.
    """
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.rglob('*') if path.suffix.lower() in suffixes and path.is_file()
    )


def torchgeo_or_release_files(
    dataset: SceneDataset, dataset_class: type, suffixes: Sequence[str] = IMAGE_SUFFIXES
) -> list[Path]:
    """Files of torchgeo's layout when it is there (or ``download=True``), else the release's.

    torchgeo's layout adds split files (``resisc45-train.txt``...) to the release folders; the
    release itself (e.g. ``NWPU-RESISC45/<class>/<class>_NNN.jpg``) has none, so without them
    the class folders under ``root`` are scanned instead (the paper's split needs no split file).

    Args:
        dataset: The scene dataset (its ``root``, ``download``, ``checksum``).
        dataset_class: The torchgeo dataset class.
        suffixes: Image suffixes of the release.

    Returns:
        Sorted image paths.

    Raises:
        MissingDatasetError: Neither layout holds images (and ``download`` is False).
    """
    try:
        return torchgeo_files(dataset_class, dataset.root, dataset.download, dataset.checksum)
    except (DatasetNotFoundError, FileNotFoundError):
        if dataset.download:
            raise
    files = scan_image_files(dataset.root, suffixes)
    if not files:
        raise MissingDatasetError(
            dataset,
            dataset.root,
            ['<release folder>/<class folder>/<images>'],
            f'Unpack the release there ({dataset.manual}) or pass download=True for '
            "torchgeo's copy.",
        )
    return files


def torchgeo_files(dataset_class: type, root: Path, download: bool, checksum: bool) -> list[Path]:
    """List the files of a torchgeo ``ImageFolder`` dataset over all its splits.

    torchgeo finds, downloads (``download=True``) and verifies (``checksum=True``) the files;
    its ``DatasetNotFoundError`` says where they are expected.

    Args:
        dataset_class: The torchgeo dataset class.
        root: Its root folder.
        download: Let torchgeo download missing files.
        checksum: Let torchgeo verify checksums.

    Returns:
        Sorted unique image paths.
    """
    splits = getattr(dataset_class, 'splits', None) or (None,)
    files: set[Path] = set()
    for split in splits:
        kwargs = {'split': split} if split is not None else {}
        dataset = dataset_class(root, download=download, checksum=checksum, **kwargs)
        files.update(Path(path) for path, _ in dataset.samples)
    return sorted(files)
