"""SyntheticAerial datamodule: CLIP training batches from the embedded synthetic world."""

from typing import Any

from torch.utils.data import Dataset

from rs_vlm.datamodules.augmentation import clip_train_augmentation
from rs_vlm.datamodules.caption import CaptionDataModule
from rs_vlm.synthetic.aerial import SyntheticAerial

__all__ = ['SyntheticAerialDataModule']


class SyntheticAerialDataModule(CaptionDataModule):
    """Caption batches for :class:`~rs_vlm.modules.RemoteCLIPModule` from :class:`SyntheticAerial`.

    Everything but the data source is :class:`~rs_vlm.datamodules.CaptionDataModule`'s:
    open_clip tokenisation in the dataset, per-epoch deterministic order and caption choice,
    and (after transfer to the device) the paper's kornia augmentation for training or a
    resize for evaluation, then CLIP normalisation. Batches: ``{'image': normalised float
    [B, 3, image_size, image_size], 'text': Long [B, L], 'caption': list[str]}``.

    The train/val/test splits are the dataset's caption task (validation loss). The scene,
    retrieval and counting views that the evaluation callbacks need come from
    :meth:`scene_dataset`, :meth:`retrieval_dataset` and :meth:`count_dataset`.

    Args:
        image_size: Side of the model input (training crops and evaluation resizes to it).
        render_size: Side of the rendered images (default: ``image_size``, at least 32).
            Rendering larger than the model input gives smoother, anti-aliased objects.
        batch_size: Batch size.
        num_workers: DataLoader workers.
        tokenizer: open_clip model name whose tokenizer encodes captions.
        context_length: Token sequence length.
        seed: Seed of the synthetic world, the per-epoch order and the caption choice.
        train_length: Training images (default: the dataset's).
        val_length: Validation images (default: the dataset's).
        test_length: Test images (default: the dataset's).
        crop_scale: Area range of the training random resized crop.
        drop_last: Drop the last incomplete training batch.
    """

    def __init__(
        self,
        image_size: int = 64,
        render_size: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        tokenizer: str = 'ViT-B-32',
        context_length: int = 77,
        seed: int = 0,
        train_length: int | None = None,
        val_length: int | None = None,
        test_length: int | None = None,
        crop_scale: tuple[float, float] = (0.9, 1.0),
        drop_last: bool = True,
    ) -> None:
        super().__init__(
            image_size=image_size,
            batch_size=batch_size,
            num_workers=num_workers,
            tokenizer=tokenizer,
            context_length=context_length,
            seed=seed,
            crop_scale=crop_scale,
            drop_last=drop_last,
        )
        # Rendered images are square, so the batched crop covers the whole image.
        self.train_aug = clip_train_augmentation(image_size, self.mean, self.std, crop_scale)
        self.render_size = max(32, image_size) if render_size is None else render_size
        self.lengths = {'train': train_length, 'val': val_length, 'test': test_length}

    def synthetic_dataset(self, split: str, task: str, **kwargs: Any) -> SyntheticAerial:
        """A :class:`SyntheticAerial` view of this datamodule's world.

        Args:
            split: ``'train'``, ``'val'`` or ``'test'``.
            task: ``'caption'``, ``'scene'``, ``'retrieval'`` or ``'count'``.
            **kwargs: Other :class:`SyntheticAerial` arguments (override the defaults).

        Returns:
            The dataset, with the datamodule's seed, render size and split length.
        """
        options: dict[str, Any] = {
            'split': split,
            'task': task,
            'image_size': self.render_size,
            'length': self.lengths.get(split),
            'seed': self.seed,
        }
        options.update(kwargs)
        return SyntheticAerial(**options)

    def make_dataset(self, split: str) -> Dataset[Any] | None:
        """The caption-task dataset of a split, tokenised with this datamodule's tokenizer.

        Args:
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The dataset.
        """
        return self.synthetic_dataset(split, 'caption', tokenizer=self.tokenizer)
