"""Object-counting accuracy (RemoteCount protocol) as a torchmetrics ``Metric``."""

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
)
from torchmetrics.utilities.data import dim_zero_cat

__all__ = ['CountingAccuracy']


class CountingAccuracy(Metric):
    """Top-1..top-N accuracy and confusion matrix of caption-variant counting.

    Each sample has one score per count (similarity of the image with the caption whose number
    was replaced by 1..N); the prediction is the best-scoring count. Targets are counts 1..N.

    Args:
        max_count: N, the largest count (10 in RemoteCount).
        **kwargs: Passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = CountingAccuracy(max_count=3)
        >>> metric.update(torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3]]), torch.tensor([2, 3]))
        >>> [round(float(v), 2) for v in metric.compute()['topk']]
        [50.0, 100.0, 100.0]
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, max_count: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_count = max_count
        self.add_state('scores', default=[], dist_reduce_fx='cat')
        self.add_state('counts', default=[], dist_reduce_fx='cat')

    def update(self, scores: Tensor, counts: Tensor) -> None:
        """Add a batch.

        Args:
            scores: ``[B, max_count]``; column j scores the count j + 1.
            counts: ``[B]`` true counts in 1..max_count.

        Raises:
            ValueError: On a wrong shape or a count outside 1..max_count.
        """
        counts = torch.as_tensor(counts, device=scores.device).long()
        if scores.ndim != 2 or scores.shape[1] != self.max_count or len(scores) != len(counts):
            raise ValueError(
                f'scores must be [B, {self.max_count}] with one count per row, got '
                f'{tuple(scores.shape)} and {tuple(counts.shape)}'
            )
        if len(counts) and (counts.min() < 1 or counts.max() > self.max_count):
            raise ValueError(f'counts must lie in 1..{self.max_count}, got {counts.tolist()}')
        self.scores.append(scores.detach().float())
        self.counts.append(counts)

    def compute(self) -> dict[str, Tensor]:
        """Accuracy and confusion matrix.

        Returns:
            ``topk``: ``[max_count]`` top-1..top-N accuracy in percent; ``confusion``:
            ``[max_count, max_count]`` counts (rows true count, columns predicted count);
            ``confusion_normalized``: the same with rows summing to 1 (empty rows stay 0).
        """
        scores = dim_zero_cat(self.scores)
        targets = dim_zero_cat(self.counts) - 1
        n = self.max_count
        topk = torch.stack(
            [
                multiclass_accuracy(scores, targets, n, top_k=k, average='micro') * 100
                for k in range(1, n + 1)
            ]
        )
        confusion = multiclass_confusion_matrix(scores, targets, n)
        rows = confusion.sum(dim=1, keepdim=True).clamp(min=1)
        return {'topk': topk, 'confusion': confusion, 'confusion_normalized': confusion / rows}
