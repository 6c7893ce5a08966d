"""Caption datamodule: image/caption corpora for contrastive (CLIP) training."""

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate
from torchgeo.datamodules import NonGeoDataModule

from rs_vlm.datamodules.augmentation import (
    ImageAugmentation,
    clip_eval_augmentation,
    clip_mean_std,
    clip_train_augmentation,
)
from rs_vlm.datamodules.augmentation_seed import batch_position, seeded_rng
from rs_vlm.datamodules.corpus_files import open_caption_corpus
from rs_vlm.datamodules.model_inputs import model_input_size
from rs_vlm.datamodules.resumable_loader import ResumableDataLoader
from rs_vlm.datasets.bad_input import OnError, collate_skipping_bad, is_all_skipped
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_csv import CaptionCSVDataset
from rs_vlm.io.random_crop import RandomResizedCropBox
from rs_vlm.models.factory import get_tokenizer
from rs_vlm.samplers.epoch_random import EpochRandomSampler

__all__ = ['CaptionDataModule', 'apply_image_augmentation']

logger = logging.getLogger('rs_vlm.datamodules')

_MEAN, _STD = clip_mean_std()


def apply_image_augmentation(
    aug: Callable[[dict[str, Tensor]], dict[str, Tensor]], batch: dict[str, Any]
) -> dict[str, Any]:
    """Run an augmentation pipeline on ``batch['image']`` only; other keys pass through.

    kornia routes dict keys by prefix and drops unknown ones, so only the image goes in.

    Args:
        aug: A callable on ``{'image': ...}`` dicts (ours, or kornia's ``AugmentationSequential``).
        batch: The batch.

    Returns:
        The batch with the augmented, normalised image.
    """
    batch = dict(batch)
    image = batch['image']
    if not isinstance(aug, ImageAugmentation) and not image.is_floating_point():
        image = image.float()  # kornia takes float images only
    batch['image'] = aug({'image': image})['image']
    return batch


class CaptionDataModule(NonGeoDataModule):
    """Image-caption batches for CLIP training from corpus files (CSV, TSV or JSONL).

    Batches after ``on_after_batch_transfer``: ``{'image': normalised float [B, 3, H, W],
    'text': Long [B, L], 'caption': list[str]}``. Training images get the paper's augmentation
    (random resized crop, horizontal flip, rotation by multiples of 90 degrees); validation and
    test images are resized. ``mean``/``std`` are CLIP's, in 0..255 image units.

    The loaders' own batches carry uint8 images (0..255): a quarter of the float bytes to pass
    from the workers and to copy to the GPU. ``on_after_batch_transfer`` makes them float.

    Args:
        train_csv: Training corpus: ``.csv``/``.tsv`` (``filepath``, ``title``; paths
            relative to its folder or absolute) or ``.jsonl`` (``filepath`` or ``filename``,
            ``captions``), read by suffix.
        val_csv: Validation corpus.
        test_csv: Test corpus.
        image_size: Side of the square model input; None: the image size of the
            ``tokenizer`` model's open_clip config.
        batch_size: Batch size.
        num_workers: DataLoader workers.
        tokenizer: open_clip model name whose tokenizer encodes captions.
        context_length: Token sequence length; None: the model config's.
        seed: Seed of the per-epoch order and caption choice.
        on_error: ``'raise'`` or ``'skip'`` (count and log) for bad rows and images.
        crop_scale: Area range of the training random resized crop.
        drop_last: Drop the last incomplete training batch (kept when the set is smaller
            than one batch).
        image_key: Image path column (JSONL: key; ``filename`` is read too).
        caption_key: Caption column (CSV/TSV only).
    """

    mean = _MEAN
    std = _STD

    def __init__(
        self,
        train_csv: str | Path | None = None,
        val_csv: str | Path | None = None,
        test_csv: str | Path | None = None,
        image_size: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        tokenizer: str = 'ViT-B-32',
        context_length: int | None = None,
        seed: int = 0,
        on_error: OnError = 'raise',
        crop_scale: tuple[float, float] = (0.9, 1.0),
        drop_last: bool = True,
        image_key: str = 'filepath',
        caption_key: str = 'title',
    ) -> None:
        super().__init__(CaptionCSVDataset, batch_size, num_workers)
        self.csv_files = {'train': train_csv, 'val': val_csv, 'test': test_csv}
        if image_size is None or context_length is None:
            model_size, model_context = model_input_size(tokenizer)
            image_size = model_size if image_size is None else image_size
            context_length = model_context if context_length is None else context_length
        self.image_size = image_size
        self.tokenizer_name = tokenizer
        self.context_length = context_length
        self.tokenizer = get_tokenizer(tokenizer, context_length)
        self.seed = seed
        self.on_error = on_error
        self.drop_last = drop_last
        self.image_key = image_key
        self.caption_key = caption_key
        self.crop_scale = crop_scale
        # The random resized crop is drawn in the corpora (crop_in_dataset), over the whole
        # image; the batched pipeline flips, turns and normalises.
        self.train_aug = clip_train_augmentation(image_size, self.mean, self.std, None)
        self.aug = clip_eval_augmentation(image_size, self.mean, self.std)

    def crop_in_dataset(self, corpus: CaptionCorpus) -> CaptionCorpus:
        """Make a training corpus draw the random resized crop over the whole image.

        Decoding at a square centre crop and cropping the batch afterwards would never show
        the sides of a wide image (at most 9/16 of a 16:9 frame's width); the corpus crops
        the full-resolution image as it decodes it (see :mod:`rs_vlm.io.random_crop`).

        Args:
            corpus: A training corpus (changed in place).

        Returns:
            The corpus.
        """
        corpus.train_crop = RandomResizedCropBox(scale=self.crop_scale)
        return corpus

    def make_dataset(self, split: str) -> Dataset[Any] | None:
        """Build the dataset of one split, or None when that split has no file.

        Subclasses (other corpus formats, mixtures) override this.

        Args:
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The dataset.
        """
        path = self.csv_files.get(split)
        if path is None:
            return None
        jsonl = Path(path).suffix.lower() == '.jsonl'
        dataset = open_caption_corpus(
            path,
            mode='train',
            image_size=self.image_size,
            tokenizer=self.tokenizer,
            image_key=None if jsonl and self.image_key == 'filepath' else self.image_key,
            caption_key=None if jsonl else self.caption_key,
            seed=self.seed,
            on_error=self.on_error,
        )
        dataset.image_dtype = torch.uint8  # made float in on_after_batch_transfer
        return self.crop_in_dataset(dataset) if split == 'train' else dataset

    def setup(self, stage: str) -> None:
        """Build the datasets the stage needs.

        Args:
            stage: ``'fit'``, ``'validate'``, ``'test'`` or ``'predict'``.
        """
        if stage == 'fit':
            self.train_dataset = self.make_dataset('train')
        if stage in ('fit', 'validate'):
            self.val_dataset = self.make_dataset('val')
        if stage in ('test', 'predict'):
            self.test_dataset = self.make_dataset('test')
            self.predict_dataset = self.test_dataset

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        dataset = self._valid_attribute(f'{split}_dataset', 'dataset')
        size = len(dataset)
        shuffle = split == 'train'
        sampler = EpochRandomSampler(size, seed=self.seed, shuffle=shuffle)
        drop_last = shuffle and self.drop_last and size >= self.batch_size
        if shuffle and self.drop_last and not drop_last:
            logger.warning(
                'training set has %d images, fewer than batch_size=%d: keeping the partial batch',
                size,
                self.batch_size,
            )
        # Resumable mid-epoch (Lightning saves its state in checkpoints); its own generator keeps
        # iterator creation from drawing on the global RNG, which would shift the augmentation.
        return ResumableDataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            collate_fn=partial(collate_skipping_bad, collate=default_collate),
            drop_last=drop_last,
            persistent_workers=self.num_workers > 0,
            pin_memory=False,
        )

    def val_dataloader(self) -> DataLoader[dict[str, Tensor]]:
        """Validation batches, in file order (no shuffling)."""
        if self.val_dataset is None:
            return []  # type: ignore[return-value]
        return self._dataloader_factory('val')

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Augment (training) or resize (evaluation) and normalise the images of a batch.

        Args:
            batch: The batch on the device.
            dataloader_idx: Index of the dataloader.

        Returns:
            The batch with normalised images.
        """
        trainer = self.trainer
        if trainer is None or is_all_skipped(batch):  # no image to augment
            return batch
        if not trainer.training:
            out = apply_image_augmentation(self.aug, batch)
        elif (position := batch_position(trainer)) is None:
            out = apply_image_augmentation(self.train_aug, batch)
        else:
            # Augmentation drawn from (seed, epoch, batch, rank): replays exactly after a resume.
            with seeded_rng(self.seed, *position, device=batch['image'].device):
                out = apply_image_augmentation(self.train_aug, batch)
        precision = getattr(trainer, 'precision_plugin', None)
        if precision is not None and not batch['image'].is_floating_point():
            # Lightning casts float inputs for "*-true" precision before the transfer, which
            # left our uint8 images alone: cast the float images they have become.
            out['image'] = precision.convert_input(out['image'])
        return out
