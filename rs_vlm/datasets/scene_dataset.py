"""Base class of the scene-classification datasets (zero-shot, few-shot, linear probe).

Split (RemoteCLIP's, for datasets without an official split): per class, files sorted by
name, the first 80% (``floor(0.8 n)``) are ``'trainval'`` and the rest ``'test'``. So that
model selection never peeks at the test files, ``'trainval'`` is further cut into ``'train'``
(its first 7/8) and ``'val'`` (its last 1/8, at least one file). ``'all'`` keeps every file.
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from rs_vlm.datasets.bad_input import BadInputPolicy, OnError
from rs_vlm.datasets.decoding import load_image
from rs_vlm.datasets.download import MissingDatasetError
from rs_vlm.datasets.plotting import plot_image_with_text, prediction_line
from rs_vlm.datasets.scene_classes import (
    CLASSES,
    FOLDER_ALIASES,
    TEMPLATES,
    normalise_folder_name,
)
from rs_vlm.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['IMAGE_SUFFIXES', 'SceneDataset', 'paper_split', 'torchgeo_files']

logger = logging.getLogger('rs_vlm.datasets')

IMAGE_SUFFIXES = frozenset({'.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp'})
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
            classes with fewer than ``min_per_class`` images.
        min_per_class: Fewest images a class folder may hold.

    Raises:
        MissingDatasetError: No images under ``root``.
        InputError: Unknown class folders or too-small classes (policy ``raise``).
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
        self.classes: list[str] = list(CLASSES[self.name])
        self.templates: list[str] = list(TEMPLATES[self.name])
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        by_class = self._group_by_class(self.list_files())
        self.files: list[Path] = []
        self.targets: list[int] = []
        for label, files in sorted(by_class.items()):
            if len(files) < min_per_class:
                folder = files[0].parent if files else self.root
                self.policy.handle(
                    folder, f'class has {len(files)} images, expected at least {min_per_class}'
                )
                continue
            chosen = paper_split(files, split)
            self.files.extend(chosen)
            self.targets.extend([label] * len(chosen))

    def list_files(self) -> list[Path]:
        """All image files of the dataset (any split).

        Returns:
            Image paths whose parent folder names the class.

        Raises:
            MissingDatasetError: No images were found.
        """
        folder = self.root / self.image_folder
        files = (
            sorted(
                path
                for path in folder.rglob('*')
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
            )
            if folder.is_dir()
            else []
        )
        if not files:
            raise MissingDatasetError(
                self,
                self.root,
                [f'{self.image_folder}/<class folder>/<images>'],
                f'Put the class folders there by hand. {self.manual}'.strip(),
            )
        return files

    def _group_by_class(self, files: list[Path]) -> dict[int, list[Path]]:
        aliases = FOLDER_ALIASES.get(self.name, {})
        lookup = {normalise_folder_name(name): index for index, name in enumerate(self.classes)}
        for alias, name in aliases.items():
            lookup[alias] = self.class_to_idx[name]
        grouped: dict[int, list[Path]] = {}
        unknown: dict[str, int] = {}
        for path in files:
            key = normalise_folder_name(path.parent.name)
            if key in lookup:
                grouped.setdefault(lookup[key], []).append(path)
            else:
                unknown[path.parent.name] = unknown.get(path.parent.name, 0) + 1
        for folder, count in sorted(unknown.items()):
            self.policy.handle(
                self.root / folder,
                f'folder with {count} images matches no {self.name} class; expected one of '
                f'{self.classes}',
            )
        missing = [self.classes[i] for i in range(len(self.classes)) if i not in grouped]
        if missing:
            logger.warning('%s under %s lacks classes: %s', self.name, self.root, missing)
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
