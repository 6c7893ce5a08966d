"""RemoteCount datamodule: test-only counting batches, CLIP-normalised."""

from typing import Any

from torch.utils.data import default_collate
from torchgeo.datamodules import NonGeoDataModule

from rs_vlm.datamodules.augmentation import clip_eval_augmentation, clip_mean_std
from rs_vlm.datamodules.caption import apply_image_augmentation
from rs_vlm.datasets.bad_input import collate_skipping_bad, is_all_skipped
from rs_vlm.datasets.remote_count import RemoteCount

__all__ = ['RemoteCountDataModule']

_MEAN, _STD = clip_mean_std()


def _collate(samples: list[dict[str, Any] | None]) -> dict[str, Any]:
    return collate_skipping_bad(samples, default_collate)


class RemoteCountDataModule(NonGeoDataModule):
    """Batches ``{'image', 'caption', 'label', 'class_name'}`` of :class:`RemoteCount`.

    Only ``test``/``predict`` stages exist: RemoteCount is an evaluation set.

    Args:
        batch_size: Batch size.
        num_workers: DataLoader workers.
        image_size: Side of the square model input.
        **kwargs: Passed to :class:`~rs_vlm.datasets.RemoteCount` (``root``, ``annotations``).
    """

    mean = _MEAN
    std = _STD

    def __init__(
        self, batch_size: int = 64, num_workers: int = 0, image_size: int = 224, **kwargs: Any
    ) -> None:
        super().__init__(RemoteCount, batch_size, num_workers, image_size=image_size, **kwargs)
        self.collate_fn = _collate
        self.aug = clip_eval_augmentation(image_size, self.mean, self.std)

    def setup(self, stage: str) -> None:
        """Build the test dataset.

        Args:
            stage: ``'test'`` or ``'predict'`` (others have no data).
        """
        if stage in ('test', 'predict'):
            self.test_dataset = RemoteCount(split='test', **self.kwargs)
            self.predict_dataset = self.test_dataset

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Resize and CLIP-normalise the images.

        Args:
            batch: The batch on the device.
            dataloader_idx: Index of the dataloader.

        Returns:
            The batch.
        """
        if self.trainer is None or is_all_skipped(batch):  # no image to augment
            return batch
        return apply_image_augmentation(self.aug, batch)
