"""Cross-modal retrieval recall@K (hit rate) as a torchmetrics ``Metric``."""

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from rs_vlm.metrics.functional.retrieval import retrieval_hit_rates

__all__ = ['CrossModalRetrieval']


class CrossModalRetrieval(Metric):
    """Image->text and text->image recall@K and mean recall of the RemoteCLIP protocol.

    Accumulates image embeddings with their image ids and caption embeddings with the id of
    their image (and optionally their own caption id). ``compute`` gathers the states across
    processes once (torchmetrics ``sync_on_compute``; ``update`` never communicates), drops the
    duplicates a ``DistributedSampler`` adds by padding, orders images and captions by id and
    calls :func:`~rs_vlm.metrics.functional.retrieval_hit_rates`, so the result equals the
    single-process value whatever the sharding.

    Args:
        top_k: The K values (default 1, 5, 10 as in the paper).
        **kwargs: Passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = CrossModalRetrieval(top_k=(1,))
        >>> metric.update(image_features=torch.eye(2), image_ids=torch.tensor([0, 1]))
        >>> metric.update(text_features=torch.eye(2), text_image_ids=torch.tensor([0, 1]))
        >>> float(metric.compute()['mean_recall'])
        100.0
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, top_k: Sequence[int] = (1, 5, 10), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.top_k = tuple(int(k) for k in top_k)
        for name in ('image_features', 'image_ids', 'text_features', 'text_image_ids', 'text_ids'):
            self.add_state(name, default=[], dist_reduce_fx='cat')

    def update(
        self,
        image_features: Tensor | None = None,
        image_ids: Tensor | None = None,
        text_features: Tensor | None = None,
        text_image_ids: Tensor | None = None,
        text_ids: Tensor | None = None,
    ) -> None:
        """Add a batch of images, of captions, or both.

        Args:
            image_features: ``[B, D]`` L2-normalised image embeddings.
            image_ids: ``[B]`` dataset index of each image.
            text_features: ``[T, D]`` L2-normalised caption embeddings.
            text_image_ids: ``[T]`` dataset index of each caption's image.
            text_ids: ``[T]`` dataset index of each caption; when given, captions are ordered
                and de-duplicated by it (needed for bit-identical tie breaking under DDP).

        Raises:
            ValueError: If features come without ids or lengths differ.
        """
        if image_features is not None:
            if image_ids is None or len(image_ids) != len(image_features):
                raise ValueError('image_features need image_ids of the same length')
            self.image_features.append(image_features.detach().float())
            self.image_ids.append(torch.as_tensor(image_ids, device=self.device).long())
        if text_features is not None:
            if text_image_ids is None or len(text_image_ids) != len(text_features):
                raise ValueError('text_features need text_image_ids of the same length')
            if text_ids is not None and len(text_ids) != len(text_features):
                raise ValueError('text_ids must have one id per caption')
            self.text_features.append(text_features.detach().float())
            self.text_image_ids.append(torch.as_tensor(text_image_ids, device=self.device).long())
            if text_ids is not None:
                self.text_ids.append(torch.as_tensor(text_ids, device=self.device).long())

    def compute(self) -> dict[str, Tensor]:
        """Recall@K in percent for both directions and their mean.

        Returns:
            ``{'i2t_r1', ..., 't2i_r10', 'mean_recall'}`` as scalar tensors.

        Raises:
            ValueError: If no image or caption was added, or a caption's image is missing.
        """
        if _is_empty(self.image_features) or _is_empty(self.text_features):
            raise ValueError('CrossModalRetrieval.compute needs at least one image and one caption')
        image_features = dim_zero_cat(self.image_features)
        image_ids = dim_zero_cat(self.image_ids)
        text_features = dim_zero_cat(self.text_features)
        text_image_ids = dim_zero_cat(self.text_image_ids)
        # Sorted unique ids; ``first`` picks one copy of each (padding duplicates are identical).
        unique_images, image_position = _first_of_each(image_ids)
        image_features = image_features[image_position]
        if not _is_empty(self.text_ids):
            _, text_position = _first_of_each(dim_zero_cat(self.text_ids))
            text_features = text_features[text_position]
            text_image_ids = text_image_ids[text_position]
        caption_to_image = torch.searchsorted(unique_images, text_image_ids)
        caption_to_image = caption_to_image.clamp(max=len(unique_images) - 1)
        found = unique_images[caption_to_image] == text_image_ids
        if not bool(found.all()):
            missing = int(text_image_ids[~found][0])
            raise ValueError(f'a caption refers to image id {missing}, which was never added')
        return retrieval_hit_rates(image_features, text_features, caption_to_image, self.top_k)


def _is_empty(state: list[Tensor] | Tensor) -> bool:
    """Whether a ``cat`` state holds nothing (a list before sync, a tensor after it)."""
    return len(state) == 0


def _first_of_each(ids: Tensor) -> tuple[Tensor, Tensor]:
    """Sorted unique ids and, for each, the position of its first occurrence in ``ids``."""
    unique, inverse = torch.unique(ids, sorted=True, return_inverse=True)
    positions = torch.arange(len(ids), device=ids.device)
    first = torch.full((len(unique),), len(ids), dtype=torch.long, device=ids.device)
    first.scatter_reduce_(0, inverse, positions, reduce='amin')
    return unique, first
