"""Shared machinery of the evaluation callbacks: when to run, how to encode, DDP/FSDP.

Every callback encodes its evaluation data the same way:

* in eval mode, under ``torch.no_grad()``, inside the strategy's precision context (autocast
  for mixed precision) and on the module's device;
* under FSDP inside ``FullyShardedDataParallel.summon_full_params(strategy.model,
  writeback=False)``, since outside a ``*_step`` the parameters are flat shards;
* under DDP/FSDP each rank encodes an equal-length shard (padded by wrapping, as
  ``DistributedSampler`` does, so every rank runs the same number of forwards), then the
  features are gathered and placed by dataset index. Every rank then holds the same full
  feature matrix and computes the same numbers as a single process would.
"""

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from torchmetrics.utilities.distributed import gather_all_tensors
from torchvision.transforms.v2 import functional as TF

__all__ = [
    'CLIP_MEAN',
    'CLIP_STD',
    'EvaluationCallback',
    'gather_rows',
    'shard_indices',
]

#: OpenAI CLIP normalisation, in 0..1 image units.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def shard_indices(total: int, rank: int, world_size: int) -> list[int]:
    """This rank's share of ``range(total)``: every ``world_size``-th index from ``rank``.

    The list is padded by wrapping around so that all ranks get the same length (like
    ``DistributedSampler`` without shuffling); duplicates are dropped again after gathering.

    Args:
        total: Number of items.
        rank: This process's rank.
        world_size: Number of processes.

    Returns:
        Indices into the dataset.
    """
    if total == 0:
        return []
    per_rank = -(-total // world_size)
    padded = [i % total for i in range(per_rank * world_size)]
    return padded[rank::world_size]


def gather_rows(rows: Tensor, ids: Tensor, total: int) -> Tensor:
    """Gather per-rank rows and place them by id into a ``[total, ...]`` tensor.

    Args:
        rows: ``[n, ...]`` this rank's rows.
        ids: ``[n]`` their global indices.
        total: Number of distinct ids over all ranks.

    Returns:
        The full tensor, identical on every rank.

    Raises:
        RuntimeError: If some id in ``range(total)`` was produced by no rank.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rows = torch.cat(gather_all_tensors(rows.contiguous()))
        ids = torch.cat(gather_all_tensors(ids.to(rows.device).contiguous()))
    ids = ids.to(rows.device).long()
    full = rows.new_zeros((total, *rows.shape[1:]))
    seen = torch.zeros(total, dtype=torch.bool, device=rows.device)
    full[ids] = rows
    seen[ids] = True
    if not bool(seen.all()):
        raise RuntimeError(f'{int((~seen).sum())} of {total} items were not encoded by any rank')
    return full


class EvaluationCallback(Callback):
    """Base of the evaluation callbacks: schedule, image preprocessing and encoding.

    Subclasses implement :meth:`evaluate` (called at ``on_validation_epoch_end`` when due) and
    log with :meth:`log_metrics`.

    Args:
        every_n_epochs: Run every N training epochs (always in ``validate``/``test``).
        batch_size: Images or captions per forward pass.
        num_workers: DataLoader workers for the images.
        image_size: Side of the square model input; default: the model's own
            (``model.visual.image_size``).
        mean: Normalisation mean in 0..1 units (CLIP's by default).
        std: Normalisation std in 0..1 units.
        prefix: First part of every logged name (``val`` -> ``val/rsitmd/mean_recall``).
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        batch_size: int = 64,
        num_workers: int = 0,
        image_size: int | None = None,
        mean: Sequence[float] = CLIP_MEAN,
        std: Sequence[float] = CLIP_STD,
        prefix: str = 'val',
    ) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f'every_n_epochs must be >= 1, got {every_n_epochs}')
        self.every_n_epochs = every_n_epochs
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.image_size = image_size
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.prefix = prefix

    # -- schedule -------------------------------------------------------------------------------

    def should_run(self, trainer: Trainer) -> bool:
        """Whether this validation epoch end evaluates (never during the sanity check)."""
        if trainer.sanity_checking:
            return False
        if trainer.state.fn != 'fit':
            return True
        return (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Evaluate when due."""
        if self.should_run(trainer):
            with self.encoding_context(trainer, pl_module):
                self.evaluate(trainer, pl_module)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Encode the evaluation data and log the metrics (implemented by subclasses)."""
        raise NotImplementedError

    # -- encoding -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def encoding_context(self, trainer: Trainer, pl_module: LightningModule) -> Iterator[None]:
        """Eval mode, no grad, the trainer's precision and, under FSDP, the full parameters."""
        was_training = pl_module.training
        pl_module.eval()
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.no_grad())
            stack.enter_context(trainer.strategy.precision_plugin.forward_context())
            from torch.distributed.fsdp import FullyShardedDataParallel

            wrapped = trainer.strategy.model
            if isinstance(wrapped, FullyShardedDataParallel):
                stack.enter_context(
                    FullyShardedDataParallel.summon_full_params(wrapped, writeback=False)
                )
            try:
                yield
            finally:
                if was_training:
                    pl_module.train()

    def _model_image_size(self, pl_module: LightningModule) -> int:
        if self.image_size is not None:
            return self.image_size
        size = getattr(getattr(pl_module.model, 'visual', None), 'image_size', 224)
        return int(size[0] if isinstance(size, tuple | list) else size)

    def _collate(self, size: int) -> Callable[[list[dict[str, Any]]], dict[str, Tensor]]:
        """Resize (shortest side, bicubic) + centre-crop each image, as open_clip's eval."""

        def collate(samples: list[dict[str, Any]]) -> dict[str, Tensor]:
            images = []
            for sample in samples:
                image = torch.as_tensor(sample['image']).float()
                image = TF.resize(image, [size], interpolation=TF.InterpolationMode.BICUBIC)
                images.append(TF.center_crop(image, [size, size]))
            batch = {'image': torch.stack(images)}
            if all('label' in sample for sample in samples):
                batch['label'] = torch.stack([torch.as_tensor(s['label']).long() for s in samples])
            return batch

        return collate

    def normalise(self, images: Tensor) -> Tensor:
        """0..255 images -> model input (``/255``, then mean/std)."""
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        return (images / 255.0 - mean) / std

    def encode_dataset_images(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        dataset: Dataset[dict[str, Any]],
        normalize: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Encode every image of a dataset (sharded over ranks); the same result on all ranks.

        Args:
            trainer: The trainer (for rank and world size).
            pl_module: Module with ``encode_images`` (and ``model.encode_image``).
            dataset: Samples with an ``image`` (float CHW, 0..255) and optionally a ``label``.
            normalize: L2-normalised features (``encode_images``); raw
                ``model.encode_image`` output when False (for linear probes).

        Returns:
            ``[len(dataset), D]`` float32 features in dataset order, and the ``[len(dataset)]``
            labels when every sample has one (else None).
        """
        total = len(dataset)  # type: ignore[arg-type]
        if total == 0:
            raise ValueError(_empty_dataset_message(dataset))
        indices = shard_indices(total, trainer.global_rank, trainer.world_size)
        loader = DataLoader(
            Subset(dataset, indices),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=self._collate(self._model_image_size(pl_module)),
        )
        features, labels = [], []
        for batch in loader:
            images = self.normalise(batch['image'].to(pl_module.device))
            if normalize:
                features.append(pl_module.encode_images(images).float())
            else:
                features.append(pl_module.model.encode_image(images).float())
            if 'label' in batch:
                labels.append(batch['label'].to(pl_module.device))
        local = torch.cat(features)
        ids = torch.tensor(indices, dtype=torch.long, device=local.device)
        gathered_labels = None
        if len(labels) == len(features):
            gathered_labels = gather_rows(torch.cat(labels), ids, total)
        return gather_rows(local, ids, total), gathered_labels

    def encode_strings(
        self, trainer: Trainer, pl_module: LightningModule, texts: Sequence[str]
    ) -> Tensor:
        """Tokenise and encode captions (sharded over ranks); ``[len(texts), D]`` on all ranks."""
        if not texts:
            raise ValueError('no captions to encode: every caption was empty or skipped')
        indices = shard_indices(len(texts), trainer.global_rank, trainer.world_size)
        features = []
        for start in range(0, len(indices), self.batch_size):
            chunk = [texts[i] for i in indices[start : start + self.batch_size]]
            tokens = pl_module.tokenizer(chunk).to(pl_module.device)
            features.append(pl_module.encode_texts(tokens).float())
        local = torch.cat(features)
        ids = torch.tensor(indices, dtype=torch.long, device=local.device)
        return gather_rows(local, ids, len(texts))

    def encode_strings_locally(
        self, pl_module: LightningModule, texts: Sequence[str], batch_size: int | None = None
    ) -> Tensor:
        """Tokenise and encode all ``texts`` on this rank (every rank does the same work).

        Args:
            pl_module: Module with ``tokenizer`` and ``encode_texts``.
            texts: The strings.
            batch_size: Strings per forward; all at once when None.

        Returns:
            ``[len(texts), D]`` L2-normalised float32 features.
        """
        if not texts:
            raise ValueError('no texts to encode')
        step = batch_size or max(len(texts), 1)
        features = [
            pl_module.encode_texts(
                pl_module.tokenizer(list(texts[i : i + step])).to(pl_module.device)
            ).float()
            for i in range(0, len(texts), step)
        ]
        return F.normalize(torch.cat(features), dim=-1)

    def log_metrics(self, pl_module: LightningModule, name: str, values: dict[str, Any]) -> None:
        """Log ``{prefix}/{name}/{key}``; values are identical on all ranks (no sync needed)."""
        for key, value in values.items():
            pl_module.log(
                f'{self.prefix}/{name}/{key}',
                torch.as_tensor(value, dtype=torch.float32),
                on_epoch=True,
                sync_dist=False,
            )


def _empty_dataset_message(dataset: object) -> str:
    """Why there is nothing to encode, naming the dataset's source and skipped inputs."""
    source = getattr(dataset, 'source', None) or getattr(dataset, 'root', None)
    policy = getattr(dataset, 'policy', None)
    skipped = getattr(policy, 'num_skipped', 0)
    where = f' read from {source}' if source is not None else ''
    why = f'; {skipped} bad inputs were skipped (see the log)' if skipped else ''
    return f'the dataset{where} has no samples to encode{why}'
