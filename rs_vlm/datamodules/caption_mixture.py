"""Train on several caption corpora at once (RET-3 + converted DET/SEG corpora)."""

import copy
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate

from rs_vlm.datamodules.caption import CaptionDataModule
from rs_vlm.datamodules.resumable_loader import ResumableDataLoader
from rs_vlm.datasets.bad_input import collate_skipping_bad
from rs_vlm.datasets.caption_corpus import CaptionCorpus
from rs_vlm.datasets.caption_mixture import CaptionMixture
from rs_vlm.samplers.weighted_mixture import WeightedMixtureSampler

__all__ = ['CaptionMixtureDataModule']


class CaptionMixtureDataModule(CaptionDataModule):
    """Caption batches drawn from several corpora with per-source weights.

    Training batches mix the ``train`` corpora by ``weights`` (see
    :class:`~rs_vlm.samplers.weighted_mixture.WeightedMixtureSampler`); validation computes the
    loss over the ``val`` retrieval sets (first caption of each image, deterministic), whose
    retrieval-mode versions are in :attr:`retrieval_datasets` for
    :class:`~rs_vlm.callbacks.RetrievalCallback`. Corpora made without a tokenizer get the
    datamodule's. Batches are those of :class:`CaptionDataModule`.

    Args:
        train: Training corpora (name -> corpus, or a list).
        val: Retrieval test sets for validation (name -> corpus).
        weights: Relative sampling weight per training corpus (None: by size); a mapping
            when ``train`` is one.
        samples_per_epoch: Images per training epoch (None: the total size).
        image_size: Side of the square model input (None: the ``tokenizer`` model's).
        batch_size: Batch size.
        num_workers: DataLoader workers.
        tokenizer: open_clip model name whose tokenizer encodes captions.
        context_length: Token sequence length (None: the model's).
        seed: Seed of the per-epoch draw and caption choice.
        crop_scale: Area range of the training random resized crop.
        drop_last: Drop the last incomplete training batch.
    """

    def __init__(
        self,
        train: Mapping[str, CaptionCorpus] | Sequence[CaptionCorpus],
        val: Mapping[str, CaptionCorpus] | None = None,
        weights: Mapping[str, float] | Sequence[float] | None = None,
        samples_per_epoch: int | None = None,
        image_size: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        tokenizer: str = 'ViT-B-32',
        context_length: int | None = None,
        seed: int = 0,
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
        # shallow copies configured for training: the caller's corpora stay as given
        if isinstance(train, Mapping):
            self.train_names = list(train)
            self.train_sources = [self._training_copy(c) for c in train.values()]
            if isinstance(weights, Mapping):
                unknown = sorted(set(weights) - set(train))
                if unknown:
                    raise ValueError(f'weights for unknown training corpora: {unknown}')
                weights = [float(weights.get(name, 0.0)) for name in self.train_names]
        else:
            self.train_sources = [self._training_copy(corpus) for corpus in train]
            self.train_names = [f'source{i}' for i in range(len(self.train_sources))]
        if isinstance(weights, Mapping):
            raise ValueError('weights by name need train given by name')
        self.weights = list(weights) if weights is not None else None
        self.samples_per_epoch = samples_per_epoch
        self.retrieval_datasets: dict[str, CaptionCorpus] = {}
        self._val_pairs: list[CaptionCorpus] = []
        for name, dataset in (val or {}).items():
            retrieval = copy.copy(dataset)
            retrieval.mode = 'retrieval'
            self.retrieval_datasets[name] = retrieval
            pairs = self._training_copy(dataset)
            pairs.fixed_caption = 0  # the first caption of each image: a comparable loss
            pairs.image_dtype = torch.uint8
            self._val_pairs.append(pairs)

    def _training_copy(self, corpus: CaptionCorpus) -> CaptionCorpus:
        """A shallow copy in train mode with the datamodule's tokenizer when it has none."""
        copied = copy.copy(corpus)
        copied.mode = 'train'
        if copied.tokenizer is None:
            copied.tokenizer = self.tokenizer  # type: ignore[assignment]
        return copied

    def make_dataset(self, split: str) -> Dataset[Any] | None:
        """The training mixture or the validation pairs.

        Args:
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The dataset, or None.
        """
        if split == 'train':
            # shallow copies read as uint8 (see CaptionDataModule), the caller's corpora unchanged
            return CaptionMixture(
                [self.crop_in_dataset(_read_as_uint8(source)) for source in self.train_sources]
            )
        if split in ('val', 'test') and self._val_pairs:
            return CaptionMixture(self._val_pairs)
        return None

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        if split != 'train':
            return super()._dataloader_factory(split)
        dataset = self._valid_attribute('train_dataset')
        sampler = WeightedMixtureSampler(
            [len(source) for source in self.train_sources],
            self.weights,
            self.samples_per_epoch,
            seed=self.seed,
        )
        # Resumable mid-epoch, as in CaptionDataModule (the draw is a function of seed, epoch).
        return ResumableDataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            collate_fn=partial(collate_skipping_bad, collate=default_collate),
            drop_last=self.drop_last and len(sampler) >= self.batch_size,
            persistent_workers=self.num_workers > 0,
        )


def _read_as_uint8(corpus: CaptionCorpus) -> CaptionCorpus:
    copied = copy.copy(corpus)
    copied.image_dtype = torch.uint8
    return copied
