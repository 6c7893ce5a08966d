"""Scene classification datamodules (torchgeo ``NonGeoDataModule``), one per dataset.

``setup`` builds the paper split (``train``/``val`` carved from the first 80% of each class,
``test`` = the last 20%). Images are decoded at ``image_size`` (shorter side + centre crop) so
they batch; training adds the paper's augmentation; everything is CLIP-normalised. Batches work
unchanged with torchgeo's ``ClassificationTask``.
"""

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
from rs_vlm.datasets.bad_input import collate_skipping_bad
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
        if self.trainer is None:
            return batch
        aug = self.train_aug if self.trainer.training else self.aug
        return apply_image_augmentation(aug, batch)


class AIDDataModule(SceneDataModule):
    """AID datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.AID` (``root``, ``download``, ...).
        """
        super().__init__(AID, batch_size, num_workers, image_size, **kwargs)


class EuroSATRGBDataModule(SceneDataModule):
    """EuroSAT (RGB bands) datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.EuroSATRGB` (``root``, ``download``, ...).
        """
        super().__init__(EuroSATRGB, batch_size, num_workers, image_size, **kwargs)


class MLRSNetDataModule(SceneDataModule):
    """MLRSNet datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.MLRSNet` (``root``, ``download``, ...).
        """
        super().__init__(MLRSNet, batch_size, num_workers, image_size, **kwargs)


class OPTIMAL31DataModule(SceneDataModule):
    """OPTIMAL-31 datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.OPTIMAL31` (``root``, ``download``, ...).
        """
        super().__init__(OPTIMAL31, batch_size, num_workers, image_size, **kwargs)


class PatternNetDataModule(SceneDataModule):
    """PatternNet datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.PatternNet` (``root``, ``download``, ...).
        """
        super().__init__(PatternNet, batch_size, num_workers, image_size, **kwargs)


class RESISC45DataModule(SceneDataModule):
    """NWPU-RESISC45 datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.RESISC45` (``root``, ``download``, ...).
        """
        super().__init__(RESISC45, batch_size, num_workers, image_size, **kwargs)


class RSC11DataModule(SceneDataModule):
    """RSC11 datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.RSC11` (``root``, ``download``, ...).
        """
        super().__init__(RSC11, batch_size, num_workers, image_size, **kwargs)


class RSICB128DataModule(SceneDataModule):
    """RSI-CB128 datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.RSICB128` (``root``, ``download``, ...).
        """
        super().__init__(RSICB128, batch_size, num_workers, image_size, **kwargs)


class RSICB256DataModule(SceneDataModule):
    """RSI-CB256 datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.RSICB256` (``root``, ``download``, ...).
        """
        super().__init__(RSICB256, batch_size, num_workers, image_size, **kwargs)


class RSSCN7DataModule(SceneDataModule):
    """RSSCN7 (RS2800) datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.RSSCN7` (``root``, ``download``, ...).
        """
        super().__init__(RSSCN7, batch_size, num_workers, image_size, **kwargs)


class SIRIWHUDataModule(SceneDataModule):
    """SIRI-WHU (WHU-earth) datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.SIRIWHU` (``root``, ``download``, ...).
        """
        super().__init__(SIRIWHU, batch_size, num_workers, image_size, **kwargs)


class UCMercedDataModule(SceneDataModule):
    """UC Merced datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.UCMerced` (``root``, ``download``, ...).
        """
        super().__init__(UCMerced, batch_size, num_workers, image_size, **kwargs)


class WHURS19DataModule(SceneDataModule):
    """WHU-RS19 datamodule (paper split, CLIP normalisation)."""

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        """Create the datamodule.

        Args:
            batch_size: Batch size.
            num_workers: DataLoader workers.
            image_size: Side of the square model input.
            **kwargs: Passed to :class:`~rs_vlm.datasets.WHURS19` (``root``, ``download``, ...).
        """
        super().__init__(WHURS19, batch_size, num_workers, image_size, **kwargs)
