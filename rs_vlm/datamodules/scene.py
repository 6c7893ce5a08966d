"""Scene classification datamodules (torchgeo ``NonGeoDataModule``), one per dataset.

``setup`` builds the paper split (``train``/``val`` carved from the first 80% of each class,
``test`` = the last 20%). Images are decoded at ``image_size`` (shorter side + centre crop) so
they batch; training adds the paper's augmentation; everything is CLIP-normalised. Batches work
unchanged with torchgeo's ``ClassificationTask``.
"""

from pathlib import Path
from typing import Any

from torch import Tensor
from torch.utils.data import DataLoader, default_collate
from torchgeo.datamodules import NonGeoDataModule

from rs_vlm.datamodules.augmentation import (
    clip_eval_augmentation,
    clip_mean_std,
    clip_train_augmentation,
)
from rs_vlm.datamodules.caption import apply_image_augmentation
from rs_vlm.datasets.aid import AID
from rs_vlm.datasets.bad_input import OnError, collate_skipping_bad, is_all_skipped
from rs_vlm.datasets.eurosat_rgb import EuroSATRGB
from rs_vlm.datasets.mlrsnet import MLRSNet
from rs_vlm.datasets.optimal31 import OPTIMAL31
from rs_vlm.datasets.patternnet import PatternNet
from rs_vlm.datasets.resisc45 import RESISC45
from rs_vlm.datasets.rsc11 import RSC11
from rs_vlm.datasets.rsi_cb128 import RSICB128
from rs_vlm.datasets.rsi_cb256 import RSICB256
from rs_vlm.datasets.rsscn7 import RSSCN7
from rs_vlm.datasets.scene_dataset import SceneDataset
from rs_vlm.datasets.siri_whu import SIRIWHU
from rs_vlm.datasets.ucmerced import UCMerced
from rs_vlm.datasets.whu_rs19 import WHURS19

__all__ = [
    'AIDDataModule',
    'EuroSATRGBDataModule',
    'MLRSNetDataModule',
    'OPTIMAL31DataModule',
    'PatternNetDataModule',
    'RESISC45DataModule',
    'RSC11DataModule',
    'RSICB128DataModule',
    'RSICB256DataModule',
    'RSSCN7DataModule',
    'SIRIWHUDataModule',
    'SceneDataModule',
    'UCMercedDataModule',
    'WHURS19DataModule',
]

_MEAN, _STD = clip_mean_std()


def _collate(samples: list[dict[str, Any] | None]) -> dict[str, Any]:
    return collate_skipping_bad(samples, default_collate)


class SceneDataModule(NonGeoDataModule):
    """Datamodule over any :class:`~rs_vlm.datasets.scene_dataset.SceneDataset`.

    Args:
        dataset_class: The scene dataset class.
        batch_size: Batch size.
        num_workers: DataLoader workers.
        image_size: Side of the square model input.
        **kwargs: Passed to the dataset (``root``, ``download``, ``on_error``, ...).
    """

    mean = _MEAN
    std = _STD

    def __init__(
        self,
        dataset_class: type[SceneDataset],
        batch_size: int = 64,
        num_workers: int = 0,
        image_size: int = 224,
        **kwargs: Any,
    ) -> None:
        super().__init__(dataset_class, batch_size, num_workers, image_size=image_size, **kwargs)
        self.image_size = image_size
        self.collate_fn = _collate
        self.train_aug = clip_train_augmentation(image_size, self.mean, self.std)
        self.aug = clip_eval_augmentation(image_size, self.mean, self.std)

    def setup(self, stage: str) -> None:
        """Build the split datasets of ``stage``.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.
        """
        if stage == 'fit':
            self.train_dataset = self.dataset_class(split='train', **self.kwargs)  # type: ignore[call-arg]
        if stage in ('fit', 'validate'):
            self.val_dataset = self.dataset_class(split='val', **self.kwargs)  # type: ignore[call-arg]
        if stage in ('test', 'predict'):
            self.test_dataset = self.dataset_class(split='test', **self.kwargs)  # type: ignore[call-arg]
            self.predict_dataset = self.test_dataset

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        loader = super()._dataloader_factory(split)
        if split == 'train' and len(loader.dataset) < self.batch_size:  # type: ignore[arg-type]
            # torchgeo drops the last partial batch; keep it when it is the only one.
            return DataLoader(
                loader.dataset,
                batch_size=self.batch_size,
                shuffle=True,
                num_workers=self.num_workers,
                collate_fn=self.collate_fn,
                persistent_workers=self.num_workers > 0,
            )
        return loader

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Augment (training) or resize (evaluation) and CLIP-normalise the images.

        Args:
            batch: The batch on the device.
            dataloader_idx: Index of the dataloader.

        Returns:
            The batch.
        """
        if self.trainer is None or is_all_skipped(batch):  # no image to augment
            return batch
        aug = self.train_aug if self.trainer.training else self.aug
        return apply_image_augmentation(aug, batch)


class _NamedSceneDataModule(SceneDataModule):
    """A :class:`SceneDataModule` bound to one dataset class (set by subclasses).

    The dataset arguments are named here (not only ``**kwargs``) so that LightningCLI configs
    can set them (``--data.root data/AID``).

    Args:
        root: Folder of the dataset.
        batch_size: Batch size.
        num_workers: DataLoader workers.
        image_size: Side of the square model input.
        download: Download the dataset if it is missing (where a source is known).
        checksum: Check the MD5 of downloaded archives.
        on_error: Unreadable images: ``'raise'`` or ``'skip'`` (counted).
        **kwargs: Other dataset arguments (e.g. ``min_per_class``).
    """

    scene_dataset: type[SceneDataset]

    def __init__(
        self,
        root: str | Path = 'data',
        batch_size: int = 64,
        num_workers: int = 0,
        image_size: int = 224,
        download: bool = False,
        checksum: bool = False,
        on_error: OnError = 'raise',
        **kwargs: Any,
    ) -> None:
        super().__init__(
            self.scene_dataset,
            batch_size,
            num_workers,
            image_size,
            root=root,
            download=download,
            checksum=checksum,
            on_error=on_error,
            **kwargs,
        )


class AIDDataModule(_NamedSceneDataModule):
    """AID datamodule (paper split, CLIP normalisation)."""

    scene_dataset = AID


class EuroSATRGBDataModule(_NamedSceneDataModule):
    """EuroSAT (RGB bands) datamodule (paper split, CLIP normalisation)."""

    scene_dataset = EuroSATRGB


class MLRSNetDataModule(_NamedSceneDataModule):
    """MLRSNet datamodule (paper split, CLIP normalisation)."""

    scene_dataset = MLRSNet


class OPTIMAL31DataModule(_NamedSceneDataModule):
    """OPTIMAL-31 datamodule (paper split, CLIP normalisation)."""

    scene_dataset = OPTIMAL31


class PatternNetDataModule(_NamedSceneDataModule):
    """PatternNet datamodule (paper split, CLIP normalisation)."""

    scene_dataset = PatternNet


class RESISC45DataModule(_NamedSceneDataModule):
    """NWPU-RESISC45 datamodule (paper split, CLIP normalisation)."""

    scene_dataset = RESISC45


class RSC11DataModule(_NamedSceneDataModule):
    """RSC11 datamodule (paper split, CLIP normalisation)."""

    scene_dataset = RSC11


class RSICB128DataModule(_NamedSceneDataModule):
    """RSI-CB128 datamodule (paper split, CLIP normalisation)."""

    scene_dataset = RSICB128


class RSICB256DataModule(_NamedSceneDataModule):
    """RSI-CB256 datamodule (paper split, CLIP normalisation)."""

    scene_dataset = RSICB256


class RSSCN7DataModule(_NamedSceneDataModule):
    """RSSCN7 (RS2800) datamodule (paper split, CLIP normalisation)."""

    scene_dataset = RSSCN7


class SIRIWHUDataModule(_NamedSceneDataModule):
    """SIRI-WHU (WHU-earth) datamodule (paper split, CLIP normalisation)."""

    scene_dataset = SIRIWHU


class UCMercedDataModule(_NamedSceneDataModule):
    """UC Merced datamodule (paper split, CLIP normalisation)."""

    scene_dataset = UCMerced


class WHURS19DataModule(_NamedSceneDataModule):
    """WHU-RS19 datamodule (paper split, CLIP normalisation)."""

    scene_dataset = WHURS19
