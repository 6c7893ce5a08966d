"""Encode evaluation datasets and strings with a CLIP model, on one process or sharded over ranks.

:class:`Encoder` holds what encoding needs: the open_clip model (``encode_image`` /
``encode_text``), its evaluation transform and tokenizer, batch sizes, and this process's
``rank`` / ``world_size`` as plain integers. With ``world_size > 1`` each rank encodes an
equal-length shard (padded by wrapping, as ``DistributedSampler`` does, so every rank runs the
same number of forwards); when ``torch.distributed`` is initialised the rows are gathered and
placed by index, so every rank holds the full feature matrix a single process would compute.
No Lightning: the callbacks, the offline runner and tests all use this one path.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset
from torchmetrics.utilities.distributed import gather_all_tensors

from rs_vlm.evaluation.preprocessing import ImageTransform, SampleCollator

__all__ = ['EncodedImages', 'Encoder', 'gather_rows', 'shard_indices']


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

    Raises:
        ValueError: If ``rank`` is not in ``range(world_size)``.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f'rank must be in 0..{world_size - 1}, got {rank}')
    if total == 0:
        return []
    per_rank = -(-total // world_size)
    padded = [i % total for i in range(per_rank * world_size)]
    return padded[rank::world_size]


def gather_rows(rows: Tensor, ids: Tensor, total: int) -> Tensor:
    """Gather per-rank rows (when ``torch.distributed`` is initialised) and place them by id.

    Args:
        rows: ``[n, ...]`` this rank's rows.
        ids: ``[n]`` their global indices.
        total: Number of distinct ids over all ranks.

    Returns:
        The full ``[total, ...]`` tensor, identical on every rank.

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


@dataclass
class EncodedImages:
    """Image features of a dataset, in dataset order.

    Attributes:
        features: ``[N, D]`` float32 features.
        labels: ``[N]`` labels when every sample has one, else None.
    """

    features: Tensor
    labels: Tensor | None


@dataclass
class Encoder:
    """Encodes datasets and strings with an open_clip model (no gradients).

    The caller sets the model's mode and precision context (the callbacks: eval mode, autocast,
    FSDP full parameters).

    Attributes:
        model: Has ``encode_image(images)`` and ``encode_text(tokens)`` (open_clip ``CLIP``).
        transform: Its evaluation transform (:func:`rs_vlm.models.evaluation_transform`).
        tokenizer: ``list[str] -> LongTensor [N, L]``.
        batch_size: Images per forward.
        text_batch_size: Strings per forward.
        num_workers: DataLoader workers decoding and preprocessing images.
        rank: This process's rank.
        world_size: Number of processes sharing the work.
        device: Where inputs go; default: the device of the model's first parameter.
    """

    model: nn.Module
    transform: ImageTransform
    tokenizer: Callable[[list[str]], Tensor]
    batch_size: int = 64
    text_batch_size: int = 256
    num_workers: int = 0
    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None

    def _device(self) -> torch.device:
        if self.device is not None:
            return torch.device(self.device)
        return next(self.model.parameters()).device

    def images(self, dataset: Dataset[dict[str, Any]], *, normalize: bool = True) -> EncodedImages:
        """Encode every sample's ``image`` (this rank's shard, then gathered).

        Args:
            dataset: Samples with an ``image`` (``[3, H, W]``, 0..255) and optionally a ``label``.
            normalize: L2-normalise the features (False: raw ``encode_image`` output, as the
                linear probes use).

        Returns:
            The features (and labels) of the whole dataset.
        """
        total = len(dataset)  # type: ignore[arg-type]
        if total == 0:
            raise ValueError(_empty_dataset_message(dataset))
        indices = shard_indices(total, self.rank, self.world_size)
        loader = DataLoader(
            Subset(dataset, indices),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=SampleCollator(self.transform),
        )
        device = self._device()
        features, labels = [], []
        with torch.no_grad():
            for batch in loader:
                encoded = self.model.encode_image(batch['image'].to(device)).float()
                features.append(F.normalize(encoded, dim=-1) if normalize else encoded)
                if 'label' in batch:
                    labels.append(batch['label'].to(device))
        local = torch.cat(features) if features else torch.zeros((0, 0), device=device)
        ids = torch.tensor(indices, dtype=torch.long, device=device)
        gathered_labels = None
        if features and len(labels) == len(features):
            gathered_labels = gather_rows(torch.cat(labels), ids, total)
        return EncodedImages(gather_rows(local, ids, total), gathered_labels)

    def texts(self, texts: Sequence[str], *, normalize: bool = True, shard: bool = True) -> Tensor:
        """Tokenise and encode strings.

        Args:
            texts: Captions or prompts.
            normalize: L2-normalise the features (False: raw ``encode_text`` output, as the
                ITRA zero-shot classifier averages them).
            shard: Split the strings over ranks and gather (False: every rank encodes all).

        Returns:
            ``[len(texts), D]`` float32 features, identical on every rank.
        """
        rank, world_size = (self.rank, self.world_size) if shard else (0, 1)
        indices = shard_indices(len(texts), rank, world_size)
        device = self._device()
        chunks = []
        with torch.no_grad():
            for start in range(0, len(indices), self.text_batch_size):
                chunk = [texts[i] for i in indices[start : start + self.text_batch_size]]
                encoded = self.model.encode_text(self.tokenizer(chunk).to(device)).float()
                chunks.append(F.normalize(encoded, dim=-1) if normalize else encoded)
        if not chunks:
            raise ValueError('no strings to encode')
        local = torch.cat(chunks)
        if world_size == 1:
            return local
        ids = torch.tensor(indices, dtype=torch.long, device=device)
        return gather_rows(local, ids, len(texts))


def _empty_dataset_message(dataset: object) -> str:
    """Why there is nothing to encode, naming the dataset's source and skipped inputs."""
    source = getattr(dataset, 'source', None) or getattr(dataset, 'root', None)
    policy = getattr(dataset, 'policy', None)
    skipped = getattr(policy, 'num_skipped', 0)
    where = f' read from {source}' if source is not None else ''
    why = f'; {skipped} bad inputs were skipped (see the log)' if skipped else ''
    return f'the dataset{where} has no samples to encode{why}'
